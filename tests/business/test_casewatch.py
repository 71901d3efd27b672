"""电子监察 over cases: each rule raises an alert on a case built to break it and nothing on a clean
case; a rescan raises nothing twice; handling needs a note and the supervisor's permission inside the
jurisdiction; alert messages never name a person. 近亲属备案: the ID is validated and the audit entry
holds the pseudonym, not the ID.

The case tables are filled directly with the models (the flow engine is not needed to state what a
case looks like); the builders here are shared by the certificate tests."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from assistance import casewatch, catalogue, flows, relatives
from jiuzhu import access, auth, ids, masking, workdays
from jiuzhu.business.models import (
    AssistanceCase,
    AuditLog,
    Benefit,
    CaseAlert,
    CaseMember,
    CaseStep,
    DisbursementOrder,
    StaffRelative,
)

JINJIANG_TOWNSHIP = "510104017000"  # 锦官驿街道, 锦江区
QINGYANG_TOWNSHIP = "510105002000"  # 草市街街道, 青羊区
PASSWORD = "Jiuzhu#2026test"
HANDLERS = {"acceptance": "jingban01", "verification": "hedui01", "review": "shenhe01", "approval": "shenpi01",
            "publicity": "jingban01", "disbursement": "caiwu01"}


def person(seq: int, county: str = "510104", born: _dt.date = _dt.date(1978, 4, 2)) -> str:
    return ids.make(county, born, seq)


@dataclass
class Family:
    case: AssistanceCase
    steps: dict[str, CaseStep]
    members: list[tuple[str, str, str]]


def make_case(session, clock, no: str, members: list[tuple[str, str, str]], *, category="dibao",
              item="dibao_urban", flow="standard", status="approved", assessment="符合", proposed=900.0,
              approved=900.0, region=JINJIANG_TOWNSHIP) -> AssistanceCase:
    now = clock()
    case = AssistanceCase(
        acceptance_no=no, aid_item_code=item, item_version=1, category=category, flow_code=flow, region_code=region,
        applicant_person_id=members[0][0], applicant_name=members[0][1], channel="window", status=status,
        assessment=assessment, proposed_amount=proposed, approved_amount=approved, duplicate_check_json="[]",
        created_by="jingban01", created_at=now, decided_at=now if status in ("approved", "closed") else None,
        updated_at=now)
    session.add(case)
    session.flush()
    for pid, name, relation in members:
        session.add(CaseMember(case_id=case.id, person_id=pid, name=name, relation=relation, region_code=region,
                               updated_at=now))
    session.flush()
    return case


def add_step(session, case, seq: int, step: flows.StepDef, *, started: datetime, status="done", outcome="pass",
             handled_by: str | None = "auto", completed: datetime | None = None, escalated_to=None) -> CaseStep:
    if step.working_days is not None:
        due = workdays.add_working_days(started, step.working_days).at
    else:
        due = workdays.add_calendar_days(started, step.calendar_days).at
    office = case.region_code if step.office == "township" else case.region_code[:6] + "000000"
    row = CaseStep(
        case_id=case.id, seq=seq, step_code=step.code, name_zh=step.name_zh, kind=step.kind, action=step.action,
        office_level=step.office, office_code=office, status=status, outcome=outcome if status == "done" else None,
        handled_by=(HANDLERS[step.kind] if handled_by == "auto" else handled_by) if status == "done" else None,
        started_at=started, due_at=due, completed_at=(completed or started + timedelta(days=1)) if status == "done"
        else None, escalated_to=escalated_to, updated_at=started)
    session.add(row)
    session.flush()
    return row


def approved_family(session, clock, no: str, members, *, start=datetime(2025, 1, 6, 2, tzinfo=UTC),
                    benefit=True, orders=("2025-02",), **case_args) -> Family:
    """A case through its whole flow on time (each step done the day after it started), its active
    benefit from 2025-02 and the paid orders."""
    case = make_case(session, clock, no, members, **case_args)
    flow = flows.get(case.flow_code)
    steps, at = {}, start
    for seq, step in enumerate(flow.steps, 1):
        steps[step.code] = add_step(session, case, seq, step, started=at)
        at += timedelta(days=1)
    if benefit:
        b = add_benefit(session, clock, case, members)
        for period in orders:
            add_order(session, clock, b, period, "paid")
    session.commit()
    return Family(case, steps, members)


def add_benefit(session, clock, case, members, *, status="active", start_period="2025-02", end_period=None,
                monthly=None) -> Benefit:
    now = clock()
    b = Benefit(case_id=case.id, aid_item_code=case.aid_item_code, category=case.category,
                holder_person_id=members[0][0], holder_name=members[0][1], region_code=case.region_code,
                household_size=len(members), monthly_amount=monthly if monthly is not None else case.approved_amount,
                start_period=start_period, end_period=end_period, status=status, created_at=now, updated_at=now)
    session.add(b)
    session.flush()
    return b


def add_order(session, clock, benefit: Benefit, period: str, status: str, *, case_id=None) -> DisbursementOrder:
    now = clock()
    count = session.scalar(select(func.count()).select_from(DisbursementOrder)) or 0
    order = DisbursementOrder(
        order_no=f"BF{period.replace('-', '')}{count + 1:08d}", benefit_id=benefit.id,
        case_id=case_id or benefit.case_id, period=period, amount=benefit.monthly_amount,
        payee_person_id=benefit.holder_person_id, payee_name=benefit.holder_name, channel="card",
        account_no="9100000000000000001", region_code=benefit.region_code, status=status, created_by="system:monthly",
        created_at=now, updated_at=now)
    session.add(order)
    session.flush()
    return order


FAMILY = [(person(11), "李建国", "02"), (person(12, born=_dt.date(1980, 7, 9)), "王秀英", "10")]


@pytest.fixture(autouse=True)
def _demo_keys(monkeypatch):
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")


@pytest.fixture
def users(session, clock):
    accounts = {}
    for name, role, where in (("jingban01", access.CASE_WORKER, JINJIANG_TOWNSHIP),
                              ("shenhe01", access.APPROVER, JINJIANG_TOWNSHIP),
                              ("shenpi01", access.APPROVER, "510104000000"),
                              ("hedui01", access.VERIFICATION_OFFICER, "510104000000"),
                              ("jijian01", access.SUPERVISOR, "510000000000"),
                              ("jijian02", access.SUPERVISOR, "510105000000")):
        accounts[name] = auth.create_user(session, name, name, role, where, PASSWORD, must_change_password=False,
                                          clock=clock)
    return accounts


def rules_of(alerts) -> list[str]:
    return sorted(a.rule for a in alerts)


def assert_anonymous(session, *families: Family) -> None:
    """No alert names or identifies a person (message and detail)."""
    for alert in session.scalars(select(CaseAlert)):
        for f in families:
            for pid, name, _ in f.members:
                assert pid not in alert.message + alert.detail_json
                assert name not in alert.message + alert.detail_json


def test_a_clean_case_raises_nothing(session, clock, users):
    clean = approved_family(session, clock, "SL510104202501060001", FAMILY)
    assert casewatch.scan(session, clock=clock) == []
    assert session.scalar(select(func.count()).select_from(CaseAlert)) == 0
    assert casewatch.must_visit(session, clean.case) is False
    scanned = session.scalars(select(AuditLog).where(AuditLog.action == "case_supervision_scan")).one()
    assert json.loads(scanned.detail)["raised"] == 0


def test_overdue_steps_by_working_days_and_escalation(session, clock, users):
    approved_family(session, clock, "SL510104202501060001", FAMILY)  # clean: nothing
    case = make_case(session, clock, "SL510104202502100002", [(person(21), "赵小燕", "02")], status="in_progress",
                     assessment=None, approved=None)
    standard = flows.get("standard")
    add_step(session, case, 1, standard.step("accept"), started=datetime(2025, 2, 5, 2, tzinfo=UTC))
    # 家庭经济状况核对: 10 working days from 2025-02-10, due at the end of 2025-02-24; by Monday 2025-03-03 five
    # working days have passed (25, 26, 27, 28 Feb and 3 Mar)
    verify = add_step(session, case, 2, standard.step("verify"), started=datetime(2025, 2, 10, 2, tzinfo=UTC),
                      status="todo")
    other = make_case(session, clock, "SL510104202502260003", [(person(31), "钱多多", "02")], status="in_progress",
                      assessment=None, approved=None)
    # 受理 of 3 working days from Wed 26 Feb is due at the end of 3 Mar: not late yet, but the engine escalated it
    escalated = add_step(session, other, 1, standard.step("accept"), started=datetime(2025, 2, 26, 2, tzinfo=UTC),
                         status="todo", escalated_to="510104000000")
    session.commit()

    raised = casewatch.scan(session, clock=clock)
    by_step = {json.loads(a.detail_json)["step_id"]: a for a in raised}
    assert rules_of(raised) == ["overdue_step", "overdue_step"]
    late = by_step[verify.id]
    assert late.severity == "high" and "家庭经济状况核对环节已超期5个工作日" in late.message
    assert late.message.startswith("受理编号SL510104202502100002") and late.region_code == JINJIANG_TOWNSHIP
    assert by_step[escalated.id].severity == "medium" and "提级督办" in by_step[escalated.id].message

    # rescan: nothing new; a day later the open alert follows the facts instead of a second alert
    assert casewatch.scan(session, clock=clock) == []
    clock.advance(days=1)
    assert casewatch.scan(session, clock=clock) == []
    assert session.scalar(select(func.count()).select_from(CaseAlert)) == 2
    session.refresh(late)
    assert "已超期6个工作日" in late.message
    assert_anonymous(session)


def test_approvals_outside_policy(session, clock, users):
    clean = approved_family(session, clock, "SL510104202501060001", FAMILY)
    # within the cap of 985 yuan (成都 2025) × 2 members, although above the proposed amount: fine
    within = approved_family(session, clock, "SL510104202501060002", [(person(41), "孙红", "02"),
                                                                      (person(42), "周明", "20")],
                             proposed=1500.0, approved=1900.0)
    ineligible = approved_family(session, clock, "SL510104202501060003", [(person(51), "吴刚", "02")],
                                 assessment="不符合", proposed=900.0, approved=900.0)
    too_much = approved_family(session, clock, "SL510104202501060004", [(person(61), "郑丽", "02"),
                                                                        (person(62), "冯涛", "20")],
                               proposed=1500.0, approved=2500.0)
    unverified = approved_family(session, clock, "SL510104202501060005", [(person(71), "陈平", "02")],
                                 assessment=None, proposed=800.0, approved=800.0)
    # the urgent temporary-aid flow has no verification step: approving before any verification is its design
    urgent = approved_family(session, clock, "SL510104202501060006", [(person(81), "褚卫", "02")], benefit=False,
                             category="temporary", item="temporary_urgent", flow="urgent", assessment=None,
                             proposed=2000.0, approved=2000.0)
    # 特困 has no standard-based cap here (its care allowance is not in the policy tables): the proposal bounds it
    tekun = approved_family(session, clock, "SL510104202501060007", [(person(91), "卫国", "02")],
                            category="tekun", item="tekun", proposed=1280.0, approved=1400.0)

    raised = casewatch.scan(session, clock=clock)
    by_case = {a.case_id: a for a in raised}
    assert set(by_case) == {ineligible.case.id, too_much.case.id, unverified.case.id, tekun.case.id}
    assert not {clean.case.id, within.case.id, urgent.case.id} & set(by_case)
    assert all(a.rule == "approval_outside_policy" for a in raised)
    assert by_case[ineligible.case.id].severity == "high" and "不符合" in by_case[ineligible.case.id].message
    assert "由shenpi01批准" in by_case[ineligible.case.id].message
    cap = by_case[too_much.case.id]
    assert "2,500.00元" in cap.message and "1,970.00元" in cap.message and "低保标准" in cap.message
    assert json.loads(cap.detail_json)["cap_basis"] == "standard"
    assert by_case[unverified.case.id].severity == "high" and "核对结果" in by_case[unverified.case.id].message
    assert json.loads(by_case[tekun.case.id].detail_json)["cap_basis"] == "proposed"
    assert casewatch.scan(session, clock=clock) == []
    assert_anonymous(session, ineligible, too_much, unverified, tekun)


def test_payments_without_approval(session, clock, users):
    clean = approved_family(session, clock, "SL510104202501060001", FAMILY, orders=("2025-02", "2025-03"))
    pending = make_case(session, clock, "SL510104202502200002", [(person(21), "赵小燕", "02")], status="in_progress",
                        assessment="符合", approved=None)
    early = add_benefit(session, clock, pending, [(person(21), "赵小燕", "02")], monthly=800.0)
    unapproved = add_order(session, clock, early, "2025-03", "checked")
    ended = approved_family(session, clock, "SL510104202501060003", [(person(31), "钱多多", "02")], benefit=False)
    stopped = add_benefit(session, clock, ended.case, ended.members, status="ended", end_period="2025-02")
    add_order(session, clock, stopped, "2025-02", "paid")  # the month it stopped in: still due
    after_end = add_order(session, clock, stopped, "2025-03", "paid")
    refused = make_case(session, clock, "SL510104202502200004", [(person(41), "孙红", "02")], status="refused",
                        assessment="不符合", approved=None)
    caught = add_benefit(session, clock, refused, [(person(41), "孙红", "02")], monthly=600.0)
    add_order(session, clock, caught, "2025-03", "returned")  # the finance check stopped it: no alert
    session.commit()

    raised = casewatch.scan(session, clock=clock)
    assert rules_of(raised) == ["payment_without_approval", "payment_without_approval"]
    by_order = {json.loads(a.detail_json)["order_id"]: a for a in raised}
    assert set(by_order) == {unapproved.id, after_end.id}
    assert by_order[unapproved.id].severity == "medium" and "尚未批准(案件状态:办理中)" in by_order[unapproved.id].message
    assert by_order[after_end.id].severity == "high" and "已于2025年2月停发" in by_order[after_end.id].message
    assert after_end.order_no in by_order[after_end.id].message
    assert clean.case.id not in {a.case_id for a in raised}
    assert casewatch.scan(session, clock=clock) == []
    assert_anonymous(session, clean, ended)


def test_the_same_person_aided_twice(session, clock, users):
    catalogue.seed(session, clock=clock)
    shared = person(11)
    first = approved_family(session, clock, "SL510104202501060001", FAMILY)
    # the same person in a 特困 case in another county (青羊区), approved later: exclusive with 低保
    clock.advance(hours=1)
    twice = approved_family(session, clock, "SL510105202501200002", [(shared, "李建国", "02")], category="tekun",
                            item="tekun", proposed=1280.0, approved=1280.0, region=QINGYANG_TOWNSHIP)
    # 临时救助 is not exclusive with 低保, and an ended benefit does not count
    approved_family(session, clock, "SL510104202502030003", [(shared, "李建国", "02")], category="temporary",
                    item="temporary", proposed=1000.0, approved=1000.0)
    old = approved_family(session, clock, "SL510104202401080004", [(FAMILY[1][0], "王秀英", "02")], benefit=False)
    add_benefit(session, clock, old.case, old.members, status="ended", start_period="2024-02", end_period="2024-12")
    session.commit()

    raised = casewatch.scan(session, clock=clock)
    assert rules_of(raised) == ["aided_twice"]
    alert = raised[0]
    assert alert.case_id == twice.case.id and alert.region_code == QINGYANG_TOWNSHIP and alert.severity == "high"
    assert "有1人已在享受有效的最低生活保障(受理编号SL510104202501060001" in alert.message
    assert "锦江区" in alert.message and "互斥" in alert.message
    assert first.case.id != alert.case_id
    assert casewatch.scan(session, clock=clock) == []
    # without a published catalogue the rule still knows 低保 and 特困 exclude each other
    assert [f.rule for f in casewatch.aided_twice(session)] == ["aided_twice"]
    assert_anonymous(session, first, twice)


def test_an_officer_handling_a_relatives_case(session, clock, users):
    clean = approved_family(session, clock, "SL510104202501060001", FAMILY)
    relative = person(61)
    relatives.file_relative(session, users["shenpi01"], relative, "兄弟姐妹", clock)
    # a cadre's relative in another family: a home visit is due, but nobody handled it against the rule
    cadre_relative = person(71)
    relatives.file_relative(session, users["hedui01"], cadre_relative, "父母", clock)
    mine = approved_family(session, clock, "SL510104202501060002", [(person(62), "郑丽", "02"), (relative, "郑强", "70")])
    theirs = approved_family(session, clock, "SL510104202501060003", [(cadre_relative, "陈老汉", "02")])

    raised = casewatch.scan(session, clock=clock)
    assert rules_of(raised) == ["relative_approval"]
    alert = raised[0]
    assert alert.case_id == mine.case.id and alert.severity == "high"
    assert "县级审批环节由shenpi01办理" in alert.message and "(兄弟姐妹)" in alert.message
    assert json.loads(alert.detail_json)["step_id"] == mine.steps["approve"].id
    assert casewatch.must_visit(session, mine.case) and casewatch.must_visit(session, theirs.case)
    assert not casewatch.must_visit(session, clean.case)
    assert casewatch.scan(session, clock=clock) == []
    assert_anonymous(session, mine, theirs)


def test_handling_needs_a_note_and_the_supervisors_permission(session, clock, users):
    case = make_case(session, clock, "SL510104202502100002", [(person(21), "赵小燕", "02")], status="in_progress",
                     assessment=None, approved=None)
    add_step(session, case, 1, flows.get("standard").step("accept"), started=datetime(2025, 2, 10, 2, tzinfo=UTC),
             status="todo")
    session.commit()
    (alert,) = casewatch.scan(session, clock=clock)

    with pytest.raises(casewatch.CaseWatchError) as missing:
        casewatch.handle(session, users["jijian01"], alert.id, "  ", clock)
    assert missing.value.code == "NOTE_MISSING" and "处理意见" in missing.value.message
    with pytest.raises(access.AccessDenied) as worker:
        casewatch.handle(session, users["jingban01"], alert.id, "已催办", clock)
    assert worker.value.code == "ROLE_NOT_PERMITTED"
    with pytest.raises(access.AccessDenied) as elsewhere:
        casewatch.handle(session, users["jijian02"], alert.id, "已催办", clock)
    assert elsewhere.value.code == "OUT_OF_JURISDICTION"
    session.refresh(alert)
    assert alert.status == "open"
    # a supervisor of 青羊区 does not see 锦江区's alerts; the province's does
    assert casewatch.open_alerts(session, users["jijian02"], clock=clock) == []
    assert [a.id for a in casewatch.open_alerts(session, users["jijian01"], clock=clock)] == [alert.id]

    clock.advance(hours=3)
    casewatch.handle(session, users["jijian01"], alert.id, "已电话督办乡镇,当日完成受理", clock)
    session.refresh(alert)
    assert (alert.status, alert.handled_by, alert.handling_note) == ("handled", "jijian01", "已电话督办乡镇,当日完成受理")
    with pytest.raises(casewatch.CaseWatchError) as again:
        casewatch.handle(session, users["jijian01"], alert.id, "再次处理", clock)
    assert again.value.code == "ALERT_HANDLED"
    assert casewatch.scan(session, clock=clock) == []  # a handled finding is not raised again
    assert casewatch.open_alerts(session, users["jijian01"], clock=clock) == []
    entries = session.scalars(select(AuditLog).where(AuditLog.action == "handle_supervision")
                              .order_by(AuditLog.seq)).all()
    assert [(e.actor, e.outcome) for e in entries] == [("jingban01", "denied"), ("jijian02", "denied"),
                                                       ("jijian01", "allowed"), ("jijian01", "allowed")]


def test_indicators_count_alerts_late_steps_and_handling_time(session, clock, users):
    case = make_case(session, clock, "SL510104202502030002", [(person(21), "赵小燕", "02")], status="in_progress",
                     assessment=None, approved=None)
    standard = flows.get("standard")
    # 受理 on time (due 7 Feb, done 4 Feb), 核对 late (due 24 Feb, done 26 Feb), 审核 still open past 3 Mar
    add_step(session, case, 1, standard.step("accept"), started=datetime(2025, 2, 3, 2, tzinfo=UTC))
    add_step(session, case, 2, standard.step("verify"), started=datetime(2025, 2, 10, 2, tzinfo=UTC),
             completed=datetime(2025, 2, 26, 2, tzinfo=UTC))
    add_step(session, case, 3, standard.step("review"), started=datetime(2025, 2, 19, 2, tzinfo=UTC), status="todo")
    session.commit()
    raised = casewatch.scan(session, clock=clock)
    assert rules_of(raised) == ["overdue_step"]
    clock.advance(hours=6)
    casewatch.handle(session, users["jijian01"], raised[0].id, "已督办", clock)

    got = casewatch.indicators(session, "510104000000", "2025-03", clock=clock)
    assert got.by_rule["overdue_step"] == {"open": 0, "handled": 1} and got.handled_total == 1
    assert got.avg_alert_handling_hours == pytest.approx(6.0)
    feb = casewatch.indicators(session, "510104000000", "2025-02", clock=clock)
    assert (feb.steps_due, feb.steps_late) == (3, 2) and feb.overdue_rate == pytest.approx(2 / 3)
    # 3→4 Feb: 0 working days (4 Feb is the last day of the Spring Festival holiday); 10→26 Feb: 12
    assert feb.avg_step_working_days == pytest.approx((0 + 12) / 2)
    assert casewatch.indicators(session, "510105000000", "2025-02", clock=clock).steps_due == 0
    with pytest.raises(casewatch.CaseWatchError) as bad:
        casewatch.indicators(session, "510104000000", "2025-13", clock=clock)
    assert bad.value.code == "PERIOD_INVALID"


# --- 近亲属备案 ----------------------------------------------------------------------------------------------


def test_filing_a_relative_validates_the_id_and_audits_the_pseudonym(session, clock, users):
    officer = users["jingban01"]
    number = person(91)
    with pytest.raises(relatives.RelativeError) as bad:
        relatives.file_relative(session, officer, number[:-1] + ("0" if number[-1] != "0" else "1"), "配偶", clock)
    assert bad.value.code == "ID_CHECK" and "校验码错误" in bad.value.message
    with pytest.raises(relatives.RelativeError) as relation:
        relatives.file_relative(session, officer, number, "朋友", clock)
    assert relation.value.code == "RELATION_UNKNOWN"
    assert session.scalar(select(func.count()).select_from(StaffRelative)) == 0

    filed = relatives.file_relative(session, officer, number.lower(), "配偶", clock)
    assert (filed.username, filed.person_id, filed.relation_zh) == ("jingban01", number, "配偶")
    with pytest.raises(relatives.RelativeError) as twice:
        relatives.file_relative(session, officer, number, "配偶", clock)
    assert twice.value.code == "RELATIVE_FILED"
    assert [r.person_id for r in relatives.relatives_of(session, "jingban01")] == [number]
    assert relatives.relatives_of(session, "shenpi01") == []

    entries = session.scalars(select(AuditLog).where(AuditLog.action == "file_relatives")).all()
    assert entries and all(e.subject_key == masking.pseudonym(number) for e in entries)
    assert all(number not in e.detail and number not in (e.purpose or "") for e in entries)
    assert json.loads(entries[0].detail)["relation"] == "配偶"

    # an analyst may not file; withdrawing needs a reason and leaves an audit entry too
    analyst = auth.create_user(session, "fenxi01", "fenxi01", access.ANALYST, "510100000000", PASSWORD,
                               must_change_password=False, clock=clock)
    with pytest.raises(access.AccessDenied):
        relatives.file_relative(session, analyst, number, "配偶", clock)
    with pytest.raises(relatives.RelativeError):
        relatives.withdraw(session, officer, number, "", clock)
    relatives.withdraw(session, officer, number, "录入错误", clock)
    assert relatives.relatives_of(session, "jingban01") == []
    last = session.scalars(select(AuditLog).where(AuditLog.action == "file_relatives")
                           .order_by(AuditLog.seq.desc())).first()
    assert json.loads(last.detail)["op"] == "withdraw" and last.subject_key == masking.pseudonym(number)
