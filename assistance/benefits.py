"""救助待遇 (issue #15): the facts and terms a monthly benefit is computed on, month after month.

A dibao or tekun case's amount is not typed in: the verification's result (the marts' assessment of
the household and what the data says about each member) and the approver's terms (整户 / 单人保 and
the covered member, 分散 / 集中供养, each tekun person's self-care ability) are turned into *facts*,
stored with the case and then with the benefit; :mod:`assistance.entitlement` computes each month's
amount from them with the policy in force that month. So:

- the proposal the approver sees, the approved amount, the benefit and every disbursement order carry
  a breakdown (standard, members counted, counted income, add-ons, exit months);
- each month's order is recomputed: a new standard from a date changes the months from that date on
  and never a month already ordered (:func:`policy_impact` says beforehand which households change and
  by how much);
- a new verification of the household (:func:`reassess`) replaces the facts from the next order on —
  income risen above the standard starts the gradual exit, whose months left the benefit shows;
- an approver who decides an amount other than the computed one records it as a manual line with the
  reason, kept on every later month's breakdown.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistance import entitlement
from jiuzhu import access, audit, ids, masking
from jiuzhu.business.models import AssistanceCase, Benefit, CaseMember
from jiuzhu.errors import CodedError

# the case categories whose monthly amount the rules compute, and the rule each starts with
COMPUTED = {"dibao": "dibao", "tekun": "tekun"}
# the hard grounds of the assessment other than income (household_profile's flags)
GROUNDS_ZH = {"fails_deposits": "存款等金融资产超过限额(银行)", "fails_homes": "住房超过限额(不动产登记)",
              "fails_vehicle": "机动车价值超过限额(车辆登记)", "fails_company": "家庭成员办有企业(市场监管)",
              "fails_payroll": "家庭成员为财政供养人员(人社)"}
INCOME_KINDS_ZH = {"wage_yuan": "工资性收入(人社、税务)", "business_yuan": "经营净收入(税务、市场监管)",
                   "pension_yuan": "养老金(人社)", "unemployment_benefit_yuan": "失业保险金(人社)"}


class BenefitError(CodedError):
    """A benefit computation that cannot be done as asked, with a Chinese message."""


@dataclass(frozen=True)
class Terms:
    """What the approver decides about how the amount is computed."""

    rule_kind: str = "dibao"  # dibao | single_person | tekun
    covered: tuple[str, ...] = ()  # single_person: the one member; tekun: the supported members (all when empty)
    tekun_mode: str = "dispersed"
    self_care: dict[str, str] = field(default_factory=dict)  # tekun: person_id → full | partial | none

    def to_dict(self) -> dict:
        return {"rule_kind": self.rule_kind, "covered": list(self.covered), "tekun_mode": self.tekun_mode,
                "self_care": dict(self.self_care)}

    @classmethod
    def from_dict(cls, d: dict | None) -> Terms:
        d = d or {}
        return cls(d.get("rule_kind", "dibao"), tuple(d.get("covered") or ()), d.get("tekun_mode", "dispersed"),
                   dict(d.get("self_care") or {}))


def terms_of(facts: dict) -> Terms:
    """The approver's terms a benefit's facts were made with."""
    return Terms(facts["rule_kind"], tuple(facts.get("covered") or ()), facts.get("tekun_mode", "dispersed"),
                 {m["person_id"]: m["self_care"] for m in facts["members"] if m.get("self_care")})


def _member_rows(stored: dict, members: list[CaseMember]) -> list[dict]:
    """The members the case names, with what the verification's data said about each (an older
    result without member facts: the birth date from the ID number, nothing else known)."""
    known = {m["person_id"]: m for m in stored.get("members") or []}
    rows = []
    for m in members:
        fact = known.get(m.person_id) or {"birth_date": ids.parse(m.person_id).birth_date.isoformat()}
        rows.append({"person_id": m.person_id, "relation": m.relation, "birth_date": fact.get("birth_date"),
                     "died_on": fact.get("died_on"), "disability_grade": fact.get("disability_grade"),
                     "disability_kind": fact.get("disability_kind"),
                     "serious_illness": bool(fact.get("serious_illness")), "own_income_yuan": "0"})
    return rows


def facts_from_result(result_json: str | None, members: list[CaseMember], terms: Terms) -> dict:
    """The facts of a benefit from a verification result (``VerificationRequest.result_json``)."""
    stored = json.loads(result_json or "{}")
    profile = stored.get("profile") or {}
    if not profile:
        raise BenefitError("RESULT_MISSING", "核对申请没有核对结果,无法计算救助金额")
    rows = _member_rows(stored, members)
    for row in rows:
        if row["person_id"] in terms.self_care:
            row["self_care"] = terms.self_care[row["person_id"]]
    return {
        "rule_kind": terms.rule_kind, "covered": list(terms.covered), "tekun_mode": terms.tekun_mode,
        "members": rows,
        "places": [{"county_code": str(profile["county_code"])[:6], "area_type": profile["area_type"],
                    "since": "1900-01-01"}],
        "counted_income_yuan": str(profile.get("counted_income_yuan") or 0),
        "other_grounds_fail": [zh for flag, zh in GROUNDS_ZH.items() if profile.get(flag)],
        # what the verification saw: recovery compares later data with it
        "basis": {"period": profile.get("period"), "table_versions": stored.get("table_versions") or {},
                  "fails": sorted(flag for flag in GROUNDS_ZH if profile.get(flag)),
                  "income": {k: float(profile.get(k) or 0) for k in INCOME_KINDS_ZH}},
        "manual": None,
    }


def household_month(facts: dict, period: str) -> entitlement.HouseholdMonth:
    def day(value):
        return _dt.date.fromisoformat(value) if value else None

    people = tuple(entitlement.Person(
        m["person_id"], day(m["birth_date"]), m.get("relation") or "99", day(m.get("died_on")),
        bool(m.get("serious_illness")), m.get("disability_grade"), m.get("disability_kind"),
        Decimal(str(m.get("own_income_yuan") or 0)), m.get("self_care")) for m in facts["members"])
    places = tuple(entitlement.Place(p["county_code"], p["area_type"], day(p["since"])) for p in facts["places"])
    return entitlement.HouseholdMonth(period, facts["rule_kind"], people, places,
                                      Decimal(str(facts["counted_income_yuan"])),
                                      tuple(facts.get("other_grounds_fail") or ()), tuple(facts.get("covered") or ()),
                                      facts.get("tekun_mode", "dispersed"))


def compute(facts: dict, period: str, previous: dict | None = None, *, rule_sets: tuple[dict, ...] | None = None,
            standard_of: entitlement.StandardOf | None = None) -> entitlement.Breakdown:
    """The month's breakdown from the facts (with the approver's manual line, where one was decided)."""
    before = entitlement.Breakdown.from_dict(previous) if previous else None
    try:
        out = entitlement.compute(household_month(facts, period), previous=before, rule_sets=rule_sets,
                                  standard_of=standard_of)
    except entitlement.RuleError as exc:
        raise BenefitError(exc.code, exc.message_zh) from exc
    manual = facts.get("manual")
    if manual and manual.get("whole"):  # decided against the rules: the approver's amount is the month's
        out.status, out.exit, out.amount = "paid", None, Decimal(manual["amount"])
        out.notes_zh += [ln.label_zh + ":" + str(ln.amount) for ln in out.lines]
        out.lines = [entitlement.Line("manual", "审批人工核定", out.amount, None, manual["note"])]
    elif manual and out.status in ("paid", "exit"):
        amount = Decimal(manual["amount"])
        out.lines.append(entitlement.Line("manual", "审批人工核定", amount, None, manual["note"]))
        out.amount += amount
    return out


def propose(session: Session, case: AssistanceCase, result_json: str | None, period: str,
            terms: Terms | None = None) -> None:
    """The proposal after verification (or after the approver changed the terms): facts, breakdown
    and amount on the case. A tekun case waits for the self-care assessment before an amount exists."""
    if case.category not in COMPUTED or not result_json:
        return
    terms = terms or (terms_of(json.loads(case.benefit_facts_json)) if case.benefit_facts_json else
                      Terms(COMPUTED[case.category]))
    members = list(session.scalars(select(CaseMember).where(CaseMember.case_id == case.id).order_by(CaseMember.id)))
    facts = facts_from_result(result_json, members, terms)
    case.benefit_facts_json = json.dumps(facts, ensure_ascii=False)
    try:
        breakdown = compute(facts, period)
    except BenefitError:
        case.proposed_amount, case.proposed_breakdown_json = None, None
        return
    case.proposed_amount = float(breakdown.amount)
    case.proposed_breakdown_json = json.dumps(breakdown.to_dict(), ensure_ascii=False)


@dataclass(frozen=True)
class Approval:
    amount: float
    facts_json: str | None
    breakdown_json: str | None


def approve(case: AssistanceCase, amount: float | None, note: str, period: str) -> Approval:
    """The approved amount: the computed one, or the approver's with the difference recorded as a
    manual line (the reason is required). Nothing is written: the caller stores it once authorised."""
    if case.category not in COMPUTED or not case.benefit_facts_json:
        if amount is None or amount < 0:
            raise BenefitError("AMOUNT_REQUIRED", "审批通过须确定救助金额(元/月,不得为负)")
        return Approval(round(float(amount), 2), case.benefit_facts_json, None)
    if amount is not None and amount < 0:
        raise BenefitError("AMOUNT_REQUIRED", "审批通过须确定救助金额(元/月,不得为负)")
    facts = {**json.loads(case.benefit_facts_json), "manual": None}
    computed = compute(facts, period)
    entitled = computed.status in ("paid", "exit")
    if not entitled and amount is None:
        raise BenefitError("NOT_ENTITLED", "按待遇计算规则本月金额为0:" + ";".join(computed.notes_zh))
    decided = Decimal(str(round(amount, 2))) if amount is not None else computed.amount
    if decided != computed.amount or not entitled:
        if not note.strip():
            raise BenefitError("NOTE_REQUIRED", f"审批金额与按规则计算的{computed.amount}元不同,须写明理由")
        if entitled:
            facts["manual"] = {"amount": str(decided - computed.amount), "note": note.strip()}
        else:  # the rules pay nothing this month: the whole amount is the approver's decision
            facts["manual"] = {"amount": str(decided), "note": note.strip(), "whole": True}
        computed = compute(facts, period)
    return Approval(float(computed.amount), json.dumps(facts, ensure_ascii=False),
                    json.dumps(computed.to_dict(), ensure_ascii=False))


def grant(benefit: Benefit, case: AssistanceCase) -> None:
    """A new benefit takes the case's facts and approved breakdown."""
    if case.benefit_facts_json and case.proposed_breakdown_json:
        benefit.rule_kind = json.loads(case.benefit_facts_json)["rule_kind"]
        benefit.facts_json = case.benefit_facts_json
        benefit.breakdown_json = case.proposed_breakdown_json


@dataclass(frozen=True)
class MonthAmount:
    amount: float
    breakdown: entitlement.Breakdown | None
    changed: bool  # the amount differs from the benefit's last month


def month_amount(benefit: Benefit, period: str, *, rule_sets: tuple[dict, ...] | None = None,
                 standard_of: entitlement.StandardOf | None = None, reuse_stored: bool = True) -> MonthAmount:
    """The amount of ``benefit`` for ``period``: recomputed from its facts with the policy of that
    month (or the ``rule_sets``/``standard_of`` given), chained on the last month's breakdown; a
    benefit set by hand keeps its amount. The month already stored (the approval's own) is reused
    unless ``reuse_stored`` is False (a policy being tried recomputes it too)."""
    if not benefit.facts_json:
        return MonthAmount(benefit.monthly_amount, None, False)
    last = json.loads(benefit.breakdown_json) if benefit.breakdown_json else None
    if last and last["period"] == period and reuse_stored:
        out = entitlement.Breakdown.from_dict(last)
    else:
        out = compute(json.loads(benefit.facts_json), period, last if last and last["period"] < period else None,
                      rule_sets=rule_sets, standard_of=standard_of)
    return MonthAmount(float(out.amount), out, float(out.amount) != benefit.monthly_amount)


def record_month(benefit: Benefit, month: MonthAmount, now: _dt.datetime) -> None:
    """The month's breakdown becomes the benefit's latest; the exit months left follow it."""
    if month.breakdown is None:
        return
    benefit.breakdown_json = json.dumps(month.breakdown.to_dict(), ensure_ascii=False)
    benefit.monthly_amount = month.amount
    benefit.exit_months_left = month.breakdown.exit["months_left"] if month.breakdown.exit else None
    benefit.updated_at = now


@dataclass(frozen=True)
class Impact:
    benefit_id: int
    acceptance_no: str
    region_code: str
    household_no: str | None
    current: float
    new: float
    difference: float
    lines_zh: list[str]


def policy_impact(session: Session, user: access.Principal, period: str, region_code: str, *,
                  rule_sets: tuple[dict, ...] | None = None, standard_of: entitlement.StandardOf | None = None,
                  clock: audit.Clock = audit.utc_now) -> list[Impact]:
    """Which active benefits in ``region_code`` change in ``period`` under the policy then in force
    (or the ``rule_sets``/``standard_of`` given, to try a change before it is published), and by how
    much. Nothing is written but the audit entry: the change applies when the month's orders are made."""
    access.authorize_and_audit(session, user, "manage_funds", region_code, None, purpose=f"测算{period}待遇调整影响",
                               detail={"period": period}, clock=clock)
    out = []
    benefits = session.scalars(select(Benefit).where(Benefit.status == "active", Benefit.facts_json.is_not(None),
                                                     Benefit.region_code.startswith(region_code.rstrip("0")))
                               .order_by(Benefit.id))
    for b in benefits:
        month = month_amount(b, period, rule_sets=rule_sets, standard_of=standard_of, reuse_stored=False)
        if month.changed:
            case = session.get(AssistanceCase, b.case_id)
            out.append(Impact(b.id, case.acceptance_no, b.region_code, b.household_no, b.monthly_amount,
                              month.amount, round(month.amount - b.monthly_amount, 2), month.breakdown.text_zh()))
    session.commit()
    return out


def reassess(session: Session, user: access.Principal, benefit_id: int, result_json: str, *,
             clock: audit.Clock = audit.utc_now) -> Benefit:
    """A new verification of the household (动态复核) replaces the benefit's facts from the next order
    on (the terms and any manual line stay): income above the standard then starts the gradual exit."""
    benefit = session.get(Benefit, benefit_id)
    if benefit is None or benefit.status != "active" or not benefit.facts_json:
        raise BenefitError("BENEFIT_NOT_COMPUTED", "只有按规则计算金额的在保待遇才能按新的核对结果重新计算")
    access.authorize_and_audit(session, user, "approve_assistance", benefit.region_code,
                               masking.pseudonym(benefit.holder_person_id), purpose="按复核结果重新计算救助待遇",
                               detail={"benefit_id": benefit.id}, clock=clock)
    old = json.loads(benefit.facts_json)
    members = list(session.scalars(select(CaseMember).where(CaseMember.case_id == benefit.case_id)
                                   .order_by(CaseMember.id)))
    facts = facts_from_result(result_json, members, terms_of(old))
    facts["manual"] = old.get("manual")
    benefit.facts_json = json.dumps(facts, ensure_ascii=False)
    benefit.updated_at = clock()
    session.commit()
    return benefit


# 救助待遇发放统计: what the platform's orders paid, by month, county, aid category and rule, with the
# parts the amounts are made of (the breakdown lines) — the monthly statistics of these amounts
STATISTICS_PARTS = {"base": "base_yuan", "addon": "addon_yuan", "single": "single_person_yuan",
                    "tekun_basic": "tekun_basic_yuan", "tekun_care": "tekun_care_yuan", "minimum": "minimum_yuan",
                    "exit": "exit_yuan", "manual": "manual_yuan", "correction": "correction_yuan",
                    "back_pay": "back_pay_yuan", "rounding": "rounding_yuan"}


def statistics_table(session: Session):
    """One row per month × county × aid category × rule (dibao, single_person, tekun, or manual for
    amounts set by hand): households and persons ordered, amounts ordered and paid, and the sum of
    each kind of breakdown line. No names, IDs or household numbers."""
    import pyarrow as pa  # noqa: PLC0415

    from jiuzhu.business.models import DisbursementOrder  # noqa: PLC0415

    held = {b.id: b for b in session.scalars(select(Benefit))}
    groups: dict[tuple, dict] = {}
    for order in session.scalars(select(DisbursementOrder).order_by(DisbursementOrder.id)):
        benefit = held.get(order.benefit_id)
        if benefit is None:
            continue
        key = (order.period, order.region_code[:6], benefit.category, benefit.rule_kind or "manual")
        g = groups.setdefault(key, {"benefits": set(), "persons": 0, "exit": 0, "ordered": Decimal(0),
                                    "paid": Decimal(0), **{col: Decimal(0) for col in STATISTICS_PARTS.values()}})
        if benefit.id not in g["benefits"]:
            g["benefits"].add(benefit.id)
            g["persons"] += benefit.household_size
        amount = Decimal(str(order.amount))
        g["ordered"] += amount
        if order.status == "paid":
            g["paid"] += amount
        if order.breakdown_json:
            breakdown = json.loads(order.breakdown_json)
            g["exit"] += breakdown["status"] == "exit"
            for line in breakdown["lines"]:
                column = STATISTICS_PARTS.get(line["code"])
                if column:
                    g[column] += Decimal(line["amount"])
    rows = [{"period": period, "county_code": county, "prefecture_code": county[:4] + "00", "aid_category": category,
             "rule_kind": rule, "households": len(g["benefits"]), "persons": g["persons"],
             "exit_households": g["exit"], "ordered_yuan": float(g["ordered"]), "paid_yuan": float(g["paid"]),
             **{col: float(g[col]) for col in STATISTICS_PARTS.values()}}
            for (period, county, category, rule), g in sorted(groups.items())]
    schema = pa.schema([("period", pa.string()), ("county_code", pa.string()), ("prefecture_code", pa.string()),
                        ("aid_category", pa.string()), ("rule_kind", pa.string()), ("households", pa.int64()),
                        ("persons", pa.int64()), ("exit_households", pa.int64()), ("ordered_yuan", pa.float64()),
                        ("paid_yuan", pa.float64()), *[(c, pa.float64()) for c in STATISTICS_PARTS.values()]])
    return pa.Table.from_pylist(rows, schema=schema)
