"""电子监察: sensitive-operation warnings over the audit trail and the work past its time limit."""

import streamlit as st

from dashboards.staff import auth_state, ui
from dashboards.staff import supervision_services as sv

user = auth_state.require_page("supervision")
st.title("电子监察")
st.caption("对核对与救助业务的全过程监督:越权、批量、夜间和无业务关联的重复查询个人信息,以及超过时限未办结的核对申请、"
           "动态复核任务和监测预警。查看记录写入审计日志。")

tab_ops, tab_late = st.tabs(["敏感操作预警", "超期办理"])
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
