"""What every part of the staff app shares: the business database, the clock, display time.

The database URL comes from ``jiuzhu.business.db.default_url()`` (``JIUZHU_BUSINESS_DB_URL`` or the
SQLite file under ``JIUZHU_HOME``); its migrations run once per URL and process (``cache_resource``).
All time comes from ``now()``, which reads the module-level ``clock``: authentication, session
expiry and audit entries use it, and tests replace it with a controllable clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from jiuzhu import audit
from jiuzhu.business import db

CHINA_TIME = timezone(timedelta(hours=8), "北京时间")

clock: Callable[[], datetime] = audit.utc_now


def now() -> datetime:
    """The current time (UTC, aware) from the replaceable ``clock``."""
    return clock()


def today_in_china():
    return now().astimezone(CHINA_TIME).date()


def china_time(value: datetime | None, *, seconds: bool = True) -> str:
    """A stored UTC timestamp as Beijing time for display ("" when missing)."""
    if value is None:
        return ""
    return value.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


@st.cache_resource(show_spinner=False)
def _sessions(url: str) -> sessionmaker[Session]:
    """Migrate the business database once, then hand out sessions on one engine per URL."""
    db.upgrade(url)
    return db.session_factory(db.make_engine(url))


def business_session() -> Session:
    """A new session on the business database (use it as a context manager)."""
    return _sessions(db.default_url())()
