"""电子证照: an approver issues the signed 低保证/特困证 of an active benefit; it verifies by number and
check code and from the file; one changed byte, a wrong check code, a key nobody trusts or an altered
registry row fail; the certificate is revoked when the benefit ends (the sweep and the direct call)
and then verifies as revoked with date and reason; temporary aid gets no certificate."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from assistance import certificates
from jiuzhu import access, auth, masking
from jiuzhu.business.models import AuditLog, Benefit, Certificate
from tests.business.test_casewatch import FAMILY, PASSWORD, QINGYANG_TOWNSHIP, approved_family, person
from verification import signing


@pytest.fixture(autouse=True)
def _demo_keys(monkeypatch):
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")


@pytest.fixture
def users(session, clock):
    return {name: auth.create_user(session, name, name, role, where, PASSWORD, must_change_password=False, clock=clock)
            for name, role, where in (("shenpi01", access.APPROVER, "510104000000"),
                                      ("shenpi02", access.APPROVER, "510105000000"),
                                      ("jingban01", access.CASE_WORKER, "510104017000"))}


def pdf_text(pdf: bytes) -> str:
    if not shutil.which("pdftotext"):
        pytest.fail("poppler-utils (pdftotext) must be installed: .ci/run installs them")
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def benefit_of(session, family) -> Benefit:
    return session.scalars(select(Benefit).where(Benefit.case_id == family.case.id)).one()


def test_an_approver_issues_a_certificate_that_verifies(session, clock, users):
    dibao = approved_family(session, clock, "SL510104202501060001", FAMILY)
    tekun = approved_family(session, clock, "SL510104202501060002", [(person(31), "欧阳明华", "02")],
                            category="tekun", item="tekun", proposed=1280.0, approved=1280.0)
    cert, pdf = certificates.issue(session, users["shenpi01"], benefit_of(session, dibao).id, clock)

    assert re.fullmatch(r"DB2025030300001", cert.cert_no) and cert.status == "valid"
    assert re.fullmatch(r"[A-Z2-7]{12}", cert.check_code) and cert.issued_by == "shenpi01"
    assert cert.check_code == certificates.check_code_of(cert.signature)
    text = pdf_text(pdf)
    holder_id = FAMILY[0][0]
    for shown in ("最低生活保障证", "电子证照", cert.cert_no, "李建国", masking.mask_id(holder_id),
                  "四川省成都市锦江区锦官驿街道", "城市最低生活保障", "2人", "2025年2月1日",
                  certificates.grouped(cert.check_code), "四川省成都市锦江区民政局", "演示证照"):
        assert shown in text, shown
    assert holder_id not in text and holder_id.encode() not in pdf
    embedded = certificates.embedded_content(pdf)
    assert embedded["cert_no"] == cert.cert_no and certificates.content_hash(embedded) == cert.content_sm3

    ok = certificates.verify(session, cert.cert_no, cert.check_code, actor="shenpi01", clock=clock)
    assert ok.ok and ok.holder_masked == "李**" and ok.region == "四川省成都市锦江区锦官驿街道"
    assert "有效" in ok.message_zh and "李建国" not in ok.message_zh
    typed = certificates.grouped(cert.check_code).lower().replace("o", "0").replace("i", "1")
    assert certificates.verify(session, cert.cert_no.lower(), f" {typed} ", clock=clock).ok  # as people type it
    assert certificates.verify_pdf(session, pdf, clock=clock).status == "valid"

    # one valid certificate per benefit; numbers run per kind and day
    with pytest.raises(certificates.CertificateError) as twice:
        certificates.issue(session, users["shenpi01"], benefit_of(session, dibao).id, clock)
    assert twice.value.code == "ALREADY_ISSUED" and cert.cert_no in twice.value.message
    second, _ = certificates.issue(session, users["shenpi01"], benefit_of(session, tekun).id, clock)
    assert second.cert_no == "TK2025030300001" and second.kind == "tekun"
    # the file again from the registry: the same bytes
    assert certificates.pdf_of(session, users["shenpi01"], cert.cert_no, clock=clock) == pdf

    entries = session.scalars(select(AuditLog).order_by(AuditLog.seq)).all()
    issued = [e for e in entries if e.action == "certificate_issued"]
    assert [json.loads(e.detail)["cert_no"] for e in issued] == [cert.cert_no, second.cert_no]
    assert issued[0].subject_key == masking.pseudonym(holder_id)
    assert [e.outcome for e in entries if e.action == "issue_certificate"] == ["allowed"] * 4
    checks = [json.loads(e.detail) for e in entries if e.action == "verify_certificate"]
    assert [(c["by"], c["result"]) for c in checks] == [("code", "valid"), ("code", "valid"), ("file", "valid")]
    assert all(holder_id not in e.detail for e in entries)


@pytest.mark.parametrize("business_url", ["sqlite"], indirect=True)  # file checks: the database plays no part
def test_an_altered_file_a_wrong_code_or_an_untrusted_key_fail(session, clock, users):
    family = approved_family(session, clock, "SL510104202501060001", FAMILY)
    cert, pdf = certificates.issue(session, users["shenpi01"], benefit_of(session, family).id, clock)
    for at in (0, 9, len(pdf) // 3, len(pdf) // 2, pdf.rfind(certificates.CONTENT_MARK) + 30, len(pdf) - 5):
        changed = bytearray(pdf)
        changed[at] ^= 0x01
        status = certificates.verify_pdf(session, bytes(changed), clock=clock)
        assert status.status == "tampered" and status.holder_masked is None, at
    assert certificates.verify_pdf(session, pdf[: pdf.rfind(signing.MARK)], clock=clock).status == "tampered"
    assert certificates.verify_pdf(session, b"%PDF-1.7 not a certificate", clock=clock).status == "tampered"

    # a certificate with another holder, signed with a key the platform does not trust
    content = certificates.embedded_content(pdf)
    content["holder_name"] = "张三"
    body = pdf[: pdf.rfind(certificates.CONTENT_MARK)]
    forged = body + certificates.CONTENT_MARK + base64.b64encode(certificates.canonical(content)) + b"\n"
    forged = signing.sign_pdf(forged, cert.cert_no, signing.Signer(Ed25519PrivateKey.generate()))
    assert certificates.verify_pdf(session, forged, clock=clock).status == "tampered"

    wrong = "A" * 12 if cert.check_code != "A" * 12 else "B" * 12
    refused = certificates.verify(session, cert.cert_no, wrong, clock=clock)
    assert refused.status == "check_code_wrong" and "核验码" in refused.message_zh
    assert refused.holder_masked is None and refused.region is None  # nothing about the holder
    unknown = certificates.verify(session, "DB2099010100001", cert.check_code, clock=clock)
    assert unknown.status == "unknown" and "DB2099010100001" in unknown.message_zh
    assert certificates.verify(session, "110101199001011234", "x", clock=clock).status == "unknown"
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "verify_certificate")
                            .order_by(AuditLog.seq.desc())).first()
    assert json.loads(entry.detail)["cert_no"] == "(格式不符)"  # what was typed is not kept when it is no number

    # a registry row changed behind the platform's back no longer matches its own signature
    cert.check_code = wrong
    session.commit()
    assert certificates.verify(session, cert.cert_no, wrong, clock=clock).status == "tampered"


def test_a_certificate_is_revoked_when_its_benefit_ends(session, clock, users):
    family = approved_family(session, clock, "SL510104202501060001", FAMILY)
    moved = approved_family(session, clock, "SL510104202501060002", [(person(31), "欧阳明华", "02")],
                            category="tekun", item="tekun", proposed=1280.0, approved=1280.0)
    cert, pdf = certificates.issue(session, users["shenpi01"], benefit_of(session, family).id, clock)
    other, _ = certificates.issue(session, users["shenpi01"], benefit_of(session, moved).id, clock)
    assert certificates.revoke_ended(session, clock) == []  # both benefits active

    clock.advance(days=30)
    benefit = benefit_of(session, family)
    benefit.status, benefit.end_period, benefit.end_reason = "ended", "2025-03", "家庭收入超过当地低保标准"
    session.commit()
    assert [c.cert_no for c in certificates.revoke_ended(session, clock)] == [cert.cert_no]
    assert certificates.revoke_ended(session, clock) == []
    status = certificates.verify(session, cert.cert_no, cert.check_code, clock=clock)
    assert status.status == "revoked" and status.revoked_at == clock()
    assert "2025年4月2日注销" in status.message_zh and "救助待遇已于2025年3月停发" in status.message_zh
    assert "收入" not in status.message_zh  # why the benefit ended stays in the case file
    assert certificates.verify_pdf(session, pdf, clock=clock).status == "revoked"
    with pytest.raises(certificates.CertificateError) as ended:
        certificates.issue(session, users["shenpi01"], benefit.id, clock)
    assert ended.value.code == "BENEFIT_NOT_ACTIVE"

    # the flow engine revokes directly when it ends a benefit
    with pytest.raises(certificates.CertificateError):
        certificates.revoke_for_benefit(session, benefit_of(session, moved).id, " ", clock)
    revoked = certificates.revoke_for_benefit(session, benefit_of(session, moved).id, "户籍迁出本县", clock)
    assert [c.cert_no for c in revoked] == [other.cert_no]
    assert "户籍迁出本县" in certificates.verify(session, other.cert_no, other.check_code, clock=clock).message_zh
    logged = session.scalars(select(AuditLog).where(AuditLog.action == "certificate_revoked")).all()
    assert [json.loads(e.detail)["cert_nos"] for e in logged] == [[cert.cert_no], [other.cert_no]]


def test_no_certificate_for_temporary_aid_or_outside_the_approvers_remit(session, clock, users):
    temporary = approved_family(session, clock, "SL510104202501060001", FAMILY, category="temporary",
                                item="temporary", proposed=1000.0, approved=1000.0)
    with pytest.raises(certificates.CertificateError) as refused:
        certificates.issue(session, users["shenpi01"], benefit_of(session, temporary).id, clock)
    assert refused.value.code == "KIND_NOT_CERTIFIED" and refused.value.message.startswith("临时救助不发放电子证照")
    dibao = approved_family(session, clock, "SL510104202501060002", [(person(31), "欧阳明华", "02")])
    with pytest.raises(access.AccessDenied) as worker:
        certificates.issue(session, users["jingban01"], benefit_of(session, dibao).id, clock)
    assert worker.value.code == "ROLE_NOT_PERMITTED"
    with pytest.raises(access.AccessDenied) as elsewhere:
        certificates.issue(session, users["shenpi02"], benefit_of(session, dibao).id, clock)
    assert elsewhere.value.code == "OUT_OF_JURISDICTION"
    with pytest.raises(certificates.CertificateError) as unknown:
        certificates.issue(session, users["shenpi01"], 999999, clock)
    assert unknown.value.code == "BENEFIT_UNKNOWN"
    assert session.scalar(select(func.count()).select_from(Certificate)) == 0
    qingyang = approved_family(session, clock, "SL510105202501060003", [(person(41), "孙红", "02")],
                               region=QINGYANG_TOWNSHIP)
    issued, _ = certificates.issue(session, users["shenpi02"], benefit_of(session, qingyang).id, clock)
    assert issued.region_code == QINGYANG_TOWNSHIP
