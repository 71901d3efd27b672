"""监测预警: the township's warning queue — each warning with the rules and data behind it, the risk
model's main factors and the suggested social resources; visited, then referred for determination
or dismissed with the reason."""

import streamlit as st

from dashboards.staff import auth_state, ui
from dashboards.staff import monitoring_services as ms
from models import warning_queue

STATUS_FILTER = {"": "全部", **warning_queue.STATUS_ZH}
STEPS = {"pending": [("visit", "登记走访情况")], "visited": [("refer", "转入认定程序"), ("dismiss", "排除预警")]}


user = auth_state.require_page("monitoring")
st.title("监测预警")
st.caption("低收入人口动态监测:规则预警与风险模型每月比对各部门数据,发现可能陷入困难的家庭,推送至责任乡镇(街道)。"
           "按等级限时入户走访,走访后转入认定程序或写明理由排除;每一步记入审计日志。")

f1, f2 = st.columns([3, 1])
status = f1.selectbox("状态", list(STATUS_FILTER), format_func=STATUS_FILTER.get, key="monitoring_status")
mine = f2.checkbox("只看我认领的", key="monitoring_mine")
queue = ui.guarded(ms.queue_frame, user, status or None, mine)
if queue is not None:
    ui.table(queue, key="monitoring_queue", empty="管辖区域内没有监测预警。")
    if not queue.empty:
        late = int((queue["超期"] == "是").sum())
        if late:
            st.warning(f"{late}条预警已超过走访期限。")
        chosen = st.selectbox("选择预警", [0] + queue["预警号"].tolist(), key="monitoring_chosen",
                              format_func=lambda n: "请选择" if not n else f"预警 {n}")
        if chosen:
            info, _ = ui.attempt(ms.detail, user, int(chosen))
            if info:
                st.subheader(f"户号 {info['household_no']} · {info['period']} · {info['severity_zh']}({info['source_zh']})")
                st.markdown("**预警原因**")
                for r in info["reasons"]:
                    st.markdown(f"- 【{r['name_zh']}】{r['explanation_zh']}")
                if info["factors"]:
                    st.markdown("**风险模型的主要因素**(与一般家庭相比)")
                    for f in info["factors"]:
                        st.markdown(f"- {f['name_zh']}:本户 {f['value']},一般家庭 {f['typical']}"
                                    f"(使风险概率升高 {f['contribution']:.0%})")
                if info["resources"]:
                    st.markdown("**可链接的社会资源**")
                    for p in info["resources"]:
                        st.markdown(f"- {p['name_zh']}({p['provider']}):{p['service_zh']}〔{'、'.join(p['needs_zh'])}〕")
                claimed = f"认领人:{info['claimed_by']};" if info["claimed_by"] else "尚未认领;"
                st.caption(f"状态:{info['status_zh']};{claimed}模型版本 {info['model_version'] or '—'};"
                           f"指标配置版本 {info['config_version']}")
                if info["visit_note"]:
                    st.info(f"走访情况:{info['visit_note']}")
                if info["outcome_note"]:
                    st.info(f"处理结果:{info['outcome_note']}")
                claimable = info["status"] == "pending" and not info["claimed_by"]
                if claimable and st.button("认领此预警", key="monitoring_claim"):
                    _, ok = ui.attempt(ms.handle, user, int(chosen), "claim", "")
                    if ok:
                        st.rerun()
                steps = STEPS.get(info["status"], [])
                if steps:
                    note = st.text_area("走访情况 / 处理理由(必填)", key="monitoring_note")
                    for col, (step, label) in zip(st.columns(len(steps)), steps, strict=True):
                        if col.button(label, key=f"monitoring_{step}", type="primary"):
                            _, ok = ui.attempt(ms.handle, user, int(chosen), step, note)
                            if ok:
                                st.rerun()
