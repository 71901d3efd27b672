"""Sensitive-operation warnings (VF-6): each rule fires on a crafted trail, cites the audit
entries it rests on, and stays quiet on a clean trail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from jiuzhu import access, supervision

MONDAY_10AM = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # 10:00 Beijing
SUBJECT = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


class Trail:
    def __init__(self):
        self.rows: list[dict] = []

    def add(
        self,
        at,
        actor="hedui01",
        action="view_person",
        outcome="allowed",
        subject=SUBJECT,
        role="verification_officer",
        code="ALLOWED",
    ):
        self.rows.append(
            {
                "seq": len(self.rows) + 1,
                "at": at,
                "actor": actor,
                "role": role,
                "action": action,
                "subject_key": subject,
                "outcome": outcome,
                "detail": json.dumps({"code": code}),
            }
        )
        return len(self.rows)


def codes(warnings) -> list[str]:
    return [w.rule_code for w in warnings]


def test_a_clean_working_day_raises_no_warning():
    trail = Trail()
    for i in range(40):  # 40 look-ups spread over the office day, different people, each with a case
        trail.add(MONDAY_10AM + timedelta(minutes=10 * i), subject=f"{i:032x}")
    trail.add(MONDAY_10AM, action="view_aggregate", subject=None)
    trail.add(
        MONDAY_10AM,
        actor="fenxi01",
        role="analyst",
        action="view_person",
        outcome="denied",
        code="ROLE_NOT_PERMITTED",
    )
    cases = {("hedui01", f"{i:032x}") for i in range(40)}
    assert supervision.scan(trail.rows, cases=cases) == []


def test_attempts_outside_the_jurisdiction_are_flagged_with_their_entries():
    trail = Trail()
    first = trail.add(MONDAY_10AM, outcome="denied", code="OUT_OF_JURISDICTION")
    trail.add(MONDAY_10AM + timedelta(minutes=1), outcome="denied", code="ROLE_NOT_PERMITTED")
    second = trail.add(MONDAY_10AM + timedelta(minutes=2), outcome="denied", code="OUT_OF_JURISDICTION")
    [warning] = supervision.scan(trail.rows)
    assert (warning.rule_code, warning.actor, warning.evidence, warning.severity) == (
        "OUT_OF_JURISDICTION",
        "hedui01",
        (first, second),
        "high",
    )
    assert "管辖范围以外" in warning.description_zh and "2次" in warning.description_zh


@pytest.mark.parametrize("count,minutes,fires", [(51, 59, True), (50, 59, False), (51, 120, False)])
def test_more_than_fifty_lookups_in_an_hour_is_a_bulk_lookup(count, minutes, fires):
    trail = Trail()
    step = timedelta(minutes=minutes) / (count - 1)
    for i in range(count):
        trail.add(MONDAY_10AM + step * i, subject=f"{i:032x}")
    warnings = supervision.bulk_lookups([supervision._entry(r) for r in trail.rows])
    assert bool(warnings) == fires
    if fires:
        [w] = warnings
        assert w.evidence == tuple(range(1, count + 1)) and "1小时内查询个人信息51次" in w.description_zh


def test_the_bulk_limit_is_configurable():
    trail = Trail()
    for i in range(11):
        trail.add(MONDAY_10AM + timedelta(minutes=i), subject=f"{i:032x}")
    assert codes(supervision.scan(trail.rows, hourly_limit=10)) == ["BULK_LOOKUP"]
    assert supervision.scan(trail.rows, hourly_limit=11) == []


@pytest.mark.parametrize(
    "beijing_time,fires",
    [
        ("21:59", False),
        ("22:00", True),
        ("23:30", True),
        ("02:00", True),
        ("05:59", True),
        ("06:00", False),
    ],
)
def test_lookups_at_night_beijing_time_are_flagged(beijing_time, fires):
    hour, minute = map(int, beijing_time.split(":"))
    local = datetime(2025, 3, 4, hour, minute, tzinfo=supervision.BEIJING)
    trail = Trail()
    seq = trail.add(local.astimezone(UTC))
    warnings = supervision.scan(trail.rows, cases={("hedui01", SUBJECT)})
    assert codes(warnings) == (["NIGHT_LOOKUP"] if fires else [])
    if fires:
        assert warnings[0].evidence == (seq,)


def test_denied_attempts_at_night_are_not_lookups():
    trail = Trail()
    trail.add(
        datetime(2025, 3, 4, 23, 0, tzinfo=supervision.BEIJING), outcome="denied", code="ROLE_NOT_PERMITTED"
    )
    assert supervision.scan(trail.rows) == []


def test_repeated_lookups_of_one_person_without_a_case_are_flagged():
    trail = Trail()
    seqs = [trail.add(MONDAY_10AM + timedelta(days=d)) for d in (0, 2, 5)]
    trail.add(MONDAY_10AM, subject=OTHER)
    [warning] = supervision.scan(trail.rows)
    assert (warning.rule_code, warning.actor, warning.evidence) == (
        "REPEATED_LOOKUP_NO_CASE",
        "hedui01",
        tuple(seqs),
    )
    assert "没有与其相关的案件" in warning.description_zh and SUBJECT not in warning.description_zh


@pytest.mark.parametrize(
    "days,cases,fires",
    [
        ((0, 2, 5), {("hedui01", SUBJECT)}, False),  # the officer has a case for them
        ((0, 4, 8), set(), False),  # never three within seven days
        ((0, 5), set(), False),  # only twice
        ((0, 1, 6), set(), True),
    ],
)
def test_repeated_lookup_rule_respects_cases_window_and_threshold(days, cases, fires):
    trail = Trail()
    for d in days:
        trail.add(MONDAY_10AM + timedelta(days=d))
    assert codes(supervision.scan(trail.rows, cases=cases)) == (["REPEATED_LOOKUP_NO_CASE"] if fires else [])


def test_repeated_lookup_rule_only_watches_case_officers():
    trail = Trail()
    for d in (0, 1, 2):
        trail.add(MONDAY_10AM + timedelta(days=d), actor="jijian01", role="supervisor")
    assert supervision.scan(trail.rows) == []


def test_warnings_come_from_the_real_audit_trail(session, clock):
    vo = SimpleNamespace(username="hedui01", role="verification_officer", jurisdiction_code="510104000000")
    with pytest.raises(access.AccessDenied):
        access.authorize_and_audit(
            session, vo, "view_person", "510105000000", subject_key=SUBJECT, purpose="核对", clock=clock
        )
    clock.set(datetime(2025, 3, 4, 23, 15, tzinfo=supervision.BEIJING))
    access.authorize_and_audit(
        session, vo, "view_person", "510104017000", subject_key=SUBJECT, purpose="核对", clock=clock
    )
    warnings = supervision.scan_trail(session, cases={(vo.username, SUBJECT)})
    assert [(w.rule_code, w.evidence) for w in warnings] == [
        ("OUT_OF_JURISDICTION", (1,)),
        ("NIGHT_LOOKUP", (2,)),
    ]
