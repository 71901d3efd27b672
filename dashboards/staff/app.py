"""员工端 staff app: entry point, login state and the role-based navigation.

``streamlit run dashboards/staff/app.py``. Every rerun checks the login (idle and absolute
expiry, account still active, role and jurisdiction unchanged) before any page runs, then renews
the idle timer. Signed out, the only page is 登录; with an initial password, the only page is
修改初始密码; otherwise the menu holds the pages the role may open (``navigation.pages_for``),
and each page checks again for itself.
"""

import streamlit as st

from dashboards.staff import auth_state, navigation

st.set_page_config(page_title="四川省社会救助综合服务平台", page_icon="🏛", layout="wide")


def _page(spec: navigation.PageSpec, *, default: bool = False) -> st.Page:
    return st.Page(spec.file, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=default)


user = auth_state.current_user(renew=True)

if user is None:
    current = st.navigation([_page(navigation.LOGIN, default=True)], position="hidden")
elif user.must_change_password:
    current = st.navigation([_page(navigation.FORCED_PASSWORD, default=True)], position="hidden")
else:
    sections: dict[str, list[st.Page]] = {}
    for i, spec in enumerate(navigation.pages_for(user)):
        sections.setdefault(spec.section, []).append(_page(spec, default=i == 0))
    current = st.navigation(sections)

with st.sidebar:
    st.markdown("### 四川省社会救助综合服务平台")
    if user is not None:
        st.markdown(f"**{user.display_name}**")
        st.caption(f"角色:{user.role_zh}")
        st.caption(f"管辖区域:{user.jurisdiction_name}")
        limits = auth_state.session_limits()
        if limits:
            st.caption(f"无操作将于 {limits[0]} 自动退出;本次登录最迟于 {limits[1]} 结束(北京时间)")
        st.button("退出登录", key="logout_button", icon=":material/logout:", on_click=auth_state.logout)
        auth_state.expiry_watch()
    st.caption("全部为合成数据,不含真实个人信息。")

current.run()
