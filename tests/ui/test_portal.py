"""The public portal (issue #10) with Streamlit's AppTest: real-name registration refusing a wrong check
digit, the application wizard refusing a bad ID and a missing material before anything is submitted,
the progress query refusing a wrong ID exactly as an unknown number, complaint uploads refusing
non-images, oversized files and images with trailing payloads, and the disclosure showing masked
names only. The portal never sees the staff pages."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from assistance import cases, catalogue, portal
from jiuzhu.business import db
from jiuzhu.business.models import AssistanceCase, Complaint, VerificationRequest
from tests.business import casekit
from tests.business.conftest import FakeClock

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "portal" / "app.py")
PASSWORD = "Qiuzhu#2026portal"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def portal_db(tmp_path, monkeypatch):
    from dashboards.portal import runtime

    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    clock = FakeClock(datetime(2026, 11, 30, 2, 0, tzinfo=UTC))
    with sessions() as s:
        catalogue.seed(s, clock=clock)
    for name, value in (("JIUZHU_HOME", str(tmp_path / "home")), ("JIUZHU_LAKE", str(tmp_path / "no-lake")),
                        ("JIUZHU_BUSINESS_DB_URL", url), ("JIUZHU_ALLOW_DEMO_KEY", "1")):
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(runtime, "clock", clock)
    return sessions, clock


def _app(page: str, citizen=None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if citizen is not None:
        at.session_state["portal_citizen"] = citizen
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


def _place(at, key: str, town: str) -> None:
    at.selectbox(key=f"{key}_pref").set_value(town[:4] + "00000000").run()
    at.selectbox(key=f"{key}_county").set_value(town[:6] + "000000").run()
    if town[6:] != "000000":
        at.selectbox(key=f"{key}_town").set_value(town).run()


def _citizen(sessions, clock):
    family = casekit.family(start=71)
    with sessions() as s:
        made = portal.register(s, name=family[0].name, person_id=family[0].person_id, phone="13800138000",
                               password=PASSWORD, client_key="fixture", clock=clock)
        return portal.principal(made), family


def test_registration_refuses_a_wrong_check_digit_and_signs_in_a_valid_citizen(portal_db):
    at = _app("views/account.py")
    good = casekit.person_id(81)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    at.text_input(key="register_name").input("王秀兰")
    at.text_input(key="register_id").input(bad)
    at.text_input(key="register_phone").input("13912345678")
    at.text_input(key="register_password").input(PASSWORD)
    at.checkbox(key="register_agree").check()
    at.button[1].click().run()  # the register form's button (the login form's is first)
    assert any("身份证号码有误" in e for e in _errors(at)), _errors(at)
    at.text_input(key="register_id").input(good)
    at.button[1].click().run()
    assert not at.exception and not at.error, _errors(at)
    assert at.session_state["portal_citizen"].person_id == good


def test_the_wizard_refuses_a_bad_id_and_a_missing_material_then_submits(portal_db):
    sessions, clock = portal_db
    me, family = _citizen(sessions, clock)
    at = _app("views/apply.py", me)
    town = casekit.township_of(casekit.JINJIANG)
    _place(at, "apply", town)
    at.selectbox(key="apply_item").set_value("dibao_urban").run()
    at.button(key="apply_next_0").click().run()
    at.number_input(key="apply_count").set_value(2).run()
    at.text_input(key="apply_name_1").input(family[1].name)
    at.text_input(key="apply_id_1").input(family[1].person_id[:-1] + "Z")
    at.selectbox(key="apply_rel_1").set_value("10")
    at.button(key="apply_next_1").click().run()
    assert any("成员2:身份证号码有误" in e for e in _errors(at)), _errors(at)
    at.text_input(key="apply_id_1").input(family[1].person_id)
    at.button(key="apply_next_1").click().run()
    assert not at.error, _errors(at)
    at.file_uploader(key="apply_file_dibao_urban_0").upload("id.pdf", PDF, "application/pdf").run()
    at.button(key="apply_next_2").click().run()
    assert any("缺少" in e for e in _errors(at)), _errors(at)
    with sessions() as s:
        assert s.scalar(select(AssistanceCase.id)) is None  # nothing submitted yet
        required = [m.name for m in catalogue.effective(s, "dibao_urban", town).materials if m.required]
    for j in range(len(required)):
        at.file_uploader(key=f"apply_file_dibao_urban_{j}").upload(f"m{j}.pdf", PDF, "application/pdf")
    at.run()
    at.button(key="apply_next_2").click().run()
    assert not at.error, _errors(at)
    at.button(key="apply_submit").click().run()
    assert not at.error and not at.exception, _errors(at)
    shown = " ".join(s.value for s in at.success)
    with sessions() as s:
        case = s.scalar(select(AssistanceCase))
        assert case.channel == "online" and case.acceptance_no in shown and case.current_step == "accept"


def test_the_progress_query_answers_a_wrong_id_as_it_answers_an_unknown_number(portal_db):
    sessions, clock = portal_db
    me, family = _citizen(sessions, clock)
    town = casekit.township_of(casekit.JINJIANG)
    with sessions() as s:
        case = portal.apply(s, me, item_code="dibao_urban", township_code=town, members=family,
                            materials=casekit.materials("dibao_urban", s, town), clock=clock)
        number = case.acceptance_no
    answers = []
    for no, pid in ((number, casekit.person_id(99)), ("SL20990101999999", family[0].person_id)):
        at = _app("views/progress.py")
        at.text_input(key="progress_no").input(no)
        at.text_input(key="progress_id").input(pid)
        at.button[0].click().run()
        answers.append(_errors(at))
    assert answers[0] == answers[1] and answers[0] and "受理编号或身份证号码不正确" in answers[0][0]
    at = _app("views/progress.py")
    at.text_input(key="progress_no").input(number)
    at.text_input(key="progress_id").input(family[2].person_id)
    at.button[0].click().run()
    assert not at.error and any("受理" in m.value for m in at.markdown)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 90, 200)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(("name", "data", "message"), [
    ("notes.png", b"this is text pretending to be a picture", "不是PNG或JPEG图片"),
    ("huge.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (5 * 2**20 + 1), "超过5MB"),
    ("carrier.png", _png() + b"PK\x03\x04 a zip after the image", "附有其他内容"),
])
def test_a_complaint_upload_refuses_non_images_oversized_files_and_trailing_payloads(portal_db, name, data, message):
    sessions, _ = portal_db
    at = _app("views/complaints.py")
    _place(at, "complaint", casekit.township_of(casekit.JINJIANG))
    at.radio(key="complaint_kind").set_value("report").run()
    at.text_input(key="complaint_subject").input("疑似虚报收入")
    at.text_area(key="complaint_content").input("某户家庭有经营收入,未如实申报,请核查。")
    at.file_uploader(key="complaint_images").upload(name, data, "image/png").run()
    at.button(key="complaint_submit").click().run()
    assert any(message in e and name in e for e in _errors(at)), _errors(at)
    with sessions() as s:
        assert s.scalar(select(Complaint.id)) is None


def test_an_anonymous_report_with_an_image_is_taken_with_a_ticket_and_a_reply_date(portal_db):
    sessions, _ = portal_db
    at = _app("views/complaints.py")
    _place(at, "complaint", casekit.township_of(casekit.JINJIANG))
    at.radio(key="complaint_kind").set_value("report").run()
    at.text_input(key="complaint_subject").input("疑似虚报收入")
    at.text_area(key="complaint_content").input("某户家庭有经营收入,未如实申报,请核查。")
    at.file_uploader(key="complaint_images").upload("shop.png", _png(), "image/png").run()
    at.button(key="complaint_submit").click().run()
    assert not at.error, _errors(at)
    text = " ".join(s.value for s in at.success)
    with sessions() as s:
        found = s.scalar(select(Complaint))
        assert found.ticket_no in text and "前答复" in text and not found.signed


def test_the_disclosure_shows_a_masked_name_in_the_publicity_period(portal_db):
    sessions, clock = portal_db
    town = casekit.township_of(casekit.JINJIANG)
    family = casekit.family(start=91)
    with sessions() as s:
        office = casekit.staff(s, clock, township=town)
        case = cases.accept(s, office["cw"], item_code="dibao_urban", region_code=town, members=family,
                            materials=casekit.materials("dibao_urban", s, town), lake_root=None, clock=clock)
        profile = {"period": "2026-10", "county_code": "510104", "area_type": "urban", "counted_income_yuan": 1500.0}
        s.execute(update(VerificationRequest).values(status="reviewed", assessment="符合", verified_by="a",
                                                     reviewed_by="b", result_json=json.dumps({"profile": profile})))
        s.commit()
        clock.advance(days=1)
        cases.sweep(s, clock=clock)
        cases.complete(s, office["town_ap"], case.acceptance_no, "pass", note="同意", clock=clock)
        cases.complete(s, office["county_ap"], case.acceptance_no, "pass", note="同意", clock=clock)
    clock.advance(hours=2)
    at = _app("views/disclosure.py")
    _place(at, "disclosure", town)
    shown = " ".join(m.value for m in at.markdown)
    assert "张**" in shown and family[0].name not in shown and "最低生活保障" in shown


def test_the_portal_opens_on_its_policies_page_without_a_login(portal_db):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception and at.title[0].value == "救助政策与事项"
    _place(at, "policies", casekit.JINJIANG)
    at.text_input(key="policies_query").input("看病").run()
    # a family's own word finds the item by its name (the synonym map): 看病 → 医疗救助, and only it
    assert [e.label for e in at.expander] == ["医疗救助(医疗救助)"]
    assert any("需要的材料" in m.value for m in at.markdown)
