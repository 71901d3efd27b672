"""核对工作台: verification requests of the jurisdiction through their steps, the signed report, and
the county's re-verification queue (动态复核)."""

import streamlit as st

from dashboards.staff import auth_state, services, ui
from dashboards.staff import verification_services as vs
from verification import requests as vr
from verification import reverify

PDF_KEY = "verification_pdf"
FLASH_KEY = "verification_flash"
STEPS = {"submitted": [("receive", "接收申请")], "received": [("verify", "开始核对")],
         "verified": [("review", "复核通过")], "reviewed": [("report", "出具核对报告")]}


user = auth_state.require_page("verification")
st.title("核对工作台")
st.caption("居民家庭经济状况核对:委托申请 → 接收 → 核对 → 复核(须由另一名核对员)→ 出具报告。"
           "每一步都校验权限并记入审计日志;核对结果与批量检出使用同一套规则。")

if FLASH_KEY in st.session_state:
    st.success(st.session_state.pop(FLASH_KEY))
tab_list, tab_new, tab_queue = st.tabs(["核对申请", "新建委托申请", "动态复核工作队列"])

with tab_list:
    listing = ui.guarded(vs.requests_frame, user)
    if listing is not None:
        ui.table(listing, key="verification_requests", empty="管辖区域内还没有核对申请。")
        numbers = listing["申请编号"].tolist()
        chosen = st.selectbox("选择申请", [""] + numbers, key="verification_chosen",
                              format_func=lambda n: "请选择" if not n else n)
        if chosen:
            purpose = st.text_input("查看事由(记入审计日志)", value="办理核对申请", key="verification_purpose")
            view = ui.guarded(vs.request_view, user, chosen, purpose)
            if view is not None:
                st.subheader(f"{view.request_no}({view.status_zh})")
                c1, c2, c3 = st.columns(3)
                c1.metric("救助事项", view.aid_item_zh)
                c2.metric("申请地", view.region_name)
                c3.metric("核对结论", view.assessment or "尚未核对")
                st.caption(f"委托单位:{view.commissioning_unit};委托事由:{view.purpose}")
                ui.table(view.members, key="verification_members")
                if view.rejection_reason:
                    st.warning(f"已退回:{view.rejection_reason}")
                if view.result:
                    profile = view.result.get("profile") or {}
                    st.markdown(f"**{profile.get('period', '')}** 家庭月人均收入 {profile.get('income_per_capita_yuan')} 元,"
                                f"当地低保标准 {profile.get('standard_yuan')} 元")
                    for reason in view.result.get("reasons") or []:
                        st.markdown(f"- 【{reason['effect']}】{reason['reason_zh']}")
                    if not view.result.get("reasons"):
                        st.markdown("- 未发现不符合条件的情形")
                for action, label in STEPS.get(view.status, []):
                    if st.button(label, key=f"verification_{action}", type="primary"):
                        pdf, ok = ui.attempt(vs.step, user, view.request_no, action)
                        if ok and pdf is not None:
                            st.session_state[PDF_KEY] = (view.request_no, pdf)
                        if ok:
                            st.rerun()
                if view.status in ("submitted", "received", "verified"):
                    reason = st.text_input("退回原因", key="verification_reject_reason")
                    if st.button("退回申请", key="verification_reject"):
                        _, ok = ui.attempt(vs.step, user, view.request_no, "reject", reason)
                        if ok:
                            st.rerun()
                if view.report_no:
                    held = st.session_state.get(PDF_KEY)
                    if not held or held[0] != view.request_no:
                        if st.button("生成报告文件", key="verification_regenerate"):
                            pdf, ok = ui.attempt(vs.report_pdf, user, view.report_no, purpose)
                            if ok and pdf is not None:
                                st.session_state[PDF_KEY] = (view.request_no, pdf)
                                held = st.session_state[PDF_KEY]
                    if held and held[0] == view.request_no:
                        st.download_button("下载核对报告(PDF)", held[1], file_name=f"{view.report_no}.pdf",
                                           mime="application/pdf", on_click="ignore", key="verification_download")
                        st.caption("报告带电子签名,可用 `jiuzhu report verify` 核验是否被改动。")

with tab_new:
    with st.form("verification_new"):
        unit = st.text_input("委托单位", key="new_unit")
        item = st.selectbox("救助事项", list(vr.AID_ITEMS), format_func=vr.AID_ITEMS.get, key="new_item")
        ref = st.text_input("核对授权书编号", key="new_authorisation")
        purpose_new = st.text_input("委托事由", value="低保申请家庭经济状况核对", key="new_purpose")
        region = st.text_input("申请地区划代码(12位)", value=user.jurisdiction_code, key="new_region")
        members = st.text_area("家庭成员:每行一人,身份证号和与户主关系代码(第一行为申请人,如“…… 02”)",
                               key="new_members")
        sent = st.form_submit_button("提交申请", key="verification_new_submit")
    if sent:
        number, ok = ui.attempt(vs.submit, user, commissioning_unit=unit, aid_item=item, purpose=purpose_new,
                          authorisation_ref=ref, region_code=region, members_text=members)
        if ok and number:
            st.session_state[FLASH_KEY] = f"已提交核对申请 {number}"
            st.rerun()  # the list above is drawn again with the new request

with tab_queue:
    queue_status = st.selectbox("状态", ["", *reverify.STATUS_ZH], key="queue_status",
                                format_func=lambda s: reverify.STATUS_ZH.get(s, "全部"))
    queue = ui.guarded(vs.queue_frame, user, queue_status or None) if services.may(user, "review_verification") else None
    if not services.may(user, "review_verification"):
        st.info("动态复核工作队列由县级核对员办理。")
    if queue is not None:
        ui.table(queue, key="verification_queue", empty="工作队列中没有动态复核任务。")
        if not queue.empty:
            task = st.selectbox("选择任务", queue["任务号"].tolist(), key="queue_task")
            note = st.text_input("核实情况", key="queue_note")
            c1, c2, c3 = st.columns(3)
            for col, (action, label) in zip((c1, c2, c3), (("start", "开始核实"), ("confirm", "确认不符合"),
                                                            ("clear", "核实后符合")), strict=True):
                if col.button(label, key=f"queue_{action}"):
                    _, ok = ui.attempt(vs.handle_task, user, int(task), action, note)
                    if ok:
                        st.rerun()
