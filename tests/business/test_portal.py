"""The public portal's services (issue #10) on SQLite and PostgreSQL: real-identity registration and
login with rate limits and lockout, the online application for one's own family, the progress query,
complaints with images checked and re-encoded, routing and replies, and the public disclosure."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pytest
from PIL import Image
from sqlalchemy import select, update

from assistance import cases, portal
from jiuzhu import lake, regions
from jiuzhu.business.models import (
    AssistanceCase,
    AuditLog,
    Citizen,
    Complaint,
    ComplaintImage,
    VerificationRequest,
)
from tests.business import casekit

PASSWORD = "Qiuzhu#2026portal"


# the demo signing key (archives, reports); `seeded`: a session with the catalogue (conftest)
pytestmark = pytest.mark.usefixtures("demo_key")


def _family():
    return casekit.family(start=31)


def _register(session, clock, member=None, **kw):
    member = member or _family()[0]
    args = {"name": member.name, "person_id": member.person_id, "phone": "13800138000", "password": PASSWORD,
            "client_key": "browser-1", **kw}
    return portal.register(session, clock=clock, **args)


def _png(size=(40, 30), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def _jpeg_with_exif() -> bytes:
    out = io.BytesIO()
    img = Image.new("RGB", (32, 32), (10, 120, 40))
    exif = Image.Exif()
    exif[0x010E] = "GPS 30.65N 104.07E"  # ImageDescription: metadata that must not survive
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


# --- registration and login ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "code"), [
    ({"person_id": "51010419800101031X"}, "ID_INVALID"),  # wrong check digit
    ({"name": "Zhang"}, "NAME_INVALID"),
    ({"phone": "1380013800"}, "PHONE_INVALID"),
    ({"password": "abc12345"}, "PASSWORD_WEAK"),
])
def test_registration_checks_the_identity_fields(seeded, clock, change, code):
    with pytest.raises(portal.PortalError) as err:
        _register(seeded, clock, **change)
    assert err.value.code == code and err.value.message
    assert seeded.scalar(select(Citizen.id)) is None


def test_registration_matches_the_name_against_the_registry_and_only_once(seeded, clock, tmp_path):
    member = _family()[0]
    persons = lake.table_path(tmp_path / "lake", "silver", "persons")
    lake.write(persons, pa.table({"person_id": [member.person_id], "person_name": ["张建设"]}))
    with pytest.raises(portal.PortalError) as err:
        _register(seeded, clock, lake_root=tmp_path / "lake")
    assert err.value.code == "IDENTITY_MISMATCH"
    lake.write(persons, pa.table({"person_id": [member.person_id], "person_name": [member.name]}))
    citizen = _register(seeded, clock, lake_root=tmp_path / "lake")
    assert citizen.identity_checked == "registry" and citizen.password_hash != PASSWORD
    with pytest.raises(portal.PortalError) as err:
        _register(seeded, clock, lake_root=tmp_path / "lake", client_key="browser-2")
    assert err.value.code == "ALREADY_REGISTERED"


def test_registration_is_rate_limited_per_browser(seeded, clock):
    for i in range(5):
        with pytest.raises(portal.PortalError) as err:
            _register(seeded, clock, phone=f"1380013{i:04d}"[:10])  # a short phone: refused, but counted
        assert err.value.code == "PHONE_INVALID"
    with pytest.raises(portal.PortalError) as err:
        _register(seeded, clock)
    assert err.value.code == "RATE_LIMITED" and "分钟后再试" in err.value.message
    clock.advance(minutes=61)
    assert _register(seeded, clock).id


def test_login_refuses_alike_and_locks_after_five_wrong_passwords(seeded, clock):
    citizen = _register(seeded, clock)
    unknown = casekit.person_id(99)
    with pytest.raises(portal.PortalError) as a:
        portal.login(seeded, person_id=unknown, password=PASSWORD, client_key="b", clock=clock)
    with pytest.raises(portal.PortalError) as b:
        portal.login(seeded, person_id=citizen.person_id, password="Wrong#2026pass", client_key="b", clock=clock)
    assert a.value.message == b.value.message == "身份证号码或密码不正确"
    for _ in range(4):
        with pytest.raises(portal.PortalError):
            portal.login(seeded, person_id=citizen.person_id, password="Wrong#2026pass", client_key="b", clock=clock)
    with pytest.raises(portal.PortalError) as err:
        portal.login(seeded, person_id=citizen.person_id, password=PASSWORD, client_key="b", clock=clock)
    assert err.value.code == "LOCKED"
    clock.advance(minutes=16)
    me = portal.login(seeded, person_id=citizen.person_id, password=PASSWORD, client_key="b", clock=clock)
    assert (me.role, me.citizen_id) == ("citizen", citizen.id)
    logged = seeded.scalars(select(AuditLog).where(AuditLog.action == "portal_login")).all()
    assert logged and all(citizen.person_id not in (e.detail or "") + (e.subject_key or "") for e in logged)


# --- the online application and progress ---------------------------------------------------------------------


def _me(session, clock):
    citizen = _register(session, clock)
    return portal.principal(citizen)


def test_a_citizen_applies_online_for_their_own_family_and_the_township_takes_it_in(seeded, clock):
    me = _me(seeded, clock)
    township = casekit.township_of(casekit.JINJIANG)
    family = _family()
    files = casekit.materials("dibao_urban", seeded, township)
    missing = portal.material_problems(seeded, "dibao_urban", township, files[:1])
    assert missing and "缺少" in missing[0]
    assert portal.material_problems(seeded, "dibao_urban", township, files) == []
    stranger = casekit.family(start=61)
    with pytest.raises(portal.PortalError) as err:
        portal.apply(seeded, me, item_code="dibao_urban", township_code=township, members=stranger, materials=files,
                     clock=clock)
    assert err.value.code == "NOT_OWN_FAMILY"
    case = portal.apply(seeded, me, item_code="dibao_urban", township_code=township, members=family, materials=files,
                        clock=clock)
    assert (case.channel, case.status, case.current_step) == ("online", "in_progress", "accept")
    office = casekit.staff(seeded, clock, township=township)
    todo = cases.inbox(seeded, office["cw"], "todo", clock=clock)
    assert [t.acceptance_no for t in todo] == [case.acceptance_no]
    cases.complete(seeded, office["cw"], case.acceptance_no, "pass", note="网上申请材料齐全", clock=clock)
    shown = portal.progress(seeded, case.acceptance_no, family[1].person_id, client_key="b", clock=clock)
    assert [s.name_zh for s in shown.steps][:2] == ["受理", "家庭经济状况核对"] and shown.steps[0].completed_on
    with pytest.raises(portal.PortalError) as wrong_id:
        portal.progress(seeded, case.acceptance_no, stranger[0].person_id, client_key="b", clock=clock)
    with pytest.raises(portal.PortalError) as wrong_no:
        portal.progress(seeded, "SL20990101000001", family[0].person_id, client_key="b", clock=clock)
    assert wrong_id.value.message == wrong_no.value.message


# --- complaints -----------------------------------------------------------------------------------------------


def _file(session, clock, citizen=None, **kw):
    args = {"kind": "complaint", "region_code": casekit.township_of(casekit.JINJIANG), "subject": "低保审批超期",
            "content": "申请低保已经两个月,一直没有审批结果,请核查。", "phone": "13900139000", "client_key": "b", **kw}
    return portal.file_complaint(session, citizen, clock=clock, **args)


@pytest.mark.parametrize(("name", "data", "code"), [
    ("a.txt", b"hello, not an image at all", "IMAGE_TYPE"),
    ("big.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (5 * 2**20), "IMAGE_TOO_LARGE"),
    ("tail.png", _png() + b"PK\x03\x04hidden-zip", "IMAGE_PAYLOAD"),
    ("tail.jpg", _jpeg_with_exif() + b"<?php system($_GET['c']); ?>", "IMAGE_PAYLOAD"),
    ("cut.png", _png()[:40], "IMAGE_INVALID"),
])
def test_an_image_that_is_not_just_an_image_is_refused_and_nothing_is_written(seeded, clock, name, data, code):
    with pytest.raises(portal.PortalError) as err:
        _file(seeded, clock, images=[(name, data)])
    assert err.value.code == code and name in err.value.message
    assert seeded.scalar(select(Complaint.id)) is None


def test_images_are_re_encoded_so_only_pixels_are_kept(seeded, clock):
    jpeg = _jpeg_with_exif()
    assert b"GPS 30.65N" in jpeg
    filed = _file(seeded, clock, images=[("photo.jpg", jpeg), ("scan.png", _png())])
    stored = seeded.scalars(select(ComplaintImage).order_by(ComplaintImage.id)).all()
    assert [(i.width, i.height) for i in stored] == [(32, 32), (40, 30)]
    assert all(i.content.startswith(b"\x89PNG") and b"GPS" not in i.content for i in stored)
    assert Image.open(io.BytesIO(stored[0].content)).getpixel((5, 5))[1] > 100  # the pixels themselves kept
    progressive = io.BytesIO()
    Image.new("RGB", (64, 48), (1, 2, 3)).save(progressive, format="JPEG", progressive=True, quality=80)
    assert portal.clean_image("p.jpg", progressive.getvalue())[1:] == (64, 48)  # every scan walked to its end
    with pytest.raises(portal.PortalError) as err:
        _file(seeded, clock, images=[("a.png", _png())] * 4)
    assert err.value.code == "IMAGE_COUNT"
    assert filed.ticket_no.startswith("TS")


def test_routing_committed_reply_date_reply_and_the_citizens_query(seeded, clock):
    township = casekit.township_of(casekit.JINJIANG)
    consult = _file(seeded, clock, kind="consultation", subject="怎样申请临时救助", region_code=township)
    complaint = _file(seeded, clock)
    with pytest.raises(portal.PortalError) as err:
        _file(seeded, clock, phone=None)  # anonymous and no phone: no way to answer
    assert err.value.code == "PHONE_REQUIRED"
    report = _file(seeded, clock, kind="report", subject="疑似骗保", phone=None)
    rows = {c.ticket_no: c for c in seeded.scalars(select(Complaint))}
    assert rows[consult.ticket_no].office_code == township
    assert rows[complaint.ticket_no].office_code == rows[report.ticket_no].office_code == casekit.JINJIANG
    assert not rows[report.ticket_no].signed and rows[report.ticket_no].contact_phone is None
    assert complaint.due_on > consult.due_on  # 15 working days against 5
    office = casekit.staff(seeded, clock, township=township)
    county_view = portal.complaints_inbox(seeded, office["county_ap"], clock=clock)
    assert {r.ticket_no for r in county_view} == {consult.ticket_no, complaint.ticket_no, report.ticket_no}
    assert [r.ticket_no for r in portal.complaints_inbox(seeded, office["cw"], clock=clock)] == [consult.ticket_no]
    with pytest.raises(portal.PortalError) as err:
        portal.complaint_status(seeded, complaint.ticket_no, "000000" if complaint.query_code != "000000" else "111111",
                                client_key="b", clock=clock)
    assert err.value.code == "TICKET_NOT_FOUND"
    portal.reply(seeded, office["county_ap"], rows[complaint.ticket_no].id, "已督促乡镇5个工作日内完成审核。", clock=clock)
    status = portal.complaint_status(seeded, complaint.ticket_no, complaint.query_code, client_key="b", clock=clock)
    assert (status.status_zh, status.reply) == ("已办结", "已督促乡镇5个工作日内完成审核。")
    with pytest.raises(portal.PortalError) as err:
        portal.reply(seeded, office["county_ap"], rows[complaint.ticket_no].id, "再次答复", clock=clock)
    assert err.value.code == "ALREADY_CLOSED"


# --- disclosure -----------------------------------------------------------------------------------------------


def test_disclosure_shows_masked_names_only_during_the_publicity_period(seeded, clock):
    township = casekit.township_of(casekit.JINJIANG)
    office = casekit.staff(seeded, clock, township=township)
    family = _family()
    case = cases.accept(seeded, office["cw"], item_code="dibao_urban", region_code=township, members=family,
                        materials=casekit.materials("dibao_urban", seeded, township), lake_root=None, clock=clock)
    profile = {"period": "2025-02", "county_code": "510104", "area_type": "urban", "counted_income_yuan": 1500.0,
               "wage_yuan": 1500.0}
    seeded.execute(update(VerificationRequest).values(status="reviewed", assessment="符合", verified_by="a",
                                                      reviewed_by="b", result_json=json.dumps({"profile": profile})))
    seeded.commit()
    clock.advance(days=1)
    cases.sweep(seeded, clock=clock)
    assert portal.disclosure(seeded, township, clock=clock) == []  # before publicity: nothing
    cases.complete(seeded, office["town_ap"], case.acceptance_no, "pass", note="同意", clock=clock)
    cases.complete(seeded, office["county_ap"], case.acceptance_no, "pass", note="同意", clock=clock)
    clock.advance(hours=1)
    (shown,) = portal.disclosure(seeded, township, clock=clock)
    assert shown.name_masked != family[0].name and shown.name_masked.startswith(family[0].name[0])
    assert (shown.household_size, shown.amount_yuan) == (3, 1553.5) and "最低生活保障" in shown.item_zh
    assert regions.load().full_name(township) == shown.township_zh
    assert portal.disclosure(seeded, casekit.QINGYANG, clock=clock) == []  # another district: not there
    clock.advance(days=8)
    assert portal.disclosure(seeded, township, clock=clock) == []  # the period is over
    assert seeded.scalar(select(AssistanceCase.status)) in ("approved", "in_progress")


def test_no_staff_account_can_hold_the_public_role(session, clock):
    from jiuzhu import access, auth

    with pytest.raises(auth.AccountError) as err:
        auth.create_user(session, "gongzhong01", "公众", access.CITIZEN, "510000000000", PASSWORD, clock=clock)
    assert err.value.code == "ROLE_UNKNOWN"
    citizen = portal.CitizenPrincipal(1, casekit.person_id(5), "张三", "public:1")
    assert not access.authorize(citizen, "view_person", "510104000000").allowed  # nothing of the staff's
    assert access.authorize(citizen, "submit_complaint", "510104017000").allowed
