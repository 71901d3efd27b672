"""一门受理、协同办理 (BZ-2, BZ-3): a family's application, accepted once, then carried through its
aid item's flow (``flows.yaml``) by the offices responsible for the applicant's region, every step
within its time limit and on the record.

- ``accept``: intake with the household, members and materials (archived), the duplicate and
  cross-assistance check against current recipients of every item (business database and the civil
  affairs roster in the lake), the acceptance number (受理编号), and the verification request.
- ``complete``: an office finishes its step (pass, refuse, or return to the step before); the next
  step is routed to the applicant's own office at its level (township, county, …).
- ``transfer`` (转办), ``suspend``/``resume`` (the time limit stops while suspended).
- ``sweep``: time limits — 办结预警 before the limit, overdue steps escalated one level up; publicity
  periods that ran without objection closed; verification results taken over from the requests.
- ``inbox``: the todo, done and suspended lists of a user; ``progress``: what an applicant sees.

Every step is authorised for the user's role, level and office and audited before it happens.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc
from deltalake import DeltaTable
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistance import archives, benefits, catalogue, flows, funds
from jiuzhu import access, audit, ids, lake, masking, regions, workdays
from jiuzhu.business.models import (
    AidItem,
    ArchiveDocument,
    AssistanceCase,
    Benefit,
    CaseMember,
    CaseStep,
    DisbursementOrder,
    VerificationRequest,
)
from jiuzhu.errors import CodedError
from jiuzhu.supervision import BEIJING
from verification import requests as vr

STATUS_ZH = {"in_progress": "办理中", "suspended": "已挂起", "approved": "已批准", "refused": "不予批准",
             "withdrawn": "已撤回", "closed": "已办结"}
STEP_STATUS_ZH = {"todo": "待办", "suspended": "挂起", "done": "已办"}
OUTCOME_ZH = {"pass": "通过", "refuse": "不予通过", "return": "退回"}
RELATIONS_ZH = {"02": "户主", "10": "配偶", "20": "子女", "30": "子女", "40": "孙子女", "50": "父母",
                "60": "祖父母", "70": "兄弟姐妹", "99": "其他"}
# the civil-affairs roster's item names (silver assistance_roster) → catalogue categories
ROSTER_CATEGORY = {"城市低保": "dibao", "农村低保": "dibao", "城市特困": "tekun", "农村特困": "tekun",
                   "低保边缘": "margin"}
DEFAULT_EXCLUSIVE = {"dibao": ("dibao", "tekun"), "tekun": ("dibao", "tekun")}
SYSTEM = "system:casework"
log = logging.getLogger(__name__)


class CaseError(CodedError):
    """A case step refused, with why (Chinese, for the screen)."""


@dataclass(frozen=True)
class MemberIn:
    person_id: str
    name: str
    relation: str  # GB/T 4761: 02 户主, 10 配偶, 20 子女 …
    region_code: str | None = None


@dataclass(frozen=True)
class MaterialIn:
    name: str  # the material's name in the item's list
    filename: str
    content: bytes


@dataclass(frozen=True)
class Finding:
    """A member already receiving the same or an exclusive item (or applying for it) elsewhere."""

    member_no: int  # 1-based position in the application
    relation: str
    kind: str  # same_item | exclusive | pending
    item_zh: str
    region_zh: str
    source_zh: str

    @property
    def message_zh(self) -> str:
        what = {"same_item": "正在享受同一救助事项", "exclusive": "正在享受不能同时享受的救助",
                "pending": "已有同一救助事项的申请在办理中"}[self.kind]
        return (f"第{self.member_no}名成员({RELATIONS_ZH.get(self.relation, self.relation)}){what}:"
                f"{self.item_zh}({self.region_zh},{self.source_zh})")


# --- routing and time limits -------------------------------------------------------------------


def office_of(region_code: str, level: str) -> str:
    """The office responsible for ``region_code`` at ``level``: the enclosing region at that level."""
    tree = regions.load()
    wanted = flows.OFFICES[level]
    node = tree.get(region_code)
    while node is not None and node.level > wanted:
        node = tree.parent(node.code)
    if node is None or node.level != wanted:
        raise CaseError("ROUTING_FAILED", f"{tree.full_name(region_code)}没有{flows.OFFICE_ZH[level]}一级的办理机构")
    return node.code


def _due(start: _dt.datetime, step: flows.StepDef) -> _dt.datetime:
    if step.calendar_days is not None:
        return workdays.add_calendar_days(start, step.calendar_days).at
    return workdays.add_working_days(start, step.working_days or 0).at


def _now(clock: audit.Clock) -> _dt.datetime:
    return clock()


def _flow(case: AssistanceCase, flow_dir: Path | None = None) -> flows.Flow:
    return flows.get(case.flow_code, flow_dir)


def get(session: Session, acceptance_no: str) -> AssistanceCase:
    case = session.scalar(select(AssistanceCase).where(AssistanceCase.acceptance_no == (acceptance_no or "").strip()))
    if case is None:
        raise CaseError("CASE_UNKNOWN", f"没有受理编号为{acceptance_no}的救助申请")
    return case


def members_of(session: Session, case: AssistanceCase) -> list[CaseMember]:
    return list(session.scalars(select(CaseMember).where(CaseMember.case_id == case.id).order_by(CaseMember.id)))


def steps_of(session: Session, case: AssistanceCase) -> list[CaseStep]:
    return list(session.scalars(select(CaseStep).where(CaseStep.case_id == case.id).order_by(CaseStep.seq)))


def current_step(session: Session, case: AssistanceCase) -> CaseStep | None:
    return session.scalar(select(CaseStep).where(CaseStep.case_id == case.id, CaseStep.status != "done")
                          .order_by(CaseStep.seq.desc()))


def _subject(case: AssistanceCase) -> str:
    return masking.pseudonym(case.applicant_person_id)


# --- the duplicate / cross-assistance check (多重救助、交叉救助) --------------------------------


def _conflict(item: catalogue.ItemDefinition, other_code: str | None, other_category: str,
              other_excludes: tuple[str, ...]) -> str | None:
    if other_code == item.item_code:
        return "same_item"
    if other_code is None and other_category == item.category and item.category in DEFAULT_EXCLUSIVE:
        return "same_item"  # the roster names categories, not catalogue codes
    mine = item.exclusive_with or DEFAULT_EXCLUSIVE.get(item.category, ())
    if other_category in mine or item.category in other_excludes:
        return "exclusive"
    return None


def _roster_rows(lake_root: Path, person_ids: list[str]) -> list[dict]:
    """The newest month of the civil-affairs roster (silver assistance_roster) for these persons."""
    path = lake.table_path(lake_root, "silver", "assistance_roster")
    if not lake.exists(path):
        return []
    dataset = DeltaTable(str(path)).to_pyarrow_dataset()
    periods = dataset.to_table(columns=["period"]).column("period")
    if len(periods) == 0:
        return []
    latest = pc.max(periods).as_py()
    table = dataset.to_table(columns=["person_id", "aid_item", "region_code", "period"],
                             filter=(pc.field("period") == latest) & pc.field("person_id").isin(person_ids))
    return table.to_pylist()


def check_duplicates(session: Session, lake_root: Path | None, members: list[MemberIn],
                     item: catalogue.ItemDefinition, *, exclude_case_id: int | None = None) -> list[Finding]:
    """Members already receiving the same or an exclusive item anywhere in the province: active
    benefits and applications in progress in the business database, and the civil-affairs roster."""
    tree = regions.load()
    position = {m.person_id: (i + 1, m.relation) for i, m in enumerate(members)}
    findings: list[Finding] = []
    rows = session.execute(
        select(CaseMember.person_id, Benefit.aid_item_code, Benefit.category, Benefit.region_code)
        .join(Benefit, Benefit.case_id == CaseMember.case_id)
        .where(Benefit.status == "active", CaseMember.person_id.in_(list(position))))
    for person_id, code, category, region in rows:
        try:
            other = catalogue.effective(session, code, region)
            excludes = other.exclusive_with
            name = other.name_zh
        except catalogue.CatalogueError:
            excludes, name = DEFAULT_EXCLUSIVE.get(category, ()), catalogue.CATEGORIES.get(category, category)
        kind = _conflict(item, code, category, excludes)
        if kind:
            no, relation = position[person_id]
            findings.append(Finding(no, relation, kind, name, tree.full_name(region), "救助业务系统在保记录"))
    pending = session.execute(
        select(CaseMember.person_id, AssistanceCase.aid_item_code, AssistanceCase.region_code)
        .join(AssistanceCase, AssistanceCase.id == CaseMember.case_id)
        .where(AssistanceCase.status.in_(("in_progress", "suspended")), AssistanceCase.aid_item_code == item.item_code,
               CaseMember.person_id.in_(list(position)))
        .where(AssistanceCase.id != (exclude_case_id or -1)))
    for person_id, _code, region in pending:
        no, relation = position[person_id]
        findings.append(Finding(no, relation, "pending", item.name_zh, tree.full_name(region), "救助业务系统在办申请"))
    if lake_root is not None:
        for row in _roster_rows(Path(lake_root), list(position)):
            category = ROSTER_CATEGORY.get(row["aid_item"], "temporary")
            kind = _conflict(item, None, category, DEFAULT_EXCLUSIVE.get(category, ()))
            if kind:
                no, relation = position[row["person_id"]]
                region = row["region_code"]
                where = tree.full_name(region) if region in tree else region
                findings.append(Finding(no, relation, kind, row["aid_item"], where,
                                        f"民政救助名册{row['period']}"))
    return sorted(set(findings), key=lambda f: (f.member_no, f.kind, f.item_zh))


# --- acceptance (一门受理) -----------------------------------------------------------------------


def _normalise_members(members: list[MemberIn]) -> list[MemberIn]:
    if not members:
        raise CaseError("MEMBERS_MISSING", "申请须列明共同生活的家庭成员")
    out = []
    for i, m in enumerate(members, 1):
        try:
            number = ids.parse(m.person_id).number
        except ids.InvalidId as exc:
            raise CaseError(exc.code, f"第{i}名成员的身份证号码无效:{exc.message}") from None
        if not (m.name or "").strip():
            raise CaseError("NAME_MISSING", f"第{i}名成员缺少姓名")
        if m.relation not in RELATIONS_ZH:
            raise CaseError("RELATION_UNKNOWN", f"第{i}名成员与户主关系代码{m.relation}无效")
        out.append(MemberIn(number, m.name.strip(), m.relation, m.region_code))
    if len({m.person_id for m in out}) != len(out):
        raise CaseError("MEMBER_DUPLICATE", "同一成员在申请中出现了两次")
    return out


def check_materials(item: catalogue.ItemDefinition, materials: list[MaterialIn]) -> None:
    names = {m.name for m in materials}
    missing = [name for name in item.required_materials if name not in names]
    if missing:
        raise CaseError("MATERIALS_MISSING", f"缺少必备材料:{'、'.join(missing)}")
    known = {m.name for m in item.materials}
    for m in materials:
        if m.name not in known:
            raise CaseError("MATERIAL_UNKNOWN", f"“{m.name}”不是{item.name_zh}的申请材料")
        if not m.content:
            raise CaseError("MATERIAL_EMPTY", f"“{m.name}”的扫描件是空文件")
        if archives.sniff(m.content) is None:
            raise CaseError("MATERIAL_TYPE", f"“{m.name}”须为PDF或图片扫描件(PDF、PNG、JPEG、TIFF),{m.filename}不是")
        if len(m.content) > archives.MAX_BYTES:
            raise CaseError("MATERIAL_TOO_LARGE", f"“{m.name}”超过{archives.MAX_BYTES // 1024 // 1024}MB")


def _next_number(session: Session, now: _dt.datetime) -> str:
    day = now.astimezone(BEIJING).strftime("%Y%m%d")
    count = session.scalar(select(func.count()).select_from(AssistanceCase)
                           .where(AssistanceCase.acceptance_no.like(f"SL{day}%"))) or 0
    return f"SL{day}{count + 1:06d}"


def accept(session: Session, user: access.Principal, *, item_code: str, region_code: str, members: list[MemberIn],
           materials: list[MaterialIn], lake_root: Path | None, household_no: str | None = None,
           channel: str = "window", purpose: str | None = None, clock: audit.Clock = audit.utc_now,
           flow_dir: Path | None = None) -> AssistanceCase:
    """Accept an application at the window (or take in an online one): checks first, then the
    case, its members and archived materials, its acceptance number and its first step."""
    if channel not in ("window", "online"):
        raise CaseError("CHANNEL_UNKNOWN", f"未知的申请渠道:{channel}")
    try:
        region12 = regions.normalise_code(region_code)
    except regions.UnknownRegion:
        raise CaseError("REGION_UNKNOWN", f"未知的区划代码:{region_code}") from None
    tree = regions.load()
    if region12 not in tree or tree.get(region12).level < flows.OFFICES["township"]:
        raise CaseError("REGION_NOT_TOWNSHIP", "申请须落到申请人户籍所在的乡镇(街道)")
    item = catalogue.effective(session, item_code, region12)
    flow = flows.get(item.flow_code, flow_dir)
    members = _normalise_members(members)
    check_materials(item, materials)
    # at the window an officer accepts; online the citizen submits, and the township accepts it later
    action = "accept_application" if channel == "window" else "submit_application"
    access.authorize_and_audit(session, user, action, region12, masking.pseudonym(members[0].person_id),
                               purpose=purpose or f"受理{item.name_zh}申请",
                               detail={"aid_item": item.item_code, "members": len(members), "channel": channel},
                               clock=clock)
    findings = check_duplicates(session, lake_root, members, item)
    if findings:
        audit.record(session, actor=user.username, role=user.role, action="duplicate_assistance_found",
                     outcome="denied", subject_key=masking.pseudonym(members[0].person_id), region_code=region12,
                     detail={"aid_item": item.item_code, "findings": len(findings)}, clock=clock)
        raise CaseError("DUPLICATE_ASSISTANCE", "不能受理:" + ";".join(f.message_zh for f in findings))
    now = _now(clock)
    head = next((m for m in members if m.relation == "02"), members[0])
    case = AssistanceCase(
        acceptance_no=_next_number(session, now), aid_item_code=item.item_code, item_version=item.version,
        category=item.category, flow_code=flow.code, region_code=region12, household_no=household_no,
        applicant_person_id=head.person_id, applicant_name=head.name, channel=channel, status="in_progress",
        current_step=None, duplicate_check_json="[]", created_by=user.username, created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    for m in members:
        session.add(CaseMember(case_id=case.id, person_id=m.person_id, name=m.name, relation=m.relation,
                               region_code=m.region_code, updated_at=now))
    for m in materials:
        archives.archive(session, case=case, kind="material", title=m.name, filename=m.filename, content=m.content,
                         archived_by=user.username, clock=clock)
    first = _start(session, case, flow.steps[0], clock)
    session.commit()
    # at the township's own window the acceptance is the intake itself; an online application
    # waits in the township's todo list until a case worker accepts it
    if channel == "window" and user.jurisdiction_code == first.office_code:
        complete(session, user, case.acceptance_no, "pass", note="窗口受理", clock=clock, flow_dir=flow_dir)
    return case


# --- the flow engine ---------------------------------------------------------------------------


def _start(session: Session, case: AssistanceCase, step: flows.StepDef, clock: audit.Clock, *,
           started_by: access.Principal | None = None) -> CaseStep:
    now = _now(clock)
    seq = (session.scalar(select(func.max(CaseStep.seq)).where(CaseStep.case_id == case.id)) or 0) + 1
    row = CaseStep(case_id=case.id, seq=seq, step_code=step.code, name_zh=step.name_zh, kind=step.kind,
                   action=step.action, office_level=step.office, office_code=office_of(case.region_code, step.office),
                   status="todo", started_at=now, due_at=_due(now, step), updated_at=now)
    session.add(row)
    case.current_step, case.updated_at = step.code, now
    session.flush()
    if step.kind == "verification":
        _request_verification(session, case, started_by, clock)
    if step.kind == "disbursement":
        _grant(session, case, clock)
    return row


def _request_verification(session: Session, case: AssistanceCase, user: access.Principal | None,
                          clock: audit.Clock) -> None:
    """委托核对: the family's verification request, created automatically with the case."""
    if user is None:
        raise CaseError("VERIFICATION_SUBMITTER", "核对申请须由受理人提交")
    auth_doc = session.scalar(select(ArchiveDocument).where(ArchiveDocument.case_id == case.id,
                                                            ArchiveDocument.kind == "material",
                                                            ArchiveDocument.title.like("%核对授权书%")))
    tree = regions.load()
    request = vr.submit(
        session, user, commissioning_unit=f"{tree.full_name(office_of(case.region_code, 'township'))}",
        aid_item=case.category if case.category in vr.AID_ITEMS else "temporary",
        purpose=f"{catalogue.CATEGORIES.get(case.category, case.category)}申请家庭经济状况核对(受理编号{case.acceptance_no})",
        authorisation_ref=auth_doc.archive_no if auth_doc is not None else case.acceptance_no,
        region_code=case.region_code,
        members=[vr.MemberInput(m.person_id, m.relation, m.region_code) for m in members_of(session, case)],
        clock=clock)
    case.verification_request_no = request.request_no


def _require_office(user: access.Principal, step: CaseStep) -> None:
    """A step is done by its own office, or by the office it was escalated to."""
    if user.jurisdiction_code not in {step.office_code} | ({step.escalated_to} if step.escalated_to else set()):
        tree = regions.load()
        raise CaseError("NOT_YOUR_OFFICE", f"该环节由{tree.full_name(step.office_code)}办理,不在您的职责范围")


def _authorise(session: Session, user: access.Principal, case: AssistanceCase, step: CaseStep, purpose: str,
               clock: audit.Clock, detail: dict | None = None) -> None:
    _require_office(user, step)
    access.authorize_and_audit(session, user, step.action, case.region_code, _subject(case), purpose=purpose,
                               detail={"acceptance_no": case.acceptance_no, "step": step.step_code, **(detail or {})},
                               clock=clock)


def _open(session: Session, case: AssistanceCase) -> CaseStep:
    step = current_step(session, case)
    if step is None or case.status not in ("in_progress", "suspended"):
        raise CaseError("CASE_CLOSED", f"申请当前状态为“{STATUS_ZH[case.status]}”,没有待办环节")
    return step


def complete(session: Session, user: access.Principal, acceptance_no: str, outcome: str, *, note: str = "",
             amount: float | None = None, clock: audit.Clock = audit.utc_now,
             flow_dir: Path | None = None) -> AssistanceCase:
    """Finish the current step: ``pass`` starts the next one, ``refuse`` ends the case (不予批准, with
    the reason archived), ``return`` sends it back to the step before (退回)."""
    case = get(session, acceptance_no)
    step = _open(session, case)
    if step.status == "suspended":
        raise CaseError("STEP_SUSPENDED", "该环节已挂起,请先恢复办理")
    if outcome not in OUTCOME_ZH:
        raise CaseError("OUTCOME_UNKNOWN", f"未知的办理结果:{outcome}")
    flow = _flow(case, flow_dir)
    stepdef = flow.step(step.step_code)
    if stepdef.kind in ("verification", "publicity", "disbursement"):
        raise CaseError("STEP_AUTOMATIC", f"“{step.name_zh}”环节由{_automatic_zh(stepdef.kind)}完成,不能手工办结")
    if outcome in ("refuse", "return") and not note.strip():
        raise CaseError("NOTE_REQUIRED", f"{OUTCOME_ZH[outcome]}须写明理由")
    if stepdef.four_eyes_with:
        earlier = session.scalar(select(CaseStep).where(CaseStep.case_id == case.id,
                                                        CaseStep.step_code == stepdef.four_eyes_with,
                                                        CaseStep.status == "done").order_by(CaseStep.seq.desc()))
        if earlier is not None and earlier.handled_by == user.username:
            raise CaseError("FOUR_EYES", f"“{step.name_zh}”须由“{earlier.name_zh}”的办理人以外的人员办理")
    approval = None
    if stepdef.kind == "approval" and outcome == "pass":
        try:
            approval = benefits.approve(case, amount, note, funds.period_of(_now(clock)))
        except benefits.BenefitError as exc:
            raise CaseError(exc.code, exc.message) from None
    previous = _previous(flow, step.step_code) if outcome == "return" else None
    if outcome == "return" and (previous is None or previous.kind in ("verification", "acceptance")):
        raise CaseError("RETURN_IMPOSSIBLE", f"“{step.name_zh}”不能退回:上一环节须重新受理或重新核对")
    _authorise(session, user, case, step, f"{step.name_zh}:{OUTCOME_ZH[outcome]}(受理编号{case.acceptance_no})", clock,
               {"outcome": outcome})
    now = _now(clock)
    step.status, step.outcome, step.handled_by, step.completed_at = "done", outcome, user.username, now
    step.note, step.updated_at = note.strip() or None, now
    if approval is not None:
        case.approved_amount = approval.amount
        case.benefit_facts_json = approval.facts_json
        case.proposed_breakdown_json = approval.breakdown_json or case.proposed_breakdown_json
    if stepdef.kind in ("review", "approval"):
        archives.archive_record(session, case=case, kind="decision", title=f"{step.name_zh}意见", record={
            "受理编号": case.acceptance_no, "环节": step.name_zh, "结果": OUTCOME_ZH[outcome], "意见": note.strip(),
            "救助金额(元/月)": case.approved_amount if outcome == "pass" else None,
            "金额计算": _breakdown_text(case) if stepdef.kind == "approval" and outcome == "pass" else None,
            "办理人": user.username,
            "办理时间": now.astimezone(BEIJING).isoformat(timespec="seconds")}, archived_by=user.username, clock=clock)
    if outcome == "refuse":
        _decide(session, case, "refused", note, clock)
    elif outcome == "return":
        _start(session, case, previous, clock, started_by=user)
    else:
        _advance(session, case, flow, stepdef, clock, user)
    session.commit()
    _watch(session, case, clock)
    return case


def _breakdown_text(case: AssistanceCase) -> list[str] | None:
    """The approved amount's breakdown as printed on the approval record (审批表)."""
    if not case.proposed_breakdown_json:
        return None
    return benefits.entitlement.Breakdown.from_dict(json.loads(case.proposed_breakdown_json)).text_zh()


def set_benefit_terms(session: Session, user: access.Principal, acceptance_no: str, terms: benefits.Terms, *,
                      clock: audit.Clock = audit.utc_now) -> AssistanceCase:
    """The approver (or the reviewing township) decides how the amount is computed — 整户 or 单人保 and
    its member, 分散 or 集中供养, each tekun person's self-care ability — and the proposal is recomputed."""
    case = get(session, acceptance_no)
    step = _open(session, case)
    if step.kind not in ("review", "approval"):
        raise CaseError("STEP_WRONG", "待遇计算方式在审核或审批环节确定")
    if case.category not in benefits.COMPUTED:
        raise CaseError("NOT_COMPUTED", "该救助事项的金额由审批人确定,不按待遇计算规则计算")
    allowed = {"dibao": {"dibao", "single_person"}, "tekun": {"tekun"}}[case.category]
    if terms.rule_kind not in allowed:
        raise CaseError("RULE_KIND", f"{catalogue.CATEGORIES[case.category]}不能按“{benefits.entitlement.CATEGORY_ZH.get(terms.rule_kind, terms.rule_kind)}”计算")
    ids_in_case = {m.person_id for m in members_of(session, case)}
    if not set(terms.covered) <= ids_in_case or not set(terms.self_care) <= ids_in_case:
        raise CaseError("MEMBER_UNKNOWN", "所选成员不在该申请的家庭成员中")
    request = session.scalar(select(VerificationRequest).where(
        VerificationRequest.request_no == case.verification_request_no)) if case.verification_request_no else None
    if request is None or not request.result_json:
        raise CaseError("RESULT_MISSING", "尚无核对结果,不能计算救助金额")
    _authorise(session, user, case, step, f"确定待遇计算方式(受理编号{acceptance_no})", clock,
               {"rule_kind": terms.rule_kind})
    benefits.propose(session, case, request.result_json, funds.period_of(_now(clock)), terms)
    case.updated_at = _now(clock)
    session.commit()
    return case


def _watch(session: Session, case: AssistanceCase, clock: audit.Clock) -> None:
    """电子监察 in real time: the case's rules run right after each step (the scheduled scan runs them
    all again; a failure here never undoes the step, it is logged and left to that scan)."""
    from assistance import casewatch  # casewatch reads the flows and catalogue: loaded when first needed

    try:
        casewatch.scan(session, clock=clock, case_ids={case.id})
        session.commit()
    except Exception:  # the step is committed; the scheduled scan repeats this
        session.rollback()
        log.warning("real-time case supervision failed for one case; the scheduled scan will repeat it",
                    exc_info=True)


def _automatic_zh(kind: str) -> str:
    return {"verification": "核对机构出具核对结果后自动", "publicity": "公示期满无异议后自动",
            "disbursement": "资金发放到账后自动"}[kind]


def _previous(flow: flows.Flow, code: str) -> flows.StepDef | None:
    codes = [s.code for s in flow.steps]
    i = codes.index(code)
    return flow.steps[i - 1] if i > 0 else None


def _advance(session: Session, case: AssistanceCase, flow: flows.Flow, done: flows.StepDef, clock: audit.Clock,
             user: access.Principal | None) -> None:
    nxt = flow.next_step(done.code)
    if nxt is None:
        case.status, case.current_step, case.updated_at = "closed", None, _now(clock)
        return
    _start(session, case, nxt, clock, started_by=user)


def _decide(session: Session, case: AssistanceCase, status: str, note: str, clock: audit.Clock) -> None:
    now = _now(clock)
    case.status, case.decided_at, case.decision_note, case.current_step, case.updated_at = status, now, note, None, now


def _grant(session: Session, case: AssistanceCase, clock: audit.Clock) -> Benefit:
    """The benefit of an approved case (after publicity where the flow has one) and its first order."""
    now = _now(clock)
    period = funds.period_of(now)
    members = members_of(session, case)
    benefit = session.scalar(select(Benefit).where(Benefit.case_id == case.id))
    if benefit is None:
        benefit = Benefit(case_id=case.id, aid_item_code=case.aid_item_code, category=case.category,
                          household_no=case.household_no, holder_person_id=case.applicant_person_id,
                          holder_name=case.applicant_name, region_code=case.region_code, household_size=len(members),
                          monthly_amount=case.approved_amount or 0.0, start_period=period, status="active",
                          created_at=now, updated_at=now)
        benefits.grant(benefit, case)
        session.add(benefit)
        session.flush()
    case.status, case.decided_at, case.updated_at = "approved", now, now
    if case.household_no:
        archives.record_change(session, household_no=case.household_no, kind="benefit_change", case=case,
                               detail={"变更": "新增救助", "救助事项": case.aid_item_code,
                                       "金额(元/月)": benefit.monthly_amount, "起始月份": period},
                               effective_on=now.astimezone(BEIJING).date().isoformat(), recorded_by=SYSTEM,
                               clock=clock)
    funds.create_order(session, benefit, period, created_by=SYSTEM, clock=clock)
    return benefit


def object_publicity(session: Session, user: access.Principal, acceptance_no: str, note: str, *,
                     clock: audit.Clock = audit.utc_now, flow_dir: Path | None = None) -> AssistanceCase:
    """公示有异议: the objection is recorded and the case goes back to the township's review."""
    case = get(session, acceptance_no)
    step = _open(session, case)
    if step.kind != "publicity":
        raise CaseError("NOT_IN_PUBLICITY", "该申请不在公示期")
    if not note.strip():
        raise CaseError("NOTE_REQUIRED", "请写明异议内容")
    _authorise(session, user, case, step, f"登记公示异议(受理编号{acceptance_no})", clock, {"objection": True})
    now = _now(clock)
    step.status, step.outcome, step.handled_by, step.completed_at, step.note = "done", "return", user.username, now, note
    step.updated_at = now
    flow = _flow(case, flow_dir)
    review = next((s for s in flow.steps if s.kind == "review"), None) or _previous(flow, step.step_code)
    archives.archive_record(session, case=case, kind="publicity", title="公示异议", record={
        "受理编号": acceptance_no, "异议": note, "登记人": user.username,
        "登记时间": now.astimezone(BEIJING).isoformat(timespec="seconds")}, archived_by=user.username, clock=clock)
    _start(session, case, review, clock, started_by=user)
    session.commit()
    return case


def transfer(session: Session, user: access.Principal, acceptance_no: str, to_region: str, reason: str, *,
             clock: audit.Clock = audit.utc_now) -> AssistanceCase:
    """转办: the current step (and the case) to the responsible office of another region at the same level."""
    case = get(session, acceptance_no)
    step = _open(session, case)
    if not reason.strip():
        raise CaseError("NOTE_REQUIRED", "转办须写明理由")
    tree = regions.load()
    try:
        target = regions.normalise_code(to_region)
    except regions.UnknownRegion:
        raise CaseError("REGION_UNKNOWN", f"未知的区划代码:{to_region}") from None
    if target not in tree or tree.get(target).level != flows.OFFICES[step.office_level]:
        raise CaseError("TRANSFER_LEVEL", f"只能转办给同级({flows.OFFICE_ZH[step.office_level]})办理机构")
    if target == step.office_code:
        raise CaseError("TRANSFER_SAME", "不能转办给本机构")
    _require_office(user, step)
    access.authorize_and_audit(session, user, "handle_case", case.region_code, _subject(case),
                               purpose=f"转办(受理编号{acceptance_no}):{reason}",
                               detail={"acceptance_no": acceptance_no, "step": step.step_code, "to": target}, clock=clock)
    now = _now(clock)
    step.transferred_from, step.office_code, step.updated_at = step.office_code, target, now
    step.note = f"转办理由:{reason.strip()}"
    if step.office_level == "township":
        # the applicant belongs to the receiving township: later steps route from there
        case.region_code = target
    case.updated_at = now
    session.commit()
    return case


def suspend(session: Session, user: access.Principal, acceptance_no: str, reason: str, *,
            clock: audit.Clock = audit.utc_now) -> AssistanceCase:
    """挂起 (e.g. waiting for the applicant's materials): the time limit stops until resumed."""
    case = get(session, acceptance_no)
    step = _open(session, case)
    if step.status == "suspended":
        raise CaseError("ALREADY_SUSPENDED", "该环节已挂起")
    if not reason.strip():
        raise CaseError("NOTE_REQUIRED", "挂起须写明理由")
    _authorise_handling(session, user, case, step, f"挂起(受理编号{acceptance_no}):{reason}", clock)
    now = _now(clock)
    step.status, step.suspended_at, step.suspend_reason, step.updated_at = "suspended", now, reason.strip(), now
    case.status, case.updated_at = "suspended", now
    session.commit()
    return case


def resume(session: Session, user: access.Principal, acceptance_no: str, *,
           clock: audit.Clock = audit.utc_now) -> AssistanceCase:
    """恢复办理: the working days spent suspended are added to the step's limit."""
    case = get(session, acceptance_no)
    step = _open(session, case)
    if step.status != "suspended":
        raise CaseError("NOT_SUSPENDED", "该环节没有挂起")
    _authorise_handling(session, user, case, step, f"恢复办理(受理编号{acceptance_no})", clock)
    now = _now(clock)
    paused = workdays.working_days_between(step.suspended_at, now)
    step.due_at = workdays.add_working_days(step.due_at, paused).at if paused else step.due_at
    step.status, step.suspended_at, step.updated_at = "todo", None, now
    case.status, case.updated_at = "in_progress", now
    session.commit()
    return case


def _authorise_handling(session: Session, user: access.Principal, case: AssistanceCase, step: CaseStep,
                        purpose: str, clock: audit.Clock) -> None:
    _require_office(user, step)
    access.authorize_and_audit(session, user, "handle_case", case.region_code, _subject(case), purpose=purpose,
                               detail={"acceptance_no": case.acceptance_no, "step": step.step_code}, clock=clock)


def resubmit_verification(session: Session, user: access.Principal, acceptance_no: str, *,
                          clock: audit.Clock = audit.utc_now) -> AssistanceCase:
    """A verification request the centre returned (退回) is corrected and submitted again."""
    case = get(session, acceptance_no)
    step = _open(session, case)
    if step.kind != "verification":
        raise CaseError("NOT_IN_VERIFICATION", "该申请不在核对环节")
    request = vr.get(session, case.verification_request_no) if case.verification_request_no else None
    if request is not None and request.status != "rejected":
        raise CaseError("VERIFICATION_RUNNING", "核对申请仍在办理中,无需重新提交")
    _request_verification(session, case, user, clock)
    now = _now(clock)
    step.status, step.suspended_at, step.updated_at = "todo", None, now
    case.status, case.updated_at = "in_progress", now
    session.commit()
    return case


def order_paid(session: Session, order: DisbursementOrder, *, clock: audit.Clock = audit.utc_now) -> None:
    """The bank paid an order: the case's disbursement step is done; a one-off benefit then ends."""
    case = session.get(AssistanceCase, order.case_id)
    if case is None:
        return
    now = _now(clock)
    step = current_step(session, case)
    if step is not None and step.kind == "disbursement" and step.status == "todo":
        step.status, step.outcome, step.handled_by, step.completed_at = "done", "pass", "system:bank", now
        step.note, step.updated_at = f"拨付单{order.order_no}已到账", now
    benefit = session.get(Benefit, order.benefit_id)
    if benefit is not None and benefit.category not in funds.MONTHLY_CATEGORIES and benefit.status == "active":
        benefit.status, benefit.end_period, benefit.end_reason, benefit.updated_at = "ended", order.period, "一次性救助已发放", now
        case.status, case.current_step, case.updated_at = "closed", None, now
    elif step is not None and step.kind == "disbursement":
        case.current_step, case.updated_at = None, now
    session.flush()


# --- time limits, publicity, verification results (the scheduled sweep) -----------------------


@dataclass
class SweepResult:
    warned: list[str] = field(default_factory=list)  # acceptance numbers: 办结预警 (due soon)
    overdue: list[str] = field(default_factory=list)  # newly overdue and escalated
    publicity_closed: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    verification_returned: list[str] = field(default_factory=list)


def _parent_office(code: str) -> str | None:
    parent = regions.load().parent(code)
    return parent.code if parent is not None else None


def sweep(session: Session, *, clock: audit.Clock = audit.utc_now, flow_dir: Path | None = None) -> SweepResult:
    """The scheduled pass over every open step (hourly in Dagster)."""
    result = SweepResult()
    now = _now(clock)
    open_steps = list(session.scalars(select(CaseStep).where(CaseStep.status == "todo").order_by(CaseStep.id)))
    cases = {c.id: c for c in session.scalars(select(AssistanceCase).where(
        AssistanceCase.id.in_([s.case_id for s in open_steps] or [-1])))}
    for step in open_steps:
        case = cases[step.case_id]
        if step.kind == "verification":
            _sync_verification(session, case, step, result, clock, flow_dir)
            if step.status == "done":
                continue
        if step.kind == "publicity":
            if now > step.due_at:
                step.status, step.outcome, step.handled_by, step.completed_at = "done", "pass", "system:publicity", now
                step.note, step.updated_at = "公示期满无异议", now
                archives.archive_record(session, case=case, kind="publicity", title="公示结果", record={
                    "受理编号": case.acceptance_no, "公示开始": step.started_at.astimezone(BEIJING).isoformat(),
                    "公示结束": step.due_at.astimezone(BEIJING).isoformat(), "结果": "公示期满无异议"},
                    archived_by=SYSTEM, clock=clock)
                _advance(session, case, _flow(case, flow_dir), _flow(case, flow_dir).step(step.step_code), clock, None)
                result.publicity_closed.append(case.acceptance_no)
            continue
        if now > step.due_at:
            if step.overdue_at is None:
                step.overdue_at, step.escalated_to = now, _parent_office(step.office_code)
                step.updated_at = now
                audit.record(session, actor=SYSTEM, action="case_step_overdue", outcome="success",
                             region_code=step.office_code,
                             detail={"acceptance_no": case.acceptance_no, "step": step.step_code,
                                     "escalated_to": step.escalated_to}, clock=clock)
                result.overdue.append(case.acceptance_no)
        elif step.warned_at is None:
            stepdef = _flow(case, flow_dir).step(step.step_code)
            if workdays.working_days_between(now, step.due_at) <= stepdef.warn_before:
                step.warned_at, step.updated_at = now, now
                result.warned.append(case.acceptance_no)
    session.commit()
    return result


def _sync_verification(session: Session, case: AssistanceCase, step: CaseStep, result: SweepResult,
                       clock: audit.Clock, flow_dir: Path | None) -> None:
    if not case.verification_request_no:
        return
    request = session.scalar(select(VerificationRequest).where(
        VerificationRequest.request_no == case.verification_request_no))
    if request is None:
        return
    now = _now(clock)
    if request.status in ("reviewed", "reported"):
        step.status, step.outcome, step.completed_at, step.updated_at = "done", "pass", now, now
        step.handled_by = request.reviewed_by
        step.note = f"核对结论:{request.assessment}(核对申请{request.request_no})"
        case.assessment = request.assessment
        benefits.propose(session, case, request.result_json, funds.period_of(now))
        flow = _flow(case, flow_dir)
        _advance(session, case, flow, flow.step(step.step_code), clock, None)
        result.verified.append(case.acceptance_no)
    elif request.status == "rejected" and step.status == "todo" and case.status != "suspended":
        step.status, step.suspended_at, step.updated_at = "suspended", now, now
        step.suspend_reason = f"核对申请被退回:{request.rejection_reason}"
        case.status, case.updated_at = "suspended", now
        result.verification_returned.append(case.acceptance_no)


# --- lists and views ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    acceptance_no: str
    item_zh: str
    step_zh: str
    office_zh: str
    status_zh: str
    started: str
    due: str
    remaining_working_days: int | None  # negative when overdue
    state: str  # normal | warned | overdue | suspended | done
    escalated: bool
    outcome_zh: str | None


def _task(step: CaseStep, case: AssistanceCase, now: _dt.datetime, names: dict[str, str]) -> Task:
    tree = regions.load()
    if step.status == "done":
        state, remaining = "done", None
    elif step.status == "suspended":
        state, remaining = "suspended", None
    else:
        if now > step.due_at:
            remaining = -workdays.working_days_between(step.due_at, now)
            state = "overdue"
        else:
            remaining = workdays.working_days_between(now, step.due_at)
            state = "warned" if step.warned_at is not None else "normal"
    fmt = "%Y-%m-%d %H:%M"
    return Task(case.acceptance_no, names.get(case.aid_item_code, case.aid_item_code), step.name_zh,
                tree.full_name(step.office_code), STEP_STATUS_ZH[step.status],
                step.started_at.astimezone(BEIJING).strftime(fmt), step.due_at.astimezone(BEIJING).strftime(fmt),
                remaining, state, step.escalated_to is not None, OUTCOME_ZH.get(step.outcome or ""))


def inbox(session: Session, user: access.Principal, which: str = "todo", *,
          clock: audit.Clock = audit.utc_now) -> list[Task]:
    """待办 (steps of the user's office, and steps escalated to it, that the user's role may do),
    已办 (steps the user handled), 挂起 (suspended steps of the user's office). No personal data."""
    allowed = access.MATRIX.get(user.role, frozenset())
    query = select(CaseStep, AssistanceCase).join(AssistanceCase, AssistanceCase.id == CaseStep.case_id)
    if which == "todo":
        query = query.where(CaseStep.status == "todo", (CaseStep.office_code == user.jurisdiction_code)
                            | (CaseStep.escalated_to == user.jurisdiction_code))
    elif which == "suspended":
        query = query.where(CaseStep.status == "suspended", CaseStep.office_code == user.jurisdiction_code)
    elif which == "done":
        query = query.where(CaseStep.status == "done", CaseStep.handled_by == user.username)
    else:
        raise CaseError("LIST_UNKNOWN", f"未知的列表:{which}")
    rows = session.execute(query.order_by(CaseStep.due_at)).all()
    names = item_names(session)
    now = _now(clock)
    return [_task(step, case, now, names) for step, case in rows
            if which == "done" or step.action in allowed]


def item_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(AidItem.item_code, AidItem.name_zh).where(AidItem.list_kind == "catalogue")).all())


@dataclass(frozen=True)
class CaseView:
    case: AssistanceCase
    item_zh: str
    members: list[CaseMember]
    steps: list[Task]
    documents: list[ArchiveDocument]
    benefit: Benefit | None
    orders: list[DisbursementOrder]
    verification_status_zh: str | None


def open_case(session: Session, user: access.Principal, acceptance_no: str, *, purpose: str,
              clock: audit.Clock = audit.utc_now) -> CaseView:
    """One case with its family, steps, archive and payments: a read of personal data, audited."""
    case = get(session, acceptance_no)
    access.authorize_and_audit(session, user, "view_person", case.region_code, _subject(case), purpose=purpose,
                               detail={"acceptance_no": acceptance_no}, clock=clock)
    now = _now(clock)
    names = item_names(session)
    steps = [_task(s, case, now, names) for s in steps_of(session, case)]
    docs = list(session.scalars(select(ArchiveDocument).where(ArchiveDocument.case_id == case.id)
                                .order_by(ArchiveDocument.id)))
    benefit = session.scalar(select(Benefit).where(Benefit.case_id == case.id))
    request = session.scalar(select(VerificationRequest).where(
        VerificationRequest.request_no == case.verification_request_no)) if case.verification_request_no else None
    return CaseView(case, names.get(case.aid_item_code, case.aid_item_code), members_of(session, case), steps, docs,
                    benefit, funds.orders_of_case(session, case),
                    vr.STATUS_ZH.get(request.status) if request is not None else None)


@dataclass(frozen=True)
class ProgressStep:
    name_zh: str
    status_zh: str
    started_on: str
    completed_on: str | None


@dataclass(frozen=True)
class Progress:
    acceptance_no: str
    item_zh: str
    status_zh: str
    accepted_on: str
    steps: list[ProgressStep]


def progress(session: Session, acceptance_no: str, person_id: str, *, clock: audit.Clock = audit.utc_now) -> Progress:
    """事项办理查询 for the applicant: by acceptance number and the ID of a member of the family.
    A wrong pair is refused with one message, whether or not the number exists."""
    refused = CaseError("PROGRESS_NOT_FOUND", "受理编号或身份证号码不正确,请核对后重新输入")
    try:
        number = ids.parse(person_id).number
    except ids.InvalidId:
        raise refused from None
    case = session.scalar(select(AssistanceCase).where(AssistanceCase.acceptance_no == (acceptance_no or "").strip()))
    member = None
    if case is not None:
        member = session.scalar(select(CaseMember).where(CaseMember.case_id == case.id,
                                                         CaseMember.person_id == number))
    audit.record(session, actor="public:progress", action="progress_query",
                 outcome="success" if member is not None else "denied", subject_key=masking.pseudonym(number),
                 detail={}, clock=clock)
    if member is None:
        raise refused
    day = "%Y-%m-%d"
    steps = [ProgressStep(s.name_zh, STEP_STATUS_ZH[s.status] if s.status != "done" else OUTCOME_ZH.get(s.outcome, "已办"),
                          s.started_at.astimezone(BEIJING).strftime(day),
                          s.completed_at.astimezone(BEIJING).strftime(day) if s.completed_at else None)
             for s in steps_of(session, case)]
    return Progress(case.acceptance_no, item_names(session).get(case.aid_item_code, case.aid_item_code),
                    STATUS_ZH[case.status], case.created_at.astimezone(BEIJING).strftime(day), steps)


def record_household_change(session: Session, user: access.Principal, acceptance_no: str, kind: str,
                            description: str, effective_on: str, *, new_region_code: str | None = None,
                            clock: audit.Clock = audit.utc_now) -> None:
    """家庭变更登记: a migration, a member or information change (benefit changes are recorded by the
    flow itself), kept with the case and the household. A migration naming the township moved to
    becomes a new place of a computed benefit's facts: that county's standard applies from the month
    after the move (the paying office stays the case's until the case is transferred)."""
    case = get(session, acceptance_no)
    if kind not in archives.CHANGE_KINDS or kind == "benefit_change":
        raise CaseError("CHANGE_KIND_UNKNOWN", "变更类别须为迁移、成员变更或信息变更")
    if not description.strip():
        raise CaseError("NOTE_REQUIRED", "请写明变更内容")
    try:
        day = _dt.date.fromisoformat(effective_on)
    except ValueError:
        raise CaseError("DATE_INVALID", f"变更日期“{effective_on}”无效,应为YYYY-MM-DD") from None
    if not case.household_no:
        raise CaseError("HOUSEHOLD_MISSING", "该申请没有登记户编号,不能记录家庭变更")
    tree = regions.load()
    moved_to = None
    if new_region_code:
        if kind != "migration":
            raise CaseError("CHANGE_KIND_UNKNOWN", "迁入地只在“迁移”变更中登记")
        moved_to = tree.get(regions.normalise_code(new_region_code)) if new_region_code.strip().isdigit() else None
        if moved_to is None or moved_to.level != flows.OFFICES["township"]:
            raise CaseError("REGION_INVALID", f"迁入地“{new_region_code}”不是有效的乡镇(街道)区划代码")
    access.authorize_and_audit(session, user, "handle_case", case.region_code, _subject(case),
                               purpose=f"登记家庭变更(受理编号{acceptance_no})",
                               detail={"acceptance_no": acceptance_no, "kind": kind}, clock=clock)
    detail = {"变更": archives.CHANGE_KINDS[kind], "内容": description.strip()}
    if moved_to is not None:
        detail["迁入地"] = tree.full_name(moved_to.code)
        benefit = session.scalar(select(Benefit).where(Benefit.case_id == case.id, Benefit.status == "active"))
        if benefit is not None and benefit.facts_json:
            facts = json.loads(benefit.facts_json)
            area = moved_to.urban_rural if moved_to.urban_rural in ("urban", "rural") else facts["places"][-1]["area_type"]
            facts["places"].append({"county_code": moved_to.code[:6], "area_type": area, "since": day.isoformat()})
            benefit.facts_json, benefit.updated_at = json.dumps(facts, ensure_ascii=False), _now(clock)
            detail["待遇标准"] = f"自迁移次月起按{tree.full_name(moved_to.code[:6] + '000000')}标准计算"
    archives.record_change(session, household_no=case.household_no, kind=kind, case=case, detail=detail,
                           effective_on=day.isoformat(), recorded_by=user.username, clock=clock)
    session.commit()


def household_changes(session: Session, case: AssistanceCase) -> list:
    from jiuzhu.business.models import HouseholdChange

    if not case.household_no:
        return []
    return list(session.scalars(select(HouseholdChange).where(HouseholdChange.household_no == case.household_no)
                                .order_by(HouseholdChange.recorded_at)))


def end_benefit(session: Session, user: access.Principal, benefit_id: int, reason: str, *,
                clock: audit.Clock = audit.utc_now) -> Benefit:
    """停发 (e.g. after re-verification): the benefit ends this month, its certificate is revoked."""
    benefit = session.get(Benefit, benefit_id)
    if benefit is None or benefit.status != "active":
        raise CaseError("BENEFIT_NOT_ACTIVE", "该救助待遇不在享受中")
    if not reason.strip():
        raise CaseError("NOTE_REQUIRED", "停发须写明理由")
    access.authorize_and_audit(session, user, "approve_assistance", benefit.region_code,
                               masking.pseudonym(benefit.holder_person_id), purpose=f"停发救助待遇:{reason}",
                               detail={"benefit_id": benefit.id}, clock=clock)
    now = _now(clock)
    benefit.status, benefit.end_period, benefit.end_reason, benefit.updated_at = "ended", funds.period_of(now), reason, now
    case = session.get(AssistanceCase, benefit.case_id)
    case.status, case.updated_at = "closed", now
    if benefit.household_no:
        archives.record_change(session, household_no=benefit.household_no, kind="benefit_change", case=case,
                               detail={"变更": "停发", "理由": reason, "停发月份": benefit.end_period},
                               effective_on=now.astimezone(BEIJING).date().isoformat(), recorded_by=user.username,
                               clock=clock)
    from assistance import certificates  # the certificates module renders PDFs: loaded when needed

    # the certificate's verifiers see a neutral reason, never the officer's note
    certificates.revoke_for_benefit(session, benefit.id, f"救助待遇已于{benefit.end_period}停发", clock=clock)
    session.commit()
    return benefit
