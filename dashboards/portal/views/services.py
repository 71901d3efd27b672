"""公益服务项目 (MN-5): public-interest service projects people can browse by place and need."""

import streamlit as st

from assistance import portal
from dashboards.portal import common

st.title("公益服务项目")
st.write("慈善、社会组织和有关部门提供的公益服务,可按需要和所在地查找。")
needs = {"": "全部", "medical": "医疗", "disability": "残疾康复", "education": "教育", "elderly": "养老照护",
         "employment": "就业", "bereavement": "家庭变故"}
need = st.selectbox("需要", list(needs), format_func=needs.get, key="services_need")
county = common.choose_place("services", level=3, label="所在地(可不选)")
projects = portal.service_projects(county, need or None)
if not projects:
    st.info("没有找到相应的服务项目。")
for p in projects:
    st.markdown(f"**{p['name']}**  \n{p['service']}  \n提供方:{p['provider']};服务内容:{'、'.join(p['needs'])}")
