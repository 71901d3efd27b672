"""Benchmarks (``jiuzhu bench``): each stage run in its own process, repeated, reported as the
median and spread of wall time, rows per second and peak memory, with ratios to references
measured in the same run, in docs/benchmarks.md and JSON.

Never a timed assertion in a test: numbers live here. Stages are added as they land. Each stage's
code runs in a child process (its own peak memory; deltalake/DuckDB exit aborts cannot hide). What the
stages build on is made once per scale and shared (``Workspace``): the province, the lake and the
DuckDB warehouse of the marts.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jiuzhu import dbtproject

_GENERATE = """
import json, resource, sys
from jiuzhu import synth
counties = sys.argv[4].split(",") if len(sys.argv) > 4 else None
summary = synth.generate(sys.argv[1], int(sys.argv[2]), sys.argv[3], counties=counties)
print(json.dumps({"persons": summary["persons"], "rows": summary["delivered_rows"],
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

_INGEST = """
import json, resource, sys, datetime as dt
from pathlib import Path
from exchange import run
reports = run.run_all(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), today=dt.date(2026, 11, 29))
print(json.dumps({"rows": sum(r.delivered for r in reports.values()),
                  "conformed": sum(r.conformed_rows for r in reports.values()),
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

# The ceiling: DuckDB reading every delivered file once (XLSX through openpyxl: DuckDB cannot read
# it without an extension, which cannot be installed here).
_READ_ONCE = """
import json, resource, sys
from pathlib import Path
import duckdb
from exchange.readers import read_raw
con = duckdb.connect()
rows = 0
for manifest in sorted(Path(sys.argv[1]).rglob("manifest.json")):
    m = json.loads(manifest.read_text("utf-8"))
    for f in m["files"]:
        p = str(manifest.parent / f["name"])
        if f["records"] == 0:
            continue
        if m["format"] == "csv":
            enc = {"gbk": "gbk", "gb18030": "gb18030"}.get(m["encoding"] or "", "utf-8")
            rows += con.execute("select count(*) from read_csv(?, all_varchar=true, encoding=?)", [p, enc]).fetchone()[0] if enc == "utf-8" else \\
                len(open(p, encoding=enc).read().splitlines()) - 1
        elif m["format"] == "jsonl":
            rows += con.execute("select count(*) from read_json(?, format='newline_delimited')", [p]).fetchone()[0]
        elif m["format"] == "parquet":
            rows += con.execute("select count(*) from read_parquet(?)", [p]).fetchone()[0]
        else:
            rows += read_raw(Path(p), "xlsx").num_rows
print(json.dumps({"rows": rows, "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _child(code: str, *args: str) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], check=False, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed: {proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout.strip().splitlines()[-1])


_DONE = ".bench-complete"  # written when a kept province or lake was made to the end


class Workspace:
    """Provinces, lakes and warehouses made once per scale and shared by the stages of one run.
    Provinces and lakes in a kept work directory (``--workdir``) serve later runs too (a medium
    province costs ~15 min to generate and ~1 h to ingest here), found by the marker written when
    each was complete; a warehouse serves only the run that built it (the dbt project may have
    changed since)."""

    def __init__(self, root: Path):
        self.root = root
        self.provinces: dict[str, Path] = {}
        self.lakes: dict[str, Path] = {}
        self.warehouses: dict[str, Path] = {}
        for marker in root.glob(f"*/{_DONE}"):
            kind, scale = marker.read_text("utf-8").split()
            (self.provinces if kind == "province" else self.lakes)[scale] = (
                marker.parent if kind == "province" else marker.parent / "lake")

    @staticmethod
    def mark(path: Path, kind: str, scale: str) -> None:
        (path / _DONE).write_text(f"{kind} {scale}\n", "utf-8")

    def lake(self, scale: str) -> Path:
        """A lake with the province ingested (kept from the ingest stage, or made untimed)."""
        if scale not in self.lakes:
            root = self.root / f"lake-{scale}-kept"
            shutil.rmtree(root, ignore_errors=True)
            _child(_INGEST, str(self.province(scale) / "inbox"), str(root / "lake"), str(root / "receipts"))
            self.mark(root, "lake", scale)
            self.lakes[scale] = root / "lake"
        return self.lakes[scale]

    def province(self, scale: str) -> Path:
        if scale not in self.provinces:
            out = self.root / f"province-{scale}"
            shutil.rmtree(out, ignore_errors=True)
            _child(_GENERATE, scale, "20241101", str(out))
            self.mark(out, "province", scale)
            self.provinces[scale] = out
        return self.provinces[scale]

    def warehouse(self, scale: str) -> Path:
        """The DuckDB warehouse of the marts built in full over the scale's lake: kept from the marts
        stage's first run (its full build and the month rebuilt after it), or built untimed here
        (``dbt run``) when no stage of this run built it, or the one ``JIUZHU_BENCH_WAREHOUSE_<SCALE>``
        names (built over the same lake beforehand; a medium build costs ~15 min). Read it, never
        change it: a stage that rebuilds part of it works on a copy (``warehouse_copy``)."""
        kept = os.environ.get(f"JIUZHU_BENCH_WAREHOUSE_{scale.upper()}")
        if kept and scale not in self.warehouses:  # built from this scale's lake by an earlier run: read only
            return Path(kept)
        if scale not in self.warehouses:
            home = self.root / f"warehouse-{scale}"
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir(parents=True)
            _child(_DBT_WAREHOUSE, str(self.lake(scale)), str(home), str(_DBT_DIR))
            self.warehouses[scale] = home / _WAREHOUSE_FILE
        return self.warehouses[scale]

    def keep_warehouse(self, scale: str, built: Path) -> None:
        """Keep a warehouse a stage built in full (``built``, before its folder is removed)."""
        home = self.root / f"warehouse-{scale}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        for suffix in ("", ".wal"):
            if Path(f"{built}{suffix}").exists():
                shutil.move(f"{built}{suffix}", f"{home / _WAREHOUSE_FILE}{suffix}")
        self.warehouses[scale] = home / _WAREHOUSE_FILE

    def drop_warehouses(self) -> None:
        for warehouse in self.warehouses.values():
            shutil.rmtree(warehouse.parent, ignore_errors=True)
        self.warehouses.clear()

    def warehouse_copy(self, scale: str, folder: Path) -> Path:
        """A file copy of the scale's warehouse in ``folder``, for a stage that changes it."""
        source = self.warehouse(scale)
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / _WAREHOUSE_FILE  # the same file name: DuckDB names the catalog the views refer to after it
        for suffix in ("", ".wal"):
            if Path(f"{source}{suffix}").exists():
                shutil.copyfile(f"{source}{suffix}", f"{copy}{suffix}")
        return copy


def _run_generate(scale: str, run_no: int, ws: Workspace, counties: list[str] | None = None) -> dict:
    out = ws.root / f"gen-{scale}-{run_no}"
    shutil.rmtree(out, ignore_errors=True)
    args = [scale, str(20241101 + run_no), str(out)] + ([",".join(counties)] if counties else [])
    wall, result = _child(_GENERATE, *args)
    size = sum(p.stat().st_size for p in (out / "inbox").rglob("*") if p.is_file())
    if run_no == 0 and not counties and scale not in ws.provinces:
        ws.mark(out, "province", scale)
        ws.provinces[scale] = out  # reused by later stages of this run
    else:
        shutil.rmtree(out, ignore_errors=True)
    return {"wall_s": wall, "persons": result["persons"], "rows": result["rows"],
            "peak_rss_mib": result["peak_rss_kib"] / 1024, "inbox_bytes": size}


def _run_largest_county(scale: str, run_no: int, ws: Workspace) -> dict:
    """The generator's memory is bounded by its largest county part: generate only the largest
    county at the given scale's density (at province scale: its 2.7 million people)."""
    from jiuzhu import synth  # noqa: PLC0415

    targets = synth.county_targets(synth.SCALES[scale])
    largest = max(targets, key=targets.get)
    return _run_generate(scale, run_no, ws, [largest])


def _run_ingest(scale: str, run_no: int, ws: Workspace) -> dict:
    """Inbox → bronze, quarantine, silver for every department, against DuckDB reading the files once."""
    inbox = ws.province(scale) / "inbox"
    lake = ws.root / f"lake-{scale}-{run_no}"
    shutil.rmtree(lake, ignore_errors=True)
    ceiling_wall, ceiling = _child(_READ_ONCE, str(inbox))
    wall, result = _child(_INGEST, str(inbox), str(lake / "lake"), str(lake / "receipts"))
    if run_no == 0 and scale not in ws.lakes:
        ws.mark(lake, "lake", scale)
        ws.lakes[scale] = lake / "lake"  # the marts stage builds on it
    else:
        shutil.rmtree(lake, ignore_errors=True)
    return {"wall_s": wall, "rows": result["rows"], "persons": 0, "peak_rss_mib": result["peak_rss_kib"] / 1024,
            "reference": {"name": "DuckDB reads the delivered files once", "wall_s": ceiling_wall,
                          "rows": ceiling["rows"]}}


_POLICY = """
from jiuzhu import lake, policy, regions
from jiuzhu.business import mirror
def ensure_policy(lake_root):
    silver = lake_root / "silver"
    if not lake.exists(silver / "regions"):
        lake.write(silver / "regions", regions.to_arrow())
        lake.write(silver / "policy_standards", policy.standards_arrow())
        lake.write(silver / "policy_asset_limits", policy.asset_limits_arrow())
    mirror.ensure_exists(lake_root, "verification_requests")
"""

_DBT_DIR = dbtproject.DBT_DIR
_WAREHOUSE_FILE = "warehouse.duckdb"  # every warehouse and copy bears this name (the children below too)

# The warehouse the later stages read when no stage of the run built the marts: every model built in
# full by `dbt run`, untimed (the marts stage's `dbt build` also runs the data tests, which write nothing).
_DBT_WAREHOUSE = _POLICY + """
import json, os, subprocess, sys
from pathlib import Path
from jiuzhu import engines
lake_root, home, dbt_dir = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
ensure_policy(lake_root)
run = engines.dbt_run("duckdb", home=home, lake=lake_root, warehouse=home / "warehouse.duckdb")
proc = subprocess.run([str(Path(sys.executable).parent / "dbt"), *run.args(["run"]), "--profiles-dir", ".",
                       "--target-path", str(home / "target"), "--log-path", str(home / "logs")], cwd=dbt_dir,
                      env={**os.environ, **run.env}, capture_output=True, text=True)
if proc.returncode:
    raise SystemExit(proc.stdout[-3000:])
print(json.dumps({"ok": True}))
"""


def _run_marts(scale: str, run_no: int, ws: Workspace) -> dict:
    """The full dbt build of the marts, against rebuilding one month (the monthly increment). The
    first run's warehouse is kept for the later stages (``Workspace.warehouse``)."""
    keep = run_no == 0 and scale not in ws.warehouses
    result = _marts_on(ws.lake(scale), ws.root / f"marts-duckdb-{scale}-{run_no}", "duckdb",
                       (lambda built: ws.keep_warehouse(scale, built)) if keep else None)
    return {"wall_s": result["full_s"], "rows": result["rows"], "persons": 0, "peak_rss_mib": result["peak_rss_kib"] / 1024,
            "reference": {"name": "one month rebuilt (incremental)", "wall_s": result["incremental_s"], "rows": 0}}


# The marts on both engines (issue #14): the same dbt project built in full (models and tests) and
# one month rebuilt, on the Spark-compatible cluster (Sail, local-cluster, JIUZHU_SPARK_WORKERS
# workers) against DuckDB in the same run.
_DBT_ENGINE = _POLICY + """
import json, os, resource, subprocess, sys, time
from pathlib import Path
from jiuzhu import engines
lake_root, home, engine, dbt_dir = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
months_per_run = int(sys.argv[5])
ensure_policy(lake_root)
os.environ["JIUZHU_SPARK_WAREHOUSE"] = str(home / "spark-warehouse")
warehouse = home / "warehouse.duckdb"
dbt = str(Path(sys.executable).parent / "dbt")
def run_dbt(command, from_period=None, to_period=None):
    run = engines.dbt_run(engine, home=home, lake=lake_root, warehouse=warehouse, from_period=from_period,
                          to_period=to_period)
    start = time.perf_counter()
    proc = subprocess.run([dbt, *run.args(command), "--profiles-dir", ".", "--target-path", str(home / "target"),
                           "--log-path", str(home / "logs")], cwd=dbt_dir, env={**os.environ, **run.env},
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stdout[-3000:])
    return time.perf_counter() - start
if months_per_run:  # the history in chunks of months, in order; the last chunk's build runs the data tests
    # (in the same invocation: a new Spark session's catalog would not hold the staging views)
    chunks = engines.month_chunks(engines.delivered_months(lake_root), months_per_run)
    chunk_s = [run_dbt(["run"], first, last) for first, last in chunks[:-1]] + [run_dbt(["build"], *chunks[-1])]
else:
    chunks = [("0000-00", "9999-99")]
    chunk_s = [run_dbt(["build"])]
full = sum(chunk_s)
if engine == "spark":
    import polars as pl
    profile = pl.from_arrow(engines.read_mart(home / "spark-warehouse", "household_profile").select(["period"]))
    rows, last = profile.height, profile["period"].max()
else:
    import duckdb
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows, last = con.sql("select count(*), max(period) from household_profile").fetchall()[0]
incremental = run_dbt(["run"], from_period=last)
print(json.dumps({"full_s": full, "incremental_s": incremental, "rows": rows, "runs": len(chunks),
                  "chunk_s": [round(s, 1) for s in chunk_s],
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def _marts_on(lake_root: Path, home: Path, engine: str, keep=None, months_per_run: int = 0) -> dict:
    """The marts built in full and one month rebuilt on ``engine``, in a child process and a fresh
    home; ``keep`` (DuckDB) is handed the built warehouse file before the home is removed. With
    ``months_per_run`` the history is built in chunks of that many months (``engines.month_chunks``)."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    try:
        result = _child(_DBT_ENGINE, str(lake_root), str(home), engine, str(_DBT_DIR), str(months_per_run))[1]
        if keep is not None:
            keep(home / _WAREHOUSE_FILE)
        return result
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _run_marts_spark(scale: str, run_no: int, ws: Workspace) -> dict:
    """The marts on the Spark-compatible engine, against DuckDB's build of the same lake."""
    from jiuzhu import engines  # noqa: PLC0415

    lake_root = ws.lake(scale)
    keep = run_no == 0 and scale not in ws.warehouses
    duck = _marts_on(lake_root, ws.root / f"marts-duckdb-{scale}-{run_no}", "duckdb",
                     (lambda built: ws.keep_warehouse(scale, built)) if keep else None)
    spark = _marts_on(lake_root, ws.root / f"marts-spark-{scale}-{run_no}", "spark",
                      months_per_run=engines.months_per_run())
    return {"wall_s": spark["full_s"], "rows": spark["rows"], "persons": 0,
            "peak_rss_mib": spark["peak_rss_kib"] / 1024,
            "detail": {"engine": "Sail (pysail) local-cluster", "workers": engines.spark_workers(),
                       "spark_dbt_runs": spark["runs"], "months_per_run": engines.months_per_run() or "all",
                       "spark_chunk_s": spark["chunk_s"],
                       "spark_incremental_s": round(spark["incremental_s"], 2),
                       "duckdb_full_s": round(duck["full_s"], 2), "duckdb_incremental_s": round(duck["incremental_s"], 2),
                       "duckdb_peak_rss_mib": round(duck["peak_rss_kib"] / 1024)},
            "reference": {"name": "DuckDB (dbt-duckdb) building the same marts", "wall_s": duck["full_s"],
                          "rows": duck["rows"]}}

# On-demand verification: the served assessments published from the run's warehouse and the serving
# index built (a bulk snapshot of every table), then one household at a time (p50/p95 over N random
# households, after a warm-up) as a verification asks (latest month: served when the request names a
# registered household on the versions the marts were built from), against computing the same
# requests with the compiled models (a sample of 200, checked equal to the served rows) and the lake
# path without the index (a sample), and the PDF rendering.
_VERIFY = _POLICY + """
import json, os, random, resource, statistics, sys, time, datetime as dt
from pathlib import Path
import polars as pl
from deltalake import DeltaTable
from verification import ondemand, serving, served, report, signing
os.environ.setdefault("JIUZHU_ALLOW_DEMO_KEY", "1")
lake_root, n, work, warehouse = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
lake_n = int(sys.argv[5])
ensure_policy(lake_root)
versions = ondemand.resolve_versions(lake_root, None, use_index=False)  # what the warehouse was built from
t = time.perf_counter()
served.publish_from_warehouse(lake_root, warehouse, served.build_record(versions, "0000-00"))
publish_s = time.perf_counter() - t
t = time.perf_counter()
index = serving.ServingIndex(ondemand.serving_index_path(lake_root))
index.refresh({**ondemand.indexed_tables(lake_root), **served.tables(lake_root)}, start="snapshot")
index.close()
index_s = time.perf_counter() - t
index_mib = ondemand.serving_index_path(lake_root).stat().st_size / 2**20
persons = pl.from_arrow(DeltaTable(str(lake_root / "silver" / "persons")).to_pyarrow_table(
    columns=["person_id", "household_no", "relation"]))
groups = persons.group_by("household_no").agg("person_id", "relation").sort("household_no")
picked = random.Random(7).sample(range(groups.height), min(n, groups.height))
families = [[ondemand.Member(p, r) for p, r in zip(groups["person_id"][i], groups["relation"][i])] for i in picked]
ondemand.assess(lake_root, families[0], work_dir=work)  # compiles the dbt models once: not a request
ondemand.assess(lake_root, families[0], work_dir=work, latest_only=True)
def timed(fams, **kw):
    lat, sources, results = [], {}, []
    for fam in fams:
        t = time.perf_counter(); a = ondemand.assess(lake_root, fam, work_dir=work, **kw)
        lat.append(time.perf_counter() - t); sources[a.source] = sources.get(a.source, 0) + 1
        results.append(a)
    return lat, sources, results
lat, sources, answered = timed(families, latest_only=True)
fast = answered[:200]
lookup, served.lookup = served.lookup, lambda *a: None  # the same requests computed: the served path off
computed, computed_sources, slow = timed(families[:200], latest_only=True)
served.lookup = lookup
assert set(computed_sources) == {"serving_index"}, computed_sources
same = sum(a.profile == b.profile and a.reasons == b.reasons for a, b in zip(fast, slow))
assert same == len(fast), f"served and computed differ for {len(fast) - same} of {len(fast)} households"
lake_lat = timed(families[:lake_n], use_index=False)[0] if lake_n else [0.0]
class R:  # the request fields the report prints
    request_no, commissioning_unit, aid_item, purpose, authorisation_ref = "HD-BENCH", "基准测试", "dibao", "基准", "B-1"
    region_code, verified_by, reviewed_by = "510000000000", "bench.a", "bench.b"
signer = signing.load_signer()
pdf_s = []
now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
for fam in families[:20]:
    a = ondemand.assess(lake_root, fam, work_dir=work, latest_only=True)
    content = report.build_content(report_no="BG-BENCH", request=R, members=fam, assessment=a, issued_at=now,
                                   issued_by="bench", as_of=now)
    t = time.perf_counter(); report.render_pdf(content, signer); pdf_s.append(time.perf_counter() - t)
def p95(xs):
    return statistics.quantiles(xs, n=20)[18] if len(xs) > 1 else xs[0]
print(json.dumps({"n": len(lat), "p50_s": statistics.median(lat), "p95_s": p95(lat), "max_s": max(lat),
                  "served": sources.get("served", 0), "computed_n": len(computed), "served_equal_computed": same,
                  "computed_p50_s": statistics.median(computed), "computed_p95_s": p95(computed),
                  "lake_p50_s": statistics.median(lake_lat), "pdf_p50_s": statistics.median(pdf_s),
                  "pdf_max_s": max(pdf_s), "index_build_s": index_s, "index_mib": index_mib, "publish_s": publish_s,
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _run_verify(scale: str, run_no: int, ws: Workspace) -> dict:
    households = int(os.environ.get("JIUZHU_BENCH_HOUSEHOLDS", "1000"))  # the smoke test asks for a few
    lake_root = ws.lake(scale)
    # the lake path holds whole tables in memory (it is the fall-back, not the serving path): measured
    # up to small scale; beyond it the reference is the computed path over the index
    lake_n = 10 if scale in ("tiny", "small") else 0
    _, r = _child(_VERIFY, str(lake_root), str(households), str(ws.root / f"ondemand-{scale}"),
                  str(ws.warehouse(scale)), str(lake_n))
    detail = {"households": r["n"], "served": r["served"], "p50_ms": round(r["p50_s"] * 1000, 1),
              "p95_ms": round(r["p95_s"] * 1000, 1), "max_ms": round(r["max_s"] * 1000, 1),
              "computed_households": r["computed_n"], "served_equal_computed": r["served_equal_computed"],
              "computed_p50_ms": round(r["computed_p50_s"] * 1000, 1),
              "computed_p95_ms": round(r["computed_p95_s"] * 1000, 1),
              "lake_path_p50_ms": round(r["lake_p50_s"] * 1000, 1),
              "pdf_render_p50_s": round(r["pdf_p50_s"], 2), "pdf_render_max_s": round(r["pdf_max_s"], 2),
              "index_build_s": round(r["index_build_s"], 1), "index_mib": round(r["index_mib"]),
              "served_publish_s": round(r["publish_s"], 1)}
    if not lake_n:
        detail.pop("lake_path_p50_ms")
    reference = ({"name": "the same assessment computed from the lake (no index), p50", "wall_s": r["lake_p50_s"]}
                 if lake_n else {"name": "the same assessment computed with the compiled models (index), p50",
                                 "wall_s": r["computed_p50_s"]})
    return {"wall_s": r["p50_s"], "rows": 1, "persons": 0, "peak_rss_mib": r["peak_rss_kib"] / 1024,
            "detail": detail, "reference": {**reference, "rows": 1}}


# Batch re-verification: the month's verification marts rebuilt by dbt (every household, the roll's
# recipients among them) on a copy of the complete warehouse (the warehouse as it stands before the
# month's run), the detection list published and pushed into the county queues; against assessing
# the month's recipient households one at a time on demand (a sample, extrapolated).
_REVERIFY = _POLICY + """
import json, os, resource, subprocess, sys, time, random, statistics
from pathlib import Path
import duckdb, polars as pl
from deltalake import DeltaTable
from jiuzhu import lake
from jiuzhu.business import db
from verification import ondemand, reverify, serving
lake_root, warehouse, dbt_dir, work = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4])
ensure_policy(lake_root)
env = {**os.environ, "JIUZHU_LAKE": str(lake_root), "JIUZHU_WAREHOUSE": warehouse, "DO_NOT_TRACK": "1"}
dbt = str(Path(sys.executable).parent / "dbt")
def run_dbt(*args):
    proc = subprocess.run([dbt, *args, "--profiles-dir", ".", "--target-path", warehouse + ".target",
                           "--log-path", warehouse + ".logs"], cwd=dbt_dir, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stdout[-3000:])
with duckdb.connect(warehouse, read_only=True) as con:
    last = con.sql("select max(period) from household_profile").fetchall()[0][0]
    roll = con.sql("select distinct household_no from stg_minzheng__assistance_rosters where period = ? "
                   "and aid_category in ('dibao', 'tekun')", params=[last]).fetchall()
t = time.perf_counter()
run_dbt("run", "--select", "+detection_list", "+household_assessment_reasons", "--vars", json.dumps({"from_period": last}))
with duckdb.connect(warehouse, read_only=True) as con:
    for model in ("detection_list", "household_assessment_reasons"):
        lake.write(lake.table_path(lake_root, "gold", "verification", model),
                   con.sql(f"select * from main.{model} where period = ?", params=[last]).to_arrow_table())
url = "sqlite:///" + str(work / "business.sqlite")
db.upgrade(url)
with db.session_factory(db.make_engine(url))() as session:
    pushed = reverify.push(session, lake_root, last)
wall = time.perf_counter() - t
index = serving.ServingIndex(ondemand.serving_index_path(lake_root))
index.refresh(ondemand.indexed_tables(lake_root), start="snapshot")
persons = pl.from_arrow(DeltaTable(str(lake_root / "silver" / "persons")).to_pyarrow_table(
    columns=["person_id", "household_no"]))
sample = random.Random(3).sample([h for (h,) in roll], min(100, len(roll)))
members = persons.filter(pl.col("household_no").is_in(sample)).group_by("household_no").agg("person_id")
fams = [[ondemand.Member(p) for p in ps] for ps in members["person_id"]]
ondemand.assess(lake_root, fams[0], work_dir=work)
t = time.perf_counter()
for fam in fams:
    ondemand.assess(lake_root, fam, work_dir=work, months=[last])
one_by_one = (time.perf_counter() - t) / len(fams) * len(roll)
print(json.dumps({"households": len(roll), "detected": pushed.detected, "pushed": pushed.pushed, "wall_s": wall,
                  "one_by_one_s": one_by_one, "peak_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def _run_reverify(scale: str, run_no: int, ws: Workspace) -> dict:
    lake_root = ws.lake(scale)
    work = ws.root / f"reverify-{scale}-{run_no}"
    shutil.rmtree(work, ignore_errors=True)
    warehouse = ws.warehouse_copy(scale, work)  # the month's run rebuilds part of it: a copy (untimed)
    _, r = _child(_REVERIFY, str(lake_root), str(warehouse), str(_DBT_DIR), str(work))
    shutil.rmtree(work, ignore_errors=True)
    return {"wall_s": r["wall_s"], "rows": r["households"], "persons": 0, "peak_rss_mib": r["peak_rss_kib"] / 1024,
            "detail": {"recipient_households": r["households"], "detected": r["detected"], "pushed": r["pushed"]},
            "reference": {"name": "the same households assessed one at a time on demand (100 sampled, extrapolated)",
                          "wall_s": r["one_by_one_s"], "rows": r["households"]}}


# Monitoring: the features mart of the last five months published to gold from the run's warehouse
# (untimed), a risk model trained on an earlier month's labels from the truth (untimed), then the
# month scored as the monthly asset does — indicators, model probabilities, ranking, explanations of
# the candidates, the gold write — against the model's bare predict_proba over the same rows.
_FEATURES_KEPT = """
import polars as pl
from jiuzhu import lake
# the province's months, and whether the lake's gold features mart holds the last five (a kept
# workspace: the mart of an earlier run of this stage)
def features_kept(lake_root, province):
    months = sorted(pl.read_parquet(str(province / "truth" / "household_months" / "*.parquet"),
                                    columns=["month"])["month"].unique())
    gold_features = lake.table_path(lake_root, "gold", "monitoring", "monitoring_features")
    if not lake.exists(gold_features):
        return months, False
    from deltalake import DeltaTable
    have = set(DeltaTable(str(gold_features)).to_pyarrow_table(columns=["period"]).column("period").to_pylist())
    return months, set(months[-5:]) <= have
"""
_KEPT_MAIN = """
import json, sys
from pathlib import Path
print(json.dumps({"kept": features_kept(Path(sys.argv[1]), Path(sys.argv[2]))[1]}))
"""
_SCORE = _POLICY + _FEATURES_KEPT + """
import json, resource, sys, time, statistics
from pathlib import Path
import duckdb
from jiuzhu import lake
from models import indicators, risk, scoring, training
lake_root, warehouse, province, home, repeat = (Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]),
                                                int(sys.argv[5]))
ensure_policy(lake_root)
months, reused = features_kept(lake_root, province)
last = months[-1]
gold_features = lake.table_path(lake_root, "gold", "monitoring", "monitoring_features")
if not reused:
    with duckdb.connect(warehouse, read_only=True) as con:
        feats = con.sql("select * from monitoring_features where period >= ?", params=[months[-5]]).to_arrow_table()
    lake.write(gold_features, feats)
    del feats
config = indicators.load()
train_month = months[-1 - config.horizon_months]
data = training.dataset(lake_root, province, config, periods=[train_month])
data = data.sample(min(data.height, 400_000), seed=1)
pipeline = risk.fit(data, seed=0)
trained = risk.Trained(pipeline, {"version": "bench", "train_window": [train_month, train_month],
                                  "feature_profile": risk.feature_profile(risk.matrix(data))})
walls, bare, res = [], [], None
for _ in range(repeat):
    t = time.perf_counter(); res = scoring.score_period(lake_root, home, last, config=config, trained=trained)
    walls.append(time.perf_counter() - t)
    frame = risk.read_features(lake_root, [last])
    x = risk.matrix(frame)
    t = time.perf_counter(); pipeline.predict_proba(x); bare.append(time.perf_counter() - t)
print(json.dumps({"wall_s": statistics.median(walls), "bare_s": statistics.median(bare), "households": res.households,
                  "persons": res.persons, "candidates": res.candidates, "trained_rows": data.height, "features_reused": reused,
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _run_score(scale: str, run_no: int, ws: Workspace) -> dict:
    from jiuzhu import lake

    lake_root, province = ws.lake(scale), ws.province(scale)
    home = ws.root / f"score-home-{scale}"
    # the warehouse is built for this stage only when the lake's gold features mart lacks a month
    gold_features = lake.table_path(lake_root, "gold", "monitoring", "monitoring_features")
    kept = (scale not in ws.warehouses and lake.exists(gold_features)
            and _child(_FEATURES_KEPT + _KEPT_MAIN, str(lake_root), str(province))[1]["kept"])
    warehouse = "" if kept else str(ws.warehouse(scale))  # read only
    _, r = _child(_SCORE, str(lake_root), warehouse, str(province), str(home), "3")
    return {"wall_s": r["wall_s"], "rows": r["households"], "persons": r["persons"],
            "peak_rss_mib": r["peak_rss_kib"] / 1024,
            "detail": {"households": r["households"], "persons": r["persons"], "candidates_explained": r["candidates"],
                       "model_trained_on_rows": r["trained_rows"], "runs_in_child": 3,
                       "features_mart_reused": r["features_reused"]},
            "reference": {"name": "the model's bare predict_proba over the same households", "wall_s": r["bare_s"],
                          "rows": r["households"]}}


# The staff app's first render: the overview and the analysis page run (Streamlit AppTest) for a
# decision-maker of the whole province, in a fresh process each time — modules imported and the
# script runner started, every data cache cold — against reading the same gold tables once with
# deltalake. AppTest converts the page's output into its element tree too, so this is an upper bound
# of the server's time; the browser's drawing is not included.
_GOLD_FOR_SCREENS = ("statistics/monthly_statistics", "verification/detection_list", "exchange/exchange_quality",
                     "analysis/low_income_cube")
_PUBLISH = """
import json, sys
from pathlib import Path
import duckdb
from jiuzhu import lake
lake_root, warehouse, tables = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
with duckdb.connect(warehouse, read_only=True) as con:
    for t in tables:
        area, name = t.split("/")
        lake.write(lake.table_path(lake_root, "gold", area, name), con.sql(f"select * from main.{name}").to_arrow_table())
print(json.dumps({"ok": True}))
"""
_RENDER = """
import json, os, resource, sys, time
from pathlib import Path
lake_root, home, page, user, password, tables = (Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4],
                                                  sys.argv[5], json.loads(sys.argv[6]))
os.environ.update({"JIUZHU_LAKE": str(lake_root), "JIUZHU_HOME": str(home),
                   "JIUZHU_BUSINESS_DB_URL": f"sqlite:///{home / 'business.sqlite'}"})
from streamlit.testing.v1 import AppTest
import dashboards.staff.services, dashboards.staff.charts, dashboards.staff.monitoring_services  # noqa: F401
from deltalake import DeltaTable
import polars as pl
from jiuzhu import auth
from jiuzhu.business import db
with db.session_factory(db.make_engine(os.environ["JIUZHU_BUSINESS_DB_URL"]))() as s:
    result = auth.login(s, user, password)
views = Path(dashboards.staff.services.__file__).parent / "views"
# the server's one-time start-up (component discovery) is not a page's render: pay it on a page
# that reads no data, then render the measured page with every data cache still cold
warm = AppTest.from_file(str(views / "password.py"), default_timeout=600)
warm.session_state["staff_session"] = result.session
warm.run()
at = AppTest.from_file(str(views / page), default_timeout=600)
at.session_state["staff_session"] = result.session
t = time.perf_counter(); at.run(); wall = time.perf_counter() - t
if at.exception:
    raise SystemExit(str(at.exception[0].value))
t = time.perf_counter()
for name in tables:
    pl.from_arrow(DeltaTable(str(lake_root / "gold" / name)).to_pyarrow_table())
read = time.perf_counter() - t
print(json.dumps({"wall_s": wall, "read_s": read, "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""
_PAGE_TABLES = {"overview.py": ["statistics/monthly_statistics", "verification/detection_list",
                                "exchange/exchange_quality"],
                "analysis.py": ["analysis/low_income_cube"]}


def _screens_ready(scale: str, ws: Workspace) -> tuple[Path, Path]:
    """The scale's lake with the screens' gold tables (published from the run's warehouse, untimed)
    and a home with a decision-maker of the province."""
    from jiuzhu import access, auth, lake  # noqa: PLC0415
    from jiuzhu.business import db  # noqa: PLC0415

    lake_root = ws.lake(scale)
    if not all(lake.exists(lake_root / "gold" / t) for t in _GOLD_FOR_SCREENS):
        _child(_PUBLISH, str(lake_root), str(ws.warehouse(scale)), json.dumps(list(_GOLD_FOR_SCREENS)))
    home = ws.root / f"screens-home-{scale}"
    url = f"sqlite:///{home / 'business.sqlite'}"
    if not (home / "business.sqlite").exists():
        home.mkdir(parents=True, exist_ok=True)
        db.upgrade(url)
        with db.session_factory(db.make_engine(url))() as s:
            auth.create_user(s, "bench.decision", "基准测试决策者", access.DECISION_MAKER, "510000000000",
                             _BENCH_PASSWORD, must_change_password=False)
    return lake_root, home


_BENCH_PASSWORD = "Bench#2026render"


def _run_render(scale: str, run_no: int, ws: Workspace) -> dict:
    lake_root, home = _screens_ready(scale, ws)
    out = {}
    for page, tables in _PAGE_TABLES.items():
        _, r = _child(_RENDER, str(lake_root), str(home), page, "bench.decision", _BENCH_PASSWORD, json.dumps(tables))
        out[page] = r
    walls = {p: r["wall_s"] for p, r in out.items()}
    slowest = max(walls, key=walls.get)
    return {"wall_s": walls[slowest], "rows": 1, "persons": 0,
            "peak_rss_mib": max(r["peak_rss_kib"] for r in out.values()) / 1024,
            "detail": {**{f"{p.removesuffix('.py')}_first_render_s": round(w, 2) for p, w in walls.items()},
                       **{f"{p.removesuffix('.py')}_gold_read_s": round(r["read_s"], 2) for p, r in out.items()},
                       "slowest_page": slowest.removesuffix(".py"), "user": "decision-maker of the province"},
            "reference": {"name": "reading the slowest page's gold tables once (deltalake → Polars)",
                          "wall_s": out[slowest]["read_s"], "rows": 1}}


# The household aggregation and the detection query on DuckDB (the marts' engine), PostgreSQL (the
# incumbent) and pandas (the naive) over the same rows (jiuzhu/benchrefs.py); each engine in its own
# process (its own peak memory).
_REFS = "import sys\nfrom jiuzhu import benchrefs\nbenchrefs.child(sys.argv[1:])\n"
_EXPORT = _POLICY + """
import json, sys
from pathlib import Path
from jiuzhu import benchrefs
print(json.dumps(benchrefs.export_inputs(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))))
"""


def _run_aggregate(scale: str, run_no: int, ws: Workspace) -> dict:
    """The household aggregation against PostgreSQL and pandas; the detection query against PostgreSQL."""
    runs = os.environ.get("JIUZHU_BENCH_QUERY_RUNS", "3" if scale in ("tiny", "small") else "1")
    inputs = ws.root / f"aggregate-inputs-{scale}"
    if not (inputs / ".complete").exists():  # exported once per workspace (untimed)
        shutil.rmtree(inputs, ignore_errors=True)
        _child(_EXPORT, str(ws.lake(scale)), str(ws.warehouse(scale)), str(inputs))
        (inputs / ".complete").write_text("", "utf-8")
    counts = {p.stem: pq_rows(p) for p in sorted(inputs.glob("*.parquet"))}
    results = {engine: _child(_REFS, engine, str(inputs), runs)[1] for engine in ("duckdb", "postgres", "pandas")}
    duck, pg, pdx = results["duckdb"], results["postgres"], results["pandas"]
    detail = {
        "input_rows": counts, "input_mib": round(sum(p.stat().st_size for p in inputs.glob("*.parquet")) / 2**20),
        "query_runs": int(runs), "duckdb": duck["engine"], "postgres": pg["engine"], "pandas": pdx["engine"],
        "duckdb_aggregation_s": round(duck["aggregation_s"], 3), "postgres_aggregation_s": round(pg["aggregation_s"], 3),
        "pandas_aggregation_s": round(pdx["aggregation_s"], 3),
        "postgres_over_duckdb": round(pg["aggregation_s"] / duck["aggregation_s"], 1),
        "pandas_over_duckdb": round(pdx["aggregation_s"] / duck["aggregation_s"], 1),
        "duckdb_detection_s": round(duck["detection_s"], 3), "postgres_detection_s": round(pg["detection_s"], 3),
        "postgres_over_duckdb_detection": round(pg["detection_s"] / duck["detection_s"], 1),
        "households_months": duck["aggregation_rows"], "detected": duck["detection_rows"],
        "duckdb_load_s": round(duck["load_s"], 1), "postgres_load_s": round(pg["load_s"], 1),
        "pandas_load_s": round(pdx["load_s"], 1), "postgres_table_mib": pg["table_mib"],
        "postgres_settings": pg["settings"], "duckdb_peak_rss_mib": round(duck["peak_rss_mib"]),
        "pandas_peak_rss_mib": round(pdx["peak_rss_mib"]),
        "postgres_aggregation_plan": pg["aggregation_plan"],
    }
    if not (duck["aggregation_rows"] == pg["aggregation_rows"] == pdx["aggregation_rows"]
            and duck["detection_rows"] == pg["detection_rows"]):
        raise RuntimeError(f"the engines disagree on the rows: {detail}")
    return {"wall_s": duck["aggregation_s"], "rows": counts.get("members", 0), "persons": 0,
            "peak_rss_mib": duck["peak_rss_mib"], "detail": detail,
            "reference": {"name": f"the same aggregation on {pg['engine']} (tuned, indexed)",
                          "wall_s": pg["aggregation_s"], "rows": pg["aggregation_rows"]}}


def pq_rows(path: Path) -> int:
    import pyarrow.parquet as pq  # noqa: PLC0415

    return pq.ParquetFile(path).metadata.num_rows


STAGES = {"generate": _run_generate, "generate-largest-county": _run_largest_county, "ingest": _run_ingest,
          "marts": _run_marts, "marts-spark": _run_marts_spark, "verify": _run_verify, "reverify": _run_reverify,
          "score": _run_score, "render": _run_render,
          "aggregate": _run_aggregate}


def run(scales: list[str], stages: list[str], repeat: int, out_dir: Path, workdir: Path | None = None) -> dict:
    out_dir = Path(out_dir)
    results = {"date": _dt.date.today().isoformat(), "machine": _machine(), "stages": []}
    with tempfile.TemporaryDirectory(prefix="jiuzhu-bench-") as tmp:
        root = Path(workdir) if workdir else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        ws = Workspace(root)
        try:
            for stage in stages:
                if stage not in STAGES:
                    raise ValueError(f"unknown stage {stage!r}; known: {sorted(STAGES)}")
                for scale in scales:
                    runs = [STAGES[stage](scale, i, ws) for i in range(repeat)]
                    walls = [r["wall_s"] for r in runs]
                    median = statistics.median(walls)
                    row = {
                        "stage": stage, "scale": scale, "repeat": repeat,
                        "median_s": round(median, 2), "spread_s": round(max(walls) - min(walls), 2),
                        "persons": runs[0]["persons"], "rows": runs[0]["rows"],
                        "persons_per_s": round(runs[0]["persons"] / median) if runs[0]["persons"] else None,
                        "rows_per_s": round(runs[0]["rows"] / median),
                        "peak_rss_mib": round(max(r["peak_rss_mib"] for r in runs)),
                        "inbox_mib": round(runs[0].get("inbox_bytes", 0) / 2**20),
                    }
                    if "detail" in runs[0]:
                        row["detail"] = min(runs, key=lambda r: abs(r["wall_s"] - median))["detail"]
                    if "reference" in runs[0]:
                        ref_wall = statistics.median(r["reference"]["wall_s"] for r in runs)
                        row["reference"] = runs[0]["reference"]["name"]
                        row["reference_s"] = round(ref_wall, 2)
                        ratio = median / ref_wall
                        row["ratio_to_reference"] = round(ratio, 1) if ratio >= 1 else float(f"{ratio:.2g}")
                    results["stages"].append(row)
                    _write_json(results, out_dir)  # a long run keeps what it measured if stopped later
        finally:
            ws.drop_warehouses()  # they serve this run only
    _write(results, out_dir)
    return results


def _write_json(results: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    key = "-".join(sorted({s["scale"] for s in results["stages"]}))
    (out_dir / f"benchmarks-{key}.partial.json").write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")


def _machine() -> dict:
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "memory_mib": mem, "python": platform.python_version(),
            "platform": platform.platform()}


def _write(results: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    key = "-".join(sorted({s["scale"] for s in results["stages"]}))
    (out_dir / f"benchmarks-{key}.json").write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    (out_dir / f"benchmarks-{key}.partial.json").unlink(missing_ok=True)
    lines = [
        (f"## Run of {results['date']} ({results['machine']['cpus']} cores, "
         f"{results['machine']['memory_mib']:,} MiB, Python {results['machine']['python']})"),
        "",
        "| stage | scale | runs | median s | spread s | persons/s | rows/s | peak MiB | reference | ref s | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results["stages"]:
        pps = f"{s['persons_per_s']:,}" if s["persons_per_s"] else "—"
        lines.append(f"| {s['stage']} | {s['scale']} | {s['repeat']} | {s['median_s']} | {s['spread_s']} | "
                     f"{pps} | {s['rows_per_s']:,} | {s['peak_rss_mib']:,} | {s.get('reference', '—')} | "
                     f"{s.get('reference_s', '—')} | {s.get('ratio_to_reference', '—')} |")
    details = [f"- {s['stage']} / {s['scale']}: " + ", ".join(f"{k} {v}" for k, v in s["detail"].items())
               for s in results["stages"] if s.get("detail")]
    if details:
        lines += ["", *details]
    section = "\n".join(lines) + "\n"
    path = out_dir / "benchmarks.md"
    header = "# Benchmarks\n\nWritten by `jiuzhu bench` (`make bench`); each stage runs in its own process.\n\n"
    existing = path.read_text("utf-8") if path.exists() else header
    path.write_text(existing.rstrip("\n") + "\n\n" + section, "utf-8")
