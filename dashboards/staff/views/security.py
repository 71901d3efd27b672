"""安全策略: the security administrator sets the login lockout and the session limits; every change is
authorised, audited with the old and new value, and applies from the next login."""

import streamlit as st

from dashboards.staff import auth_state, services, ui
from dashboards.staff.runtime import china_time

user = auth_state.require_page("security")
st.title("安全策略")
st.caption("登录失败锁定与会话时限由安全管理员设置(三权分立:系统管理员管账户,审计管理员查日志)。"
           "修改自下次登录起生效,每次修改记入审计日志(含修改前后的值)。")

rows = ui.guarded(services.security_policy, user)
if rows is not None:
    with st.form("security_form"):
        values = {}
        for r in rows:
            values[r["key"]] = st.number_input(
                f"{r['name_zh']}({r['unit_zh']},{r['minimum']}–{r['maximum']},默认 {r['default']})",
                min_value=r["minimum"], max_value=r["maximum"], value=r["value"], step=1, key=f"security_{r['key']}")
            if r["updated_by"]:
                st.caption(f"最近由 {r['updated_by']} 于 {china_time(r['updated_at'], seconds=False)} 修改")
        saved = st.form_submit_button("保存", type="primary", key="security_save")
    if saved:
        done, ok = ui.attempt(services.update_security_policy, user, {k: int(v) for k, v in values.items()})
        if ok:
            st.success("已保存:" + "、".join(done) if done else "没有修改。")
