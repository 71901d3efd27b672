"""后补追缴 (issue #15 item 6): months paid wrongly, found when later deliveries change what was known.

:func:`scan` re-assesses every household with a computed benefit on the data as it stands now (the
on-demand assessment: the marts' one definition, every table at its newest version) and, for each
month paid, applies to the benefit's facts only what the later data *adds* to what the verification
knew — the decision must not be re-litigated on income that merely varies from month to month:

- a hard ground the verification did not see failed (a vehicle, a home, deposits, a company, public
  payroll) → that month pays nothing;
- a member's death the facts did not hold → the member is not counted from that month;
- a kind of income the verification found none of (wages, business, pension, unemployment benefit)
  → that month's amount of it is counted.

The month is then recomputed with the rules (chained on what was paid the month before) and, where
the amount differs from the order's, a recovery (追缴, overpaid) or back-pay (补发, underpaid) item is
raised for review, naming what changed and which department's data showed it. A confirmed back pay
rides on the benefit's next order as its own line; a confirmed recovery is archived as a notice to
the household (repayment itself is outside the platform). Re-running the scan changes nothing.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistance import archives, benefits, entitlement
from jiuzhu import access, audit, masking
from jiuzhu.business.models import AssistanceCase, Benefit, BenefitAdjustment, CaseMember, DisbursementOrder
from jiuzhu.errors import CodedError
from verification import ondemand

KIND_ZH = {"recovery": "追缴", "back_pay": "补发"}
STATUS_ZH = {"pending_review": "待审核", "confirmed": "已确认", "dismissed": "已驳回"}
SYSTEM = "system:adjustments"


class AdjustmentError(CodedError):
    """A review of an adjustment refused, with why (Chinese)."""


def later_evidence(facts: dict, row: dict, members_now: list[dict]) -> tuple[dict, list[str]]:
    """The benefit's facts with what the later data adds for one month (``row``: the month's
    household_profile row now; ``members_now``: the assessment's member facts), and the reasons."""
    out = copy.deepcopy(facts)
    reasons: list[str] = []
    basis = facts.get("basis") or {}
    seen_failing = set(basis.get("fails") or ())
    for flag, zh in benefits.GROUNDS_ZH.items():
        if row.get(flag) and flag not in seen_failing:
            out["other_grounds_fail"] = [*out.get("other_grounds_fail", []), zh]
            reasons.append(f"新增数据显示:{zh}")
    now_died = {m["person_id"]: m.get("died_on") for m in members_now if m.get("died_on")}
    for member in out["members"]:
        died = now_died.get(member["person_id"])
        if died and (member.get("died_on") is None or died < member["died_on"]):
            member["died_on"] = died
            reasons.append(f"新增数据显示:家庭成员({member.get('relation') or '成员'})于{died}死亡(死亡登记、户籍)")
    known_income = basis.get("income") or {}
    added = Decimal(0)
    for kind, zh in benefits.INCOME_KINDS_ZH.items():
        now = Decimal(str(row.get(kind) or 0))
        if now > 0 and not known_income.get(kind):
            added += now
            reasons.append(f"新增数据显示:{zh} {now:.2f} 元/月,核对时没有该项收入")
    if added:
        out["counted_income_yuan"] = str(Decimal(str(out["counted_income_yuan"])) + added)
    return out, reasons


@dataclass
class ScanResult:
    benefits: int = 0
    months: int = 0
    raised: list[int] = field(default_factory=list)  # adjustment ids, new or updated
    unchanged: int = 0


def scan(session: Session, lake_root: Path, *, work_dir: Path | None = None, benefit_ids: set[int] | None = None,
         clock: audit.Clock = audit.utc_now) -> ScanResult:
    """Every paid month of every computed benefit against the data as it stands now (see the module)."""
    result = ScanResult()
    query = select(Benefit).where(Benefit.facts_json.is_not(None)).order_by(Benefit.id)
    for benefit in session.scalars(query).all():
        if benefit_ids is not None and benefit.id not in benefit_ids:
            continue
        orders = list(session.scalars(select(DisbursementOrder).where(
            DisbursementOrder.benefit_id == benefit.id, DisbursementOrder.status == "paid")
            .order_by(DisbursementOrder.period)))
        if not orders:
            continue
        result.benefits += 1
        members = session.scalars(select(CaseMember).where(CaseMember.case_id == benefit.case_id)
                                  .order_by(CaseMember.id)).all()
        assessment = ondemand.assess(Path(lake_root), [ondemand.Member(m.person_id, m.relation) for m in members],
                                     work_dir=work_dir)
        rows = {r["period"]: r for r in assessment.profile}
        facts = json.loads(benefit.facts_json)
        for i, order in enumerate(orders):
            row = rows.get(order.period)
            if row is None:  # no department data for that month (yet)
                continue
            result.months += 1
            corrected, reasons = later_evidence(facts, row, assessment.member_facts(order.period))
            if not reasons:
                continue
            paid_before = json.loads(orders[i - 1].breakdown_json) if i and orders[i - 1].breakdown_json else None
            correct = benefits.compute(corrected, order.period, paid_before)
            paid = Decimal(str(order.amount)).quantize(Decimal("0.01"))
            if correct.amount == paid:
                continue
            adjustment = _upsert(session, benefit, order, paid, correct, reasons, assessment.table_versions, clock)
            if adjustment is None:
                result.unchanged += 1
            else:
                result.raised.append(adjustment.id)
    audit.record(session, actor=SYSTEM, action="benefit_adjustments_scanned", outcome="success",
                 detail={"benefits": result.benefits, "months": result.months, "raised": len(result.raised),
                         "unchanged": result.unchanged}, clock=clock)
    return result


def _upsert(session: Session, benefit: Benefit, order: DisbursementOrder, paid: Decimal,
            correct: entitlement.Breakdown, reasons: list[str], versions: dict, clock: audit.Clock
            ) -> BenefitAdjustment | None:
    """One item per order: created, or updated while still pending when the figures moved; a reviewed
    item or one with the same figures is left as it is (returns None)."""
    now = clock()
    difference = correct.amount - paid
    found = session.scalar(select(BenefitAdjustment).where(BenefitAdjustment.order_id == order.id))
    values = {"kind": "recovery" if difference < 0 else "back_pay", "paid_amount": float(paid),
              "correct_amount": float(correct.amount), "difference": float(difference),
              "reasons_json": json.dumps(reasons, ensure_ascii=False),
              "breakdown_json": json.dumps(correct.to_dict(), ensure_ascii=False),
              "table_versions_json": json.dumps(versions, sort_keys=True)}
    if found is not None:
        same = (found.correct_amount, found.paid_amount) == (values["correct_amount"], values["paid_amount"])
        if same or found.status != "pending_review":
            return None
        for key, value in values.items():
            setattr(found, key, value)
        found.updated_at = now
        session.flush()
        return found
    item = BenefitAdjustment(benefit_id=benefit.id, case_id=benefit.case_id, order_id=order.id,
                             region_code=benefit.region_code, period=order.period, status="pending_review",
                             detected_at=now, updated_at=now, **values)
    session.add(item)
    session.flush()
    return item


def pending(session: Session, user: access.Principal, region_code: str, *,
            clock: audit.Clock = audit.utc_now) -> list[BenefitAdjustment]:
    """The items awaiting review in a jurisdiction (the approvers' list on 资金监管)."""
    access.authorize_and_audit(session, user, "approve_assistance", region_code, None, purpose="查看待审核的后补追缴",
                               detail={"region_code": region_code}, clock=clock)
    prefix = region_code.rstrip("0")
    return list(session.scalars(select(BenefitAdjustment).where(
        BenefitAdjustment.status == "pending_review", BenefitAdjustment.region_code.startswith(prefix))
        .order_by(BenefitAdjustment.period, BenefitAdjustment.id)))


def review(session: Session, user: access.Principal, adjustment_id: int, decision: str, note: str, *,
           clock: audit.Clock = audit.utc_now) -> BenefitAdjustment:
    """确认 or 驳回 an item, with a note; confirmed ones are archived with the case (追缴通知 / 补发决定)."""
    item = session.get(BenefitAdjustment, adjustment_id)
    if item is None:
        raise AdjustmentError("NOT_FOUND", "没有该后补追缴事项")
    if decision not in ("confirm", "dismiss"):
        raise AdjustmentError("DECISION_UNKNOWN", "审核结果只能是确认或驳回")
    if not note.strip():
        raise AdjustmentError("NOTE_REQUIRED", "审核后补追缴须写明意见")
    benefit = session.get(Benefit, item.benefit_id)
    access.authorize_and_audit(session, user, "approve_assistance", item.region_code,
                               masking.pseudonym(benefit.holder_person_id),
                               purpose=f"审核{KIND_ZH[item.kind]}({item.period})",
                               detail={"adjustment_id": item.id, "decision": decision}, clock=clock)
    if item.status != "pending_review":
        raise AdjustmentError("ALREADY_REVIEWED", f"该事项已{STATUS_ZH[item.status]},不能重复审核")
    now = clock()
    item.status = "confirmed" if decision == "confirm" else "dismissed"
    item.reviewed_by, item.reviewed_at, item.review_note, item.updated_at = user.username, now, note.strip(), now
    if item.status == "confirmed":
        case = session.get(AssistanceCase, item.case_id)
        archives.archive_record(session, case=case, kind="decision", title=f"{KIND_ZH[item.kind]}决定({item.period})",
                                record={"月份": item.period, "类别": KIND_ZH[item.kind], "已发金额": item.paid_amount,
                                        "应发金额": item.correct_amount, "差额": item.difference,
                                        "原因": json.loads(item.reasons_json), "审核意见": note.strip(),
                                        "审核人": user.username,
                                        "应发金额计算": entitlement.Breakdown.from_dict(
                                            json.loads(item.breakdown_json)).text_zh()},
                                archived_by=user.username, clock=clock)
    session.commit()
    return item


def settle_back_pay(session: Session, order: DisbursementOrder) -> None:
    """Confirmed back pay of the order's benefit, not yet paid, rides on this order as its own lines."""
    due = list(session.scalars(select(BenefitAdjustment).where(
        BenefitAdjustment.benefit_id == order.benefit_id, BenefitAdjustment.kind == "back_pay",
        BenefitAdjustment.status == "confirmed", BenefitAdjustment.settled_order_id.is_(None))
        .order_by(BenefitAdjustment.period)))
    if not due:
        return
    breakdown = entitlement.Breakdown.from_dict(json.loads(order.breakdown_json)) if order.breakdown_json else None
    total = Decimal(str(order.amount))
    for item in due:
        extra = Decimal(str(item.difference)).quantize(Decimal("0.01"))
        total += extra
        item.settled_order_id = order.id
        if breakdown is not None:
            breakdown.lines.append(entitlement.Line("back_pay", f"补发{item.period}", extra, None,
                                                    ";".join(json.loads(item.reasons_json))))
    order.amount = float(total)
    if breakdown is not None:
        breakdown.amount = total
        order.breakdown_json = json.dumps(breakdown.to_dict(), ensure_ascii=False)
