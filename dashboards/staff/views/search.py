"""人员查询: find a person in the jurisdiction by a partial name, a homophone, pinyin or initials, or a
partial citizen ID, with the purpose stated; then open the person's household and its links to other
households (关联关系: a shared home, vehicle or business). Every search and
every opening is audited; names and IDs are masked unless the role sees them in the clear."""

import streamlit as st

from dashboards.staff import auth_state, ui
from dashboards.staff import search_services as ss

RESULT_KEY = "search_result"

user = auth_state.require_page("search")
st.title("人员查询")
st.caption("按姓名(可只输部分字,同音字也能查到)、姓名拼音或首字母、身份证号中连续的至少4位查询管辖区域内的人员。"
           "每次查询都须说明事由,并记入审计日志。")

with st.form("search_form"):
    c1, c2 = st.columns([2, 3])
    query = c1.text_input("查询内容", key="search_query", placeholder="如:张伟 / zhangwei / zw / 0012")
    purpose = c2.text_input("查询事由", key="search_purpose", placeholder="如:办理低保申请,核实申请人家庭成员")
    sent = st.form_submit_button("查询", type="primary", key="search_submit")
if sent:
    result, ok = ui.attempt(ss.search, user, query, purpose)
    st.session_state[RESULT_KEY] = (purpose, result) if ok else None

held = st.session_state.get(RESULT_KEY)
if held:
    purpose, result = held
    rows = result.rows
    st.caption(f"按{ss.directory.KIND_ZH[result.kind]}查询,找到 {len(rows)} 人"
               + (f"(只显示前 {ss.LIMIT} 人,请输入更完整的内容)" if result.truncated else "") + "。本次查询已记入审计日志。")
    ui.table(rows, key="search_results", empty="管辖区域内没有找到符合条件的人员。")
    if not rows.empty:
        chosen = st.selectbox("选择人员", [0, *rows["序号"].tolist()], key="search_chosen",
                              format_func=lambda i: "请选择" if not i else f"{i}. {rows.loc[i - 1, '姓名']}({rows.loc[i - 1, '户号']})")
        if chosen and st.button("查看家庭成员", key="search_household"):
            found, ok = ui.attempt(ss.household, user, result, int(chosen), purpose)
            if ok:
                members, links = found
                st.subheader(f"户号 {rows.loc[int(chosen) - 1, '户号']} 的家庭成员")
                ui.table(members, key="search_members")
                st.subheader("关联关系")
                st.caption("与其他家庭共有的不动产、机动车或市场主体(来源:不动产、车辆、市场监管数据)。"
                           "共享单位未报送住址和电话,无法据此关联。")
                ui.table(links, key="search_links", empty="未发现与其他家庭共有的不动产、机动车或市场主体。")
