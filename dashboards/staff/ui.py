"""Small Streamlit helpers shared by the pages (messages, tables, export block)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from dashboards.staff import charts, services
from jiuzhu import access, audit
from jiuzhu.errors import CodedError


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


def attempt(fn: Callable, *args, **kwargs) -> tuple[object, bool]:
    """A workflow step: ``(result, True)``, or ``(None, False)`` after showing why it did not happen —
    a business reason (``CodedError``, in Chinese) or one of the refusals ``guarded`` shows."""
    try:
        return fn(*args, **kwargs), True
    except CodedError as exc:
        st.error(exc.message)
    except (access.AccessDenied, audit.AuditUnavailable, services.Unavailable) as exc:
        refusal(exc)
    return None, False


def table(frame: pd.DataFrame, *, key: str | None = None, empty: str = "没有符合条件的数据。", **kwargs) -> None:
    """A read-only table; ``key`` names its container (the stable handle tests and styles use)."""
    with st.container(key=key) if key else st.container():
        if frame is None or frame.empty:
            st.info(empty)
        else:
            st.dataframe(frame, hide_index=True, width="stretch", **kwargs)


def signed(value, fmt: str = "{:+,}") -> str | None:
    return None if value is None else fmt.format(value)


def statistics(stats: services.StatisticsOverview, *, key: str, trend_title: str) -> None:
    """A month of the statistics (总览 and 统计月报): the three totals with their month-on-month
    change, the tables by category and by division, the trend."""
    t = stats.totals
    c1, c2, c3 = st.columns(3)
    c1.metric("在册救助人数", f"{t['recipients']:,}", signed(t["recipients_mom"]), border=True, help="较上月增减")
    c2.metric("在册救助户数", f"{t['households']:,}", signed(t["households_mom"]), border=True, help="较上月增减")
    c3.metric("当月救助金额(元)", f"{t['amount_yuan']:,.2f}", signed(t["amount_yuan_mom"], "{:+,.2f}"),
              border=True, help="较上月增减")
    st.subheader("按救助类别")
    table(stats.by_category, key=f"{key}_by_category")
    if stats.by_region is not None:
        st.subheader("按下级区划")
        table(stats.by_region, key=f"{key}_by_region")
    if not stats.trend.empty:
        st.altair_chart(charts.trend(stats.trend, "救助人数", trend_title), width="stretch")
