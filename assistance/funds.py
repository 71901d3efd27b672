"""资金拨付单 (BZ-5): an approved benefit generates one disbursement order per month it is paid.

The order carries what the payment needs (amount, payee, channel, account) and starts in
``pending_check``: the finance check, the payment files and the reconciliation against the bank's
result are in ``assistance.payments``. Orders are idempotent per benefit and month: generating a
month twice creates nothing new.
"""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistance import adjustments, archives, benefits
from jiuzhu import audit
from jiuzhu.business.models import AssistanceCase, Benefit, DisbursementOrder
from jiuzhu.supervision import BEIJING
from verification.signing import sm3

# Monthly benefits are paid on the social-security card (一卡通); one-off aid by bank transfer.
MONTHLY_CATEGORIES = frozenset({"dibao", "tekun", "margin"})


def period_of(moment) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m")


def payment_account(person_id: str, channel: str) -> str:
    """The payee's account as the bank registered it. The synthetic province has no bank account
    register: a stable synthetic number (never the ID) stands in for it."""

    digits = str(int(sm3(f"{channel}|{person_id}".encode())[:15], 16)).rjust(19, "0")[-19:]
    return ("62" if channel == "bank" else "91") + digits[:17]


def create_order(session: Session, benefit: Benefit, period: str, *, created_by: str,
                 clock: audit.Clock = audit.utc_now, month: benefits.MonthAmount | None = None) -> DisbursementOrder:
    """The order of ``benefit`` for ``period`` (the existing one when it was generated before)."""
    found = session.scalar(select(DisbursementOrder).where(DisbursementOrder.benefit_id == benefit.id,
                                                           DisbursementOrder.period == period))
    if found is not None:
        return found
    now = clock()
    month = month or benefits.month_amount(benefit, period)  # the caller's, when it computed the month already
    if month.changed:
        _record_amount_change(session, benefit, month, now, clock)
    benefits.record_month(benefit, month, now)
    count = session.scalar(select(func.count()).select_from(DisbursementOrder)) or 0
    channel = "card" if benefit.category in MONTHLY_CATEGORIES else "bank"
    order = DisbursementOrder(
        order_no=f"BF{period.replace('-', '')}{count + 1:08d}", benefit_id=benefit.id, case_id=benefit.case_id,
        period=period, amount=month.amount, payee_person_id=benefit.holder_person_id,
        payee_name=benefit.holder_name, channel=channel,
        account_no=payment_account(benefit.holder_person_id, channel), region_code=benefit.region_code,
        status="pending_check", spot_check=False, created_by=created_by, created_at=now, updated_at=now,
        breakdown_json=benefit.breakdown_json if month.breakdown is not None else None)
    session.add(order)
    session.flush()
    adjustments.settle_back_pay(session, order)
    return order


def _record_amount_change(session: Session, benefit: Benefit, month: benefits.MonthAmount, now, clock) -> None:
    """A month whose computed amount differs from the last (a new standard, a member's death, an age
    reached, the gradual exit) is a benefit change on the household's record."""
    case = session.get(AssistanceCase, benefit.case_id)
    if case is None or not benefit.household_no:
        return
    b = month.breakdown
    archives.record_change(session, household_no=benefit.household_no, kind="benefit_change", case=case,
                           detail={"变更": "待遇金额调整", "月份": b.period, "原金额(元/月)": benefit.monthly_amount,
                                   "新金额(元/月)": month.amount, "计算": b.text_zh()},
                           effective_on=f"{b.period}-01", recorded_by="system:monthly", clock=clock)


def end_by_rules(session: Session, benefit: Benefit, month: benefits.MonthAmount, clock: audit.Clock) -> None:
    """The rules pay nothing from this month (the gradual exit ran out, every member died …): the
    benefit ends, on the household's record; its certificate is revoked by the monthly job."""
    now = clock()
    reason = ";".join(month.breakdown.notes_zh) or "按待遇计算规则当月金额为0"
    benefit.status, benefit.end_period, benefit.end_reason = "ended", month.breakdown.period, reason
    benefit.breakdown_json = json.dumps(month.breakdown.to_dict(), ensure_ascii=False)
    benefit.exit_months_left, benefit.updated_at = None, now
    case = session.get(AssistanceCase, benefit.case_id)
    if case is not None and benefit.household_no:
        archives.record_change(session, household_no=benefit.household_no, kind="benefit_change", case=case,
                               detail={"变更": "停发", "理由": reason, "停发月份": benefit.end_period},
                               effective_on=f"{benefit.end_period}-01", recorded_by="system:monthly", clock=clock)


def generate_month(session: Session, period: str, *, clock: audit.Clock = audit.utc_now) -> list[DisbursementOrder]:
    """Orders for every active monthly benefit that started by ``period`` and has none for it yet."""
    active = list(session.scalars(select(Benefit).where(Benefit.status == "active", Benefit.start_period <= period,
                                                        Benefit.category.in_(MONTHLY_CATEGORIES))
                                  .order_by(Benefit.id)))
    existing = set(session.scalars(select(DisbursementOrder.benefit_id).where(DisbursementOrder.period == period)))
    created, ended = [], 0
    for b in active:
        if b.id in existing:
            continue
        month = benefits.month_amount(b, period)
        if month.breakdown is not None and month.breakdown.status in ("exited", "ineligible"):
            end_by_rules(session, b, month, clock)
            ended += 1
            continue
        created.append(create_order(session, b, period, created_by="system:monthly", clock=clock, month=month))
    if created or ended:
        audit.record(session, actor="system:monthly", action="disbursement_orders_generated", outcome="success",
                     detail={"period": period, "orders": len(created), "ended_by_rules": ended}, clock=clock)
    session.commit()
    return created


def orders_of_case(session: Session, case: AssistanceCase) -> list[DisbursementOrder]:
    return list(session.scalars(select(DisbursementOrder).where(DisbursementOrder.case_id == case.id)
                                .order_by(DisbursementOrder.period)))
