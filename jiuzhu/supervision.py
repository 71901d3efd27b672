"""Sensitive-operation warnings over the audit trail (VF-6, 核对业务监督预警).

Four rules, each returning warnings that cite the audit entries (``seq``) they rest on, so a
supervisor can open exactly those entries:
  - attempts outside one's jurisdiction (denied entries);
  - bulk look-ups: more than N personal-data look-ups by one actor within an hour;
  - look-ups at night (22:00-06:00 Beijing time);
  - repeated look-ups (>= 3 within 7 days) of one person by an officer with no case for them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from jiuzhu import access
from jiuzhu.business.models import AuditLog

# China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact and needs
# no time-zone database.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
NIGHT_START_HOUR = 22
NIGHT_END_HOUR = 6
HOURLY_LIMIT = 50
REPEAT_THRESHOLD = 3
REPEAT_WINDOW = timedelta(days=7)

LOOKUP_ACTIONS = frozenset({"view_person", "search_person", "view_household_report", "export_personal"})
OFFICER_ROLES = frozenset({access.VERIFICATION_OFFICER, access.CASE_WORKER, access.APPROVER})

RULES = {
    "OUT_OF_JURISDICTION": "越权查询:访问管辖范围以外的数据",
    "BULK_LOOKUP": "批量查询:短时间内大量查询个人信息",
    "NIGHT_LOOKUP": "非工作时间查询:夜间(22:00至次日06:00)查询个人信息",
    "REPEATED_LOOKUP_NO_CASE": "无业务关联的重复查询:反复查询同一对象但无相关案件",
}


@dataclass(frozen=True)
class Entry:
    seq: int
    at: datetime
    actor: str
    role: str | None
    action: str
    subject_key: str | None
    outcome: str
    code: str | None


@dataclass(frozen=True)
class SupervisionWarning:
    rule_code: str
    description_zh: str
    actor: str
    evidence: tuple[int, ...]  # audit seq numbers
    severity: str  # high / medium / low


def _entry(row) -> Entry:
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name, None)
    detail = get("detail") or "{}"
    detail = json.loads(detail) if isinstance(detail, str) else detail
    at = get("at")
    return Entry(
        seq=int(get("seq")),
        at=at if at.tzinfo else at.replace(tzinfo=UTC),
        actor=get("actor"),
        role=get("role"),
        action=get("action"),
        subject_key=get("subject_key"),
        outcome=get("outcome"),
        code=(detail or {}).get("code"),
    )


def _lookups(entries: list[Entry]) -> list[Entry]:
    return [e for e in entries if e.action in LOOKUP_ACTIONS and e.outcome in ("allowed", "success")]


def _bursts(items: list[Entry], window: timedelta, minimum: int) -> list[tuple[list[Entry], int]]:
    """Maximal runs of time-sorted ``items`` covered by windows holding at least ``minimum`` items,
    each with the largest count seen in one window."""
    items = sorted(items, key=lambda e: (e.at, e.seq))
    bursts: list[tuple[int, int, int]] = []  # (first index, last index, peak count)
    start = 0
    for end, item in enumerate(items):
        while item.at - items[start].at >= window:
            start += 1
        count = end - start + 1
        if count < minimum:
            continue
        if bursts and start <= bursts[-1][1]:
            first, _last, peak = bursts[-1]
            bursts[-1] = (first, end, max(peak, count))
        else:
            bursts.append((start, end, count))
    return [(items[first : last + 1], peak) for first, last, peak in bursts]


def out_of_jurisdiction(entries: list[Entry]) -> list[SupervisionWarning]:
    by_actor: dict[str, list[int]] = defaultdict(list)
    for e in entries:
        if e.outcome == "denied" and e.code == "OUT_OF_JURISDICTION":
            by_actor[e.actor].append(e.seq)
    return [
        SupervisionWarning(
            "OUT_OF_JURISDICTION",
            f"{actor}试图访问管辖范围以外的数据{len(seqs)}次",
            actor,
            tuple(sorted(seqs)),
            "high",
        )
        for actor, seqs in sorted(by_actor.items())
    ]


def bulk_lookups(entries: list[Entry], hourly_limit: int = HOURLY_LIMIT) -> list[SupervisionWarning]:
    by_actor: dict[str, list[Entry]] = defaultdict(list)
    for e in _lookups(entries):
        by_actor[e.actor].append(e)
    warnings = []
    for actor, items in sorted(by_actor.items()):
        for burst, peak in _bursts(items, timedelta(hours=1), hourly_limit + 1):
            severity = "high" if peak > 2 * hourly_limit else "medium"
            warnings.append(
                SupervisionWarning(
                    "BULK_LOOKUP",
                    f"{actor}在1小时内查询个人信息{peak}次,超过上限{hourly_limit}次",
                    actor,
                    tuple(sorted(e.seq for e in burst)),
                    severity,
                )
            )
    return warnings


def _is_night(at: datetime) -> bool:
    hour = at.astimezone(BEIJING).hour
    return hour >= NIGHT_START_HOUR or hour < NIGHT_END_HOUR


def night_lookups(entries: list[Entry]) -> list[SupervisionWarning]:
    by_actor: dict[str, list[int]] = defaultdict(list)
    for e in _lookups(entries):
        if _is_night(e.at):
            by_actor[e.actor].append(e.seq)
    return [
        SupervisionWarning(
            "NIGHT_LOOKUP",
            f"{actor}在夜间(22:00至次日06:00)查询个人信息{len(seqs)}次",
            actor,
            tuple(sorted(seqs)),
            "medium",
        )
        for actor, seqs in sorted(by_actor.items())
    ]


def repeated_lookups_without_case(
    entries: list[Entry],
    cases: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
    threshold: int = REPEAT_THRESHOLD,
    window: timedelta = REPEAT_WINDOW,
) -> list[SupervisionWarning]:
    pairs: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for e in _lookups(entries):
        if e.subject_key and e.role in OFFICER_ROLES and (e.actor, e.subject_key) not in cases:
            pairs[(e.actor, e.subject_key)].append(e)
    warnings = []
    days = window.total_seconds() / 86400
    for (actor, subject), items in sorted(pairs.items()):
        for burst, peak in _bursts(items, window, threshold):
            warnings.append(
                SupervisionWarning(
                    "REPEATED_LOOKUP_NO_CASE",
                    f"{actor}在{days:g}天内查询同一对象(假名{subject[:8]}…){peak}次,但没有与其相关的案件",
                    actor,
                    tuple(sorted(e.seq for e in burst)),
                    "medium",
                )
            )
    return warnings


def scan(
    rows: Iterable,
    *,
    cases: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
    hourly_limit: int = HOURLY_LIMIT,
    repeat_threshold: int = REPEAT_THRESHOLD,
    repeat_window: timedelta = REPEAT_WINDOW,
) -> list[SupervisionWarning]:
    """All warnings over audit rows (``AuditLog`` objects or dicts with the same fields).

    ``cases`` holds the (actor, subject_key) pairs that have a case, which justify repeated look-ups.
    """
    entries = [_entry(r) for r in rows]
    return [
        *out_of_jurisdiction(entries),
        *bulk_lookups(entries, hourly_limit),
        *night_lookups(entries),
        *repeated_lookups_without_case(entries, cases, repeat_threshold, repeat_window),
    ]


def scan_trail(session: Session, since: datetime | None = None, **options) -> list[SupervisionWarning]:
    query = select(AuditLog).order_by(AuditLog.seq)
    if since is not None:
        query = query.where(AuditLog.at >= since)
    return scan(session.scalars(query), **options)
