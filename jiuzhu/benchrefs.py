"""The references of the household aggregation and the detection query (issue #11).

The same two queries, over the same rows, on three engines:

- DuckDB, the engine the marts are built on (``AGGREGATION_SQL`` is the counted-income model
  ``int_household_income_aggregated`` over its staging projections; ``DETECTION_SQL`` is
  ``detection_list``); a test checks that both give the marts' rows exactly, so the benchmark
  cannot drift from what the platform runs;
- PostgreSQL, the incumbent: a server of its own on localhost (``pgserver.BENCH_SETTINGS``), the
  tables loaded with COPY and the indexes a DBA would add on the join and grouping keys, ANALYZEd;
- plain pandas, the naive: merges and a group-by (the aggregation only).

Inputs are exported once from the built warehouse and the silver Delta tables to Parquet
(``export_inputs``); each engine then loads them into its own storage (untimed, reported) and runs
each query ``runs`` times into a new table (timed; the median is reported).
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from deltalake import DeltaTable

# Parquet files the queries read, with the PostgreSQL column types
TABLES = {
    "members": {"period": "text", "household_no": "text", "person_key": "bigint"},
    "renshe": {"person_key": "bigint", "period": "text", "employment_status": "text", "employer_type": "text",
               "wage_yuan": "double precision", "pension_yuan": "double precision",
               "unemployment_benefit_yuan": "double precision"},
    "taxable": {"person_key": "bigint", "period": "text", "income_type": "text", "income_yuan": "double precision"},
    "fund": {"person_key": "bigint", "period": "text", "employer_type": "text"},
    "cost": {"share": "double precision"},
    "roster": {"household_no": "text", "period": "text", "aid_category": "text", "aid_item": "text",
               "region_code": "text", "household_amount_yuan": "double precision"},
    "profile": {"household_no": "text", "period": "text", "assessment": "text", "failed_rules": "integer",
                "review_rules": "integer", "income_per_capita_yuan": "double precision",
                "standard_yuan": "double precision"},
}
# the indexes a DBA adds for these queries: the join keys of every feed, the grouping key
INDEXES = {
    "members": [("household_no", "period")],
    "renshe": [("person_key", "period")],
    "taxable": [("person_key", "period")],
    "fund": [("person_key", "period")],
    "roster": [("household_no", "period")],
    "profile": [("household_no", "period")],
}

# int_household_income_aggregated, written in the SQL both engines accept
AGGREGATION_SQL = """
SELECT m.household_no, m.period,
       count(*) AS members,
       coalesce(sum(r.wage_yuan), 0) AS wage_yuan,
       coalesce(sum(b.business_yuan), 0) AS business_yuan,
       coalesce(sum(r.pension_yuan), 0) AS pension_yuan,
       coalesce(sum(r.unemployment_benefit_yuan), 0) AS unemployment_benefit_yuan,
       coalesce(sum(r.wage_yuan), 0) * (1 - max(c.share)) + coalesce(sum(b.business_yuan), 0)
           + coalesce(sum(r.pension_yuan), 0) + coalesce(sum(r.unemployment_benefit_yuan), 0) AS counted_income_yuan,
       max(CASE WHEN r.employer_type = '机关事业单位' OR f.payroll = 1 THEN 1 ELSE 0 END) AS has_public_payroll,
       max(CASE WHEN r.employment_status = '2' THEN 1 ELSE 0 END) AS has_unemployed,
       max(CASE WHEN r.person_key IS NOT NULL THEN 1 ELSE 0 END) AS has_income_data
FROM members m
CROSS JOIN cost c
LEFT JOIN renshe r ON r.person_key = m.person_key AND r.period = m.period
LEFT JOIN (SELECT person_key, period, sum(income_yuan) AS business_yuan FROM taxable
           WHERE income_type = '经营所得' GROUP BY person_key, period) b
       ON b.person_key = m.person_key AND b.period = m.period
LEFT JOIN (SELECT person_key, period, max(CASE WHEN employer_type = '机关事业单位' THEN 1 ELSE 0 END) AS payroll
           FROM fund GROUP BY person_key, period) f
       ON f.person_key = m.person_key AND f.period = m.period
GROUP BY m.household_no, m.period
"""

# detection_list: the month's recipients whose assessment fails or needs review
DETECTION_SQL = """
WITH roll AS (
    SELECT household_no, period, min(aid_category) AS aid_category, min(aid_item) AS aid_item,
           min(substr(region_code, 1, 6)) AS county_code, max(household_amount_yuan) AS household_amount_yuan
    FROM roster WHERE aid_category IN ('dibao', 'tekun') GROUP BY household_no, period
)
SELECT r.period, r.county_code, r.household_no, r.aid_category, r.aid_item, r.household_amount_yuan,
       p.assessment, p.failed_rules, p.review_rules, p.income_per_capita_yuan, p.standard_yuan
FROM roll r JOIN profile p ON p.household_no = r.household_no AND p.period = r.period
WHERE p.assessment <> '符合'
"""

# the staging projections of the silver feeds (stg_renshe__…, stg_shuiwu__…, stg_gongjijin__…,
# stg_minzheng__…), over Arrow datasets of the Delta tables
_FEEDS = {
    "renshe": ("employment_income", ("SELECT person_key, period, employment_status, employer_type, "
               "cast(wage AS double) AS wage_yuan, cast(pension AS double) AS pension_yuan, "
               "cast(unemployment_benefit AS double) AS unemployment_benefit_yuan FROM src")),
    "taxable": ("taxable_income", ("SELECT person_key, period, income_type, cast(income_amount AS double) AS income_yuan "
                "FROM src")),
    "fund": ("housing_fund", "SELECT person_key, period, employer_type FROM src"),
    "roster": ("assistance_roster",
               ("SELECT household_no, period, CASE WHEN aid_item IN ('城市低保', '农村低保') THEN 'dibao' "
               "WHEN aid_item IN ('城市特困', '农村特困') THEN 'tekun' WHEN aid_item = '低保边缘' THEN 'margin' "
               "ELSE 'temporary' END AS aid_category, aid_item, region_code, "
               "cast(monthly_amount AS double) AS household_amount_yuan FROM src")),
    "cost": ("policy_asset_limits", "SELECT cast(value AS double) AS share FROM src WHERE limit_code = 'employment_cost_share'"),
}


def export_inputs(lake_root: Path, warehouse: Path, out: Path) -> dict[str, int]:
    """The queries' inputs as Parquet files in ``out``: the members and the profile from the built
    warehouse, the feeds from silver (with the staging models' projections). Returns row counts."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("SET autoinstall_known_extensions = false; SET autoload_known_extensions = false")
        for name, sql in (("members", "SELECT period, household_no, person_key FROM main.int_household_members_monthly_joined"),
                          ("profile", ("SELECT household_no, period, assessment, failed_rules, review_rules, "
                                      "income_per_capita_yuan, standard_yuan FROM main.household_profile"))):
            con.execute(f"COPY ({sql}) TO '{out / name}.parquet' (FORMAT parquet)")  # paths of our own folder
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false; SET autoload_known_extensions = false")
    for name, (table, sql) in _FEEDS.items():
        con.register("src", DeltaTable(str(Path(lake_root) / "silver" / table)).to_pyarrow_dataset())
        con.execute(f"COPY ({sql}) TO '{out / name}.parquet' (FORMAT parquet)")
        con.unregister("src")
    con.close()
    for name in TABLES:
        counts[name] = pq.ParquetFile(out / f"{name}.parquet").metadata.num_rows
    return counts


def _timed(fn, runs: int) -> tuple[float, list[float]]:
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - start)
    return statistics.median(walls), walls


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the engines ----------------------------------------------------------------------------------

def run_duckdb(inputs: Path, runs: int, keep: Path | None = None) -> dict:
    """Load the inputs into an in-memory DuckDB (as the marts' warehouse holds its tables), then
    run each query ``runs`` times into a new table."""
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false; SET autoload_known_extensions = false")
    start = time.perf_counter()
    for name in TABLES:
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{inputs / name}.parquet')")
    load = time.perf_counter() - start
    out = {}
    for label, sql in (("aggregation", AGGREGATION_SQL), ("detection", DETECTION_SQL)):
        def once(sql=sql, label=label):
            con.execute(f"CREATE OR REPLACE TABLE out_{label} AS {sql}")
        out[f"{label}_s"], out[f"{label}_runs"] = _timed(once, runs)
        out[f"{label}_rows"] = con.execute(f"SELECT count(*) FROM out_{label}").fetchone()[0]
        if keep is not None:
            con.execute(f"COPY out_{label} TO '{keep / label}-duckdb.parquet' (FORMAT parquet)")
    con.close()
    return {**out, "load_s": load, "peak_rss_mib": _peak_mib(), "engine": f"DuckDB {duckdb.__version__}"}


def run_postgres(inputs: Path, runs: int, keep: Path | None = None, dsn: str | None = None) -> dict:
    """Load the inputs into PostgreSQL (COPY, the indexes, ANALYZE), then run each query ``runs``
    times into a new unlogged table. ``dsn``: a server to use instead of a tuned one of our own."""
    import psycopg  # noqa: PLC0415 (the benchmark's only use of a PostgreSQL driver outside the business DB)

    from jiuzhu import pgserver  # noqa: PLC0415

    server = None
    if dsn is None:
        server = pgserver.ThrowAwayServer(pgserver.BENCH_SETTINGS)
        problem = server.start()
        if problem:
            server.stop()
            raise RuntimeError(problem)
        dsn = f"host={pgserver.HOST} port={server.port} user=postgres dbname=postgres"
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            settings = dict(conn.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name = ANY(%s)",
                [["shared_buffers", "work_mem", "max_parallel_workers_per_gather", "hash_mem_multiplier",
                  "effective_cache_size", "jit"]]).fetchall())
            start = time.perf_counter()
            for name, columns in TABLES.items():
                conn.execute(f"DROP TABLE IF EXISTS {name}")  # names from TABLES, not from input
                conn.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
                _copy_in(conn, name, inputs / f"{name}.parquet", list(columns))
            for name, keys in INDEXES.items():
                for cols in keys:
                    conn.execute(f"CREATE INDEX ON {name} ({', '.join(cols)})")
            conn.execute("VACUUM ANALYZE")
            load = time.perf_counter() - start
            table_bytes = conn.execute("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                                       "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                       "WHERE n.nspname = 'public' AND c.relkind = 'r'").fetchone()[0]
            out = {}
            for label, sql in (("aggregation", AGGREGATION_SQL), ("detection", DETECTION_SQL)):
                def once(sql=sql, label=label):
                    conn.execute(f"DROP TABLE IF EXISTS out_{label}")
                    conn.execute(f"CREATE UNLOGGED TABLE out_{label} AS {sql}")
                out[f"{label}_s"], out[f"{label}_runs"] = _timed(once, runs)
                out[f"{label}_rows"] = conn.execute(f"SELECT count(*) FROM out_{label}").fetchone()[0]
                out[f"{label}_plan"] = [r[0] for r in conn.execute(f"EXPLAIN {sql}").fetchall()]
                if keep is not None:
                    _copy_out(conn, f"out_{label}", keep / f"{label}-postgres.parquet")
            for name in TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {name}")
    finally:
        if server is not None:
            server.stop()
    return {**out, "load_s": load, "table_mib": round(table_bytes / 2**20), "settings": settings,
            "peak_rss_mib": _peak_mib(), "engine": f"PostgreSQL {version}"}


def _copy_in(conn, name: str, path: Path, columns: list[str]) -> None:
    """Stream a Parquet file into a table as CSV (the server needs no access to our files)."""
    source = pq.ParquetFile(path)
    with conn.cursor().copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)") as copy:
        for batch in source.iter_batches(batch_size=500_000, columns=columns):
            sink = pa.BufferOutputStream()
            pacsv.write_csv(batch, sink, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
            copy.write(sink.getvalue().to_pybytes())


def _copy_out(conn, table: str, path: Path) -> None:
    cur = conn.execute(f"SELECT * FROM {table}")
    names = [d.name for d in cur.description]
    rows = cur.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    pq.write_table(pa.table({n: list(c) for n, c in zip(names, columns, strict=True)}), path)


def run_pandas(inputs: Path, runs: int, keep: Path | None = None) -> dict:
    """The aggregation in plain pandas: the feeds pre-aggregated, merged onto the members, grouped."""
    import pandas as pd  # noqa: PLC0415

    start = time.perf_counter()
    frames = {name: pd.read_parquet(inputs / f"{name}.parquet") for name in ("members", "renshe", "taxable", "fund",
                                                                             "cost")}
    load = time.perf_counter() - start
    result: dict = {}

    def once():
        result["frame"] = pandas_aggregation(frames)

    median, walls = _timed(once, runs)
    if keep is not None:
        result["frame"].to_parquet(keep / "aggregation-pandas.parquet", index=False)
    return {"aggregation_s": median, "aggregation_runs": walls, "aggregation_rows": len(result["frame"]),
            "load_s": load, "peak_rss_mib": _peak_mib(), "engine": f"pandas {pd.__version__}"}


def pandas_aggregation(frames: dict):
    """AGGREGATION_SQL in pandas (left joins keep every member; sums of nothing are 0)."""
    import pandas as pd  # noqa: PLC0415

    keys = ["person_key", "period"]
    share = float(frames["cost"]["share"].max())
    taxable = frames["taxable"]
    business = (taxable[taxable["income_type"] == "经营所得"].groupby(keys, as_index=False)["income_yuan"].sum()
                .rename(columns={"income_yuan": "business_yuan"}))
    fund = frames["fund"].assign(payroll=(frames["fund"]["employer_type"] == "机关事业单位").astype("int64"))
    fund = fund.groupby(keys, as_index=False)["payroll"].max()
    renshe = frames["renshe"].assign(_found=1)
    joined = (frames["members"].merge(renshe, on=keys, how="left").merge(business, on=keys, how="left")
              .merge(fund, on=keys, how="left"))
    joined["public"] = ((joined["employer_type"] == "机关事业单位") | (joined["payroll"] == 1)).astype("int64")
    joined["unemployed"] = (joined["employment_status"] == "2").astype("int64")
    joined["found"] = joined["_found"].notna().astype("int64")
    out = joined.groupby(["household_no", "period"], as_index=False, sort=False).agg(
        members=("person_key", "size"), wage_yuan=("wage_yuan", "sum"), business_yuan=("business_yuan", "sum"),
        pension_yuan=("pension_yuan", "sum"), unemployment_benefit_yuan=("unemployment_benefit_yuan", "sum"),
        has_public_payroll=("public", "max"), has_unemployed=("unemployed", "max"), has_income_data=("found", "max"))
    out["counted_income_yuan"] = (out["wage_yuan"] * (1 - share) + out["business_yuan"] + out["pension_yuan"]
                                  + out["unemployment_benefit_yuan"])
    return pd.DataFrame(out)


ENGINES = {"duckdb": run_duckdb, "postgres": run_postgres, "pandas": run_pandas}


def child(argv: list[str]) -> None:
    """``engine inputs runs [keep]``: run one engine and print its figures as JSON (a bench child)."""
    engine, inputs, runs = argv[0], Path(argv[1]), int(argv[2])
    keep = Path(argv[3]) if len(argv) > 3 and argv[3] else None
    print(json.dumps(ENGINES[engine](inputs, runs, keep), ensure_ascii=False))


if __name__ == "__main__":
    child(sys.argv[1:])
