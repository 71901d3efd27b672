"""资金监管 (BZ-5) after the order exists: the finance spot check and return, the payment files for the
social-security card (一卡通) and for bank direct payment, the import of the bank's result and the
reconciliation of every payment against its order.

- 财务抽查: a county's pending orders of a month are sampled deterministically (ranked by the SM3 of
  order number + month, so an auditor can recompute the draw), plus every order above a threshold and
  every benefit's first order; those wait for a finance officer, who passes them or returns them
  (退回, with the reason) to the approver. The rest are checked by the sample (``system:sample``).
  A returned order is corrected by an approver (new amount, a note) and comes back spot-checked.
- 发放文件: the checked orders of a region, month and channel become one batch and one CSV file
  (GB18030, header, one line per order, trailer with count and total; layouts in docs/funds.md).
  The file holds names, ID and account numbers: manage_funds with a purpose, audited, SM3 kept.
- 银行结果: the bank's CSV (GB18030 or UTF-8) is stored line by line; malformed lines are reported
  with their line number and skipped. Reconciliation then marks each order paid, or raises an
  issue (missing, duplicate, wrong amount, wrong payee, unknown order, failed). Importing the same
  file again changes nothing.

Every step is authorised for role and jurisdiction and audited with the payee's pseudonym.
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import io
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistance import catalogue, entitlement
from jiuzhu import access, audit, masking, regions, sqlguard
from jiuzhu.business.models import (
    Benefit,
    DisbursementOrder,
    PaymentBatch,
    PaymentResult,
    ReconciliationIssue,
)
from jiuzhu.errors import CodedError
from jiuzhu.supervision import BEIJING
from verification.signing import sm3

CHANNELS = {"card": "社保卡(一卡通)", "bank": "银行代发"}
STATUS_ZH = {"pending_check": "待财务审核", "checked": "已审核待发放", "returned": "已退回", "in_batch": "发放中",
             "paid": "已发放", "failed": "发放失败", "mismatch": "对账不符"}
ISSUE_ZH = {"missing": "银行未返回结果", "duplicate": "重复发放", "wrong_amount": "金额不符",
            "wrong_payee": "收款人不符", "unknown_order": "非本批次拨付单", "failed": "发放失败"}
ISSUE_STATUS_ZH = {"open": "待处理", "resolved": "已处理"}
BATCH_STATUS_ZH = {"sent": "已生成待回盘", "reconciled": "已对账"}
SAMPLE_REASON_ZH = {"random": "随机抽取", "threshold": "金额超过限额", "first": "首次发放"}
BANK_STATUS = {"成功": "success", "失败": "failed"}
RESULT_COLUMNS = ("拨付单号", "收款人证件号码", "发放金额", "发放日期", "发放状态")
SAMPLE_ACTOR = "system:sample"
RECONCILE_ACTOR = "system:reconcile"
# Only these issues may send an order back for payment: no money reached anyone.
REQUEUE_KINDS = frozenset({"failed", "missing"})

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,2})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HEADER_FIRST_CELLS = frozenset({"拨付单号", "order_no"})
_CENT = Decimal("0.01")


class PaymentError(CodedError):
    """A funds step refused, with why (in Chinese)."""


# --- small helpers ----------------------------------------------------------------------------------------


def cents(amount: float | Decimal | str) -> int:
    """Yuan → whole cents, rounded half up (amounts are compared to the cent, never as floats)."""
    return int((Decimal(str(amount)).quantize(_CENT, rounding=ROUND_HALF_UP) * 100).to_integral_value())


def yuan(amount_cents: int) -> str:
    sign = "-" if amount_cents < 0 else ""
    whole, part = divmod(abs(amount_cents), 100)
    return f"{sign}{whole}.{part:02d}"


def _check_period(period: str) -> str:
    if not isinstance(period, str) or not _PERIOD.match(period):
        raise PaymentError("PERIOD_INVALID", f"月份“{period}”无效,应为YYYY-MM")
    return period


def _check_region(region_code: str) -> str:
    try:
        code = regions.normalise_code(region_code)
    except regions.UnknownRegion:
        code = ""
    if not code or code not in regions.load():
        raise PaymentError("REGION_UNKNOWN", f"未知的行政区划代码:{region_code or '(空)'}")
    return code


def _region_name(code: str) -> str:
    tree = regions.load()
    return tree.full_name(code) if code in tree else code


def _inside(region_code: str):
    """Orders whose township lies inside ``region_code`` (the prefix at its level: regions.contains)."""
    return DisbursementOrder.region_code.like(sqlguard.jurisdiction_prefix(region_code) + "%")


def _subject(order: DisbursementOrder) -> str:
    return masking.pseudonym(order.payee_person_id)


def _order(session: Session, order_no: str) -> DisbursementOrder:
    wanted = (order_no or "").strip()
    order = session.scalar(select(DisbursementOrder).where(DisbursementOrder.order_no == wanted))
    if order is None:
        raise PaymentError("ORDER_UNKNOWN", f"没有编号为{order_no}的资金拨付单")
    return order


def _batch(session: Session, batch_no: str) -> PaymentBatch:
    batch = session.scalar(select(PaymentBatch).where(PaymentBatch.batch_no == (batch_no or "").strip()))
    if batch is None:
        raise PaymentError("BATCH_UNKNOWN", f"没有编号为{batch_no}的发放批次")
    return batch


def _status_refused(order: DisbursementOrder, doing: str) -> PaymentError:
    return PaymentError("STATUS_INVALID", f"拨付单{order.order_no}当前状态为“{STATUS_ZH[order.status]}”,不能{doing}")


# --- 财务抽查: the sample, the check, the return and its correction ------------------------------------------


@dataclass
class SampleResult:
    period: str
    region_code: str
    considered: int  # pending orders not yet sampled
    spot_checked: dict[str, list[str]]  # order number → why it was drawn (random, threshold, first)
    auto_checked: list[str]  # passed by the sample


def sample_rank(order_no: str, period: str) -> str:
    """The draw's sort key: SM3 of the order number followed by the month (smallest first)."""
    return sm3(f"{order_no}{period}".encode())


def select_for_check(session: Session, user: access.Principal, region_code: str, period: str, *,
                     rate: float = 0.1, threshold: float | None = None,
                     clock: audit.Clock = audit.utc_now) -> SampleResult:
    """Draw the month's spot checks among the pending orders of ``region_code``.

    ``rate`` of the orders (rounded up, at least one) with the smallest ``sample_rank``, plus every
    order above ``threshold`` yuan and every benefit's first order, are flagged ``spot_check`` and stay
    pending for a finance officer; the others are checked by the sample. Orders flagged before (a
    corrected return, an earlier draw) are not drawn again.
    """
    _check_period(period)
    try:
        share = Decimal(str(rate))
    except InvalidOperation:
        share = Decimal(-1)
    if not Decimal(0) < share <= Decimal(1):
        raise PaymentError("RATE_INVALID", "抽查比例应大于0且不超过100%")
    if threshold is not None and (not math.isfinite(threshold) or threshold < 0):
        raise PaymentError("THRESHOLD_INVALID", "抽查金额限额应为不小于0的数字")
    region_code = _check_region(region_code)
    purpose = f"{period}资金拨付单财务抽查"
    access.authorize_and_audit(session, user, "manage_funds", region_code, purpose=purpose,
                               detail={"period": period, "step": "sample", "rate": str(share),
                                       "threshold": threshold}, clock=clock)
    pool = list(session.scalars(select(DisbursementOrder).where(
        DisbursementOrder.period == period, DisbursementOrder.status == "pending_check",
        DisbursementOrder.spot_check.is_(False), _inside(region_code)).order_by(DisbursementOrder.order_no)))
    result = SampleResult(period, region_code, len(pool), {}, [])
    if not pool:
        return result
    drawn = max(1, math.ceil(share * len(pool)))
    ranked = sorted(pool, key=lambda o: sample_rank(o.order_no, period))
    reasons: dict[str, list[str]] = defaultdict(list)
    for order in ranked[:drawn]:
        reasons[order.order_no].append("random")
    first_period = dict(session.execute(
        select(DisbursementOrder.benefit_id, func.min(DisbursementOrder.period))
        .where(DisbursementOrder.benefit_id.in_({o.benefit_id for o in pool}))
        .group_by(DisbursementOrder.benefit_id)).all())
    limit = None if threshold is None else cents(threshold)
    for order in pool:
        if limit is not None and cents(order.amount) > limit:
            reasons[order.order_no].append("threshold")
        if first_period.get(order.benefit_id) == order.period:
            reasons[order.order_no].append("first")
    now = clock()
    for order in pool:
        order.updated_at = now
        if order.order_no in reasons:
            order.spot_check = True
            result.spot_checked[order.order_no] = reasons[order.order_no]
        else:
            order.status, order.checked_by = "checked", SAMPLE_ACTOR
            result.auto_checked.append(order.order_no)
    audit.append(session, actor=user.username, role=user.role, action="funds_sample_drawn", outcome="success",
                 region_code=region_code, purpose=purpose,
                 detail={"period": period, "orders": len(pool), "spot_checked": len(result.spot_checked),
                         "auto_checked": len(result.auto_checked)}, clock=clock)
    session.commit()
    return result


def check(session: Session, user: access.Principal, order_no: str, *, passed: bool, reason: str | None = None,
          clock: audit.Clock = audit.utc_now) -> DisbursementOrder:
    """A finance officer passes a pending order (``checked``) or returns it to the approver (退回,
    ``returned``, the reason required)."""
    order = _order(session, order_no)
    reason = (reason or "").strip()
    if not passed and not reason:
        raise PaymentError("REASON_MISSING", "退回拨付单须写明退回原因")
    access.authorize_and_audit(session, user, "manage_funds", order.region_code, _subject(order),
                               purpose="财务抽查资金拨付单",
                               detail={"order_no": order.order_no, "step": "pass" if passed else "return"},
                               clock=clock)
    if order.status != "pending_check":
        raise _status_refused(order, "审核")
    order.status = "checked" if passed else "returned"
    order.return_reason = None if passed else reason
    order.checked_by, order.updated_at = user.username, clock()
    session.commit()
    return order


def correct_returned(session: Session, user: access.Principal, order_no: str, *, amount: float, note: str,
                     clock: audit.Clock = audit.utc_now) -> DisbursementOrder:
    """An approver corrects a returned order (new amount ≥ 0, a note): it goes back to the finance
    check, spot-checked. The return reason is kept with the correction note after it."""
    order = _order(session, order_no)
    note = (note or "").strip()
    if not note:
        raise PaymentError("NOTE_MISSING", "更正拨付单须写明更正说明")
    try:
        new = cents(amount)
        valid = math.isfinite(float(amount)) and new >= 0
    except (InvalidOperation, ValueError, TypeError):
        valid = False
    if not valid:
        raise PaymentError("AMOUNT_INVALID", f"更正金额“{amount}”无效,应为不小于0的金额")
    old = cents(order.amount)
    access.authorize_and_audit(session, user, "approve_assistance", order.region_code, _subject(order),
                               purpose="更正财务退回的资金拨付单",
                               detail={"order_no": order.order_no, "step": "correct", "old_amount": yuan(old),
                                       "new_amount": yuan(new)}, clock=clock)
    if order.status != "returned":
        raise _status_refused(order, "更正")
    order.amount = new / 100
    if order.breakdown_json:  # the correction is a line of the order's breakdown: it still adds up
        breakdown = entitlement.Breakdown.from_dict(json.loads(order.breakdown_json))
        breakdown.lines.append(entitlement.Line("correction", "拨付单更正", Decimal(new - old) / 100, None, note))
        breakdown.amount = Decimal(new) / 100
        order.breakdown_json = json.dumps(breakdown.to_dict(), ensure_ascii=False)
    order.status, order.spot_check, order.checked_by = "pending_check", True, None
    order.return_reason = f"{order.return_reason or ''}(已更正:{note})"
    order.updated_at = clock()
    session.commit()
    return order


# --- 发放文件: the card and bank payment files ----------------------------------------------------------------

_FILE_TITLE = {"card": "社保卡惠民惠农资金发放", "bank": "银行代发"}


def _render(batch: PaymentBatch, orders: list[DisbursementOrder], benefits: dict[int, Benefit]) -> bytes:
    """The file of ``batch`` (layouts in docs/funds.md): GB18030 CSV, CRLF line ends."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    compact = batch.period.replace("-", "")
    made_on = batch.generated_at.astimezone(BEIJING).strftime("%Y%m%d")
    writer.writerow(["H", _FILE_TITLE[batch.channel], batch.batch_no, batch.region_code, compact, made_on])
    total = 0
    for seq, order in enumerate(orders, start=1):
        benefit = benefits.get(order.benefit_id)
        item = catalogue.CATEGORIES.get(benefit.category, benefit.category) if benefit else ""
        amount = cents(order.amount)
        total += amount
        payee = [order.order_no, order.account_no, order.payee_name, order.payee_person_id, yuan(amount)]
        if batch.channel == "card":
            writer.writerow(["D", seq, *payee, item, compact])
        else:
            writer.writerow(["D", seq, *payee, f"{batch.period}{item}金"])
    writer.writerow(["T", len(orders), yuan(total)])
    return out.getvalue().encode("gb18030")


def _batch_orders(session: Session, batch_no: str) -> tuple[list[DisbursementOrder], dict[int, Benefit]]:
    orders = list(session.scalars(select(DisbursementOrder).where(DisbursementOrder.batch_no == batch_no)
                                  .order_by(DisbursementOrder.order_no)))
    ids = {o.benefit_id for o in orders}
    benefits = {b.id: b for b in session.scalars(select(Benefit).where(Benefit.id.in_(ids)))} if ids else {}
    return orders, benefits


def file_name(batch: PaymentBatch) -> str:
    return f"{'SBK' if batch.channel == 'card' else 'DF'}_{batch.batch_no}.csv"


def payment_file(session: Session, user: access.Principal, region_code: str, period: str, channel: str, *,
                 purpose: str | None = None,
                 clock: audit.Clock = audit.utc_now) -> tuple[PaymentBatch, bytes]:
    """Put every checked order of the region, month and channel into a new batch; its file."""
    _check_period(period)
    if channel not in CHANNELS:
        raise PaymentError("CHANNEL_UNKNOWN", f"未知的发放渠道:{channel}(应为一卡通或银行代发)")
    region_code = _check_region(region_code)
    purpose = f"生成{period}{CHANNELS[channel]}救助资金发放文件" if purpose is None else purpose
    # The file names every payee with ID and account number: level 3, a purpose, audited.
    access.authorize_and_audit(session, user, "manage_funds", region_code, purpose=purpose, level=3,
                               detail={"period": period, "channel": channel, "step": "payment_file"},
                               clock=clock)
    orders = list(session.scalars(select(DisbursementOrder).where(
        DisbursementOrder.status == "checked", DisbursementOrder.period == period,
        DisbursementOrder.channel == channel, _inside(region_code)).order_by(DisbursementOrder.order_no)))
    if not orders:
        raise PaymentError("NO_CHECKED_ORDERS", f"{_region_name(region_code)}{period}没有已通过财务审核、待发放的"
                                                f"{CHANNELS[channel]}拨付单,不能生成发放文件")
    earlier = session.scalar(select(func.count()).select_from(PaymentBatch).where(
        PaymentBatch.region_code == region_code, PaymentBatch.period == period,
        PaymentBatch.channel == channel)) or 0
    now = clock()
    batch = PaymentBatch(batch_no=f"PB{period.replace('-', '')}-{region_code}-{channel}-{earlier + 1:02d}",
                         channel=channel, region_code=region_code, period=period, order_count=len(orders),
                         total_amount=sum(cents(o.amount) for o in orders) / 100, file_sm3="", status="sent",
                         generated_by=user.username, generated_at=now, updated_at=now)
    benefits = {b.id: b for b in session.scalars(select(Benefit).where(Benefit.id.in_({o.benefit_id
                                                                                       for o in orders})))}
    content = _render(batch, orders, benefits)
    batch.file_sm3 = sm3(content)
    session.add(batch)
    for order in orders:
        order.status, order.batch_no, order.updated_at = "in_batch", batch.batch_no, now
    audit.append(session, actor=user.username, role=user.role, action="payment_file_generated",
                 outcome="success", region_code=region_code, purpose=purpose,
                 detail={"batch_no": batch.batch_no, "channel": channel, "orders": len(orders),
                         "total": yuan(sum(cents(o.amount) for o in orders)), "file_sm3": batch.file_sm3},
                 clock=clock)
    session.commit()
    return batch, content


def batch_file(session: Session, user: access.Principal, batch_no: str, *, purpose: str,
               clock: audit.Clock = audit.utc_now) -> bytes:
    """The file of an earlier batch again (downloaded once more), checked against its stored SM3."""
    batch = _batch(session, batch_no)
    access.authorize_and_audit(session, user, "manage_funds", batch.region_code, purpose=purpose, level=3,
                               detail={"batch_no": batch.batch_no, "step": "payment_file_again"}, clock=clock)
    content = _render(batch, *_batch_orders(session, batch.batch_no))
    if sm3(content) != batch.file_sm3:
        raise PaymentError("FILE_CHANGED", f"批次{batch.batch_no}的拨付单与生成文件时不一致,不能重新生成文件")
    return content


# --- 银行结果: import and reconciliation ------------------------------------------------------------------------


@dataclass(frozen=True)
class BadLine:
    line_no: int
    reason_zh: str


@dataclass
class ImportReport:
    batch_no: str
    lines: int = 0  # result lines read (header and blank lines not counted)
    stored: int = 0  # new lines stored
    already: int = 0  # identical lines stored by an earlier import of the file
    bad: list[BadLine] = field(default_factory=list)
    paid: list[str] = field(default_factory=list)  # orders that became paid now
    failed: list[str] = field(default_factory=list)  # orders the bank failed to pay
    issues: list[ReconciliationIssue] = field(default_factory=list)  # raised now
    open_issues: int = 0  # of the batch, after this import


def decode(content: bytes) -> str:
    """The bank file's text: UTF-8 (with or without BOM), else GB18030."""
    if not content or not content.strip():
        raise PaymentError("FILE_EMPTY", "银行结果文件为空")
    content = content.removeprefix(codecs.BOM_UTF8)
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise PaymentError("ENCODING_UNKNOWN", "无法识别银行结果文件的编码:应为GB18030或UTF-8编码的CSV文件") from exc


def _shown(value: str) -> str:
    return value if len(value) <= 20 else value[:20] + "…"


def _parse_line(cells: list[str]) -> tuple[str, str, int, str, str] | str:
    """One result line → (order, payee ID, cents, paid on, status), or the Chinese reason it is refused."""
    if len(cells) != len(RESULT_COLUMNS):
        return f"应有{len(RESULT_COLUMNS)}列({'、'.join(RESULT_COLUMNS)}),实际为{len(cells)}列"
    order_no, person, amount, paid_on, status = (c.strip() for c in cells)
    if not order_no or len(order_no) > 40:
        return "拨付单号为空或超过40个字符"
    if not person or len(person) > 18:
        return "收款人证件号码为空或长度不正确"
    if not _AMOUNT.match(amount):
        return f"发放金额“{_shown(amount)}”无效,应为不小于0、最多两位小数的数字"
    try:
        if not _DATE.match(paid_on):
            raise ValueError(paid_on)
        _dt.date.fromisoformat(paid_on)
    except ValueError:
        return f"发放日期“{_shown(paid_on)}”无效,应为YYYY-MM-DD格式的日期"
    if status not in BANK_STATUS:
        return f"发放状态“{_shown(status)}”无法识别,应为“成功”或“失败”"
    return order_no, person.upper(), cents(amount), paid_on, BANK_STATUS[status]


def _read_lines(text: str, report: ImportReport) -> list[tuple[int, tuple[str, str, int, str, str]]]:
    good = []
    reader = csv.reader(io.StringIO(text, newline=""))
    first = True
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.lines += 1
            report.bad.append(BadLine(reader.line_num, f"无法按CSV格式读取:{exc}"))
            continue
        line_no = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if first and cells[0].strip().lstrip("\ufeff") in _HEADER_FIRST_CELLS:
            first = False
            continue
        first = False
        report.lines += 1
        parsed = _parse_line(cells)
        if isinstance(parsed, str):
            report.bad.append(BadLine(line_no, parsed))
        else:
            good.append((line_no, parsed))
    return good


def import_results(session: Session, user: access.Principal, batch_no: str, content: bytes, *,
                   clock: audit.Clock = audit.utc_now) -> ImportReport:
    """Store the bank's result lines of ``batch_no`` and reconcile the batch (idempotent per line)."""
    batch = _batch(session, batch_no)
    purpose = f"导入发放批次{batch.batch_no}的银行发放结果并对账"
    access.authorize_and_audit(session, user, "manage_funds", batch.region_code, purpose=purpose, level=3,
                               detail={"batch_no": batch.batch_no, "step": "import_results"}, clock=clock)
    report = ImportReport(batch.batch_no)
    try:
        good = _read_lines(decode(content), report)
        now = clock()
        stored = {r.line_no: r for r in session.scalars(select(PaymentResult)
                                                        .where(PaymentResult.batch_no == batch.batch_no))}
        for line_no, (order_no, person, amount, paid_on, status) in good:
            held = stored.get(line_no)
            if held is not None:
                same = (held.order_no, held.payee_person_id, cents(held.amount), held.paid_on,
                        held.bank_status) == (order_no, person, amount, paid_on, status)
                if same:
                    report.already += 1
                else:
                    report.bad.append(BadLine(line_no, "与此前导入的本批次结果文件同一行的内容不同,未导入"
                                                       "(一个批次只接受银行的一份结果文件)"))
                continue
            session.add(PaymentResult(batch_no=batch.batch_no, line_no=line_no, order_no=order_no,
                                      payee_person_id=person, amount=amount / 100, paid_on=paid_on,
                                      bank_status=status, imported_at=now, updated_at=now))
            report.stored += 1
        session.flush()
        _reconcile(session, batch, report, clock)
        report.bad.sort(key=lambda b: b.line_no)
        audit.append(session, actor=user.username, role=user.role, action="payment_results_imported",
                     outcome="success", region_code=batch.region_code, purpose=purpose,
                     detail={"batch_no": batch.batch_no, "lines": report.lines, "stored": report.stored,
                             "already": report.already, "bad": len(report.bad), "paid": len(report.paid),
                             "issues": len(report.issues)}, clock=clock)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return report


def _notify_paid(session: Session, order: DisbursementOrder, *, clock: audit.Clock) -> None:
    """Tell the case that the month's payment reached the payee (the lead's hook in the case flow)."""
    from assistance import cases

    cases.order_paid(session, order, clock=clock)


def _lines(results: list[PaymentResult]) -> str:
    return "、".join(str(r.line_no) for r in results)


def _findings(order: DisbursementOrder, results: list[PaymentResult]) -> list[tuple[str, str]]:
    """What is wrong with the payment of ``order`` given the bank's lines for it (empty: paid)."""
    if not results:
        return [("missing", "银行结果文件中没有该拨付单的发放记录")]
    paid = [r for r in results if r.bank_status == "success"]
    if len(paid) >= 2:
        return [("duplicate", f"银行结果中该拨付单有{len(paid)}条发放成功记录(第{_lines(paid)}行),应为1条")]
    if not paid:
        return [("failed", f"银行发放失败(第{_lines(results)}行),款项未到账")]
    line, found = paid[0], []
    if cents(line.amount) != cents(order.amount):
        sent, due = yuan(cents(line.amount)), yuan(cents(order.amount))
        found.append(("wrong_amount", f"银行发放金额{sent}元与拨付金额{due}元不符(第{line.line_no}行)"))
    if line.payee_person_id.strip().upper() != order.payee_person_id.strip().upper():
        found.append(("wrong_payee", f"银行记录的收款人证件号码与拨付单收款人不一致(第{line.line_no}行)"))
    return found


def _reconcile(session: Session, batch: PaymentBatch, report: ImportReport, clock: audit.Clock) -> None:
    now = clock()
    orders = {o.order_no: o for o in session.scalars(select(DisbursementOrder)
                                                     .where(DisbursementOrder.batch_no == batch.batch_no))}
    issues = list(session.scalars(select(ReconciliationIssue)
                                  .where(ReconciliationIssue.batch_no == batch.batch_no)))
    raised = {(i.order_no, i.kind) for i in issues}
    # Orders sent back for payment after a failure left this batch; their old lines are settled.
    settled = {i.order_no for i in issues if i.kind in REQUEUE_KINDS and i.status == "resolved"} - set(orders)
    by_order: dict[str, list[PaymentResult]] = defaultdict(list)

    def flag(order_no: str, kind: str, detail: str) -> None:
        if (order_no, kind) in raised:
            return
        issue = ReconciliationIssue(batch_no=batch.batch_no, order_no=order_no, kind=kind, detail=detail,
                                    status="open", raised_at=now, updated_at=now)
        session.add(issue)
        raised.add((order_no, kind))
        issues.append(issue)
        report.issues.append(issue)

    for result in session.scalars(select(PaymentResult).where(PaymentResult.batch_no == batch.batch_no)
                                  .order_by(PaymentResult.line_no)):
        if result.order_no in orders:
            by_order[result.order_no].append(result)
        elif result.order_no not in settled:
            flag(result.order_no, "unknown_order", f"第{result.line_no}行的拨付单号不属于本批次"
                                                   f"(金额{yuan(cents(result.amount))}元)")
    for order_no in sorted(orders):
        order = orders[order_no]
        found = _findings(order, by_order.get(order_no, []))
        for kind, detail in found:
            flag(order_no, kind, detail)
        kinds = {kind for kind, _ in found}
        for stale in (i for i in issues if i.order_no == order_no and i.status == "open"
                      and i.kind not in kinds and i.kind != "unknown_order"):
            # A later line of the bank's file settled what an earlier, shorter file left open.
            stale.status, stale.resolved_by, stale.updated_at = "resolved", RECONCILE_ACTOR, now
            stale.resolution_note = "后续导入的银行结果已与拨付单一致"
        if order.status == "paid":
            continue  # a payment that reached the payee never goes back; a new issue still flags it
        target = "mismatch" if kinds - {"failed"} else ("failed" if kinds else "paid")
        if target == order.status:
            continue
        order.status, order.updated_at = target, now
        if target == "paid":
            report.paid.append(order_no)
            _notify_paid(session, order, clock=clock)
        elif target == "failed":
            report.failed.append(order_no)
    batch.status, batch.updated_at = "reconciled", now
    session.flush()
    report.open_issues = sum(1 for i in issues if i.status == "open")


def resolve_issue(session: Session, user: access.Principal, issue_id: int, note: str, *,
                  requeue: bool = False, clock: audit.Clock = audit.utc_now) -> ReconciliationIssue:
    """Close a reconciliation issue with what was found; ``requeue`` sends an order the bank did not
    pay (failed, missing) back to ``checked`` so that it goes into the next payment file."""
    issue = session.get(ReconciliationIssue, issue_id)
    if issue is None:
        raise PaymentError("ISSUE_UNKNOWN", f"没有编号为{issue_id}的对账差异")
    note = (note or "").strip()
    if not note:
        raise PaymentError("NOTE_MISSING", "处理对账差异须写明处理情况")
    batch = _batch(session, issue.batch_no)
    order = None
    if issue.order_no:
        order = session.scalar(select(DisbursementOrder).where(DisbursementOrder.order_no == issue.order_no,
                                                               DisbursementOrder.batch_no == batch.batch_no))
    access.authorize_and_audit(session, user, "manage_funds", batch.region_code,
                               _subject(order) if order is not None else None, purpose="处理资金发放对账差异",
                               detail={"issue_id": issue.id, "kind": issue.kind, "batch_no": batch.batch_no,
                                       "requeue": requeue}, clock=clock)
    if issue.status != "open":
        raise PaymentError("ISSUE_RESOLVED", f"对账差异{issue.id}已经处理")
    now = clock()
    if requeue:
        if issue.kind not in REQUEUE_KINDS or order is None:
            raise PaymentError("REQUEUE_REFUSED", "只有发放失败或银行未返回结果的拨付单可以重新发放")
        others = session.scalar(select(func.count()).select_from(ReconciliationIssue).where(
            ReconciliationIssue.batch_no == batch.batch_no, ReconciliationIssue.order_no == order.order_no,
            ReconciliationIssue.status == "open", ReconciliationIssue.id != issue.id)) or 0
        if others:
            raise PaymentError("REQUEUE_REFUSED", f"拨付单{order.order_no}还有其他未处理的对账差异,不能重新发放")
        order.status, order.batch_no, order.updated_at = "checked", None, now
    issue.status, issue.resolved_by, issue.resolution_note = "resolved", user.username, note
    issue.updated_at = now
    session.commit()
    return issue


# --- the month at a glance ---------------------------------------------------------------------------------


@dataclass
class FundsSummary:
    period: str
    region_code: str
    by_status: dict[str, tuple[int, str]]  # status → (orders, amount in yuan as text)
    orders: int
    amount: str
    awaiting_check: int  # spot-checked, waiting for a finance officer
    batches: int
    open_issues: dict[str, int]  # kind → open issues


def summary(session: Session, region_code: str, period: str) -> FundsSummary:
    """Counts and amounts of the region's orders of ``period`` by status, its batches, its open issues
    (figures only: no payee appears)."""
    _check_period(period)
    region_code = _check_region(region_code)
    rows = session.execute(
        select(DisbursementOrder.status, DisbursementOrder.spot_check, DisbursementOrder.amount)
        .where(DisbursementOrder.period == period, _inside(region_code))).all()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    awaiting = 0
    for status, spot, amount in rows:
        counts[status][0] += 1
        counts[status][1] += cents(amount)
        awaiting += status == "pending_check" and bool(spot)
    prefix = sqlguard.jurisdiction_prefix(region_code)
    batch_nos = list(session.scalars(select(PaymentBatch.batch_no).where(
        PaymentBatch.period == period, PaymentBatch.region_code.like(prefix + "%"))))
    open_issues: dict[str, int] = {}
    if batch_nos:
        open_issues = {kind: int(n) for kind, n in session.execute(
            select(ReconciliationIssue.kind, func.count()).where(ReconciliationIssue.batch_no.in_(batch_nos),
                                                                 ReconciliationIssue.status == "open")
            .group_by(ReconciliationIssue.kind))}
    by_status = {s: (counts[s][0], yuan(counts[s][1])) for s in STATUS_ZH if s in counts}
    return FundsSummary(period, region_code, by_status, len(rows), yuan(sum(c[1] for c in counts.values())),
                        awaiting, len(batch_nos), open_issues)


# --- 资金拨付单 (printed): the order with its amount's breakdown --------------------------------------------

_ORDER_TEMPLATES = Path(__file__).resolve().parent / "templates"
_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_SECTIONS = ("", "万", "亿", "万亿")


def amount_in_capitals(amount: Decimal) -> str:
    """人民币大写 as vouchers print it: 1,677.50 → 壹仟陆佰柒拾柒元伍角整."""
    fen_total = int((Decimal(str(amount)).quantize(_CENT, rounding=ROUND_HALF_UP) * 100).to_integral_value())
    if fen_total < 0:
        return "负" + amount_in_capitals(Decimal(-fen_total) / 100)
    yuan_part, jiao, fen = fen_total // 100, fen_total // 10 % 10, fen_total % 10
    text = ""
    if yuan_part:
        sections = []
        n = yuan_part
        while n:
            sections.append(n % 10000)
            n //= 10000
        pending_zero = False
        for index in range(len(sections) - 1, -1, -1):
            section, out = sections[index], ""
            if section == 0:
                pending_zero = bool(text)
                continue
            if text and (pending_zero or section < 1000):
                out += "零"
            pending_zero = False
            digits = f"{section:04d}"
            started = False
            for i, d in enumerate(digits):
                if d == "0":
                    if started and any(x != "0" for x in digits[i:]) and not out.endswith("零"):
                        out += "零"
                    continue
                started = True
                out += _DIGITS[int(d)] + _UNITS[3 - i]
            text += out.lstrip("零") if not text else out
            text += _SECTIONS[index]
        text += "元"
    if not jiao and not fen:
        return (text or "零元") + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    else:
        text += "整"
    return text


def order_form_pdf(session: Session, user: access.Principal, order_no: str, *,
                   clock: audit.Clock = audit.utc_now) -> tuple[str, bytes]:
    """The order as a printable A4 voucher with its amount's breakdown (a read of the payee: audited)."""
    import jinja2  # noqa: PLC0415

    from assistance import catalogue as _catalogue  # noqa: PLC0415
    from jiuzhu.business.models import AssistanceCase  # noqa: PLC0415
    from verification import report, signing  # noqa: PLC0415

    order = _order(session, order_no)
    access.authorize_and_audit(session, user, "manage_funds", order.region_code, _subject(order),
                               purpose=f"打印资金拨付单{order.order_no}", detail={"order_no": order.order_no}, clock=clock)
    case = session.get(AssistanceCase, order.case_id)
    breakdown = entitlement.Breakdown.from_dict(json.loads(order.breakdown_json)) if order.breakdown_json else None
    now = clock()
    content = {
        "order_no": order.order_no, "period": order.period, "acceptance_no": case.acceptance_no if case else "",
        "item": _catalogue.CATEGORIES.get(case.category, case.category) if case else "",
        "region": regions.load().full_name(order.region_code), "payee": order.payee_name,
        "channel": CHANNELS.get(order.channel, order.channel), "account": "**** " + order.account_no[-4:],
        "status": STATUS_ZH.get(order.status, order.status), "amount": f"{Decimal(str(order.amount)):,.2f}",
        "amount_upper": amount_in_capitals(Decimal(str(order.amount))),
        "lines": [{"label": ln.label_zh, "amount": f"{ln.amount:,.2f}", "detail": ln.detail_zh}
                  for ln in (breakdown.lines if breakdown else [])],
        "basis": breakdown.text_zh()[1] if breakdown else "", "exit": next(
            (t for t in breakdown.text_zh() if t.startswith("渐退期第")), "") if breakdown else "",
        "printed_at": now.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"), "printed_at_iso": now.isoformat(),
        "printed_by": user.username}
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_ORDER_TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    html = env.get_template("order.html").render(o=content, demo=signing.load_signer().demo)
    pdf = report.write_pdf_at(html, _ORDER_TEMPLATES, now)
    return f"资金拨付单_{order.order_no}.pdf", pdf

