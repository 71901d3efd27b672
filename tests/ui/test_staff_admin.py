"""系统管理: users without password hashes, the audit trail (browse, verify, export), the data
dictionary and the administrative divisions."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text

from jiuzhu import audit, auth
from jiuzhu.business import db
from schemas import dictionary
from tests.ui.staffkit import EXTRA_ACCOUNTS, PASSWORD, StaffDb, audit_rows, frame, login, texts


def _open(username: str, page: str):
    at = login(username)
    at.switch_page(page).run()
    assert not at.exception
    return at


def test_system_admin_lists_accounts_without_password_hashes(staff):
    at = _open("xitong01", "views/users.py")
    accounts = frame(at, "users_list")
    expected = {u for u, *_ in auth.demo_accounts()} | {u for u, *_ in EXTRA_ACCOUNTS}
    assert set(accounts["用户名"]) == expected
    assert not [c for c in accounts.columns if "密码摘要" in c or "hash" in c.lower()]
    for value in accounts.to_numpy().ravel():
        assert not str(value).startswith("$argon2")
    assert accounts.set_index("用户名").loc["hedui01", "角色"] == "核对员"
    assert accounts.set_index("用户名").loc["hedui01", "管辖区域"] == "四川省成都市锦江区"
    at.run()  # a rerun does not write a second entry: the opening of the list is audited once per login
    entries = [e for e in audit_rows(staff, actor="xitong01", action="manage_users") if e.outcome == "allowed"]
    assert len(entries) == 1 and entries[0].purpose == "查看用户账户列表"


def test_audit_admin_verifies_an_intact_chain(staff):
    at = _open("shenji01", "views/audit.py")
    at.button(key="audit_verify").click().run()
    with staff.sessions() as s:
        count = audit.verify(s).count
    assert texts(at.success) == [f"审计链完整:共{count}条记录"]


def test_audit_trail_can_be_filtered_by_actor_and_outcome(staff):
    login("juece01", "Wrong#pass2026")  # leaves a failed login of juece01 in the trail
    at = _open("shenji01", "views/audit.py")
    at.text_input(key="audit_actor").input("juece01").run()
    entries = frame(at, "audit_entries")
    assert set(entries["操作人"]) == {"juece01"}
    at.selectbox(key="audit_outcome").set_value("failure").run()
    failures = frame(at, "audit_entries")
    assert len(failures) >= 1
    assert set(failures["结果"]) == {"失败"} and set(failures["操作"]) == {"登录"}


def test_audit_export_is_audited_and_neutralises_formula_cells(staff):
    officer = login("hedui01")
    officer.text_input(key="detection_purpose").input("=1+1 复核检出家庭")  # a purpose a spreadsheet would run
    officer.button(key="detection_submit").click().run()

    at = _open("shenji01", "views/audit.py")
    at.button(key="audit_export_prepare").click().run()
    assert not at.error
    data = at.session_state["audit_export"]
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert list(rows[0]) == list(audit.EXPORT_COLUMNS)
    assert "'=1+1 复核检出家庭" in {r["purpose"] for r in rows}
    assert not [r for r in rows if r["purpose"].startswith("=")]
    assert audit_rows(staff, actor="shenji01", action="export_audit")[-1].outcome == "allowed"
    assert [b.label for b in at.get("download_button")] == ["下载审计日志(CSV)"]


def test_supervisor_reads_the_audit_trail_but_may_not_export_it(staff):
    at = _open("jijian01", "views/audit.py")
    assert frame(at, "audit_entries") is not None
    assert not [b for b in at.button if b.key == "audit_export_prepare"]
    assert "导出审计日志仅限审计管理员。" in texts(at.caption)


@pytest.fixture
def separate_db(tmp_path, monkeypatch) -> StaffDb:
    """A database of its own for the tampering test (the shared one must stay intact)."""
    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    with sessions() as s:
        auth.create_user(s, "shenji01", "审计管理员", "audit_admin", "510000000000", PASSWORD,
                         must_change_password=False)
    monkeypatch.setenv("JIUZHU_BUSINESS_DB_URL", url)
    return StaffDb(tmp_path, url, sessions)


def test_audit_admin_is_told_where_a_tampered_chain_breaks(staff, separate_db):
    at = _open("shenji01", "views/audit.py")
    with separate_db.sessions() as s:
        s.execute(text("UPDATE audit_log SET outcome = 'failure' WHERE seq = 2"))
        s.commit()
    at.button(key="audit_verify").click().run()
    assert texts(at.error) == ["审计链被破坏:第2条记录。第2条记录内容与其哈希不符(被篡改、插入或调换顺序)"]


def test_dictionary_lists_every_contract_element_and_finds_one(staff):
    at = _open("anquan01", "views/dictionary.py")
    assert len(frame(at, "dictionary_elements")) == len(dictionary.elements())
    at.text_input(key="dictionary_query").input("household_no").run()
    found = frame(at, "dictionary_elements")
    assert list(found["数据元"]) == ["household_no"]
    assert found.iloc[0]["访问级别"] == 2


def test_regions_page_lists_the_counties_of_a_prefecture(staff):
    at = _open("anquan01", "views/regions.py")
    assert texts(at.title) == ["行政区划"]
    assert len(at.dataframe[0].value) == 20  # 成都市 has 20 counties, districts and cities
