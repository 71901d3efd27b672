"""The benchmark's references run the marts' own aggregation and detection: on the tiny province,
DuckDB, PostgreSQL (a tuned throw-away server) and pandas each give the rows of the marts
``int_household_income_aggregated`` and ``detection_list`` — so a ratio in docs/benchmarks.md
compares the same work."""

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from jiuzhu import benchrefs, pgserver

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]

AGG_KEYS = ["household_no", "period"]
DET_KEYS = ["period", "household_no"]


@pytest.fixture(scope="module")
def inputs(warehouse, tmp_path_factory):
    _, wh, lake_root = warehouse
    out = tmp_path_factory.mktemp("refs")
    counts = benchrefs.export_inputs(lake_root, wh, out / "inputs")
    with duckdb.connect(str(wh), read_only=True) as con:
        marts = {"aggregation": pl.from_arrow(con.sql("select * from main.int_household_income_aggregated").to_arrow_table()),
                 "detection": pl.from_arrow(con.sql("select * from main.detection_list").to_arrow_table())}
    return out / "inputs", counts, marts, out


def _same(got: pl.DataFrame, want: pl.DataFrame, keys: list[str], exact: bool) -> None:
    got = got.select(want.columns)
    casts = {c: want.schema[c] for c in want.columns if got.schema[c] != want.schema[c]}
    got = got.cast(casts)
    assert_frame_equal(got.sort(keys), want.sort(keys), check_exact=exact, rel_tol=1e-12, abs_tol=1e-9)


def test_inputs_are_the_marts_rows(inputs):
    _, counts, marts, _ = inputs
    assert counts["members"] > 10_000 and counts["renshe"] > 0 and counts["cost"] == 1
    assert counts["profile"] == marts["aggregation"].height  # one profile row per household-month


def test_duckdb_runs_the_marts_aggregation_and_detection_exactly(inputs):
    path, _, marts, out = inputs
    keep = out / "duckdb"
    keep.mkdir()
    result = benchrefs.run_duckdb(path, 1, keep)
    assert result["aggregation_rows"] == marts["aggregation"].height
    assert result["detection_rows"] == marts["detection"].height > 0
    _same(pl.read_parquet(keep / "aggregation-duckdb.parquet"), marts["aggregation"], AGG_KEYS, exact=True)
    _same(pl.read_parquet(keep / "detection-duckdb.parquet"), marts["detection"], DET_KEYS, exact=True)


def test_postgres_gives_the_same_rows_on_a_tuned_server(inputs):
    path, _, marts, out = inputs
    keep = out / "postgres"
    keep.mkdir()
    try:
        result = benchrefs.run_postgres(path, 1, keep)
    except RuntimeError as exc:
        pytest.skip(f"没有可启动的 PostgreSQL:{exc}")
    assert result["engine"].startswith("PostgreSQL")
    assert result["settings"]["max_parallel_workers_per_gather"] == pgserver.BENCH_SETTINGS["max_parallel_workers_per_gather"]
    assert any("Index" in line or "Hash" in line for line in result["aggregation_plan"])
    _same(pl.read_parquet(keep / "aggregation-postgres.parquet"), marts["aggregation"], AGG_KEYS, exact=False)
    _same(pl.read_parquet(keep / "detection-postgres.parquet"), marts["detection"], DET_KEYS, exact=False)


def test_pandas_gives_the_same_aggregation(inputs):
    path, _, marts, out = inputs
    keep = out / "pandas"
    keep.mkdir()
    benchrefs.run_pandas(path, 1, keep)
    _same(pl.read_parquet(keep / "aggregation-pandas.parquet"), marts["aggregation"], AGG_KEYS, exact=False)


def test_the_comparison_finds_a_different_aggregation(inputs):
    """A reference that computed something else (here: the wage not reduced by the employment cost)
    is caught: the parity above can fail."""
    path, _, marts, _ = inputs
    frames = {n: pl.read_parquet(path / f"{n}.parquet").to_pandas() for n in ("members", "renshe", "taxable", "fund",
                                                                            "cost")}
    frames["cost"]["share"] = 0.0
    wrong = pl.from_pandas(benchrefs.pandas_aggregation(frames))
    with pytest.raises(AssertionError):
        _same(wrong, marts["aggregation"], AGG_KEYS, exact=False)
