"""共享库 — outbound sharing (EX-4): what the platform gives other units, by agreement only.

An agreement (``exchange/sharing/*.yaml``, or ``$JIUZHU_SHARING_DIR``) names the unit, its area, the
purpose and legal basis, one dataset of the lake, the columns and how each is masked, the rows
(filters, newest month only or all), the frequency and the format. :func:`extract` writes exactly
that into the unit's outbox — ``<outbox>/<unit_code>/<agreement>/<run>/`` with the data file and a
``manifest.json`` (agreement, columns and masking, rows, the dataset's Delta version, SHA-256 of the
file) — and records the share in the audit trail. A column the agreement does not name is never
written: asking for one is refused (:class:`SharingError`), and so is an agreement that gives an
identifying column in clear without a legal basis.

Masking: ``clear`` (as stored), ``mask_id`` / ``mask_name`` / ``mask_phone`` (partly hidden, as on the
screens), ``pseudonym`` (HMAC-SM3 with the platform's key: the same person has the same key in every
month's extract, and no one without the key can reverse it), ``year`` (a date cut to its year).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import yaml
from deltalake import DeltaTable
from sqlalchemy.orm import Session

from jiuzhu import audit, lake, masking, regions
from jiuzhu.errors import CodedError

HERE = Path(__file__).resolve().parent / "sharing"
MASKS = ("clear", "mask_id", "mask_name", "mask_phone", "pseudonym", "year")
FORMATS = ("csv", "parquet", "jsonl")
FREQUENCIES = {"daily": "0 3 * * *", "weekly": "0 3 * * 1", "monthly": "0 3 22 * *"}
# columns that identify a person: never in clear unless the agreement states its legal basis
IDENTIFYING = {"person_id", "person_name", "phone", "address", "account_no", "household_no", "person_key"}
_REQUIRED = ("code", "unit", "unit_code", "region_code", "purpose", "legal_basis", "dataset", "columns", "frequency",
             "format")
SYSTEM = "system:sharing"


class SharingError(CodedError):
    """An agreement or an extract refused, with a Chinese message naming what is wrong."""


@dataclass(frozen=True)
class Agreement:
    code: str
    unit: str
    unit_code: str
    region_code: str
    purpose: str
    legal_basis: str
    dataset: str  # "<layer>/<area>/<table>" or "<layer>/<table>"
    columns: dict[str, str]  # column → masking, in the extract's order
    frequency: str
    format: str
    identify: bool = False
    latest_period: bool = False
    where: dict[str, list] = field(default_factory=dict)
    source_file: str = ""


def sharing_dir() -> Path:
    return Path(os.environ.get("JIUZHU_SHARING_DIR") or HERE)


def _agreement(data: dict, where: str) -> Agreement:
    label = f"{where}({data.get('code') or '未命名'})"
    missing = [k for k in _REQUIRED if not data.get(k)]
    if missing:
        raise SharingError("AGREEMENT_INCOMPLETE", f"{label}:缺少 {', '.join(missing)}")
    code = str(data["region_code"])
    tree = regions.load()
    full = code.ljust(12, "0")
    if not code.isdigit() or len(code) != 6 or full not in tree or tree.get(full).level > 3:
        raise SharingError("AGREEMENT_REGION", f"{label}:region_code {code} 不是省、市或县的区划代码")
    if data["format"] not in FORMATS:
        raise SharingError("AGREEMENT_FORMAT", f"{label}:format 只能是 {'、'.join(FORMATS)}")
    if data["frequency"] not in FREQUENCIES:
        raise SharingError("AGREEMENT_FREQUENCY", f"{label}:frequency 只能是 {'、'.join(FREQUENCIES)}")
    columns = data["columns"]
    if not isinstance(columns, dict) or not columns:
        raise SharingError("AGREEMENT_COLUMNS", f"{label}:columns 须逐列写明脱敏方式")
    for column, how in columns.items():
        if how not in MASKS:
            raise SharingError("AGREEMENT_MASK", f"{label}:字段 {column} 的脱敏方式“{how}”无效(可选 {'、'.join(MASKS)})")
        if column in IDENTIFYING and how == "clear" and len(str(data["legal_basis"]).strip()) < 8:
            raise SharingError("AGREEMENT_CLEAR_ID", f"{label}:字段 {column} 明文共享须写明法律依据")
    return Agreement(code=data["code"], unit=data["unit"], unit_code=data["unit_code"], region_code=code,
                     purpose=data["purpose"], legal_basis=data["legal_basis"], dataset=data["dataset"],
                     columns=dict(columns), frequency=data["frequency"], format=data["format"],
                     identify=bool(data.get("identify")), latest_period=bool(data.get("latest_period")),
                     where={k: list(v) for k, v in (data.get("where") or {}).items()}, source_file=where)


def load(directory: Path | None = None) -> list[Agreement]:
    """Every agreement of the directory, validated; two with one code are refused."""
    found = []
    for path in sorted(Path(directory or sharing_dir()).glob("*.yaml")):
        data = yaml.safe_load(path.read_text("utf-8")) or {}
        found.append(_agreement(data, path.name))
    codes = [a.code for a in found]
    twice = sorted({c for c in codes if codes.count(c) > 1})
    if twice:
        raise SharingError("AGREEMENT_DUPLICATE", f"共享协议编号重复:{', '.join(twice)}")
    return found


def get(code: str, directory: Path | None = None) -> Agreement:
    for a in load(directory):
        if a.code == code:
            return a
    raise SharingError("AGREEMENT_UNKNOWN", f"没有编号为 {code} 的共享协议")


def _dataset_path(lake_root: Path, dataset: str) -> Path:
    parts = dataset.split("/")
    if parts[0] not in ("silver", "gold") or len(parts) not in (2, 3):
        raise SharingError("DATASET_INVALID", f"数据集“{dataset}”应写作 silver/<表> 或 gold/<主题>/<表>")
    return lake.table_path(lake_root, *parts) if len(parts) == 3 else lake.table_path(lake_root, parts[0], parts[1])


def _masked(series: pl.Series, how: str) -> pl.Series:
    if how == "clear":
        return series
    if how == "year":
        return series.cast(pl.String).str.slice(0, 4)
    fn = {"mask_id": masking.mask_id, "mask_name": masking.mask_name, "mask_phone": masking.mask_phone,
          "pseudonym": lambda v: masking.pseudonym(str(v))}[how]
    return series.cast(pl.String).map_elements(lambda v: None if v is None else fn(v), return_dtype=pl.String)


@dataclass(frozen=True)
class Extract:
    agreement: str
    unit_code: str
    run: str
    path: Path
    manifest: dict


def extract(agreement: Agreement, lake_root: Path, outbox: Path, session: Session, *,
            columns: list[str] | None = None, clock: audit.Clock = audit.utc_now) -> Extract:
    """Write the agreement's extract into the unit's outbox and audit it. ``columns`` (a subset of
    the agreement's) narrows it; a column the agreement does not name is refused."""
    wanted = list(columns) if columns is not None else list(agreement.columns)
    extra = [c for c in wanted if c not in agreement.columns]
    if extra:
        audit.record(session, actor=SYSTEM, action="sharing_extract", outcome="denied",
                     detail={"agreement": agreement.code, "refused_columns": extra}, clock=clock)
        raise SharingError("COLUMN_NOT_AGREED", f"共享协议 {agreement.code} 未约定字段:{'、'.join(extra)},不予共享")
    path = _dataset_path(lake_root, agreement.dataset)
    if not lake.exists(path):
        raise SharingError("DATASET_MISSING", f"数据集 {agreement.dataset} 尚未生成")
    table = DeltaTable(str(path))
    version = table.version()
    frame = pl.from_arrow(table.to_pyarrow_table())
    if agreement.identify:
        persons = pl.from_arrow(DeltaTable(str(lake.table_path(lake_root, "silver", "persons"))).to_pyarrow_table(
            columns=["person_key", "person_id", "person_name"])).unique("person_key")
        frame = frame.join(persons, on="person_key", how="left")
    unknown = [c for c in wanted if c not in frame.columns]
    if unknown:
        raise SharingError("COLUMN_MISSING", f"数据集 {agreement.dataset} 没有字段:{'、'.join(unknown)}")
    region_column = next((c for c in ("region_code", "county_code", "township_code") if c in frame.columns), None)
    if region_column is not None and agreement.region_code != "510000":
        prefix = agreement.region_code[:4] if agreement.region_code.endswith("00") else agreement.region_code
        frame = frame.filter(pl.col(region_column).cast(pl.String).str.starts_with(prefix))
    for column, values in agreement.where.items():
        if column not in frame.columns:
            raise SharingError("COLUMN_MISSING", f"数据集 {agreement.dataset} 没有筛选字段:{column}")
        frame = frame.filter(pl.col(column).is_in(values))
    period = None
    if agreement.latest_period and "period" in frame.columns and frame.height:
        period = frame.get_column("period").max()
        frame = frame.filter(pl.col("period") == period)
    shared = frame.select([_masked(frame.get_column(c), agreement.columns[c]).alias(c) for c in wanted])
    now = clock()
    run = now.strftime("%Y%m%dT%H%M%SZ")
    folder = Path(outbox) / agreement.unit_code / agreement.code / run
    folder.mkdir(parents=True, exist_ok=True)
    data_file = folder / f"{agreement.code}.{agreement.format}"
    if agreement.format == "csv":
        shared.with_columns([pl.col(c).map_elements(masking.safe_cell, return_dtype=pl.String)
                             for c, t in shared.schema.items() if t == pl.String]).write_csv(data_file)
    elif agreement.format == "parquet":
        pq.write_table(shared.to_arrow(), data_file)
    else:
        shared.write_ndjson(data_file)
    digest = hashlib.sha256(data_file.read_bytes()).hexdigest()
    manifest = {"agreement": agreement.code, "unit": agreement.unit, "unit_code": agreement.unit_code,
                "purpose": agreement.purpose, "legal_basis": agreement.legal_basis, "dataset": agreement.dataset,
                "dataset_version": version, "period": period,
                "columns": [{"name": c, "masking": agreement.columns[c]} for c in wanted], "rows": shared.height,
                "file": data_file.name, "format": agreement.format, "sha256": digest,
                "generated_at": now.isoformat()}
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    audit.record(session, actor=SYSTEM, action="sharing_extract", outcome="success",
                 detail={"agreement": agreement.code, "unit_code": agreement.unit_code, "rows": shared.height,
                         "columns": wanted, "dataset_version": version, "sha256": digest, "run": run}, clock=clock)
    return Extract(agreement.code, agreement.unit_code, run, data_file, manifest)


def extracts(outbox: Path) -> list[dict]:
    """Every extract in the outbox (newest first), from the manifests: what was shared with whom."""
    found = []
    for manifest in Path(outbox).glob("*/*/*/manifest.json"):
        m = json.loads(manifest.read_text("utf-8"))
        file = manifest.parent / m["file"]
        intact = file.exists() and hashlib.sha256(file.read_bytes()).hexdigest() == m["sha256"]
        found.append({**m, "run": manifest.parent.name, "intact": intact})
    return sorted(found, key=lambda m: m["generated_at"], reverse=True)


def outbox_root(home: Path) -> Path:
    return Path(home) / "outbox"

