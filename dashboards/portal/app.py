"""社会救助公众服务门户: ``streamlit run dashboards/portal/app.py``. Simplified Chinese, large text,
phone-width friendly; a separate app from the staff one, reaching the platform only through
``assistance.portal``."""

import streamlit as st

from dashboards.portal import common, runtime

st.set_page_config(page_title="四川社会救助公众服务", page_icon="🤝", layout="centered")
common.style()

pages = [
    st.Page("views/policies.py", title="救助政策与事项", icon=":material/menu_book:", url_path="policies", default=True),
    st.Page("views/apply.py", title="我要申请", icon=":material/edit_note:", url_path="apply"),
    st.Page("views/progress.py", title="办理进度查询", icon=":material/search:", url_path="progress"),
    st.Page("views/complaints.py", title="投诉举报与咨询", icon=":material/support_agent:", url_path="complaints"),
    st.Page("views/disclosure.py", title="救助公示", icon=":material/campaign:", url_path="disclosure"),
    st.Page("views/services.py", title="公益服务项目", icon=":material/volunteer_activism:", url_path="services"),
    st.Page("views/account.py", title="登录与注册", icon=":material/person:", url_path="account"),
]
current = st.navigation(pages)
with st.sidebar:
    st.markdown("### 四川社会救助公众服务")
    me = runtime.citizen()
    if me is not None:
        st.markdown(f"您好,{me.name}")
        st.button("退出登录", key="portal_logout", on_click=runtime.sign_out)
    else:
        st.caption("申请救助和署名投诉请先登录。")
    st.caption("本站为演示系统,全部为合成数据。求助热线:12345")
current.run()
