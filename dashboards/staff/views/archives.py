"""档案管理: a case's archived materials and decisions, found by acceptance number, a member's ID
or the household, each checked against its SM3 digest and signature when it is opened."""

import streamlit as st

from dashboards.staff import auth_state, ui
from dashboards.staff import casework_services as cs

user = auth_state.require_page("archives")
st.title("档案管理")
st.caption("每件申请材料和审批决定归档时记录SM3摘要、可信时间并由中心签名;打开档案时校验,被改动的档案会被发现。"
           "查阅档案须说明事由,记入审计日志。")

c1, c2, c3 = st.columns(3)
acceptance_no = c1.text_input("受理编号", key="archives_no")
person_id = c2.text_input("成员身份证号码", key="archives_pid")
household_no = c3.text_input("户编号", key="archives_household")
purpose = st.text_input("查阅事由(必填)", key="archives_purpose")
if st.button("查询档案", type="primary", key="archives_search"):
    st.session_state["archives_query"] = (acceptance_no, person_id, household_no, purpose)
query = st.session_state.get("archives_query")
if query:
    hits, ok = ui.attempt(cs.archive_search, user, acceptance_no=query[0], person_id=query[1], household_no=query[2],
                          purpose=query[3])
    if ok:
        ui.table(hits, key="archives_hits", empty="没有找到档案。")
        if not hits.empty:
            chosen = st.selectbox("打开档案", [""] + hits["档案号"].tolist(), key="archives_open",
                                  format_func=lambda n: n or "请选择")
            if chosen:
                doc, opened = ui.attempt(cs.archive_file, user, chosen, query[3])
                if opened:
                    if doc["intact"]:
                        st.success(f"档案完整:SM3 {doc['sm3']},归档时间 {doc['archived_at']},签名有效。")
                    else:
                        st.error(f"档案校验未通过:{doc['problem_zh']}")
                    st.download_button("下载档案文件", doc["content"], file_name=doc["filename"],
                                       mime=doc["media_type"], key="archives_download")
