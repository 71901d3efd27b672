"""Ingest one batch: validate every row, write bronze and quarantine, record the batch, issue a receipt.

Nothing lost, nothing twice:
* every delivered row lands in bronze (as delivered, with lineage); rejected rows also in
  quarantine with their reason, so delivered = accepted + rejected for every batch;
* a batch is identified by its content (file checksums), so a re-sent batch — same id or renamed —
  changes nothing; the same batch id with other content is a correction that supersedes it;
* each table write is one atomic Delta commit that replaces this batch's rows (``predicate``
  overwrite), so a crash at any point followed by a rerun leaves exactly what a clean run leaves.
"""

from __future__ import annotations

import datetime as _dt
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa

from exchange import batches as B
from exchange import receipts, validate
from exchange.readers import ROW_NUMBER, UnreadableFile
from jiuzhu import lake
from schemas import contracts

LINEAGE = ["_department", "_batch_id", "_batch_key", "_contract_version", "_period", "_file", "_row_number",
           "_ingested_at", "_row_hash", "_status", "_reason_code"]
QUARANTINE = "rejected_rows"  # quarantine/<department>/rejected_rows: one writer per table
BATCH_REASONS = {
    "BATCH_CHECKSUM_MISMATCH": "文件校验和与清单不一致(文件在传输中被改动或截断),整批拒收,请重新报送",
    "BATCH_COUNT_MISMATCH": "实际记录数与清单声明不一致,整批拒收,请核对后重新报送",
    "BATCH_FILE_MISSING": "清单列出的文件不存在,整批拒收",
    "BATCH_UNREADABLE": "文件无法读取,整批拒收",
}


@dataclass
class Outcome:
    """What happened to a batch; the receipt is written from it."""

    department: str
    batch_id: str
    batch_key: str
    contract_version: str
    period: str
    status: str  # loaded / rejected / duplicate / superseding
    delivered: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    declared: int = 0
    checksum_ok: bool = True
    reasons: dict[str, int] = field(default_factory=dict)
    rejected_rows: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    batch_error: dict | None = None
    replay_of: str | None = None
    folder: str | None = None
    manifest_sha256: str | None = None
    extract_date: str | None = None
    supersedes: str | None = None
    delivered_at: str | None = None
    due_date: str | None = None
    ingested_at: str = ""

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "rejected_rows"}


def bronze_path(lake_root: Path, contract: contracts.Contract) -> Path:
    return lake.table_path(lake_root, "bronze", contract.department, f"raw__{contract.department}__{contract.entity}")


def quarantine_path(lake_root: Path, department: str) -> Path:
    return lake.table_path(lake_root, "quarantine", department, QUARANTINE)


def ingest(ref: B.BatchRef, lake_root: Path, receipts_dir: Path, *, now: _dt.datetime | None = None,
           today: _dt.date | None = None, crash_after: str | None = None, ledger: list[dict] | None = None) -> Outcome:
    """Ingest one batch folder.

    ``ledger``: the batch ledger already in memory (a run over many batches reads it once and this
    function keeps it current; reading it per batch made a 312-batch run quadratic).
    ``crash_after`` is for the kill-and-rerun tests only."""
    now = now or _dt.datetime.now(_dt.UTC)
    manifest = B.load_manifest(ref)
    try:
        contract = contracts.get(manifest["department"], manifest["contract_version"])
    except contracts.UnknownContract as exc:
        outcome = _systemic(manifest, exc.code, exc.message, now)
        outcome.folder = ref.folder.name
        outcome.manifest_sha256 = B.sha256_bytes(ref.manifest_path.read_bytes())
        _record(lake_root, outcome)
        receipts.write(outcome, receipts_dir)
        raise B.SystemicBatchError(exc.code, exc.message) from None
    files, checksum_ok, missing = _verify_files(ref, manifest)
    # identity by content within the department and period: a renamed re-send is the same batch,
    # while two different months that happen to be identical (both empty) are not
    key = f"{manifest['batch_id']}@{B.content_checksum(files + [('period', manifest['period'])])[:16]}"
    outcome = Outcome(
        department=contract.department, batch_id=manifest["batch_id"], batch_key=key,
        contract_version=contract.version, period=manifest["period"], status="loaded",
        declared=int(manifest["record_count"]), checksum_ok=checksum_ok,
        delivered_at=manifest.get("delivered_at"), due_date=manifest.get("due_date"), ingested_at=now.isoformat(),
        folder=ref.folder.name, manifest_sha256=B.sha256_bytes(ref.manifest_path.read_bytes()),
        extract_date=manifest["extract_date"],
    )
    if ledger is None:
        ledger = B.ledger_rows(lake_root, contract.department)
    seen = [r for r in ledger if r["batch_key"].split("@")[1] == key.split("@")[1] and r["status"] != "duplicate"
            and r["department"] == contract.department]
    if seen:
        outcome.status = "duplicate"
        outcome.replay_of = seen[0]["batch_key"]
        outcome.delivered = outcome.declared
        ledger.append(_record(lake_root, outcome))
        receipts.write(outcome, receipts_dir)
        return outcome
    earlier = [r for r in ledger if r["batch_id"] == outcome.batch_id and r["status"] in ("loaded", "superseding")
               and r["batch_key"] != key]
    if earlier:
        outcome.status = "superseding"
        outcome.supersedes = earlier[-1]["batch_key"]
        outcome.warnings.append({"code": "BATCH_CORRECTED", "message": f"同一批次号再次报送且内容不同,按更正批次处理,替代{earlier[-1]['batch_key']}"})

    extract_date = _dt.date.fromisoformat(manifest["extract_date"])
    today = today or now.date()
    frames, batch_error = [], None
    if missing:
        batch_error = ("BATCH_FILE_MISSING", f"{BATCH_REASONS['BATCH_FILE_MISSING']}:{'、'.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="ingest-") as tmp:
        for name, _digest in files:
            try:
                for member, data in B.read_members(ref.folder / name, manifest.get("format", "csv")):
                    table, issues, notes = B.read_member(member, data, _member_format(member, manifest), manifest.get("encoding"), Path(tmp))
                    outcome.warnings.extend({**n, "file": member} for n in notes)
                    frames.append((name if member == name else f"{name}!{member}", table, issues))
            except UnreadableFile as exc:  # the file stays in the inbox; the receipt says why
                batch_error = (exc.code, f"{name}:{exc.message}")
    delivered = sum(t.num_rows + len(i) for _n, t, i in frames)
    if batch_error is None and not checksum_ok:
        batch_error = ("BATCH_CHECKSUM_MISMATCH", BATCH_REASONS["BATCH_CHECKSUM_MISMATCH"])
    if batch_error is None and delivered != outcome.declared:
        batch_error = ("BATCH_COUNT_MISMATCH", f"{BATCH_REASONS['BATCH_COUNT_MISMATCH']}(清单{outcome.declared}条,实际{delivered}条)")

    bronze_parts, quarantine_parts = [], []
    for file_name, table, issues in frames:
        b, q = _process_file(file_name, table, issues, contract, outcome, extract_date, today, now, batch_error)
        bronze_parts.append(b)
        if q is not None:
            quarantine_parts.append(q)
    if batch_error:
        outcome.status = "rejected"
        outcome.batch_error = {"code": batch_error[0], "message": batch_error[1]}
    bronze = pl.concat(bronze_parts, how="diagonal_relaxed") if bronze_parts else None
    quarantine = pl.concat(quarantine_parts, how="diagonal_relaxed") if quarantine_parts else None
    outcome.delivered = outcome.accepted + outcome.rejected
    if bronze is not None and bronze.height:
        _replace_batch_rows(bronze_path(lake_root, contract), bronze, key, partition_by=["_period"])
    if crash_after == "bronze":
        raise RuntimeError("simulated crash after the bronze write")
    if quarantine is not None and quarantine.height:
        _replace_batch_rows(quarantine_path(lake_root, contract.department), quarantine, key, partition_by=["_period"])
    if crash_after == "quarantine":
        raise RuntimeError("simulated crash after the quarantine write")
    ledger.append(_record(lake_root, outcome))
    receipts.write(outcome, receipts_dir)
    if batch_error and batch_error[0] in ("BATCH_UNREADABLE", "XLSX_UNREADABLE", "ZIP_BOMB", "ZIP_UNSAFE_PATH",
                                          "ZIP_INVALID", "FILE_PARSE", "PARQUET_UNREADABLE", "FILE_ENCODING",
                                          "HEADER_DUPLICATE"):
        raise B.SystemicBatchError(batch_error[0], batch_error[1])
    return outcome


def _member_format(member: str, manifest: dict) -> str:
    suffix = member.rsplit(".", 1)[-1].lower()
    return {"csv": "csv", "jsonl": "jsonl", "json": "jsonl", "parquet": "parquet", "xlsx": "xlsx"}.get(
        suffix, manifest.get("format", "csv"))


def _verify_files(ref: B.BatchRef, manifest: dict) -> tuple[list[tuple[str, str]], bool, list[str]]:
    files, ok, missing = [], True, []
    for entry in manifest["files"]:
        path = ref.folder / entry["name"]
        if not path.is_file() or Path(entry["name"]).name != entry["name"]:
            missing.append(entry["name"])
            ok = False
            continue
        digest = B.sha256_bytes(path.read_bytes())
        ok &= digest == entry.get("sha256")
        files.append((entry["name"], digest))
    return files, ok, missing


def _process_file(file_name, table: pa.Table, issues, contract, outcome: Outcome, extract_date, today, now,
                  batch_error) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    raw = pl.from_arrow(table) if table.num_columns else pl.DataFrame()
    if ROW_NUMBER not in raw.columns:
        raw = raw.with_columns(pl.lit(None, dtype=pl.Int64).alias(ROW_NUMBER))
    row_numbers = raw.get_column(ROW_NUMBER)
    raw = raw.drop(ROW_NUMBER)
    columns = {c.strip().lstrip("\ufeff"): c for c in raw.columns}
    if raw.height:
        result = validate.validate(raw, contract, batch_period=outcome.period, extract_date=extract_date, today=today)
        codes, fields = result.reason_code, result.reason_field
        outcome.warnings.extend({**w, "file": file_name} for w in result.warnings if w not in outcome.warnings)
    else:
        codes = pl.Series([], dtype=pl.String)
        fields = pl.Series([], dtype=pl.String)
    text = pl.DataFrame({f.name: (raw.get_column(columns[f.source]).cast(pl.String) if f.source in columns
                                  else pl.Series([None] * raw.height, dtype=pl.String)) for f in contract.fields})
    if batch_error:  # the whole batch is refused: every row keeps the batch's reason
        codes = pl.Series([batch_error[0]] * raw.height, dtype=pl.String)
        fields = pl.Series([None] * raw.height, dtype=pl.String)
    lineage = pl.DataFrame({
        "_row_number": row_numbers.cast(pl.Int64),
        "_status": codes.is_null().replace_strict({True: "accepted", False: "rejected"}, return_dtype=pl.String),
        "_reason_code": codes, "_reason_field": fields,
    })
    bronze = pl.concat([text, lineage], how="horizontal")
    # rows the reader could not parse still belong to the batch: they go to bronze as rejected
    if issues:
        bad = pl.DataFrame({
            "_row_number": [i["row_number"] for i in issues],
            "_status": ["rejected"] * len(issues),
            "_reason_code": [batch_error[0] if batch_error else i["code"] for i in issues],
            "_reason_field": [None] * len(issues),
            "_raw_text": [i.get("detail", "") for i in issues],
        }, schema_overrides={"_reason_field": pl.String})
        bronze = pl.concat([bronze, bad], how="diagonal_relaxed")
    bronze = bronze.sort("_row_number")
    hash_cols = [f.name for f in contract.fields]
    bronze = bronze.with_columns(
        pl.lit(contract.department).alias("_department"), pl.lit(outcome.batch_id).alias("_batch_id"),
        pl.lit(outcome.batch_key).alias("_batch_key"), pl.lit(contract.version).alias("_contract_version"),
        pl.lit(outcome.period).alias("_period"), pl.lit(file_name).alias("_file"),
        pl.lit(now.replace(tzinfo=None)).alias("_ingested_at"),
    )
    bronze = bronze.with_columns(_row_hashes(bronze, hash_cols).alias("_row_hash"))
    n = bronze.height
    rejected = bronze.filter(pl.col("_status") == "rejected")
    outcome.accepted += n - rejected.height
    outcome.rejected += rejected.height
    for code, count in rejected.group_by("_reason_code").len().iter_rows():
        outcome.reasons[code] = outcome.reasons.get(code, 0) + count
    outcome.duplicates += int((rejected.get_column("_reason_code") == "DUPLICATE_ROW").sum())
    descriptions = {f.name: f.description for f in contract.fields}
    for row in rejected.select("_row_number", "_reason_code", "_reason_field").iter_rows():
        outcome.rejected_rows.append({
            "file": file_name, "row_number": row[0], "reason_code": row[1], "field": row[2],
            "message": validate.message(row[1], descriptions.get(row[2])) if row[1] in validate.REASONS
            else (batch_error[1] if batch_error else row[1]),
        })
    quarantine = None
    if rejected.height:
        quarantine = rejected.select(
            "_department", "_batch_id", "_batch_key", "_contract_version", "_period", "_file", "_row_number",
            "_ingested_at", "_row_hash", "_reason_code", "_reason_field",
            pl.struct([c for c in hash_cols]).struct.json_encode().alias("_raw_row"),
        ).with_columns(
            pl.col("_reason_code").replace_strict(_messages(contract, batch_error), default=None, return_dtype=pl.String)
            .alias("_reason_message"),
        )
    return bronze.select([f.name for f in contract.fields] + [c for c in LINEAGE + ["_reason_field"] if c in bronze.columns]
                         + (["_raw_text"] if "_raw_text" in bronze.columns else [])), quarantine


def _messages(contract, batch_error) -> dict:
    out = dict(validate.REASONS)
    if batch_error:
        out[batch_error[0]] = batch_error[1]
    return out


def _row_hashes(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """SHA-256 of each row as delivered (stable across library versions, unlike Polars' hash),
    computed by DuckDB in C++ rather than one Python call per row."""
    import duckdb  # noqa: PLC0415

    con = duckdb.connect()
    con.register("rows", frame.select(columns).to_arrow())
    parts = ", ".join(f"coalesce(\"{c}\", chr(31))" for c in columns)  # column names come from the contract
    hashes = con.sql(f"select left(sha256(concat_ws(chr(30), {parts})), 32) as h from rows").to_arrow_table()
    if not frame.height:
        return pl.Series("_row_hash", [], dtype=pl.String)
    return pl.from_arrow(hashes.column("h")).cast(pl.String).alias("_row_hash")


def _replace_batch_rows(path: Path, frame: pl.DataFrame, batch_key: str, partition_by: list[str]) -> None:
    """One atomic commit that replaces this batch's rows: idempotent under reruns."""
    from deltalake import write_deltalake  # noqa: PLC0415

    table = frame.to_arrow()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not lake.exists(path):
        write_deltalake(str(path), table, mode="append", partition_by=partition_by)
        return
    predicate = f"_batch_key = '{_sql_literal(batch_key)}'"
    write_deltalake(str(path), table, mode="overwrite", predicate=predicate, schema_mode="merge")


def _sql_literal(value: str) -> str:
    """Batch keys are ``<batch_id>@<hex>``; a batch id with a quote is refused rather than escaped."""
    if "'" in value or "\\" in value:
        raise B.SystemicBatchError("BATCH_ID_INVALID", "批次号含有非法字符")
    return value


def _systemic(manifest: dict, code: str, message: str, now) -> Outcome:
    return Outcome(department=manifest.get("department", ""), batch_id=manifest.get("batch_id", ""),
                   batch_key=f"{manifest.get('batch_id', '')}@-", contract_version=str(manifest.get("contract_version")),
                   period=manifest.get("period", ""), status="rejected", declared=int(manifest.get("record_count", 0) or 0),
                   batch_error={"code": code, "message": message}, ingested_at=now.isoformat())


LEDGER_SCHEMA = pa.schema([
    ("department", pa.string()), ("batch_id", pa.string()), ("batch_key", pa.string()),
    ("contract_version", pa.string()), ("period", pa.string()), ("status", pa.string()),
    ("delivered", pa.int64()), ("accepted", pa.int64()), ("rejected", pa.int64()), ("duplicates", pa.int64()),
    ("declared", pa.int64()), ("checksum_ok", pa.bool_()), ("replay_of", pa.string()), ("supersedes", pa.string()),
    ("batch_error", pa.string()), ("reasons", pa.string()), ("delivered_at", pa.string()), ("due_date", pa.string()),
    ("ingested_at", pa.string()), ("folder", pa.string()), ("manifest_sha256", pa.string()),
    ("conformed", pa.bool_()), ("extract_date", pa.string()),
])


def _record(lake_root: Path, o: Outcome) -> dict:
    """Append the batch to the ledger (replacing an entry a crashed run may have left)."""
    row = {
        "department": o.department, "batch_id": o.batch_id, "batch_key": o.batch_key,
        "contract_version": o.contract_version, "period": o.period, "status": o.status, "delivered": o.delivered,
        "accepted": o.accepted, "rejected": o.rejected, "duplicates": o.duplicates, "declared": o.declared,
        "checksum_ok": o.checksum_ok, "replay_of": o.replay_of, "supersedes": o.supersedes,
        "batch_error": json.dumps(o.batch_error, ensure_ascii=False) if o.batch_error else None,
        "reasons": json.dumps(o.reasons, ensure_ascii=False, sort_keys=True), "delivered_at": o.delivered_at,
        "due_date": o.due_date, "ingested_at": o.ingested_at, "folder": o.folder,
        "manifest_sha256": o.manifest_sha256, "conformed": False, "extract_date": o.extract_date,
    }
    table = pa.Table.from_pylist([row], schema=LEDGER_SCHEMA)
    path = B.ledger_path(lake_root, o.department)
    if o.status == "duplicate":  # a replay is recorded as an event of its own
        row_key = f"{o.batch_key}#replay@{o.folder}"
        table = table.set_column(table.schema.get_field_index("batch_key"), "batch_key", pa.array([row_key]))
    from deltalake import write_deltalake  # noqa: PLC0415

    path.parent.mkdir(parents=True, exist_ok=True)
    if not lake.exists(path):
        write_deltalake(str(path), table, mode="append")
        return table.to_pylist()[0]
    else:
        write_deltalake(str(path), table, mode="overwrite",
                        predicate=f"batch_key = '{_sql_literal(table.column('batch_key')[0].as_py())}'")
    return table.to_pylist()[0]


def mark_conformed(lake_root: Path, entry: dict) -> None:
    """Record that a batch's rows are merged into silver (a crash before this reruns the merge)."""
    from deltalake import write_deltalake  # noqa: PLC0415

    row = {**{k: entry.get(k) for k in LEDGER_SCHEMA.names}, "conformed": True}
    table = pa.Table.from_pylist([row], schema=LEDGER_SCHEMA)
    write_deltalake(str(B.ledger_path(lake_root, entry["department"])), table, mode="overwrite",
                    predicate=f"batch_key = '{_sql_literal(entry['batch_key'])}'")
