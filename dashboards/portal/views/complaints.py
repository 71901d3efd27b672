"""投诉举报与咨询: complaints, reports (signed or anonymous) and consultations with up to three
images; each gets a ticket number, a query code and the date by which the office must reply."""

import streamlit as st

from assistance import portal
from dashboards.portal import common, runtime

st.title("投诉举报与咨询")
me = runtime.citizen()
file_tab, query_tab = st.tabs(["我要反映", "查询办理结果"])
with file_tab:
    kinds = {"consultation": "咨询", "complaint": "投诉", "report": "举报"}
    kind = st.radio("类别", list(kinds), format_func=kinds.get, horizontal=True, key="complaint_kind")
    if me is None:
        st.caption("未登录时为匿名反映;投诉和咨询请留下手机号码以便答复。署名反映请先登录。")
    else:
        st.caption(f"以{me.name}的名义署名反映。")
    place = common.choose_place("complaint", level=4, label="事项所在地")
    subject = st.text_input("事由(一句话概括)", key="complaint_subject")
    content = st.text_area("具体情况", key="complaint_content", height=160)
    phone = st.text_input("联系电话(选填;匿名举报可不填)", key="complaint_phone")
    images = st.file_uploader(f"图片(最多{portal.MAX_IMAGES}张,每张不超过5MB,PNG或JPG)", type=["png", "jpg", "jpeg"],
                              accept_multiple_files=True, key="complaint_images")
    if st.button("提交", type="primary", key="complaint_submit"):
        if place is None:
            st.error("请选择事项所在地(到乡镇或街道)")
        else:
            files = [(f.name, f.getvalue()) for f in images or []]
            with runtime.business_session() as s:
                filed, ok = common.attempt(portal.file_complaint, s, me, kind=kind, region_code=place,
                                           subject=subject, content=content, phone=phone, images=files,
                                           client_key=runtime.client_key(), clock=runtime.now)
            if ok:
                st.success(f"已受理。受理号 {filed.ticket_no},查询码 {filed.query_code}(请记下,用于查询结果)。"
                           f"{filed.office_zh}将于{filed.due_on}前答复。")
with query_tab:
    with st.form("complaint_query"):
        ticket = st.text_input("受理号", key="complaint_ticket")
        code = st.text_input("查询码", key="complaint_code")
        asked = st.form_submit_button("查询", type="primary")
    if asked:
        with runtime.business_session() as s:
            status, ok = common.attempt(portal.complaint_status, s, ticket, code, client_key=runtime.client_key(),
                                        clock=runtime.now)
        if ok:
            st.markdown(f"**{status.kind_zh} {status.ticket_no}**:{status.status_zh}(办理单位:{status.office_zh},"
                        f"{status.filed_on}受理,{status.due_on}前答复)")
            if status.reply:
                st.info(f"答复({status.replied_on}):{status.reply}")
