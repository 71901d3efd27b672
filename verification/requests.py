"""Verification requests (委托核对) through their lifecycle:
submitted (委托申请) → received (接收) → verified (核对) → reviewed (复核) → reported (出具报告),
or rejected with a reason. Every step is authorised for the user's role and jurisdiction and written
to the audit trail before it happens (`jiuzhu.access.authorize_and_audit`).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jiuzhu import access, audit, ids, masking, regions
from jiuzhu.business.models import VerificationMember, VerificationReport, VerificationRequest
from jiuzhu.errors import CodedError
from jiuzhu.supervision import BEIJING
from verification import ondemand, report, signing

AID_ITEMS = {"dibao": "最低生活保障", "tekun": "特困人员救助供养", "margin": "低保边缘家庭认定",
             "temporary": "临时救助", "medical": "医疗救助", "education": "教育救助", "housing": "住房救助",
             "employment": "就业救助"}
STATUS_ZH = {"submitted": "已提交", "received": "已接收", "verified": "已核对", "reviewed": "已复核",
             "reported": "已出具报告", "rejected": "已退回"}
_NEXT = {"receive": ("submitted",), "verify": ("received",), "review": ("verified",), "report": ("reviewed",),
         "reject": ("submitted", "received", "verified")}


class RequestError(CodedError):
    """A step of a verification request refused, with its reason."""


@dataclass(frozen=True)
class MemberInput:
    person_id: str
    relation: str  # GB/T 4761 code: 02 户主, 10 配偶, 20 子女, 40 孙子女, 50 父母 …
    region_code: str | None = None  # where the member is registered, if known


def _now(clock: audit.Clock) -> _dt.datetime:
    return clock()


def _members(session: Session, request: VerificationRequest) -> list[VerificationMember]:
    return list(session.scalars(select(VerificationMember).where(VerificationMember.request_id == request.id)
                                .order_by(VerificationMember.id)))


def get(session: Session, request_no: str) -> VerificationRequest:
    found = session.scalar(select(VerificationRequest).where(VerificationRequest.request_no == request_no))
    if found is None:
        raise RequestError("REQUEST_UNKNOWN", f"没有编号为{request_no}的核对申请")
    return found


def submit(session: Session, user: access.Principal, *, commissioning_unit: str, aid_item: str, purpose: str,
           authorisation_ref: str, region_code: str, members: list[MemberInput],
           clock: audit.Clock = audit.utc_now) -> VerificationRequest:
    """Record a request from a commissioning unit; IDs are checked and normalised first."""
    if aid_item not in AID_ITEMS:
        raise RequestError("AID_ITEM_UNKNOWN", f"未知的救助事项:{aid_item}")
    if not authorisation_ref.strip():
        raise RequestError("AUTHORISATION_MISSING", "缺少核对授权书编号:没有申请人的授权不得核对")
    if not members:
        raise RequestError("MEMBERS_MISSING", "核对申请须列明家庭成员")
    if regions.normalise_code(region_code) not in regions.load():
        raise RequestError("REGION_UNKNOWN", f"未知的区划代码:{region_code}")
    normalised = []
    for m in members:
        try:
            normalised.append(MemberInput(ids.parse(m.person_id).number, m.relation, m.region_code))
        except ids.InvalidId as exc:
            raise RequestError(exc.code, f"成员身份证号码无效:{exc.message}") from None
    if len({m.person_id for m in normalised}) != len(normalised):
        raise RequestError("MEMBER_DUPLICATE", "同一成员在申请中出现了两次")
    region12 = regions.normalise_code(region_code)
    subject = masking.pseudonym(normalised[0].person_id)
    access.authorize_and_audit(session, user, "submit_verification", region12, subject, purpose=purpose,
                               detail={"aid_item": aid_item, "members": len(normalised)}, clock=clock)
    now = _now(clock)
    day = now.astimezone(BEIJING).strftime("%Y%m%d")
    count = session.scalar(select(func.count()).select_from(VerificationRequest)) or 0
    request = VerificationRequest(
        request_no=f"HD{day}{count + 1:06d}", commissioning_unit=commissioning_unit, aid_item=aid_item,
        purpose=purpose, authorisation_ref=authorisation_ref, region_code=region12, status="submitted",
        submitted_by=user.username, created_at=now, updated_at=now,
    )
    session.add(request)
    session.flush()
    for m in normalised:
        session.add(VerificationMember(request_id=request.id, person_id=m.person_id, relation=m.relation,
                                       region_code=m.region_code, updated_at=now))
    session.commit()
    return request


def _step(session: Session, user: access.Principal, request: VerificationRequest, step: str, purpose: str,
          clock: audit.Clock) -> None:
    if request.status not in _NEXT[step]:
        raise RequestError("STATUS_INVALID", f"申请当前状态为“{STATUS_ZH[request.status]}”,不能执行此操作")
    members = _members(session, request)
    subject = masking.pseudonym(members[0].person_id) if members else None
    access.authorize_and_audit(session, user, "review_verification", request.region_code, subject, purpose=purpose,
                               detail={"request_no": request.request_no, "step": step}, clock=clock)


def receive(session: Session, user: access.Principal, request_no: str, *, clock: audit.Clock = audit.utc_now):
    request = get(session, request_no)
    _step(session, user, request, "receive", f"接收核对申请{request_no}", clock)
    request.status, request.received_by, request.updated_at = "received", user.username, _now(clock)
    session.commit()
    return request


def verify(session: Session, user: access.Principal, request_no: str, lake_root: Path, *,
           as_of: _dt.datetime | None = None, clock: audit.Clock = audit.utc_now, work_dir: Path | None = None):
    """Assess the family with the batch marts' definition, on the data as it stood at ``as_of``."""
    request = get(session, request_no)
    _step(session, user, request, "verify", f"核对申请{request_no}的家庭经济状况", clock)
    members = [ondemand.Member(m.person_id, m.relation) for m in _members(session, request)]
    as_of = as_of or _now(clock)
    result = ondemand.assess(Path(lake_root), members, as_of=as_of, work_dir=work_dir, latest_only=True)
    if not result.profile:
        raise RequestError("NO_DATA", "核对时点的公安户籍数据中没有所列成员,无法核对:请核实身份证号码和核对时点")
    latest = result.profile[-1]
    request.status, request.verified_by, request.updated_at = "verified", user.username, _now(clock)
    request.as_of = as_of
    request.assessment = latest["assessment"]
    reasons = [r for r in result.reasons if r["period"] == latest["period"]]
    request.result_json = json.dumps({"profile": latest, "reasons": reasons, "table_versions": result.table_versions,
                                      "members": result.member_facts(latest["period"])},
                                     ensure_ascii=False, default=str)
    session.commit()
    return request


def review(session: Session, user: access.Principal, request_no: str, *, clock: audit.Clock = audit.utc_now):
    """复核: a second officer confirms the verification (four eyes: never the one who verified)."""
    request = get(session, request_no)
    if request.verified_by == user.username and request.status == "verified":
        raise RequestError("REVIEWER_SAME_AS_VERIFIER", "复核须由核对人以外的另一名核对员完成")
    _step(session, user, request, "review", f"复核核对申请{request_no}", clock)
    request.status, request.reviewed_by, request.updated_at = "reviewed", user.username, _now(clock)
    session.commit()
    return request


def reject(session: Session, user: access.Principal, request_no: str, reason: str, *,
           clock: audit.Clock = audit.utc_now):
    if not reason.strip():
        raise RequestError("REASON_MISSING", "退回申请须写明原因")
    request = get(session, request_no)
    _step(session, user, request, "reject", f"退回核对申请{request_no}", clock)
    request.status, request.rejection_reason, request.updated_at = "rejected", reason, _now(clock)
    session.commit()
    return request


def _report_pdf(session: Session, request: VerificationRequest, lake_root: Path, signer: signing.Signer, *,
                report_no: str, issued_at: _dt.datetime, issued_by: str,
                work_dir: Path | None) -> tuple[bytes, str, dict]:
    """Assess again at the exact table versions the verification used, and render the signed report."""
    stored = json.loads(request.result_json or "{}")
    versions = stored.get("table_versions")
    if versions is None:
        raise RequestError("RESULT_MISSING", "申请没有核对结果,不能出具报告")
    members = _members(session, request)
    assessed = ondemand.assess(Path(lake_root), [ondemand.Member(m.person_id, m.relation) for m in members],
                               versions=versions, work_dir=work_dir, latest_only=True)
    content = report.build_content(report_no=report_no, request=request, members=members, assessment=assessed,
                                   issued_at=issued_at, issued_by=issued_by, as_of=request.as_of)
    pdf, digest = report.render_pdf(content, signer)
    return pdf, digest, content


def issue_report(session: Session, user: access.Principal, request_no: str, lake_root: Path, *,
                 clock: audit.Clock = audit.utc_now, work_dir: Path | None = None) -> tuple[VerificationReport, bytes]:
    """出具报告: the reviewed result as a signed PDF, registered with its hashes and table versions."""
    request = get(session, request_no)
    _step(session, user, request, "report", f"出具核对申请{request_no}的核对报告", clock)
    signer = signing.load_signer()  # refuse before anything is written when no key is configured
    issued_at = _now(clock)
    report_no = "BG" + request.request_no[2:]
    pdf, digest, content = _report_pdf(session, request, lake_root, signer, report_no=report_no,
                                       issued_at=issued_at, issued_by=user.username, work_dir=work_dir)
    record = VerificationReport(
        report_no=report_no, request_id=request.id, period=content["period"], as_of=request.as_of,
        content_sm3=digest, file_sm3=signing.signed_digest(pdf), key_id=signer.key_id,
        table_versions_json=json.dumps(content["table_versions"], sort_keys=True), issued_by=user.username,
        issued_at=issued_at, updated_at=issued_at)
    session.add(record)
    request.status, request.updated_at = "reported", issued_at
    session.commit()
    return record, pdf


def regenerate_report(session: Session, user: access.Principal, report_no: str, lake_root: Path, *,
                      purpose: str, clock: audit.Clock = audit.utc_now, work_dir: Path | None = None) -> bytes:
    """The issued report again, from the registered table versions: same content, same hash, same file."""
    record = session.scalar(select(VerificationReport).where(VerificationReport.report_no == report_no))
    if record is None:
        raise RequestError("REPORT_UNKNOWN", f"没有编号为{report_no}的核对报告")
    request = session.get(VerificationRequest, record.request_id)
    members = _members(session, request)
    subject = masking.pseudonym(members[0].person_id) if members else None
    access.authorize_and_audit(session, user, "view_household_report", request.region_code, subject, purpose=purpose,
                               detail={"report_no": report_no, "regenerated": True}, clock=clock)
    pdf, digest, _ = _report_pdf(session, request, lake_root, signing.load_signer(), report_no=report_no,
                                 issued_at=record.issued_at, issued_by=record.issued_by, work_dir=work_dir)
    if digest != record.content_sm3:
        raise RequestError("REPORT_NOT_REPRODUCIBLE", "按登记的数据版本重新生成的报告内容与出具时不一致")
    return pdf


def registered(session: Session, report_no: str) -> VerificationReport | None:
    return session.scalar(select(VerificationReport).where(VerificationReport.report_no == report_no))
