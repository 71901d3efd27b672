"""Recovery (后补追缴, issue #15) on the tiny province: a real family is verified from the lake, approved
and paid four months; then the vehicle registry delivers, late, a car first registered in the second
month. The scan must find exactly those months overpaid — each by the whole amount paid, since a car
above the limit disqualifies — and nothing for the month before; a second scan changes nothing.

The lake is a copy: the late delivery is a new version of its silver vehicles table, written as the
exchange writes it, so the session's lake stays as the other tests of the group expect it."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable
from sqlalchemy import select, update

from assistance import adjustments, cases, catalogue, funds
from jiuzhu import lake
from jiuzhu.business import db
from jiuzhu.business.models import BenefitAdjustment, DisbursementOrder
from tests.business import casekit
from tests.business.conftest import FakeClock
from verification import requests as vr

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]
PERIODS = ["2026-05", "2026-06", "2026-07", "2026-08"]


@pytest.fixture
def session(tmp_path):
    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    with db.session_factory(engine)() as s:
        yield s
    engine.dispose()


@pytest.fixture
def family(warehouse, tmp_path):
    """An eligible household in May–August 2026 that the roster does not hold, and a copy of the lake."""
    _, warehouse_file, lake_root = warehouse
    copy = tmp_path / "lake"
    shutil.copytree(lake_root, copy)
    roster = pl.from_arrow(DeltaTable(str(lake_root / "silver" / "assistance_roster")).to_pyarrow_table())
    enrolled = set(roster["household_no"])
    with duckdb.connect(str(warehouse_file), read_only=True) as con:
        rows = con.sql("select household_no from household_profile where period between ? and ? "
                       "group by household_no having count(*) = 4 and bool_and(assessment = '符合') "
                       "and bool_and(max_car_value_yuan is null) order by household_no",
                       params=[PERIODS[0], PERIODS[-1]]).fetchall()
    household = next(h for (h,) in rows if h not in enrolled)
    persons = pl.from_arrow(DeltaTable(str(lake_root / "silver" / "persons")).to_pyarrow_table())
    members = persons.filter((pl.col("household_no") == household) & pl.col("alive")).sort("relation")
    head = members.filter(pl.col("relation") == "02").row(0, named=True)
    return ([cases.MemberIn(p["person_id"], p["person_name"], p["relation"]) for p in members.to_dicts()],
            head["region_code"], household, copy)


def _late_car(lake_root, person_id):
    """The vehicle registry's late delivery: a car above the asset limit, first registered 10 June 2026."""
    path = lake.table_path(lake_root, "silver", "vehicles")
    table = DeltaTable(str(path)).to_pyarrow_table()
    row = table.slice(0, 1).to_pylist()[0]
    persons = DeltaTable(str(lake.table_path(lake_root, "silver", "persons"))).to_pyarrow_table(
        columns=["person_id", "person_key"]).to_pylist()
    row.update(person_id=person_id, person_key=next(p["person_key"] for p in persons if p["person_id"] == person_id),
               plate_no="川A·L8T3R", vehicle_type="小型轿车", first_registration_date=date(2026, 6, 10),
               vehicle_value=180000 if not isinstance(row["vehicle_value"], str) else "180000",
               vehicle_status="正常")
    lake.write(path, pa.Table.from_pylist([row], schema=table.schema), mode="append")


def test_a_car_delivered_late_recovers_exactly_the_months_it_was_owned(session, family, tmp_path, monkeypatch):
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")
    members, region, household, lake_root = family
    clock = FakeClock(datetime(2026, 5, 4, 2, 0, tzinfo=UTC))
    catalogue.seed(session, clock=clock)
    office = casekit.staff(session, clock, county=region[:6] + "000000", township=cases.office_of(region, "township"))
    case = cases.accept(session, office["cw"], item_code="dibao_urban", region_code=region, members=members,
                        materials=casekit.materials("dibao_urban", session, region), household_no=household,
                        lake_root=lake_root, clock=clock)
    no = case.verification_request_no
    vr.receive(session, office["vo"], no, clock=clock)
    vr.verify(session, office["vo"], no, lake_root, as_of=datetime.now(UTC), clock=clock, work_dir=tmp_path / "w")
    vr.review(session, office["vo2"], no, clock=clock)
    clock.advance(days=1)
    cases.sweep(session, clock=clock)
    cases.complete(session, office["town_ap"], case.acceptance_no, "pass", note="入户调查属实", clock=clock)
    session.refresh(case)
    amount = case.proposed_amount if case.proposed_amount else 300.0
    cases.complete(session, office["county_ap"], case.acceptance_no, "pass", note="同意", amount=amount, clock=clock)
    clock.advance(days=9)
    cases.sweep(session, clock=clock)
    for period in PERIODS[1:]:
        funds.generate_month(session, period, clock=clock)
    session.execute(update(DisbursementOrder).where(DisbursementOrder.case_id == case.id).values(status="paid"))
    session.commit()
    paid = dict(session.execute(select(DisbursementOrder.period, DisbursementOrder.amount)
                                .where(DisbursementOrder.case_id == case.id)).all())
    assert sorted(paid) == PERIODS

    # before the late delivery: nothing the verification did not know
    before = adjustments.scan(session, lake_root, work_dir=tmp_path / "w", clock=clock)
    assert before.benefits == 1 and before.months == 4 and before.raised == []

    _late_car(lake_root, members[0].person_id)
    found = adjustments.scan(session, lake_root, work_dir=tmp_path / "w", clock=clock)
    items = session.scalars(select(BenefitAdjustment).order_by(BenefitAdjustment.period)).all()
    assert [(i.period, i.kind, i.paid_amount, i.correct_amount, i.difference) for i in items] == [
        (p, "recovery", paid[p], 0.0, -paid[p]) for p in PERIODS[1:]]
    assert len(found.raised) == 3 and all("机动车" in json.loads(i.reasons_json)[0] for i in items)
    assert all(json.loads(i.breakdown_json)["status"] == "ineligible" for i in items)
    again = adjustments.scan(session, lake_root, work_dir=tmp_path / "w", clock=clock)
    assert again.raised == [] and again.unchanged == 3
    assert session.scalar(select(BenefitAdjustment.id).where(BenefitAdjustment.period == PERIODS[0])) is None
