"""Mirror the business database into bronze, incrementally by change time (DR-1: the
business-production database is mirrored into the lake like any other source).

Each run reads the rows changed since the newest ``updated_at`` already in the mirror (a little
overlap is harmless: rows are upserted by primary key). Secrets never leave the database: the
password hash is not mirrored.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from sqlalchemy import Boolean, DateTime, Float, Integer, TypeDecorator, select
from sqlalchemy.engine import Engine

from jiuzhu import lake
from jiuzhu.business.models import (
    AssistanceCase,
    AuditLog,
    Benefit,
    DisbursementOrder,
    User,
    VerificationRequest,
)

# table → (model, columns never mirrored): secrets, and the free text and results of a request
# (its members' data stays in the business database; the statistics need only the lifecycle)
MIRRORED = {"users": (User, {"password_hash"}), "audit_log": (AuditLog, set()),
            "verification_requests": (VerificationRequest, {"purpose", "rejection_reason", "result_json"}),
            # the business platform: who receives what (困难群众数据库) and what was paid (救助成果库),
            # without names, ID numbers, accounts or free text
            # (the benefit facts and breakdowns name members and their birth dates: never mirrored)
            "assistance_cases": (AssistanceCase, {"applicant_person_id", "applicant_name", "decision_note",
                                                  "duplicate_check_json", "benefit_facts_json",
                                                  "proposed_breakdown_json"}),
            "benefits": (Benefit, {"holder_person_id", "holder_name", "end_reason", "facts_json", "breakdown_json"}),
            "disbursement_orders": (DisbursementOrder, {"payee_person_id", "payee_name", "account_no",
                                                        "return_reason", "breakdown_json"})}


def _arrow_type(column) -> pa.DataType:
    kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
    if isinstance(kind, DateTime):
        return pa.timestamp("us", tz="UTC")  # UtcDateTime: always aware UTC
    if isinstance(kind, Boolean):
        return pa.bool_()
    if isinstance(kind, Integer):
        return pa.int64()
    if isinstance(kind, Float):
        return pa.float64()
    return pa.string()


def _schema(columns) -> pa.Schema:
    return pa.schema([pa.field(c.name, _arrow_type(c)) for c in columns])


def mirror_path(lake_root: Path, table: str) -> Path:
    return lake.table_path(lake_root, "bronze", "business", f"raw__business__{table}")


def _columns(table: str) -> list:
    model, hidden = MIRRORED[table]
    return [c for c in model.__table__.columns if c.name not in hidden]


def ensure_exists(lake_root: Path, table: str) -> None:
    """An empty mirror of ``table`` where none was made yet (a lake built without a business
    database, as in the tests and benchmarks): the marts read the mirror as a source."""
    path = mirror_path(lake_root, table)
    if not lake.exists(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_deltalake(str(path), _schema(_columns(table)).empty_table(), mode="append")


def _watermark(path: Path):
    if not lake.exists(path):
        return None
    col = DeltaTable(str(path)).to_pyarrow_table(columns=["updated_at"]).column("updated_at")
    return pa.compute.max(col).as_py() if len(col) else None


def mirror(engine: Engine, lake_root: Path, table: str) -> dict:
    """Copy the rows of ``table`` changed since the last run; returns counts and the new watermark."""
    model, _ = MIRRORED[table]
    columns = _columns(table)
    path = mirror_path(lake_root, table)
    since = _watermark(path)
    stmt = select(*columns).order_by(model.__table__.c.updated_at)
    if since is not None:
        stmt = stmt.where(model.__table__.c.updated_at >= since)  # bound parameter, never pasted
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    if not rows:
        ensure_exists(lake_root, table)  # an empty mirror still exists: the marts read it as a source
        return {"table": table, "rows": 0, "watermark": since}
    path.parent.mkdir(parents=True, exist_ok=True)
    data = pa.Table.from_pylist(rows, schema=_schema(columns))
    if not lake.exists(path):
        write_deltalake(str(path), data, mode="append")
    else:
        # merge_schema: a migration that adds a column adds it to the mirror (earlier rows: null)
        (DeltaTable(str(path)).merge(source=data, predicate="t.id = s.id", source_alias="s", target_alias="t",
                                     merge_schema=True)
         .when_matched_update_all().when_not_matched_insert_all().execute())
    return {"table": table, "rows": len(rows), "watermark": max(r["updated_at"] for r in rows)}
