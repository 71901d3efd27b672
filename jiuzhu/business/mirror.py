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
from sqlalchemy import select
from sqlalchemy.engine import Engine

from jiuzhu import lake
from jiuzhu.business.models import AuditLog, User

# table → (model, columns never mirrored)
MIRRORED = {"users": (User, {"password_hash"}), "audit_log": (AuditLog, set())}


def mirror_path(lake_root: Path, table: str) -> Path:
    return lake.table_path(lake_root, "bronze", "business", f"raw__business__{table}")


def _watermark(path: Path):
    if not lake.exists(path):
        return None
    col = DeltaTable(str(path)).to_pyarrow_table(columns=["updated_at"]).column("updated_at")
    return pa.compute.max(col).as_py() if len(col) else None


def mirror(engine: Engine, lake_root: Path, table: str) -> dict:
    """Copy the rows of ``table`` changed since the last run; returns counts and the new watermark."""
    model, hidden = MIRRORED[table]
    columns = [c for c in model.__table__.columns if c.name not in hidden]
    path = mirror_path(lake_root, table)
    since = _watermark(path)
    stmt = select(*columns).order_by(model.__table__.c.updated_at)
    if since is not None:
        stmt = stmt.where(model.__table__.c.updated_at >= since)  # bound parameter, never pasted
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    if not rows:
        return {"table": table, "rows": 0, "watermark": since}
    data = pa.Table.from_pylist(rows)
    data = data.set_column(data.schema.get_field_index("updated_at"), "updated_at",
                           pa.compute.cast(data.column("updated_at"), pa.timestamp("us", tz="UTC")))
    path.parent.mkdir(parents=True, exist_ok=True)
    if not lake.exists(path):
        write_deltalake(str(path), data, mode="append")
    else:
        (DeltaTable(str(path)).merge(source=data, predicate="t.id = s.id", source_alias="s", target_alias="t")
         .when_matched_update_all().when_not_matched_insert_all().execute())
    return {"table": table, "rows": len(rows), "watermark": max(r["updated_at"] for r in rows)}
