"""档案管理 (BZ-4): every case's materials and decisions archived electronically, each with its SM3
digest, a trusted timestamp and the centre's signature; household change records; archive search.

The signature covers the archive number, the case, the household, the kind, the SM3 of the content,
its size and the archiving time and officer (``_payload``): altering the file, the stored digest or
any of those fields is found by ``check``. The timestamp is the centre's own signed clock reading;
a deployment with a time-stamping authority (RFC 3161) adds its token beside it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jiuzhu import access, audit, masking, regions
from jiuzhu.business.models import ArchiveDocument, AssistanceCase, CaseMember, HouseholdChange
from jiuzhu.errors import CodedError
from jiuzhu.supervision import BEIJING
from verification import signing

KINDS = {"material": "申请材料", "decision": "审批决定", "publicity": "公示记录", "certificate": "电子证照",
         "verification_report": "核对报告", "notice": "告知书", "other": "其他"}
CHANGE_KINDS = {"benefit_change": "待遇变更", "migration": "迁移", "member_change": "成员变更",
                "info_change": "信息变更"}
MAX_BYTES = 20 * 1024 * 1024
# the scans a window accepts: PDF and images, recognised by their first bytes, not their names
MAGIC = {b"%PDF-": "application/pdf", b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg",
         b"II*\x00": "image/tiff", b"MM\x00*": "image/tiff"}


class ArchiveError(CodedError):
    """An archive operation refused, with why."""


def sniff(content: bytes) -> str | None:
    for magic, media_type in MAGIC.items():
        if content.startswith(magic):
            return media_type
    return None


def _payload(doc: ArchiveDocument) -> str:
    return "|".join(["jiuzhu-archive", "v1", doc.archive_no, str(doc.case_id or ""), doc.household_no or "",
                     doc.kind, doc.sm3, str(doc.size), doc.archived_at.isoformat(), doc.archived_by])


def archive(session: Session, *, case: AssistanceCase | None, kind: str, title: str, filename: str,
            content: bytes, archived_by: str, media_type: str | None = None, household_no: str | None = None,
            clock: audit.Clock = audit.utc_now) -> ArchiveDocument:
    """Archive one document (the caller has authorised the step it belongs to)."""
    if kind not in KINDS:
        raise ArchiveError("ARCHIVE_KIND_UNKNOWN", f"未知的档案类别:{kind}")
    if not content:
        raise ArchiveError("ARCHIVE_EMPTY", f"“{title}”是空文件,不能归档")
    if len(content) > MAX_BYTES:
        raise ArchiveError("ARCHIVE_TOO_LARGE", f"“{title}”超过{MAX_BYTES // 1024 // 1024}MB,不能归档")
    signer = signing.load_signer()
    now = clock()
    count = session.scalar(select(func.count()).select_from(ArchiveDocument)) or 0
    doc = ArchiveDocument(
        archive_no=f"DA{now.astimezone(BEIJING).strftime('%Y%m%d')}-{count + 1:07d}",  # no 16-digit run: audit-safe
        case_id=case.id if case is not None else None,
        household_no=household_no or (case.household_no if case is not None else None), kind=kind, title=title,
        filename=filename, media_type=media_type or sniff(content) or "application/octet-stream",
        size=len(content), sm3=signing.sm3(content), content=content, archived_by=archived_by, archived_at=now,
        key_id=signer.key_id, signature="", updated_at=now)
    doc.signature = signer.sign_text(_payload(doc))
    session.add(doc)
    session.flush()
    return doc


def archive_record(session: Session, *, case: AssistanceCase, kind: str, title: str, record: dict,
                   archived_by: str, clock: audit.Clock = audit.utc_now) -> ArchiveDocument:
    """A decision or notice as a canonical JSON document (what was decided, by whom, when, why)."""
    body = json.dumps(record, ensure_ascii=False, sort_keys=True, indent=1, default=str).encode("utf-8")
    return archive(session, case=case, kind=kind, title=title, filename=f"{kind}.json", content=body,
                   media_type="application/json", archived_by=archived_by, clock=clock)


@dataclass(frozen=True)
class Check:
    archive_no: str
    intact: bool
    problem_zh: str | None


def check(doc: ArchiveDocument, keys: dict | None = None) -> Check:
    """Is the archived document as it was archived? Content against its SM3, the record against
    the signature."""
    keys = keys if keys is not None else signing.trusted_keys()
    if signing.sm3(doc.content) != doc.sm3 or len(doc.content) != doc.size:
        return Check(doc.archive_no, False, "文件内容与归档时的SM3摘要不一致:档案文件已被改动")
    key = keys.get(doc.key_id)
    if key is None:
        return Check(doc.archive_no, False, f"签名密钥{doc.key_id}不在受信任的密钥中,无法验证")
    try:
        key.verify(base64.b64decode(doc.signature), _payload(doc).encode("utf-8"))
    except (InvalidSignature, ValueError):
        return Check(doc.archive_no, False, "归档记录(摘要、时间、案件或类别)与签名不符:档案记录已被改动")
    return Check(doc.archive_no, True, None)


def check_all(session: Session, case_id: int | None = None) -> list[Check]:
    keys = signing.trusted_keys()
    query = select(ArchiveDocument).order_by(ArchiveDocument.id)
    if case_id is not None:
        query = query.where(ArchiveDocument.case_id == case_id)
    return [check(doc, keys) for doc in session.scalars(query)]


def record_change(session: Session, *, household_no: str, kind: str, detail: dict, effective_on: str,
                  recorded_by: str, case: AssistanceCase | None = None,
                  clock: audit.Clock = audit.utc_now) -> HouseholdChange:
    """家庭变更记录: benefit changes, migrations, members, information changes."""
    if kind not in CHANGE_KINDS:
        raise ArchiveError("CHANGE_KIND_UNKNOWN", f"未知的变更类别:{kind}")
    now = clock()
    change = HouseholdChange(household_no=household_no, case_id=case.id if case is not None else None, kind=kind,
                             detail_json=json.dumps(detail, ensure_ascii=False, sort_keys=True),
                             effective_on=effective_on, recorded_by=recorded_by, recorded_at=now, updated_at=now)
    session.add(change)
    session.flush()
    return change


@dataclass(frozen=True)
class Hit:
    archive_no: str
    acceptance_no: str | None
    kind_zh: str
    title: str
    archived_at: str
    size: int


def search(session: Session, user: access.Principal, *, purpose: str, acceptance_no: str | None = None,
           person_id: str | None = None, household_no: str | None = None, kind: str | None = None,
           clock: audit.Clock = audit.utc_now) -> list[Hit]:
    """档案查询 within the user's jurisdiction: by acceptance number, a member's ID or the household."""
    if not (acceptance_no or person_id or household_no):
        raise ArchiveError("SEARCH_EMPTY", "请输入受理编号、身份证号码或户编号之一")
    cases = select(AssistanceCase)
    if acceptance_no:
        cases = cases.where(AssistanceCase.acceptance_no == acceptance_no.strip())
    if person_id:
        ids = select(CaseMember.case_id).where(CaseMember.person_id == person_id.strip().upper())
        cases = cases.where(AssistanceCase.id.in_(ids))
    if household_no:
        cases = cases.where(AssistanceCase.household_no == household_no.strip())
    found = list(session.scalars(cases))
    subject = masking.pseudonym(person_id.strip().upper()) if person_id else None
    region = found[0].region_code if len(found) == 1 else user.jurisdiction_code
    access.authorize_and_audit(session, user, "view_archive", region, subject, purpose=purpose,
                               detail={"cases": len(found)}, clock=clock)
    visible = {c.id: c for c in found if regions.contains(user.jurisdiction_code, c.region_code)}
    query = select(ArchiveDocument).where(ArchiveDocument.case_id.in_(list(visible) or [-1]))
    if household_no:
        query = select(ArchiveDocument).where((ArchiveDocument.case_id.in_(list(visible) or [-1]))
                                              | (ArchiveDocument.household_no == household_no.strip()))
    if kind:
        query = query.where(ArchiveDocument.kind == kind)
    hits = []
    for doc in session.scalars(query.order_by(ArchiveDocument.archived_at)):
        case = visible.get(doc.case_id)
        if case is None and doc.case_id is not None:
            continue
        hits.append(Hit(doc.archive_no, case.acceptance_no if case else None, KINDS.get(doc.kind, doc.kind),
                        doc.title, doc.archived_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"), doc.size))
    return hits


def open_document(session: Session, user: access.Principal, archive_no: str, *, purpose: str,
                  clock: audit.Clock = audit.utc_now) -> tuple[ArchiveDocument, Check]:
    """One archived document for download, checked first; the read is authorised and audited."""
    doc = session.scalar(select(ArchiveDocument).where(ArchiveDocument.archive_no == archive_no))
    if doc is None:
        raise ArchiveError("ARCHIVE_UNKNOWN", f"没有编号为{archive_no}的档案")
    case = session.get(AssistanceCase, doc.case_id) if doc.case_id is not None else None
    region = case.region_code if case is not None else user.jurisdiction_code
    subject = masking.pseudonym(case.applicant_person_id) if case is not None else None
    access.authorize_and_audit(session, user, "view_archive", region, subject, purpose=purpose,
                               detail={"archive_no": archive_no}, clock=clock)
    return doc, check(doc)
