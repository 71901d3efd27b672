"""The audit trail (全程留痕): an SM3 hash chain over ``audit_log``, anchored outside the table.

Each entry's ``entry_hash`` is SM3 over a canonical JSON of its fields, ``prev_hash`` included, so
changing, deleting, inserting or reordering an entry breaks the chain at that entry. Anyone with
write access can recompute an unkeyed chain from some point to the end, and can cut the tail off
without breaking anything, so the latest head is also written outside the table
(``anchor_head``) and ``verify`` compares the table against it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from jiuzhu.business.models import AuditLog

GENESIS_HASH = "0" * 64
OUTCOMES = ("allowed", "denied", "success", "failure")
HASHED_FIELDS = (
    "seq",
    "at",
    "actor",
    "role",
    "action",
    "subject_key",
    "region_code",
    "purpose",
    "outcome",
    "detail",
    "prev_hash",
)
EXPORT_COLUMNS = (*HASHED_FIELDS, "entry_hash")
# Any constant works: it only has to be the same in every process that appends.
_PG_APPEND_LOCK = 0x6A69757A6875
# How far back an inserted run of entries is traced to where it was slipped in.
_RECENT_WINDOW = 4096

# Raw identifiers must never reach the trail: the subject is a pseudonym, the detail is free of
# ID numbers, mobile numbers and card numbers.
_PSEUDONYM = re.compile(r"^[0-9a-f]{32}$")
_PERSONAL_PATTERNS = (
    re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])"),  # 18-digit citizen ID
    re.compile(r"(?<![0-9])[0-9]{15}(?![0-9])"),  # legacy 15-digit ID
    re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])"),  # mobile number
    re.compile(r"(?<![0-9])[0-9]{16,19}(?![0-9])"),  # bank card
)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AuditUnavailable(RuntimeError):
    """The audit entry could not be written: the operation it guards must not happen."""

    code = "AUDIT_UNAVAILABLE"

    def __init__(self, reason: str = ""):
        self.message_zh = "审计日志写入失败,操作已中止" + (f":{reason}" if reason else "")
        super().__init__(self.message_zh)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    first_broken_seq: int | None = None
    problem_zh: str = ""


def format_at(at: datetime) -> str:
    """The timestamp as hashed and exported: UTC, microseconds, ``Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(fields: dict) -> bytes:
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["at"] = format_at(payload["at"])
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def compute_hash(fields: dict) -> str:
    return hashlib.new("sm3", canonical_bytes(fields)).hexdigest()


def _fields_of(entry: AuditLog) -> dict:
    return {name: getattr(entry, name) for name in HASHED_FIELDS}


def looks_personal(text: str) -> bool:
    """Whether ``text`` holds a run of digits shaped like an ID, mobile or bank-card number.

    Identifiers the platform generates itself (API client IDs) are drawn until this is false, so that
    an entry naming them is never refused as personal data by chance.
    """
    return any(p.search(text) for p in _PERSONAL_PATTERNS)


def _check_no_personal_data(subject_key: str | None, detail_text: str, purpose: str | None) -> None:
    if subject_key is not None and not _PSEUDONYM.match(subject_key):
        raise ValueError("审计记录的对象标识必须是假名化键(32位十六进制),不得使用原始证件号")
    for value in (detail_text, purpose or ""):
        if looks_personal(value):
            raise ValueError("审计记录中不得包含身份证号、手机号、银行卡号等个人信息")


def _lock_for_append(session: Session) -> None:
    """Serialise appenders so that two entries never claim the same ``seq``.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: a write that matches no row takes the
    database's write lock now (waiting out ``busy_timeout``) instead of at the INSERT, so the
    ``max(seq)`` read below cannot go stale. The unique ``seq`` constraint is the last line: a
    lost race fails the append, and with it the audited action.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_APPEND_LOCK})
    elif dialect == "sqlite":
        session.execute(text("UPDATE audit_log SET seq = seq WHERE 1 = 0"))


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    outcome: str,
    role: str | None = None,
    subject_key: str | None = None,
    region_code: str | None = None,
    purpose: str | None = None,
    detail: dict | None = None,
    clock: Clock = utc_now,
) -> AuditLog:
    """Append one entry inside the session's transaction (flushed, not committed)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"未知的审计结果:{outcome}")
    detail_text = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    _check_no_personal_data(subject_key, detail_text, purpose)
    at = clock()
    if at.tzinfo is None:
        raise ValueError("审计时钟必须返回带时区的时间")
    at = at.astimezone(UTC)
    _lock_for_append(session)
    last = session.execute(
        select(AuditLog.seq, AuditLog.entry_hash).order_by(AuditLog.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last.seq + 1, last.entry_hash) if last else (1, GENESIS_HASH)
    entry = AuditLog(
        seq=seq,
        at=at,
        actor=actor,
        role=role,
        action=action,
        subject_key=subject_key,
        region_code=region_code,
        purpose=purpose,
        outcome=outcome,
        detail=detail_text,
        prev_hash=prev_hash,
        updated_at=at,
    )
    entry.entry_hash = compute_hash(_fields_of(entry))
    session.add(entry)
    session.flush()
    return entry


def record(session: Session, **fields) -> AuditLog:
    """Append and commit; any failure rolls back and raises ``AuditUnavailable``.

    Committing here makes the entry durable before the caller acts on the decision it records.
    """
    try:
        entry = append(session, **fields)
        session.commit()
        return entry
    except Exception as exc:
        session.rollback()
        raise AuditUnavailable() from exc


def _ordered(session: Session) -> Iterator[AuditLog]:
    query = select(AuditLog).order_by(AuditLog.seq, AuditLog.id).execution_options(yield_per=1000)
    yield from session.scalars(query)


def head(session: Session) -> tuple[int, str]:
    last = session.execute(
        select(AuditLog.seq, AuditLog.entry_hash).order_by(AuditLog.seq.desc()).limit(1)
    ).first()
    return (last.seq, last.entry_hash) if last else (0, GENESIS_HASH)


def anchor_head(session: Session, path: Path | str, clock: Clock = utc_now) -> dict:
    """Write the current chain head to ``path`` (atomically): the reference for ``verify``."""
    seq, entry_hash = head(session)
    anchor = {"seq": seq, "entry_hash": entry_hash, "anchored_at": format_at(clock())}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(anchor, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return anchor


def read_anchor(path: Path | str) -> dict | None:
    path = Path(path)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _broken(count: int, seq: int, problem: str) -> VerifyResult:
    return VerifyResult(ok=False, count=count, first_broken_seq=seq, problem_zh=problem)


def verify(session: Session, anchor: dict | Path | str | None = None) -> VerifyResult:
    """Walk the chain in ``seq`` order and name the first entry that no longer holds.

    Per entry: the sequence continues without a gap or repeat; the entry links to the previous
    one; its own hash matches its content. When the link breaks, the stored ``prev_hash`` tells
    which side moved: it points at an earlier entry (entries were slipped in after that one), or
    the entry itself is intact (the previous entry was rewritten with a fresh hash), or neither
    (the entry itself was changed). Finally the head is compared with the external anchor, which
    catches a cut-off tail or a chain recomputed from some point on.
    """
    if anchor is not None and not isinstance(anchor, dict):
        anchor = read_anchor(anchor)
    count = 0
    prev: AuditLog | None = None
    recent: OrderedDict[str, int] = OrderedDict()  # entry_hash -> seq of the last verified entries
    anchored_hash_seen: str | None = None
    for entry in _ordered(session):
        expected_seq = prev.seq + 1 if prev else 1
        if entry.seq < expected_seq:
            return _broken(count, entry.seq, f"第{entry.seq}条记录序号重复或顺序错乱")
        if entry.seq > expected_seq:
            missing = (
                f"第{expected_seq}条"
                if entry.seq == expected_seq + 1
                else f"第{expected_seq}至{entry.seq - 1}条"
            )
            return _broken(count, expected_seq, f"{missing}记录缺失(被删除),或插入了序号不连续的记录")
        link_ok = entry.prev_hash == (prev.entry_hash if prev else GENESIS_HASH)
        self_ok = compute_hash(_fields_of(entry)) == entry.entry_hash
        if not link_ok and prev is not None:
            earlier = recent.get(entry.prev_hash)
            if earlier is not None:
                return _broken(
                    count,
                    earlier + 1,
                    f"第{earlier + 1}至{entry.seq - 1}条记录是被插入的"
                    f"(第{entry.seq}条记录原本紧接第{earlier}条)",
                )
            if self_ok:
                return _broken(
                    count,
                    prev.seq,
                    f"第{prev.seq}条记录被改写并重算了哈希,或是被插入的记录"
                    f"(与第{entry.seq}条记录保存的前序哈希不符)",
                )
            return _broken(
                count, entry.seq, f"第{entry.seq}条记录被篡改或调换了顺序(前序哈希与内容哈希均不符)"
            )
        if not link_ok:
            return _broken(count, entry.seq, f"第{entry.seq}条记录的前序哈希不是链的起点")
        if not self_ok:
            return _broken(count, entry.seq, f"第{entry.seq}条记录内容与其哈希不符(被篡改、插入或调换顺序)")
        if anchor and entry.seq == anchor["seq"]:
            anchored_hash_seen = entry.entry_hash
        recent[entry.entry_hash] = entry.seq
        if len(recent) > _RECENT_WINDOW:
            recent.popitem(last=False)
        count += 1
        prev = entry
    if anchor and anchor["seq"] > 0:
        if anchored_hash_seen is None:
            last_seq = prev.seq if prev else 0
            return _broken(
                count,
                last_seq + 1,
                f"外部锚定的链头(第{anchor['seq']}条)不在日志中:第{last_seq + 1}条及以后的记录被截断",
            )
        if anchored_hash_seen != anchor["entry_hash"]:
            return _broken(
                count,
                anchor["seq"],
                f"第{anchor['seq']}条记录与外部锚定的链头哈希不符:日志被改写并重算了哈希",
            )
    return VerifyResult(ok=True, count=count)


# --- export (audit administrator only; the caller authorises export_audit first) -------------------


def _row(entry: AuditLog) -> dict:
    row = {name: getattr(entry, name) for name in EXPORT_COLUMNS}
    row["at"] = format_at(entry.at)
    return row


def export(session: Session, path: Path | str, fmt: str = "csv") -> int:
    """Write the whole trail to ``path``; returns the number of entries.

    CSV is UTF-8 with BOM (Excel reads it as UTF-8) and every text cell that a spreadsheet would
    run as a formula is neutralised; numbers stay numbers.
    """
    from jiuzhu.masking import safe_cell  # noqa: PLC0415 (masking imports nothing from here)

    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"不支持的导出格式:{fmt}(可选 csv、jsonl)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(EXPORT_COLUMNS)
            for entry in _ordered(session):
                row = _row(entry)
                writer.writerow([safe_cell(row[name]) for name in EXPORT_COLUMNS])
                count += 1
    else:
        with path.open("w", encoding="utf-8") as handle:
            for entry in _ordered(session):
                handle.write(json.dumps(_row(entry), ensure_ascii=False) + "\n")
                count += 1
    return count
