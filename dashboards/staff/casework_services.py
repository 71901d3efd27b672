"""一门受理、待办事项、档案管理 services: the window's intake, the offices' task lists and the steps
on a case, the archive search. Every call goes through ``assistance.cases`` / ``assistance.archives``
(authorised for role, level and office, audited); lists carry no names or ID numbers.
"""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import select

from assistance import (
    adjustments,
    archives,
    benefits,
    cases,
    casewatch,
    catalogue,
    entitlement,
    flows,
    portal,
    relatives,
)
from dashboards.staff.runtime import business_session, china_time, now
from jiuzhu import access, ids, regions, settings
from jiuzhu.business.models import AssistanceCase

TASK_COLUMNS = ["受理编号", "救助事项", "环节", "办理机构", "状态", "开始时间", "办理期限", "剩余工作日", "时限", "已上报"]
STATE_ZH = {"normal": "正常", "warned": "即将到期", "overdue": "已超期", "suspended": "挂起", "done": "已办"}
LISTS = {"todo": "待办", "suspended": "挂起", "done": "已办"}


def _lake():
    return settings.load().lake


def townships(user: access.Principal) -> list[tuple[str, str]]:
    """The townships a user's window serves: their own, or every township of their jurisdiction."""
    tree = regions.load()
    node = tree.get(user.jurisdiction_code)
    if node.level >= flows.OFFICES["township"]:
        return [(node.code, tree.full_name(node.code))]
    out = []
    stack = [node.code]
    while stack:
        code = stack.pop()
        for child in tree.children(code):
            if child.level == flows.OFFICES["township"]:
                out.append((child.code, tree.full_name(child.code)))
            elif child.level < flows.OFFICES["township"]:
                stack.append(child.code)
    return sorted(out)


def items(region_code: str) -> list[catalogue.ItemDefinition]:
    with business_session() as db:
        catalogue.seed(db, clock=now)  # the province's catalogue is always there to accept against
        return catalogue.published_items(db, region_code)


def accept(user: access.Principal, *, item_code: str, region_code: str, members: list[dict],
           uploads: dict[str, tuple[str, bytes]], household_no: str | None) -> str:
    """Intake at the window; returns the acceptance number (受理编号)."""
    rows = [cases.MemberIn(m["person_id"].strip(), m["name"].strip(), m["relation"]) for m in members]
    material = [cases.MaterialIn(name, filename, content) for name, (filename, content) in uploads.items()]
    with business_session() as db:
        case = cases.accept(db, user, item_code=item_code, region_code=region_code, members=rows, materials=material,
                            lake_root=_lake(), household_no=(household_no or "").strip() or None, clock=now)
        return case.acceptance_no


def tasks_frame(user: access.Principal, which: str) -> pd.DataFrame:
    with business_session() as db:
        cases.sweep(db, clock=now)  # the lists show the time limits as of now
        found = cases.inbox(db, user, which, clock=now)
    rows = [{"受理编号": t.acceptance_no, "救助事项": t.item_zh, "环节": t.step_zh, "办理机构": t.office_zh,
             "状态": t.status_zh if t.state != "done" else (t.outcome_zh or "已办"), "开始时间": t.started,
             "办理期限": t.due, "剩余工作日": "" if t.remaining_working_days is None else t.remaining_working_days,
             "时限": STATE_ZH[t.state], "已上报": "是" if t.escalated else ""} for t in found]
    return pd.DataFrame(rows, columns=TASK_COLUMNS)


def case_detail(user: access.Principal, acceptance_no: str) -> dict:
    """One case for the office handling it (a read of the family's data: audited)."""
    tree = regions.load()
    with business_session() as db:
        view = cases.open_case(db, user, acceptance_no, purpose=f"办理救助申请{acceptance_no}", clock=now)
        case = view.case
        current = cases.current_step(db, case)
        flow = flows.get(case.flow_code)
        stepdef = flow.step(current.step_code) if current is not None else None
        return {
            "acceptance_no": case.acceptance_no, "item_zh": view.item_zh, "status_zh": cases.STATUS_ZH[case.status],
            "region_zh": tree.full_name(case.region_code), "household_no": case.household_no or "",
            "channel_zh": "窗口受理" if case.channel == "window" else "网上申请",
            "accepted_at": china_time(case.created_at, seconds=False), "assessment": case.assessment,
            "proposed_amount": case.proposed_amount, "approved_amount": case.approved_amount,
            # issue #15: how the amount is computed (the rules' breakdown) and the benefit it became
            "computed": case.category in benefits.COMPUTED,
            "breakdown": _breakdown_lines(case.proposed_breakdown_json),
            "terms": benefits.terms_of(json.loads(case.benefit_facts_json)) if case.benefit_facts_json else None,
            "member_choices": {m.person_id: f"{m.name}({cases.RELATIONS_ZH.get(m.relation, m.relation)})"
                               for m in view.members},
            "benefit": None if view.benefit is None else {
                "status_zh": "在保" if view.benefit.status == "active" else f"已停发({view.benefit.end_reason or ''})",
                "monthly_amount": view.benefit.monthly_amount,
                "rule_zh": entitlement.CATEGORY_ZH.get(view.benefit.rule_kind or "", "审批人核定"),
                "exit_months_left": view.benefit.exit_months_left},
            "order_breakdowns": {o.order_no: _breakdown_lines(o.breakdown_json) for o in view.orders},
            "verification_request_no": case.verification_request_no,
            "verification_status_zh": view.verification_status_zh,
            # 近亲属备案: a relative of staff or a village cadre needs a mandatory home visit
            "must_visit": casewatch.must_visit(db, case),
            "members": pd.DataFrame([{"姓名": m.name, "身份证号码": ids.mask(m.person_id),
                                      "与户主关系": cases.RELATIONS_ZH.get(m.relation, m.relation)}
                                     for m in view.members]),
            "steps": pd.DataFrame([{"环节": t.step_zh, "办理机构": t.office_zh, "状态": t.status_zh,
                                    "结果": t.outcome_zh or "", "开始": t.started, "期限": t.due,
                                    "时限": STATE_ZH[t.state]} for t in view.steps]),
            "documents": pd.DataFrame([{"档案号": d.archive_no, "类别": archives.KINDS.get(d.kind, d.kind),
                                        "名称": d.title, "归档时间": china_time(d.archived_at, seconds=False),
                                        "SM3": d.sm3[:16] + "…"} for d in view.documents]),
            "changes": pd.DataFrame([{"变更类别": archives.CHANGE_KINDS.get(c.kind, c.kind),
                                      "内容": "；".join(f"{k}:{v}" for k, v in json.loads(c.detail_json).items()),
                                      "生效日期": c.effective_on, "登记人": c.recorded_by,
                                      "登记时间": china_time(c.recorded_at, seconds=False)}
                                     for c in cases.household_changes(db, case)]),
            "orders": pd.DataFrame([{"拨付单号": o.order_no, "月份": o.period, "金额(元)": f"{o.amount:,.2f}",
                                     "渠道": "社保卡(一卡通)" if o.channel == "card" else "银行代发",
                                     "状态": o.status} for o in view.orders]),
            "current": None if current is None else {
                "code": current.step_code, "name_zh": current.name_zh, "kind": current.kind,
                "status": current.status, "action": current.action, "office_code": current.office_code,
                "escalated_to": current.escalated_to, "manual": stepdef.kind not in ("verification", "publicity",
                                                                                     "disbursement"),
                "suspend_reason": current.suspend_reason},
        }


def _breakdown_lines(breakdown_json: str | None) -> list[str]:
    if not breakdown_json:
        return []
    return entitlement.Breakdown.from_dict(json.loads(breakdown_json)).text_zh()


def set_terms(user: access.Principal, acceptance_no: str, rule_kind: str, *, covered: list[str] | None = None,
              tekun_mode: str = "dispersed", self_care: dict[str, str] | None = None) -> None:
    """待遇计算方式 decided at review or approval; the proposal is recomputed."""
    terms = benefits.Terms(rule_kind, tuple(covered or ()), tekun_mode, dict(self_care or {}))
    with business_session() as db:
        cases.set_benefit_terms(db, user, acceptance_no, terms, clock=now)


ADJUSTMENT_COLUMNS = ["事项号", "受理编号", "月份", "类别", "已发(元)", "应发(元)", "差额(元)", "原因", "发现时间"]


def pending_adjustments(user: access.Principal) -> pd.DataFrame:
    """后补追缴 awaiting the approvers of the user's jurisdiction (no names or IDs in the list)."""
    with business_session() as db:
        items = adjustments.pending(db, user, user.jurisdiction_code, clock=now)
        numbers = dict(db.execute(select(AssistanceCase.id, AssistanceCase.acceptance_no)
                                  .where(AssistanceCase.id.in_({i.case_id for i in items}))).all()) if items else {}
        rows = [{"事项号": i.id, "受理编号": numbers.get(i.case_id, ""), "月份": i.period,
                 "类别": adjustments.KIND_ZH[i.kind], "已发(元)": f"{i.paid_amount:,.2f}",
                 "应发(元)": f"{i.correct_amount:,.2f}", "差额(元)": f"{i.difference:+,.2f}",
                 "原因": ";".join(json.loads(i.reasons_json)), "发现时间": china_time(i.detected_at, seconds=False)}
                for i in items]
    return pd.DataFrame(rows, columns=ADJUSTMENT_COLUMNS)


def review_adjustment(user: access.Principal, adjustment_id: int, decision: str, note: str) -> None:
    with business_session() as db:
        adjustments.review(db, user, adjustment_id, decision, note, clock=now)


def act(user: access.Principal, acceptance_no: str, what: str, *, note: str = "", amount: float | None = None,
        to_region: str | None = None, new_region: str | None = None) -> None:
    with business_session() as db:
        if what in ("pass", "refuse", "return"):
            cases.complete(db, user, acceptance_no, what, note=note, amount=amount, clock=now)
        elif what == "suspend":
            cases.suspend(db, user, acceptance_no, note, clock=now)
        elif what == "resume":
            cases.resume(db, user, acceptance_no, clock=now)
        elif what == "transfer":
            cases.transfer(db, user, acceptance_no, to_region or "", note, clock=now)
        elif what == "object":
            cases.object_publicity(db, user, acceptance_no, note, clock=now)
        elif what.startswith("change:"):
            cases.record_household_change(db, user, acceptance_no, what.split(":", 1)[1], note,
                                          to_region or "", new_region_code=(new_region or "").strip() or None,
                                          clock=now)
        elif what == "resubmit":
            cases.resubmit_verification(db, user, acceptance_no, clock=now)
        else:
            raise cases.CaseError("ACTION_UNKNOWN", f"未知的操作:{what}")


def archive_search(user: access.Principal, *, acceptance_no: str = "", person_id: str = "", household_no: str = "",
                   purpose: str = "") -> pd.DataFrame:
    with business_session() as db:
        hits = archives.search(db, user, purpose=purpose, acceptance_no=acceptance_no or None,
                               person_id=person_id or None, household_no=household_no or None, clock=now)
    return pd.DataFrame([{"档案号": h.archive_no, "受理编号": h.acceptance_no or "", "类别": h.kind_zh, "名称": h.title,
                          "归档时间": h.archived_at, "大小(字节)": h.size} for h in hits],
                        columns=["档案号", "受理编号", "类别", "名称", "归档时间", "大小(字节)"])


def archive_file(user: access.Principal, archive_no: str, purpose: str) -> dict:
    with business_session() as db:
        doc, check = archives.open_document(db, user, archive_no, purpose=purpose, clock=now)
        return {"filename": doc.filename, "media_type": doc.media_type, "content": doc.content, "intact": check.intact,
                "problem_zh": check.problem_zh, "sm3": doc.sm3, "archived_at": china_time(doc.archived_at)}


def my_relatives(user: access.Principal) -> pd.DataFrame:
    with business_session() as db:
        rows = relatives.relatives_of(db, user.username)
    return pd.DataFrame([{"身份证号码": ids.mask(r.person_id), "关系": r.relation_zh,
                          "备案时间": china_time(r.filed_at, seconds=False)} for r in rows],
                        columns=["身份证号码", "关系", "备案时间"])


def file_relative(user: access.Principal, person_id: str, relation_zh: str) -> None:
    with business_session() as db:
        relatives.file_relative(db, user, person_id, relation_zh, clock=now)


COMPLAINT_COLUMNS = ["编号", "受理号", "类别", "署名", "事项所在地", "事由", "状态", "答复期限", "超期"]


def complaints(user: access.Principal, open_only: bool = True) -> tuple[pd.DataFrame, dict]:
    """The portal's complaints, reports and consultations for the user's office and those below it:
    the list, and each one's full text and images by id (an audited read)."""
    with business_session() as db:
        rows = portal.complaints_inbox(db, user, open_only=open_only, clock=now)
    frame = pd.DataFrame([{"编号": r.id, "受理号": r.ticket_no, "类别": r.kind_zh, "署名": "署名" if r.signed else "匿名",
                           "事项所在地": r.region_zh, "事由": r.subject, "状态": r.status_zh, "答复期限": r.due_on,
                           "超期": "已超期" if r.overdue else ""} for r in rows], columns=COMPLAINT_COLUMNS)
    return frame, {r.id: r for r in rows}


def reply_complaint(user: access.Principal, complaint_id: int, text: str, close: bool) -> None:
    with business_session() as db:
        portal.reply(db, user, complaint_id, text, close=close, clock=now)
