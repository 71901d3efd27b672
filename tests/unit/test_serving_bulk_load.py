"""The serving index's bulk load (start="snapshot") over small Delta tables: each distinct row is
stored once with every link, dates, booleans and missing columns come back as the lake gives them,
and a load that fails part-way claims nothing: the table is not served, and the next refresh builds
it whole, by either start."""

import datetime as dt
import subprocess

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from verification import serving

SCHEMA = pa.schema([("person_key", pa.int64()), ("v", pa.string()), ("d", pa.date32()), ("f", pa.bool_())])


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "t"
    write_deltalake(str(path), pa.table({"person_key": [1, 2, 2], "v": ["a", "b", "b"],
                                         "d": [dt.date(2026, 1, 31)] * 3, "f": [True, None, None]}, schema=SCHEMA))
    write_deltalake(str(path), pa.table({"person_key": [3], "v": ["c"]}), mode="append", schema_mode="merge")
    return path


def _sorted(rows: pa.Table) -> list[dict]:
    return sorted(rows.to_pylist(), key=lambda r: (r["person_key"], r["v"]))


def test_a_snapshot_holds_the_table_as_the_lake_gives_it(table, tmp_path):
    index = serving.ServingIndex(tmp_path / "index.sqlite")
    assert index.refresh({"t": (table, True)}, start="snapshot") == {"t": (None, 1)}
    lake = DeltaTable(str(table)).to_pyarrow_table()
    assert _sorted(index.rows("t", 1, [1, 2, 3])) == _sorted(lake)
    assert index.rows("t", 1, [2]).num_rows == 2  # the duplicate row stored once, served twice
    assert index.con.execute("SELECT count(*) FROM t_t").fetchone()[0] == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".bulk-")] == []  # the streams removed


@pytest.mark.parametrize("start", ["snapshot", "history"])
def test_a_bulk_load_that_fails_claims_nothing_and_the_next_refresh_builds_it_whole(table, tmp_path, monkeypatch,
                                                                                    start):
    index = serving.ServingIndex(tmp_path / "index.sqlite")
    real_run = subprocess.run

    def failing_append(args, **kwargs):
        assert args[1:3] == ["-m", "verification.sqlite_append"]
        return real_run([*args[:4], "no_such_table", *args[5:]], **kwargs)

    monkeypatch.setattr(serving.subprocess, "run", failing_append)
    with pytest.raises(serving.ServingIndexError) as err:
        index.refresh({"t": (table, True)}, start="snapshot")
    assert "批量写入服务索引失败" in str(err.value) and "no_such_table" in str(err.value)
    assert "t" not in index.state()  # not served: the on-demand path goes to the lake
    monkeypatch.setattr(serving.subprocess, "run", real_run)
    index.refresh({"t": (table, True)}, start=start)
    assert index.state()["t"] == ((1, 1) if start == "snapshot" else (0, 1))
    lake = DeltaTable(str(table)).to_pyarrow_table()
    assert _sorted(index.rows("t", 1, [1, 2, 3])) == _sorted(lake)
    assert index.con.execute("SELECT count(*) FROM files WHERE table_name = 't'").fetchone()[0] == 2


def test_a_reload_that_fails_part_way_leaves_the_earlier_content_served(table, tmp_path, monkeypatch):
    """A bulk load replaces a table in one transaction at its end: a failure in it (here while the
    indexes are built) rolls it back whole, and readers keep the earlier version."""
    index = serving.ServingIndex(tmp_path / "index.sqlite")
    index.refresh({"t": (table, True)}, start="snapshot")
    before = _sorted(index.rows("t", 1, [1, 2, 3]))
    write_deltalake(str(table), pa.table({"person_key": [4], "v": ["d"]}), mode="append", schema_mode="merge")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(index, "_create_indexes", broken)
    with pytest.raises(RuntimeError):
        index._snapshot("t", table, True)  # what a refresh does when the table's JSON commits were cleaned up
    assert index.state()["t"] == (1, 1)
    assert _sorted(index.rows("t", 1, [1, 2, 3])) == before
    assert index.con.execute("SELECT count(*) FROM t_t").fetchone()[0] == 3
    monkeypatch.undo()
    index._snapshot("t", table, True)  # the staging tables left behind are dropped and made again
    assert index.state()["t"] == (2, 2)
    assert _sorted(index.rows("t", 2, [1, 2, 3, 4])) == _sorted(DeltaTable(str(table)).to_pyarrow_table())
    names = {r[0] for r in index.con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not {n for n in names if n.endswith("__bulk")}


def test_typed_partition_values_are_loaded_as_the_lake_gives_them(tmp_path):
    path = tmp_path / "p"
    data = pa.table({"person_key": [1, 2, 3], "year": [2025, 2026, 2026],
                     "day": [dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 2, 1)]})
    write_deltalake(str(path), data, partition_by=["year", "day"])
    index = serving.ServingIndex(tmp_path / "index.sqlite")
    index.refresh({"p": (path, True)}, start="snapshot")
    assert _sorted_keys(index.rows("p", 0, [1, 2, 3])) == _sorted_keys(DeltaTable(str(path)).to_pyarrow_table())


def _sorted_keys(rows: pa.Table) -> list[dict]:
    return sorted(rows.to_pylist(), key=lambda r: r["person_key"])
