"""事项办理查询: by acceptance number and the ID of a member of the family."""

import streamlit as st

from assistance import portal
from dashboards.portal import common, runtime

st.title("办理进度查询")
st.write("输入受理编号和申请家庭任一成员的身份证号码,查看每个环节的办理情况。")
with st.form("progress_form"):
    number = st.text_input("受理编号(如 SL20261201000001)", key="progress_no")
    pid = st.text_input("身份证号码", key="progress_id")
    submitted = st.form_submit_button("查询", type="primary")
if submitted:
    with runtime.business_session() as s:
        shown, ok = common.attempt(portal.progress, s, number, pid, client_key=runtime.client_key(), clock=runtime.now)
    if ok:
        st.subheader(f"{shown.item_zh}:{shown.status_zh}")
        st.caption(f"受理编号 {shown.acceptance_no},申请日期 {shown.accepted_on}")
        for step in shown.steps:
            done = f",{step.completed_on}办结" if step.completed_on else ""
            st.markdown(f"- **{step.name_zh}** {step.status_zh}(开始于{step.started_on}{done})")
