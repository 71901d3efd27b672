"""统计月报: a month and a region inside the jurisdiction — recipients, households and amounts by
category and by the next level of divisions, with month-on-month and year-on-year change and the
trend; exported as XLSX and PDF (export_aggregate, audited before the files exist); and the
region's verification business (核对业务统计, VF-7) as charts; the platform's own orders by the
benefit rules (救助待遇发放, issue #15)."""

import streamlit as st

from dashboards.staff import auth_state, charts, monthly_report, services, ui
from jiuzhu import access

FILES_KEY = "monthly_files"

user = auth_state.require_page("monthly")
st.title("统计月报")
st.caption("社会救助统计月报:在册救助对象、户数与资金,按救助类别和下级区划,含环比、同比与月度走势。仅含汇总数据。")

periods = services.statistics_periods()
choices = services.report_regions(user)
if not periods:
    st.info("统计月报中还没有数据。")
elif not choices:
    st.info("统计月报按县(市、区)汇总,乡镇(街道)账户请查看总览。")
else:
    c1, c2 = st.columns(2)
    period = c1.selectbox("月份", periods, key="monthly_period")
    region = c2.selectbox("区划", choices, format_func=services.full_region_name, key="monthly_region")
    stats = ui.guarded(services.statistics_overview, user, period, region)
    if stats is not None:
        name = services.full_region_name(region)
        t = stats.totals
        st.caption(f"{name} · {stats.period}(环比对照 {stats.previous_period});同比:人数 "
                   f"{ui.signed(t['recipients_yoy']) or '—'},金额 {ui.signed(t['amount_yuan_yoy'], '{:+,.2f}') or '—'}")
        ui.statistics(stats, key="monthly", trend_title=f"{name}在册救助人数月度走势")

        st.subheader("导出")
        decision = access.authorize(user, "export_aggregate", region)
        if not decision.allowed:
            st.caption(f"导出统计数据:{decision.reason_zh}。")
        else:
            fingerprint = f"{region}|{stats.period}"
            files = st.session_state.get(FILES_KEY)
            if files is not None and files.fingerprint != fingerprint:
                files = None
            if files is None:
                st.caption("生成 XLSX(每表一个工作表)和 PDF 月报,生成时记入审计日志。")
                if st.button("生成月报文件", key="monthly_prepare", icon=":material/download:"):
                    with st.spinner("正在生成月报文件……"):
                        files = ui.guarded(monthly_report.prepare, user, stats, region, name, fingerprint)
                    if files is not None:
                        st.session_state[FILES_KEY] = files
            if files is not None:
                stem = f"社会救助统计月报_{name}_{stats.period}"
                d1, d2 = st.columns(2)
                d1.download_button("下载 XLSX", files.xlsx, file_name=f"{stem}.xlsx",
                                   mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                   on_click="ignore", key="monthly_download_xlsx")
                d2.download_button("下载 PDF", files.pdf, file_name=f"{stem}.pdf", mime="application/pdf",
                                   on_click="ignore", key="monthly_download_pdf")

        st.subheader("救助待遇发放(本平台审批)")
        st.caption("本平台审批的救助待遇按待遇计算规则生成的当月拨付单:户数、人数、拨付与已发放金额,以及金额的构成"
                   "(低保补差、分类施保、单人保、特困供养、渐退期、人工核定、补发等)。")
        paid, ok = ui.attempt(services.benefit_statistics, user, stats.period, region)
        if ok:
            t = paid.totals
            b1, b2, b3, b4 = st.columns(4)
            b1.metric("发放户数", f"{t['households']:,}", border=True)
            b2.metric("保障人数", f"{t['persons']:,}", border=True)
            b3.metric("拨付金额(元)", f"{t['ordered_yuan']:,.2f}", border=True)
            b4.metric("渐退期户数", f"{t['exit_households']:,}", border=True)
            ui.table(paid.by_rule, key="monthly_benefits_by_rule")
            ui.table(paid.parts, key="monthly_benefit_parts")

        st.subheader("核对业务统计")
        st.caption("委托核对申请:按提交月份(北京时间)、委托单位、救助事项与核对结论汇总;办结时长为提交至出具报告。")
        checks, ok = ui.attempt(services.verification_statistics, user, region)
        if ok:
            t = checks.totals
            m1, m2, m3, m4 = st.columns(4)
            m1.metric("核对申请", f"{t['requests']:,}", border=True)
            m2.metric("已出具报告", f"{t['reported']:,}", border=True)
            m3.metric("办理中/待接收", f"{t['in_progress'] + t['awaiting_receipt']:,}", border=True)
            hours = t["mean_hours_to_report"]
            m4.metric("平均办结时长(小时)", "—" if hours is None else f"{hours:,.1f}", border=True)
            g1, g2 = st.columns(2)
            g1.altair_chart(charts.bars(checks.by_result, "核对结论", "户数", "核对结论"), width="stretch")
            g2.altair_chart(charts.bars(checks.by_item, "救助事项", "申请数", "按救助事项"), width="stretch")
            st.altair_chart(charts.bars(checks.by_unit, "委托单位", "申请数", "按委托单位"), width="stretch")
            ui.table(checks.by_month, key="monthly_verification_by_month")
            ui.table(checks.by_unit, key="monthly_verification_by_unit")
            if checks.by_region is not None:
                ui.table(checks.by_region, key="monthly_verification_by_region")
