"""Rate limits shared by every process (the public portal, the exchange API): attempts are counted
in the business database under pseudonymous buckets (SM3 of the kind and the key)."""

from __future__ import annotations

import datetime as _dt
import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jiuzhu import audit
from jiuzhu.business.models import PortalRateEvent


def bucket(kind: str, key: str) -> str:
    return f"{kind}:{hashlib.new('sm3', f'rate|{kind}|{key}'.encode()).hexdigest()[:40]}"


def allow(session: Session, kind: str, key: str, limit: int, minutes: int, clock: audit.Clock = audit.utc_now) -> bool:
    """Count one attempt of ``kind`` for ``key``; False (and nothing counted) when the window is full."""
    now = clock()
    name = bucket(kind, key)
    since = now - _dt.timedelta(minutes=minutes)
    used = session.scalar(select(func.count()).select_from(PortalRateEvent)
                          .where(PortalRateEvent.bucket == name, PortalRateEvent.at >= since)) or 0
    if used >= limit:
        return False
    session.add(PortalRateEvent(bucket=name, at=now, updated_at=now))
    session.commit()
    return True
