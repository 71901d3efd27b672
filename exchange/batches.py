"""The inbox, manifests, archives and the batch ledger.

Inbox layout: ``<inbox>/<department>/<folder>/manifest.json`` plus the data files it lists. The
folder is normally the batch id; a department that re-sends a batch may use any folder name,
which is why replays are recognised by content, not by folder.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from exchange.readers import UnreadableFile, read_raw
from jiuzhu import lake

MAX_UNZIPPED_BYTES = 4 * 2**30  # a department's monthly extract is far below this
MAX_ZIP_RATIO = 200  # text compresses ~10×; 200× is a decompression bomb
LEDGER = "_batches"  # bronze/<department>/_batches: one writer per table


class SystemicBatchError(Exception):
    """The batch as a whole cannot be processed (not a bad row): the run fails with this message."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class BatchRef:
    department: str
    folder: Path

    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.json"


def discover(inbox: Path, department: str | None = None) -> list[BatchRef]:
    """Every batch folder in the inbox (optionally of one department), in a stable order."""
    inbox = Path(inbox)
    refs = []
    for dept_dir in sorted(p for p in inbox.iterdir() if p.is_dir()) if inbox.exists() else []:
        if department and dept_dir.name != department:
            continue
        for folder in sorted(p for p in dept_dir.iterdir() if p.is_dir()):
            refs.append(BatchRef(dept_dir.name, folder))
    return refs


def load_manifest(ref: BatchRef) -> dict:
    try:
        manifest = json.loads(ref.manifest_path.read_text("utf-8"))
    except FileNotFoundError:
        raise SystemicBatchError("MANIFEST_MISSING", "批次目录中没有 manifest.json") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SystemicBatchError("MANIFEST_INVALID", f"manifest.json 不是有效的 JSON:{exc}") from None
    required = ("department", "batch_id", "contract_version", "period", "extract_date", "record_count", "files")
    missing = [k for k in required if k not in manifest]
    if missing:
        raise SystemicBatchError("MANIFEST_INVALID", f"manifest.json 缺少字段:{'、'.join(missing)}")
    if manifest["department"] != ref.department:
        raise SystemicBatchError("MANIFEST_INVALID",
                                 f"manifest 声明的共享单位{manifest['department']}与目录{ref.department}不一致")
    return manifest


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_checksum(files: list[tuple[str, str]]) -> str:
    """The batch's identity by content: file checksums in name order (folder names do not count)."""
    h = hashlib.sha256()
    for _name, digest in sorted(files, key=lambda x: x[1]):
        h.update(digest.encode())
    return h.hexdigest()


def read_members(path: Path, fmt: str) -> list[tuple[str, bytes]]:
    """The data files inside a delivered file: itself, or the members of a ZIP archive.

    Member names are decoded as GBK (Chinese Windows tools write them so); members that would land
    outside the batch (absolute paths, ``..``) or that inflate beyond the limits are refused."""
    data = path.read_bytes()
    if not path.name.lower().endswith(".zip"):
        return [(path.name, data)]
    try:
        zf = zipfile.ZipFile(io.BytesIO(data), metadata_encoding="gbk")
    except zipfile.BadZipFile:
        raise UnreadableFile("ZIP_INVALID", f"{path.name} 不是有效的ZIP压缩包") from None
    members = [i for i in zf.infolist() if not i.is_dir()]
    for info in members:
        name = info.filename.replace("\\", "/")
        if name.startswith("/") or ".." in name.split("/") or ":" in name:
            raise UnreadableFile("ZIP_UNSAFE_PATH", f"压缩包成员路径不安全:{info.filename}")
    declared = sum(i.file_size for i in members)
    compressed = max(sum(i.compress_size for i in members), 1)
    if declared > MAX_UNZIPPED_BYTES or declared / compressed > MAX_ZIP_RATIO:
        raise UnreadableFile("ZIP_BOMB", f"压缩包解压后{declared:,}字节,压缩比{declared / compressed:.0f}倍,疑似压缩炸弹,拒绝解压")
    out = []
    for info in members:
        with zf.open(info) as member:  # read with a cap: headers can lie about sizes
            chunk = member.read(MAX_UNZIPPED_BYTES + 1)
        if len(chunk) > MAX_UNZIPPED_BYTES or len(chunk) / compressed > MAX_ZIP_RATIO:
            raise UnreadableFile("ZIP_BOMB", "压缩包实际解压大小超过限制,疑似压缩炸弹")
        out.append((info.filename, chunk))
    del fmt
    return sorted(out)


def read_member(name: str, data: bytes, fmt: str, encoding: str | None, workdir: Path) -> tuple[pa.Table, list[dict], list[str]]:
    """Parse one data file; returns (rows, skipped rows with reasons, notes)."""
    suffix = Path(name).suffix.lower()  # openpyxl insists on the extension
    tmp = workdir / f"member-{sha256_bytes(name.encode())[:12]}{suffix}"
    tmp.write_bytes(data)
    try:
        return read_raw(tmp, fmt, encoding, with_issues=True)
    finally:
        tmp.unlink(missing_ok=True)


def ledger_path(lake_root: Path, department: str) -> Path:
    return lake.table_path(lake_root, "bronze", department, LEDGER)


def ledger_rows(lake_root: Path, department: str) -> list[dict]:
    path = ledger_path(lake_root, department)
    if not lake.exists(path):
        return []
    return lake.read(path).to_pylist()
