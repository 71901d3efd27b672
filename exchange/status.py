"""Exchange status per department: last batch, its receipt, freshness and quality (CLI and staff app)."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from exchange import batches as B
from jiuzhu import departments

QUALITY_WARN_SHARE = 0.05


def next_due(last_period: str | None, agreed_day: int) -> _dt.date | None:
    """The due date of the batch after ``last_period`` (the month after next, on the agreed day)."""
    if not last_period:
        return None
    y, m = int(last_period[:4]), int(last_period[5:7])
    y, m = (y + (m + 1) // 12, (m + 1) % 12 + 1)
    return _dt.date(y, m, agreed_day)


def department_status(lake_root: Path, today: _dt.date | None = None) -> list[dict]:
    today = today or _dt.date.today()
    out = []
    for dept in departments.all_departments():
        ledger = [r for r in B.ledger_rows(lake_root, dept.slug) if r["status"] != "duplicate"]
        replays = len(B.ledger_rows(lake_root, dept.slug)) - len(ledger)
        last = max(ledger, key=lambda r: (r["period"], r["ingested_at"])) if ledger else None
        delivered = sum(r["delivered"] for r in ledger)
        rejected = sum(r["rejected"] for r in ledger)
        due = next_due(last["period"] if last else None, dept.delivery.agreed_day)
        if last is None:
            freshness = "无数据"
        elif due and today > due:
            freshness = f"逾期{(today - due).days}天"
        else:
            freshness = "正常"
        share = rejected / delivered if delivered else 0.0
        late = sum(1 for r in ledger if r["delivered_at"] and r["due_date"]
                   and r["delivered_at"][:10] > r["due_date"])
        out.append({
            "department": dept.slug, "name": dept.short_name,
            "last_batch": last["batch_id"] if last else None, "last_period": last["period"] if last else None,
            "last_status": last["status"] if last else None,
            "last_delivered": last["delivered"] if last else 0, "last_accepted": last["accepted"] if last else 0,
            "last_rejected": last["rejected"] if last else 0,
            "last_reasons": json.loads(last["reasons"]) if last and last["reasons"] else {},
            "batches": len(ledger), "replays": replays, "late_batches": late,
            "rejected_share": round(share, 4), "next_due": due.isoformat() if due else None,
            "freshness": freshness,
            "quality": "正常" if share <= QUALITY_WARN_SHARE and not any(r["status"] == "rejected" for r in ledger)
            else "需关注",
            "rejected_batches": sum(1 for r in ledger if r["status"] == "rejected"),
        })
    return out
