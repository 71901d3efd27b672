"""分布分析 (AN-2): the low-income population by region, age, sex, ethnicity, disability, category,
cause and month, with drill-down inside the jurisdiction and CSV/XLSX export of every table."""

import polars as pl
import streamlit as st

from dashboards.staff import auth_state, charts, labels, services, ui
from jiuzhu import access, regions

EXPORT_KEY = "analysis_export"
MAP_LEVELS = {3: "按县(市、区)", 2: "按市(州)"}

user = auth_state.require_page("analysis")
st.title("分布分析")
st.caption("低收入人口的区域分布、人口特征、致困原因与月度走势。仅含汇总人数,不含任何个人信息。"
           "来源:gold/analysis/low_income_cube")

tree = regions.load()
home = regions.normalise_code(user.jurisdiction_code)
home_level = regions.level_of_code(home)


def _name(code: str | None, everything: str) -> str:
    return everything if code is None else tree.get(code).name


# --- drill-down: province → prefecture → county, never above the jurisdiction --------------------------------
c1, c2, c3 = st.columns(3)
if home_level == 1:
    prefecture = c1.selectbox("市(州)", [None] + sorted(r.code for r in tree.prefectures()),
                              format_func=lambda c: _name(c, "全省"), key="analysis_prefecture")
else:
    fixed = home if home_level == 2 else tree.ancestors(home)[1].code
    prefecture = c1.selectbox("市(州)", [fixed], format_func=lambda c: _name(c, ""), disabled=True,
                              key="analysis_prefecture_fixed")
if home_level >= 3:
    county = c2.selectbox("县(市、区)", [tree.ancestors(home)[2].code], format_func=lambda c: _name(c, ""),
                          disabled=True, key="analysis_county_fixed")
elif prefecture is None:
    county = c2.selectbox("县(市、区)", [None], format_func=lambda c: "全部", disabled=True,
                          key="analysis_county_all")
else:
    county = c2.selectbox("县(市、区)", [None] + sorted(r.code for r in tree.children(prefecture)),
                          format_func=lambda c: _name(c, "全部"), key=f"analysis_county_{prefecture}")
scope = county or prefecture or home
if home_level >= 4:
    scope = home

data = ui.guarded(services.cube, user, scope)
if data is None:
    st.stop()
if data.is_empty():
    st.info(f"{services.full_region_name(scope)}没有低收入人口分布数据。")
    st.stop()

months = services.periods(data)
period = c3.selectbox("月份", months, key="analysis_period")
present = set(data.get_column("category").unique().to_list())
all_categories = [c for c in labels.AID_CATEGORIES if c in present]
all_categories += sorted(present - set(all_categories))
chosen = st.multiselect("救助类别", all_categories, default=all_categories, format_func=labels.aid_category,
                        key="analysis_categories")
in_categories = data.filter(pl.col("category").is_in(chosen))
cut = in_categories.filter(pl.col("period") == period)
scope_name = services.full_region_name(scope)
st.caption(f"范围:{scope_name};月份:{period};低收入人口 {int(cut.get_column('persons').sum() or 0):,} 人")

# --- map ---------------------------------------------------------------------------------------------------
scope_level = tree.get(scope).level
map_level = 3
if scope_level == 1:
    map_level = st.radio("地图层级", list(MAP_LEVELS), format_func=MAP_LEVELS.get, horizontal=True,
                         key="analysis_map_level")
by_region = services.persons_by_region(cut, map_level, scope)
values = dict(zip(by_region["区划代码"], by_region["人数"], strict=True))
m1, m2 = st.columns([3, 2])
m1.vega_lite_chart(charts.choropleth(charts.map_features(map_level, scope, values),
                                    f"{scope_name}低收入人口分布({MAP_LEVELS[map_level]})"), width="stretch")
m1.caption(charts.MAP_ATTRIBUTION)
with m2:
    ui.table(by_region, key="analysis_by_region", column_config={"占比": st.column_config.NumberColumn(format="percent")})

# --- dimensions and trend ------------------------------------------------------------------------------------
tables = {MAP_LEVELS[map_level]: by_region}
dimensions = list(services.DIMENSIONS)
for left, right in zip(dimensions[::2], dimensions[1::2], strict=True):
    cols = st.columns(2)
    for col, dim in zip(cols, (left, right), strict=True):
        title, category_title, _ = services.DIMENSIONS[dim]
        frame = services.persons_by(cut, dim)
        tables[title] = frame
        if frame.empty:
            col.info(f"{title}:没有数据。")
        else:
            col.altair_chart(charts.bars(frame, category_title, title=title, sort_by_value=dim != "age_band"),
                             width="stretch")
trend = services.trend(in_categories)
tables["月度趋势"] = trend
st.altair_chart(charts.trend(trend, "人数", "低收入人口月度走势"), width="stretch")

st.subheader("数据表")
tabs = st.tabs(list(tables))
for tab, (title, frame) in zip(tabs, tables.items(), strict=True):
    with tab:
        config = {"占比": st.column_config.NumberColumn(format="percent")} if "占比" in frame.columns else None
        ui.table(frame, key=f"analysis_table_{title}", column_config=config)

# --- export (export_aggregate, audited before the files exist) -----------------------------------------------
st.subheader("导出")
decision = access.authorize(user, "export_aggregate", scope)
if not decision.allowed:
    st.caption(f"导出统计数据:{decision.reason_zh}。")
else:
    fingerprint = "|".join([scope, period, ",".join(chosen), str(map_level)])
    prepared = st.session_state.get(EXPORT_KEY)
    if prepared is not None and prepared.fingerprint != fingerprint:
        prepared = None
    if prepared is None:
        st.caption("导出文件包含本页全部表格(CSV 为 UTF-8 带 BOM;XLSX 每表一个工作表),生成时记入审计日志。")
        if st.button("生成导出文件", key="analysis_export_prepare", icon=":material/download:"):
            prepared = ui.guarded(services.prepare_export, user, scope, tables, fingerprint,
                                  purpose=f"分布分析导出:{scope_name},{period}")
            if prepared is not None:
                st.session_state[EXPORT_KEY] = prepared
    if prepared is not None:
        choice = st.selectbox("选择表格", list(prepared.files), key="analysis_export_table")
        csv_bytes, xlsx_bytes = prepared.files[choice]
        stem = f"低收入人口分布_{scope_name}_{period}"
        d1, d2, d3 = st.columns(3)
        d1.download_button("下载 CSV", csv_bytes, file_name=f"{stem}_{choice}.csv", mime="text/csv",
                           on_click="ignore", key="analysis_download_csv")
        d2.download_button("下载 XLSX", xlsx_bytes, file_name=f"{stem}_{choice}.xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           on_click="ignore", key="analysis_download_xlsx")
        d3.download_button("全部表格(XLSX)", prepared.workbook, file_name=f"{stem}.xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           on_click="ignore", key="analysis_download_all")
