"""总览: the user's jurisdiction in the latest month — recipients, detections, warnings, exchange health."""

import streamlit as st

from dashboards.staff import auth_state, services, ui
from dashboards.staff import monitoring_services as ms
from jiuzhu import access

user = auth_state.require_page("overview")
st.title("总览")
st.caption(f"管辖区域:{user.jurisdiction_name}")
county_grain = not services.below_county(user.jurisdiction_code)
if not county_grain:
    st.info("统计月报和检出名单按县(市、区)汇总,您的管辖区域在县级以下,本页只显示数据交换情况。")

# --- 统计月报 ----------------------------------------------------------------------------------------------
stats = None
if county_grain:
    st.header("救助对象与资金", divider="red")
    stats = ui.guarded(services.statistics_overview, user)
if stats is not None:
    st.caption(f"数据期:{stats.period}(环比对照 {stats.previous_period})。来源:统计月报 gold/statistics/monthly_statistics")
    ui.statistics(stats, key="overview", trend_title="在册救助人数月度走势")

# --- 检出名单 ----------------------------------------------------------------------------------------------
summary = None
if county_grain:
    st.header("检出情况", divider="red")
    summary = ui.guarded(services.detection_summary, user)
if summary is not None:
    st.caption(f"数据期:{summary.period or '—'}。动态复核中核对结论为“不符合”或“需人工复核”的在册家庭。"
               "来源:检出名单 gold/verification/detection_list")
    st.metric("检出家庭户数", f"{summary.households:,}")
    ui.table(summary.by_county, key="overview_detections", empty="本期管辖区域内没有检出家庭。")

    if services.may(user, "view_household_report", level=services.DETECTION_LEVEL):
        with st.expander("查看检出名单明细(个人信息,须说明事由,查询将记入审计日志)"):
            with st.form("detection_form"):
                purpose = st.text_input("查询事由", key="detection_purpose",
                                        placeholder="例如:本月低保动态复核,逐户核实检出家庭")
                show = st.form_submit_button("查看明细", key="detection_submit")
            if show:
                if not purpose.strip():
                    st.error("查看个人信息须说明事由")
                else:
                    rows = ui.guarded(services.detection_rows, user, purpose)
                    if rows is not None:
                        st.caption(f"共 {len(rows)} 户。本次查询已记入审计日志。")
                        ui.table(rows, key="overview_detection_rows", empty="本期管辖区域内没有检出家庭。")
    else:
        denial = access.authorize(user, "view_household_report", user.jurisdiction_code, services.DETECTION_LEVEL)
        st.caption(f"检出名单明细涉及个人信息:{denial.reason_zh}。")

# --- 监测预警 ----------------------------------------------------------------------------------------------
st.header("监测预警", divider="red")
warned = ui.guarded(ms.warning_summary, user)
if warned is not None:
    period, by_state, late = warned
    st.caption(f"数据期:{period or '—'}。低收入人口动态监测推送至乡镇(街道)的预警,按等级与办理状态。"
               "来源:业务库监测预警队列")
    c1, c2 = st.columns(2)
    c1.metric("本期预警户数", f"{int(by_state['预警户数'].sum()):,}")
    c2.metric("超过走访期限", f"{late:,}")
    ui.table(by_state, key="overview_warnings", empty="本期管辖区域内没有监测预警。")

# --- 数据交换 ----------------------------------------------------------------------------------------------
st.header("数据交换", divider="red")
health = ui.guarded(services.exchange_health, user)
if health is not None:
    st.caption("各共享单位按全省报送,不分区划。来源:交换质量 gold/exchange/exchange_quality")
    ui.table(health, key="overview_exchange", empty="尚无共享单位报送记录。")
