"""Working days on the State Council's schedule: holidays skipped, make-up working days counted,
the start day not counted, limits ending at midnight Beijing time, unknown years flagged."""

from datetime import UTC, date, datetime

from jiuzhu import workdays
from jiuzhu.supervision import BEIJING


def test_national_day_week_is_skipped_and_the_make_up_saturday_counts():
    start = datetime(2026, 9, 30, 10, 0, tzinfo=BEIJING)
    deadline = workdays.add_working_days(start, 3)
    # 1–7 October are off; Thursday 8, Friday 9 and the make-up Saturday 10 October count
    assert deadline.at == datetime(2026, 10, 10, 23, 59, 59, tzinfo=BEIJING).astimezone(UTC)
    assert not deadline.estimated
    assert workdays.is_workday(date(2026, 10, 10)) and not workdays.is_workday(date(2026, 10, 5))


def test_an_ordinary_week_and_the_day_of_start():
    monday = datetime(2025, 3, 3, 9, 0, tzinfo=BEIJING)
    assert workdays.add_working_days(monday, 5).at.astimezone(BEIJING).date() == date(2025, 3, 10)
    assert workdays.add_working_days(monday, 0).at.astimezone(BEIJING).date() == date(2025, 3, 3)
    assert workdays.working_days_between(monday, datetime(2025, 3, 10, 9, 0, tzinfo=BEIJING)) == 5


def test_a_year_without_a_published_schedule_is_estimated():
    late = datetime(2028, 12, 28, 9, 0, tzinfo=BEIJING)  # a Thursday; 1 January 2029 is a Monday
    deadline = workdays.add_working_days(late, 3)
    assert deadline.estimated  # 2028–29: not in the installed schedule
    assert deadline.at.astimezone(BEIJING).date() == date(2029, 1, 3)  # Friday, then New Year skipped


def test_publicity_runs_in_calendar_days():
    start = datetime(2026, 9, 30, 10, 0, tzinfo=BEIJING)
    assert workdays.add_calendar_days(start, 7).at.astimezone(BEIJING).date() == date(2026, 10, 7)
