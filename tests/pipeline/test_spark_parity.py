"""Scale-out parity (issue #14): the same dbt project built on DuckDB and on a Spark-compatible
cluster (Sail in local-cluster mode, two workers, writing Delta) over the same tiny lake gives
identical marts — columns, types and rows — for a full build and for one incremental month; and
the comparison does fail when the engines disagree."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from jiuzhu import engines
from jiuzhu.errors import CodedError

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]
ROOT = Path(__file__).resolve().parents[2]
DBT = str(Path(sys.executable).parent / "dbt")


def _dbt(run: engines.DbtRun, command: list[str], out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([DBT, *run.args(command), "--profiles-dir", ".", "--target-path", str(out / "target"),
                           "--log-path", str(out / "logs")], cwd=ROOT / "dbt_project",
                          env={**os.environ, **run.env}, capture_output=True, text=True, timeout=600)


MANIFEST: list[Path] = []  # the DuckDB build's manifest (set by the spark_build fixture)


def _tables() -> list[str]:
    """Every model dbt materialises as a table (marts and intermediates), from the manifest."""
    manifest = json.loads(MANIFEST[0].read_text("utf-8"))
    return sorted(n["name"] for n in manifest["nodes"].values()
                  if n["resource_type"] == "model" and n["config"]["materialized"] != "view")


def _duckdb_tables(warehouse: Path) -> dict[str, pa.Table]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {name: con.sql(f'select * from main."{name}"').to_arrow_table() for name in _tables()}


def _differences(warehouse: Path, spark_dir: Path) -> dict[str, list]:
    expected = _duckdb_tables(warehouse)
    return {name: engines.compare_tables(table, engines.read_mart(spark_dir, name)) for name, table in expected.items()}


def _requests_mirrored(lake_root: Path, tmp: Path) -> int:
    """Verification requests in a business database (SQLite), mirrored into the lake's bronze as the
    business_mirror job does, so that the VF-7 statistics have rows on both engines."""
    from datetime import UTC, datetime, timedelta

    from jiuzhu.business import db, mirror
    from jiuzhu.business.models import VerificationRequest

    url = f"sqlite:///{tmp / 'business.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    start = datetime(2026, 10, 3, 1, 0, tzinfo=UTC)
    statuses = ("submitted", "received", "verified", "reviewed", "reported", "rejected")
    with db.session_factory(engine)() as session:
        for i in range(30):
            status = statuses[i % len(statuses)]
            created = start + timedelta(days=i, hours=i % 7)
            session.add(VerificationRequest(
                request_no=f"HD{created:%Y%m%d}{i:06d}", commissioning_unit=("街道办事处", "县民政局")[i % 2],
                aid_item=("dibao", "tekun", "temporary")[i % 3], purpose="核对", authorisation_ref=f"SQ-{i}",
                region_code=("510104000000", "510105000000", "513431000000")[i % 3], status=status,
                assessment=("符合", "不符合", "需人工复核")[i % 3] if status in ("verified", "reviewed", "reported") else None,
                submitted_by="case.a", created_at=created, updated_at=created + timedelta(hours=3 + i)))
        session.commit()
    mirror_dir = mirror.mirror_path(lake_root, "verification_requests")
    shutil.rmtree(mirror_dir, ignore_errors=True)
    copied = mirror.mirror(engine, lake_root, "verification_requests")["rows"]
    engine.dispose()
    return copied


@pytest.fixture(scope="module")
def spark_build(warehouse, tmp_path_factory, monkeypatch_module):
    """A copy of the tiny lake (with verification requests mirrored) built by dbt-duckdb and by the
    spark target (Sail, local-cluster, two workers)."""
    proc, _, lake_root = warehouse
    assert proc.returncode == 0, proc.stdout[-3000:]
    home = tmp_path_factory.mktemp("spark-home")
    monkeypatch_module.setenv("JIUZHU_SPARK_WAREHOUSE", str(home / "spark-warehouse"))
    monkeypatch_module.setenv("JIUZHU_SPARK_WORKERS", "2")
    monkeypatch_module.setenv("RUST_LOG", "info")  # Sail then logs the workers it starts
    lake_copy = home / "lake"
    shutil.copytree(lake_root, lake_copy)
    assert _requests_mirrored(lake_copy, home) == 30
    duck = home / "warehouse.duckdb"
    on_duckdb = _dbt(engines.dbt_run("duckdb", home=home, lake=lake_copy, warehouse=duck), ["build"], home / "duckdb")
    assert on_duckdb.returncode == 0, on_duckdb.stdout[-3000:]
    MANIFEST[:] = [home / "duckdb" / "target" / "manifest.json"]
    run = engines.dbt_run("spark", home=home, lake=lake_copy, warehouse=duck)
    built = _dbt(run, ["build"], home / "spark")
    return home, duck, lake_copy, built


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_every_model_and_dbt_test_passes_on_the_spark_target(spark_build):
    _, _, _, built = spark_build
    assert built.returncode == 0, built.stdout[-4000:]
    assert "ERROR=0 " in built.stdout and "Registered adapter: sail" in built.stdout
    # a cluster of two workers ran it (Sail logs each worker it starts)
    started = set(re.findall(r"starting worker (\d+)", built.stderr))
    assert started == {"1", "2"}


def test_every_mart_is_identical_on_duckdb_and_on_spark(spark_build):
    home, duck, _, built = spark_build
    assert built.returncode == 0, built.stdout[-4000:]
    spark_dir = home / "spark-warehouse"
    assert set(engines.written_marts(spark_dir)) == set(_tables())
    differences = _differences(duck, spark_dir)
    assert {name: d for name, d in differences.items() if d} == {}
    profile = engines.read_mart(spark_dir, "household_profile")
    assert profile.num_rows > 1000 and pc.sum(pc.equal(profile["assessment"], "不符合")).as_py() > 0
    assert pc.sum(engines.read_mart(spark_dir, "verification_statistics")["requests"]).as_py() == 30


def test_one_incremental_month_appends_on_spark_and_stays_identical(spark_build):
    """A month in the middle of the history rebuilt on both engines (a chunk of a history built in
    chunks, `engines.month_chunks`): Delta deletes that month only and appends it; the months after
    it stay, and every mart is still identical to DuckDB's."""
    home, duck, lake_root, built = spark_build
    assert built.returncode == 0, built.stdout[-4000:]
    spark_dir = home / "spark-warehouse"
    from deltalake import DeltaTable

    before = DeltaTable(str(spark_dir / "household_profile")).version()
    with duckdb.connect(str(duck), read_only=True) as con:
        months = [r[0] for r in con.sql("select distinct period from household_profile order by 1").fetchall()]
    middle = months[len(months) // 2]
    for engine in ("duckdb", "spark"):
        run = engines.dbt_run(engine, home=home, lake=lake_root, warehouse=duck, from_period=middle,
                              to_period=middle)
        proc = _dbt(run, ["run"], home / f"inc-{engine}")
        assert proc.returncode == 0, proc.stdout[-4000:]
    operations = [h["operation"] for h in DeltaTable(str(spark_dir / "household_profile")).history()]
    # the month was deleted and appended, not the table replaced
    assert DeltaTable(str(spark_dir / "household_profile")).version() == before + 2
    assert operations[:2] == ["WRITE", "DELETE"]
    differences = _differences(duck, spark_dir)
    assert {name: d for name, d in differences.items() if d} == {}


def _sample() -> pa.Table:
    return pa.table({"household_no": ["510100000000001", "510100000000002", "510100000000003"],
                     "members": pa.array([3, 2, 4], pa.int64()),
                     "income_per_capita_yuan": [794.03, 1200.5, 0.0]})


def test_the_comparison_catches_each_kind_of_difference():
    base = _sample()
    assert engines.compare_tables(base, base) == []
    # the same rows in another order, and float noise below the agreed precision, are equal
    noisy = base.take([2, 0, 1]).set_column(2, "income_per_capita_yuan", pa.array([0.0, 794.0300000001, 1200.5]))
    assert engines.compare_tables(base, noisy) == []
    one_fen = base.set_column(2, "income_per_capita_yuan", pa.array([794.02, 1200.5, 0.0]))
    assert [d.code for d in engines.compare_tables(base, one_fen)] == ["ROWS"]
    assert "income_per_capita_yuan" in engines.compare_tables(base, one_fen)[0].message_zh
    decimal_sum = base.set_column(1, "members", pa.array([3, 2, 4], pa.decimal128(38, 0)))
    assert [d.code for d in engines.compare_tables(base, decimal_sum)] == ["TYPES"]
    assert [d.code for d in engines.compare_tables(base, base.drop_columns(["members"]))] == ["COLUMNS"]
    moved = base.select(["members", "household_no", "income_per_capita_yuan"])  # a partition column moved
    assert [d.code for d in engines.compare_tables(base, moved)] == ["COLUMNS"]
    doubled = pa.concat_tables([base, base.slice(0, 1)])
    assert [d.code for d in engines.compare_tables(base, doubled)] == ["ROW_COUNT", "ROWS"]
    # a row counted twice in place of another: same row count, different multiset
    swapped = pa.concat_tables([base.slice(0, 2), base.slice(0, 1)])
    assert [d.code for d in engines.compare_tables(base, swapped)] == ["ROWS"]
    # the message names columns, never values (marts carry IDs)
    assert "510100000000003" not in engines.compare_tables(base, swapped)[0].message_zh


def test_a_non_portable_model_is_caught_by_the_parity_check(spark_build, tmp_path, monkeypatch):
    """The native round() of a double differs between the engines on exact halves (DuckDB rounds
    the binary value, Spark the decimal text); the project's round_half_up macro does not."""
    import pyspark
    from deltalake import write_deltalake

    # in a pytest-xdist worker __main__ has no file, which pyspark's Connect client takes for a
    # doctest run: it then looks for a Spark installation and exits without SPARK_HOME
    monkeypatch.setenv("SPARK_HOME", str(Path(pyspark.__file__).parent))
    from pysail.spark import SparkConnectServer
    from pyspark.sql import SparkSession

    _, duck, _, _ = spark_build
    native = "select household_no, period, round(counted_income_yuan / members, 2) as per_capita from t"
    portable = ("select household_no, period, (floor((counted_income_yuan / members) * 100 + 0.5 + 1e-6) / 100)"
                " as per_capita from t")
    with duckdb.connect(str(duck), read_only=True) as con:
        source = con.sql("select household_no, period, counted_income_yuan, members from int_household_income_aggregated"
                         " where members > 0").to_arrow_table()
    write_deltalake(str(tmp_path / "t"), source)
    con = duckdb.connect()
    con.register("t", source)
    server = SparkConnectServer(ip="127.0.0.1", port=0)
    server.start(background=True)
    try:
        host, port = server.listening_address
        spark = SparkSession.builder.remote(f"sc://{host}:{port}").getOrCreate()
        try:
            spark.sql(f"create table t using delta location '{tmp_path / 't'}'")
            results = {name: engines.compare_tables(con.sql(sql).to_arrow_table(), spark.sql(sql).toArrow())
                       for name, sql in (("native", native), ("portable", portable))}
        finally:
            spark.stop()
    finally:
        server.stop()
    assert [d.code for d in results["native"]] == ["ROWS"]
    assert results["portable"] == []


def test_the_engine_setting_is_checked(monkeypatch, tmp_path):
    assert engines.engine_name("DuckDB ") == "duckdb"
    with pytest.raises(CodedError) as err:
        engines.engine_name("trino")
    assert err.value.code == "ENGINE_UNKNOWN" and "trino" in err.value.message
    monkeypatch.setenv("JIUZHU_SPARK_WORKERS", "0")
    with pytest.raises(CodedError) as err:
        engines.dbt_run("spark", home=tmp_path, lake=tmp_path, warehouse=tmp_path / "w.duckdb")
    assert err.value.code == "ENGINE_WORKERS_INVALID"
    monkeypatch.setenv("JIUZHU_SPARK_WORKERS", "3")
    run = engines.dbt_run("spark", home=tmp_path, lake=tmp_path, warehouse=tmp_path / "w.duckdb", from_period="2026-10")
    assert run.env["SAIL_CLUSTER__WORKER_INITIAL_COUNT"] == "3" and run.env["SAIL_MODE"] == "local-cluster"
    assert run.variables == {"from_period": "2026-10", "spark_written_marts": []}
    # no business mirror in this lake: the models on it are left out on Sail's cluster
    assert run.args(["build"])[:6] == ["build", "--no-populate-cache", "--exclude",
                                       "source:business.verification_requests+", "--target", "spark"]
    duck = engines.dbt_run("duckdb", home=tmp_path, lake=tmp_path, warehouse=tmp_path / "w.duckdb")
    assert duck.target == "duckdb" and duck.env["JIUZHU_WAREHOUSE"] == str(tmp_path / "w.duckdb")


def test_a_history_is_split_into_ordered_chunks_of_months(monkeypatch):
    months = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]
    assert engines.month_chunks(months, 2) == [("0000-00", "2025-02"), ("2025-03", "2025-04"), ("2025-05", "9999-99")]
    assert engines.month_chunks(list(reversed(months)) + ["2025-03"], 5) == [("0000-00", "9999-99")]
    assert engines.month_chunks(months, 1)[1:3] == [("2025-02", "2025-02"), ("2025-03", "2025-03")]
    with pytest.raises(CodedError) as err:
        engines.month_chunks(months, 0)
    assert err.value.code == "MONTHS_PER_RUN_INVALID"
    monkeypatch.setenv("JIUZHU_MONTHS_PER_RUN", "六")
    with pytest.raises(CodedError) as err:
        engines.months_per_run()
    assert err.value.code == "MONTHS_PER_RUN_INVALID" and "六" in err.value.message
    monkeypatch.setenv("JIUZHU_MONTHS_PER_RUN", "6")
    assert engines.months_per_run() == 6
    run = engines.dbt_run("duckdb", home=Path("h"), lake=Path("l"), warehouse=Path("w"), from_period="2025-03",
                          to_period="2025-04")
    assert run.variables == {"from_period": "2025-03", "to_period": "2025-04"}


def test_dagster_builds_and_publishes_the_marts_through_the_spark_engine(spark_build, tmp_path, monkeypatch):
    """`make demo ENGINE=spark`: the dbt assets run on the cluster and the gold tables the screens
    read are the spark target's marts, identical to DuckDB's; no warehouse file is written. The
    history is built in two chunks of months (JIUZHU_MONTHS_PER_RUN) and still equals DuckDB's
    build of it at once."""
    import dagster as dg

    from jiuzhu import lake
    from pipelines.defs.foundation.resources import PlatformPaths
    from pipelines.defs.marts import assets as marts

    _, duck, lake_root, _ = spark_build
    shutil.copytree(lake_root, tmp_path / "lake")
    monkeypatch.setenv("JIUZHU_HOME", str(tmp_path))
    monkeypatch.setenv("JIUZHU_ENGINE", "spark")
    monkeypatch.setenv("JIUZHU_SPARK_WAREHOUSE", str(tmp_path / "spark-warehouse"))
    months = engines.delivered_months(tmp_path / "lake")
    monkeypatch.setenv("JIUZHU_MONTHS_PER_RUN", str((len(months) + 1) // 2))
    built = dg.materialize([marts.dbt_models], partition_key="2024-11-01",
                           resources={"paths": PlatformPaths(), "dbt": marts.DBT_RESOURCE})
    assert built.success
    from deltalake import DeltaTable

    # newest first: the first chunk created the table, the second appended its months (its DELETE of
    # those months found no row, and Delta commits nothing for it)
    history = [h["operation"] for h in DeltaTable(str(tmp_path / "spark-warehouse" / "household_profile")).history()]
    assert history == ["WRITE", "CREATE TABLE"], history
    published = dg.materialize(marts.PUBLISH_ASSETS, resources={"paths": PlatformPaths()})
    assert published.success
    assert not (tmp_path / "warehouse.duckdb").exists()
    expected = _duckdb_tables(duck)
    for asset in marts.PUBLISH_ASSETS:
        _, area, model = asset.key.path
        gold = lake.read(lake.table_path(tmp_path / "lake", "gold", area, model))
        assert engines.compare_tables(expected[model], gold) == [], model


def test_models_on_an_empty_business_mirror_are_left_out_on_spark_and_not_published(spark_build, tmp_path,
                                                                                      monkeypatch):
    """Before any verification request exists the mirror is empty; Sail's cluster cannot write a
    table computed from an empty input, so the spark target leaves those models out (and the
    gold publication skips them) while every other mart is built and published."""
    import dagster as dg

    from jiuzhu import lake
    from jiuzhu.business import mirror
    from pipelines.defs.foundation.resources import PlatformPaths
    from pipelines.defs.marts import assets as marts

    _, _, lake_copy, _ = spark_build
    shutil.copytree(lake_copy, tmp_path / "lake")
    shutil.rmtree(mirror.mirror_path(tmp_path / "lake", "verification_requests"))
    mirror.ensure_exists(tmp_path / "lake", "verification_requests")
    monkeypatch.setenv("JIUZHU_HOME", str(tmp_path))
    monkeypatch.setenv("JIUZHU_ENGINE", "spark")
    monkeypatch.setenv("JIUZHU_SPARK_WAREHOUSE", str(tmp_path / "spark-warehouse"))
    run = engines.dbt_run("spark", home=tmp_path, lake=tmp_path / "lake", warehouse=tmp_path / "w.duckdb")
    assert "source:business.verification_requests+" in run.flags
    assert dg.materialize([marts.dbt_models], partition_key="2024-11-01",
                          resources={"paths": PlatformPaths(), "dbt": marts.DBT_RESOURCE}).success
    written = set(engines.written_marts(tmp_path / "spark-warehouse"))
    assert "verification_statistics" not in written and "household_profile" in written
    assert dg.materialize(marts.PUBLISH_ASSETS, resources={"paths": PlatformPaths()}).success
    gold = {a.key.path[2] for a in marts.PUBLISH_ASSETS
            if lake.exists(lake.table_path(tmp_path / "lake", "gold", a.key.path[1], a.key.path[2]))}
    assert gold == {a.key.path[2] for a in marts.PUBLISH_ASSETS} - {"verification_statistics"}


def test_the_bench_builds_sails_history_in_chunks_and_runs_the_data_tests(spark_build, tmp_path):
    """`jiuzhu bench --stages marts-spark` with JIUZHU_MONTHS_PER_RUN: every chunk but the last is a
    `dbt run`, the last a `dbt build` whose data tests see the whole history (a separate `dbt test`
    on a new Sail session found no staging views and failed the medium run); the marts it leaves
    hold every household-month DuckDB built; the child raises if any run, or the one-month rebuild
    after them, fails."""
    from jiuzhu import bench

    _, duck, lake_root, _ = spark_build
    shutil.copytree(lake_root, tmp_path / "lake")
    months = engines.delivered_months(tmp_path / "lake")
    built = bench._marts_on(tmp_path / "lake", tmp_path / "home", "spark", months_per_run=(len(months) + 1) // 2)
    assert built["runs"] == 2 and len(built["chunk_s"]) == 2
    with duckdb.connect(str(duck), read_only=True) as con:
        assert built["rows"] == con.sql("select count(*) from household_profile").fetchall()[0][0]
