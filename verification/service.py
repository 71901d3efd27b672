"""One call for a whole verification: submit → receive → verify → review → report.

Used by ``jiuzhu verify`` and meant for the staff app and the exchange API: each step still goes
through ``verification.requests`` (authorised, audited, four eyes: the reviewer must be another
officer), so a caller cannot skip what the lifecycle enforces.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from jiuzhu import access, audit, ids
from jiuzhu.supervision import BEIJING
from verification import ondemand
from verification import requests as vr


def parse_as_of(text: str | None) -> _dt.datetime | None:
    """A date means the end of that day in Beijing time; a date-time without zone is Beijing time."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = _dt.date.fromisoformat(text)
            return _dt.datetime.combine(day, _dt.time(23, 59, 59), BEIJING)
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise vr.RequestError("AS_OF_INVALID", f"核对时点格式不正确:{text}(应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)


def parse_members(entries: list[str]) -> list[vr.MemberInput]:
    """Members as typed: ``ID``, ``ID:relation`` or ``ID relation`` (GB/T 4761 code); the first is
    the applicant (02 户主 unless stated), every other member must state a relation."""
    out = []
    for i, entry in enumerate(e for e in entries if e.strip()):
        number, *rest = entry.replace(":", " ").replace(",", " ").replace(",", " ").split()
        relation = rest[0] if rest else ("02" if i == 0 else "")
        if not relation:
            raise vr.RequestError("RELATION_MISSING", f"第{i + 1}位成员缺少与户主关系代码(如 10 配偶、20 子)")
        if not (relation.isdigit() and len(relation) == 2):
            raise vr.RequestError("RELATION_INVALID", f"与户主关系应为两位代码(GB/T 4761),而不是“{relation}”")
        out.append(vr.MemberInput(number, relation))
    return out


def applicant_region(lake_root: Path, person_id: str, as_of: _dt.datetime | None) -> str | None:
    """Where the applicant is registered (the responsible region), from the hukou data at ``as_of``."""
    number = ids.parse(person_id).number
    versions = ondemand.resolve_versions(lake_root, as_of)
    if versions.get("persons") is None:
        return None
    rows = ondemand.rows_at(lake_root, "persons", versions["persons"], [ids.to_key(number)]).to_pylist()
    return rows[0]["region_code"] if rows else None


@dataclass
class Outcome:
    request_no: str
    report_no: str
    assessment: str
    content_sm3: str
    pdf: bytes


def verify_household(session: Session, officer: access.Principal, reviewer: access.Principal, lake_root: Path, *,
                     members: list[vr.MemberInput], aid_item: str, commissioning_unit: str, authorisation_ref: str,
                     purpose: str, as_of: _dt.datetime | None = None, region_code: str | None = None,
                     clock: audit.Clock = audit.utc_now, work_dir: Path | None = None) -> Outcome:
    if not members:
        raise vr.RequestError("MEMBERS_MISSING", "核对申请须列明家庭成员")
    try:
        region = region_code or applicant_region(lake_root, members[0].person_id, as_of)
    except ids.InvalidId as exc:
        raise vr.RequestError(exc.code, f"成员身份证号码无效:{exc.message}") from None
    if region is None:
        raise vr.RequestError("APPLICANT_UNKNOWN", "公安户籍数据中没有申请人的记录:请核实身份证号码,或用 --region 指定申请地")
    request = vr.submit(session, officer, commissioning_unit=commissioning_unit, aid_item=aid_item, purpose=purpose,
                        authorisation_ref=authorisation_ref, region_code=region, members=members, clock=clock)
    vr.receive(session, officer, request.request_no, clock=clock)
    verified = vr.verify(session, officer, request.request_no, lake_root, as_of=as_of, clock=clock, work_dir=work_dir)
    vr.review(session, reviewer, request.request_no, clock=clock)
    record, pdf = vr.issue_report(session, officer, request.request_no, lake_root, clock=clock, work_dir=work_dir)
    return Outcome(request.request_no, record.report_no, verified.assessment, record.content_sm3, pdf)
