"""电子监察: sensitive-operation warnings over the audit trail, the work past its time limit, and the
case supervision (案件监察): alerts of the rules over cases, their handling, the indicators."""

import streamlit as st

from assistance import casewatch
from dashboards.staff import auth_state, ui
from dashboards.staff import supervision_services as sv

user = auth_state.require_page("supervision")
st.title("电子监察")
st.caption("对核对与救助业务的全过程监督:越权、批量、夜间和无业务关联的重复查询个人信息,超过时限未办结的核对申请、"
           "动态复核任务和监测预警,以及救助案件的环节超期、超政策审批、未经审批拨付、重复救助和经办近亲属案件未回避。"
           "查看和处理记录写入审计日志。")

CASE_FLASH = "supervision_case_flash"
tab_ops, tab_late, tab_cases = st.tabs(["敏感操作预警", "超期办理", "案件监察"])
with tab_ops:
    days = st.selectbox("时间范围", [7, 30, 90], index=1, format_func=lambda d: f"近{d}天", key="supervision_days")
    found = ui.guarded(sv.sensitive_operations, user, days)
    if found is not None:
        st.metric("预警条数", f"{len(found):,}")
        ui.table(found, key="supervision_operations", empty="所选时间内没有敏感操作预警。")
        st.caption("按“审计记录序号”可在审计日志中查到每条预警依据的原始记录。")
with tab_late:
    late = ui.guarded(sv.overdue_work, user)
    if late is not None:
        cols = st.columns(len(late))
        for col, (title, frame) in zip(cols, late.items(), strict=True):
            col.metric(f"超期{title}", f"{len(frame):,}")
        for title, frame in late.items():
            st.subheader(title)
            ui.table(frame, key=f"supervision_late_{title}", empty=f"没有超期的{title}。")
        st.caption(f"核对申请自提交起{sv.REQUEST_LIMIT_DAYS}天(约25个工作日)未出具报告或退回即为超期;"
                   "动态复核与监测预警按各自推送时确定的期限计算。")
with tab_cases:
    if CASE_FLASH in st.session_state:
        st.success(st.session_state.pop(CASE_FLASH))
    c1, c2 = st.columns([3, 1])
    rule = c1.selectbox("监察规则", ["", *casewatch.RULES], key="case_alert_rule",
                        format_func=lambda r: casewatch.RULES.get(r, "全部规则"))
    if c2.button("立即运行监察规则", key="case_alert_scan"):
        raised, ok = ui.attempt(sv.run_case_scan, user)
        if ok:
            st.session_state[CASE_FLASH] = f"已运行案件监察规则,新发现{raised}条预警"
            st.rerun()
    alerts = ui.guarded(sv.case_alerts, user, rule or None)
    if alerts is not None:
        counts = alerts["监察规则"].value_counts()
        cols = st.columns(len(casewatch.RULES))
        for col, title in zip(cols, casewatch.RULES.values(), strict=True):
            col.metric(f"待处理·{title}", f"{int(counts.get(title, 0)):,}")
        ui.table(alerts, key="supervision_case_alerts", empty="管辖区域内没有待处理的案件监察预警。")
        if not alerts.empty:
            chosen = st.selectbox("选择预警", [0] + alerts["预警号"].tolist(), key="case_alert_chosen",
                                  format_func=lambda n: "请选择" if not n else f"预警 {n}")
            if chosen:
                note = st.text_area("处理意见(必填:核实情况和处理结果)", key="case_alert_note")
                if st.button("处理完毕", key="case_alert_handle", type="primary"):
                    _, ok = ui.attempt(sv.handle_case_alert, user, int(chosen), note)
                    if ok:
                        st.session_state[CASE_FLASH] = f"预警 {chosen} 已处理"
                        st.rerun()
    st.subheader("监察指标")
    period = st.selectbox("月份", sv.recent_periods(), key="case_indicator_period")
    shown = ui.guarded(sv.case_indicators, user, period)
    if shown is not None:
        found, by_rule = shown
        m1, m2, m3, m4 = st.columns(4)
        m1.metric("当月预警·待处理", f"{found.open_total:,}")
        m2.metric("当月预警·已处理", f"{found.handled_total:,}")
        m3.metric("环节超期率", "—" if found.overdue_rate is None else f"{found.overdue_rate:.1%}",
                  help=f"当月到期的办理环节{found.steps_due}个,其中超期办结或仍未办结{found.steps_late}个(公示环节除外)")
        m4.metric("预警平均处理时长", "—" if found.avg_alert_handling_hours is None
                  else f"{found.avg_alert_handling_hours:.1f}小时")
        ui.table(by_rule, key="supervision_case_indicators")
        if found.avg_step_working_days is not None:
            st.caption(f"当月办结的环节平均用时{found.avg_step_working_days:.1f}个工作日。")
