"""The serving index answers one household as the lake would, at any indexed version: after a
later delivery rewrites files, the past is still served exactly; a stale index falls back to the
lake; a table the index cannot read correctly is refused rather than served wrongly."""

import datetime as dt
import json
import shutil
import time

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from jiuzhu import ids
from verification import ondemand, serving

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]


@pytest.fixture
def own_lake(warehouse, tmp_path):
    """A private copy of the tiny lake (with the policy tables), indexed."""
    _, _, lake_root = warehouse
    lake = tmp_path / "lake"
    shutil.copytree(lake_root, lake, ignore=shutil.ignore_patterns("_delta_log.lock"))
    index = serving.ServingIndex(ondemand.serving_index_path(lake))
    index.refresh(ondemand.indexed_tables(lake))
    index.close()
    ondemand._INDEXES.clear()
    return lake


def _rich_household(lake) -> tuple[str, list[int], list[ondemand.Member]]:
    """A household with deposits in the latest month (the row a later correction changes)."""
    deposits = pl.from_arrow(DeltaTable(str(lake / "silver" / "deposits")).to_pyarrow_table())
    persons = pl.from_arrow(DeltaTable(str(lake / "silver" / "persons")).to_pyarrow_table())
    last = deposits.get_column("period").max()
    holder = deposits.filter(pl.col("period") == last).sort("person_id").row(0, named=True)
    household = persons.filter(pl.col("person_id") == holder["person_id"]).row(0, named=True)["household_no"]
    people = persons.filter(pl.col("household_no") == household).get_column("person_id").to_list()
    return last, [ids.to_key(p) for p in people], [ondemand.Member(p) for p in people]


def _later_correction(lake, period: str, keys: list[int]) -> None:
    """A bank re-delivers the month with much higher balances for the family (files rewritten)."""
    path = str(lake / "silver" / "deposits")
    target = DeltaTable(path)
    rows = target.to_pyarrow_table(filters=[("period", "=", period)])
    mine = pl.from_arrow(rows).filter(pl.col("person_key").is_in(keys)) \
        .with_columns((pl.col("deposit_balance") + 900_000.0).alias("deposit_balance")).to_arrow()
    (target.merge(mine, predicate=f"t.period = '{period}' AND t.person_key = s.person_key "
                                 "AND t.account_no = s.account_no", source_alias="s", target_alias="t")
     .when_matched_update_all().execute())


def _sorted(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: json.dumps(r, default=str, sort_keys=True))


def test_index_rows_equal_the_lake_at_every_version_after_files_are_rewritten(own_lake):
    period, keys, _ = _rich_household(own_lake)
    before = DeltaTable(str(own_lake / "silver" / "deposits")).version()
    _later_correction(own_lake, period, keys)
    index = serving.ServingIndex(ondemand.serving_index_path(own_lake))
    done = index.refresh(ondemand.indexed_tables(own_lake))
    assert done["deposits"] == (before, before + 1)
    for version in (0, before, before + 1):
        lake_rows = DeltaTable(str(own_lake / "silver" / "deposits"), version=version).to_pyarrow_table()
        lake_rows = lake_rows.filter(pa.compute.is_in(lake_rows.column("person_key"), pa.array(keys)))
        served = index.rows("deposits", version, keys)
        assert served.schema.equals(lake_rows.schema.remove_metadata(), check_metadata=False) or \
            served.schema.names == lake_rows.schema.names
        assert _sorted(served) == _sorted(lake_rows), version
    # a second refresh finds nothing new and copies nothing twice
    count = index.con.execute('SELECT count(*) FROM "t_deposits"').fetchone()[0]
    assert index.refresh(ondemand.indexed_tables(own_lake))["deposits"] == (before + 1, before + 1)
    assert index.con.execute('SELECT count(*) FROM "t_deposits"').fetchone()[0] == count


def test_an_assessment_as_of_a_past_moment_is_unchanged_by_later_deliveries(own_lake):
    period, keys, members = _rich_household(own_lake)
    as_of = dt.datetime.now(dt.UTC)
    first = ondemand.assess(own_lake, members, as_of=as_of)
    assert first.source == "serving_index"
    time.sleep(0.01)  # the correction is committed strictly after as_of
    _later_correction(own_lake, period, keys)
    # the index has not seen the correction yet: a look-up of "now" goes to the lake
    stale = ondemand.assess(own_lake, members)
    assert stale.source == "lake"
    index = serving.ServingIndex(ondemand.serving_index_path(own_lake))
    index.refresh(ondemand.indexed_tables(own_lake))
    ondemand._INDEXES.clear()
    again = ondemand.assess(own_lake, members, as_of=as_of)
    from_lake = ondemand.assess(own_lake, members, as_of=as_of, use_index=False)
    assert again.source == "serving_index" and from_lake.source == "lake"
    assert again.profile == first.profile == from_lake.profile
    assert again.reasons == first.reasons == from_lake.reasons
    assert again.table_versions == first.table_versions
    now = ondemand.assess(own_lake, members)
    assert now.source == "serving_index"
    latest = [r for r in now.profile if r["period"] == period][0]
    assert latest["assessment"] == "不符合"
    assert "DEPOSITS_OVER_LIMIT" in {r["reason_code"] for r in now.reasons if r["period"] == period}
    assert now.table_versions["deposits"] == first.table_versions["deposits"] + 1


def test_a_table_with_deletion_vectors_is_refused_with_a_clear_reason(tmp_path):
    path = tmp_path / "t"
    write_deltalake(str(path), pa.table({"person_key": [1, 2], "v": ["a", "b"]}))
    commit = {"protocol": {"minReaderVersion": 3, "minWriterVersion": 7, "readerFeatures": ["deletionVectors"],
                           "writerFeatures": ["deletionVectors"]}}
    (path / "_delta_log" / f"{1:020d}.json").write_text(json.dumps(commit) + "\n" +
                                                       json.dumps({"commitInfo": {"timestamp": 1}}) + "\n")
    index = serving.ServingIndex(tmp_path / "index.sqlite")
    with pytest.raises(serving.ServingIndexError) as err:
        index.refresh({"t": (path, True)})
    assert "deletionVectors" in str(err.value) and "不支持" in str(err.value)
    # the versions before the unsupported one stay served
    assert index.state()["t"] == (0, 0)
    assert index.rows("t", 0, [2]).to_pylist() == [{"person_key": 2, "v": "b"}]


def test_an_index_built_as_a_snapshot_serves_now_and_every_later_version(warehouse, tmp_path):
    """The bulk build (start="snapshot") holds each table as it stands, equal to the lake; a later
    delivery is added version by version; the versions before the snapshot are the lake's to serve."""
    _, _, lake_root = warehouse
    lake = tmp_path / "lake"
    shutil.copytree(lake_root, lake, ignore=shutil.ignore_patterns("_delta_log.lock", "serving"))
    index = serving.ServingIndex(tmp_path / "snapshot.sqlite")
    tables = ondemand.indexed_tables(lake)
    index.refresh(tables, start="snapshot")
    period, keys, _ = _rich_household(lake)
    now = DeltaTable(str(lake / "silver" / "deposits")).version()
    assert index.state()["deposits"] == (now, now)
    for name in ("deposits", "persons", "employment_income"):
        version = DeltaTable(str(tables[name][0])).version()
        lake_rows = DeltaTable(str(tables[name][0])).to_pyarrow_table()
        lake_rows = lake_rows.filter(pa.compute.is_in(lake_rows.column("person_key"), pa.array(keys)))
        assert _sorted(index.rows(name, version, keys)) == _sorted(lake_rows), name
    whole = DeltaTable(str(tables["policy_standards"][0])).to_pyarrow_table()
    assert _sorted(index.rows("policy_standards", index.state()["policy_standards"][1])) == _sorted(whole)
    _later_correction(lake, period, keys)
    assert index.refresh(tables, start="snapshot")["deposits"] == (now, now + 1)  # history from here on
    later = DeltaTable(str(lake / "silver" / "deposits")).to_pyarrow_table()
    later = later.filter(pa.compute.is_in(later.column("person_key"), pa.array(keys)))
    assert _sorted(index.rows("deposits", now + 1, keys)) == _sorted(later)
    assert _sorted(index.rows("deposits", now, keys)) != _sorted(later)  # the snapshot's own version kept
    source = ondemand.IndexSource(index, lake)
    assert not source.covers({"deposits": now - 1}) and source.covers({"deposits": now + 1})
