"""Served assessments: each household's latest batch result, answered from the serving index.

Running the compiled dbt models for one family costs ~30–50 ms of DuckDB planning and execution
(five statements over a few dozen rows), most of a request's time. When a request names exactly
the members of one registered household and the data as of the request are the very table versions
the batch marts were built from, with the same model definitions (a digest of the dbt project),
that result is already computed: the same definition over the same rows (the on-demand parity test shows it row for row). So the marts' build publishes, per
household, its latest month's ``household_profile`` row and that month's reasons to gold, with the
silver versions the build read as commit metadata (``serving.BUILT_FROM``); the serving index holds
them keyed by household; ``ondemand.assess(latest_only=True)`` answers from them when the versions
match exactly and computes otherwise (other members, another date, newer deliveries). The family's
input rows are still read from the index for the report, so a report is the same either way.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from jiuzhu import dbtproject, lake
from verification import serving

PROFILE = "assessment_current"
REASONS = "assessment_current_reasons"
BUILD_FILE = "silver_versions.json"  # beside the warehouse: the versions its last complete build read


def paths(lake_root: Path) -> dict[str, Path]:
    return {PROFILE: lake.table_path(lake_root, "gold", "verification", PROFILE),
            REASONS: lake.table_path(lake_root, "gold", "verification", REASONS)}


def tables(lake_root: Path) -> dict[str, tuple[Path, bool]]:
    """The served tables the index holds (keyed by household), where they exist."""
    return {name: (path, True) for name, path in paths(lake_root).items() if lake.exists(path)}


def canonical(versions: dict[str, int | None]) -> str:
    """The one spelling of a set of table versions (tables that did not exist yet left out)."""
    return json.dumps({k: v for k, v in sorted(versions.items()) if v is not None}, sort_keys=True,
                      separators=(",", ":"))


_DEFINITION: list = [0.0, None, ""]  # when last looked at, the files' (path, mtime, size), their digest


def definition() -> str:
    """A digest of the dbt project's models and macros (.sql, .yml): the definition a result was
    computed with. A served row is only used while the models are the ones its build ran (the
    computed path recompiles when they change). Looked at again at most every 2 s."""
    if time.monotonic() - _DEFINITION[0] > 2:
        files = dbtproject.source_files()
        stamp = [(str(p), (st := p.stat()).st_mtime_ns, st.st_size) for p in files]
        if stamp != _DEFINITION[1]:
            digest = hashlib.sha256()
            for p in files:
                digest.update(str(p.relative_to(dbtproject.DBT_DIR)).encode() + b"\0" + p.read_bytes() + b"\0")
            _DEFINITION[1:] = [stamp, digest.hexdigest()[:16]]
        _DEFINITION[0] = time.monotonic()
    return _DEFINITION[2]


def build_record(versions: dict[str, int | None], from_period: str, model_definition: str | None = None) -> dict:
    """What a complete marts build claims: the silver versions it read, the definition it ran, the
    first month it computed."""
    return {"versions": canonical(versions), "definition": model_definition or definition(),
            "from_period": from_period}


def built_from(build: dict) -> str:
    """The commit metadata a served version carries, and what a request looks it up by."""
    return json.dumps({"definition": build["definition"], "versions": build["versions"]}, sort_keys=True,
                      separators=(",", ":"))


def record_build(folder: Path, versions: dict[str, int | None] | None, from_period: str,
                 model_definition: str | None = None) -> None:
    """Called around a marts build: ``None`` before it starts (a failed build claims nothing), the
    versions it read after it ended (only when they were the same before and after) with the
    definition taken before it started. Written whole or not at all."""
    path = Path(folder) / BUILD_FILE
    if versions is None:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(build_record(versions, from_period, model_definition)), "utf-8")
    os.replace(tmp, path)


def read_build(folder: Path) -> dict | None:
    path = Path(folder) / BUILD_FILE
    return json.loads(path.read_text("utf-8")) if path.exists() else None


_LATEST = """
with latest as (select household_no, max(period) as period from profile group by household_no)
select p.* from profile p join latest l on l.household_no = p.household_no and l.period = p.period
where p.period >= ? order by p.household_no
"""
_LATEST_REASONS = """
with latest as (select household_no, max(period) as period from profile group by household_no)
select r.* from reasons r join latest l on l.household_no = r.household_no and l.period = r.period
where r.period >= ? order by r.household_no, r.reason_code
"""


def current(con: duckdb.DuckDBPyConnection, from_period: str) -> tuple[pa.Table, pa.Table]:
    """Each household's latest month and its reasons, from relations ``profile`` and ``reasons``
    visible to ``con``; only months the build computed (``from_period`` on: a monthly build keeps
    the earlier months of an earlier build, computed from other versions)."""
    return (con.sql(_LATEST, params=[from_period]).to_arrow_table(),
            con.sql(_LATEST_REASONS, params=[from_period]).to_arrow_table())


def publish(lake_root: Path, profile: pa.Table, reasons: pa.Table, build: dict) -> dict[str, int]:
    """Write the served tables with the versions they were computed from; returns their versions."""
    meta = {serving.BUILT_FROM: built_from(build)}
    out = {}
    for name, table in ((PROFILE, profile), (REASONS, reasons)):
        out[name] = lake.write(paths(lake_root)[name], table, commit_metadata=meta)
    return out


def current_from_warehouse(warehouse: Path, from_period: str) -> tuple[pa.Table, pa.Table]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("SET autoinstall_known_extensions = false; SET autoload_known_extensions = false")
        con.execute("CREATE TEMP VIEW profile AS SELECT * FROM main.household_profile")
        con.execute("CREATE TEMP VIEW reasons AS SELECT * FROM main.household_assessment_reasons")
        return current(con, from_period)


def publish_from_warehouse(lake_root: Path, warehouse: Path, build: dict) -> dict[str, int]:
    return publish(lake_root, *current_from_warehouse(warehouse, build["from_period"]), build)


def lookup(index: serving.ServingIndex, versions: dict[str, int | None], keys: list[int],
           persons: pa.Table) -> tuple[list[dict], list[dict]] | None:
    """The served latest result of the household the request names, or None when it does not apply:
    the members are not exactly one registered household at ``versions['persons']``, or no served
    version was computed from exactly ``versions`` with the models as they are now."""
    households = set(persons.column("household_no").to_pylist()) if persons.num_rows else set()
    if len(households) != 1 or set(persons.column("person_key").to_pylist()) != set(keys):
        return None
    household = households.pop()
    registered = index.rows("persons", versions["persons"], [household], column="household_no")
    if set(registered.column("person_key").to_pylist()) != set(keys):
        return None  # a member left out, or somebody else's
    state = index.state()
    if PROFILE not in state or REASONS not in state:
        return None
    key = built_from({"versions": canonical(versions), "definition": definition()})
    found = {name: index.version_built_from(name, key) for name in (PROFILE, REASONS)}
    if None in found.values():
        return None
    profile = index.rows(PROFILE, found[PROFILE], [household]).to_pylist()
    if len(profile) != 1:
        return None  # the household's latest month was not computed by that build
    reasons = index.rows(REASONS, found[REASONS], [household]).to_pylist()
    return profile, sorted(reasons, key=lambda r: (r["period"], r["reason_code"]))
