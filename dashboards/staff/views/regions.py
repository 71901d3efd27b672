"""行政区划 (VF-8 管理): browse Sichuan's divisions from province down to village."""

import pandas as pd
import streamlit as st

from dashboards.staff import auth_state
from jiuzhu import regions

auth_state.require_page("regions")
tree = regions.load()
st.title("行政区划")
st.caption("来源:国家统计局 统计用区划代码(2023年版);人口为第七次全国人口普查数据。")

prefectures = sorted(tree.prefectures(), key=lambda r: r.code)
pref = st.selectbox("市(州)", prefectures, format_func=lambda r: f"{r.name}({r.short_code})", key="regions_prefecture")
counties = sorted(tree.children(pref.code), key=lambda r: r.code)
census = regions.county_census()
st.dataframe(pd.DataFrame([{
    "区划代码": c.short_code, "名称": c.name,
    "乡镇(街道)数": len(tree.children(c.code)),
    "常住人口(2020)": census[c.short_code].pop_total if c.short_code in census else None,
} for c in counties]), hide_index=True, width="stretch")

county = st.selectbox("县(市、区)", counties, format_func=lambda r: f"{r.name}({r.short_code})",
                      key=f"regions_county_{pref.code}")
towns = sorted(tree.children(county.code), key=lambda r: r.code)
st.dataframe(pd.DataFrame([{
    "区划代码": t.short_code, "名称": t.name, "类型": t.unit_type,
    "村(社区)数": len(tree.children(t.code)),
} for t in towns]), hide_index=True, width="stretch")

town = st.selectbox("乡镇(街道)", towns, format_func=lambda r: f"{r.name}({r.short_code})",
                    key=f"regions_town_{county.code}")
villages = sorted(tree.children(town.code), key=lambda r: r.code)
st.dataframe(pd.DataFrame([{
    "区划代码": v.code, "名称": v.name, "类型": v.unit_type,
} for v in villages]), hide_index=True, width="stretch")
