"""救助事项库: the province's catalogue list and the cities' and counties' implementation lists —
query and filter, one version with its definition and history, the steps of edit → review → publish
(清单发布) shown to who may take them, the definitions in force in a region, and the statistics with
each county's own lists."""

import streamlit as st

from assistance import catalogue
from dashboards.staff import auth_state, ui
from dashboards.staff import catalogue_services as cs

CATEGORY_FILTER = {"": "全部类别", **catalogue.CATEGORIES}
STATUS_FILTER = {"": "全部状态", **catalogue.STATUS_ZH}
FLOWS = cs.flow_names()


def _load(prefix: str, identity: str, values: dict) -> None:
    """Put a definition into the form's widgets once per (form, version)."""
    missing = any(f"{prefix}_{name}" not in st.session_state for name in cs.FORM_FIELDS)
    if missing or st.session_state.get(f"{prefix}_loaded") != identity:
        for name, value in cs.form_values(values).items():
            st.session_state[f"{prefix}_{name}"] = value
        st.session_state[f"{prefix}_loaded"] = identity


def _form(prefix: str, *, code_editable: bool, category_editable: bool) -> dict:
    def k(name: str) -> str:  # the widget key of one field of this form
        return f"{prefix}_{name}"

    c1, c2, c3 = st.columns([2, 3, 2])
    c1.text_input("事项代码", key=k("code"), disabled=not code_editable)
    c2.text_input("事项名称", key=k("name_zh"))
    c3.selectbox("救助类别", list(catalogue.CATEGORIES), format_func=catalogue.CATEGORIES.get, key=k("category"),
                 disabled=not category_editable)
    c4, c5 = st.columns([2, 1])
    c4.selectbox("办理流程", list(FLOWS), format_func=lambda f: f"{FLOWS[f]}({f})", key=k("flow"))
    c5.number_input("办理时限(工作日)", min_value=1, max_value=365, step=1, key=k("time_limit_working_days"))
    st.text_area("政策依据", key=k("legal_basis"), height=68)
    st.text_area("救助对象范围", key=k("scope"), height=68)
    st.text_area("申请条件(每行一条)", key=k("conditions"))
    st.text_area("申请材料(每行一项:名称|必需或可选|说明)", key=k("materials"))
    st.text_area("救助标准", key=k("standards"), height=68)
    st.text_area("办理地点", key=k("where_to_go"), height=68)
    st.multiselect("不得同时享受的救助类别", list(catalogue.CATEGORIES), format_func=catalogue.CATEGORIES.get,
                   key=k("exclusive_with"))
    return {name: st.session_state.get(k(name)) for name in cs.FORM_FIELDS}


def _definition(info: dict) -> None:
    d = info["definition"]
    st.markdown(f"**政策依据**:{d.legal_basis}")
    st.markdown(f"**救助对象范围**:{d.scope}")
    if d.conditions:
        st.markdown("**申请条件**\n" + "\n".join(f"- {c}" for c in d.conditions))
    st.markdown("**申请材料**\n" + "\n".join(
        f"- {m.name}({'必需' if m.required else '可选'}){'—' + m.note if m.note else ''}" for m in d.materials))
    st.markdown(f"**办理流程**:{info['flow_zh']};**办理时限**:{d.time_limit_working_days}个工作日")
    st.markdown(f"**救助标准**:{d.standards}")
    st.markdown(f"**办理地点**:{d.where_to_go}")
    if d.exclusive_with:
        st.markdown("**不得同时享受**:" + "、".join(catalogue.CATEGORIES[c] for c in d.exclusive_with))


def _steps(info: dict) -> None:
    item_id = info["id"]
    if info["can_edit"]:
        with st.expander("修改草稿", expanded=info["status"] == "rejected"):
            _load("catalogue_e", f"{item_id}:{info['version']}:{info['status']}", info["raw"])
            values = _form("catalogue_e", code_editable=False,
                           category_editable=info["list_kind"] == "catalogue")
            if st.button("保存修改", key="catalogue_save_edit", type="primary"):
                _, ok = ui.attempt(cs.save_edit, user, item_id, values)
                if ok:
                    st.session_state.pop("catalogue_e_loaded", None)
                    auth_state.flash("草稿已保存。")
                    st.rerun()
    if info["can_submit"] and st.button("提交审核", key="catalogue_submit", type="primary"):
        _, ok = ui.attempt(cs.submit, user, item_id)
        if ok:
            auth_state.flash("已提交审核,请由其他审批人审核发布。")
            st.rerun()
    if info["four_eyes"]:
        st.info("您编辑或提交过该版本,须由其他审批人审核(四眼原则)。")
    if info["can_review"]:
        note = st.text_area("审核意见(退回时必填)", key="catalogue_review_note")
        a, r = st.columns(2)
        if a.button("审核通过并发布", key="catalogue_approve", type="primary"):
            _, ok = ui.attempt(cs.review, user, item_id, True, note)
            if ok:
                auth_state.flash(f"第{info['version']}版已发布(清单发布),原发布版本已停用。")
                st.rerun()
        if r.button("退回修改", key="catalogue_reject"):
            _, ok = ui.attempt(cs.review, user, item_id, False, note)
            if ok:
                auth_state.flash("已退回编辑人修改。")
                st.rerun()
    if info["can_retire"]:
        with st.expander("停用此版本"):
            note = st.text_area("停用理由(必填)", key="catalogue_retire_note")
            if st.button("停用", key="catalogue_retire"):
                _, ok = ui.attempt(cs.retire, user, item_id, note)
                if ok:
                    auth_state.flash("已停用;该地区改按上级清单执行。")
                    st.rerun()


user = auth_state.require_page("catalogue")
st.title("救助事项库")
st.caption("省级目录清单与市(州)、县(市、区)实施清单:每个事项的政策依据、对象范围、申请条件、材料、流程、标准和时限。"
           "每个版本经编辑 → 审核 → 发布(清单发布),审核人不得是编辑人;案件按申请人所在地适用的已发布版本办理。")
notice = auth_state.take_flash()
if notice:
    st.success(notice)

tab_list, tab_effective, tab_stats, tab_new = st.tabs(["事项清单", "地区适用清单", "统计", "新建草稿"])

with tab_list:
    choices = cs.region_choices(user)
    f1, f2, f3, f4 = st.columns([3, 2, 2, 3])
    region = f1.selectbox("区划", choices, format_func=cs.region_name, key="catalogue_region")
    category = f2.selectbox("类别", list(CATEGORY_FILTER), format_func=CATEGORY_FILTER.get,
                            key="catalogue_category")
    status = f3.selectbox("状态", list(STATUS_FILTER), format_func=STATUS_FILTER.get, key="catalogue_status")
    text = f4.text_input("关键词", key="catalogue_text", placeholder="事项名称、代码或政策依据,如:低保")
    items = ui.guarded(cs.items_frame, user, region, category=category, status=status, text=text)
    if items is not None:
        ui.table(items, key="catalogue_items", empty="没有符合条件的救助事项。")
        if not items.empty:
            labels = {int(r["编号"]): f"{r['事项名称']} · {r['编制区划']} · 第{r['版本']}版({r['状态']})"
                      for _, r in items.iterrows()}
            chosen = st.selectbox("选择版本", [0, *labels], key="catalogue_chosen",
                                  format_func=lambda n: "请选择" if not n else labels[n])
            if chosen:
                info, _ = ui.attempt(cs.item_detail, user, int(chosen))
                if info:
                    st.subheader(f"{info['name_zh']}({info['item_code']})")
                    st.caption(f"{info['list_zh']} · {info['region_name']} · 第{info['version']}版 · "
                               f"{info['status_zh']} · {info['category_zh']} · 编辑人 {info['edited_by']}"
                               + (f" · 审核人 {info['reviewed_by']}" if info["reviewed_by"] else "")
                               + (f" · 发布于 {info['published_at']}" if info["published_at"] else ""))
                    if info["review_note"]:
                        st.info(f"审核意见:{info['review_note']}")
                    _definition(info)
                    st.markdown("**版本历史**")
                    ui.table(info["history"], key="catalogue_history")
                    _steps(info)

with tab_effective:
    st.caption("输入行政区划代码,查看该地区适用的各事项定义:最近一级已发布的实施清单,否则为省级目录清单。")
    where = st.text_input("行政区划代码", value=user.jurisdiction_code, key="catalogue_effective_region")
    if where.strip():
        found, _ = ui.attempt(cs.effective_frame, user, where.strip())
        if found is not None:
            st.caption(f"{cs.region_name(where.strip())}适用的救助事项")
            ui.table(found, key="catalogue_effective", empty="该地区没有已发布的救助事项。")

with tab_stats:
    where = st.selectbox("区划", cs.region_choices(user), format_func=cs.region_name,
                         key="catalogue_stats_region")
    stats = ui.guarded(cs.statistics, user, where)
    if stats is not None:
        m1, m2, m3 = st.columns(3)
        m1.metric("清单版本", stats["total"], border=True)
        m2.metric("已发布", stats["published"], border=True)
        m3.metric("待审核", stats["in_review"], border=True)
        s1, s2, s3 = st.columns(3)
        with s1:
            ui.table(stats["by_category"], key="catalogue_stats_category")
        with s2:
            ui.table(stats["by_status"], key="catalogue_stats_status")
        with s3:
            ui.table(stats["by_list_kind"], key="catalogue_stats_kind")
        st.subheader("实施清单覆盖情况")
        st.caption("各事项在本区划内已发布本级实施清单的县(市、区);未发布的县按市(州)实施清单或省级目录清单执行。")
        ui.table(stats["coverage"], key="catalogue_coverage", empty="目录清单中还没有已发布的事项。")

with tab_new:
    target = cs.draft_target(user)
    if not cs.may(user, "edit_catalogue"):
        st.info("您的角色不能编辑救助事项(需要“编辑救助事项和政策文件”权限)。")
    elif target is None:
        st.info("乡镇(街道)账户不编制清单:目录清单由省级编制,实施清单由市(州)、县(市、区)编制。")
    else:
        kind, code = target
        st.caption(f"为{cs.region_name(code)}编制{catalogue.LIST_KIND_ZH[kind]}的新版本草稿;"
                   "从现行适用的定义开始修改,保存后提交审核。")
        bases = cs.base_items(user)
        options = list(bases) + (["__new__"] if kind == "catalogue" else [])
        base = st.selectbox("事项", options, key="catalogue_new_base",
                            format_func=lambda c: "新增事项" if c == "__new__" else f"{bases[c]}({c})")
        if base:
            start = {} if base == "__new__" else ui.guarded(cs.starting_definition, user, base)
            if start is not None:
                _load("catalogue_n", base, start)
                values = _form("catalogue_n", code_editable=base == "__new__",
                               category_editable=kind == "catalogue")
                if st.button("保存草稿", key="catalogue_save_draft", type="primary"):
                    new_id, ok = ui.attempt(cs.save_draft, user, values)
                    if ok:
                        st.session_state.pop("catalogue_n_loaded", None)
                        auth_state.flash(f"草稿已保存(编号{new_id}),请在“事项清单”中选择该版本提交审核。")
                        st.rerun()
