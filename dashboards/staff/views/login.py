"""登录: username and password against the business database (Argon2, lockout, audit)."""

import streamlit as st

from dashboards.staff import auth_state
from jiuzhu import audit, auth

st.title("四川省社会救助综合服务平台")
st.subheader("工作人员登录")

notice = auth_state.take_notice()
if notice:
    st.info(notice)

with st.form("login_form", clear_on_submit=True):
    username = st.text_input("用户名", key="login_username", autocomplete="username")
    password = st.text_input("密码", type="password", key="login_password", autocomplete="current-password")
    submitted = st.form_submit_button("登录", type="primary", key="login_submit")

if submitted:
    if not username.strip() or not password:
        st.error("请输入用户名和密码")
    else:
        try:
            result = auth_state.login(username, password)
        except audit.AuditUnavailable as exc:
            st.error(exc.message_zh)
        else:
            if result.ok:
                st.rerun()
            st.error(result.message_zh)

st.caption(
    f"连续{auth.MAX_FAILURES}次输入错误密码,账户将被锁定{int(auth.LOCKOUT.total_seconds() // 60)}分钟;"
    "首次登录须修改初始密码。本系统仅供授权工作人员使用,所有登录和数据访问均记入审计日志。"
)
