"""The tiny province end to end through the exchange: every delivery ingested, counts reconcile
with the manifests, every injected defect quarantined with the right reason, nothing else."""

import json

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from exchange import batches as B
from exchange import silver
from jiuzhu import departments

# one worker builds the tiny lake and marts once (pytest-xdist --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]

EXPECTED = {
    "bad_check_digit": {"ID_CHECK"}, "missing_id": {"REQUIRED_MISSING"}, "scientific_id": {"ID_SCIENTIFIC"},
    "unknown_region": {"REGION_UNKNOWN"}, "future_date": {"DATE_FUTURE"}, "negative_amount": {"AMOUNT_NEGATIVE"},
    "duplicate_row": {"DUPLICATE_ROW"}, "conflicting_duplicate": {"KEY_CONFLICT"},
}


def _bronze(lake, dept):
    d = departments.get(dept)
    return DeltaTable(str(lake / "bronze" / dept / d.bronze_table)).to_pyarrow_table()


def test_every_batch_is_ingested_and_reconciles_with_its_manifest(tiny_province, tiny_lake):
    root, reports = tiny_lake
    lake = root / "lake"
    assert not any(r.systemic for r in reports.values())
    for dept in departments.slugs():
        ledger = [r for r in B.ledger_rows(lake, dept) if r["status"] != "duplicate"]
        assert len(ledger) == 24, dept
        for entry in ledger:
            assert entry["status"] == "loaded"
            assert entry["delivered"] == entry["accepted"] + entry["rejected"] == entry["declared"]
        bronze = _bronze(lake, dept)
        assert bronze.num_rows == sum(e["delivered"] for e in ledger)


def test_resent_batches_are_recognised_and_change_nothing(tiny_province, tiny_lake):
    root, _ = tiny_lake
    resent = list((tiny_province / "inbox").glob("*/*__resend"))
    assert resent
    for folder in resent:
        ledger = B.ledger_rows(root / "lake", folder.parent.name)
        entries = [r for r in ledger if r["folder"] == folder.name]
        assert entries and entries[0]["status"] == "duplicate"


def test_every_injected_defect_gets_its_reason_and_clean_rows_pass(tiny_province, tiny_lake):
    root, _ = tiny_lake
    ledger = pq.read_table(tiny_province / "truth" / "defects.parquet").to_pylist()
    defects = {(d["batch_id"], d["file"], d["row_number"]): d["defect"] for d in ledger}
    checked = 0
    for dept in departments.slugs():
        rows = _bronze(root / "lake", dept).select(["_batch_id", "_file", "_row_number", "_status", "_reason_code"])
        for batch_id, file, row, status, reason in zip(*[rows.column(i).to_pylist() for i in range(5)], strict=True):
            defect = defects.get((batch_id, file, row))
            if defect in EXPECTED:
                assert reason in EXPECTED[defect], (batch_id, file, row, defect, reason)
                checked += 1
            else:
                assert status == "accepted", (batch_id, file, row, defect, reason)
    assert checked == sum(1 for d in ledger if d["defect"] in EXPECTED)


def test_receipts_exist_for_every_batch_in_chinese(tiny_lake):
    root, _ = tiny_lake
    texts = list((root / "receipts").glob("*/*.txt"))
    assert len(texts) >= 13 * 24
    sample = next((root / "receipts" / "renshe").glob("renshe-202412__*.json"))
    receipt = json.loads(sample.read_text())
    assert receipt["delivered"] == receipt["accepted"] + receipt["rejected"]
    assert "数据报送回执" in sample.with_suffix(".txt").read_text()


def test_silver_has_normalised_persons_households_and_facts(tiny_province, tiny_lake):
    root, _ = tiny_lake
    lake = root / "lake"
    persons = DeltaTable(str(silver.table_path(lake, "persons"))).to_pyarrow_table().to_pylist()
    ids_ = [p["person_id"] for p in persons]
    assert len(ids_) == len(set(ids_)) and all(len(i) == 18 for i in ids_)
    truth = {p["person_id"] for p in pq.read_table(tiny_province / "truth" / "persons").to_pylist()}
    assert set(ids_) <= truth  # no invented person; upgraded 15-digit IDs match the real ones
    assert len(ids_) > 0.97 * len(truth)
    dead = {p["person_id"] for p in persons if not p["alive"]}
    truth_dead = {p["person_id"] for p in pq.read_table(tiny_province / "truth" / "persons").to_pylist()
                  if p["death_month"] >= 0}
    assert dead <= truth_dead and len(dead) > 0.9 * len(truth_dead)
    households = DeltaTable(str(silver.table_path(lake, "households"))).to_pyarrow_table()
    assert households.num_rows > 0.9 * pq.read_table(tiny_province / "truth" / "households").num_rows
    income = DeltaTable(str(silver.table_path(lake, "income_monthly"))).to_pyarrow_table().to_pylist()
    assert {r["category"] for r in income} >= {"wage", "employee_pension", "taxable_income"}
    assert all(r["amount_yuan"] >= 0 for r in income)
    deposits = DeltaTable(str(silver.table_path(lake, "deposits"))).to_pyarrow_table().to_pylist()
    assert deposits and all(r["period"][4] == "-" for r in deposits)
