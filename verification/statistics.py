"""Re-verification statistics (动态复核统计), published to gold for the screens: detections by
month, county, result and handling status, with overdue counts. No person appears: the rows are
counts. (The verification requests' statistics, VF-7, are a dbt mart over the business database's
mirror: ``marts/statistics/verification_statistics``.)
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from jiuzhu.business.models import ReverificationTask

QUEUE_SCHEMA = pa.schema([
    ("period", pa.string()), ("county_code", pa.string()), ("aid_item", pa.string()), ("assessment", pa.string()),
    ("status", pa.string()), ("tasks", pa.int64()), ("overdue", pa.int64()),
])


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
