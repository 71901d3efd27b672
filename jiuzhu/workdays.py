"""Working days (工作日) for time limits, on the State Council's holiday schedule (BZ-3).

Time limits in social assistance are counted in working days: weekends and public holidays do not
count, and the make-up working days (调休上班) on a weekend do. The published schedule comes from
``chinesecalendar`` (it covers 2004 up to the newest year the State Council has announced). For a
year the package does not know yet, days are counted as Monday to Friday without the fixed-date
holidays (New Year's Day, Labour Day, National Day 1-3 October) and the result says so
(``estimated``): a deployment upgrades the package when the next year's schedule is published.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from functools import lru_cache

import chinese_calendar

from jiuzhu.supervision import BEIJING

_FIXED_HOLIDAYS = {(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)}


# the years the installed schedule covers (the State Council publishes one year at a time)
_PUBLISHED_YEARS = frozenset(day.year for day in chinese_calendar.holidays)


@lru_cache(maxsize=4096)
def _is_workday(day: _dt.date) -> tuple[bool, bool]:
    """(is a working day, known from the published schedule)."""
    if day.year in _PUBLISHED_YEARS:
        return chinese_calendar.is_workday(day), True
    return day.weekday() < 5 and (day.month, day.day) not in _FIXED_HOLIDAYS, False


def is_workday(day: _dt.date) -> bool:
    return _is_workday(day)[0]


def schedule_known(day: _dt.date) -> bool:
    return _is_workday(day)[1]


@dataclass(frozen=True)
class Deadline:
    at: _dt.datetime  # aware UTC: the end of the last working day, Beijing time
    estimated: bool  # some day counted lies in a year whose holiday schedule is not published yet


def _end_of_day(day: _dt.date) -> _dt.datetime:
    return _dt.datetime.combine(day, _dt.time(23, 59, 59), tzinfo=BEIJING).astimezone(_dt.UTC)


def add_working_days(start: _dt.datetime, days: int) -> Deadline:
    """The deadline ``days`` working days after ``start``: the day of ``start`` does not count (as
    the rules read, "自受理之日起" the limit runs from the next working day) and the deadline is the
    end of the last day, Beijing time."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start.astimezone(BEIJING).date()
    estimated = False
    counted = 0
    while counted < days:
        day += _dt.timedelta(days=1)
        workday, known = _is_workday(day)
        estimated |= not known
        counted += workday
    return Deadline(_end_of_day(day), estimated)


def add_calendar_days(start: _dt.datetime, days: int) -> Deadline:
    """A period in calendar days (publicity: 公示7天), ending at the end of its last day."""
    day = start.astimezone(BEIJING).date() + _dt.timedelta(days=days)
    return Deadline(_end_of_day(day), False)


def working_days_between(start: _dt.datetime, end: _dt.datetime) -> int:
    """Working days after ``start``'s day up to and including ``end``'s day (0 when end ≤ start)."""
    first, last = start.astimezone(BEIJING).date(), end.astimezone(BEIJING).date()
    count = 0
    day = first
    while day < last:
        day += _dt.timedelta(days=1)
        count += is_workday(day)
    return count
