"""用户管理: the accounts inside the system administrator's jurisdiction (no password hashes)."""

import streamlit as st

from dashboards.staff import auth_state, services, ui

user = auth_state.require_page("users")
st.title("用户管理")
st.caption(f"管辖区域:{user.jurisdiction_name}。每个账户只有一个角色(三权分立);密码以 Argon2id 摘要保存,任何页面都不显示。")

if not ui.guarded(auth_state.audit_view_once, user, "manage_users", user.jurisdiction_code, "查看用户账户列表"):
    st.stop()
accounts = ui.guarded(services.users_list, user)
if accounts is not None:
    c1, c2, c3 = st.columns(3)
    c1.metric("账户数", len(accounts))
    c2.metric("已锁定", int((accounts["状态"] == "已锁定").sum()))
    c3.metric("尚未修改初始密码", int((accounts["须修改初始密码"] == "是").sum()))
    ui.table(accounts, key="users_list", empty="管辖区域内没有账户。")
    st.caption("演示账户用命令行 `jiuzhu users seed-demo` 创建,修改密码用 `jiuzhu users passwd 用户名`(均记入审计日志)。")
