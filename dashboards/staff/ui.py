"""Small Streamlit helpers shared by the pages (messages, tables, export block)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from dashboards.staff import services
from jiuzhu import access, audit


def refusal(exc: Exception) -> None:
    """Show why an operation did not happen (access denied, audit unavailable, nothing to show)."""
    if isinstance(exc, access.AccessDenied):
        st.error(f"操作被拒绝:{exc.message_zh}")
    elif isinstance(exc, audit.AuditUnavailable):
        st.error(f"{exc.message_zh}。请确认事由中没有身份证号、户号、手机号或银行卡号;如仍失败请联系系统管理员。")
    elif isinstance(exc, services.Unavailable):
        st.info(exc.message_zh)
    else:
        raise exc


def guarded(fn: Callable, *args, **kwargs):
    """Run a service call; on a refusal show it and return None."""
    try:
        return fn(*args, **kwargs)
    except (access.AccessDenied, audit.AuditUnavailable, services.Unavailable) as exc:
        refusal(exc)
        return None


def table(frame: pd.DataFrame, *, key: str | None = None, empty: str = "没有符合条件的数据。", **kwargs) -> None:
    """A read-only table; ``key`` names its container (the stable handle tests and styles use)."""
    with st.container(key=key) if key else st.container():
        if frame is None or frame.empty:
            st.info(empty)
        else:
            st.dataframe(frame, hide_index=True, width="stretch", **kwargs)


def signed(value, fmt: str = "{:+,}") -> str | None:
    return None if value is None else fmt.format(value)
