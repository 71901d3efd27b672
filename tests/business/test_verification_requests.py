"""Verification requests through their lifecycle, on SQLite and PostgreSQL: every step authorised
for role and jurisdiction, audited, in order; the verification uses the marts' own assessment."""

import json
from datetime import UTC, datetime

import polars as pl
import pytest
from deltalake import DeltaTable
from sqlalchemy import select

from jiuzhu import access, auth
from jiuzhu.business.models import AuditLog
from verification import requests as vr

# one worker builds the tiny lake and marts once (pytest-xdist --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]


@pytest.fixture
def family(warehouse):
    """A real household of the tiny province: its members, its county and the lake."""
    _, _, lake_root = warehouse
    persons = pl.from_arrow(DeltaTable(str(lake_root / "silver" / "persons")).to_pyarrow_table())
    head = persons.filter(pl.col("alive") & (pl.col("relation") == "02")).sort("household_no").row(0, named=True)
    members = persons.filter((pl.col("household_no") == head["household_no"]) & pl.col("alive"))
    return [vr.MemberInput(p["person_id"], p["relation"]) for p in members.to_dicts()], head["region_code"], lake_root


@pytest.fixture
def users(session, clock, monkeypatch, family):
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")
    _, region, _ = family
    county = region[:6] + "000000"
    other = "510105000000" if not region.startswith("510105") else "510106000000"
    out = {}
    for name, role, where in (("case.a", access.CASE_WORKER, region[:9] + "000"), ("officer.a", access.VERIFICATION_OFFICER, county),
                              ("officer.b", access.VERIFICATION_OFFICER, county), ("officer.x", access.VERIFICATION_OFFICER, other)):
        out[name] = auth.create_user(session, name, name, role, where, "Abcdef12!", must_change_password=False, clock=clock)
    return out


def test_a_request_goes_through_its_whole_lifecycle(session, clock, users, family, tmp_path):
    members, region, lake_root = family
    request = vr.submit(session, users["case.a"], commissioning_unit="锦江区春熙路街道办事处", aid_item="dibao",
                        purpose="低保申请家庭经济状况核对", authorisation_ref="SQ-2026-0001", region_code=region,
                        members=members, clock=clock)
    assert request.status == "submitted" and request.request_no.startswith("HD")
    vr.receive(session, users["officer.a"], request.request_no, clock=clock)
    # the data as it stands now (the fake clock is in 2025, before this lake was written)
    done = vr.verify(session, users["officer.a"], request.request_no, lake_root, clock=clock, work_dir=tmp_path,
                     as_of=datetime.now(UTC))
    assert done.status == "verified" and done.assessment in ("符合", "不符合", "需人工复核")
    result = json.loads(done.result_json)
    assert result["profile"]["members"] == len(members) and "table_versions" in result
    with pytest.raises(vr.RequestError) as err:
        vr.review(session, users["officer.a"], request.request_no, clock=clock)
    assert err.value.code == "REVIEWER_SAME_AS_VERIFIER"
    assert vr.review(session, users["officer.b"], request.request_no, clock=clock).status == "reviewed"
    steps = [json.loads(e.detail).get("step") for e in session.scalars(select(AuditLog).order_by(AuditLog.seq))
             if e.action == "review_verification"]
    assert steps == ["receive", "verify", "review"]


def test_an_officer_outside_the_jurisdiction_is_refused_and_audited(session, clock, users, family):
    members, region, _ = family
    request = vr.submit(session, users["case.a"], commissioning_unit="街道办", aid_item="dibao", purpose="低保申请核对",
                        authorisation_ref="SQ-2", region_code=region, members=members, clock=clock)
    with pytest.raises(access.AccessDenied):
        vr.receive(session, users["officer.x"], request.request_no, clock=clock)
    denied = session.scalars(select(AuditLog).where(AuditLog.actor == "officer.x")).all()
    assert denied and denied[-1].outcome == "denied"
    assert vr.get(session, request.request_no).status == "submitted"


def test_steps_out_of_order_and_bad_requests_are_refused_in_chinese(session, clock, users, family, tmp_path):
    members, region, lake_root = family
    with pytest.raises(vr.RequestError) as err:
        vr.submit(session, users["case.a"], commissioning_unit="街道办", aid_item="dibao", purpose="核对",
                  authorisation_ref="", region_code=region, members=members, clock=clock)
    assert err.value.code == "AUTHORISATION_MISSING" and "授权" in err.value.message
    with pytest.raises(vr.RequestError) as err:
        vr.submit(session, users["case.a"], commissioning_unit="街道办", aid_item="dibao", purpose="核对",
                  authorisation_ref="SQ-3", region_code=region,
                  members=[vr.MemberInput(members[0].person_id[:-1] + "0" if members[0].person_id[-1] != "0"
                                          else members[0].person_id[:-1] + "1", "02")], clock=clock)
    assert err.value.code == "ID_CHECK"
    request = vr.submit(session, users["case.a"], commissioning_unit="街道办", aid_item="dibao", purpose="核对",
                        authorisation_ref="SQ-4", region_code=region, members=members, clock=clock)
    with pytest.raises(vr.RequestError) as err:
        vr.verify(session, users["officer.a"], request.request_no, lake_root, clock=clock, work_dir=tmp_path)
    assert err.value.code == "STATUS_INVALID"
    rejected = vr.reject(session, users["officer.a"], request.request_no, "授权书签名与申请人不符", clock=clock)
    assert rejected.status == "rejected" and rejected.rejection_reason
