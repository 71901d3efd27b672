"""One-window acceptance and the flow engine (BZ-2, BZ-3, BZ-4) on SQLite and PostgreSQL: routing to
the responsible offices, time limits on a controllable clock with 办结预警 and escalation,
transfer, suspension, publicity, the duplicate-assistance check, flows as data, archives that
reveal tampering, and the applicant's progress query."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from sqlalchemy import select, update

from assistance import archives, cases, catalogue, flows
from jiuzhu import access, lake, regions, workdays
from jiuzhu.business.models import (
    ArchiveDocument,
    AssistanceCase,
    AuditLog,
    Benefit,
    CaseMember,
    CaseStep,
    DisbursementOrder,
    VerificationRequest,
)
from tests.business import casekit
from verification import requests as vr

# the demo signing key (archives, reports); `seeded`: a session with the catalogue (conftest)
pytestmark = pytest.mark.usefixtures("demo_key")


@pytest.fixture
def office(seeded, clock):
    return casekit.staff(seeded, clock)


def _accept(session, office, clock, item="dibao_urban", members=None, lake_root=None, **kw):
    return cases.accept(session, office["cw"], item_code=item, region_code=office["township"],
                        members=members or casekit.family(), lake_root=lake_root,
                        materials=casekit.materials(item, session, office["township"]), household_no="H-TEST-1",
                        clock=clock, **kw)


def _centre_reports(session, case, *, assessment="符合", standard=985.0, income=1500.0, members=3, **flags):
    """The verification centre's officers finish the request (their own workflow is tested in
    test_verification_requests on the real lake): reviewed, with the assessment and the profile."""
    profile = {"period": "2025-02", "county_code": case.region_code[:6], "area_type": "urban",
               "standard_yuan": standard, "members": members, "counted_income_yuan": income, **flags}
    session.execute(update(VerificationRequest).where(VerificationRequest.request_no == case.verification_request_no)
                    .values(status="reviewed", assessment=assessment, verified_by="vo", reviewed_by="vo2",
                            result_json=json.dumps({"profile": profile})))
    session.commit()


def _step(session, case) -> CaseStep:
    return cases.current_step(session, case)


def test_window_acceptance_archives_the_materials_and_submits_the_verification(seeded, office, clock):
    case = _accept(seeded, office, clock)
    assert case.acceptance_no.startswith("SL20250303") and case.status == "in_progress"
    steps = cases.steps_of(seeded, case)
    assert [(s.step_code, s.status, s.outcome) for s in steps] == [("accept", "done", "pass"), ("verify", "todo", None)]
    county = office["township"][:6] + "000000"
    assert steps[1].office_code == county  # the verification goes to the county's centre
    request = vr.get(seeded, case.verification_request_no)
    assert request.status == "submitted" and request.region_code == case.region_code
    assert request.aid_item == "dibao" and "SL20250303" in request.purpose
    docs = seeded.scalars(select(ArchiveDocument).where(ArchiveDocument.case_id == case.id)).all()
    assert {d.title for d in docs} == {m.name for m in catalogue.effective(seeded, "dibao_urban", case.region_code).materials}
    # the authorisation letter's archive number is the request's authorisation reference
    letter = next(d for d in docs if "核对授权书" in d.title)
    assert request.authorisation_ref == letter.archive_no
    assert all(archives.check(d).intact for d in docs)


def test_a_standard_case_goes_through_every_office_to_its_first_disbursement_order(seeded, office, clock):
    case = _accept(seeded, office, clock)
    assert [t.acceptance_no for t in cases.inbox(seeded, office["vo"], "todo", clock=clock)] == [case.acceptance_no]
    assert cases.inbox(seeded, office["cw"], "todo", clock=clock) == []
    with pytest.raises(cases.CaseError) as err:
        cases.complete(seeded, office["vo"], case.acceptance_no, "pass", clock=clock)
    assert err.value.code == "STEP_AUTOMATIC"

    clock.advance(days=2)
    _centre_reports(seeded, case)
    result = cases.sweep(seeded, clock=clock)
    assert result.verified == [case.acceptance_no]
    seeded.refresh(case)
    # 985 (成都, 2025) × 3 − 1,500, + the minor's add-on 10 % × 985 = 98.50
    assert case.assessment == "符合" and case.proposed_amount == 1553.5
    review = _step(seeded, case)
    assert (review.step_code, review.office_code) == ("review", office["township"])
    with pytest.raises(cases.CaseError) as err:  # the county does not do the township's review
        cases.complete(seeded, office["county_ap"], case.acceptance_no, "pass", clock=clock)
    assert err.value.code == "NOT_YOUR_OFFICE"
    with pytest.raises(cases.CaseError) as err:
        cases.complete(seeded, office["town_ap"], case.acceptance_no, "refuse", clock=clock)
    assert err.value.code == "NOTE_REQUIRED"
    cases.complete(seeded, office["town_ap"], case.acceptance_no, "pass", note="同意,报县级审批", clock=clock)

    approve = _step(seeded, case)
    assert (approve.step_code, approve.office_code) == ("approve", office["township"][:6] + "000000")
    # the county returns it once, the township reviews again, the county approves a corrected amount
    cases.complete(seeded, office["county_ap"], case.acceptance_no, "return", note="请补充收入说明", clock=clock)
    assert _step(seeded, case).step_code == "review"
    cases.complete(seeded, office["town_ap"], case.acceptance_no, "pass", note="已补充", clock=clock)
    cases.complete(seeded, office["county_ap"], case.acceptance_no, "pass", note="同意", amount=1200.0, clock=clock)
    seeded.refresh(case)
    assert case.approved_amount == 1200.0 and _step(seeded, case).step_code == "publicity"
    assert seeded.scalar(select(Benefit).where(Benefit.case_id == case.id)) is None  # not before publicity

    clock.advance(days=6)
    assert cases.sweep(seeded, clock=clock).publicity_closed == []
    clock.advance(days=2)
    assert cases.sweep(seeded, clock=clock).publicity_closed == [case.acceptance_no]
    seeded.refresh(case)
    assert case.status == "approved" and case.current_step == "disburse"
    benefit = seeded.scalar(select(Benefit).where(Benefit.case_id == case.id))
    assert (benefit.status, benefit.monthly_amount, benefit.household_size) == ("active", 1200.0, 3)
    order = seeded.scalar(select(DisbursementOrder).where(DisbursementOrder.case_id == case.id))
    assert (order.status, order.amount, order.channel, order.period) == ("pending_check", 1200.0, "card", "2025-03")
    decisions = seeded.scalars(select(ArchiveDocument.title).where(ArchiveDocument.case_id == case.id,
                                                                   ArchiveDocument.kind.in_(("decision", "publicity"))))
    assert sorted(decisions) == sorted(["乡镇审核意见", "县级审批意见", "乡镇审核意见", "县级审批意见", "公示结果"])
    cases.order_paid(seeded, order, clock=clock)
    seeded.commit()
    assert _step(seeded, case) is None and case.status == "approved"  # a monthly benefit stays active
    done = cases.inbox(seeded, office["county_ap"], "done", clock=clock)
    assert [t.step_zh for t in done] == ["县级审批", "县级审批"]


def test_four_eyes_between_review_and_approval_and_the_role_of_each_step(seeded, clock):
    # one approver whose jurisdiction is the township reviews; the county's approval must be someone else
    office = casekit.staff(seeded, clock)
    case = _accept(seeded, office, clock)
    _centre_reports(seeded, case)
    cases.sweep(seeded, clock=clock)
    with pytest.raises(access.AccessDenied):  # a case worker of the township cannot do the approver's review
        cases.complete(seeded, office["cw"], case.acceptance_no, "pass", clock=clock)
    denied = seeded.scalars(select(AuditLog).where(AuditLog.outcome == "denied")).all()
    assert any(e.action == "approve_assistance" and e.actor == office["cw"].username for e in denied)


def test_time_limits_warn_before_the_limit_and_escalate_an_overdue_step(seeded, office, clock):
    case = _accept(seeded, office, clock)
    step = _step(seeded, case)
    expected = workdays.add_working_days(clock(), 10).at
    assert step.due_at == expected
    clock.set(expected.replace(hour=1))  # the morning of the last day
    assert cases.sweep(seeded, clock=clock).warned == [case.acceptance_no]
    assert [t.state for t in cases.inbox(seeded, office["vo"], clock=clock)] == ["warned"]
    assert cases.sweep(seeded, clock=clock).warned == []  # warned once
    clock.set(workdays.add_working_days(expected, 2).at)
    swept = cases.sweep(seeded, clock=clock)
    assert swept.overdue == [case.acceptance_no]
    seeded.refresh(step)
    city = regions.load().parent(step.office_code).code
    assert step.escalated_to == city and step.overdue_at is not None
    task = cases.inbox(seeded, office["vo"], clock=clock)[0]
    assert task.state == "overdue" and task.remaining_working_days == -2 and task.escalated
    from jiuzhu import auth

    city_officer = auth.create_user(seeded, "vo.city", "vo.city", access.VERIFICATION_OFFICER, city, "Abcdef12!",
                                    must_change_password=False, clock=clock)
    assert [t.acceptance_no for t in cases.inbox(seeded, city_officer, clock=clock)] == [case.acceptance_no]
    entries = seeded.scalars(select(AuditLog).where(AuditLog.action == "case_step_overdue")).all()
    assert len(entries) == 1 and case.acceptance_no in entries[0].detail
    assert cases.sweep(seeded, clock=clock).overdue == []  # escalated once


def test_suspension_stops_the_clock_and_transfer_moves_the_case(seeded, office, clock):
    case = _accept(seeded, office, clock)
    _centre_reports(seeded, case)
    cases.sweep(seeded, clock=clock)
    review = _step(seeded, case)
    due = review.due_at
    cases.suspend(seeded, office["town_ap"], case.acceptance_no, "等待申请人补充材料", clock=clock)
    assert [t.acceptance_no for t in cases.inbox(seeded, office["town_ap"], "suspended", clock=clock)] == [
        case.acceptance_no]
    with pytest.raises(cases.CaseError) as err:
        cases.complete(seeded, office["town_ap"], case.acceptance_no, "pass", clock=clock)
    assert err.value.code == "STEP_SUSPENDED"
    clock.set(datetime(2025, 3, 10, 2, 0, tzinfo=UTC))  # a week later: five working days
    cases.resume(seeded, office["town_ap"], case.acceptance_no, clock=clock)
    seeded.refresh(review)
    assert review.due_at == workdays.add_working_days(due, 5).at and review.status == "todo"

    other = casekit.township_of(casekit.JINJIANG, 1)
    with pytest.raises(cases.CaseError) as err:
        cases.transfer(seeded, office["town_ap"], case.acceptance_no, casekit.JINJIANG, "层级不对", clock=clock)
    assert err.value.code == "TRANSFER_LEVEL"
    cases.transfer(seeded, office["town_ap"], case.acceptance_no, other, "申请人实际居住在该街道", clock=clock)
    seeded.refresh(review)
    assert review.office_code == other and review.transferred_from == office["township"]
    assert cases.inbox(seeded, office["town_ap"], clock=clock) == []
    receiving = casekit.staff(seeded, clock, township=other)
    assert [t.acceptance_no for t in cases.inbox(seeded, receiving["town_ap"], clock=clock)] == [case.acceptance_no]
    cases.complete(seeded, receiving["town_ap"], case.acceptance_no, "pass", note="同意", clock=clock)
    assert seeded.get(AssistanceCase, case.id).region_code == other


def _recipient(session, clock, members, item_code, region):
    """A family already receiving ``item_code`` (its case approved earlier)."""
    now = clock()
    item = catalogue.effective(session, item_code, region)
    case = AssistanceCase(acceptance_no=f"SL-OLD-{item_code}-{region}", aid_item_code=item_code, item_version=1,
                          category=item.category, flow_code=item.flow_code, region_code=region,
                          applicant_person_id=members[0].person_id, applicant_name=members[0].name, channel="window",
                          status="approved", created_by="old", created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    for m in members:
        session.add(CaseMember(case_id=case.id, person_id=m.person_id, name=m.name, relation=m.relation, updated_at=now))
    session.add(Benefit(case_id=case.id, aid_item_code=item_code, category=item.category,
                        holder_person_id=members[0].person_id, holder_name=members[0].name, region_code=region,
                        household_size=len(members), monthly_amount=500.0, start_period="2024-06", status="active",
                        created_at=now, updated_at=now))
    session.commit()


def test_the_duplicate_check_catches_the_same_and_an_exclusive_item_elsewhere_in_the_province(seeded, clock):
    qingyang = casekit.township_of(casekit.QINGYANG)
    members = casekit.family(11)
    _recipient(seeded, clock, members, "dibao_urban", qingyang)
    office = casekit.staff(seeded, clock)
    with pytest.raises(cases.CaseError) as err:  # the same item, in another county
        _accept(seeded, office, clock, members=members)
    assert err.value.code == "DUPLICATE_ASSISTANCE"
    assert "正在享受同一救助事项" in err.value.message and "青羊区" in err.value.message
    assert members[0].person_id not in err.value.message and "张建国" not in err.value.message
    # a member of the family applying for tekun: dibao and tekun exclude each other
    with pytest.raises(cases.CaseError) as err:
        _accept(seeded, office, clock, item="tekun", members=[members[2]])
    assert "不能同时享受" in err.value.message and "第1名成员" in err.value.message
    # temporary aid may come on top of dibao
    assert _accept(seeded, office, clock, item="temporary_urgent", members=members).status == "in_progress"
    # the refusal was audited without the person
    found = seeded.scalars(select(AuditLog).where(AuditLog.action == "duplicate_assistance_found")).all()
    assert len(found) == 2 and all(members[0].person_id not in e.detail for e in found)


def test_the_duplicate_check_reads_the_civil_affairs_roster_in_the_lake(seeded, clock, tmp_path):
    members = casekit.family(21)
    roster = pa.table({"person_id": [members[1].person_id, members[1].person_id], "aid_item": ["城市特困", "城市特困"],
                       "region_code": ["510105001000", "510105001000"], "period": ["2025-01", "2025-02"]})
    lake.write(lake.table_path(tmp_path, "silver", "assistance_roster"), roster)
    office = casekit.staff(seeded, clock)
    with pytest.raises(cases.CaseError) as err:
        _accept(seeded, office, clock, members=members, lake_root=tmp_path)
    assert "民政救助名册2025-02" in err.value.message and "第2名成员(配偶)" in err.value.message
    # somebody not on the roster's newest month passes
    assert _accept(seeded, office, clock, members=casekit.family(31), lake_root=tmp_path).status == "in_progress"


def test_a_second_application_for_the_same_item_while_one_is_in_progress_is_refused(seeded, office, clock):
    _accept(seeded, office, clock)
    with pytest.raises(cases.CaseError) as err:
        _accept(seeded, office, clock)
    assert "已有同一救助事项的申请在办理中" in err.value.message


def test_materials_are_checked_before_anything_is_written(seeded, office, clock):
    item = catalogue.effective(seeded, "dibao_urban", office["township"])
    required = item.required_materials
    with pytest.raises(cases.CaseError) as err:
        cases.accept(seeded, office["cw"], item_code="dibao_urban", region_code=office["township"],
                     members=casekit.family(), lake_root=None, clock=clock,
                     materials=casekit.materials("dibao_urban", seeded, office["township"], skip=(required[2],)))
    assert err.value.code == "MATERIALS_MISSING" and required[2] in err.value.message
    bad = [cases.MaterialIn(n, "a.exe", b"MZ\x90\x00") for n in required]
    with pytest.raises(cases.CaseError) as err:
        cases.accept(seeded, office["cw"], item_code="dibao_urban", region_code=office["township"],
                     members=casekit.family(), materials=bad, lake_root=None, clock=clock)
    assert err.value.code == "MATERIAL_TYPE" and "a.exe" in err.value.message
    with pytest.raises(cases.CaseError) as err:
        cases.accept(seeded, office["cw"], item_code="dibao_urban", region_code=office["township"],
                     members=[cases.MemberIn("510104198001010010", "某", "02")], lake_root=None, clock=clock,
                     materials=casekit.materials("dibao_urban", seeded, office["township"]))
    assert "身份证号码无效" in err.value.message
    assert seeded.scalar(select(AssistanceCase)) is None and seeded.scalar(select(ArchiveDocument)) is None


def test_an_online_application_waits_for_the_township_to_accept_it(seeded, office, clock):
    from assistance import portal

    with pytest.raises(access.AccessDenied):  # the window's officers accept; citizens submit online
        _accept(seeded, office, clock, item="temporary_urgent", channel="online")
    family = casekit.family()
    citizen = portal.CitizenPrincipal(1, family[0].person_id, family[0].name, "public:1")
    case = cases.accept(seeded, citizen, item_code="temporary_urgent", region_code=office["township"],
                        members=family, materials=casekit.materials("temporary_urgent", seeded, office["township"]),
                        lake_root=None, channel="online", clock=clock)
    assert (case.channel, case.created_by) == ("online", "public:1")
    assert _step(seeded, case).step_code == "accept"
    assert [t.step_zh for t in cases.inbox(seeded, office["cw2"], clock=clock)] == ["受理"]
    cases.complete(seeded, office["cw2"], case.acceptance_no, "pass", note="材料齐全", clock=clock)
    assert _step(seeded, case).step_code == "approve"


def test_a_one_off_aid_ends_when_paid(seeded, office, clock):
    case = _accept(seeded, office, clock, item="temporary_urgent")
    cases.complete(seeded, office["town_ap"], case.acceptance_no, "pass", note="先行救助", amount=2000.0, clock=clock)
    order = seeded.scalar(select(DisbursementOrder).where(DisbursementOrder.case_id == case.id))
    assert (order.amount, order.channel) == (2000.0, "bank")
    cases.order_paid(seeded, order, clock=clock)
    seeded.commit()
    seeded.refresh(case)
    benefit = seeded.scalar(select(Benefit).where(Benefit.case_id == case.id))
    assert case.status == "closed" and benefit.status == "ended" and benefit.end_period == "2025-03"


FLOW = """
flows:
  two_level_relief:
    name_zh: 冬春救助(村评议、乡镇审核、县审批)
    total_working_days: 12
    steps:
      - {code: accept, name_zh: 受理, kind: acceptance, office: township, action: accept_application, working_days: 2}
      - {code: village, name_zh: 民主评议, kind: handling, office: township, action: handle_case, working_days: 3}
      - {code: approve, name_zh: 县级审批, kind: approval, office: county, action: approve_assistance, working_days: 5}
      - {code: pay, name_zh: 资金发放, kind: disbursement, office: county, action: manage_funds, working_days: 2}
"""
ITEM = """
items:
  - code: winter_relief
    name_zh: 冬春生活救助
    category: temporary
    flow: two_level_relief
    legal_basis: 《自然灾害救助条例》
    scope: 受灾后冬春期间基本生活困难的群众
    materials:
      - {name: 冬春救助申请表, required: true}
    standards: 按户核定
    time_limit_working_days: 12
    where_to_go: 乡镇人民政府
"""


def test_a_new_aid_item_with_its_own_flow_is_added_as_data_only(seeded, office, clock, tmp_path, monkeypatch):
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "relief.yaml").write_text(FLOW, encoding="utf-8")
    (tmp_path / "items.yaml").write_text(ITEM, encoding="utf-8")
    monkeypatch.setenv(flows.DIR_ENV, str(tmp_path / "flows"))
    assert catalogue.seed(seeded, clock=clock, path=tmp_path / "items.yaml") == 1
    case = cases.accept(seeded, office["cw"], item_code="winter_relief", region_code=office["township"],
                        members=casekit.family(41), lake_root=None, clock=clock,
                        materials=[cases.MaterialIn("冬春救助申请表", "a.png", casekit.PNG)])
    assert _step(seeded, case).name_zh == "民主评议"
    cases.complete(seeded, office["cw2"], case.acceptance_no, "pass", note="评议通过", clock=clock)
    cases.complete(seeded, office["county_ap"], case.acceptance_no, "pass", amount=800.0, clock=clock)
    assert [s.step_code for s in cases.steps_of(seeded, case)] == ["accept", "village", "approve", "pay"]
    assert seeded.scalar(select(DisbursementOrder.amount).where(DisbursementOrder.case_id == case.id)) == 800.0


def test_a_flow_file_with_a_mistake_is_refused_with_where_and_why(tmp_path):
    (tmp_path / "bad.yaml").write_text(FLOW.replace("office: county, action: approve_assistance",
                                                    "office: district, action: approve_assistance"), encoding="utf-8")
    with pytest.raises(flows.FlowError) as err:
        flows.load(tmp_path)
    assert "bad.yaml" in err.value.message and "approve" in err.value.message and "district" in err.value.message
    (tmp_path / "bad.yaml").write_text(FLOW.replace("kind: approval", "kind: handling"), encoding="utf-8")
    with pytest.raises(flows.FlowError) as err:
        flows.load(tmp_path)
    assert "审批环节" in err.value.message


def test_the_progress_query_needs_the_number_and_a_member_id_and_reveals_nothing_else(seeded, office, clock):
    case = _accept(seeded, office, clock)
    family = casekit.family()
    shown = cases.progress(seeded, case.acceptance_no, family[1].person_id, clock=clock)
    assert [s.name_zh for s in shown.steps] == ["受理", "家庭经济状况核对"] and shown.status_zh == "办理中"
    messages = set()
    for number, person in ((case.acceptance_no, casekit.person_id(99)), ("SL20990101000001", family[0].person_id),
                           (case.acceptance_no, "not-an-id")):
        with pytest.raises(cases.CaseError) as err:
            cases.progress(seeded, number, person, clock=clock)
        messages.add(err.value.message)
    assert len(messages) == 1


def test_tampering_with_an_archived_document_is_detected(seeded, office, clock):
    case = _accept(seeded, office, clock)
    docs = seeded.scalars(select(ArchiveDocument).where(ArchiveDocument.case_id == case.id)
                          .order_by(ArchiveDocument.id)).all()
    first, second, third = docs[0], docs[1], docs[2]
    first.content = first.content.replace(b"1 0 obj", b"2 0 obj")  # the file changed
    forged = casekit.PNG + b"forged"
    second.content, second.sm3, second.size = forged, __import__("verification.signing").signing.sm3(forged), len(forged)
    third.archived_at = third.archived_at.replace(year=2024)  # the record back-dated
    seeded.commit()
    checked = {c.archive_no: c for c in archives.check_all(seeded, case.id)}
    assert "SM3" in checked[first.archive_no].problem_zh
    assert "签名不符" in checked[second.archive_no].problem_zh
    assert "签名不符" in checked[third.archive_no].problem_zh
    assert all(c.intact for no, c in checked.items() if no not in (first.archive_no, second.archive_no,
                                                                      third.archive_no))


def test_an_officer_approving_a_filed_relatives_case_is_flagged_at_once(seeded, office, clock):
    from assistance import relatives
    from jiuzhu.business.models import CaseAlert

    family = casekit.family(61)
    relatives.file_relative(seeded, office["town_ap"], family[1].person_id, "子女", clock=clock)
    case = _accept(seeded, office, clock, item="temporary_urgent", members=family)
    cases.complete(seeded, office["town_ap"], case.acceptance_no, "pass", note="同意", amount=500.0, clock=clock)
    alert = seeded.scalar(select(CaseAlert).where(CaseAlert.rule == "relative_approval"))
    assert alert is not None and alert.case_id == case.id and alert.severity == "high"
    assert family[1].person_id not in alert.message + alert.detail_json


def test_household_changes_are_recorded_with_the_case(seeded, office, clock):
    case = _accept(seeded, office, clock, item="temporary_urgent")
    with pytest.raises(cases.CaseError) as err:
        cases.record_household_change(seeded, office["cw"], case.acceptance_no, "migration", "迁往青羊区",
                                      "2025-13-01", clock=clock)
    assert err.value.code == "DATE_INVALID"
    cases.record_household_change(seeded, office["cw"], case.acceptance_no, "member_change", "新增成员:新生儿",
                                  "2025-03-01", clock=clock)
    cases.complete(seeded, office["town_ap"], case.acceptance_no, "pass", note="同意", amount=500.0, clock=clock)
    changes = cases.household_changes(seeded, case)
    assert [c.kind for c in changes] == ["member_change", "benefit_change"]
    assert "新生儿" in changes[0].detail_json and changes[0].recorded_by == office["cw"].username
