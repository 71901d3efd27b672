"""The warning queue (MN-3): rule and model findings become one warning per household, explained,
with social resources, in the responsible township's queue; a household is not pushed again within
30 days unless its severity rises; townships visit within the time limit of the severity, then refer
or dismiss with a reason; other jurisdictions are refused; every push and step is audited."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from jiuzhu import access, auth
from jiuzhu.business.models import AuditLog, MonitoringWarning
from models import indicators, warning_queue
from tests.monitoringkit import COUNTY, DEATH, JOB, MEDICAL, TOWNSHIP, publish


def test_findings_become_one_explained_warning_per_household_in_the_townships_queue(session, clock, toy_model, tmp_path):
    root = tmp_path / "lake"
    publish(root, toy_model, "2026-10", {"A": DEATH, "B": JOB, "C": MEDICAL, "D": {}})
    result = warning_queue.push(session, root, "2026-10", clock=clock)
    assert result.pushed == 3 and result.townships == 1
    got = {w.household_no: w for w in session.scalars(select(MonitoringWarning))}
    assert set(got) == {"A", "B", "C"}  # D has nothing wrong
    assert (got["A"].source, got["A"].severity) == ("rule", "high")
    assert (got["B"].source, got["B"].severity) == ("rule", "medium")
    assert got["C"].source == "rule+model" and got["C"].probability > 0.6
    cfg = indicators.load()
    for w in got.values():
        assert w.township_code == TOWNSHIP + "000" and w.status == "pending"
        assert w.due_at == w.pushed_at + timedelta(days=cfg.visit_within_days[w.severity])
        why = warning_queue.explanation(w)
        assert why["reasons"] and all(r["explanation_zh"] for r in why["reasons"])  # never unexplained
    model_reason = [r for r in warning_queue.explanation(got["C"])["reasons"] if r["code"] == "RISK_MODEL"][0]
    assert "概率" in model_reason["explanation_zh"]
    assert json.loads(got["C"].factors_json)[0]["feature"] == "medical_oop_3m_yuan"
    assert any(r["code"] == "SR-MED-CD" for r in json.loads(got["C"].resources_json))
    assert any("家庭变故" in r["needs_zh"] for r in json.loads(got["A"].resources_json))
    pushes = session.scalars(select(AuditLog).where(AuditLog.action == "push_monitoring_warnings")).all()
    assert len(pushes) == 1 and json.loads(pushes[0].detail)["households"] == 3
    again = warning_queue.push(session, root, "2026-10", clock=clock)
    assert again.pushed == 0 and again.already_queued == 3


def test_a_household_is_not_pushed_again_within_30_days_unless_its_severity_rises(session, clock, toy_model, tmp_path):
    root = tmp_path / "lake"
    publish(root, toy_model, "2026-10", {"A": DEATH, "B": JOB})
    warning_queue.push(session, root, "2026-10", clock=clock)
    clock.advance(days=20)
    publish(root, toy_model, "2026-11", {"A": DEATH, "B": {**JOB, **DEATH}})
    second = warning_queue.push(session, root, "2026-11", clock=clock)
    assert second.pushed == 1 and second.suppressed == 1  # B rose from medium to high, A did not
    assert session.scalars(select(MonitoringWarning.household_no).where(MonitoringWarning.period == "2026-11")).all() == ["B"]
    clock.advance(days=11)  # 31 days after A's first warning
    publish(root, toy_model, "2026-12", {"A": DEATH})
    third = warning_queue.push(session, root, "2026-12", clock=clock)
    assert third.pushed == 1 and third.suppressed == 0


def test_townships_visit_then_refer_or_dismiss_with_reasons_within_the_time_limit(session, clock, toy_model, tmp_path):
    root = tmp_path / "lake"
    publish(root, toy_model, "2026-10", {"A": DEATH, "B": JOB})
    warning_queue.push(session, root, "2026-10", clock=clock)
    mine = auth.create_user(session, "town.worker", "乡镇经办人", access.CASE_WORKER, COUNTY + "000000",
                            "Abcdef12!", must_change_password=False, clock=clock)
    outsider = auth.create_user(session, "far.worker", "外县经办人", access.CASE_WORKER, "513401000000",
                                "Abcdef12!", must_change_password=False, clock=clock)
    analyst = auth.create_user(session, "an.alyst", "分析员", access.ANALYST, "510000000000",
                               "Abcdef12!", must_change_password=False, clock=clock)
    queue = warning_queue.queue(session, mine, clock=clock)
    assert [w.household_no for w in queue] == ["A", "B"]  # high first: its visit is due sooner
    assert warning_queue.queue(session, outsider, clock=clock) == []
    with pytest.raises(access.AccessDenied):
        warning_queue.queue(session, analyst, clock=clock)
    a, b = queue
    colleague = auth.create_user(session, "town.colleague", "乡镇经办人二", access.CASE_WORKER, COUNTY + "000000",
                                 "Abcdef12!", must_change_password=False, clock=clock)
    assert warning_queue.handle(session, mine, a.id, "claim", "", clock=clock).claimed_by == "town.worker"
    with pytest.raises(warning_queue.WarningError) as err:  # claimed: the colleague leaves it alone
        warning_queue.handle(session, colleague, a.id, "visit", "走访", clock=clock)
    assert err.value.code == "CLAIMED_BY_OTHER"
    assert [w.id for w in warning_queue.queue(session, mine, mine=True, clock=clock)] == [a.id]
    with pytest.raises(access.AccessDenied):
        warning_queue.handle(session, outsider, a.id, "visit", "走访", clock=clock)
    assert session.scalars(select(AuditLog).where(AuditLog.actor == "far.worker")).all()[-1].outcome == "denied"
    for step, note, code in (("refer", "转入", "STATUS_INVALID"), ("visit", " ", "NOTE_MISSING"),
                             ("fly", "x", "STEP_UNKNOWN")):
        with pytest.raises(warning_queue.WarningError) as err:
            warning_queue.handle(session, mine, a.id, step, note, clock=clock)
        assert err.value.code == code
    visited = warning_queue.handle(session, mine, a.id, "visit", "入户走访:户主去世,家庭无其他劳动力", clock=clock)
    assert visited.status == "visited" and visited.visited_at == clock() and visited.handled_by == "town.worker"
    referred = warning_queue.handle(session, mine, a.id, "refer", "符合低保申请条件,转入认定程序", clock=clock)
    assert referred.status == "referred"
    with pytest.raises(warning_queue.WarningError):
        warning_queue.handle(session, mine, a.id, "dismiss", "重复", clock=clock)
    clock.advance(days=indicators.load().visit_within_days["medium"] + 1)
    late = warning_queue.overdue(warning_queue.queue(session, mine, clock=clock), clock())
    assert [w.household_no for w in late] == ["B"]  # the visited one is never overdue
    warning_queue.handle(session, mine, b.id, "visit", "入户走访", clock=clock)
    dismissed = warning_queue.handle(session, mine, b.id, "dismiss", "已在外地稳定就业,收入高于标准", clock=clock)
    assert dismissed.status == "dismissed" and "稳定就业" in dismissed.outcome_note
    steps = session.scalars(select(AuditLog).where(AuditLog.action == "handle_warning",
                                                   AuditLog.actor == "town.worker")).all()
    assert len(steps) >= 6 and all(e.purpose for e in steps)
