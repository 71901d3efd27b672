"""纵向同步 — vertical sync between data centres (EX-5): a county's (or city's) slice of the province's
silver and gold tables, sent as incremental packages and applied on the receiving node.

Export (province node): for each table, the region's rows at the table's current Delta version are
compared with its rows at the version the node last acknowledged (time travel): rows that appeared
are sent, rows that disappeared are sent as their SHA-256 (a changed row is one of each). The slice of
a table with a region column is its own rows; a person-keyed table's slice is the rows of the persons
registered in the region (the registry at the same version). The package folder holds one Parquet
file of inserts and one of deletes per table and ``manifest.json`` with each file's SHA-256 and the
versions, signed with the platform's Ed25519 key.

Import (the county node): the signature and every checksum are verified first — a tampered package
is refused whole; a table already at the package's version is left alone (replaying a package
changes nothing); a table not at the package's starting version is refused (a package was missed);
otherwise the deletes are removed and the inserts appended. The node's state (the version of each
table it holds) is what it acknowledges back, and what the next export starts from.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.exceptions import InvalidSignature
from deltalake import DeltaTable

from jiuzhu import audit, lake, regions
from jiuzhu.errors import CodedError

FORMAT = "jiuzhu-sync/1"
REFERENCE = {"regions", "policy_standards", "policy_asset_limits"}  # the same everywhere: not sliced
REGION_COLUMNS = ("region_code", "county_code", "township_code")
HASH = "_row_sha256"


class SyncError(CodedError):
    """A package refused, with a Chinese message."""


def _tables(lake_root: Path) -> dict[str, Path]:
    """Every silver and gold table of a lake, by its path under the lake (``silver/persons``)."""
    found = {}
    for layer in ("silver", "gold"):
        base = Path(lake_root) / layer
        if not base.is_dir():
            continue
        for log in sorted(base.rglob("_delta_log")):
            name = log.parent.relative_to(lake_root).as_posix()
            if log.parent.name not in REFERENCE:
                found[name] = log.parent
    return found


def _prefix(region_code: str) -> str:
    code = regions.normalise_code(region_code)
    level = regions.level_of_code(code)
    if level not in (2, 3):
        raise SyncError("REGION_LEVEL", "纵向同步以市(州)或县(市、区)为单位")
    return code[:regions.LEVEL_DIGITS[level]]


def _row_hashes(frame: pl.DataFrame) -> pl.Series:
    rows = frame.select(sorted(frame.columns)).to_dicts()
    return pl.Series(HASH, [hashlib.sha256(json.dumps(r, ensure_ascii=False, sort_keys=True, default=str)
                                           .encode("utf-8")).hexdigest() for r in rows], dtype=pl.String)


def _persons_in(lake_root: Path, prefix: str, version: int | None) -> set[int]:
    path = lake.table_path(lake_root, "silver", "persons")
    if not lake.exists(path):
        return set()
    t = DeltaTable(str(path), version=version) if version is not None else DeltaTable(str(path))
    frame = pl.from_arrow(t.to_pyarrow_table(columns=["person_key", "region_code"]))
    return set(frame.filter(pl.col("region_code").cast(pl.String).str.starts_with(prefix))["person_key"].to_list())


def _slice(path: Path, version: int, prefix: str, persons_version: int | None, lake_root: Path) -> pl.DataFrame:
    frame = pl.from_arrow(DeltaTable(str(path), version=version).to_pyarrow_table())
    column = next((c for c in REGION_COLUMNS if c in frame.columns), None)
    if column is not None:
        return frame.filter(pl.col(column).cast(pl.String).str.starts_with(prefix))
    if "person_key" in frame.columns:
        keys = _persons_in(lake_root, prefix, persons_version)
        return frame.filter(pl.col("person_key").is_in(list(keys)))
    return frame.head(0)  # neither a region nor a person: nothing of it belongs to one region


def _version_at_or_before(path: Path, version: int | None) -> int | None:
    return None if version is None else min(version, DeltaTable(str(path)).version())


@dataclass(frozen=True)
class Package:
    folder: Path
    manifest: dict


def export(lake_root: Path, region_code: str, out_dir: Path, *, signer, acknowledged: dict[str, int] | None = None,
           clock: audit.Clock = audit.utc_now) -> Package:
    """The package bringing a node that holds ``acknowledged`` (table → version) up to now, signed by
    ``signer`` (``verification.signing.load_signer()``: the platform's Ed25519 key)."""
    prefix = _prefix(region_code)
    acknowledged = acknowledged or {}
    now = clock()
    persons_path = lake.table_path(lake_root, "silver", "persons")
    persons_now = DeltaTable(str(persons_path)).version() if lake.exists(persons_path) else None
    folder = Path(out_dir) / f"sync-{prefix}-{now.strftime('%Y%m%dT%H%M%SZ')}"
    folder.mkdir(parents=True, exist_ok=False)
    tables = {}
    for name, path in _tables(lake_root).items():
        to_version = DeltaTable(str(path)).version()
        from_version = acknowledged.get(name)
        if from_version == to_version:
            continue
        now_rows = _slice(path, to_version, prefix, persons_now, lake_root)
        now_rows = now_rows.with_columns(_row_hashes(now_rows))
        if from_version is None:
            before = set()
        else:
            before_rows = _slice(path, from_version, prefix, _version_at_or_before(persons_path, acknowledged.get(
                "silver/persons")), lake_root)
            before = set(_row_hashes(before_rows).to_list())
        inserts = now_rows.filter(~pl.col(HASH).is_in(list(before)))
        deletes = sorted(before - set(now_rows[HASH].to_list()))
        safe = name.replace("/", "__")
        files = {}
        for kind, data in (("inserts", inserts.drop(HASH).to_arrow()),
                           ("deletes", pa.table({HASH: pa.array(deletes, pa.string())}))):
            file = folder / f"{safe}.{kind}.parquet"
            pq.write_table(data, file)
            files[kind] = {"file": file.name, "rows": data.num_rows, "sha256": hashlib.sha256(file.read_bytes()).hexdigest()}
        tables[name] = {"from_version": from_version, "to_version": to_version, **files}
    manifest = {"format": FORMAT, "region": prefix, "created_at": now.isoformat(), "key_id": signer.key_id,
                "tables": tables}
    body = json.dumps(manifest, ensure_ascii=False, sort_keys=True)
    (folder / "manifest.json").write_text(body, "utf-8")
    (folder / "manifest.sig").write_text(signer.sign_text(body), "utf-8")
    return Package(folder, manifest)


STATE = "_sync/state.json"


def node_state(node_lake: Path) -> dict[str, int]:
    """The version of each table the node holds (what it acknowledges to the province)."""
    path = Path(node_lake) / STATE
    return json.loads(path.read_text("utf-8"))["tables"] if path.exists() else {}


def _save_state(node_lake: Path, state: dict[str, int], region: str) -> None:
    path = Path(node_lake) / STATE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"region": region, "tables": state}, ensure_ascii=False, sort_keys=True), "utf-8")


def verify(folder: Path, keys: dict) -> dict:
    """The package's manifest, after its signature (against ``keys``: key id → Ed25519 public key, as
    ``verification.signing.trusted_keys()`` gives them) and every file's checksum were checked."""
    folder = Path(folder)
    try:
        body = (folder / "manifest.json").read_text("utf-8")
        signature = base64.b64decode((folder / "manifest.sig").read_text("utf-8"))
        manifest = json.loads(body)
    except (OSError, ValueError) as exc:
        raise SyncError("PACKAGE_INVALID", f"同步包不完整或无法读取:{exc}") from None
    if manifest.get("format") != FORMAT:
        raise SyncError("PACKAGE_INVALID", "不是本平台的同步包")
    public = keys.get(manifest.get("key_id"))
    if public is None:
        raise SyncError("PACKAGE_UNTRUSTED", f"同步包的签名密钥 {manifest.get('key_id')} 不在信任列表中")
    try:
        public.verify(signature, body.encode("utf-8"))
    except InvalidSignature:
        raise SyncError("PACKAGE_TAMPERED", "同步包清单的签名校验失败:清单已被改动") from None
    for name, entry in manifest["tables"].items():
        for kind in ("inserts", "deletes"):
            file = folder / entry[kind]["file"]
            if not file.exists() or hashlib.sha256(file.read_bytes()).hexdigest() != entry[kind]["sha256"]:
                raise SyncError("PACKAGE_TAMPERED", f"同步包文件 {entry[kind]['file']}({name})校验值不符:已被改动或缺失")
    return manifest


@dataclass
class Applied:
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already at the package's version
    state: dict[str, int] = field(default_factory=dict)


def apply(node_lake: Path, folder: Path, *, keys: dict) -> Applied:
    """Apply a verified package to the node, idempotently (see the module)."""
    manifest = verify(folder, keys)
    state = node_state(node_lake)
    result = Applied()
    for name, entry in sorted(manifest["tables"].items()):
        held = state.get(name)
        if held == entry["to_version"]:
            result.skipped.append(name)
            continue
        if held != entry["from_version"]:
            raise SyncError("PACKAGE_GAP", f"{name}:本节点为第{held}版,同步包从第{entry['from_version']}版开始,"
                                           "请先导入之前的同步包")
    for name, entry in sorted(manifest["tables"].items()):
        if name in result.skipped:
            continue
        path = Path(node_lake) / name
        inserts = pl.read_parquet(Path(folder) / entry["inserts"]["file"])
        gone = set(pl.read_parquet(Path(folder) / entry["deletes"]["file"])[HASH].to_list())
        if lake.exists(path):
            current = pl.from_arrow(DeltaTable(str(path)).to_pyarrow_table())
            if gone:
                current = current.filter(~_row_hashes(current).is_in(list(gone)))
            merged = pl.concat([current, inserts.select(current.columns)], how="vertical_relaxed") if inserts.height \
                else current
        else:
            merged = inserts
        lake.write(path, merged.to_arrow())
        state[name] = entry["to_version"]
        result.applied.append(name)
    _save_state(node_lake, state, manifest["region"])
    result.state = state
    return result
