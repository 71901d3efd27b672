"""资金监管 services: the month's orders of the finance officer's jurisdiction, the spot-check sample and
the pass/return step, the payment files, the bank result import with its report, the reconciliation
issues and their handling — and, for approvers, the returned orders to correct (``returned_orders``,
``correct_order``: shown on the case screens, not on 资金监管, whose page action is manage_funds).

Every call goes through ``assistance.payments`` (authorised, audited). Lists that name payees are
audited reads; names and account numbers are masked for roles that do not handle cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select

from assistance import benefits, catalogue, funds, payments
from dashboards.staff.runtime import business_session, china_time, now
from jiuzhu import access, masking, regions, sqlguard
from jiuzhu.business.models import Benefit, DisbursementOrder, PaymentBatch, ReconciliationIssue

ORDER_COLUMNS = ["拨付单号", "月份", "乡镇(街道)", "救助类别", "收款人", "发放渠道", "账号", "金额(元)", "状态",
                 "退回与更正"]
ORDER_PII = {"收款人": "name", "账号": "account"}
BATCH_COLUMNS = ["批次号", "发放渠道", "笔数", "金额(元)", "状态", "生成人", "生成时间"]
ISSUE_COLUMNS = ["差异号", "批次号", "拨付单号", "差异类型", "说明", "状态", "发现时间", "处理人", "处理说明"]


def _allowed(user: access.Principal, action: str = "manage_funds") -> None:
    """Figures without payees: the decision only (the audited reads are the lists that name people)."""
    decision = access.authorize(user, action, user.jurisdiction_code)
    if not decision.allowed:
        raise access.AccessDenied(decision)


def _mine(column, user: access.Principal):
    return column.like(sqlguard.jurisdiction_prefix(user.jurisdiction_code) + "%")


def _place(code: str) -> str:
    tree = regions.load()
    return tree.get(code).name if code in tree else code


def periods(user: access.Principal) -> list[str]:
    """Months with orders in the jurisdiction, newest first, and the current month."""
    _allowed(user)
    with business_session() as db:
        found = set(db.scalars(select(DisbursementOrder.period)
                               .where(_mine(DisbursementOrder.region_code, user)).distinct()))
    found.add(funds.period_of(now()))
    return sorted(found, reverse=True)


def overview(user: access.Principal, period: str) -> tuple[payments.FundsSummary, pd.DataFrame]:
    _allowed(user)
    with business_session() as db:
        summary = payments.summary(db, user.jurisdiction_code, period)
    frame = pd.DataFrame([{"状态": payments.STATUS_ZH[s], "笔数": n, "金额(元)": amount}
                          for s, (n, amount) in summary.by_status.items()], columns=["状态", "笔数", "金额(元)"])
    return summary, frame


def _order_frame(db, user: access.Principal, orders: list[DisbursementOrder]) -> pd.DataFrame:
    ids = {o.benefit_id for o in orders}
    benefits = {b.id: b for b in db.scalars(select(Benefit).where(Benefit.id.in_(ids)))} if ids else {}
    rows = []
    for o in orders:
        benefit = benefits.get(o.benefit_id)
        row = {"拨付单号": o.order_no, "月份": o.period, "乡镇(街道)": _place(o.region_code),
               "救助类别": catalogue.CATEGORIES.get(benefit.category, benefit.category) if benefit else "",
               "收款人": o.payee_name, "发放渠道": payments.CHANNELS[o.channel], "账号": o.account_no,
               "金额(元)": payments.yuan(payments.cents(o.amount)), "状态": payments.STATUS_ZH[o.status],
               "退回与更正": o.return_reason or "", "region_code": o.region_code}
        masked = masking.mask_row(row, ORDER_PII, user.role, jurisdiction=user.jurisdiction_code)
        masked.pop("region_code")
        rows.append(masked)
    return pd.DataFrame(rows, columns=ORDER_COLUMNS)


def awaiting_check(user: access.Principal, period: str) -> pd.DataFrame:
    """The spot-checked orders of the month waiting for the finance officer (audited: names payees)."""
    with business_session() as db:
        access.authorize_and_audit(db, user, "manage_funds", user.jurisdiction_code,
                                   purpose="查看待财务抽查的资金拨付单", detail={"period": period}, clock=now)
        orders = list(db.scalars(select(DisbursementOrder).where(
            DisbursementOrder.period == period, DisbursementOrder.status == "pending_check",
            DisbursementOrder.spot_check.is_(True), _mine(DisbursementOrder.region_code, user))
            .order_by(DisbursementOrder.order_no)))
        return _order_frame(db, user, orders)


def draw_sample(user: access.Principal, period: str, rate_percent: float,
                threshold: float | None) -> payments.SampleResult:
    with business_session() as db:
        return payments.select_for_check(db, user, user.jurisdiction_code, period, rate=rate_percent / 100,
                                         threshold=threshold, clock=now)


def check_order(user: access.Principal, order_no: str, passed: bool, reason: str = "") -> None:
    with business_session() as db:
        payments.check(db, user, order_no, passed=passed, reason=reason, clock=now)


def generate_file(user: access.Principal, period: str, channel: str, purpose: str) -> tuple[str, str, bytes]:
    """(batch number, file name, content) of a new payment file."""
    with business_session() as db:
        batch, content = payments.payment_file(db, user, user.jurisdiction_code, period, channel,
                                               purpose=purpose, clock=now)
        return batch.batch_no, payments.file_name(batch), content


def batch_download(user: access.Principal, batch_no: str, purpose: str) -> tuple[str, str, bytes]:
    with business_session() as db:
        content = payments.batch_file(db, user, batch_no, purpose=purpose, clock=now)
        batch = db.scalar(select(PaymentBatch).where(PaymentBatch.batch_no == batch_no))
        return batch_no, payments.file_name(batch), content


def batches(user: access.Principal, period: str) -> pd.DataFrame:
    _allowed(user)
    with business_session() as db:
        found = list(db.scalars(select(PaymentBatch).where(PaymentBatch.period == period,
                                                           _mine(PaymentBatch.region_code, user))
                                .order_by(PaymentBatch.batch_no)))
    return pd.DataFrame([{"批次号": b.batch_no, "发放渠道": payments.CHANNELS[b.channel], "笔数": b.order_count,
                          "金额(元)": payments.yuan(payments.cents(b.total_amount)),
                          "状态": payments.BATCH_STATUS_ZH.get(b.status, b.status), "生成人": b.generated_by,
                          "生成时间": china_time(b.generated_at, seconds=False)} for b in found],
                        columns=BATCH_COLUMNS)


@dataclass
class ImportView:
    summary_zh: str
    bad_lines: pd.DataFrame  # 行号, 原因
    new_issues: pd.DataFrame  # 拨付单号, 差异类型, 说明


def import_result(user: access.Principal, batch_no: str, content: bytes) -> ImportView:
    with business_session() as db:
        report = payments.import_results(db, user, batch_no, content, clock=now)
        issues = [{"拨付单号": i.order_no or "", "差异类型": payments.ISSUE_ZH[i.kind], "说明": i.detail}
                  for i in report.issues]
    parts = [f"批次{report.batch_no}:读取结果{report.lines}行,新导入{report.stored}行"]
    if report.already:
        parts.append(f"{report.already}行此前已导入(未重复记账)")
    if report.bad:
        parts.append(f"{len(report.bad)}行格式有误未导入")
    parts.append(f"本次确认发放成功{len(report.paid)}笔,发放失败{len(report.failed)}笔,"
                 f"新发现对账差异{len(report.issues)}处,本批次待处理差异共{report.open_issues}处")
    bad = pd.DataFrame([{"行号": b.line_no, "原因": b.reason_zh} for b in report.bad], columns=["行号", "原因"])
    return ImportView(";".join(parts) + "。", bad, pd.DataFrame(issues, columns=["拨付单号", "差异类型", "说明"]))


def issues(user: access.Principal, period: str, open_only: bool = True) -> pd.DataFrame:
    """The reconciliation issues of the month's batches (order numbers and figures, no payee)."""
    _allowed(user)
    with business_session() as db:
        mine = _mine(PaymentBatch.region_code, user)
        batch_nos = list(db.scalars(select(PaymentBatch.batch_no).where(PaymentBatch.period == period, mine)))
        query = (select(ReconciliationIssue).where(ReconciliationIssue.batch_no.in_(batch_nos))
                 .order_by(ReconciliationIssue.id))
        if open_only:
            query = query.where(ReconciliationIssue.status == "open")
        found = list(db.scalars(query)) if batch_nos else []
    return pd.DataFrame([{"差异号": i.id, "批次号": i.batch_no, "拨付单号": i.order_no or "",
                          "差异类型": payments.ISSUE_ZH[i.kind], "说明": i.detail,
                          "状态": payments.ISSUE_STATUS_ZH.get(i.status, i.status),
                          "发现时间": china_time(i.raised_at, seconds=False), "处理人": i.resolved_by or "",
                          "处理说明": i.resolution_note or ""} for i in found], columns=ISSUE_COLUMNS)


def resolve(user: access.Principal, issue_id: int, note: str, requeue: bool = False) -> None:
    with business_session() as db:
        payments.resolve_issue(db, user, issue_id, note, requeue=requeue, clock=now)


# --- for approvers (the case screens): orders the finance check returned -------------------------------


def returned_orders(user: access.Principal) -> pd.DataFrame:
    """The returned orders of the approver's jurisdiction with the finance officer's reason (audited)."""
    with business_session() as db:
        access.authorize_and_audit(db, user, "approve_assistance", user.jurisdiction_code,
                                   purpose="查看财务退回的资金拨付单", detail={"view": "returned_orders"}, clock=now)
        orders = list(db.scalars(select(DisbursementOrder).where(
            DisbursementOrder.status == "returned", _mine(DisbursementOrder.region_code, user))
            .order_by(DisbursementOrder.period, DisbursementOrder.order_no)))
        return _order_frame(db, user, orders)


def correct_order(user: access.Principal, order_no: str, amount: float, note: str) -> None:
    with business_session() as db:
        payments.correct_returned(db, user, order_no, amount=amount, note=note, clock=now)


IMPACT_COLUMNS = ["受理编号", "乡镇(街道)", "现金额(元/月)", "新金额(元/月)", "变化(元/月)", "新金额计算"]


def policy_impact(user: access.Principal, period: str) -> pd.DataFrame:
    """待遇调整测算: the benefits of the jurisdiction whose amount changes in ``period`` under the
    policy then in force (a new standard from a date), before the month's orders are made."""
    with business_session() as db:
        found = benefits.policy_impact(db, user, period, user.jurisdiction_code, clock=now)
    return pd.DataFrame([{"受理编号": i.acceptance_no, "乡镇(街道)": _place(i.region_code),
                          "现金额(元/月)": f"{i.current:,.2f}", "新金额(元/月)": f"{i.new:,.2f}",
                          "变化(元/月)": f"{i.difference:+,.2f}", "新金额计算": ";".join(i.lines_zh[1:])}
                         for i in found], columns=IMPACT_COLUMNS)


def order_form(user: access.Principal, order_no: str) -> tuple[str, bytes]:
    """资金拨付单 as a printable PDF with its amount's breakdown (audited: it names the payee)."""
    with business_session() as db:
        return payments.order_form_pdf(db, user, order_no.strip(), clock=now)
