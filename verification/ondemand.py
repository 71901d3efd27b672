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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable

from jiuzhu import dbtproject, ids, lake
from verification import served, serving

DBT_DIR = dbtproject.DBT_DIR
DATABASE = "ondemand"  # the compiled SQL names relations "ondemand"."<schema>"."<name>"
TARGETS = ("model.jiuzhu.household_profile", "model.jiuzhu.household_assessment_reasons")
PERSON_TABLES = {"persons", "hukou_events", "employment_income", "taxable_income", "housing_fund", "deposits",
                 "real_estate", "vehicles", "businesses", "medical_claims", "disability", "deaths",
                 "monitoring_targets", "assistance_roster"}
# read whole (and cached per process): the policy tables, and the households whose members may be
# incomplete (keyed by household, not person; a few rows per thousand households)
WHOLE_TABLES = {"policy_standards", "policy_asset_limits", "quarantined_members"}


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
    source: str = "lake"  # where the rows came from: "serving_index" or "lake"
    # the family's rows of every table read (and the whole small tables), for the report's detail
    inputs: dict[str, pa.Table] = field(default_factory=dict, repr=False, compare=False)

    def member_facts(self, period: str) -> list[dict]:
        """What the data read says about each member for the benefit computation (issue #15): birth
        date, death (death records or the hukou deregistration), a valid disability certificate's
        grade (1–4) and kind, and serious illness (a 重大疾病 claim in the twelve months to the end of
        ``period``). Dates as ISO strings; a member without a row in a table has none of it."""
        end = _month_end(period)
        start = _dt.date(end.year - 1, end.month + 1, 1) if end.month < 12 else _dt.date(end.year, 1, 1)

        def rows(name: str) -> list[dict]:
            table = self.inputs.get(name)
            return table.to_pylist() if table is not None else []

        died: dict[str, _dt.date] = {}
        for r in rows("deaths"):
            if r.get("death_date"):
                died[r["person_id"]] = min(died.get(r["person_id"], _as_date(r["death_date"])), _as_date(r["death_date"]))
        for r in rows("hukou_events"):
            if r.get("change_type") == "死亡注销" and r.get("change_date"):
                day = _as_date(r["change_date"])
                died[r["person_id"]] = min(died.get(r["person_id"], day), day)
        grades = {"一级": 1, "二级": 2, "三级": 3, "四级": 4}
        disability: dict[str, tuple[int, str]] = {}
        for r in rows("disability"):
            grade = grades.get(r.get("disability_grade"))
            valid = r.get("certificate_status") == "有效" and grade and _as_date(r.get("issue_date") or end) <= end
            if valid and (r["person_id"] not in disability or grade < disability[r["person_id"]][0]):
                disability[r["person_id"]] = (grade, r.get("disability_type"))
        ill = {r["person_id"] for r in rows("medical_claims") if r.get("diagnosis_category") == "重大疾病"
               and r.get("settlement_date") and start <= _as_date(r["settlement_date"]) <= end}
        out = []
        for r in sorted(rows("persons"), key=lambda r: (r.get("relation") or "", r["person_id"])):
            pid = r["person_id"]
            grade, kind = disability.get(pid, (None, None))
            out.append({"person_id": pid, "relation": r.get("relation"),
                        "birth_date": _as_date(r["birth_date"]).isoformat() if r.get("birth_date") else None,
                        "died_on": died[pid].isoformat() if pid in died else None,
                        "disability_grade": grade, "disability_kind": kind, "serious_illness": pid in ill})
        return out


def _as_date(value) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    return _dt.date.fromisoformat(str(value)[:10])


def _month_end(period: str) -> _dt.date:
    year, month = (int(x) for x in period.split("-"))
    first_next = _dt.date(year + (month == 12), month % 12 + 1, 1)
    return first_next - _dt.timedelta(days=1)


def compiled_models(work_dir: Path, lake_root: Path) -> list[dict]:
    """The compiled nodes upstream of the targets, in dependency order (compiled once, cached)."""
    target = work_dir / "target"
    manifest_path = target / "manifest.json"
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".compile.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if dbtproject.changed_after(manifest_path):
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


def serving_index_path(lake_root: Path) -> Path:
    """Where the serving index of a lake lives (beside the lake, never inside a Delta table)."""
    return Path(lake_root).parent / "serving" / "index.sqlite"


def indexed_tables(lake_root: Path) -> dict[str, tuple[Path, bool]]:
    """Every table the assessment reads: ``name: (Delta path, keyed by person)``."""
    tables = {name: (lake.table_path(lake_root, "silver", name), name in PERSON_TABLES)
              for name in sorted(PERSON_TABLES | WHOLE_TABLES)
              if lake.exists(lake.table_path(lake_root, "silver", name))}
    for ledger in sorted(Path(lake_root, "bronze").glob("*/_batches")):
        tables[f"batches_{ledger.parent.name}"] = (ledger, False)
    return tables


_TABLES: dict[str, tuple[float, dict]] = {}


def _tables_cached(lake_root: Path) -> dict[str, tuple[Path, bool]]:
    """indexed_tables(), looked at again at most every 10 s (a new department's ledger appears rarely)."""
    cached = _TABLES.get(str(lake_root))
    if cached is None or time.monotonic() - cached[0] > 10:
        cached = _TABLES[str(lake_root)] = (time.monotonic(), indexed_tables(lake_root))
    return cached[1]


class LakeSource:
    """Rows read from the Delta tables themselves (time travel); slow, complete."""

    def __init__(self, lake_root: Path):
        self.tables = _tables_cached(lake_root)

    def version_at(self, name: str, as_of_ms: int | None) -> int | None:
        path = self.tables[name][0]
        if as_of_ms is None:
            return DeltaTable(str(path)).version()
        times = serving.commit_times(path)
        found = [v for v, ms in times.items() if ms <= as_of_ms]
        return max(found) if found else None

    def rows(self, name: str, version: int, keys: list[int] | None) -> pa.Table:
        return _load(DeltaTable(str(self.tables[name][0]), version=version), keys)


class IndexSource:
    """Rows from the serving index (milliseconds); used when it covers the versions asked for."""

    def __init__(self, index: serving.ServingIndex, lake_root: Path):
        self.index = index
        self.tables = _tables_cached(lake_root)
        self.covered = index.state()
        self._lake = LakeSource(lake_root)

    def version_at(self, name: str, as_of_ms: int | None) -> int | None:
        """From the index, unless the lake has commits the index has not seen yet (a refresh is
        behind): then from the lake's own log, and the rows come from the lake too."""
        if serving.commit_versions(self.tables[name][0])[-1] > self.covered[name][1]:
            return self._lake.version_at(name, as_of_ms)
        if as_of_ms is None:
            return self.covered[name][1]
        return self.index.version_at(name, as_of_ms)

    def covers(self, versions: dict[str, int | None]) -> bool:
        return all(name in self.covered and (v is None or self.covered[name][0] <= v <= self.covered[name][1])
                   for name, v in versions.items())

    def rows(self, name: str, version: int, keys: list[int] | None) -> pa.Table:
        if keys is None:  # whole tables (policy, ledgers) are small and immutable per version
            cache_key = (str(self.index.path), name, version)
            if cache_key not in _WHOLE_CACHE:
                if len(_WHOLE_CACHE) > 256:
                    _WHOLE_CACHE.clear()
                _WHOLE_CACHE[cache_key] = self.index.rows(name, version)
            return _WHOLE_CACHE[cache_key]
        return self.index.rows(name, version, keys)


_TABLE_CACHE: dict[tuple[str, int], pl.DataFrame] = {}
_WHOLE_CACHE: dict[tuple[str, str, int], pa.Table] = {}


def _load(dt: DeltaTable, keys: list[int] | None) -> pa.Table:
    """A table version is immutable, so it is read once per process and filtered in memory
    (the lake path; the serving index answers one household without reading whole tables)."""
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


class _Engine:
    """One in-memory DuckDB per process holding the compiled models, planned for one household:

    - models that read only whole tables (the policy tables, the batch calendar) are computed once
      per set of those tables' versions and kept;
    - staging models over person tables are views (plain projections, inlined where used);
    - the household models are re-run per request as prepared ``INSERT … SELECT`` statements.
    Measured on the tiny province under load: ~30 CREATE TABLE statements per request took ~300 ms,
    one query over views of everything ~240 ms (the optimizer inlines the tree twice); this plan
    runs the family's rows through the same compiled SQL in a fraction of that."""

    def __init__(self, models: list[dict], whole: set[str]):
        self.con = duckdb.connect()
        self.con.execute("SET autoinstall_known_extensions = false; SET autoload_known_extensions = false")
        self.con.execute("SET threads = 1")  # one household's rows: parallelism only costs here
        self.con.execute(f"ATTACH ':memory:' AS {DATABASE}")  # a fixed identifier, not data
        self.con.execute(f"CREATE SCHEMA {DATABASE}.silver")
        self.con.execute(f"CREATE SCHEMA {DATABASE}.exchange")
        self.models = models
        self.whole = whole
        static: set[str] = set()
        for node in models:  # dependency order: a model is static when all it reads is static
            deps = node["depends_on"]["nodes"]
            if all((d.split(".")[-1] in whole) if d.startswith("source.") else (d in static) for d in deps):
                static.add(node["unique_id"])
        self.static = static
        self.lock = threading.Lock()
        self.ready = False
        self.static_key: tuple | None = None

    @staticmethod
    def _relation(name: str) -> str:
        schema = "exchange" if name.startswith("batches_") else "silver"
        return f'{DATABASE}.{schema}."{name}"'  # names from indexed_tables(), not from a request

    def _prepare(self) -> None:
        for node in self.models:  # compiled by dbt; model names from the dbt manifest
            rel = f'{DATABASE}.main."{node["name"]}"'
            if node["unique_id"] in self.static:
                continue
            if node["name"].startswith("stg_"):
                self.con.execute(f"CREATE VIEW {rel} AS {node['compiled_code']}")
            else:
                self.con.execute(f"CREATE TABLE {rel} AS SELECT * FROM ({node['compiled_code']}) LIMIT 0")
                self.con.execute(f'PREPARE "run_{node["name"]}" AS INSERT INTO {rel} {node["compiled_code"]}')
        self.ready = True

    def run(self, sources: dict[str, pa.Table], versions: dict[str, int | None],
            months: list[str] | None) -> tuple[pa.Table, pa.Table]:
        with self.lock:
            for name, table in sources.items():
                self.con.register(f"src_{name}", table)
            if not self.ready:
                for name in sources:
                    self.con.execute(f'CREATE VIEW {self._relation(name)} AS SELECT * FROM "src_{name}"')
            static_key = tuple(sorted((n, versions.get(n)) for n in self.whole))
            if static_key != self.static_key:
                for node in self.models:
                    if node["unique_id"] in self.static:
                        self.con.execute(f'CREATE OR REPLACE TABLE {DATABASE}.main."{node["name"]}" AS '
                                         f'{node["compiled_code"]}')
                self.static_key = static_key
            if not self.ready:
                self._prepare()
            for node in self.models:
                if node["unique_id"] not in self.static and not node["name"].startswith("stg_"):
                    self.con.execute(f'DELETE FROM {DATABASE}.main."{node["name"]}"')
                    self.con.execute(f'EXECUTE "run_{node["name"]}"')
            where, params = "", []
            if months:
                where, params = " WHERE period IN (SELECT unnest(?))", [months]
            profile = self.con.sql(f"SELECT * FROM {DATABASE}.main.household_profile{where} ORDER BY period",
                                   params=params).to_arrow_table()
            reasons = self.con.sql(f"SELECT * FROM {DATABASE}.main.household_assessment_reasons{where} "
                                   "ORDER BY period, reason_code", params=params).to_arrow_table()
            return profile, reasons


_ENGINES: dict[tuple, _Engine] = {}
_CHECKED: dict[str, tuple[float, list[dict]]] = {}


def _engine(work_dir: Path, lake_root: Path, tables: dict[str, tuple[Path, bool]]) -> _Engine:
    # the dbt sources are checked for changes at most every 10 s (a stat of every model file per
    # request cost more than the SQLite look-ups)
    checked = _CHECKED.get(str(work_dir))
    if checked is None or time.monotonic() - checked[0] > 10:
        checked = _CHECKED[str(work_dir)] = (time.monotonic(), compiled_models(work_dir, lake_root))
    models = checked[1]
    whole = {n for n, (_, keyed) in tables.items() if not keyed}
    key = (str(work_dir), id(models), tuple(sorted(tables)))
    if key not in _ENGINES:
        _ENGINES.clear()
        _ENGINES[key] = _Engine(models, whole)
    return _ENGINES[key]


def _open_index(lake_root: Path) -> serving.ServingIndex | None:
    path = serving_index_path(lake_root)
    if not path.exists():
        return None
    cached = _INDEXES.get(str(path))
    if cached is None:
        cached = _INDEXES[str(path)] = serving.ServingIndex(path)
    return cached


_INDEXES: dict[str, serving.ServingIndex] = {}


def _source(lake_root: Path, versions: dict[str, int | None] | None, *, use_index: bool = True
            ) -> LakeSource | IndexSource:
    """The index when it holds every table (at ``versions``, when given), else the lake."""
    index = _open_index(lake_root) if use_index else None
    if index is not None:
        candidate = IndexSource(index, lake_root)
        wanted = versions if versions is not None else {n: None for n in _tables_cached(lake_root)}
        if candidate.covers(wanted):
            return candidate
    return LakeSource(lake_root)


def resolve_versions(lake_root: Path, as_of: _dt.datetime | None, *, use_index: bool = True
                     ) -> dict[str, int | None]:
    """The version of every table the assessment reads, as it stood at ``as_of`` (the latest
    version committed at or before it; None where the table did not exist yet)."""
    as_of_ms = None if as_of is None else int(as_of.timestamp() * 1000)
    source = _source(lake_root, None, use_index=use_index)
    return {name: source.version_at(name, as_of_ms) for name in _tables_cached(lake_root)}


def rows_at(lake_root: Path, name: str, version: int, keys: list[int] | None) -> pa.Table:
    """One table's rows at ``version`` (of ``keys``), from the index when it holds the version."""
    return _source(lake_root, {name: version}).rows(name, version, keys)


def assess(lake_root: Path, members: list[Member], *, as_of: _dt.datetime | None = None,
           versions: dict[str, int | None] | None = None, work_dir: Path | None = None,
           months: list[str] | None = None, use_index: bool = True, latest_only: bool = False) -> Assessment:
    """Assess the household formed by ``members`` with the data as it stood at ``as_of`` (or at the
    exact table ``versions`` a stored assessment used: the report is then regenerated identically).

    ``latest_only``: only the latest month's profile row and its reasons (what a verification and
    its report use); answered from the served batch result when it applies (``verification.served``),
    else computed, with the same rows either way."""
    lake_root = Path(lake_root)
    work_dir = work_dir or lake_root.parent / "ondemand"
    keys = [ids.to_key(ids.parse(m.person_id).number) for m in members]
    tables = _tables_cached(lake_root)
    if versions is None:
        versions = resolve_versions(lake_root, as_of, use_index=use_index)
    versions = {n: versions.get(n) for n in tables}
    source = _source(lake_root, versions, use_index=use_index)
    sources: dict[str, pa.Table] = {}
    registered = None
    for name in sorted(tables):
        version = versions.get(name)
        if version is None:  # the table did not exist yet: the models see it empty
            sources[name] = _empty(tables[name][0])
            continue
        table = source.rows(name, version, keys if tables[name][1] else None)
        if name == "persons":
            registered = table
            table = _one_household(table, members)
        sources[name] = table
    as_of_text = (as_of or _dt.datetime.now(_dt.UTC)).isoformat()
    table_versions = {n: v for n, v in sorted(versions.items()) if v is not None}
    if latest_only and isinstance(source, IndexSource) and registered is not None and not months:
        found = served.lookup(source.index, versions, keys, registered)
        if found is not None:
            return Assessment(household_no=found[0][0]["household_no"], as_of=as_of_text, profile=found[0],
                              reasons=found[1], table_versions=table_versions, source="served", inputs=sources)
    engine = _engine(work_dir, lake_root, tables)
    profile, reasons = engine.run(sources, versions, months)
    profile_rows, reason_rows = profile.to_pylist(), reasons.to_pylist()
    if latest_only and profile_rows:
        profile_rows = profile_rows[-1:]
        reason_rows = [r for r in reason_rows if r["period"] == profile_rows[0]["period"]]
    households = {r["household_no"] for r in profile_rows} or {""}
    return Assessment(household_no=min(households), as_of=as_of_text, profile=profile_rows, reasons=reason_rows,
                      table_versions=table_versions,
                      source="serving_index" if isinstance(source, IndexSource) else "lake", inputs=sources)


def _empty(path: Path) -> pa.Table:
    return pa.schema(DeltaTable(str(path)).schema().to_arrow()).empty_table()


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
