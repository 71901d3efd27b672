"""数据字典 (VF-8 数据元管理): every data element of the department contracts, with access levels."""

import pandas as pd
import streamlit as st

from dashboards.staff import auth_state, ui
from schemas import dictionary

auth_state.require_page("dictionary")
st.title("数据字典")
st.caption("由各共享单位的数据共享协议(schemas/contracts)生成,与 docs/data-dictionary.md 一致。"
           "访问级别:1 公开 … 4 最敏感;各角色可访问的最高级别见权限矩阵。")

elements = dictionary.elements()
query = st.text_input("查找数据元", key="dictionary_query", placeholder="输入字段名、含义或报送单位").strip().lower()
levels = st.multiselect("访问级别", [1, 2, 3, 4], default=[1, 2, 3, 4], key="dictionary_levels")


def _matches(e: dict) -> bool:
    text = " ".join([e["element"], e["description"], *e["deliveries"]]).lower()
    return (not query or query in text) and e["access_level"] in levels


rows = [{
    "数据元": e["element"], "含义": e["description"], "类型": e["type"],
    "单位": "、".join(sorted(e["units"])) or "—", "敏感类别": e["pii"], "访问级别": e["access_level"],
    "报送单位:原字段名": ";".join(e["deliveries"]),
} for e in elements if _matches(e)]
st.caption(f"共 {len(rows)} 个数据元")
ui.table(pd.DataFrame(rows), key="dictionary_elements", empty="没有符合条件的数据元。")

st.subheader("代码表")
coded = [e for e in elements if e["codes"] and _matches(e)]
if not coded:
    st.info("没有符合条件的代码表。")
for e in coded:
    with st.expander(f"{e['element']}({e['description']})"):
        ui.table(pd.DataFrame([{"代码": str(k), "名称": v} for k, v in e["codes"].items()]),
                 key=f"dictionary_codes_{e['element']}")
