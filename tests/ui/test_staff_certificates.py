"""电子证照 page: the approver sees the jurisdiction's 低保 recipient without a certificate (masked),
issues it, finds it in the register, verifies it by number and check code and from the uploaded file;
a wrong check code is refused; after the benefit ends and the sweep revokes it, verification says
revoked with the reason. A case worker has no such page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from assistance import certificates
from jiuzhu import auth, masking
from jiuzhu.business import db
from jiuzhu.business.models import Benefit, Certificate
from tests.business.test_casewatch import FAMILY, approved_family
from tests.ui.staffkit import PASSWORD, frame, login, texts

PAGE = "views/certificates.py"


@pytest.fixture
def office(tmp_path, monkeypatch, clock):
    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    for name, value in (("JIUZHU_HOME", str(tmp_path / "home")), ("JIUZHU_BUSINESS_DB_URL", url),
                        ("JIUZHU_ALLOW_DEMO_KEY", "1")):
        monkeypatch.setenv(name, value)
    with sessions() as s:
        for username, name, role, jurisdiction in auth.demo_accounts():
            auth.create_user(s, username, name, role, jurisdiction, PASSWORD, must_change_password=False, clock=clock)
        family = approved_family(s, clock, "SL510104202501060001", FAMILY)
        approved_family(s, clock, "SL510104202501060002", [(FAMILY[1][0], "王秀英", "02")], category="temporary",
                        item="temporary", proposed=1000.0, approved=1000.0)  # temporary aid: no certificate
        benefit = s.scalars(select(Benefit).where(Benefit.case_id == family.case.id)).one()
    return sessions, benefit.id


def _open(username: str):
    at = login(username)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _ok(at):
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)
    return at


def _verify(at, number: str, code: str):
    at.text_input(key="certificates_verify_no").input(number)
    at.text_input(key="certificates_verify_code").input(code)
    at.button(key="certificates_verify").click().run()
    assert not at.exception, at.exception
    return at


def test_an_approver_issues_and_verifies_a_certificate(office):
    sessions, benefit_id = office
    at = _ok(_open("shenpi01"))
    pending = frame(at, "certificates_pending")
    assert pending["待遇编号"].tolist() == [benefit_id]  # the temporary-aid benefit is not offered
    assert pending["持证人"].tolist() == ["李**"] and pending["公民身份号码"].tolist() == [masking.mask_id(FAMILY[0][0])]
    at.selectbox(key="certificates_benefit").set_value(benefit_id).run()
    _ok(at.button(key="certificates_issue").click().run())
    with sessions() as s:
        cert = s.scalars(select(Certificate)).one()
        user = auth.find_user(s, "shenpi01")
        pdf = certificates.pdf_of(s, user, cert.cert_no)  # the registered file, as the download hands it out
    assert f"已签发电子证照 {cert.cert_no}" in texts(at.success)
    assert at.get("download_button"), "the issued certificate is offered for download"
    assert frame(at, "certificates_pending", missing_ok=True) is None  # nothing left to issue
    register = frame(at, "certificates_register")
    assert register["证照编号"].tolist() == [cert.cert_no] and register["状态"].tolist() == ["有效"]

    _verify(at, cert.cert_no, certificates.grouped(cert.check_code))
    assert any(m.startswith("核验结果:有效") and "李**" in m for m in texts(at.success))
    _verify(at, cert.cert_no, "ABCD-EFGH-2345")
    assert any("核验码错误" in m for m in texts(at.error)) and not any("李" in m for m in texts(at.error))
    at.file_uploader(key="certificates_verify_file").set_value((f"{cert.cert_no}.pdf", pdf, "application/pdf")).run()
    assert not at.exception, at.exception
    assert any(m.startswith("核验结果:有效") for m in texts(at.success))

    # the benefit ends; the platform's sweep revokes the certificate
    with sessions() as s:
        benefit = s.get(Benefit, benefit_id)
        benefit.status, benefit.end_period = "ended", "2026-11"
        s.commit()
        assert [c.cert_no for c in certificates.revoke_ended(s)] == [cert.cert_no]
    at.file_uploader(key="certificates_verify_file").set_value(None).run()
    _verify(at, cert.cert_no, cert.check_code)
    assert any("已注销" in m and "已于2026年11月停发" in m for m in texts(at.warning))
    register = frame(at, "certificates_register")
    assert register["状态"].tolist() == ["已注销"] and "2026年11月" in register["注销原因"].iloc[0]


def test_a_case_worker_has_no_certificate_page(office):
    at = login("jingban01")
    with pytest.raises(ValueError):
        at.switch_page(PAGE)  # not in the case worker's menu
