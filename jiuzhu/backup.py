"""Backups and restore drills (DR-5, SC-6: 数据应异地备份,并具有应急和灾难恢复措施).

``backup(lake, home, dest)`` writes one backup under ``dest/backups/<UTC timestamp>/`` with a
manifest: every Delta table of the lake at its current version (the log up to that version and the
files of that snapshot — so the copy is consistent even while jobs write), the business database
(SQLite's online backup; ``pg_dump`` for PostgreSQL), the audit chain head, and the Dagster instance.
Data files are stored once, by SHA-256, in ``dest/objects/`` — a second backup copies only what is
new (incremental). ``prune`` keeps the newest N backups and removes objects none of them uses.

The location is a path or a URI ``pyarrow.fs`` opens (``s3://bucket/jiuzhu`` in production).
``restore(location, target, stamp=None, verify=True)`` rebuilds the lake and the business database in an
empty place and proves them equal to the backup: per table the version, the row count (read back
with deltalake) and every file's checksum; the audit chain verified against its backed-up head. The
drill report (Markdown, dated) is written into the target.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from jiuzhu import integrity

FORMAT = 1


class BackupError(RuntimeError):
    """A backup or restore that cannot be made (the message is in Chinese)."""


class Store:
    """The backup location: a path, or any URI ``pyarrow.fs`` opens (``file://``, ``s3://``, ``gs://``,
    ``hdfs://`` …) — one code path for both, through the ``pyarrow.fs`` interface."""

    def __init__(self, location: str | Path):
        import pyarrow.fs as pafs

        self._pafs = pafs
        text = str(location)
        if "://" in text:
            self.fs, self.root = pafs.FileSystem.from_uri(text)
        else:
            self.fs, self.root = pafs.LocalFileSystem(), str(Path(text).resolve())
        self.location = text
        self.local = isinstance(self.fs, pafs.LocalFileSystem)

    def path(self, rel: str) -> str:
        return f"{self.root.rstrip('/')}/{rel}" if rel else self.root

    def exists(self, rel: str) -> bool:
        return self.fs.get_file_info(self.path(rel)).type != self._pafs.FileType.NotFound

    def put(self, local: Path, rel: str) -> None:
        target = self.path(rel)
        self.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
        tmp = target + ".partial"
        with open(local, "rb") as src, self.fs.open_output_stream(tmp) as out:
            shutil.copyfileobj(src, out, 1 << 20)
        self.fs.move(tmp, target)

    def get(self, rel: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        with self.fs.open_input_stream(self.path(rel)) as src, open(local, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)

    def write_text(self, rel: str, text: str) -> None:
        target = self.path(rel)
        self.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
        with self.fs.open_output_stream(target) as out:
            out.write(text.encode("utf-8"))

    def read_text(self, rel: str) -> str:
        with self.fs.open_input_stream(self.path(rel)) as src:
            return src.read().decode("utf-8")

    def children(self, rel: str) -> list[str]:
        if not self.exists(rel):
            return []
        infos = self.fs.get_file_info(self._pafs.FileSelector(self.path(rel)))
        return sorted(i.base_name for i in infos)

    def files(self, rel: str) -> list[str]:
        if not self.exists(rel):
            return []
        infos = self.fs.get_file_info(self._pafs.FileSelector(self.path(rel), recursive=True))
        return sorted(i.path for i in infos if i.type == self._pafs.FileType.File)

    def delete_dir(self, rel: str) -> None:
        self.fs.delete_dir(self.path(rel))


def _store(store: Store, path: Path) -> tuple[str, bool]:
    """Put a file into the object store; returns its digest and whether it was new."""
    digest = integrity.sha256_file(path)
    rel = f"objects/{digest[:2]}/{digest}"
    if store.exists(rel):
        return digest, False
    store.put(path, rel)
    return digest, True


def _snapshot(table: Path) -> tuple[int, int, list[str], list[str]]:
    """The table's current version and row count, its log files up to it, and every data file those versions added
    that is still on disk (the current snapshot's and the older versions' not yet vacuumed: time
    travel, and so the regeneration of an old report, works on the restored lake too)."""
    from deltalake import DeltaTable

    dt = DeltaTable(str(table))
    version = dt.version()
    log = table / "_delta_log"
    logs = []
    for name in sorted(os.listdir(log)):
        stem = name.split(".")[0]
        if stem.isdigit() and int(stem) <= version and name.endswith((".json", ".checkpoint.parquet")):
            logs.append(f"_delta_log/{name}")
    added, _, _ = integrity.delta_log(table)
    kept = {rel for rel, v in added.items() if v <= version and (table / rel).exists()}
    # the snapshot's own files too, should older commits live only in a checkpoint
    kept |= {os.path.relpath(unquote(urlparse(u).path), table.resolve()) for u in dt.file_uris() if u.startswith("file:")}
    return version, dt.to_pyarrow_dataset().count_rows(), logs, sorted(kept)


def _sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _backup_business(url: str, out: Path) -> dict:
    db_file = _sqlite_path(url)
    if db_file is not None:
        if not db_file.exists():
            return {"kind": "none"}
        src = sqlite3.connect(str(db_file))
        dst = sqlite3.connect(str(out / "business.sqlite"))
        with dst:
            src.backup(dst)  # the online backup API: consistent while others write
        src.close()
        dst.close()
        return {"kind": "sqlite", "file": "business.sqlite", "sha256": integrity.sha256_file(out / "business.sqlite")}
    if url.startswith("postgresql"):
        from sqlalchemy.engine import make_url

        u = make_url(url)
        env = {**os.environ, **({"PGPASSWORD": u.password} if u.password else {})}
        cmd = ["pg_dump", "--format=custom", "--no-owner", "-f", str(out / "business.dump"), "-h", u.host or "127.0.0.1",
               "-p", str(u.port or 5432), "-U", u.username or "postgres", u.database]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode:
            raise BackupError(f"业务库备份失败(pg_dump):{proc.stderr.strip()[-300:]}")
        return {"kind": "postgresql", "file": "business.dump", "sha256": integrity.sha256_file(out / "business.dump")}
    raise BackupError(f"不支持的业务库类型:{url.split(':')[0]}")


@dataclass
class BackupResult:
    path: str  # the backup's folder in the location (a path or a URI)
    tables: int
    files: int
    new_objects: int
    bytes_new: int


def backup(lake_root: Path, home: Path, dest: str | Path, *, business_url: str, dagster_home: Path | None = None,
           clock=lambda: _dt.datetime.now(_dt.UTC)) -> BackupResult:
    import tempfile

    lake_root = Path(lake_root)
    store = Store(dest)
    if store.local and Path(store.root).is_relative_to(lake_root.resolve()):
        raise BackupError("备份位置不能在数据湖目录之内")
    stamp = clock().strftime("%Y%m%dT%H%M%S%fZ")
    base = f"backups/{stamp}"
    if store.exists(base):
        raise BackupError(f"备份 {stamp} 已存在")
    manifest = {"format": FORMAT, "created_at": clock().isoformat(timespec="seconds"), "tables": {}}
    files = new = bytes_new = 0
    for table in integrity.tables(lake_root):
        version, rows, logs, data = _snapshot(table)
        entry = {"version": version, "rows": rows, "files": {}}
        for rel in logs + data:
            digest, fresh = _store(store, table / rel)
            entry["files"][rel] = digest
            files += 1
            if fresh:
                new += 1
                bytes_new += (table / rel).stat().st_size
        manifest["tables"][str(table.relative_to(lake_root))] = entry
    with tempfile.TemporaryDirectory(prefix="jiuzhu-backup-") as tmp:
        manifest["business"] = _backup_business(business_url, Path(tmp))
        if manifest["business"].get("file"):
            store.put(Path(tmp) / manifest["business"]["file"], f"{base}/{manifest['business']['file']}")
    anchor = Path(home) / "audit_head.json"
    if anchor.exists():
        store.put(anchor, f"{base}/audit_head.json")
        manifest["audit_head"] = json.loads(anchor.read_text("utf-8"))
    if dagster_home and Path(dagster_home).exists():
        for f in sorted(Path(dagster_home).rglob("*")):
            rel = f.relative_to(dagster_home)
            if f.is_file() and not f.name.endswith(".lock") and rel.parts[0] not in ("logs", "compute_logs"):
                store.put(f, f"{base}/dagster/{rel.as_posix()}")
        manifest["dagster"] = "dagster"
    store.write_text(f"{base}/manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True))
    return BackupResult(store.path(base), len(manifest["tables"]), files, new, bytes_new)


def backups(dest: str | Path) -> list[str]:
    """The backups of a location, oldest first (their stamps; ``location/backups/<stamp>``)."""
    store = Store(dest)
    return [b for b in store.children("backups") if store.exists(f"backups/{b}/manifest.json")]


def prune(dest: str | Path, keep: int) -> tuple[int, int]:
    """Keep the newest ``keep`` backups; remove the others and every object none of the kept uses."""
    if keep < 1:
        raise BackupError("至少保留1份备份")
    store = Store(dest)
    all_backups = backups(dest)
    dropped = all_backups[:-keep]
    for b in dropped:
        store.delete_dir(f"backups/{b}")
    used = set()
    for b in all_backups[-keep:]:
        for entry in json.loads(store.read_text(f"backups/{b}/manifest.json"))["tables"].values():
            used |= set(entry["files"].values())
    removed = 0
    for f in store.files("objects"):
        if f.rsplit("/", 1)[-1] not in used:
            store.fs.delete_file(f)
            removed += 1
    return len(dropped), removed


@dataclass
class DrillResult:
    ok: bool
    report: Path
    problems: list[str] = field(default_factory=list)
    tables: int = 0


def restore(location: str | Path, target: Path, *, stamp: str | None = None, verify: bool = True,
            clock=lambda: _dt.datetime.now(_dt.UTC)) -> DrillResult:
    """Rebuild ``target/lake`` and ``target/business.sqlite`` from a backup of ``location`` (the
    newest, or ``stamp``); the target must be empty."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"恢复位置 {target} 不是空目录")
    store = Store(location)
    found = backups(location)
    if not found or (stamp and stamp not in found):
        raise BackupError(f"备份位置 {location} 中没有{'备份 ' + stamp if stamp else '可用的备份'}")
    stamp = stamp or found[-1]
    base = f"backups/{stamp}"
    manifest = json.loads(store.read_text(f"{base}/manifest.json"))
    lake_root = target / "lake"
    problems = []
    for name, entry in sorted(manifest["tables"].items()):
        for rel, digest in entry["files"].items():
            obj = f"objects/{digest[:2]}/{digest}"
            if not store.exists(obj):
                problems.append(f"{name}/{rel}:备份对象缺失")
                continue
            store.get(obj, lake_root / name / rel)
    target.mkdir(parents=True, exist_ok=True)
    business = manifest.get("business", {})
    if business.get("kind") == "sqlite":
        store.get(f"{base}/{business['file']}", target / "business.sqlite")
    if store.exists(f"{base}/audit_head.json"):
        store.get(f"{base}/audit_head.json", target / "audit_head.json")
    backup_dir = store.path(base)
    lines = []
    if verify:
        problems += _verify(manifest, lake_root, target, lines)
    ok = not problems
    report = target / f"restore-drill-{clock().date().isoformat()}.md"
    report.write_text(_report(manifest, backup_dir, target, ok, problems, lines, clock()), "utf-8")
    return DrillResult(ok, report, problems, len(manifest["tables"]))


def _verify(manifest: dict, lake_root: Path, target: Path, lines: list[str]) -> list[str]:
    from deltalake import DeltaTable

    problems = []
    for name, entry in sorted(manifest["tables"].items()):
        table = lake_root / name
        for rel, digest in entry["files"].items():
            f = table / rel
            if not f.exists() or integrity.sha256_file(f) != digest:
                problems.append(f"{name}/{rel}:恢复后的文件与备份校验值不符")
        try:
            dt = DeltaTable(str(table))
            rows = dt.to_pyarrow_dataset().count_rows()
            version = dt.version()
        except Exception as exc:  # noqa: BLE001 — any unreadable table is a failed drill, reported
            problems.append(f"{name}:恢复后无法读取({type(exc).__name__})")
            continue
        if version != entry["version"] or rows != entry["rows"]:
            problems.append(f"{name}:版本或行数不一致(备份 v{entry['version']}/{entry['rows']} 行,恢复 v{version}/{rows} 行)")
        lines.append(f"| {name} | {version} | {rows:,} | {len(entry['files'])} |")
    if (target / "business.sqlite").exists():
        from jiuzhu import audit
        from jiuzhu.business import db

        engine = db.make_engine(f"sqlite:///{target / 'business.sqlite'}")
        try:
            with db.session_factory(engine)() as s:
                anchor = target / "audit_head.json"
                result = audit.verify(s, anchor if anchor.exists() else None)
        finally:
            engine.dispose()
        lines.append("")
        lines.append(f"审计日志哈希链:{'通过' if result.ok else '不通过'}(共 {result.count} 条{';' + result.problem_zh if result.problem_zh else ''})")
        if not result.ok:
            problems.append(f"审计日志哈希链校验不通过:{result.problem_zh}")
    return problems


def _report(manifest, backup_dir, target, ok, problems, lines, now) -> str:
    head = [f"# 恢复演练报告 {now.date().isoformat()}", "",
            f"- 备份:`{backup_dir}`(创建于 {manifest['created_at']})",
            f"- 恢复位置:`{target}`", f"- 结论:**{'通过' if ok else '不通过'}**", "",
            "| 表 | 版本 | 行数 | 文件数 |", "|---|---|---|---|"]
    tail = ["", "## 问题", *[f"- {p}" for p in problems]] if problems else []
    return "\n".join(head + lines + tail) + "\n"
