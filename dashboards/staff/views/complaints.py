"""投诉咨询: the complaints, reports (signed or anonymous) and consultations filed on the public portal,
routed to this office (consultations to the township, complaints and reports to the county), with the
committed reply date; answered and closed here, the answer shown to the citizen on the portal."""

import streamlit as st

from assistance import portal
from dashboards.staff import auth_state, ui
from dashboards.staff import casework_services as cs

user = auth_state.require_page("complaints")
st.title("投诉咨询")
st.caption("公众服务门户提交的投诉、举报和咨询,按答复期限排列;答复后群众可凭受理号和查询码在门户查看。"
           "每一次查看和答复记入审计日志。")
open_only = st.checkbox("只看未办结的", value=True, key="complaints_open_only")
found = ui.guarded(cs.complaints, user, open_only)
if found is not None:
    frame, rows = found
    ui.table(frame, key="complaints_table", empty="没有投诉咨询。")
    late = int((frame["超期"] == "已超期").sum()) if not frame.empty else 0
    if late:
        st.error(f"{late}件已超过答复期限。")
    if rows:
        chosen = st.selectbox("办理", list(rows), format_func=lambda i: f"{rows[i].ticket_no} {rows[i].subject}",
                              key="complaints_pick")
        item = rows[chosen]
        st.markdown(f"**{item.kind_zh}**({'署名' if item.signed else '匿名'}){item.region_zh}")
        st.write(item.content)
        for j, image in enumerate(item.images):
            st.image(image, caption=f"附图{j + 1}", width=240)
        text = st.text_area("答复内容", key="complaints_reply")
        close = st.checkbox("答复并办结", value=True, key="complaints_close")
        if st.button("提交答复", key="complaints_submit", type="primary"):
            _, ok = ui.attempt(cs.reply_complaint, user, chosen, text, close)
            if ok:
                st.success("已答复。")
                st.rerun()
    st.caption(f"答复期限:咨询{portal.REPLY_WORKING_DAYS['consultation']}个工作日,"
               f"投诉和举报{portal.REPLY_WORKING_DAYS['complaint']}个工作日。")
