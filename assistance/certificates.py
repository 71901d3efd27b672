"""电子证照 (BZ-6, BZ-8): the signed recipient certificate — 低保证 for 最低生活保障, 特困证 for
特困人员救助供养 — with a check code (核验码), verifiable by number and code or from the file; revoked
(注销) when the benefit ends.

What a certificate says is its *content*: a plain dict (number, holder's name and masked ID, region,
item, household size, valid from, issuing office and date). Its canonical JSON's SM3 is signed with
the platform's Ed25519 key (``verification.signing``) over ``JZZZ1|<cert no>|<content SM3>``; the
check code is the first 12 base32 characters of the SM3 of that signature, so it cannot be made up
without the key, and a registry row altered afterwards no longer matches its own signature.

The PDF (WeasyPrint, Noto CJK embedded, like the verification report) prints the content, the check
code and a QR code with ``JZZZ1|<cert no>|<check code>|<key id>``. The content's canonical JSON is
embedded after the PDF's ``%%EOF`` as one comment line (readers ignore it), and the whole file is then
signed like a report (``signing.sign_pdf``): one byte changed anywhere fails ``verify_pdf``.

A certificate is ``valid`` while its benefit is active; ``revoke_for_benefit`` (when the benefit
ends) and ``revoke_ended`` (the job's sweep) revoke it with the date and reason, and verification
then answers "revoked" with both. Verification never shows more of the holder than a masked name.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
import segno
from cryptography.exceptions import InvalidSignature
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistance import catalogue
from jiuzhu import access, audit, masking, regions
from jiuzhu.business.models import AssistanceCase, Benefit, Certificate
from jiuzhu.errors import CodedError
from jiuzhu.supervision import BEIJING
from verification import report, signing

TEMPLATES = Path(__file__).resolve().parent / "templates"
FORMAT = "JZZZ1"
CONTENT_MARK = b"\n%JIUZHU-CERTIFICATE v1 "
CHECK_CODE_LENGTH = 12
SYSTEM_ACTOR = "system:certificates"
_CERT_NO = re.compile(r"^(DB|TK)\d{13}$")
_CONTENT_LINE = re.compile(rb"^([A-Za-z0-9+/=]+)\n$")
# Characters people mistype for base32 letters (base32 has no 0, 1 or 8).
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})


@dataclass(frozen=True)
class Kind:
    code: str
    title: str  # 证照名称
    short: str  # 简称
    prefix: str  # of the certificate number


KINDS = {"dibao": Kind("dibao", "最低生活保障证", "低保证", "DB"),
         "tekun": Kind("tekun", "特困人员救助供养证", "特困证", "TK")}
STATUS_ZH = {"valid": "有效", "revoked": "已注销"}
VERIFY_ZH = {"valid": "有效", "revoked": "已注销", "unknown": "查无此证", "check_code_wrong": "核验码错误",
             "tampered": "核验未通过"}


class CertificateError(CodedError):
    """A certificate refused or not reproducible, with why (Chinese)."""


@dataclass(frozen=True)
class CertificateStatus:
    """The answer of a verification: ``status`` is valid, revoked, unknown, check_code_wrong or tampered."""

    status: str
    message_zh: str
    cert_no: str | None = None
    kind_zh: str | None = None
    holder_masked: str | None = None
    region: str | None = None
    valid_from: str | None = None
    revoked_at: _dt.datetime | None = None
    revoke_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "valid"

    @property
    def status_zh(self) -> str:
        return VERIFY_ZH[self.status]


# --- content, signature, check code --------------------------------------------------------------------------


def canonical(content: dict) -> bytes:
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def content_hash(content: dict) -> str:
    return signing.sm3(canonical(content))


def _payload(cert_no: str, digest: str) -> str:
    return f"{FORMAT}|{cert_no}|{digest}"


def check_code_of(signature_b64: str) -> str:
    """The 12-character check code of a certificate's signature."""
    digest = bytes.fromhex(signing.sm3(base64.b64decode(signature_b64)))
    return base64.b32encode(digest).decode("ascii")[:CHECK_CODE_LENGTH]


def normalise_code(text: str | None) -> str:
    """A check code as typed (lower case, spaces or dashes, 0/1/8 for O/I/B) in its stored form."""
    return re.sub(r"[^0-9A-Z]", "", (text or "").upper()).translate(_LOOKALIKES)


def grouped(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def _date_zh(day: _dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _item_name(benefit: Benefit) -> str:
    base = catalogue.CATEGORIES.get(benefit.category, benefit.category)
    if benefit.aid_item_code.endswith("_urban"):
        return "城市" + base
    if benefit.aid_item_code.endswith("_rural"):
        return "农村" + base
    return base


def _county(code: str) -> str:
    return code[:6] + "000000"


def build_content(*, cert_no: str, benefit: Benefit, case: AssistanceCase, issued_at: _dt.datetime) -> dict:
    """Everything the certificate says (nothing about how it is printed)."""
    tree = regions.load()
    kind = KINDS[benefit.category]
    valid_from = _dt.date.fromisoformat(f"{benefit.start_period}-01")
    issued = issued_at.astimezone(BEIJING)
    return {
        "format": FORMAT,
        "title": kind.title,
        "kind": kind.code,
        "cert_no": cert_no,
        "holder_name": benefit.holder_name,
        "holder_id_masked": masking.mask_id(benefit.holder_person_id),
        "region_code": benefit.region_code,
        "region": tree.full_name(benefit.region_code),
        "item": _item_name(benefit),
        "household_size": benefit.household_size,
        "valid_from": valid_from.isoformat(),
        "valid_from_zh": _date_zh(valid_from),
        "acceptance_no": case.acceptance_no,
        "issuer": f"{tree.full_name(_county(benefit.region_code))}民政局",
        "issued_on": issued.date().isoformat(),
        "issued_on_zh": _date_zh(issued.date()),
        "issued_at_iso": issued.isoformat(timespec="seconds"),
    }


def qr_payload(cert_no: str, check_code: str, key_id: str) -> str:
    return f"{FORMAT}|{cert_no}|{check_code}|{key_id}"


# --- the PDF -------------------------------------------------------------------------------------------------


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("certificate.html")


def render_html(content: dict, digest: str, check_code: str, key_id: str, *, demo: bool) -> str:
    qr = segno.make(qr_payload(content["cert_no"], check_code, key_id), error="m")
    return _template().render(c=content, digest=digest, check_code=grouped(check_code), key_id=key_id,
                              qr_svg=qr.svg_data_uri(scale=2, border=2), demo=demo)


def render_pdf(content: dict, check_code: str, signer: signing.Signer) -> bytes:
    """The certificate as a signed PDF, a function of the content alone (same content, same bytes)."""
    digest = content_hash(content)
    html = render_html(content, digest, check_code, signer.key_id, demo=signer.demo)
    pdf = report.write_pdf_at(html, TEMPLATES, _dt.datetime.fromisoformat(content["issued_at_iso"]))
    embedded = pdf + CONTENT_MARK + base64.b64encode(canonical(content)) + b"\n"
    return signing.sign_pdf(embedded, content["cert_no"], signer)


def embedded_content(data: bytes) -> dict | None:
    """The content a certificate PDF carries (None when there is none or it cannot be read)."""
    at = data.rfind(signing.MARK)
    body = data if at < 0 else data[:at]
    start = body.rfind(CONTENT_MARK)
    if start < 0:
        return None
    match = _CONTENT_LINE.match(body[start + len(CONTENT_MARK):])
    if not match:
        return None
    try:
        content = json.loads(base64.b64decode(match.group(1), validate=True).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return content if isinstance(content, dict) else None


# --- issuing -------------------------------------------------------------------------------------------------


def _next_number(session: Session, prefix: str, day: _dt.date) -> str:
    stem = f"{prefix}{day:%Y%m%d}"
    last = session.scalar(select(Certificate.cert_no).where(Certificate.cert_no.like(stem + "%"))
                          .order_by(Certificate.cert_no.desc()).limit(1))
    return f"{stem}{(int(last[-5:]) if last else 0) + 1:05d}"


def issue(session: Session, user: access.Principal, benefit_id: int,
          clock: audit.Clock = audit.utc_now) -> tuple[Certificate, bytes]:
    """签发: the certificate of an active 低保 or 特困 benefit, registered, with its signed PDF."""
    benefit = session.get(Benefit, benefit_id)
    if benefit is None:
        raise CertificateError("BENEFIT_UNKNOWN", f"没有编号为{benefit_id}的救助待遇")
    access.authorize_and_audit(session, user, "issue_certificate", benefit.region_code,
                               masking.pseudonym(benefit.holder_person_id), purpose="签发电子证照",
                               detail={"benefit_id": benefit.id, "category": benefit.category}, clock=clock)
    kind = KINDS.get(benefit.category)
    if kind is None:
        what = catalogue.CATEGORIES.get(benefit.category, benefit.category)
        raise CertificateError("KIND_NOT_CERTIFIED", f"{what}不发放电子证照:只为最低生活保障对象签发低保证、"
                                                     "为特困人员签发特困证")
    if benefit.status != "active":
        raise CertificateError("BENEFIT_NOT_ACTIVE", "该救助待遇已终止,不能签发电子证照")
    held = session.scalar(select(Certificate).where(Certificate.benefit_id == benefit.id,
                                                    Certificate.status == "valid"))
    if held is not None:
        raise CertificateError("ALREADY_ISSUED", f"该救助待遇已有有效的{kind.short}(编号{held.cert_no}),不能重复签发")
    case = session.get(AssistanceCase, benefit.case_id)
    if case is None:
        raise CertificateError("CASE_UNKNOWN", "该救助待遇没有对应的救助案件,不能签发电子证照")
    signer = signing.load_signer()  # refuse before anything is written when no key is configured
    issued_at = clock()
    cert_no = _next_number(session, kind.prefix, issued_at.astimezone(BEIJING).date())
    content = build_content(cert_no=cert_no, benefit=benefit, case=case, issued_at=issued_at)
    digest = content_hash(content)
    signature = signer.sign_text(_payload(cert_no, digest))
    code = check_code_of(signature)
    pdf = render_pdf(content, code, signer)
    record = Certificate(
        cert_no=cert_no, kind=kind.code, case_id=case.id, benefit_id=benefit.id,
        holder_person_id=benefit.holder_person_id, holder_name=benefit.holder_name, region_code=benefit.region_code,
        valid_from=content["valid_from"], status="valid", content_sm3=digest, key_id=signer.key_id,
        signature=signature, check_code=code, issued_by=user.username, issued_at=issued_at, updated_at=issued_at)
    session.add(record)
    session.flush()
    audit.append(session, actor=user.username, role=user.role, action="certificate_issued", outcome="success",
                 subject_key=masking.pseudonym(benefit.holder_person_id), region_code=benefit.region_code,
                 detail={"cert_no": cert_no, "kind": kind.code, "content_sm3": digest}, clock=clock)
    session.commit()
    return record, pdf


def pdf_of(session: Session, user: access.Principal, cert_no: str, *, purpose: str = "下载电子证照文件",
           clock: audit.Clock = audit.utc_now) -> bytes:
    """The issued certificate's PDF again, from the registry: same content, same hash, same file."""
    record = _registered(session, cert_no)
    if record is None:
        raise CertificateError("CERTIFICATE_UNKNOWN", f"没有编号为{cert_no}的电子证照")
    access.authorize_and_audit(session, user, "issue_certificate", record.region_code,
                               masking.pseudonym(record.holder_person_id), purpose=purpose,
                               detail={"cert_no": record.cert_no, "regenerated": True}, clock=clock)
    benefit, case = session.get(Benefit, record.benefit_id), session.get(AssistanceCase, record.case_id)
    if benefit is None or case is None:
        raise CertificateError("CERTIFICATE_NOT_REPRODUCIBLE", "证照对应的救助待遇或案件已不存在,无法重新生成文件")
    content = build_content(cert_no=record.cert_no, benefit=benefit, case=case, issued_at=record.issued_at)
    if content_hash(content) != record.content_sm3:
        raise CertificateError("CERTIFICATE_NOT_REPRODUCIBLE",
                               "待遇信息在签发后已变更(如保障人数),证照内容与签发时不一致:请注销后重新签发")
    signer = signing.load_signer()
    if signer.key_id != record.key_id:
        raise CertificateError("CERTIFICATE_NOT_REPRODUCIBLE",
                               f"证照由密钥{record.key_id}签发,当前签名密钥为{signer.key_id},无法重新生成同一文件")
    return render_pdf(content, record.check_code, signer)


# --- verifying -----------------------------------------------------------------------------------------------


def _registered(session: Session, cert_no: str | None) -> Certificate | None:
    number = (cert_no or "").strip().upper()
    if not _CERT_NO.match(number):
        return None
    return session.scalar(select(Certificate).where(Certificate.cert_no == number))


def _registry_intact(record: Certificate) -> bool:
    """The row still matches its own signature: content hash, number and check code unaltered."""
    public = signing.trusted_keys().get(record.key_id)
    if public is None:
        return False
    try:
        public.verify(base64.b64decode(record.signature), _payload(record.cert_no, record.content_sm3).encode("utf-8"))
    except (InvalidSignature, ValueError):
        return False
    return check_code_of(record.signature) == record.check_code


def _answer(record: Certificate) -> CertificateStatus:
    tree = regions.load()
    kind = KINDS.get(record.kind)
    kind_zh = kind.title if kind else record.kind
    common = {"cert_no": record.cert_no, "kind_zh": kind_zh, "holder_masked": masking.mask_name(record.holder_name),
              "region": tree.full_name(record.region_code) if record.region_code in tree else record.region_code,
              "valid_from": record.valid_from}
    if record.status == "revoked":
        when = record.revoked_at.astimezone(BEIJING).date() if record.revoked_at else None
        return CertificateStatus(
            "revoked", f"该{kind_zh}已于{_date_zh(when) if when else '—'}注销:{record.revoke_reason or '—'}",
            revoked_at=record.revoked_at, revoke_reason=record.revoke_reason, **common)
    return CertificateStatus("valid", f"{kind_zh}有效:持证人{common['holder_masked']},{common['region']},"
                                      f"自{record.valid_from}起有效", **common)


def _audit_check(session: Session, actor: str, how: str, cert_no: str | None, result: str, clock) -> None:
    number = (cert_no or "").strip().upper()
    audit.record(session, actor=actor, action="verify_certificate", outcome="success",
                 detail={"by": how, "cert_no": number if _CERT_NO.match(number) else "(格式不符)", "result": result},
                 clock=clock)


def verify(session: Session, cert_no: str, check_code: str, *, actor: str = "anonymous",
           clock: audit.Clock = audit.utc_now) -> CertificateStatus:
    """核验 by number and check code (what anyone holding the certificate can read off it)."""
    record = _registered(session, cert_no)
    if record is None:
        status = CertificateStatus("unknown", f"没有编号为{(cert_no or '').strip() or '(空)'}的电子证照")
    elif normalise_code(check_code) != record.check_code:
        status = CertificateStatus("check_code_wrong", "核验码与证照编号不符:请核对证照上印制的12位核验码",
                                   cert_no=record.cert_no)
    elif not _registry_intact(record):
        status = CertificateStatus("tampered", "证照登记信息与电子签名不符,无法确认证照有效,请联系发证机关",
                                   cert_no=record.cert_no)
    else:
        status = _answer(record)
    _audit_check(session, actor, "code", cert_no, status.status, clock)
    return status


def verify_pdf(session: Session, data: bytes, *, actor: str = "anonymous",
               clock: audit.Clock = audit.utc_now) -> CertificateStatus:
    """核验 a certificate file: its signature over every byte, the content it carries against the
    registry and the certificate's own signature, then the registry's status."""
    content = embedded_content(data)
    number = content.get("cert_no") if content else None
    file_check = signing.verify_pdf(data, signing.trusted_keys())
    record = _registered(session, number) if isinstance(number, str) else None
    if content is None:
        status = CertificateStatus("tampered", "文件不是本平台签发的电子证照,或其中的证照数据已被改动")
    elif not file_check.ok or file_check.report_no != number:
        status = CertificateStatus("tampered", "文件的电子签名核验未通过:证照文件在签发后被改动,或不是本平台签发",
                                   cert_no=number if isinstance(number, str) else None)
    elif record is None:
        status = CertificateStatus("unknown", f"发证登记中没有编号为{number}的电子证照")
    elif content_hash(content) != record.content_sm3 or not _registry_intact(record):
        status = CertificateStatus("tampered", "文件中的证照内容与发证登记不一致", cert_no=record.cert_no)
    else:
        status = _answer(record)
    _audit_check(session, actor, "file", number if isinstance(number, str) else None, status.status, clock)
    return status


# --- revoking ------------------------------------------------------------------------------------------------


def _revoke(session: Session, records: list[Certificate], reason: str, actor: str, clock) -> list[Certificate]:
    if not records:
        return []
    now = clock()
    for r in records:
        r.status, r.revoked_at, r.revoke_reason, r.updated_at = "revoked", now, reason, now
    session.flush()
    audit.record(session, actor=actor, action="certificate_revoked", outcome="success",
                 detail={"cert_nos": [r.cert_no for r in records][:50], "count": len(records)}, clock=clock)
    return records


def revoke_for_benefit(session: Session, benefit_id: int, reason: str, clock: audit.Clock = audit.utc_now, *,
                       actor: str = SYSTEM_ACTOR) -> list[Certificate]:
    """注销 every valid certificate of a benefit (called when the benefit ends); the revoked ones."""
    if not (reason or "").strip():
        raise CertificateError("REASON_MISSING", "注销电子证照须写明原因")
    records = list(session.scalars(select(Certificate).where(Certificate.benefit_id == benefit_id,
                                                             Certificate.status == "valid")))
    return _revoke(session, records, reason.strip(), actor, clock)


def revoke_ended(session: Session, clock: audit.Clock = audit.utc_now) -> list[Certificate]:
    """The sweep: revoke every valid certificate whose benefit has ended (or no longer exists)."""
    rows = session.execute(select(Certificate, Benefit).outerjoin(Benefit, Benefit.id == Certificate.benefit_id)
                           .where(Certificate.status == "valid").order_by(Certificate.id))
    revoked = []
    now = clock()
    for record, benefit in rows:
        if benefit is not None and benefit.status == "active":
            continue
        # the benefit's own end reason stays in the case file: a verifier learns that it ended, not why
        reason = "救助待遇已终止"
        if benefit is not None and benefit.end_period:
            reason = f"救助待遇已于{benefit.end_period[:4]}年{int(benefit.end_period[5:7])}月停发"
        record.status, record.revoked_at, record.revoke_reason, record.updated_at = "revoked", now, reason, now
        revoked.append(record)
    if revoked:
        session.flush()
        audit.record(session, actor=SYSTEM_ACTOR, action="certificate_revoked", outcome="success",
                     detail={"cert_nos": [r.cert_no for r in revoked][:50], "count": len(revoked),
                             "sweep": True}, clock=clock)
    return revoked


def certificates_of(session: Session, region_prefix: str, status: str | None = None) -> list[Certificate]:
    query = select(Certificate).where(Certificate.region_code.like(region_prefix + "%"))
    if status:
        query = query.where(Certificate.status == status)
    return list(session.scalars(query.order_by(Certificate.issued_at.desc(), Certificate.id.desc())))
