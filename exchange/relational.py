"""Relational sources (EX-7): a department whose data sits in a relational database is pulled, not
dropped into the inbox.

A source is data (``exchange/sources/<department>.yaml``): the environment variable that holds the
connection URL (a secret, never in the file), the database's dialect, and one query written once
in a generic SQL that selects the contract's source columns and a change-time column, filtered by
``:since``. The query is rendered for the source's dialect by sqlglot (PostgreSQL, MySQL/MariaDB,
Oracle: golden files in the tests), with the placeholder in the driver's own parameter style.

``pull`` reads the rows changed since the last watermark and writes them into the inbox as
ordinary deliveries (one batch per month, the contract's format, a manifest with checksums), so
the same ingestion validates, quarantines, receipts and conforms them. The watermark (the newest
change time pulled, and hashes of the rows at exactly that time, since a later commit may carry
the same time) is kept beside the department's bronze tables and advanced only after the batches
are written: a crash re-pulls, and the ingestion recognises a re-delivered batch by its content.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import sqlglot
import yaml
from sqlglot import exp

from jiuzhu import lake
from jiuzhu.errors import CodedError
from jiuzhu.supervision import BEIJING
from schemas import contracts

SOURCES_DIR = Path(__file__).with_name("sources")
DIALECTS = {"postgres": "postgres", "mysql": "mysql", "mariadb": "mysql", "oracle": "oracle"}
# how each driver family writes a named parameter (psycopg and PyMySQL: pyformat; python-oracledb: named)
PARAMSTYLE = {"postgres": "pyformat", "mysql": "pyformat", "oracle": "named"}
EPOCH = _dt.datetime(1970, 1, 1)


class SourceError(CodedError):
    pass


@dataclass(frozen=True)
class RelationalSource:
    department: str
    connection_env: str
    dialect: str
    query: str  # generic SQL with :since
    watermark: str  # the change-time column of the query
    period: str  # the column holding the delivery month (YYYYMM)
    description: str = ""

    def url(self) -> str:
        url = os.environ.get(self.connection_env, "").strip()
        if not url:
            raise SourceError("SOURCE_URL_MISSING", f"未配置{self.department}数据库连接(环境变量 {self.connection_env})")
        return url


def load(department: str, directory: Path = SOURCES_DIR) -> RelationalSource:
    path = directory / f"{department}.yaml"
    if not path.exists():
        raise SourceError("SOURCE_UNKNOWN", f"没有共享单位 {department} 的关系型数据源定义")
    spec = yaml.safe_load(path.read_text("utf-8"))
    dialect = str(spec.get("dialect", "")).lower()
    if dialect not in DIALECTS:
        raise SourceError("SOURCE_DIALECT", f"不支持的数据库类型:{dialect}(可选:{'、'.join(DIALECTS)})")
    source = RelationalSource(department=spec["department"], connection_env=spec["connection_env"], dialect=dialect,
                              query=spec["query"], watermark=spec["watermark"], period=spec["period"],
                              description=spec.get("description", ""))
    contract = contracts.latest(source.department)
    wanted = {f.source for f in contract.fields}
    selected = set(columns(source))
    missing = sorted(wanted - selected)
    if missing or source.watermark not in selected or source.period not in selected:
        raise SourceError("SOURCE_COLUMNS", f"查询未选出契约要求的列:{'、'.join(missing) or source.watermark}")
    return source


def all_sources(directory: Path = SOURCES_DIR) -> list[RelationalSource]:
    return [load(p.stem, directory) for p in sorted(directory.glob("*.yaml"))]


def columns(source: RelationalSource) -> list[str]:
    """The output column names of the source's query (aliases as written)."""
    return [e.alias_or_name for e in sqlglot.parse_one(source.query).expressions]


def render(source: RelationalSource, dialect: str | None = None) -> str:
    """The query in the source's (or the given) dialect, ``:since`` in its driver's parameter style."""
    target = DIALECTS[(dialect or source.dialect).lower()]
    style = PARAMSTYLE[target]

    def placeholder(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            name = node.name
            return exp.var(f"%({name})s" if style == "pyformat" else f":{name}")
        return node

    tree = sqlglot.parse_one(source.query).transform(placeholder)
    return tree.sql(dialect=target, pretty=True)


# --- the watermark --------------------------------------------------------------------------------


def _state_path(lake_root: Path, department: str) -> Path:
    return lake.table_path(lake_root, "bronze", department, "_relational_watermark.json")


def watermark(lake_root: Path, department: str) -> dict:
    path = _state_path(lake_root, department)
    if not path.exists():
        return {"since": None, "hashes_at_since": []}
    return json.loads(path.read_text("utf-8"))


def _save_watermark(lake_root: Path, department: str, state: dict) -> None:
    path = _state_path(lake_root, department)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1), "utf-8")
    tmp.replace(path)


def _naive_utc(value) -> _dt.datetime:
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value)
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        value = _dt.datetime.combine(value, _dt.time())
    if value.tzinfo is not None:
        value = value.astimezone(_dt.UTC).replace(tzinfo=None)
    return value


def _row_hash(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


# --- the pull -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PullResult:
    department: str
    rows: int
    batches: list[str]  # inbox folders written
    since: str | None
    watermark: str | None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    return str(value)


def pull(source: RelationalSource, engine, inbox: Path, lake_root: Path, *,
         now: _dt.datetime | None = None) -> PullResult:
    """Rows changed since the watermark, written as deliveries into ``inbox/<department>/``."""
    now = now or _dt.datetime.now(_dt.UTC)
    state = watermark(lake_root, source.department)
    since = _naive_utc(state["since"]) if state["since"] else EPOCH
    seen = set(state.get("hashes_at_since", []))
    contract = contracts.latest(source.department)
    fields = [f.source for f in contract.fields]
    sql = render(source)
    with engine.connect() as conn:
        result = conn.exec_driver_sql(sql, {"since": since})
        names = list(result.keys())
        fetched = [dict(zip(names, r, strict=True)) for r in result]
    rows = []
    for row in fetched:
        changed = _naive_utc(row[source.watermark])
        clean = {k: _text(row[k]) for k in fields}
        if changed == since and _row_hash(clean) in seen:
            continue  # pulled last time, at the watermark itself
        rows.append((changed, str(row[source.period]).replace("-", "")[:6], clean))
    if not rows:
        return PullResult(source.department, 0, [], state["since"], state["since"])
    by_period: dict[str, list[dict]] = {}
    for _, period, clean in rows:
        by_period.setdefault(period, []).append(clean)
    stamp = now.astimezone(BEIJING)
    written = []
    for period, items in sorted(by_period.items()):
        folder = inbox / source.department / f"{source.department}-{period}-pull{stamp:%Y%m%d%H%M%S}"
        written.append(str(folder))
        _write_batch(folder, source, contract, period, fields, items, stamp)
    newest = max(c for c, _, _ in rows)
    at_newest = [_row_hash(clean) for c, _, clean in rows if c == newest]
    if newest == since:
        at_newest = sorted(seen | set(at_newest))
    _save_watermark(lake_root, source.department, {"since": newest.isoformat(), "hashes_at_since": sorted(at_newest),
                                                   "pulled_at": now.isoformat()})
    return PullResult(source.department, len(rows), written, state["since"], newest.isoformat())


def _write_batch(folder: Path, source: RelationalSource, contract, period: str, fields: list[str], items: list[dict],
                 stamp: _dt.datetime) -> None:
    """One delivery in the contract's own format, as a department would drop it."""
    fmt, encoding = contract.delivery["format"], contract.delivery.get("encoding", "utf-8")
    if fmt != "csv":
        raise SourceError("SOURCE_FORMAT", f"关系型数据源暂只写出 CSV 交付,契约要求 {fmt}")
    folder.mkdir(parents=True, exist_ok=False)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writeheader()
    writer.writerows(items)
    data = buffer.getvalue().encode(encoding)
    name = f"{source.department}_{period}.csv"
    (folder / name).write_bytes(data)
    year, month = int(period[:4]), int(period[4:])
    manifest = {
        "department": source.department, "department_name": contract.name, "department_code": contract.code,
        "batch_id": folder.name, "contract_version": contract.version, "period": f"{year:04d}-{month:02d}",
        "extract_date": stamp.date().isoformat(), "delivered_at": stamp.isoformat(timespec="seconds"),
        "format": fmt, "encoding": encoding, "amount_unit": contract.delivery.get("amount_unit", "yuan"),
        "record_count": len(items), "source": "relational",
        "files": [{"name": name, "records": len(items), "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
