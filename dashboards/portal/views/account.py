"""登录与注册: real identity (name, citizen ID with its check digit, phone) and a password."""

import streamlit as st

from assistance import portal
from dashboards.portal import common, runtime

st.title("登录与注册")
me = runtime.citizen()
if me is not None:
    st.success(f"您已登录:{me.name}")
    st.button("退出登录", key="account_logout", on_click=runtime.sign_out)
    st.stop()

login_tab, register_tab = st.tabs(["登录", "实名注册"])
with login_tab:
    with st.form("login_form"):
        pid = st.text_input("身份证号码", key="login_id")
        password = st.text_input("密码", type="password", key="login_password")
        submitted = st.form_submit_button("登录", type="primary")
    if submitted:
        with runtime.business_session() as s:
            who, ok = common.attempt(portal.login, s, person_id=pid, password=password,
                                     client_key=runtime.client_key(), clock=runtime.now)
        if ok:
            st.session_state[runtime.CITIZEN_KEY] = who
            st.rerun()
with register_tab:
    st.caption("请使用本人身份证上的姓名和号码注册;姓名将与公安户籍登记核对。")
    with st.form("register_form"):
        name = st.text_input("姓名", key="register_name")
        pid = st.text_input("身份证号码", key="register_id")
        phone = st.text_input("手机号码", key="register_phone")
        password = st.text_input("设置密码(至少8位,含字母、数字和符号中的三类)", type="password", key="register_password")
        agreed = st.checkbox("我同意平台为办理救助事项核验我的身份信息", key="register_agree")
        submitted = st.form_submit_button("注册", type="primary")
    if submitted:
        if not agreed:
            st.error("请先阅读并同意身份核验说明")
        else:
            with runtime.business_session() as s:
                made, ok = common.attempt(portal.register, s, name=name, person_id=pid, phone=phone,
                                          password=password, client_key=runtime.client_key(),
                                          lake_root=runtime.lake_root(), clock=runtime.now)
                who = portal.principal(made) if ok else None
            if ok:
                st.session_state[runtime.CITIZEN_KEY] = who
                st.success("注册成功,已为您登录。")
