"""救助政策与事项: the published aid items in force where the family lives, searchable, in plain words."""

import streamlit as st

from assistance import portal
from dashboards.portal import common, runtime

st.title("救助政策与事项")
st.write("选择您户籍所在地,查看可以申请的救助事项:谁能申请、要带什么材料、怎么办、多久办完、到哪里办。")
place = common.choose_place("policies", level=3, label="户籍所在地")
query = st.text_input("搜索(如:低保、看病、上学、材料)", key="policies_query")
if place is None:
    st.info("请先选择市(州)和县(市、区)。")
else:
    with runtime.business_session() as s:
        items = portal.policies(s, place, query)
    if not items:
        st.warning("没有找到相关救助事项,可换个词再搜,或拨打12345咨询。")
    for item in items:
        with st.expander(f"{item['name']}({item['category']})", expanded=len(items) == 1):
            st.markdown(f"**谁能申请** {item['scope']}")
            if item["conditions"]:
                st.markdown("**申请条件**\n" + "\n".join(f"- {c}" for c in item["conditions"]))
            st.markdown("**需要的材料**\n" + "\n".join(
                f"- {m['name']}{'(必须)' if m['required'] else '(如有)'}{':' + m['note'] if m['note'] else ''}"
                for m in item["materials"]))
            st.markdown(f"**保障标准** {item['standards']}")
            st.markdown(f"**办理时限** {item['time_limit_working_days']}个工作日")
            st.markdown(f"**到哪里办** {item['where_to_go']}")
            st.caption(f"政策依据:{item['legal_basis']};发布:{item['issued_by']},{item['published_on']}")
