"""电子监察 over cases (BZ-6): rules over the business tables that raise ``CaseAlert`` rows for the
supervisors, who handle each one with a note.

Five rules, each finding keyed by rule and object (``dedup_key``) so a rescan never raises the same
finding twice (an open alert's severity and message follow the facts, e.g. more days overdue):

  - ``overdue_step``: a step still to do (or suspended) past its time limit, or one the flow engine
    escalated; severity by working days overdue (``jiuzhu.workdays``), 5 or more is high;
  - ``approval_outside_policy``: an approval that passed although the verification found the family
    not eligible (不符合), an approved amount above the policy cap, or an approval without a
    verification result on a flow that has a verification step;
  - ``payment_without_approval``: a disbursement order of a case that is not approved, of a benefit
    that does not exist or has ended, or for a month outside the benefit's months;
  - ``aided_twice``: one person in two active benefits of the same category or of exclusive
    categories (the effective catalogue definition's ``exclusive_with``), anywhere in the province;
  - ``relative_approval``: an acceptance, review or approval handled by an officer who filed one of
    the family's members as a close relative (``assistance.relatives``).

Messages are in Chinese and name cases by acceptance number, orders by order number and offices by
region: never a person's name or ID. ``scan`` is run by the platform's job (and on demand from the
电子监察 page); ``handle`` closes an alert with the supervisor's note.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import and_, distinct, func, or_, select, true, union
from sqlalchemy.orm import Session

from assistance import catalogue, flows
from jiuzhu import access, audit, policy, regions, sqlguard, workdays
from jiuzhu.business.models import (
    AssistanceCase,
    Benefit,
    CaseAlert,
    CaseMember,
    CaseStep,
    DisbursementOrder,
    StaffRelative,
)
from jiuzhu.errors import CodedError
from jiuzhu.supervision import BEIJING

RULES = {
    "overdue_step": "环节超期",
    "approval_outside_policy": "超出政策审批",
    "payment_without_approval": "未经审批或超范围拨付",
    "aided_twice": "重复救助",
    "relative_approval": "经办近亲属案件未回避",
}
SEVERITY_ZH = {"high": "高", "medium": "中", "low": "低"}
STATUS_ZH = {"open": "待处理", "handled": "已处理"}
CASE_STATUS_ZH = {"in_progress": "办理中", "suspended": "已中止", "approved": "已批准", "refused": "不予批准",
                  "withdrawn": "已撤回", "closed": "已办结"}
ACTOR = "system:casewatch"
HIGH_OVERDUE_WORKDAYS = 5
MEDIUM_OVERDUE_WORKDAYS = 2
APPROVED = ("approved", "closed")
UNSETTLED = ("pending_check", "checked", "in_batch")
# Exclusive when the catalogue cannot say (no published definition): 低保 and 特困 never together.
DEFAULT_EXCLUSIVE = {"dibao": ("dibao", "tekun"), "tekun": ("dibao", "tekun")}
HANDLED_KINDS = {"acceptance": "受理", "review": "审核", "approval": "审批"}
AMOUNT_TOLERANCE = 0.005  # yuan: amounts are floats rounded to fen
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_CHUNK = 500


class CaseWatchError(CodedError):
    """A supervision step refused, with why (Chinese)."""


@dataclass(frozen=True)
class Finding:
    rule: str
    dedup_key: str
    case_id: int | None
    region_code: str
    severity: str
    message: str
    detail: dict = field(default_factory=dict)


def _chunks(items: list, size: int = _CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _place(code: str | None) -> str:
    tree = regions.load()
    return tree.full_name(code) if code and code in tree else (code or "—")


def _case_filter(column, case_ids: set[int] | None):
    return column.in_(sorted(case_ids)) if case_ids is not None else true()


def _month_zh(period: str) -> str:
    return f"{period[:4]}年{int(period[5:7])}月"


# --- overdue steps -------------------------------------------------------------------------------------------


def overdue_steps(session: Session, now: _dt.datetime, case_ids: set[int] | None = None) -> list[Finding]:
    rows = session.execute(
        select(CaseStep, AssistanceCase.acceptance_no, AssistanceCase.region_code)
        .join(AssistanceCase, AssistanceCase.id == CaseStep.case_id)
        .where(CaseStep.status.in_(("todo", "suspended")),
               or_(CaseStep.due_at < now, CaseStep.escalated_to.is_not(None)),
               _case_filter(CaseStep.case_id, case_ids))
        .order_by(CaseStep.id))
    out = []
    for step, acceptance_no, case_region in rows:
        late = step.due_at < now
        days = workdays.working_days_between(step.due_at, now) if late else 0
        if days >= HIGH_OVERDUE_WORKDAYS:
            severity = "high"
        elif days >= MEDIUM_OVERDUE_WORKDAYS or step.escalated_to:
            severity = "medium"
        else:
            severity = "low"
        if not late:
            text = f"受理编号{acceptance_no}的{step.name_zh}环节已被提级督办"
        elif days:
            text = f"受理编号{acceptance_no}的{step.name_zh}环节已超期{days}个工作日"
        else:
            text = f"受理编号{acceptance_no}的{step.name_zh}环节已超过办理时限(超期不足1个工作日)"
        text += f"(承办:{_place(step.office_code)}"
        if step.status == "suspended":
            text += ",环节处于中止状态"
        if step.escalated_to and late:
            text += f",已提级至{_place(step.escalated_to)}督办"
        text += ")"
        out.append(Finding(
            "overdue_step", f"overdue_step:{step.id}", step.case_id, case_region, severity, text,
            {"step_id": step.id, "step_code": step.step_code, "status": step.status,
             "due_at": step.due_at.isoformat(), "working_days_overdue": days, "escalated_to": step.escalated_to}))
    return out


# --- approvals outside policy --------------------------------------------------------------------------------


def _area_type(case: AssistanceCase) -> str | None:
    code = case.aid_item_code
    if code.endswith("_urban"):
        return "urban"
    if code.endswith("_rural"):
        return "rural"
    tree = regions.load()
    kind = tree.get(case.region_code).urban_rural if case.region_code in tree else None
    return kind if kind in ("urban", "rural") else None


def policy_cap(case: AssistanceCase, household_size: int, on: _dt.date) -> tuple[float | None, str]:
    """The highest monthly amount policy allows the case, and its basis.

    低保 tops the family's income up to the local standard, so the standard × household size bounds
    it (the local standard of ``jiuzhu.policy``; where the item does not say urban or rural and the
    township is mixed, the higher of the two). Other items — 特困 adds a care allowance by self-care
    level that the policy tables do not hold — are bounded by the amount the case proposed."""
    if case.category == "dibao" and household_size > 0:
        areas = [_area_type(case)] if _area_type(case) else ["urban", "rural"]
        amounts = []
        for area in areas:
            try:
                amounts.append(policy.standard(case.region_code[:6], area, "dibao", on).amount_yuan)
            except LookupError:
                continue
        if amounts:
            return max(amounts) * household_size, "standard"
    if case.proposed_amount is not None:
        return float(case.proposed_amount), "proposed"
    return None, "unknown"


@cache
def _has_verification(flow_code: str) -> bool | None:
    try:
        return any(s.kind == "verification" for s in flows.get(flow_code).steps)
    except flows.FlowError:
        return None


def approvals_outside_policy(session: Session, case_ids: set[int] | None = None) -> list[Finding]:
    sizes = (select(CaseMember.case_id, func.count().label("members")).group_by(CaseMember.case_id)
             .subquery())
    rows = session.execute(
        select(CaseStep, AssistanceCase, sizes.c.members).join(AssistanceCase, AssistanceCase.id == CaseStep.case_id)
        .outerjoin(sizes, sizes.c.case_id == CaseStep.case_id)
        .where(CaseStep.kind == "approval", CaseStep.outcome == "pass", _case_filter(CaseStep.case_id, case_ids))
        .order_by(CaseStep.id))
    out = []
    for step, case, members in rows:
        reasons, codes, severity = [], [], "medium"
        if case.assessment == "不符合":
            reasons.append("家庭经济状况核对结论为“不符合”")
            codes.append("ASSESSED_INELIGIBLE")
            severity = "high"
        if case.assessment is None and _has_verification(case.flow_code):
            reasons.append("未取得家庭经济状况核对结果即审批")
            codes.append("NOT_VERIFIED")
            severity = "high"
        decided = step.completed_at or case.decided_at or step.updated_at
        cap, basis = policy_cap(case, int(members or 0), decided.astimezone(BEIJING).date())
        if case.approved_amount is not None and cap is not None and case.approved_amount > cap + AMOUNT_TOLERANCE:
            limit = "当地低保标准×家庭人口" if basis == "standard" else "拟救助金额"
            reasons.append(f"核定月救助金{case.approved_amount:,.2f}元,超过政策上限{cap:,.2f}元({limit})")
            codes.append("AMOUNT_ABOVE_CAP")
        if not reasons:
            continue
        out.append(Finding(
            "approval_outside_policy", f"approval_outside_policy:{step.id}", case.id, case.region_code, severity,
            f"受理编号{case.acceptance_no}的{step.name_zh}由{step.handled_by or '—'}批准,但" + ";".join(reasons),
            {"step_id": step.id, "reasons": codes, "approved_by": step.handled_by, "assessment": case.assessment,
             "approved_amount": case.approved_amount, "cap": cap, "cap_basis": basis}))
    return out


# --- payments without approval -------------------------------------------------------------------------------


def payments_without_approval(session: Session, case_ids: set[int] | None = None) -> list[Finding]:
    rows = session.execute(
        select(DisbursementOrder, AssistanceCase, Benefit)
        .outerjoin(AssistanceCase, AssistanceCase.id == DisbursementOrder.case_id)
        .outerjoin(Benefit, Benefit.id == DisbursementOrder.benefit_id)
        .where(DisbursementOrder.status != "returned",  # stopped by the finance check: the check worked
               _case_filter(DisbursementOrder.case_id, case_ids),
               or_(AssistanceCase.id.is_(None), AssistanceCase.status.not_in(APPROVED), Benefit.id.is_(None),
                   and_(Benefit.end_period.is_not(None), DisbursementOrder.period > Benefit.end_period),
                   DisbursementOrder.period < Benefit.start_period,
                   and_(Benefit.status == "ended", Benefit.end_period.is_(None),
                        DisbursementOrder.status.in_(UNSETTLED))))
        .order_by(DisbursementOrder.id))
    out = []
    for order, case, benefit in rows:
        if case is None:
            why, code = "没有对应的救助案件", "NO_CASE"
        elif case.status not in APPROVED:
            why, code = f"对应案件尚未批准(案件状态:{CASE_STATUS_ZH.get(case.status, case.status)})", "NOT_APPROVED"
        elif benefit is None:
            why, code = "没有对应的救助待遇", "NO_BENEFIT"
        elif benefit.end_period and order.period > benefit.end_period:
            why, code = f"救助待遇已于{_month_zh(benefit.end_period)}停发", "AFTER_END"
        elif order.period < benefit.start_period:
            why, code = f"救助待遇自{_month_zh(benefit.start_period)}起发放", "BEFORE_START"
        else:
            why, code = "救助待遇已终止", "BENEFIT_ENDED"
        paid = order.status in ("paid", "in_batch")
        state = {"paid": "已拨付", "in_batch": "已纳入发放批次", "failed": "发放失败", "mismatch": "对账不符"}.get(
            order.status, "待拨付")
        prefix = f"受理编号{case.acceptance_no}的" if case is not None else ""
        out.append(Finding(
            "payment_without_approval", f"payment_without_approval:{order.id}", order.case_id,
            order.region_code, "high" if paid else "medium",
            f"{prefix}拨付单{order.order_no}({_month_zh(order.period)},{state}){why},不应拨付",
            {"order_id": order.id, "order_no": order.order_no, "period": order.period, "order_status": order.status,
             "reason": code}))
    return out


# --- the same person aided twice -----------------------------------------------------------------------------


def _exclusive(session: Session, benefit: Benefit, memo: dict) -> tuple[str, ...]:
    key = (benefit.aid_item_code, benefit.region_code)
    if key not in memo:
        try:
            memo[key] = tuple(catalogue.effective(session, benefit.aid_item_code, benefit.region_code).exclusive_with)
        except (catalogue.CatalogueError, regions.UnknownRegion):
            memo[key] = DEFAULT_EXCLUSIVE.get(benefit.category, ())
    return memo[key]


def aided_twice(session: Session, case_ids: set[int] | None = None) -> list[Finding]:
    members = (select(Benefit.id.label("benefit_id"), CaseMember.person_id.label("person_id"))
               .join(CaseMember, CaseMember.case_id == Benefit.case_id).where(Benefit.status == "active"))
    holders = select(Benefit.id.label("benefit_id"), Benefit.holder_person_id.label("person_id")).where(
        Benefit.status == "active")
    persons = union(members, holders).subquery()
    shared = (select(persons.c.person_id).group_by(persons.c.person_id)
              .having(func.count(distinct(persons.c.benefit_id)) > 1))
    if case_ids is not None:
        shared = shared.where(persons.c.person_id.in_(
            select(CaseMember.person_id).where(CaseMember.case_id.in_(sorted(case_ids)))))
    by_person: dict[str, set[int]] = defaultdict(set)
    for person, benefit_id in session.execute(
            select(persons.c.person_id, persons.c.benefit_id).where(persons.c.person_id.in_(shared))):
        by_person[person].add(benefit_id)
    if not by_person:
        return []
    ids = sorted({b for bs in by_person.values() for b in bs})
    benefits: dict[int, Benefit] = {}
    for chunk in _chunks(ids):
        benefits.update({b.id: b for b in session.scalars(select(Benefit).where(Benefit.id.in_(chunk)))})
    cases = {}
    for chunk in _chunks(sorted({b.case_id for b in benefits.values()})):
        cases.update(dict(session.execute(select(AssistanceCase.id, AssistanceCase.acceptance_no)
                                          .where(AssistanceCase.id.in_(chunk))).all()))
    memo: dict = {}
    pairs: dict[tuple[int, int], int] = defaultdict(int)
    for held in by_person.values():
        ordered = sorted(held)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                pairs[(a, b)] += 1
    out = []
    for (a, b), count in sorted(pairs.items()):
        first, second = benefits[a], benefits[b]
        same = first.category == second.category
        if not (same or second.category in _exclusive(session, first, memo)
                or first.category in _exclusive(session, second, memo)):
            continue
        older, newer = sorted((first, second), key=lambda x: (x.created_at, x.id))
        what = catalogue.CATEGORIES.get(older.category, older.category)
        kind = "重复享受同类救助" if same else "同时享受互斥的救助"
        if case_ids is not None and newer.case_id not in case_ids and older.case_id not in case_ids:
            continue
        out.append(Finding(
            "aided_twice", f"aided_twice:{a}:{b}", newer.case_id, newer.region_code,
            "high" if {first.category, second.category} & {"dibao", "tekun"} else "medium",
            f"受理编号{cases.get(newer.case_id, '—')}的家庭中有{count}人已在享受有效的{what}"
            f"(受理编号{cases.get(older.case_id, '—')},{_place(older.region_code)}),{kind}",
            {"benefit_ids": [newer.id, older.id], "categories": [newer.category, older.category], "persons": count,
             "other_region": older.region_code}))
    return out


# --- officers handling a relative's case ---------------------------------------------------------------------


def relative_approvals(session: Session, case_ids: set[int] | None = None) -> list[Finding]:
    handled = and_(CaseStep.kind.in_(tuple(HANDLED_KINDS)), CaseStep.handled_by.is_not(None),
                   _case_filter(CaseStep.case_id, case_ids))
    via_members = (select(CaseStep.id, StaffRelative.relation_zh, StaffRelative.person_id)
                   .join(CaseMember, CaseMember.case_id == CaseStep.case_id)
                   .join(StaffRelative, and_(StaffRelative.person_id == CaseMember.person_id,
                                             StaffRelative.username == CaseStep.handled_by))
                   .where(handled))
    via_applicant = (select(CaseStep.id, StaffRelative.relation_zh, StaffRelative.person_id)
                     .join(AssistanceCase, AssistanceCase.id == CaseStep.case_id)
                     .join(StaffRelative, and_(StaffRelative.person_id == AssistanceCase.applicant_person_id,
                                               StaffRelative.username == CaseStep.handled_by))
                     .where(handled))
    found: dict[int, dict[str, str]] = defaultdict(dict)
    for step_id, relation, person in session.execute(union(via_members, via_applicant)):
        found[step_id][person] = relation
    out = []
    for step_id in sorted(found):
        step = session.get(CaseStep, step_id)
        case = session.get(AssistanceCase, step.case_id)
        relations = "、".join(sorted(set(found[step_id].values())))
        out.append(Finding(
            "relative_approval", f"relative_approval:{step.id}", case.id, case.region_code, "high",
            f"受理编号{case.acceptance_no}的{step.name_zh}环节由{step.handled_by}办理,而申请家庭中有其备案的近亲属"
            f"({relations}),应当回避",
            {"step_id": step.id, "step_code": step.step_code, "handled_by": step.handled_by,
             "relatives": len(found[step_id])}))
    return out


def must_visit(session: Session, case: AssistanceCase) -> bool:
    """True when a member of the family (or the applicant) is on file as a close relative of staff or
    of a village cadre: the application then needs a home visit (入户调查), whoever handles it."""
    people = set(session.scalars(select(CaseMember.person_id).where(CaseMember.case_id == case.id)))
    people.add(case.applicant_person_id)
    return session.scalar(select(func.count()).select_from(StaffRelative)
                          .where(StaffRelative.person_id.in_(sorted(people)))) > 0


# --- the scan and the handling -------------------------------------------------------------------------------


def findings(session: Session, now: _dt.datetime, case_ids: set[int] | None = None) -> list[Finding]:
    """What the five rules find now (nothing written)."""
    return [*overdue_steps(session, now, case_ids), *approvals_outside_policy(session, case_ids),
            *payments_without_approval(session, case_ids), *aided_twice(session, case_ids),
            *relative_approvals(session, case_ids)]


def scan(session: Session, *, clock: audit.Clock = audit.utc_now,
         case_ids: Iterable[int] | None = None) -> list[CaseAlert]:
    """Run every rule and write what is new as open alerts; returns the alerts raised by this scan.

    ``case_ids`` limits the scan to some cases (the flow engine's immediate check after a step).
    An open alert found again takes the current severity and message; a handled one stays closed."""
    now = clock()
    found = findings(session, now, set(case_ids) if case_ids is not None else None)
    existing: dict[str, CaseAlert] = {}
    for chunk in _chunks([f.dedup_key for f in found]):
        existing.update({a.dedup_key: a for a in session.scalars(select(CaseAlert)
                                                                   .where(CaseAlert.dedup_key.in_(chunk)))})
    raised, updated = [], 0
    for f in found:
        detail = json.dumps(f.detail, ensure_ascii=False, sort_keys=True, default=str)
        alert = existing.get(f.dedup_key)
        if alert is None:
            alert = CaseAlert(rule=f.rule, dedup_key=f.dedup_key, case_id=f.case_id, region_code=f.region_code,
                              severity=f.severity, message=f.message, detail_json=detail, status="open",
                              raised_at=now, updated_at=now)
            session.add(alert)
            existing[f.dedup_key] = alert
            raised.append(alert)
        elif alert.status == "open" and (alert.severity, alert.message, alert.detail_json) != (
                f.severity, f.message, detail):
            alert.severity, alert.message, alert.detail_json, alert.updated_at = f.severity, f.message, detail, now
            updated += 1
    session.flush()
    counts = defaultdict(int)
    for a in raised:
        counts[a.rule] += 1
    audit.record(session, actor=ACTOR, action="case_supervision_scan", outcome="success",
                 detail={"raised": len(raised), "updated": updated, "by_rule": dict(sorted(counts.items())),
                         "scope": "cases" if case_ids is not None else "all"}, clock=clock)
    return raised


def handle(session: Session, user: access.Principal, alert_id: int, note: str,
           clock: audit.Clock = audit.utc_now) -> CaseAlert:
    """处理: the supervisor closes an alert with what was found and done (the note is required)."""
    alert = session.get(CaseAlert, alert_id)
    if alert is None:
        raise CaseWatchError("ALERT_UNKNOWN", f"没有编号为{alert_id}的监察预警")
    if not (note or "").strip():
        raise CaseWatchError("NOTE_MISSING", "处理监察预警须写明处理意见(核实情况和处理结果)")
    access.authorize_and_audit(session, user, "handle_supervision", alert.region_code,
                               purpose=f"处理案件监察预警{alert.id}",
                               detail={"alert_id": alert.id, "rule": alert.rule}, clock=clock)
    if alert.status != "open":
        when = alert.handled_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if alert.handled_at else ""
        raise CaseWatchError("ALERT_HANDLED", f"该预警已由{alert.handled_by}于{when}处理")
    now = clock()
    alert.status, alert.handled_by, alert.handling_note = "handled", user.username, note.strip()
    alert.handled_at = alert.updated_at = now
    session.commit()
    return alert


def open_alerts(session: Session, user: access.Principal, *, rule: str | None = None,
                include_handled: bool = False, clock: audit.Clock = audit.utc_now) -> list[CaseAlert]:
    """The alerts inside the user's jurisdiction (open ones unless ``include_handled``), most severe and
    oldest first. Looking is audited."""
    if rule is not None and rule not in RULES:
        raise CaseWatchError("RULE_UNKNOWN", f"未知的监察规则:{rule}")
    access.authorize_and_audit(session, user, "view_supervision", user.jurisdiction_code,
                               purpose="电子监察:案件监察预警", detail={"rule": rule or "all"}, clock=clock)
    prefix = sqlguard.jurisdiction_prefix(user.jurisdiction_code)
    query = select(CaseAlert).where(CaseAlert.region_code.like(prefix + "%"))
    if not include_handled:
        query = query.where(CaseAlert.status == "open")
    if rule is not None:
        query = query.where(CaseAlert.rule == rule)
    order = {"high": 0, "medium": 1, "low": 2}
    found = [a for a in session.scalars(query) if regions.contains(user.jurisdiction_code, a.region_code)]
    return sorted(found, key=lambda a: (a.status != "open", order.get(a.severity, 3), a.raised_at, a.id))


# --- indicators ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicators:
    region_code: str
    period: str
    by_rule: dict[str, dict[str, int]]  # rule → {"open": n, "handled": n} of the alerts raised in the month
    steps_due: int  # steps (publicity excepted) whose time limit fell in the month and has passed
    steps_late: int  # of those, finished after the limit or still not finished
    overdue_rate: float | None
    avg_alert_handling_hours: float | None  # alerts handled in the month: raised → handled
    avg_step_working_days: float | None  # steps finished in the month: started → finished

    @property
    def open_total(self) -> int:
        return sum(v["open"] for v in self.by_rule.values())

    @property
    def handled_total(self) -> int:
        return sum(v["handled"] for v in self.by_rule.values())


def month_bounds(period: str) -> tuple[_dt.datetime, _dt.datetime]:
    """The month ``YYYY-MM`` in Beijing time as aware UTC bounds [start, end)."""
    if not isinstance(period, str) or not _PERIOD.match(period):
        raise CaseWatchError("PERIOD_INVALID", f"月份须为“年-月”格式(如2025-03),现为{period!r}")
    year, month = int(period[:4]), int(period[5:7])
    start = _dt.datetime(year, month, 1, tzinfo=BEIJING)
    end = _dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=BEIJING)
    return start.astimezone(_dt.UTC), end.astimezone(_dt.UTC)


def indicators(session: Session, region_code: str, period: str, *,
               clock: audit.Clock = audit.utc_now) -> Indicators:
    """监察指标 of a region and month: alerts per rule (open, handled), the share of steps finished late,
    the average time to handle an alert and to finish a step."""
    start, end = month_bounds(period)
    region = regions.normalise_code(region_code)
    prefix = sqlguard.jurisdiction_prefix(region)
    now = clock()
    by_rule = {rule: {"open": 0, "handled": 0} for rule in RULES}
    alerts = list(session.scalars(select(CaseAlert).where(CaseAlert.region_code.like(prefix + "%"),
                                                          CaseAlert.raised_at >= start, CaseAlert.raised_at < end)))
    for a in alerts:
        if a.rule in by_rule:
            by_rule[a.rule]["handled" if a.status == "handled" else "open"] += 1
    handled = list(session.scalars(select(CaseAlert).where(CaseAlert.region_code.like(prefix + "%"),
                                                           CaseAlert.handled_at >= start, CaseAlert.handled_at < end)))
    hours = [(a.handled_at - a.raised_at).total_seconds() / 3600 for a in handled]
    in_region = select(AssistanceCase.id).where(AssistanceCase.region_code.like(prefix + "%"))
    due = list(session.scalars(select(CaseStep).where(CaseStep.case_id.in_(in_region), CaseStep.kind != "publicity",
                                                      CaseStep.due_at >= start, CaseStep.due_at < end,
                                                      CaseStep.due_at < now)))
    late = [s for s in due if (s.completed_at is not None and s.completed_at > s.due_at)
            or (s.completed_at is None and s.status != "done")]
    finished = list(session.scalars(select(CaseStep).where(CaseStep.case_id.in_(in_region),
                                                           CaseStep.kind != "publicity",
                                                           CaseStep.completed_at >= start, CaseStep.completed_at < end)))
    spans = [workdays.working_days_between(s.started_at, s.completed_at) for s in finished]
    return Indicators(
        region_code=region, period=period, by_rule=by_rule, steps_due=len(due), steps_late=len(late),
        overdue_rate=len(late) / len(due) if due else None,
        avg_alert_handling_hours=sum(hours) / len(hours) if hours else None,
        avg_step_working_days=sum(spans) / len(spans) if spans else None)
