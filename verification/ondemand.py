"""On-demand assessment of one household with the batch marts' own definition.

The dbt project is compiled once; the compiled SQL of `household_profile` and
`household_assessment_reasons` and everything upstream of them is run, in dependency order, in an
in-memory DuckDB whose source tables hold only the requested members' rows — read from the silver
Delta tables as they were at the requested time (time travel). There is no second implementation
of the rules to drift apart: parity with the batch marts holds by construction, and a test checks it.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable

from jiuzhu import ids, lake

DBT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
DATABASE = "ondemand"  # the compiled SQL names relations "ondemand"."<schema>"."<name>"
TARGETS = ("model.jiuzhu.household_profile", "model.jiuzhu.household_assessment_reasons")
PERSON_TABLES = {"persons", "hukou_events", "employment_income", "taxable_income", "housing_fund", "deposits",
                 "real_estate", "vehicles", "businesses", "medical_claims", "disability", "deaths",
                 "monitoring_targets", "assistance_roster"}
WHOLE_TABLES = {"policy_standards", "policy_asset_limits"}


@dataclass(frozen=True)
class Member:
    person_id: str
    relation: str | None = None  # GB/T 4761 code as stated in the request


@dataclass
class Assessment:
    household_no: str
    as_of: str
    profile: list[dict]
    reasons: list[dict]
    table_versions: dict[str, int]


def compiled_models(work_dir: Path, lake_root: Path) -> list[dict]:
    """The compiled nodes upstream of the targets, in dependency order (compiled once, cached)."""
    target = work_dir / "target"
    manifest_path = target / "manifest.json"
    sources = [p for p in DBT_DIR.rglob("*") if p.suffix in (".sql", ".yml") and "target" not in p.parts]
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".compile.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not manifest_path.exists() or max(p.stat().st_mtime for p in sources) > manifest_path.stat().st_mtime:
            env = {**os.environ, "DO_NOT_TRACK": "1", "JIUZHU_WAREHOUSE": str(work_dir / f"{DATABASE}.duckdb"),
                   "JIUZHU_LAKE": str(lake_root)}  # dbt-duckdb's delta plugin opens the sources when compiling
            # one thread: dbt-duckdb's delta plugin opening sources on two threads once hung in a
            # futex wait under load; a hang still ends at the timeout rather than blocking a request
            subprocess.run([str(Path(sys.executable).parent / "dbt"), "compile", "--profiles-dir", str(DBT_DIR),
                            "--target-path", str(target), "--select", "+household_assessment_reasons", "--quiet",
                            "--threads", "1"],
                           cwd=DBT_DIR, env=env, check=True, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=600)
    manifest = json.loads(manifest_path.read_text("utf-8"))
    nodes = manifest["nodes"]
    order: list[str] = []

    def visit(uid: str) -> None:
        if uid in order or not uid.startswith("model."):
            return
        for dep in nodes[uid]["depends_on"]["nodes"]:
            visit(dep)
        order.append(uid)

    for uid in TARGETS:
        visit(uid)
    return [nodes[uid] for uid in order]


def _version_at(path: Path, as_of: _dt.datetime | None) -> DeltaTable:
    dt = DeltaTable(str(path))
    if as_of is not None:
        dt.load_as_version(as_of)
    return dt


_TABLE_CACHE: dict[tuple[str, int], pl.DataFrame] = {}


def _load(dt: DeltaTable, keys: list[int] | None) -> pa.Table:
    """A table version is immutable, so it is read once per process and filtered in memory.
    (At medium scale and beyond the serving index answers instead: see the verification issue.)"""
    cache_key = (dt.table_uri, dt.version())
    frame = _TABLE_CACHE.get(cache_key)
    if frame is None:
        frame = pl.from_arrow(dt.to_pyarrow_table())
        if len(_TABLE_CACHE) > 64:
            _TABLE_CACHE.clear()
        _TABLE_CACHE[cache_key] = frame
    if keys is not None and "person_key" in frame.columns:
        frame = frame.filter(pl.col("person_key").is_in(keys))
    return frame.to_arrow()


def assess(lake_root: Path, members: list[Member], *, as_of: _dt.datetime | None = None,
           work_dir: Path | None = None, months: list[str] | None = None) -> Assessment:
    """Assess the household formed by ``members`` with the data as it stood at ``as_of``."""
    work_dir = work_dir or Path(lake_root).parent / "ondemand"
    models = compiled_models(work_dir, Path(lake_root))
    keys = [ids.to_key(ids.parse(m.person_id).number) for m in members]
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false; SET autoload_known_extensions = false")
    con.execute(f"ATTACH ':memory:' AS {DATABASE}")  # a fixed identifier, not data
    con.execute(f"CREATE SCHEMA {DATABASE}.silver")
    versions: dict[str, int] = {}
    for name in sorted(PERSON_TABLES | WHOLE_TABLES):
        path = lake.table_path(lake_root, "silver", name)
        if not lake.exists(path):
            continue
        dt = _version_at(path, as_of)
        versions[name] = dt.version()
        table = _load(dt, keys if name in PERSON_TABLES else None)
        if name == "persons":
            table = _one_household(table, members)
        con.register("incoming", table)
        con.execute(f'CREATE TABLE {DATABASE}.silver."{name}" AS SELECT * FROM incoming')  # names from the set above
        con.unregister("incoming")
    con.execute(f"CREATE SCHEMA {DATABASE}.exchange")
    for ledger in sorted(Path(lake_root, "bronze").glob("*/_batches")):
        dt = _version_at(ledger, as_of)
        con.register("incoming", _load(dt, None))
        con.execute(f'CREATE TABLE {DATABASE}.exchange."batches_{ledger.parent.name}" AS SELECT * FROM incoming')
        con.unregister("incoming")
    for node in models:
        con.execute(f'CREATE TABLE {DATABASE}.main."{node["name"]}" AS {node["compiled_code"]}')  # compiled by dbt
    where = ""
    params: list = []
    if months:
        where = " WHERE period IN (SELECT unnest(?))"
        params = [months]
    profile = con.execute(f"SELECT * FROM {DATABASE}.main.household_profile{where} ORDER BY period",
                          params).to_arrow_table()
    reasons = con.execute(f"SELECT * FROM {DATABASE}.main.household_assessment_reasons{where} "
                          "ORDER BY period, reason_code", params).to_arrow_table()
    households = set(profile.column("household_no").to_pylist()) if profile.num_rows else {""}
    return Assessment(household_no=sorted(households)[0], as_of=(as_of or _dt.datetime.now(_dt.UTC)).isoformat(),
                      profile=profile.to_pylist(), reasons=reasons.to_pylist(), table_versions=versions)


def _one_household(persons: pa.Table, members: list[Member]) -> pa.Table:
    """Members registered in different households (other counties or cities) are assessed as the
    one family the request names: they are given one household number for the assessment."""
    frame = pl.from_arrow(persons)
    if frame.height == 0:
        return persons
    households = frame.get_column("household_no").unique().to_list()
    if len(households) > 1:
        joined = "+".join(sorted(households))
        frame = frame.with_columns(pl.lit(joined).alias("household_no"))
        stated = {ids.parse(m.person_id).number: m.relation for m in members if m.relation}
        frame = frame.with_columns(pl.col("person_id").replace_strict(stated, default=pl.col("relation"))
                                   .alias("relation"))
    return frame.to_arrow()
