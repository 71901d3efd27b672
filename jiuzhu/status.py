"""What has been built: the lake's tables and the inbox's deliveries (used by the CLI and the app).

Reads manifests and Delta logs only, never personal data.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from deltalake import DeltaTable

from jiuzhu import departments


def inbox_summary(inbox: Path) -> list[dict]:
    """Per department: batches, files, declared records, late and re-sent batches, last period."""
    out = []
    for dept in departments.all_departments():
        folder = Path(inbox) / dept.slug
        manifests = sorted(folder.glob("*/manifest.json")) if folder.exists() else []
        batches, records, late, resent, last = 0, 0, 0, 0, None
        for path in manifests:
            m = json.loads(path.read_text("utf-8"))
            if path.parent.name != m["batch_id"]:
                resent += 1
                continue
            batches += 1
            records += int(m["record_count"])
            delivered = _dt.date.fromisoformat(m["delivered_at"][:10])
            late += delivered > _dt.date.fromisoformat(m["due_date"])
            last = max(last or m["period"], m["period"])
        out.append({"department": dept.slug, "name": dept.short_name, "batches": batches,
                    "records": records, "late": late, "resent": resent, "last_period": last,
                    "format": dept.delivery.format, "encoding": dept.delivery.encoding})
    return out


def lake_tables(lake: Path) -> list[dict]:
    """Every Delta table under the lake root with its version and row count (from the log)."""
    rows = []
    for log in sorted(Path(lake).glob("**/_delta_log")):
        table_dir = log.parent
        dt = DeltaTable(str(table_dir))
        actions = dt.get_add_actions(flatten=True)
        n = sum(v or 0 for v in actions.column("num_records").to_pylist()) if actions.num_rows else 0
        rows.append({"table": str(table_dir.relative_to(lake)), "version": dt.version(), "rows": int(n)})
    return rows
