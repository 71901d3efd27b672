"""审计日志: browse the hash-chained audit trail, verify the chain, export it (audit administrator)."""

import streamlit as st

from dashboards.staff import auth_state, labels, services, ui
from dashboards.staff.runtime import today_in_china

EXPORT_KEY = "audit_export"

user = auth_state.require_page("audit")
st.title("审计日志")
st.caption("每次登录、账户变更和对个人信息的访问都记入审计日志(全程留痕)。日志以 SM3 哈希链防篡改,"
           "对象只记录假名化键,不记录证件号。")
if not ui.guarded(auth_state.audit_view_once, user, "view_audit", user.jurisdiction_code, "查阅审计日志"):
    st.stop()

st.header("审计链校验", divider="red")
anchor = services.anchor_path()
if st.button("校验审计链", key="audit_verify", icon=":material/verified:"):
    result = ui.guarded(services.verify_audit, user)
    if result is not None:
        if result.ok:
            st.success(f"审计链完整:共{result.count}条记录")
        else:
            st.error(f"审计链被破坏:第{result.first_broken_seq}条记录。{result.problem_zh}")
if anchor.exists():
    st.caption(f"校验时与外部锚定的链头({anchor.name})比对,可发现尾部被截断或整链重算。")
else:
    st.caption("未找到外部锚定的链头(audit_head.json):尾部被截断无法发现。请定期运行 `jiuzhu audit anchor`。")

st.header("查询", divider="red")
actions = ui.guarded(services.audit_actions, user) or []
c1, c2, c3, c4 = st.columns(4)
actor = c1.text_input("操作人(用户名)", key="audit_actor")
action = c2.selectbox("操作", [""] + actions, format_func=lambda a: "全部" if not a else labels.audit_action(a),
                      key="audit_action")
outcome = c3.selectbox("结果", ["", *labels.OUTCOMES], format_func=lambda o: "全部" if not o else labels.OUTCOMES[o],
                       key="audit_outcome")
span = c4.date_input("日期(北京时间)", value=(), max_value=today_in_china(), key="audit_dates")
since = span[0] if len(span) >= 1 else None
until = span[1] if len(span) == 2 else since

found = ui.guarded(services.audit_entries, user,
                   services.AuditFilter(actor=actor, action=action, outcome=outcome, since=since, until=until))
if found is not None:
    frame, total = found
    shown = f",显示最新 {len(frame)} 条" if total > len(frame) else ""
    st.caption(f"符合条件的记录 {total:,} 条{shown}。")
    ui.table(frame, key="audit_entries", empty="没有符合条件的审计记录。")

st.header("导出", divider="red")
if services.may(user, "export_audit"):
    st.caption("导出全部审计日志为 CSV(UTF-8 带 BOM,公式字符已转义);导出本身也记入审计日志。")
    if st.button("生成导出文件", key="audit_export_prepare", icon=":material/download:"):
        data = ui.guarded(services.export_audit, user)
        if data is not None:
            st.session_state[EXPORT_KEY] = data
    if EXPORT_KEY in st.session_state:
        st.download_button("下载审计日志(CSV)", st.session_state[EXPORT_KEY], file_name="审计日志.csv",
                           mime="text/csv", on_click="ignore", key="audit_download")
else:
    st.caption("导出审计日志仅限审计管理员。")
