"""核对业务统计 (VF-7): verification requests made through the service, mirrored from the business
database (SQLite and PostgreSQL) into bronze, counted by the dbt mart by Beijing month, county,
commissioning unit and aid item — checked against the requests themselves."""

import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable
from sqlalchemy import select

from jiuzhu import access, auth
from jiuzhu.business import mirror
from jiuzhu.business.models import VerificationRequest
from verification import requests as vr

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]
ROOT = Path(__file__).resolve().parents[2]


def _families(lake_root: Path, n: int):
    persons = pl.from_arrow(DeltaTable(str(lake_root / "silver" / "persons")).to_pyarrow_table())
    heads = persons.filter(pl.col("alive") & (pl.col("relation") == "02")).sort("household_no").head(n)
    return [(vr.MemberInput(h["person_id"], h["relation"]), h["region_code"]) for h in heads.to_dicts()]


def test_the_mart_counts_requests_by_month_county_unit_and_item(warehouse, session, engine, clock, tmp_path,
                                                               monkeypatch):
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")
    _, _, lake_root = warehouse
    lake_copy = tmp_path / "lake"
    shutil.copytree(lake_root, lake_copy)
    shutil.rmtree(mirror.mirror_path(lake_copy, "verification_requests"))
    families = _families(lake_root, 6)
    case = auth.create_user(session, "case.s", "case.s", access.CASE_WORKER, "510000000000", "Abcdef12!",
                            must_change_password=False, clock=clock)
    # 2026-11-30 20:00 UTC is already 1 December in Beijing: the request counts for 2026-12
    clock.set(datetime(2026, 11, 30, 20, 0, tzinfo=UTC))
    made = []
    for i, (member, region) in enumerate(families):
        unit = "街道办事处" if i % 2 else "县民政局"
        item = "dibao" if i < 4 else "tekun"
        made.append(vr.submit(session, case, commissioning_unit=unit, aid_item=item, purpose="低保申请家庭经济状况核对",
                              authorisation_ref=f"SQ-{i}", region_code=region, members=[member], clock=clock))
        clock.advance(hours=1)
    # the later steps as the verification workflow leaves them (tested in test_verification_requests)
    outcomes = [("reported", "符合", 5), ("reported", "不符合", 3), ("rejected", None, 1), ("received", None, 0),
                ("verified", "需人工复核", 2), ("submitted", None, 0)]
    for request, (status, assessment, hours) in zip(made, outcomes, strict=True):
        row = session.get(VerificationRequest, request.id)
        row.status, row.assessment = status, assessment
        row.updated_at = row.created_at + timedelta(hours=hours)
    session.commit()

    copied = mirror.mirror(engine, lake_copy, "verification_requests")
    assert copied["rows"] == 6
    mirrored = DeltaTable(str(mirror.mirror_path(lake_copy, "verification_requests"))).to_pyarrow_table()
    assert not {"purpose", "rejection_reason", "result_json"} & set(mirrored.column_names)

    warehouse_file = tmp_path / "w.duckdb"
    env = {**os.environ, "JIUZHU_LAKE": str(lake_copy), "JIUZHU_WAREHOUSE": str(warehouse_file), "DO_NOT_TRACK": "1"}
    proc = subprocess.run([str(Path(sys.executable).parent / "dbt"), "build", "--select", "+verification_statistics",
                           "--profiles-dir", ".", "--target-path", str(tmp_path / "target"), "--log-path",
                           str(tmp_path / "logs")], cwd=ROOT / "dbt_project", env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    with duckdb.connect(str(warehouse_file), read_only=True) as con:
        mart = pl.from_arrow(con.sql("select * from verification_statistics").to_arrow_table())

    rows = session.scalars(select(VerificationRequest)).all()
    expected = Counter(("2026-12", r.region_code[:6], r.commissioning_unit, r.aid_item) for r in rows)
    got = {(m["period"], m["county_code"], m["commissioning_unit"], m["aid_item"]): m["requests"]
           for m in mart.to_dicts()}
    assert got == dict(expected)
    totals = mart.select(pl.exclude("period", "prefecture_code", "county_code", "commissioning_unit", "aid_item",
                                    "mean_hours_to_report", "max_seconds_to_report").sum()).to_dicts()[0]
    assert totals == {"requests": 6, "awaiting_receipt": 1, "in_progress": 2, "reported": 2, "rejected": 1,
                      "assessed_eligible": 1, "assessed_ineligible": 1, "assessed_for_review": 1}
    # the two reported requests sit in different groups (different commissioning units)
    assert sorted(h for h in mart["mean_hours_to_report"].to_list() if h is not None) == [3.0, 5.0]
    # the longest turnaround of a reported request, as the outcomes above set it (5 h): a statistic
    # of the requests' own timestamps for VF-7, not a measure of this code's speed
    assert mart["max_seconds_to_report"].max() == 5 * 3600
    # counts only: no request number, member or ID reaches the statistics
    assert not {"request_no", "person_id", "submitted_by"} & set(mart.columns)
