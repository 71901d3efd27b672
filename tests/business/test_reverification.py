"""Batch re-verification (动态复核): the month's detection list reaches each county's work queue
once, with its reasons; counties see and handle only their own households, within the time limit,
every step audited; the statistics count what happened without naming anyone."""

from datetime import timedelta

import duckdb
import pytest
from sqlalchemy import select

from jiuzhu import access, auth, lake
from jiuzhu.business.models import AuditLog, ReverificationTask
from verification import reverify, statistics

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]


@pytest.fixture(scope="module")
def gold(warehouse, tmp_path_factory):
    """The verification marts of the tiny province published to a gold zone (as publish_gold does)."""
    proc, wh, _ = warehouse
    assert proc.returncode == 0
    root = tmp_path_factory.mktemp("gold") / "lake"
    with duckdb.connect(str(wh), read_only=True) as con:
        for model in ("detection_list", "household_assessment_reasons"):
            lake.write(lake.table_path(root, "gold", "verification", model),
                       con.sql(f"select * from main.{model}").to_arrow_table())
        last = con.sql("select max(period) from detection_list").fetchall()[0][0]
        expected = con.sql("select county_code, count(*) from detection_list where period = ? group by 1",
                           params=[last]).fetchall()
    return root, last, dict(expected)


def test_the_months_detections_reach_each_countys_queue_once_with_reasons(session, clock, gold):
    root, period, expected = gold
    assert expected, "the tiny province has detections in its last month"
    result = reverify.push(session, root, clock=clock)
    assert result.period == period and result.pushed == sum(expected.values())
    tasks = session.scalars(select(ReverificationTask)).all()
    by_county = {}
    for t in tasks:
        by_county[t.county_code[:6]] = by_county.get(t.county_code[:6], 0) + 1
        assert t.status == "pending" and t.assessment in ("不符合", "需人工复核")
        assert t.due_at == t.pushed_at + timedelta(days=reverify.HANDLING_DAYS)
    assert by_county == expected
    failing = [t for t in tasks if t.assessment == "不符合"]
    assert failing and all('"reason_zh"' in t.reasons_json for t in failing)  # every failure carries its reasons
    pushes = session.scalars(select(AuditLog).where(AuditLog.action == "push_reverification")).all()
    assert len(pushes) == len(expected)
    again = reverify.push(session, root, clock=clock)
    assert again.pushed == 0 and again.already_queued == result.pushed
    assert len(session.scalars(select(ReverificationTask)).all()) == len(tasks)


def test_a_county_handles_its_own_tasks_in_order_and_is_refused_elsewhere(session, clock, gold):
    root, _, expected = gold
    reverify.push(session, root, clock=clock)
    county = max(sorted(expected), key=expected.get)  # the county with the longest list
    other = "513400" if county != "513400" else "510100"
    mine = auth.create_user(session, "county.officer", "县核对员", access.VERIFICATION_OFFICER, county + "000000",
                            "Abcdef12!", must_change_password=False, clock=clock)
    outsider = auth.create_user(session, "other.officer", "外县核对员", access.VERIFICATION_OFFICER,
                                other + "000000", "Abcdef12!", must_change_password=False, clock=clock)
    tasks = reverify.queue(session, mine, clock=clock)
    assert tasks and {t.county_code[:6] for t in tasks} == {county}
    task = tasks[0]
    with pytest.raises(access.AccessDenied):
        reverify.handle(session, outsider, task.id, "start", clock=clock)
    assert session.scalars(select(AuditLog).where(AuditLog.actor == "other.officer")).all()[-1].outcome == "denied"
    with pytest.raises(reverify.QueueError) as err:
        reverify.handle(session, mine, task.id, "clear", "", clock=clock)
    assert err.value.code == "NOTE_MISSING"
    assert reverify.handle(session, mine, task.id, "start", clock=clock).status == "in_review"
    assert [t.id for t in reverify.queue(session, mine, status="in_review", clock=clock)] == [task.id]
    colleague = auth.create_user(session, "county.colleague", "同县核对员", access.VERIFICATION_OFFICER,
                                 county + "000000", "Abcdef12!", must_change_password=False, clock=clock)
    with pytest.raises(reverify.QueueError) as err:  # taken by the first officer
        reverify.handle(session, colleague, task.id, "clear", "核实后符合", clock=clock)
    assert err.value.code == "CLAIMED_BY_OTHER"
    with pytest.raises(reverify.QueueError) as err:
        reverify.handle(session, mine, task.id, "start", clock=clock)
    assert err.value.code == "STATUS_INVALID"
    done = reverify.handle(session, mine, task.id, "clear", "入户核实:存款已用于医疗支出,仍符合条件", clock=clock)
    assert done.status == "cleared" and done.handled_by == "county.officer"
    clock.advance(days=reverify.HANDLING_DAYS + 1)
    late = reverify.overdue(reverify.queue(session, mine, clock=clock), clock())
    # past the time limit every open task is overdue; the handled one never is
    assert {t.id for t in late} == {t.id for t in tasks} - {task.id}


def test_statistics_count_the_queues_without_naming_anyone(session, clock, gold):
    root, period, expected = gold
    reverify.push(session, root, clock=clock)
    queue = statistics.queue_table(session, clock() + timedelta(days=reverify.HANDLING_DAYS + 1))
    assert sum(queue.column("tasks").to_pylist()) == sum(expected.values())
    assert sum(queue.column("overdue").to_pylist()) == sum(expected.values())  # nothing handled, all late
    assert set(queue.column("period").to_pylist()) == {period}
    assert "household_no" not in queue.column_names
