"""电子证照 services: the jurisdiction's active 低保/特困 benefits still without a valid certificate,
issuing and downloading the signed PDF, the certificate register, and verification by number and
check code or from an uploaded file (``assistance.certificates``).

Lists show holders masked (name and ID): issuing needs the benefit, not the person's details; every
look at the lists, every issue, download and verification is audited."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from assistance import certificates
from dashboards.staff.runtime import business_session, china_time, now
from jiuzhu import access, masking, regions, sqlguard
from jiuzhu.business.models import AssistanceCase, Benefit, Certificate

PENDING_COLUMNS = ["待遇编号", "受理编号", "证照类别", "持证人", "公民身份号码", "所在地区", "保障人数", "起始月份"]
REGISTER_COLUMNS = ["证照编号", "证照类别", "持证人", "所在地区", "有效期起", "状态", "签发人", "签发时间", "注销时间",
                    "注销原因"]


def _place(tree, code: str) -> str:
    if code not in tree:
        return code
    chain = tree.ancestors(code)
    return "".join(r.name for r in chain[2:]) or tree.full_name(code)  # from the county down


def pending_frame(user: access.Principal) -> pd.DataFrame:
    """Active 低保 and 特困 benefits of the jurisdiction that hold no valid certificate, oldest first."""
    tree = regions.load()
    prefix = sqlguard.jurisdiction_prefix(user.jurisdiction_code)
    with business_session() as db:
        access.authorize_and_audit(db, user, "issue_certificate", user.jurisdiction_code,
                                   purpose="电子证照:查看待签发证照的救助对象", clock=now)
        held = select(Certificate.benefit_id).where(Certificate.status == "valid")
        rows = db.execute(select(Benefit, AssistanceCase.acceptance_no)
                          .join(AssistanceCase, AssistanceCase.id == Benefit.case_id)
                          .where(Benefit.status == "active", Benefit.category.in_(tuple(certificates.KINDS)),
                                 Benefit.region_code.like(prefix + "%"), Benefit.id.not_in(held))
                          .order_by(Benefit.created_at, Benefit.id)).all()
    out = [{"待遇编号": b.id, "受理编号": number, "证照类别": certificates.KINDS[b.category].short,
            "持证人": masking.mask_name(b.holder_name), "公民身份号码": masking.mask_id(b.holder_person_id),
            "所在地区": _place(tree, b.region_code), "保障人数": b.household_size, "起始月份": b.start_period}
           for b, number in rows if regions.contains(user.jurisdiction_code, b.region_code)]
    return pd.DataFrame(out, columns=PENDING_COLUMNS)


def issue(user: access.Principal, benefit_id: int) -> tuple[str, bytes]:
    with business_session() as db:
        record, pdf = certificates.issue(db, user, benefit_id, clock=now)
        return record.cert_no, pdf


def register_frame(user: access.Principal, status: str | None = None) -> pd.DataFrame:
    """The certificates of the jurisdiction (newest first), with status and, when revoked, why."""
    tree = regions.load()
    prefix = sqlguard.jurisdiction_prefix(user.jurisdiction_code)
    with business_session() as db:
        access.authorize_and_audit(db, user, "issue_certificate", user.jurisdiction_code,
                                   purpose="电子证照:查看证照台账", detail={"status": status or "all"}, clock=now)
        found = certificates.certificates_of(db, prefix, status)
    out = [{"证照编号": c.cert_no, "证照类别": certificates.KINDS[c.kind].short if c.kind in certificates.KINDS
            else c.kind, "持证人": masking.mask_name(c.holder_name), "所在地区": _place(tree, c.region_code),
            "有效期起": c.valid_from, "状态": certificates.STATUS_ZH.get(c.status, c.status), "签发人": c.issued_by,
            "签发时间": china_time(c.issued_at, seconds=False), "注销时间": china_time(c.revoked_at, seconds=False),
            "注销原因": c.revoke_reason or ""}
           for c in found if regions.contains(user.jurisdiction_code, c.region_code)]
    return pd.DataFrame(out, columns=REGISTER_COLUMNS)


def download(user: access.Principal, cert_no: str) -> bytes:
    with business_session() as db:
        return certificates.pdf_of(db, user, cert_no, clock=now)


def verify_code(user: access.Principal, cert_no: str, check_code: str) -> certificates.CertificateStatus:
    with business_session() as db:
        return certificates.verify(db, cert_no, check_code, actor=user.username, clock=now)


def verify_file(user: access.Principal, data: bytes) -> certificates.CertificateStatus:
    with business_session() as db:
        return certificates.verify_pdf(db, data, actor=user.username, clock=now)
