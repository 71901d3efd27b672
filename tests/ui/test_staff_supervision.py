"""电子监察: the supervisor sees a night look-up of personal data with the audit entries it rests on,
and the verification requests, re-verification tasks and monitoring warnings past their time
limits inside the jurisdiction; other roles are refused; looking is audited. 案件监察: the case rules
find an overdue step, the supervisor handles it with a note and the month's indicators count it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from assistance import flows
from jiuzhu import access, auth
from jiuzhu.business import db
from jiuzhu.business.models import AuditLog, CaseAlert, ReverificationTask, VerificationRequest
from models import warning_queue
from tests.business.test_casewatch import add_step, make_case, person
from tests.monitoringkit import DEATH, publish
from tests.ui.staffkit import PASSWORD, frame, login, texts

PAGE = "views/supervision.py"


@pytest.fixture
def trail(toy_model, tmp_path, monkeypatch, clock):
    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    present = datetime.now(UTC)
    clock.current = present - timedelta(days=40)
    lake = tmp_path / "lake"
    publish(lake, toy_model, "2026-10", {"510104000000301": DEATH})
    with sessions() as s:
        accounts = {username: auth.create_user(s, username, name, role, jurisdiction, PASSWORD,
                                               must_change_password=False, clock=clock)
                    for username, name, role, jurisdiction in auth.demo_accounts()}
        s.add(VerificationRequest(
            request_no="HD-SUP-0001", commissioning_unit="锦江区民政局", aid_item="dibao", purpose="低保申请",
            authorisation_ref="SQ-1", region_code="510104017000", status="received", submitted_by="hedui01",
            created_at=clock(), updated_at=clock()))
        s.add(ReverificationTask(
            period="2026-09", household_no="510104000000302", county_code="510104000000", aid_item="dibao",
            assessment="不符合", reasons_json="[]", status="pending", pushed_at=clock(),
            due_at=clock() + timedelta(days=21), updated_at=clock()))
        s.commit()
        warning_queue.push(s, lake, "2026-10", clock=clock)  # due 3 days later: long past
        clock.current = present.replace(hour=15, minute=30)  # 23:30 in Beijing
        access.authorize_and_audit(s, accounts["hedui01"], "view_person", "510104000000", subject_key="a1" * 16,
                                   purpose="夜间查询", clock=clock)
    clock.current = present
    for name, value in (("JIUZHU_HOME", str(tmp_path / "home")), ("JIUZHU_LAKE", str(lake)),
                        ("JIUZHU_BUSINESS_DB_URL", url)):
        monkeypatch.setenv(name, value)
    return sessions


def test_the_supervisor_sees_night_lookups_and_overdue_work(trail):
    at = login("jijian01")
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)
    operations = at.dataframe[0].value
    night = operations[operations["预警规则"].str.startswith("非工作时间查询")]
    assert list(night["操作人"]) == ["hedui01"]
    with trail() as s:
        seq = s.scalars(select(AuditLog.seq).where(AuditLog.purpose == "夜间查询")).one()
    assert str(seq) in night["审计记录序号"].iloc[0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["超期核对申请"] == "1" and metrics["超期动态复核"] == "1" and metrics["超期监测预警"] == "1"
    tables = [d.value for d in at.dataframe]
    assert any("HD-SUP-0001" in set(t.get("申请编号", [])) for t in tables)
    assert all("户号" not in t.columns for t in tables)  # households are not named here
    with trail() as s:
        looked = s.scalars(select(AuditLog).where(AuditLog.actor == "jijian01",
                                                  AuditLog.action == "view_supervision")).all()
    assert len(looked) >= 2 and all(e.outcome == "allowed" for e in looked)


@pytest.fixture
def cases(tmp_path, monkeypatch, clock):
    """A business database with a case whose 受理 step is long past its time limit."""
    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    with sessions() as s:
        for username, name, role, jurisdiction in auth.demo_accounts():
            auth.create_user(s, username, name, role, jurisdiction, PASSWORD, must_change_password=False, clock=clock)
        case = make_case(s, clock, "SL510104202611020001", [(person(21), "赵小燕", "02")], status="in_progress",
                         assessment=None, approved=None)
        # 3 working days from Monday 2 November: due at the end of 5 November, three weeks before the app's today
        add_step(s, case, 1, flows.get("standard").step("accept"), started=datetime(2026, 11, 2, 2, tzinfo=UTC),
                 status="todo")
        s.commit()
    for name, value in (("JIUZHU_HOME", str(tmp_path / "home")), ("JIUZHU_BUSINESS_DB_URL", url),
                        ("JIUZHU_ALLOW_DEMO_KEY", "1")):
        monkeypatch.setenv(name, value)
    return sessions


def test_the_supervisor_finds_an_overdue_step_and_handles_it(cases):
    at = login("jijian01")
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert frame(at, "supervision_case_alerts", missing_ok=True) is None  # nothing found before the rules ran
    at.button(key="case_alert_scan").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "已运行案件监察规则,新发现1条预警" in texts(at.success)
    listed = frame(at, "supervision_case_alerts")
    assert listed["监察规则"].tolist() == ["环节超期"] and listed["严重程度"].tolist() == ["高"]
    assert listed["说明"].iloc[0].startswith("受理编号SL510104202611020001的受理环节已超期")
    assert "赵小燕" not in listed.to_string()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["待处理·环节超期"] == "1" and metrics["当月预警·待处理"] == "1"

    alert_id = int(listed["预警号"].iloc[0])
    at.selectbox(key="case_alert_chosen").set_value(alert_id).run()
    at.button(key="case_alert_handle").click().run()
    assert any("处理意见" in e for e in texts(at.error))  # a note is required
    at.text_area(key="case_alert_note").input("已督促锦官驿街道当日完成受理")
    at.button(key="case_alert_handle").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert f"预警 {alert_id} 已处理" in texts(at.success)
    assert frame(at, "supervision_case_alerts", missing_ok=True) is None
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["当月预警·已处理"] == "1" and metrics["当月预警·待处理"] == "0"
    with cases() as s:
        alert = s.get(CaseAlert, alert_id)
        assert (alert.status, alert.handled_by) == ("handled", "jijian01")
        handled = s.scalars(select(AuditLog).where(AuditLog.action == "handle_supervision")).all()
    assert [e.actor for e in handled if e.outcome == "allowed"] == ["jijian01", "jijian01"]  # the scan, the handling
