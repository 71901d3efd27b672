"""社会救助公众服务门户 (issue #10, PB-1, BZ-7): what the public portal may do, and nothing more.

The portal app (``dashboards/portal``) calls only this module. It gives a family:

- the published aid items of its place (``policies``) and the public-interest service projects (MN-5);
- registration and login by real identity — name, citizen ID (check digit), phone — with the name
  matched against the public-security registry in the lake where one is connected, and rate limits
  on registration, login and complaints (pseudonymous buckets, kept in the business database so every
  portal process shares them); five wrong passwords lock the account for 15 minutes;
- the guided application: materials checked before submission, then an online application
  (``cases.accept(channel="online")``) that waits in the township's todo list; a citizen applies only
  for a family they belong to;
- the progress query (``cases.progress``: a wrong pair is refused without saying which part is wrong);
- complaints, reports (signed or anonymous) and consultations with up to three images, each decoded,
  refused when it is not a PNG or JPEG, too large or carries bytes after the image's end, and
  re-encoded to PNG so nothing but pixels is stored; routed to the responsible office with a committed
  reply date, answered and closed in the staff app (``complaints_inbox``, ``reply``);
- the public disclosure (公示) of cases in their publicity period only, names masked.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from deltalake import DeltaTable
from PIL import Image, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistance import cases, catalogue, knowledge
from jiuzhu import access, audit, auth, ids, lake, masking, ratelimit, regions, workdays
from jiuzhu.business.models import (
    AssistanceCase,
    CaseMember,
    CaseStep,
    Citizen,
    Complaint,
    ComplaintImage,
)
from jiuzhu.errors import CodedError
from jiuzhu.supervision import BEIJING
from verification.signing import sm3

PROVINCE = "510000000000"
KIND_ZH = {"complaint": "投诉", "report": "举报", "consultation": "咨询"}
STATUS_ZH = {"open": "办理中", "replied": "已答复", "closed": "已办结"}
# committed reply times in working days (a deployment's own rules replace these)
REPLY_WORKING_DAYS = {"consultation": 5, "complaint": 15, "report": 15}
MAX_IMAGES, MAX_IMAGE_BYTES, MAX_PIXELS = 3, 5 * 2**20, 40_000_000
LOCK_AFTER, LOCK_MINUTES = 5, 15
# rate limits: (attempts, window in minutes) per bucket
LIMITS = {"register": (5, 60), "register_id": (3, 60), "login": (20, 60), "complaint": (5, 60),
          "progress": (30, 60)}
_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,20}$")
_PHONE = re.compile(r"^1[3-9]\d{9}$")


class PortalError(CodedError):
    """Refused, with a Chinese message for the citizen."""


@dataclass(frozen=True)
class CitizenPrincipal:
    """A logged-in citizen as the access checks see them: the public role, the whole province."""

    citizen_id: int
    person_id: str
    name: str
    username: str
    role: str = access.CITIZEN
    jurisdiction_code: str = PROVINCE


def _now(clock: audit.Clock) -> _dt.datetime:
    return clock()


# --- rate limits ---------------------------------------------------------------------------------------------


def rate_limited(session: Session, kind: str, key: str, clock: audit.Clock) -> None:
    """Count one attempt of ``kind`` for ``key``; refuse when the window's limit is reached."""
    limit, minutes = LIMITS[kind]
    if not ratelimit.allow(session, f"portal_{kind}", key, limit, minutes, clock):
        raise PortalError("RATE_LIMITED", f"操作过于频繁,请{minutes}分钟后再试")


# --- registration and login ----------------------------------------------------------------------------------


def _registered_name(lake_root: Path | None, person_id: str) -> str | None | bool:
    """The name the hukou registry holds for the ID; ``False`` when no registry is connected."""
    if lake_root is None or not lake.exists(lake.table_path(lake_root, "silver", "persons")):
        return False
    table = DeltaTable(str(lake.table_path(lake_root, "silver", "persons"))).to_pyarrow_table(
        columns=["person_id", "person_name"], filters=[("person_id", "=", person_id)])
    names = table.column("person_name").to_pylist()
    return names[0] if names else None


def register(session: Session, *, name: str, person_id: str, phone: str, password: str, client_key: str,
             lake_root: Path | None = None, clock: audit.Clock = audit.utc_now) -> Citizen:
    """实名注册: the ID's check digit, the phone, the password policy, then the registry's name."""
    name, phone = (name or "").strip(), (phone or "").strip()
    rate_limited(session, "register", client_key, clock)
    if not _NAME.match(name):
        raise PortalError("NAME_INVALID", "请填写身份证上的中文姓名")
    try:
        number = ids.parse(person_id).number
    except ids.InvalidId as exc:
        raise PortalError("ID_INVALID", f"身份证号码有误:{exc.message}") from None
    if not _PHONE.match(phone):
        raise PortalError("PHONE_INVALID", "请填写11位手机号码")
    problems = auth.password_problems(password, number)
    if problems:
        raise PortalError("PASSWORD_WEAK", ";".join(problems))
    rate_limited(session, "register_id", number, clock)
    if session.scalar(select(Citizen.id).where(Citizen.person_id == number)) is not None:
        raise PortalError("ALREADY_REGISTERED", "该身份证号码已注册,请直接登录")
    registered = _registered_name(lake_root, number)
    if registered is not False and registered != name:
        audit.record(session, actor="public:register", action="portal_register", outcome="denied",
                     subject_key=masking.pseudonym(number), detail={"reason": "identity_mismatch"}, clock=clock)
        raise PortalError("IDENTITY_MISMATCH", "姓名与身份证号码不符(以公安户籍登记为准)")
    now = _now(clock)
    citizen = Citizen(person_id=number, name=name, phone=phone, password_hash=auth.hash_password(password),
                      identity_checked="check_digit" if registered is False else "registry", failed_logins=0,
                      registered_at=now, updated_at=now)
    session.add(citizen)
    session.flush()
    audit.record(session, actor=f"public:{citizen.id}", action="portal_register", outcome="success",
                 subject_key=masking.pseudonym(number), detail={"identity_checked": citizen.identity_checked},
                 clock=clock)
    return citizen


def login(session: Session, *, person_id: str, password: str, client_key: str,
          clock: audit.Clock = audit.utc_now) -> CitizenPrincipal:
    """One message for an unknown ID and a wrong password; five failures lock the account 15 minutes."""
    rate_limited(session, "login", client_key, clock)
    refused = PortalError("LOGIN_FAILED", "身份证号码或密码不正确")
    try:
        number = ids.parse(person_id).number
    except ids.InvalidId:
        raise refused from None
    citizen = session.scalar(select(Citizen).where(Citizen.person_id == number))
    now = _now(clock)
    if citizen is None:
        auth._burn_a_verify(password)  # the same work as a real check: no timing tells who is registered
        raise refused
    if citizen.locked_until is not None and citizen.locked_until > now:
        minutes = max(1, int((citizen.locked_until - now).total_seconds() // 60) + 1)
        raise PortalError("LOCKED", f"密码错误次数过多,请{minutes}分钟后再试")
    if not auth._verify(citizen.password_hash, password):
        citizen.failed_logins += 1
        if citizen.failed_logins >= LOCK_AFTER:
            citizen.locked_until, citizen.failed_logins = now + _dt.timedelta(minutes=LOCK_MINUTES), 0
        citizen.updated_at = now
        audit.record(session, actor=f"public:{citizen.id}", action="portal_login", outcome="denied",
                     subject_key=masking.pseudonym(number), detail={}, clock=clock)
        raise refused
    citizen.failed_logins, citizen.locked_until, citizen.last_login_at, citizen.updated_at = 0, None, now, now
    audit.record(session, actor=f"public:{citizen.id}", action="portal_login", outcome="success",
                 subject_key=masking.pseudonym(number), detail={}, clock=clock)
    return principal(citizen)


def principal(citizen: Citizen) -> CitizenPrincipal:
    return CitizenPrincipal(citizen.id, citizen.person_id, citizen.name, f"public:{citizen.id}")


# --- policies and service projects ---------------------------------------------------------------------------


def policies(session: Session, region_code: str, query: str = "") -> list[dict]:
    """The published aid items in force for a place, filtered by the words of ``query`` (each word or
    one of its synonyms must appear)."""
    items = catalogue.portal_items(session, region_code)
    words = [w for w in re.split(r"\s+", (query or "").strip()) if w]
    if not words:
        return items

    def text(item: dict) -> str:
        return " ".join([item["name"], item["category"], item["scope"], item["standards"], item["where_to_go"],
                         *item["conditions"], *(m["name"] for m in item["materials"])])

    # each word, or a synonym of it (低保 finds 最低生活保障: the knowledge base's synonym map)
    alternatives = [knowledge.expand_phrases(w) for w in words]
    return [i for i in items if all(any(p in text(i) for p in alts) for alts in alternatives)]


def service_projects(county_code: str | None = None, need: str | None = None) -> list[dict]:
    """公益服务项目 (MN-5) serving a county (or all of them), optionally for one need."""
    from models import resources

    out = []
    for p in resources.catalogue():
        if need and need not in p.needs:
            continue
        if county_code and not resources.serves(p, county_code):
            continue
        out.append({"code": p.code, "name": p.name_zh, "provider": p.provider, "service": p.service_zh,
                    "needs": [resources.NEED_ZH[n] for n in p.needs]})
    return out


# --- the guided application ------------------------------------------------------------------------------------


def material_problems(session: Session, item_code: str, township_code: str,
                      materials: list[cases.MaterialIn]) -> list[str]:
    """What the wizard tells the applicant before anything is submitted (empty: all present and readable)."""
    item = catalogue.effective(session, item_code, regions.normalise_code(township_code))
    try:
        cases.check_materials(item, materials)
    except cases.CaseError as exc:
        return [exc.message]
    return []


def apply(session: Session, citizen: CitizenPrincipal, *, item_code: str, township_code: str,
          members: list[cases.MemberIn], materials: list[cases.MaterialIn], lake_root: Path | None = None,
          clock: audit.Clock = audit.utc_now) -> AssistanceCase:
    """网上申请: the applicant must be one of the family; the township accepts it from its todo list."""
    if citizen.person_id not in {_number(m.person_id) for m in members}:
        raise PortalError("NOT_OWN_FAMILY", "网上申请只能为本人所在家庭提交:申请人须是家庭成员之一")
    try:
        return cases.accept(session, citizen, item_code=item_code, region_code=township_code, members=members,
                            materials=materials, lake_root=lake_root, channel="online",
                            purpose="公众网上申请救助", clock=clock)
    except cases.CaseError as exc:
        raise PortalError(exc.code, exc.message) from None


def _number(person_id: str) -> str | None:
    try:
        return ids.parse(person_id).number
    except ids.InvalidId:
        return None


def progress(session: Session, acceptance_no: str, person_id: str, *, client_key: str,
             clock: audit.Clock = audit.utc_now) -> cases.Progress:
    rate_limited(session, "progress", client_key, clock)
    try:
        return cases.progress(session, acceptance_no, person_id, clock=clock)
    except cases.CaseError as exc:
        raise PortalError(exc.code, exc.message) from None


# --- images ----------------------------------------------------------------------------------------------------


def _png_end(data: bytes, filename: str) -> int:
    at = data.find(b"IEND")
    if at < 0:
        raise PortalError("IMAGE_INVALID", f"“{filename}”图片文件不完整")
    return at + 8  # the chunk type and its CRC


def _jpeg_end(data: bytes, filename: str) -> int:
    """Walk the JPEG's segments to the end-of-image marker (entropy-coded data skipped byte-stuffed)."""
    i = 2
    while i + 2 <= len(data):
        if data[i] != 0xFF:
            raise PortalError("IMAGE_INVALID", f"“{filename}”图片文件已损坏")
        marker = data[i + 1]
        if marker == 0xD9:
            return i + 2
        if marker == 0xFF:
            i += 1
            continue
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            i += 2
            continue
        if i + 4 > len(data):
            break
        length = int.from_bytes(data[i + 2:i + 4], "big")
        i += 2 + length
        if marker == 0xDA:  # start of scan: skip the entropy-coded data to the next real marker
            while i + 1 < len(data):
                if data[i] == 0xFF and data[i + 1] != 0x00 and not 0xD0 <= data[i + 1] <= 0xD7:
                    break
                i += 1
    raise PortalError("IMAGE_INVALID", f"“{filename}”图片文件不完整")


def clean_image(filename: str, data: bytes) -> tuple[bytes, int, int]:
    """The image re-encoded as PNG, or a refusal naming the file: not an image, not PNG/JPEG, too
    large, too many pixels, or bytes hidden after the image's end."""
    if len(data) > MAX_IMAGE_BYTES:
        raise PortalError("IMAGE_TOO_LARGE", f"“{filename}”超过{MAX_IMAGE_BYTES // 2**20}MB")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        end, kind = _png_end(data, filename), "PNG"
    elif data.startswith(b"\xff\xd8"):
        end, kind = _jpeg_end(data, filename), "JPEG"
    else:
        raise PortalError("IMAGE_TYPE", f"“{filename}”不是PNG或JPEG图片")
    if len(data) > end:
        raise PortalError("IMAGE_PAYLOAD", f"“{filename}”在图片数据之后还附有其他内容,已拒收")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != kind:
                raise PortalError("IMAGE_TYPE", f"“{filename}”不是PNG或JPEG图片")
            if img.width * img.height > MAX_PIXELS:
                raise PortalError("IMAGE_TOO_LARGE", f"“{filename}”像素过多")
            img.load()
            pixels = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise PortalError("IMAGE_INVALID", f"“{filename}”无法识别为图片") from exc
    out = io.BytesIO()
    pixels.save(out, format="PNG", optimize=True)  # no metadata, no text chunks: only the pixels
    return out.getvalue(), pixels.width, pixels.height


# --- complaints, reports, consultations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Filed:
    ticket_no: str
    query_code: str  # shown once: with the ticket number it answers the status query
    office_zh: str
    due_on: str


def _office(kind: str, region12: str) -> str:
    """A consultation goes to the township (or the county when the matter is county-wide); a
    complaint or a report to the county's civil-affairs bureau."""
    tree = regions.load()
    level = tree.get(region12).level
    if kind == "consultation" and level >= 4:
        return cases.office_of(region12, "township")
    if level < 3:
        raise PortalError("REGION_TOO_WIDE", "请选择事项所在的县(市、区)或乡镇(街道)")
    return cases.office_of(region12, "county")


def file_complaint(session: Session, citizen: CitizenPrincipal | None, *, kind: str, region_code: str,
                   subject: str, content: str, phone: str | None = None, images: list[tuple[str, bytes]] = (),
                   client_key: str, clock: audit.Clock = audit.utc_now) -> Filed:
    """投诉/举报/咨询. Signed when a logged-in citizen files it; anonymous otherwise (a report may be
    anonymous; a complaint or consultation needs a phone to answer). Images are checked before
    anything is written."""
    if kind not in KIND_ZH:
        raise PortalError("KIND_UNKNOWN", "请选择投诉、举报或咨询")
    rate_limited(session, "complaint", client_key, clock)
    subject, content, phone = (subject or "").strip(), (content or "").strip(), (phone or "").strip() or None
    if not 2 <= len(subject) <= 60:
        raise PortalError("SUBJECT_INVALID", "请用2至60个字概括事由")
    if not 10 <= len(content) <= 2000:
        raise PortalError("CONTENT_INVALID", "请用10至2000个字写明具体情况")
    if phone is not None and not _PHONE.match(phone):
        raise PortalError("PHONE_INVALID", "请填写11位手机号码")
    if citizen is None and kind != "report" and phone is None:
        raise PortalError("PHONE_REQUIRED", "未登录提交投诉或咨询,请留下手机号码以便答复")
    if len(images) > MAX_IMAGES:
        raise PortalError("IMAGE_COUNT", f"最多上传{MAX_IMAGES}张图片")
    cleaned = [clean_image(name, data) for name, data in images]
    try:
        region12 = regions.normalise_code(region_code)
    except regions.UnknownRegion:
        raise PortalError("REGION_UNKNOWN", "请选择事项所在地") from None
    if region12 not in regions.load():
        raise PortalError("REGION_UNKNOWN", "请选择事项所在地")
    office = _office(kind, region12)
    access.authorize_and_audit(session, citizen or _ANONYMOUS, "submit_complaint", region12, None,
                               purpose=f"提交{KIND_ZH[kind]}", detail={"kind": kind, "images": len(cleaned)}, clock=clock)
    now = _now(clock)
    day = now.astimezone(BEIJING).strftime("%Y%m%d")
    count = session.scalar(select(func.count()).select_from(Complaint).where(Complaint.ticket_no.like(f"TS{day}%"))) or 0
    query_code = f"{secrets.randbelow(10**6):06d}"
    due = workdays.add_working_days(now, REPLY_WORKING_DAYS[kind])
    complaint = Complaint(ticket_no=f"TS{day}{count + 1:05d}", kind=kind, signed=citizen is not None,
                          citizen_id=citizen.citizen_id if citizen else None,
                          contact_phone=phone, query_code_hash=sm3(f"{query_code}".encode()), region_code=region12,
                          office_code=office, subject=subject, content=content, status="open", due_at=due.at,
                          created_at=now, updated_at=now)
    session.add(complaint)
    session.flush()
    for png, width, height in cleaned:
        session.add(ComplaintImage(complaint_id=complaint.id, content=png, sm3=sm3(png), width=width, height=height,
                                   updated_at=now))
    session.commit()
    return Filed(complaint.ticket_no, query_code, regions.load().full_name(office),
                 due.at.astimezone(BEIJING).date().isoformat())


_ANONYMOUS = CitizenPrincipal(0, "", "", "public:anonymous")


@dataclass(frozen=True)
class ComplaintStatus:
    ticket_no: str
    kind_zh: str
    status_zh: str
    office_zh: str
    filed_on: str
    due_on: str
    reply: str | None
    replied_on: str | None


def complaint_status(session: Session, ticket_no: str, query_code: str, *, client_key: str,
                     clock: audit.Clock = audit.utc_now) -> ComplaintStatus:
    """The citizen's view of a ticket: a wrong number or code is refused with one message."""
    rate_limited(session, "progress", client_key, clock)
    found = session.scalar(select(Complaint).where(Complaint.ticket_no == (ticket_no or "").strip()))
    if found is None or not secrets.compare_digest(found.query_code_hash, sm3((query_code or "").strip().encode())):
        raise PortalError("TICKET_NOT_FOUND", "受理号或查询码不正确")
    day = "%Y-%m-%d"
    return ComplaintStatus(found.ticket_no, KIND_ZH[found.kind], STATUS_ZH[found.status],
                           regions.load().full_name(found.office_code), found.created_at.astimezone(BEIJING).strftime(day),
                           found.due_at.astimezone(BEIJING).strftime(day), found.reply,
                           found.replied_at.astimezone(BEIJING).strftime(day) if found.replied_at else None)


@dataclass
class InboxRow:
    id: int
    ticket_no: str
    kind_zh: str
    signed: bool
    region_zh: str
    subject: str
    content: str
    status_zh: str
    due_on: str
    overdue: bool
    images: list[bytes] = field(default_factory=list)


def complaints_inbox(session: Session, user: access.Principal, *, open_only: bool = True,
                     clock: audit.Clock = audit.utc_now) -> list[InboxRow]:
    """The tickets of the user's office and the offices below it, the oldest due first (audited: the
    texts may name people)."""
    access.authorize_and_audit(session, user, "handle_complaint", user.jurisdiction_code, None,
                               purpose="办理投诉举报与咨询", detail={"open_only": open_only}, clock=clock)
    prefix = user.jurisdiction_code.rstrip("0")
    query = select(Complaint).where(Complaint.office_code.startswith(prefix)).order_by(Complaint.due_at)
    if open_only:
        query = query.where(Complaint.status != "closed")
    now = _now(clock)
    tree = regions.load()
    rows = []
    for c in session.scalars(query):
        images = list(session.scalars(select(ComplaintImage.content).where(ComplaintImage.complaint_id == c.id)))
        rows.append(InboxRow(c.id, c.ticket_no, KIND_ZH[c.kind], c.signed, tree.full_name(c.region_code), c.subject,
                             c.content, STATUS_ZH[c.status], c.due_at.astimezone(BEIJING).date().isoformat(),
                             c.status == "open" and c.due_at < now, images))
    return rows


def reply(session: Session, user: access.Principal, complaint_id: int, text: str, *, close: bool = True,
          clock: audit.Clock = audit.utc_now) -> Complaint:
    """答复 (and 办结): by the responsible office or one above it."""
    found = session.get(Complaint, complaint_id)
    if found is None:
        raise PortalError("TICKET_NOT_FOUND", "没有该投诉咨询")
    if not (text or "").strip():
        raise PortalError("REPLY_REQUIRED", "请填写答复内容")
    access.authorize_and_audit(session, user, "handle_complaint", found.office_code, None,
                               purpose=f"答复{KIND_ZH[found.kind]}{found.ticket_no}", detail={"close": close},
                               clock=clock)
    if found.status == "closed":
        raise PortalError("ALREADY_CLOSED", "该事项已办结")
    now = _now(clock)
    found.reply, found.replied_at, found.handled_by = text.strip(), now, user.username
    found.status, found.updated_at = ("closed" if close else "replied"), now
    if close:
        found.closed_at = now
    session.commit()
    return found


# --- public disclosure ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Disclosed:
    name_masked: str
    township_zh: str
    item_zh: str
    household_size: int
    amount_yuan: float | None
    period_zh: str


def disclosure(session: Session, region_code: str, *, clock: audit.Clock = audit.utc_now) -> list[Disclosed]:
    """公示: the cases of a region in their publicity period now — masked name, place, item, family
    size and the approved monthly amount; nothing before the period starts or after it ends."""
    now = _now(clock)
    prefix = regions.normalise_code(region_code).rstrip("0")
    steps = session.execute(
        select(CaseStep, AssistanceCase).join(AssistanceCase, AssistanceCase.id == CaseStep.case_id)
        .where(CaseStep.kind == "publicity", CaseStep.status == "todo", CaseStep.started_at <= now,
               CaseStep.due_at > now, AssistanceCase.region_code.startswith(prefix))
        .order_by(CaseStep.started_at)).all()
    tree = regions.load()
    names = cases.item_names(session)
    out = []
    for step, case in steps:
        size = session.scalar(select(func.count()).select_from(CaseMember).where(CaseMember.case_id == case.id))
        period = (f"{step.started_at.astimezone(BEIJING):%Y-%m-%d}至"
                  f"{(step.due_at - _dt.timedelta(seconds=1)).astimezone(BEIJING):%Y-%m-%d}")
        out.append(Disclosed(masking.mask_name(case.applicant_name), tree.full_name(case.region_code),
                             names.get(case.aid_item_code, case.aid_item_code), int(size or 0),
                             case.approved_amount, period))
    return out
