"""Verification statistics (核对业务统计, VF-7), published to gold for the screens: requests by
month, county (the verification agency's area), commissioning unit, aid item, status and result;
re-verification detections by month, county, result and handling status, with overdue counts.
No person appears: the rows are counts (the analysis zone holds no IDs).
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from statistics import median

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from jiuzhu.business.models import ReverificationTask, VerificationReport, VerificationRequest
from jiuzhu.supervision import BEIJING

REQUEST_SCHEMA = pa.schema([
    ("month", pa.string()), ("county_code", pa.string()), ("commissioning_unit", pa.string()),
    ("aid_item", pa.string()), ("status", pa.string()), ("assessment", pa.string()),
    ("requests", pa.int64()), ("reports", pa.int64()), ("median_hours_to_report", pa.float64()),
])
QUEUE_SCHEMA = pa.schema([
    ("period", pa.string()), ("county_code", pa.string()), ("aid_item", pa.string()), ("assessment", pa.string()),
    ("status", pa.string()), ("tasks", pa.int64()), ("overdue", pa.int64()),
])


def _median_or_none(values: list[float]) -> float | None:
    return median(values) if values else None


def requests_table(session: Session) -> pa.Table:
    issued = {r.request_id: r.issued_at for r in session.scalars(select(VerificationReport))}
    groups: dict[tuple, list] = {}
    for r in session.scalars(select(VerificationRequest)):
        key = (r.created_at.astimezone(BEIJING).strftime("%Y-%m"), r.region_code[:6], r.commissioning_unit,
               r.aid_item, r.status, r.assessment or "")
        hours = (issued[r.id] - r.created_at).total_seconds() / 3600 if r.id in issued else None
        groups.setdefault(key, []).append(hours)
    rows = [{"month": k[0], "county_code": k[1], "commissioning_unit": k[2], "aid_item": k[3], "status": k[4],
             "assessment": k[5] or None, "requests": len(v), "reports": sum(h is not None for h in v),
             "median_hours_to_report": _median_or_none([h for h in v if h is not None])}
            for k, v in sorted(groups.items())]
    return pa.Table.from_pylist(rows, schema=REQUEST_SCHEMA)


def queue_table(session: Session, now: _dt.datetime) -> pa.Table:
    counts: Counter = Counter()
    late: Counter = Counter()
    for t in session.scalars(select(ReverificationTask)):
        key = (t.period, t.county_code[:6], t.aid_item, t.assessment, t.status)
        counts[key] += 1
        late[key] += int(t.status in ("pending", "in_review") and t.due_at < now)
    rows = [{"period": k[0], "county_code": k[1], "aid_item": k[2], "assessment": k[3], "status": k[4],
             "tasks": n, "overdue": late[k]} for k, n in sorted(counts.items())]
    return pa.Table.from_pylist(rows, schema=QUEUE_SCHEMA)
