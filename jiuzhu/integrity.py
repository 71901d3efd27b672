"""Integrity of the lake's data files (DR-5): Delta does not verify what a Parquet file holds, so a
swapped or edited file reads silently with forged values (shared SECURITY.md). Every data file a
Delta log adds is recorded with its SHA-256 and size in a manifest kept outside the lake
(``$JIUZHU_INTEGRITY``, default ``integrity/`` beside the lake directory); ``check`` finds files that
were altered or swapped (checksum or size differs), are missing (in the log, not on disk), are extra
(on disk, in no log) or not yet sealed.

``seal`` records the files of the versions committed since the last seal; ``jiuzhu.lake.write``
seals the table it wrote, and the Dagster job ``integrity`` seals what the other writers added and
then checks everything (a finding fails its asset check: the alert).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

ENV = "JIUZHU_INTEGRITY"
CODES_ZH = {"ALTERED": "文件内容被改动或替换(校验值不符)", "MISSING": "数据文件缺失", "EXTRA": "多出未登记的数据文件",
            "UNSEALED": "新写入的数据文件尚未登记校验值"}


@dataclass(frozen=True)
class Finding:
    code: str
    table: str  # relative to the lake root
    file: str  # relative to the table
    message_zh: str


def manifest_root(lake_root: Path) -> Path:
    return Path(os.environ.get(ENV) or Path(lake_root).resolve().parent / "integrity")


def tables(lake_root: Path) -> list[Path]:
    """Every Delta table under the lake root (a directory holding ``_delta_log``)."""
    found = []
    for dirpath, dirnames, _ in os.walk(lake_root):
        if "_delta_log" in dirnames:
            found.append(Path(dirpath))
            dirnames[:] = []  # a table's partitions are not tables
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
    return sorted(found)


def delta_log(table: Path, after: int = -1) -> tuple[dict[str, int], set[str], int]:
    """Files added (with the version) and removed by the table's JSON commits after version
    ``after`` (all by default), and the last version."""
    added: dict[str, int] = {}
    removed: set[str] = set()
    last = -1
    log = table / "_delta_log"
    for name in sorted(os.listdir(log)):
        if not (name.endswith(".json") and name[:-5].isdigit()):
            continue
        version = int(name[:-5])
        last = max(last, version)
        if version <= after:
            continue
        for line in (log / name).read_text("utf-8").splitlines():
            if '"add"' in line or '"remove"' in line:
                action = json.loads(line)
                if "add" in action:
                    added[unquote(action["add"]["path"])] = version
                elif "remove" in action:
                    removed.add(unquote(action["remove"]["path"]))
    return added, removed, last


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _manifest_file(lake_root: Path, table: Path) -> Path:
    rel = table.resolve().relative_to(Path(lake_root).resolve())
    return manifest_root(lake_root) / rel / "manifest.json"


def _load(path: Path) -> dict:
    return json.loads(path.read_text("utf-8")) if path.exists() else {"sealed_version": -1, "files": {}}


def seal_table(lake_root: Path, table: Path) -> int:
    """Record the files added since the last seal; returns how many were recorded."""
    target = _manifest_file(lake_root, table)
    manifest = _load(target)
    added, _, last = delta_log(table, after=manifest["sealed_version"])  # only the commits since the last seal
    new = 0
    for rel, version in added.items():
        if rel in manifest["files"]:
            continue
        f = table / rel
        if not f.exists():
            continue  # a file the log adds but the disk lacks is reported by check, not sealed
        manifest["files"][rel] = {"sha256": sha256_file(f), "size": f.stat().st_size, "version": version}
        new += 1
    manifest["sealed_version"] = last
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, sort_keys=True), "utf-8")
    tmp.replace(target)
    return new


def seal(lake_root: Path) -> dict[str, int]:
    return {str(t.relative_to(lake_root)): seal_table(lake_root, t) for t in tables(lake_root)}


def _data_files(table: Path) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(table):
        dirnames[:] = [d for d in dirnames if d not in ("_delta_log", "_change_data")]
        for name in filenames:
            if name.endswith(".parquet"):
                out.add(str((Path(dirpath) / name).relative_to(table)))
    return out


def check(lake_root: Path) -> list[Finding]:
    findings = []
    for table in tables(lake_root):
        name = str(table.relative_to(lake_root))
        manifest = _load(_manifest_file(lake_root, table))
        added, removed, _ = delta_log(table)
        on_disk = _data_files(table)
        for rel in sorted(on_disk - set(added)):
            findings.append(Finding("EXTRA", name, rel, CODES_ZH["EXTRA"]))
        for rel in sorted(set(added) - removed - on_disk):
            findings.append(Finding("MISSING", name, rel, CODES_ZH["MISSING"]))
        for rel in sorted(on_disk & set(added)):
            entry = manifest["files"].get(rel)
            if entry is None:
                findings.append(Finding("UNSEALED", name, rel, CODES_ZH["UNSEALED"]))
                continue
            f = table / rel
            if f.stat().st_size != entry["size"] or sha256_file(f) != entry["sha256"]:
                findings.append(Finding("ALTERED", name, rel, CODES_ZH["ALTERED"]))
    return findings
