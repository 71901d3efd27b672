"""员工端 staff app: entry point and navigation (``streamlit run dashboards/staff/app.py``)."""

import streamlit as st

st.set_page_config(page_title="社会救助综合服务平台", page_icon="🏛", layout="wide")

pages = [
    st.Page("views/overview.py", title="平台总览", icon="📊", default=True),
    st.Page("views/regions.py", title="行政区划", icon="🗺"),
]
st.sidebar.markdown("### 四川省社会救助综合服务平台")
st.navigation(pages).run()
