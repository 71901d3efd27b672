"""Backups and restore drills (DR-5, SC-6: 数据应异地备份,并具有应急和灾难恢复措施).

``backup(lake, home, dest)`` writes one backup under ``dest/backups/<UTC timestamp>/`` with a
manifest: every Delta table of the lake at its current version (the log up to that version and the
files of that snapshot — so the copy is consistent even while jobs write), the business database
(SQLite's online backup; ``pg_dump`` for PostgreSQL), the audit chain head, and the Dagster instance.
Data files are stored once, by SHA-256, in ``dest/objects/`` — a second backup copies only what is
new (incremental). ``prune`` keeps the newest N backups and removes objects none of them uses.

``restore(backup_dir, target, verify=True)`` rebuilds the lake and the business database in an
empty place and proves them equal to the backup: per table the version, the row count (read back
with deltalake) and every file's checksum; the audit chain verified against its backed-up head. The
drill report (Markdown, dated) is written into the target.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from urllib.parse import unquote, urlparse
from dataclasses import dataclass, field
from pathlib import Path

from jiuzhu import integrity

FORMAT = 1


class BackupError(RuntimeError):
    """A backup or restore that cannot be made (the message is in Chinese)."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _store(objects: Path, path: Path) -> tuple[str, bool]:
    """Put a file into the object store; returns its digest and whether it was new."""
    digest = _sha256(path)
    target = objects / digest[:2] / digest
    if target.exists():
        return digest, False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(path, tmp)
    tmp.replace(target)
    return digest, True


def _snapshot(table: Path) -> tuple[int, list[str], list[str]]:
    """The table's current version, its log files up to it, and every data file those versions added
    that is still on disk (the current snapshot's and the older versions' not yet vacuumed: time
    travel, and so the regeneration of an old report, works on the restored lake too)."""
    from deltalake import DeltaTable

    dt = DeltaTable(str(table))
    version = dt.version()
    log = table / "_delta_log"
    logs = []
    for name in sorted(os.listdir(log)):
        stem = name.split(".")[0]
        if stem.isdigit() and int(stem) <= version and (name.endswith(".json") or name.endswith(".checkpoint.parquet")):
            logs.append(f"_delta_log/{name}")
    added, _, _ = integrity.delta_log(table)
    kept = {rel for rel, v in added.items() if v <= version and (table / rel).exists()}
    # the snapshot's own files too, should older commits live only in a checkpoint
    kept |= {os.path.relpath(unquote(urlparse(u).path), table.resolve()) for u in dt.file_uris() if u.startswith("file:")}
    return version, logs, sorted(kept)


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
        return {"kind": "sqlite", "file": "business.sqlite", "sha256": _sha256(out / "business.sqlite")}
    if url.startswith("postgresql"):
        from sqlalchemy.engine import make_url

        u = make_url(url)
        env = {**os.environ, **({"PGPASSWORD": u.password} if u.password else {})}
        cmd = ["pg_dump", "--format=custom", "--no-owner", "-f", str(out / "business.dump"), "-h", u.host or "127.0.0.1",
               "-p", str(u.port or 5432), "-U", u.username or "postgres", u.database]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode:
            raise BackupError(f"业务库备份失败(pg_dump):{proc.stderr.strip()[-300:]}")
        return {"kind": "postgresql", "file": "business.dump", "sha256": _sha256(out / "business.dump")}
    raise BackupError(f"不支持的业务库类型:{url.split(':')[0]}")


@dataclass
class BackupResult:
    path: Path
    tables: int
    files: int
    new_objects: int
    bytes_new: int


def backup(lake_root: Path, home: Path, dest: Path, *, business_url: str, dagster_home: Path | None = None,
           clock=lambda: _dt.datetime.now(_dt.UTC)) -> BackupResult:
    lake_root, dest = Path(lake_root), Path(dest)
    if dest.resolve().is_relative_to(lake_root.resolve()):
        raise BackupError("备份位置不能在数据湖目录之内")
    stamp = clock().strftime("%Y%m%dT%H%M%S%fZ")
    out = dest / "backups" / stamp
    out.mkdir(parents=True, exist_ok=False)
    objects = dest / "objects"
    manifest = {"format": FORMAT, "created_at": clock().isoformat(timespec="seconds"), "tables": {}}
    files = new = bytes_new = 0
    for table in integrity.tables(lake_root):
        version, logs, data = _snapshot(table)
        entry = {"version": version, "files": {}}
        for rel in logs + data:
            digest, fresh = _store(objects, table / rel)
            entry["files"][rel] = digest
            files += 1
            if fresh:
                new += 1
                bytes_new += (table / rel).stat().st_size
        from deltalake import DeltaTable

        entry["rows"] = DeltaTable(str(table), version=version).to_pyarrow_dataset().count_rows()
        manifest["tables"][str(table.relative_to(lake_root))] = entry
    manifest["business"] = _backup_business(business_url, out)
    anchor = Path(home) / "audit_head.json"
    if anchor.exists():
        shutil.copyfile(anchor, out / "audit_head.json")
        manifest["audit_head"] = json.loads(anchor.read_text("utf-8"))
    if dagster_home and Path(dagster_home).exists():
        shutil.copytree(dagster_home, out / "dagster", ignore=shutil.ignore_patterns("*.lock", "logs", "compute_logs"))
        manifest["dagster"] = "dagster"
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True), "utf-8")
    return BackupResult(out, len(manifest["tables"]), files, new, bytes_new)


def backups(dest: Path) -> list[Path]:
    root = Path(dest) / "backups"
    return sorted(p for p in root.iterdir() if (p / "manifest.json").exists()) if root.exists() else []


def prune(dest: Path, keep: int) -> tuple[int, int]:
    """Keep the newest ``keep`` backups; remove the others and every object none of the kept uses."""
    if keep < 1:
        raise BackupError("至少保留1份备份")
    all_backups = backups(dest)
    dropped = all_backups[:-keep]
    for b in dropped:
        shutil.rmtree(b)
    used = set()
    for b in all_backups[-keep:]:
        for entry in json.loads((b / "manifest.json").read_text("utf-8"))["tables"].values():
            used |= set(entry["files"].values())
    removed = 0
    objects = Path(dest) / "objects"
    for f in objects.rglob("*") if objects.exists() else []:
        if f.is_file() and f.name not in used:
            f.unlink()
            removed += 1
    return len(dropped), removed


@dataclass
class DrillResult:
    ok: bool
    report: Path
    problems: list[str] = field(default_factory=list)
    tables: int = 0


def restore(backup_dir: Path, target: Path, *, verify: bool = True,
            clock=lambda: _dt.datetime.now(_dt.UTC)) -> DrillResult:
    """Rebuild ``target/lake`` and ``target/business.sqlite`` from a backup (target must be empty)."""
    backup_dir, target = Path(backup_dir), Path(target)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"恢复位置 {target} 不是空目录")
    manifest = json.loads((backup_dir / "manifest.json").read_text("utf-8"))
    objects = backup_dir.parent.parent / "objects"
    lake_root = target / "lake"
    problems = []
    for name, entry in sorted(manifest["tables"].items()):
        for rel, digest in entry["files"].items():
            src = objects / digest[:2] / digest
            dst = lake_root / name / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not src.exists():
                problems.append(f"{name}/{rel}:备份对象缺失")
                continue
            shutil.copyfile(src, dst)
    business = manifest.get("business", {})
    if business.get("kind") == "sqlite":
        shutil.copyfile(backup_dir / business["file"], target / "business.sqlite")
    if (backup_dir / "audit_head.json").exists():
        shutil.copyfile(backup_dir / "audit_head.json", target / "audit_head.json")
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
            if not f.exists() or _sha256(f) != digest:
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
        from jiuzhu import audit  # noqa: PLC0415
        from jiuzhu.business import db  # noqa: PLC0415

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
