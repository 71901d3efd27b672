"""修改密码: the forced first-login change and any later change (auth.change_password)."""

import streamlit as st

from dashboards.staff import auth_state
from jiuzhu import audit, auth

user = auth_state.require_page("password")
forced = user.must_change_password
st.title("修改初始密码" if forced else "修改密码")

done = auth_state.take_flash()
if done:
    st.success(done)
if forced:
    st.warning(f"{auth.MSG_MUST_CHANGE}。修改之前,不能使用平台的其他任何功能。")
st.caption(f"密码要求:{auth.MSG_POLICY};{auth.MSG_CONTAINS_USERNAME};不得与当前密码相同。")

with st.form("password_form", clear_on_submit=True):
    old = st.text_input("当前密码", type="password", key="password_old", autocomplete="current-password")
    new = st.text_input("新密码", type="password", key="password_new", autocomplete="new-password")
    again = st.text_input("再次输入新密码", type="password", key="password_again", autocomplete="new-password")
    submitted = st.form_submit_button("确认修改", type="primary", key="password_submit")

if submitted:
    if not old or not new:
        st.error("请输入当前密码和新密码")
    elif new != again:
        st.error("两次输入的新密码不一致")
    else:
        try:
            auth_state.change_password(user, old, new)
        except auth.WeakPassword as exc:
            st.error(exc.message_zh)
        except auth.AccountError as exc:
            st.error("当前密码不正确" if exc.code == "BAD_CREDENTIALS" else exc.message_zh)
        except audit.AuditUnavailable as exc:
            st.error(exc.message_zh)
        else:
            auth_state.flash("密码已修改。" + ("现在可以使用左侧菜单中的各项功能。" if forced else ""))
            st.rerun()
