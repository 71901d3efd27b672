"""核对工作台 services: the verification requests of the user's jurisdiction and their steps.

Every step is a call into ``verification.requests`` (authorised for role and jurisdiction, audited,
four eyes at review); reading a request's members and result is audited once per request and login
(``view_household_report`` with the purpose). IDs are masked unless the role sees them in the clear.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import streamlit as st
from sqlalchemy import select

from dashboards.staff.runtime import business_session, china_time, now
from jiuzhu import access, masking, regions, settings, sqlguard
from jiuzhu.business.models import VerificationMember, VerificationReport, VerificationRequest
from verification import report, reverify, service
from verification import requests as vr

VIEWED_KEY = "_verification_viewed"
LIST_LIMIT = 500


@dataclass
class RequestView:
    request_no: str
    status: str
    status_zh: str
    aid_item_zh: str
    commissioning_unit: str
    purpose: str
    region_name: str
    assessment: str | None
    verified_by: str | None
    members: pd.DataFrame
    result: dict | None
    report_no: str | None
    rejection_reason: str | None


def requests_frame(user: access.Principal) -> pd.DataFrame:
    """The jurisdiction's requests, newest first (no person appears: numbers, units, states)."""
    decision = access.authorize(user, "submit_verification", user.jurisdiction_code)
    if not decision.allowed:
        raise access.AccessDenied(decision)
    tree = regions.load()
    with business_session() as db:
        prefix = sqlguard.jurisdiction_prefix(user.jurisdiction_code)  # regions are stored as 12 digits
        found = db.scalars(select(VerificationRequest).where(VerificationRequest.region_code.like(prefix + "%"))
                           .order_by(VerificationRequest.id.desc()).limit(LIST_LIMIT))
        rows = [{"申请编号": r.request_no, "状态": vr.STATUS_ZH[r.status], "救助事项": vr.AID_ITEMS.get(r.aid_item, r.aid_item),
                 "委托单位": r.commissioning_unit, "申请地": tree.full_name(r.region_code) if r.region_code in tree else r.region_code,
                 "核对结论": r.assessment or "", "提交时间": china_time(r.created_at, seconds=False)} for r in found]
    return pd.DataFrame(rows, columns=["申请编号", "状态", "救助事项", "委托单位", "申请地", "核对结论", "提交时间"])


def request_view(user: access.Principal, request_no: str, purpose: str) -> RequestView:
    """One request with its members and result: audited once per request and login."""
    with business_session() as db:
        request = vr.get(db, request_no)
        members = list(db.scalars(select(VerificationMember).where(VerificationMember.request_id == request.id)
                                  .order_by(VerificationMember.id)))
        viewed = st.session_state.setdefault(VIEWED_KEY, set())
        if request_no not in viewed:
            subject = masking.pseudonym(members[0].person_id) if members else None
            access.authorize_and_audit(db, user, "view_household_report", request.region_code, subject,
                                       purpose=purpose, level=3, detail={"request_no": request_no}, clock=now)
            viewed.add(request_no)
        else:  # decided again on every rerun (jurisdiction or role may have changed), audited once
            decision = access.authorize(user, "view_household_report", request.region_code, 3)
            if not decision.allowed:
                raise access.AccessDenied(decision)
        clear = masking.sees_clear(user.role, user.jurisdiction_code, request.region_code)
        frame = pd.DataFrame([{"公民身份号码": m.person_id if clear else masking.mask_id(m.person_id),
                               "与户主关系": report.relation_zh(m.relation)} for m in members])
        recorded = db.scalar(select(VerificationReport).where(VerificationReport.request_id == request.id))
        tree = regions.load()
        return RequestView(
            request_no=request.request_no, status=request.status, status_zh=vr.STATUS_ZH[request.status],
            aid_item_zh=vr.AID_ITEMS.get(request.aid_item, request.aid_item),
            commissioning_unit=request.commissioning_unit, purpose=request.purpose,
            region_name=tree.full_name(request.region_code) if request.region_code in tree else request.region_code,
            assessment=request.assessment, verified_by=request.verified_by,
            members=frame, result=json.loads(request.result_json) if request.result_json else None,
            report_no=recorded.report_no if recorded else None, rejection_reason=request.rejection_reason)


def submit(user: access.Principal, *, commissioning_unit: str, aid_item: str, purpose: str, authorisation_ref: str,
           region_code: str, members_text: str) -> str:
    with business_session() as db:
        request = vr.submit(db, user, commissioning_unit=commissioning_unit, aid_item=aid_item, purpose=purpose,
                            authorisation_ref=authorisation_ref, region_code=region_code,
                            members=service.parse_members(members_text.splitlines()), clock=now)
        return request.request_no


def step(user: access.Principal, request_no: str, action: str, reason: str = "") -> bytes | None:
    """接收 / 核对 / 复核 / 出具报告 / 退回; the report's PDF for 出具报告, else None."""
    lake_root = settings.load().lake
    with business_session() as db:
        if action == "receive":
            vr.receive(db, user, request_no, clock=now)
        elif action == "verify":
            vr.verify(db, user, request_no, lake_root, clock=now)
        elif action == "review":
            vr.review(db, user, request_no, clock=now)
        elif action == "report":
            _, pdf = vr.issue_report(db, user, request_no, lake_root, clock=now)
            return pdf
        elif action == "reject":
            vr.reject(db, user, request_no, reason, clock=now)
        else:
            raise ValueError(action)
    return None


def report_pdf(user: access.Principal, report_no: str, purpose: str) -> bytes:
    """The issued report again (from its registered table versions: the same file)."""
    with business_session() as db:
        return vr.regenerate_report(db, user, report_no, settings.load().lake, purpose=purpose, clock=now)


def queue_frame(user: access.Principal, status: str | None = None) -> pd.DataFrame:
    """The county's re-verification tasks (动态复核): household numbers, results, deadlines."""
    with business_session() as db:
        tasks = reverify.queue(db, user, status=status, clock=now)
        late = {t.id for t in reverify.overdue(tasks, now())}
        rows = [{"任务号": t.id, "月份": t.period, "户号": t.household_no, "区县": t.county_code[:6],
                 "结论": t.assessment, "原因": ";".join(r["reason_zh"] for r in json.loads(t.reasons_json)),
                 "状态": reverify.STATUS_ZH[t.status], "经办人": t.handled_by or "",
                 "办结期限": china_time(t.due_at, seconds=False), "超期": "是" if t.id in late else ""} for t in tasks]
    return pd.DataFrame(rows, columns=["任务号", "月份", "户号", "区县", "结论", "原因", "状态", "经办人", "办结期限", "超期"])


def handle_task(user: access.Principal, task_id: int, action: str, note: str) -> None:
    with business_session() as db:
        reverify.handle(db, user, task_id, action, note, clock=now)
