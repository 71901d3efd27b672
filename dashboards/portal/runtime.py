"""What every page of the public portal shares: the business database, the lake, the clock, the
browser session's key for rate limits, and the signed-in citizen.

The portal has its own runtime (it never imports the staff app): it reaches the business database
only through ``assistance.portal``, which gives it nothing beyond what a family may see.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from assistance import portal
from jiuzhu import audit, settings
from jiuzhu.business import db

CHINA_TIME = timezone(timedelta(hours=8), "北京时间")
CITIZEN_KEY = "portal_citizen"

clock: Callable[[], datetime] = audit.utc_now


def now() -> datetime:
    return clock()


@st.cache_resource(show_spinner=False)
def _sessions(url: str) -> sessionmaker[Session]:
    db.upgrade(url)
    return db.session_factory(db.make_engine(url))


def business_session() -> Session:
    return _sessions(db.default_url())()


def lake_root():
    return settings.load().lake


def client_key() -> str:
    """A random key per browser session: the rate limits count attempts against it (and the ID)."""
    if "portal_client" not in st.session_state:
        st.session_state["portal_client"] = secrets.token_hex(16)
    return st.session_state["portal_client"]


def citizen() -> portal.CitizenPrincipal | None:
    return st.session_state.get(CITIZEN_KEY)


def sign_out() -> None:
    st.session_state.pop(CITIZEN_KEY, None)
