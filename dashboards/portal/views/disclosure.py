"""救助公示: families in their publicity period, names masked (BZ-7)."""

import streamlit as st

from assistance import portal
from dashboards.portal import common, runtime

st.title("救助公示")
st.write("拟批准救助的家庭在公示期内公示:姓名已部分隐去。对公示对象有异议的,可在公示期内通过“投诉举报与咨询”反映。")
place = common.choose_place("disclosure", level=4, label="公示地区")
if place is None:
    st.info("请选择地区。")
else:
    with runtime.business_session() as s:
        shown = portal.disclosure(s, place, clock=runtime.now)
    if not shown:
        st.info("该地区当前没有正在公示的救助对象。")
    for d in shown:
        amount = f",{d.amount_yuan:,.2f}元/月" if d.amount_yuan is not None else ""
        st.markdown(f"- **{d.name_masked}** {d.township_zh} · {d.item_zh} · {d.household_size}人{amount}"
                    f"(公示期 {d.period_zh})")
