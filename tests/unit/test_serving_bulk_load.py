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
