"""资金拨付单 (BZ-5): an approved benefit generates one disbursement order per month it is paid.

The order carries what the payment needs (amount, payee, channel, account) and starts in
``pending_check``: the finance check, the payment files and the reconciliation against the bank's
result are in ``assistance.payments``. Orders are idempotent per benefit and month: generating a
month twice creates nothing new.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
                 clock: audit.Clock = audit.utc_now) -> DisbursementOrder:
    """The order of ``benefit`` for ``period`` (the existing one when it was generated before)."""
    found = session.scalar(select(DisbursementOrder).where(DisbursementOrder.benefit_id == benefit.id,
                                                           DisbursementOrder.period == period))
    if found is not None:
        return found
    now = clock()
    count = session.scalar(select(func.count()).select_from(DisbursementOrder)) or 0
    channel = "card" if benefit.category in MONTHLY_CATEGORIES else "bank"
    order = DisbursementOrder(
        order_no=f"BF{period.replace('-', '')}{count + 1:08d}", benefit_id=benefit.id, case_id=benefit.case_id,
        period=period, amount=benefit.monthly_amount, payee_person_id=benefit.holder_person_id,
        payee_name=benefit.holder_name, channel=channel,
        account_no=payment_account(benefit.holder_person_id, channel), region_code=benefit.region_code,
        status="pending_check", spot_check=False, created_by=created_by, created_at=now, updated_at=now)
    session.add(order)
    session.flush()
    return order


def generate_month(session: Session, period: str, *, clock: audit.Clock = audit.utc_now) -> list[DisbursementOrder]:
    """Orders for every active monthly benefit that started by ``period`` and has none for it yet."""
    benefits = session.scalars(select(Benefit).where(Benefit.status == "active", Benefit.start_period <= period,
                                                     Benefit.category.in_(MONTHLY_CATEGORIES))
                               .order_by(Benefit.id))
    existing = set(session.scalars(select(DisbursementOrder.benefit_id).where(DisbursementOrder.period == period)))
    created = [create_order(session, b, period, created_by="system:monthly", clock=clock)
               for b in benefits if b.id not in existing]
    if created:
        audit.record(session, actor="system:monthly", action="disbursement_orders_generated", outcome="success",
                     detail={"period": period, "orders": len(created)}, clock=clock)
    session.commit()
    return created


def orders_of_case(session: Session, case: AssistanceCase) -> list[DisbursementOrder]:
    return list(session.scalars(select(DisbursementOrder).where(DisbursementOrder.case_id == case.id)
                                .order_by(DisbursementOrder.period)))
