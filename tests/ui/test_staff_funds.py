"""资金监管: a county finance officer draws the month's spot check, passes the drawn order, generates the
一卡通 payment file, uploads the bank's result with one wrong amount and sees the issue in Chinese,
then closes it; a case worker is not offered the page."""

from __future__ import annotations

import csv
import datetime as _dt
import io
import random

import pytest
from sqlalchemy import select

from assistance import funds, payments
from jiuzhu import access, auth, ids, regions
from jiuzhu.business import db
from jiuzhu.business.models import AuditLog, Benefit, DisbursementOrder, ReconciliationIssue
from tests.ui.staffkit import PASSWORD, frame, login, texts

PAGE = "views/funds.py"
JINJIANG = "510104000000"
TOWNSHIP = regions.load().children(JINJIANG)[0].code
PERIOD = "2026-11"  # the month of the staff tests' clock


@pytest.fixture
def county(tmp_path, monkeypatch, gold, clock):
    """Three dibao households of a 锦江区 township, paid in October, with November's orders pending."""
    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    rng = random.Random(20261129)
    surnames = [s for s, _ in regions.surnames()[:30]]
    with sessions() as s:
        for name, role, where in (("caiwu01", access.FINANCE_OFFICER, JINJIANG),
                                  ("jingban01", access.CASE_WORKER, TOWNSHIP)):
            auth.create_user(s, name, name, role, where, PASSWORD, must_change_password=False, clock=clock)
        for seq, amount in enumerate((685.0, 720.0, 1025.0), start=1):
            birth = _dt.date(1955, 1, 1) + _dt.timedelta(days=rng.randint(0, 15000))
            benefit = Benefit(case_id=seq, aid_item_code="dibao_urban", category="dibao",
                              household_no=f"H{seq:05d}",
                              holder_person_id=ids.make(TOWNSHIP[:6], birth, seq),
                              holder_name=rng.choice(surnames) + rng.choice("伟芳娜秀英敏静丽强磊"),
                              region_code=TOWNSHIP, household_size=2, monthly_amount=amount,
                              start_period="2026-10", status="active", created_at=clock(), updated_at=clock())
            s.add(benefit)
            s.flush()
            october = funds.create_order(s, benefit, "2026-10", created_by="system:monthly", clock=clock)
            october.status = "paid"
        s.commit()
        funds.generate_month(s, PERIOD, clock=clock)
    for name, value in (("JIUZHU_HOME", str(tmp_path / "home")), ("JIUZHU_LAKE", str(gold.lake)),
                        ("JIUZHU_BUSINESS_DB_URL", url), ("JIUZHU_ALLOW_DEMO_KEY", "1")):
        monkeypatch.setenv(name, value)
    return sessions


@pytest.fixture
def paid_hook(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(payments, "_notify_paid",
                        lambda session, order, *, clock: calls.append(order.order_no))
    return calls


def _open(username: str):
    at = login(username)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _click(at, key: str):
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)
    return at


def test_a_finance_officer_checks_pays_and_sees_a_wrong_amount_flagged_in_chinese(county, paid_hook):
    at = _open("caiwu01")
    assert "资金监管" in texts(at.title)
    assert at.selectbox(key="funds_period").value == PERIOD
    assert {m.label: m.value for m in at.metric}["拨付单"] == "3"

    _click(at, "funds_sample")
    assert any("抽中1张待人工审核" in s for s in texts(at.success))  # 10 % of 3, rounded up
    awaiting = frame(at, "funds_awaiting")
    assert len(awaiting) == 1 and "*" in awaiting["收款人"].iloc[0]  # masked for the finance officer
    at.selectbox(key="funds_order").set_value(awaiting["拨付单号"].iloc[0]).run()
    _click(at, "funds_pass")

    _click(at, "funds_generate")
    batch_no, filename, content = at.session_state["funds_file"]
    assert filename == f"SBK_{batch_no}.csv" and at.get("download_button")
    rows = list(csv.reader(io.StringIO(content.decode("gb18030"), newline="")))
    details = rows[1:-1]
    assert len(details) == 3 and rows[-1] == ["T", "3", "2430.00"]

    # The bank pays the first line ten yuan short and the others as ordered.
    result = io.StringIO(newline="")
    writer = csv.writer(result, lineterminator="\r\n")
    writer.writerow(payments.RESULT_COLUMNS)
    for i, row in enumerate(details):
        amount = float(row[6]) - (10 if i == 0 else 0)
        writer.writerow([row[2], row[5], f"{amount:.2f}", "2026-11-30", "成功"])
    at.selectbox(key="funds_batch").set_value(batch_no).run()
    uploaded = ("回盘.csv", result.getvalue().encode("gb18030"), "text/csv")
    at.file_uploader(key="funds_upload").set_value(uploaded)
    at.run()
    at.button(key="funds_import").click().run()
    assert not at.exception, at.exception

    short = details[0]
    assert any("新发现对账差异1处" in s for s in texts(at.success))
    assert texts(at.error) == [f"对账发现1处差异:{short[2]} 金额不符"]
    issues = frame(at, "funds_issues")
    assert list(issues["差异类型"]) == ["金额不符"]
    assert issues["说明"].iloc[0] == (f"银行发放金额{float(short[6]) - 10:.2f}元与拨付金额{short[6]}元不符(第2行)")
    assert paid_hook == sorted(r[2] for r in details[1:])
    with county() as s:
        status = dict(s.execute(select(DisbursementOrder.order_no, DisbursementOrder.status)
                                .where(DisbursementOrder.period == PERIOD)).all())
    assert status == {details[0][2]: "mismatch", details[1][2]: "paid", details[2][2]: "paid"}
    with county() as s:
        assert s.scalars(select(ReconciliationIssue)).one().status == "open"


def test_an_issue_is_closed_only_with_a_note_and_a_case_worker_is_not_offered_the_page(county, paid_hook):
    with county() as s:
        for order in s.scalars(select(DisbursementOrder).where(DisbursementOrder.period == PERIOD)):
            order.status = "checked"
        s.commit()
    at = _open("caiwu01")
    _click(at, "funds_generate")
    batch_no, _, content = at.session_state["funds_file"]
    first = list(csv.reader(io.StringIO(content.decode("gb18030"), newline="")))[1]
    bank = f"{first[2]},{first[5]},{first[6]},2026-11-30,失败\r\n".encode()  # UTF-8, no header
    at.selectbox(key="funds_batch").set_value(batch_no).run()
    at.file_uploader(key="funds_upload").set_value(("result.csv", bank, "text/csv"))
    at.run()
    at.button(key="funds_import").click().run()
    issues = frame(at, "funds_issues")
    assert sorted(issues["差异类型"]) == ["发放失败", "银行未返回结果", "银行未返回结果"]
    failed = int(issues.loc[issues["差异类型"] == "发放失败", "差异号"].iloc[0])
    at.selectbox(key="funds_issue").set_value(failed).run()
    at.button(key="funds_resolve").click().run()
    assert texts(at.error)[-1] == "处理对账差异须写明处理情况"
    at.text_area(key="funds_issue_note").input("户主社保卡已挂失,换卡后重新发放").run()
    at.checkbox(key="funds_requeue").check().run()
    _click(at, "funds_resolve")
    assert any(f"差异{failed}已办结" in s for s in texts(at.success))
    with county() as s:
        again = s.scalars(select(DisbursementOrder).where(DisbursementOrder.order_no == first[2])).one()
        assert (again.status, again.batch_no) == ("checked", None)
        closing = s.scalars(select(AuditLog).where(AuditLog.actor == "caiwu01",
                                                   AuditLog.purpose == "处理资金发放对账差异")).all()
        assert [e.outcome for e in closing] == ["allowed"] and closing[0].subject_key
    at = login("jingban01")
    with pytest.raises(ValueError):  # not in the case worker's menu
        at.switch_page(PAGE)
