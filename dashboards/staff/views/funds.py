"""资金监管: the finance officer's month — the spot-check sample and the pass/return of the drawn orders,
the payment files for the social-security card (一卡通) and for bank direct payment, the bank's result
imported and reconciled against the orders, and the issues it finds handled to closure."""

import streamlit as st

from assistance import payments
from dashboards.staff import auth_state, ui
from dashboards.staff import funds_services as fs

FILE_KEY = "funds_file"
REPORT_KEY = "funds_report"
FLASH_KEY = "funds_flash"


def _flash(message: str) -> None:
    st.session_state[FLASH_KEY] = message
    st.rerun()


user = auth_state.require_page("funds")
st.title("资金监管")
st.caption("审批通过的救助按月生成资金拨付单。财务按比例随机抽查(另加大额和首次发放),抽中的逐笔审核,有误的退回审批人更正;"
           "审核通过的生成社保卡(一卡通)或银行代发文件;银行返回的发放结果逐笔与拨付单核对,漏发、重复发放、金额或收款人"
           "不符的列为对账差异,处理到办结。每一步记入审计日志。")
if FLASH_KEY in st.session_state:
    st.success(st.session_state.pop(FLASH_KEY))

months = ui.guarded(fs.periods, user)
if not months:
    st.stop()
period = st.selectbox("发放月份", months, key="funds_period")
shown = ui.guarded(fs.overview, user, period)
if shown is not None:
    summary, by_status = shown
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("拨付单", f"{summary.orders:,}", border=True)
    c2.metric("拨付金额(元)", summary.amount, border=True)
    c3.metric("待人工抽查", f"{summary.awaiting_check:,}", border=True)
    c4.metric("待处理对账差异", f"{sum(summary.open_issues.values()):,}", border=True)
    ui.table(by_status, key="funds_by_status", empty="本月管辖区域内还没有资金拨付单。")

tab_check, tab_files, tab_bank, tab_impact = st.tabs(["财务抽查", "发放文件", "银行结果与对账", "待遇调整测算"])

with tab_check:
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    rate = c1.number_input("随机抽查比例(%)", min_value=1, max_value=100, value=10, step=1, key="funds_rate")
    threshold = c2.number_input("大额必查限额(元,0为不设)", min_value=0.0, value=0.0, step=100.0,
                                key="funds_threshold")
    if c3.button("执行抽查", key="funds_sample", type="primary"):
        drawn, ok = ui.attempt(fs.draw_sample, user, period, float(rate), float(threshold) or None)
        if ok and not drawn.considered:
            _flash("本月没有尚未抽查的待审核拨付单。")
        if ok:
            _flash(f"本次抽查{drawn.considered}张待审核拨付单:抽中{len(drawn.spot_checked)}张待人工审核,"
                   f"其余{len(drawn.auto_checked)}张由抽查规则审核通过。")
    st.caption("随机抽取按“拨付单号+月份”的SM3摘要排序,结果可复核;超过限额的和首次发放的拨付单一律人工审核。")
    pending = ui.guarded(fs.awaiting_check, user, period)
    if pending is not None:
        ui.table(pending, key="funds_awaiting", empty="没有待人工抽查的拨付单。")
        if not pending.empty:
            chosen = st.selectbox("选择拨付单", [""] + pending["拨付单号"].tolist(), key="funds_order",
                                  format_func=lambda n: n or "请选择")
            if chosen:
                reason = st.text_input("退回原因(退回时必填)", key="funds_return_reason")
                b1, b2 = st.columns(2)
                if b1.button("审核通过", key="funds_pass", type="primary"):
                    _, ok = ui.attempt(fs.check_order, user, chosen, True)
                    if ok:
                        _flash(f"拨付单{chosen}审核通过")
                if b2.button("退回审批人", key="funds_return"):
                    _, ok = ui.attempt(fs.check_order, user, chosen, False, reason)
                    if ok:
                        _flash(f"拨付单{chosen}已退回审批人更正")

with tab_files:
    c1, c2 = st.columns(2)
    channel = c1.selectbox("发放渠道", list(payments.CHANNELS), format_func=payments.CHANNELS.get,
                           key="funds_channel")
    purpose = c2.text_input("事由(记入审计日志)", value=f"{period}救助资金发放", key="funds_purpose")
    if st.button("生成发放文件", key="funds_generate", type="primary"):
        made, ok = ui.attempt(fs.generate_file, user, period, channel, purpose)
        if ok:
            st.session_state[FILE_KEY] = made
            _flash(f"已生成发放批次{made[0]}")
    listing = ui.guarded(fs.batches, user, period)
    if listing is not None:
        ui.table(listing, key="funds_batches", empty="本月还没有生成发放文件。")
        if not listing.empty:
            again = st.selectbox("重新下载已生成的文件", [""] + listing["批次号"].tolist(), key="funds_again",
                                 format_func=lambda n: n or "请选择批次")
            if again and st.button("准备下载", key="funds_again_make"):
                made, ok = ui.attempt(fs.batch_download, user, again, purpose)
                if ok:
                    st.session_state[FILE_KEY] = made
    held = st.session_state.get(FILE_KEY)
    if held:
        st.download_button(f"下载发放文件 {held[1]}", held[2], file_name=held[1], mime="text/csv",
                           on_click="ignore", key="funds_download")
        st.caption("文件为GB18030编码的CSV,含收款人姓名、证件号码和账号,仅限报送银行,不得另作他用。")

with tab_bank:
    listing = ui.guarded(fs.batches, user, period)
    numbers = [] if listing is None else listing["批次号"].tolist()
    batch_no = st.selectbox("发放批次", [""] + numbers, key="funds_batch", format_func=lambda n: n or "请选择批次")
    upload = st.file_uploader("银行返回的发放结果文件(CSV,GB18030或UTF-8)", type=["csv", "txt"], key="funds_upload")
    if st.button("导入并对账", key="funds_import", type="primary"):
        if not batch_no:
            st.error("请先选择发放批次")
        elif upload is None:
            st.error("请先选择银行返回的发放结果文件")
        else:
            report, ok = ui.attempt(fs.import_result, user, batch_no, upload.getvalue())
            if ok:
                st.session_state[REPORT_KEY] = report
                st.rerun()
    report = st.session_state.get(REPORT_KEY)
    if report is not None:
        st.success(report.summary_zh)
        if not report.bad_lines.empty:
            st.warning(f"以下{len(report.bad_lines)}行格式有误,未导入,请银行更正后重新提供:")
            ui.table(report.bad_lines, key="funds_bad_lines")
        if not report.new_issues.empty:
            st.error(f"对账发现{len(report.new_issues)}处差异:"
                     + ";".join(f"{r['拨付单号']} {r['差异类型']}" for _, r in report.new_issues.iterrows()))
    st.subheader("对账差异")
    open_only = st.checkbox("只看待处理的", value=True, key="funds_open_only")
    found = ui.guarded(fs.issues, user, period, open_only)
    if found is not None:
        ui.table(found, key="funds_issues", empty="没有对账差异。")
        waiting = found[found["状态"] == payments.ISSUE_STATUS_ZH["open"]] if not found.empty else found
        if not waiting.empty:
            issue = st.selectbox("选择差异", [0] + waiting["差异号"].tolist(), key="funds_issue",
                                 format_func=lambda n: "请选择" if not n else f"差异 {n}")
            if issue:
                note = st.text_area("处理情况(必填)", key="funds_issue_note")
                requeue = st.checkbox("款项未发出:重新列入下一批发放文件(仅限发放失败或银行未返回结果)",
                                      key="funds_requeue")
                if st.button("办结差异", key="funds_resolve", type="primary"):
                    _, ok = ui.attempt(fs.resolve, user, int(issue), note, requeue)
                    if ok:
                        st.session_state.pop(REPORT_KEY, None)  # its counts no longer hold
                        _flash(f"差异{issue}已办结")

with tab_check:
    st.subheader("打印资金拨付单")
    p1, p2 = st.columns([3, 1], vertical_alignment="bottom")
    to_print = p1.text_input("拨付单号", key="funds_print_no")
    if p2.button("生成PDF", key="funds_print"):
        st.session_state["funds_print_file"] = ui.attempt(fs.order_form, user, to_print)[0]
    printed = st.session_state.get("funds_print_file")
    if printed:
        st.download_button(f"下载 {printed[0]}", printed[1], file_name=printed[0], mime="application/pdf",
                           on_click="ignore", key="funds_print_download")

with tab_impact:
    st.caption("按某月施行的保障标准和待遇计算规则重新计算在保家庭的金额:列出金额会变化的家庭和变化额。"
               "新标准只影响施行之后的月份,已生成拨付单的月份不变;该月拨付单生成时按新金额发放。")
    target = st.text_input("测算月份(YYYY-MM)", value=period, key="funds_impact_period")
    if st.button("测算", key="funds_impact_run"):
        st.session_state["funds_impact"] = ui.attempt(fs.policy_impact, user, target.strip())[0]
    impact = st.session_state.get("funds_impact")
    if impact is not None:
        ui.table(impact, key="funds_impact_table", empty="该月没有金额变化的家庭。")
