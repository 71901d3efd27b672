"""Benefit mechanics in the business flow (issue #15), on SQLite and PostgreSQL: the computed proposal,
the approval with its breakdown on the approval record, the benefit and every disbursement order;
manual amounts; a new standard changing future months only (and its impact listed beforehand); the
gradual exit after a re-verification; tekun and single-person terms; back pay riding on an order.

The family (casekit.family, 锦江区, urban): head born 1980, spouse 1982, a child born 2012 — a minor,
10 % add-on. Chengdu's 2025 urban dibao standard is 985 (synthetic row of standards.csv)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from assistance import adjustments, benefits, cases, entitlement, funds
from jiuzhu import policy
from jiuzhu.business.models import (
    ArchiveDocument,
    Benefit,
    BenefitAdjustment,
    DisbursementOrder,
    HouseholdChange,
    VerificationRequest,
)
from tests.business import casekit

# the demo signing key (archives, reports); `seeded`: a session with the catalogue (conftest)
pytestmark = pytest.mark.usefixtures("demo_key")


@pytest.fixture
def office(seeded, clock):
    return casekit.staff(seeded, clock)


def _result(case, *, income=1500.0, members=None, **flags):
    profile = {"period": "2025-02", "county_code": case.region_code[:6], "area_type": "urban",
               "counted_income_yuan": income, "wage_yuan": income, "business_yuan": 0, "pension_yuan": 0,
               "unemployment_benefit_yuan": 0, "assessment": "符合", **flags}
    return json.dumps({"profile": profile, "reasons": [], "table_versions": {"persons": 3}, "members": members or []})


def _to_approval(session, office, clock, *, item="dibao_urban", family=None, **result):
    case = cases.accept(session, office["cw"], item_code=item, region_code=office["township"],
                        members=family or casekit.family(), materials=casekit.materials(item, session, office["township"]),
                        household_no="H-BEN-1", lake_root=None, clock=clock)
    session.execute(update(VerificationRequest).where(VerificationRequest.request_no == case.verification_request_no)
                    .values(status="reviewed", assessment="符合", verified_by="vo", reviewed_by="vo2",
                            result_json=_result(case, **result)))
    session.commit()
    clock.advance(days=1)
    cases.sweep(session, clock=clock)
    cases.complete(session, office["town_ap"], case.acceptance_no, "pass", note="入户调查属实", clock=clock)
    session.refresh(case)
    return case


def _granted(session, office, clock, **kw):
    case = _to_approval(session, office, clock)
    cases.complete(session, office["county_ap"], case.acceptance_no, "pass", note="同意", clock=clock, **kw)
    clock.advance(days=9)
    cases.sweep(session, clock=clock)
    return case, session.scalar(select(Benefit).where(Benefit.case_id == case.id))


def _lines(breakdown_json):
    return [(ln["code"], Decimal(ln["amount"])) for ln in json.loads(breakdown_json)["lines"]]


def _adds_up(breakdown_json, amount):
    b = json.loads(breakdown_json)
    assert sum(Decimal(ln["amount"]) for ln in b["lines"]) == Decimal(b["amount"]) == Decimal(str(amount))


def test_the_breakdown_travels_from_proposal_to_approval_record_benefit_and_order(seeded, office, clock):
    case = _to_approval(seeded, office, clock)
    # 985 × 3 − 1,500 = 1,455, + the child's add-on 98.50
    assert case.proposed_amount == 1553.5
    assert _lines(case.proposed_breakdown_json) == [("base", Decimal("1455.00")), ("addon", Decimal("98.50"))]
    cases.complete(seeded, office["county_ap"], case.acceptance_no, "pass", note="同意", clock=clock)
    record = seeded.scalars(select(ArchiveDocument).where(ArchiveDocument.case_id == case.id,
                                                          ArchiveDocument.title == "县级审批意见")).one()
    text = json.loads(record.content)["金额计算"]
    assert any("低保补差:1,455.00 元" in t for t in text) and any("分类施保·未成年人:98.50 元" in t for t in text)
    clock.advance(days=9)
    cases.sweep(seeded, clock=clock)
    benefit = seeded.scalar(select(Benefit).where(Benefit.case_id == case.id))
    order = seeded.scalar(select(DisbursementOrder).where(DisbursementOrder.benefit_id == benefit.id))
    assert (benefit.rule_kind, benefit.monthly_amount, order.amount) == ("dibao", 1553.5, 1553.5)
    _adds_up(order.breakdown_json, order.amount)
    assert json.loads(order.breakdown_json)["period"] == order.period


def test_a_different_amount_needs_a_reason_and_stays_a_line_of_every_month(seeded, office, clock):
    case = _to_approval(seeded, office, clock)
    with pytest.raises(cases.CaseError) as err:
        cases.complete(seeded, office["county_ap"], case.acceptance_no, "pass", amount=1500.0, clock=clock)
    assert err.value.code == "NOTE_REQUIRED" and "1553.50" in err.value.message
    cases.complete(seeded, office["county_ap"], case.acceptance_no, "pass", amount=1500.0,
                   note="子女助学金另行计入", clock=clock)
    clock.advance(days=9)
    cases.sweep(seeded, clock=clock)
    benefit = seeded.scalar(select(Benefit).where(Benefit.case_id == case.id))
    funds.generate_month(seeded, "2025-04", clock=clock)
    april = seeded.scalar(select(DisbursementOrder).where(DisbursementOrder.benefit_id == benefit.id,
                                                          DisbursementOrder.period == "2025-04"))
    assert april.amount == 1500.0 and ("manual", Decimal("-53.50")) in _lines(april.breakdown_json)
    _adds_up(april.breakdown_json, 1500.0)


def test_a_new_standard_changes_future_months_only_and_its_impact_is_listed(seeded, office, clock, monkeypatch):
    case, benefit = _granted(seeded, office, clock)
    march = seeded.scalar(select(DisbursementOrder).where(DisbursementOrder.benefit_id == benefit.id))
    assert march.period == "2025-03"
    original = policy.standard

    def raised(county6, area, item, on):  # 锦江 raises its dibao standard to 1,100 from 15 May 2025
        if county6 == "510104" and item == "dibao" and on >= date(2025, 5, 15):
            return policy.Standard("510104", area, item, date(2025, 5, 15), date(2099, 12, 31), 1100, "synthetic", "测试")
        return original(county6, area, item, on)

    monkeypatch.setattr(policy, "standard", raised)
    county = office["township"][:6] + "000000"
    assert benefits.policy_impact(seeded, office["fin"], "2025-04", county, clock=clock) == []
    (may,) = benefits.policy_impact(seeded, office["fin"], "2025-05", county, clock=clock)
    # May by days: (985 × 14 + 1,100 × 17) / 31 = 1,048.064516…; × 3 − 1,500 = 1,644.19…, + the 10 % add-on
    # 104.81… = 1,749.00 (rounded once)
    assert (may.acceptance_no, may.current, may.new, may.difference) == (case.acceptance_no, 1553.5, 1749.0, 195.5)
    (june,) = benefits.policy_impact(seeded, office["fin"], "2025-06", county, clock=clock)
    assert june.new == 1910.0  # 1,100 × 3 − 1,500 + 110
    for period in ("2025-04", "2025-05", "2025-06"):
        funds.generate_month(seeded, period, clock=clock)
    amounts = dict(seeded.execute(select(DisbursementOrder.period, DisbursementOrder.amount)
                                  .where(DisbursementOrder.benefit_id == benefit.id)).all())
    assert amounts == {"2025-03": 1553.5, "2025-04": 1553.5, "2025-05": 1749.0, "2025-06": 1910.0}
    seeded.refresh(march)
    assert march.amount == 1553.5  # a month already ordered never changes
    changes = seeded.scalars(select(HouseholdChange).where(HouseholdChange.household_no == "H-BEN-1",
                                                           HouseholdChange.kind == "benefit_change")).all()
    adjusted = [json.loads(c.detail_json) for c in changes if "待遇金额调整" in c.detail_json]
    assert [(d["月份"], d["新金额(元/月)"]) for d in adjusted] == [("2025-05", 1749.0), ("2025-06", 1910.0)]


def test_income_above_the_standard_after_re_verification_runs_the_gradual_exit(seeded, office, clock):
    case, benefit = _granted(seeded, office, clock)
    benefits.reassess(seeded, office["county_ap"], benefit.id, _result(case, income=4000.0), clock=clock)
    months = ["2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09", "2025-10"]
    left = []
    for period in months:
        funds.generate_month(seeded, period, clock=clock)
        seeded.refresh(benefit)
        left.append(benefit.exit_months_left)
    orders = dict(seeded.execute(select(DisbursementOrder.period, DisbursementOrder.amount)
                                 .where(DisbursementOrder.benefit_id == benefit.id)).all())
    # six exit months (the provincial rule) at the last amount, then no order and the benefit ends
    assert orders == {"2025-03": 1553.5, **dict.fromkeys(months[:6], 1553.5)}
    assert left == [5, 4, 3, 2, 1, 0, None]
    assert (benefit.status, benefit.end_period) == ("ended", "2025-10") and "渐退期已满" in benefit.end_reason


def test_tekun_waits_for_the_self_care_assessment(seeded, office, clock):
    family = [casekit.family()[0]]
    case = _to_approval(seeded, office, clock, item="tekun", family=family, income=0.0)
    assert case.proposed_amount is None
    with pytest.raises(cases.CaseError) as err:
        cases.complete(seeded, office["county_ap"], case.acceptance_no, "pass", note="同意", clock=clock)
    assert err.value.code == "SELF_CARE_MISSING"
    with pytest.raises(cases.CaseError) as err:
        cases.set_benefit_terms(seeded, office["county_ap"], case.acceptance_no, benefits.Terms("single_person"),
                                clock=clock)
    assert err.value.code == "RULE_KIND"
    terms = benefits.Terms("tekun", tekun_mode="dispersed", self_care={family[0].person_id: "partial"})
    case = cases.set_benefit_terms(seeded, office["county_ap"], case.acceptance_no, terms, clock=clock)
    assert case.proposed_amount == 1680.0  # 成都 2025 tekun basic living 1,280 + partial care 400
    cases.complete(seeded, office["county_ap"], case.acceptance_no, "pass", note="同意", clock=clock)
    assert case.approved_amount == 1680.0


def test_single_person_coverage_chosen_by_the_approver(seeded, office, clock):
    family = casekit.family()
    disabled = family[2].person_id
    members = [{"person_id": disabled, "birth_date": "2012-03-03", "disability_grade": 1, "disability_kind": "肢体残疾"}]
    # per capita 3,300 / 3 = 1,100: above 985, below 1.5 × 985 → a margin family
    case = _to_approval(seeded, office, clock, income=3300.0, members=members)
    assert case.proposed_amount == 0.0  # as a whole household nothing is due, and the proposal says why
    assert json.loads(case.proposed_breakdown_json)["status"] == "ineligible"
    terms = benefits.Terms("single_person", covered=(disabled,))
    case = cases.set_benefit_terms(seeded, office["county_ap"], case.acceptance_no, terms, clock=clock)
    assert case.proposed_amount == 1182.0  # the child alone: 985 + 20 % severe-disability add-on (the highest)
    assert _lines(case.proposed_breakdown_json) == [("single", Decimal("985.00")), ("addon", Decimal("197.00"))]


def test_confirmed_back_pay_rides_on_the_next_order(seeded, office, clock):
    case, benefit = _granted(seeded, office, clock)
    march = seeded.scalar(select(DisbursementOrder).where(DisbursementOrder.benefit_id == benefit.id))
    correct = benefits.compute(json.loads(benefit.facts_json), "2025-03")
    correct.amount += 100
    item = BenefitAdjustment(benefit_id=benefit.id, case_id=case.id, order_id=march.id, region_code=benefit.region_code,
                             period="2025-03", kind="back_pay", paid_amount=1553.5, correct_amount=1653.5,
                             difference=100.0, reasons_json=json.dumps(["测试"]), breakdown_json=json.dumps(
                                 correct.to_dict()), table_versions_json="{}", status="pending_review",
                             detected_at=clock(), updated_at=clock())
    seeded.add(item)
    seeded.commit()
    with pytest.raises(adjustments.AdjustmentError):
        adjustments.review(seeded, office["county_ap"], item.id, "confirm", "", clock=clock)
    adjustments.review(seeded, office["county_ap"], item.id, "confirm", "核实属实,予以补发", clock=clock)
    with pytest.raises(adjustments.AdjustmentError) as err:
        adjustments.review(seeded, office["county_ap"], item.id, "dismiss", "重复", clock=clock)
    assert err.value.code == "ALREADY_REVIEWED"
    funds.generate_month(seeded, "2025-04", clock=clock)
    april = seeded.scalar(select(DisbursementOrder).where(DisbursementOrder.benefit_id == benefit.id,
                                                          DisbursementOrder.period == "2025-04"))
    assert april.amount == 1653.5 and ("back_pay", Decimal("100.00")) in _lines(april.breakdown_json)
    _adds_up(april.breakdown_json, april.amount)
    funds.generate_month(seeded, "2025-05", clock=clock)  # paid once only
    may = seeded.scalar(select(DisbursementOrder).where(DisbursementOrder.benefit_id == benefit.id,
                                                        DisbursementOrder.period == "2025-05"))
    assert may.amount == 1553.5


def test_later_evidence_adds_only_what_the_verification_did_not_know():
    facts = {"rule_kind": "dibao", "members": [{"person_id": "A", "relation": "02", "birth_date": "1980-01-01"},
                                               {"person_id": "B", "relation": "10", "birth_date": "1982-01-01"}],
             "places": [{"county_code": "510104", "area_type": "urban", "since": "1900-01-01"}],
             "counted_income_yuan": "1500", "other_grounds_fail": [],
             "basis": {"fails": ["fails_deposits"], "income": {"wage_yuan": 1500.0, "pension_yuan": 0.0}}}
    same, reasons = adjustments.later_evidence(facts, {"wage_yuan": 1900.0, "fails_deposits": 1}, [])
    assert reasons == [] and same == facts  # wages vary, deposits were known: nothing new
    row = {"wage_yuan": 1500.0, "pension_yuan": 800.0, "fails_vehicle": 1}
    changed, reasons = adjustments.later_evidence(facts, row, [{"person_id": "B", "died_on": "2025-04-02"}])
    assert changed["other_grounds_fail"] == [benefits.GROUNDS_ZH["fails_vehicle"]]
    assert changed["counted_income_yuan"] == "2300.0" and changed["members"][1]["died_on"] == "2025-04-02"
    assert len(reasons) == 3 and facts["members"][1].get("died_on") is None  # the facts themselves are untouched
    assert entitlement.STATUS_ZH  # the statuses the screens print exist


def test_no_computation_for_items_whose_amount_the_approver_sets(seeded, office, clock):
    case = cases.accept(seeded, office["cw"], item_code="temporary", region_code=office["township"],
                        members=casekit.family(), materials=casekit.materials("temporary", seeded, office["township"]),
                        household_no="H-BEN-2", lake_root=None, clock=clock)
    assert case.benefit_facts_json is None
    with pytest.raises(cases.CaseError) as err:
        cases.set_benefit_terms(seeded, office["town_ap"], case.acceptance_no, benefits.Terms(), clock=clock)
    assert err.value.code in ("NOT_COMPUTED", "STEP_WRONG")


def test_a_benefit_set_by_hand_keeps_its_amount(seeded, clock):
    benefit = Benefit(case_id=1, aid_item_code="dibao_urban", category="dibao", holder_person_id="X",
                      holder_name="x", region_code="510104001000", household_size=1, monthly_amount=321.0,
                      start_period="2025-01", status="active", created_at=datetime(2025, 1, 1, tzinfo=UTC),
                      updated_at=datetime(2025, 1, 1, tzinfo=UTC))
    month = benefits.month_amount(benefit, "2025-02")
    assert (month.amount, month.breakdown, month.changed) == (321.0, None, False)


def test_the_statistics_count_the_orders_and_what_their_amounts_are_made_of(seeded, office, clock):
    case, benefit = _granted(seeded, office, clock)
    funds.generate_month(seeded, "2025-04", clock=clock)
    seeded.execute(update(DisbursementOrder).where(DisbursementOrder.period == "2025-03").values(status="paid"))
    seeded.commit()
    rows = {r["period"]: r for r in benefits.statistics_table(seeded).to_pylist()}
    assert sorted(rows) == ["2025-03", "2025-04"]
    march = rows["2025-03"]
    assert (march["county_code"], march["aid_category"], march["rule_kind"]) == ("510104", "dibao", "dibao")
    assert (march["households"], march["persons"], march["ordered_yuan"], march["paid_yuan"]) == (1, 3, 1553.5, 1553.5)
    assert (march["base_yuan"], march["addon_yuan"]) == (1455.0, 98.5) and rows["2025-04"]["paid_yuan"] == 0.0
    text = repr(rows)
    assert all(m.person_id not in text for m in casekit.family()) and "H-BEN-1" not in text


def test_the_printed_order_shows_the_breakdown_and_the_amount_in_capitals(seeded, office, clock, tmp_path):
    import subprocess

    from assistance import payments
    from jiuzhu import access

    case, benefit = _granted(seeded, office, clock)
    order = seeded.scalar(select(DisbursementOrder).where(DisbursementOrder.benefit_id == benefit.id))
    with pytest.raises(access.AccessDenied):
        payments.order_form_pdf(seeded, office["cw"], order.order_no, clock=clock)
    name, pdf = payments.order_form_pdf(seeded, office["fin"], order.order_no, clock=clock)
    assert name == f"资金拨付单_{order.order_no}.pdf" and pdf.startswith(b"%PDF")
    (tmp_path / name).write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / name), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "社会救助资金拨付单" in text and order.order_no in text and case.acceptance_no in text
    assert "壹仟伍佰伍拾叁元伍角整" in text and "低保补差" in text and "1,455.00" in text and "分类施保·未成年人" in text
    assert order.account_no not in text  # the account masked to its last four digits


def test_a_recorded_move_takes_the_new_countys_standard_from_the_month_after(seeded, office, clock):
    from jiuzhu import regions

    case, benefit = _granted(seeded, office, clock)
    town = sorted(r.code for r in regions.load().children("510802000000"))[0]  # 广元市利州区
    with pytest.raises(cases.CaseError) as err:
        cases.record_household_change(seeded, office["cw"], case.acceptance_no, "migration", "迁往广元", "2025-04-10",
                                      new_region_code="510802", clock=clock)
    assert err.value.code == "REGION_INVALID"
    cases.record_household_change(seeded, office["cw"], case.acceptance_no, "migration", "迁往广元", "2025-04-10",
                                  new_region_code=town, clock=clock)
    for period in ("2025-04", "2025-05"):
        funds.generate_month(seeded, period, clock=clock)
    amounts = dict(seeded.execute(select(DisbursementOrder.period, DisbursementOrder.amount)
                                  .where(DisbursementOrder.benefit_id == benefit.id)).all())
    guangyuan = Decimal(policy.standard("510802", "urban", "dibao", date(2025, 5, 1)).amount_yuan)
    assert guangyuan != 985
    assert amounts["2025-04"] == 1553.5  # the month of the move: still 锦江's standard
    assert Decimal(str(amounts["2025-05"])) == (guangyuan * 3 - 1500 + guangyuan / 10).quantize(Decimal("0.01"))
    seeded.refresh(benefit)
    assert json.loads(benefit.breakdown_json)["place"]["county_code"] == "510802"
