"""A whole case on the tiny province (issue #9): a real family applies at its township's window, the
verification centre assesses it from the lake with the marts' definition, the township reviews
(late: the step goes overdue and is escalated, and the supervision scan raises it), the county
approves, publicity runs, the disbursement order is checked by finance, paid by the bank and
reconciled — every step on a controllable clock. (The flow on PostgreSQL is covered by test_cases;
this one runs once, on SQLite, beside the other tests of the tiny lake.)"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable
from sqlalchemy import select

from assistance import cases, casewatch, catalogue, payments
from jiuzhu.business import db
from jiuzhu.business.models import Benefit, CaseAlert, DisbursementOrder, PaymentBatch
from tests.business import casekit
from tests.business.conftest import FakeClock
from verification import requests as vr

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]


@pytest.fixture
def session(tmp_path):
    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    with db.session_factory(engine)() as s:
        yield s
    engine.dispose()


@pytest.fixture
def clock():
    return FakeClock(datetime(2025, 3, 3, 2, 0, tzinfo=UTC))


@pytest.fixture
def applicant(warehouse):
    """An eligible family the civil-affairs roster does not hold yet (the one the platform exists for),
    else any family: (members, region, household number, lake root)."""
    _, warehouse_file, lake_root = warehouse
    roster = pl.from_arrow(DeltaTable(str(lake_root / "silver" / "assistance_roster")).to_pyarrow_table())
    enrolled = set(roster.filter(pl.col("period") == roster["period"].max())["household_no"])
    with duckdb.connect(str(warehouse_file), read_only=True) as con:
        rows = con.sql("select household_no, assessment from household_profile "
                       "where period = (select max(period) from household_profile) order by household_no").fetchall()
    eligible = [h for h, a in rows if h not in enrolled and a == "符合"]
    candidates = eligible or [h for h, _ in rows if h not in enrolled]
    persons = pl.from_arrow(DeltaTable(str(lake_root / "silver" / "persons")).to_pyarrow_table())
    household = candidates[0]
    members = persons.filter((pl.col("household_no") == household) & pl.col("alive")).sort("relation")
    head = members.filter(pl.col("relation") == "02").row(0, named=True)
    return ([cases.MemberIn(p["person_id"], p["person_name"], p["relation"]) for p in members.to_dicts()],
            head["region_code"], household, lake_root)


def test_application_to_reconciled_payment_with_time_limits_enforced(session, clock, applicant, monkeypatch,
                                                                      tmp_path):
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")
    members, region, household, lake_root = applicant
    catalogue.seed(session, clock=clock)
    township = cases.office_of(region, "township")
    office = casekit.staff(session, clock, county=region[:6] + "000000", township=township)
    case = cases.accept(session, office["cw"], item_code="dibao_urban", region_code=region, members=members,
                        materials=casekit.materials("dibao_urban", session, region), household_no=household,
                        lake_root=lake_root, clock=clock)

    # the verification centre: receive, assess from the lake, review by a second officer
    no = case.verification_request_no
    vr.receive(session, office["vo"], no, clock=clock)
    vr.verify(session, office["vo"], no, lake_root, as_of=datetime.now(UTC), clock=clock, work_dir=tmp_path)
    vr.review(session, office["vo2"], no, clock=clock)
    clock.advance(days=1)
    assert cases.sweep(session, clock=clock).verified == [case.acceptance_no]
    session.refresh(case)
    assert case.assessment in ("符合", "不符合", "需人工复核")
    assert case.assessment == vr.get(session, no).assessment

    # the township is late with its review: warned, then overdue and escalated to the county
    review = cases.current_step(session, case)
    clock.set(review.due_at.replace(hour=1))
    assert case.acceptance_no in cases.sweep(session, clock=clock).warned
    clock.advance(days=3)
    assert case.acceptance_no in cases.sweep(session, clock=clock).overdue
    session.refresh(review)
    assert review.escalated_to == region[:6] + "000000"
    raised = casewatch.scan(session, clock=clock)
    assert any(a.rule == "overdue_step" and case.acceptance_no in a.message for a in raised)
    cases.complete(session, office["town_ap"], case.acceptance_no, "pass", note="入户调查属实", clock=clock)

    amount = case.proposed_amount if case.proposed_amount else 300.0
    cases.complete(session, office["county_ap"], case.acceptance_no, "pass", note="同意", amount=amount, clock=clock)
    clock.advance(days=8)
    assert cases.sweep(session, clock=clock).publicity_closed == [case.acceptance_no]
    session.refresh(case)
    assert case.status == "approved"
    benefit = session.scalar(select(Benefit).where(Benefit.case_id == case.id))
    assert benefit.household_size == len(members) and benefit.monthly_amount == round(amount, 2)

    # finance: the first order of a benefit is always spot-checked, then paid through the card file
    order = session.scalar(select(DisbursementOrder).where(DisbursementOrder.case_id == case.id))
    payments.select_for_check(session, office["fin"], region[:6] + "000000", order.period, clock=clock)
    session.refresh(order)
    assert order.spot_check and order.status == "pending_check"
    payments.check(session, office["fin"], order.order_no, passed=True, clock=clock)
    batch, content = payments.payment_file(session, office["fin"], region[:6] + "000000", order.period, "card",
                                           clock=clock)
    assert order.order_no in content.decode("gb18030")
    result = (f"拨付单号,收款人证件号码,发放金额,发放日期,发放状态\r\n"
              f"{order.order_no},{order.payee_person_id},{order.amount:.2f},2025-04-01,成功\r\n").encode("gb18030")
    report = payments.import_results(session, office["fin"], batch.batch_no, result, clock=clock)
    assert report.paid == [order.order_no] and not report.bad and report.open_issues == 0
    session.refresh(order)
    assert order.status == "paid"
    assert session.scalar(select(PaymentBatch.status).where(PaymentBatch.batch_no == batch.batch_no)) == "reconciled"
    assert cases.current_step(session, case) is None  # the disbursement step closed by the bank's result
    assert [s.step_code for s in cases.steps_of(session, case)] == [
        "accept", "verify", "review", "approve", "publicity", "disburse"]
    progress = cases.progress(session, case.acceptance_no, members[-1].person_id, clock=clock)
    assert progress.status_zh == "已批准" and all(s.completed_on for s in progress.steps)
    assert session.scalar(select(CaseAlert).where(CaseAlert.rule == "payment_without_approval")) is None
