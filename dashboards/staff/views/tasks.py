"""待办事项: the steps of the user's office (and steps escalated to it) with their time limits —
due soon (办结预警) and overdue highlighted — the steps done and the suspended ones; a case opened
from the list shows its family, steps, archive and payments, and the step's actions."""

import streamlit as st

from assistance import relatives
from dashboards.staff import auth_state, ui
from dashboards.staff import casework_services as cs
from dashboards.staff import funds_services as fs

user = auth_state.require_page("tasks")
st.title("待办事项")
st.caption("按流程流转到本机构的救助申请。每个环节有办理时限(工作日),到期前预警,超期自动上报上一级;"
           "挂起期间时限暂停。每一次办理记入审计日志。")

which = st.radio("列表", list(cs.LISTS), format_func=cs.LISTS.get, horizontal=True, key="tasks_list")
frame = ui.guarded(cs.tasks_frame, user, which)
if frame is not None:
    ui.table(frame, key="tasks_table", empty="没有事项。")
    if not frame.empty:
        late = int((frame["时限"] == "已超期").sum())
        soon = int((frame["时限"] == "即将到期").sum())
        if late:
            st.error(f"{late}个环节已超过办理时限,已上报上一级。")
        if soon:
            st.warning(f"{soon}个环节即将到期。")

def _terms_form(info: dict) -> None:
    """待遇计算方式: 整户低保 or 单人保 (and its member), 分散/集中供养 and each person's self-care ability."""
    terms = info["terms"]
    choices = info["member_choices"]
    with st.expander("待遇计算方式", expanded=info["proposed_amount"] is None):
        tekun = "特困" in info["item_zh"]
        kinds = {"tekun": "特困人员救助供养"} if tekun else {"dibao": "整户低保", "single_person": "单人保"}
        current_kind = terms.rule_kind if terms and terms.rule_kind in kinds else next(iter(kinds))
        kind = st.radio("计算方式", list(kinds), format_func=kinds.get, horizontal=True,
                        index=list(kinds).index(current_kind), key="tasks_terms_kind")
        covered, mode, care = [], "dispersed", {}
        if kind == "single_person":
            covered = [st.selectbox("纳入单人保的成员(重病患者或重度残疾人)", list(choices), format_func=choices.get,
                                    key="tasks_terms_covered")]
        if kind == "tekun":
            modes = {"dispersed": "分散供养", "centralised": "集中供养"}
            mode = st.radio("供养方式", list(modes), format_func=modes.get, horizontal=True, key="tasks_terms_mode")
            levels = {"full": "全自理", "partial": "部分失能", "none": "完全失能"}
            for pid, label in choices.items():
                known = (terms.self_care.get(pid) if terms else None) or "full"
                care[pid] = st.selectbox(f"{label}:生活自理能力", list(levels), format_func=levels.get,
                                         index=list(levels).index(known), key=f"tasks_terms_care_{pid[-4:]}")
        if st.button("按此方式计算", key="tasks_terms_apply"):
            _, done = ui.attempt(cs.set_terms, user, info["acceptance_no"], kind, covered=covered, tekun_mode=mode,
                                 self_care=care)
            if done:
                st.success("已按所选方式重新计算建议金额。")
                st.rerun()


number = st.text_input("受理编号", key="tasks_case", value=st.session_state.get("tasks_open", ""))
if number.strip():
    info, ok = ui.attempt(cs.case_detail, user, number.strip())
    if ok:
        st.subheader(f"{info['acceptance_no']} · {info['item_zh']} · {info['status_zh']}")
        st.caption(f"{info['region_zh']};{info['channel_zh']},受理时间 {info['accepted_at']};户号 {info['household_no'] or '—'}")
        if info["must_visit"]:
            st.warning("申请家庭有成员是工作人员或村(居)干部的备案近亲属:须入户调查,备案人不得办理本案。")
        if info["verification_request_no"]:
            verdict = f",核对结论:{info['assessment']}" if info["assessment"] else ""
            st.markdown(f"**家庭经济状况核对** 核对申请 {info['verification_request_no']}"
                        f"({info['verification_status_zh']}{verdict})")
        if info["proposed_amount"] is not None and info["approved_amount"] is None:
            st.markdown(f"**建议救助金额** {info['proposed_amount']:,.2f} 元/月(按待遇计算规则)")
        if info["approved_amount"] is not None:
            st.markdown(f"**核定救助金额** {info['approved_amount']:,.2f} 元/月")
        if info["breakdown"]:
            st.markdown("**金额计算**")
            st.markdown("\n".join(f"- {line}" for line in info["breakdown"]))
        elif info["computed"] and info["verification_request_no"]:
            st.caption("尚未算出救助金额:核对结果出具后自动计算;特困人员须先在下方评估生活自理能力。")
        if info["benefit"] is not None:
            b = info["benefit"]
            left = (f";渐退期剩余{b['exit_months_left']}个月" if b["exit_months_left"] is not None else "")
            st.info(f"救助待遇:{b['status_zh']},{b['rule_zh']},当前 {b['monthly_amount']:,.2f} 元/月{left}")
        st.markdown("**家庭成员**")
        ui.table(info["members"], key="tasks_members")
        st.markdown("**办理过程**")
        ui.table(info["steps"], key="tasks_steps")
        st.markdown("**电子档案**")
        ui.table(info["documents"], key="tasks_documents", empty="没有归档材料。")
        st.markdown("**家庭变更记录**")
        ui.table(info["changes"], key="tasks_changes", empty="没有变更记录。")
        with st.expander("登记家庭变更"):
            kinds = {"migration": "迁移", "member_change": "成员变更", "info_change": "信息变更"}
            change_kind = st.selectbox("变更类别", list(kinds), format_func=kinds.get, key="tasks_change_kind")
            change_text = st.text_input("变更内容", key="tasks_change_text")
            change_day = st.text_input("生效日期(YYYY-MM-DD)", key="tasks_change_day")
            moved_to = ""
            if change_kind == "migration":
                moved_to = st.text_input("迁入地乡镇(街道)区划代码(在保家庭自迁移次月起按迁入地标准计算)",
                                         key="tasks_change_region")
            if st.button("登记变更", key="tasks_change_submit"):
                _, changed = ui.attempt(cs.act, user, info["acceptance_no"], f"change:{change_kind}", note=change_text,
                                        to_region=change_day, new_region=moved_to)
                if changed:
                    st.success("已登记。")
                    st.rerun()
        if not info["orders"].empty:
            st.markdown("**资金拨付**")
            ui.table(info["orders"], key="tasks_orders")
            explained = [n for n, lines in info["order_breakdowns"].items() if lines]
            if explained:
                shown = st.selectbox("拨付单金额明细", explained, key="tasks_order_breakdown")
                st.markdown("\n".join(f"- {line}" for line in info["order_breakdowns"][shown]))
        current = info["current"]
        if current is not None:
            st.markdown(f"**当前环节:{current['name_zh']}**")
            if current["status"] == "suspended":
                st.info(f"已挂起:{current['suspend_reason'] or ''}")
            if info["computed"] and current["kind"] in ("review", "approval") and current["status"] != "suspended":
                _terms_form(info)
            note = st.text_area("办理意见 / 理由", key="tasks_note")
            buttons = []
            if current["status"] == "suspended":
                buttons.append(("resume", "恢复办理"))
                if current["kind"] == "verification":
                    buttons.append(("resubmit", "重新提交核对"))
            elif current["manual"]:
                amount = None
                if current["kind"] == "approval":
                    default = info["approved_amount"] or info["proposed_amount"] or 0.0
                    amount = st.number_input("核定救助金额(元/月)", min_value=0.0, value=float(default), step=10.0,
                                             key="tasks_amount")
                buttons += [("pass", "通过"), ("refuse", "不予通过")]
                if current["kind"] in ("approval",):
                    buttons.append(("return", "退回上一环节"))
                buttons.append(("suspend", "挂起"))
            elif current["kind"] == "publicity":
                buttons.append(("object", "登记公示异议"))
            else:
                st.caption("本环节由核对机构出具结论或资金到账后自动办结。")
            to_region = None
            if current["status"] != "suspended" and current["manual"]:
                to_region = st.text_input("转办至(同级机构区划代码)", key="tasks_transfer_to")
                buttons.append(("transfer", "转办"))
            if buttons:
                for col, (what, label) in zip(st.columns(len(buttons)), buttons, strict=True):
                    if col.button(label, key=f"tasks_{what}"):
                        amount_value = st.session_state.get("tasks_amount") if what == "pass" else None
                        _, done = ui.attempt(cs.act, user, info["acceptance_no"], what, note=note,
                                             amount=amount_value, to_region=to_region)
                        if done:
                            st.success("已办理。")
                            st.rerun()

if user.role == "approver":
    with st.expander("财务退回的资金拨付单"):
        returned = ui.guarded(fs.returned_orders, user)
        if returned is not None:
            ui.table(returned, key="tasks_returned", empty="没有被退回的拨付单。")
            if not returned.empty:
                order_no = st.selectbox("拨付单", returned["拨付单号"].tolist(), key="tasks_returned_no")
                corrected = st.number_input("更正后的金额(元)", min_value=0.0, step=10.0, key="tasks_returned_amount")
                reason = st.text_input("更正说明", key="tasks_returned_note")
                if st.button("提交更正", key="tasks_returned_submit"):
                    _, done = ui.attempt(fs.correct_order, user, order_no, corrected, reason)
                    if done:
                        st.success("已更正,拨付单重新进入财务审核。")

if user.role == "approver":
    with st.expander("后补追缴待审核"):
        st.caption("已发放的月份,后来交换到的数据(车辆、房产、存款、企业、财政供养、死亡、核对时没有的收入)显示"
                   "当时发放有误:多发的追缴,少发的补发。确认后存档;补发随该待遇下一张拨付单发放。")
        items = ui.guarded(cs.pending_adjustments, user)
        if items is not None:
            ui.table(items, key="tasks_adjustments", empty="没有待审核的后补追缴事项。")
            if not items.empty:
                chosen = st.selectbox("事项", items["事项号"].tolist(), key="tasks_adjustment_id")
                verdict = st.radio("审核结果", ["confirm", "dismiss"], horizontal=True, key="tasks_adjustment_decision",
                                   format_func={"confirm": "确认", "dismiss": "驳回"}.get)
                remark = st.text_input("审核意见", key="tasks_adjustment_note")
                if st.button("提交审核", key="tasks_adjustment_submit"):
                    _, done = ui.attempt(cs.review_adjustment, user, int(chosen), verdict, remark)
                    if done:
                        st.success("已审核。")
                        st.rerun()

with st.expander("近亲属备案"):
    st.caption("工作人员和村(居)干部须备案本人的近亲属;近亲属的申请须入户调查,本人不得办理。")
    ui.table(ui.guarded(cs.my_relatives, user), key="tasks_relatives", empty="尚未备案近亲属。")
    r1, r2 = st.columns([3, 1])
    relative_id = r1.text_input("近亲属身份证号码", key="tasks_relative_id")
    relation = r2.selectbox("关系", list(relatives.RELATIONS_ZH), key="tasks_relative_relation")
    if st.button("备案", key="tasks_relative_file"):
        _, done = ui.attempt(cs.file_relative, user, relative_id, relation)
        if done:
            st.success("已备案。")
