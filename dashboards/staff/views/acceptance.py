"""一门受理: the window takes in a family's application once — the aid item as published for the
applicant's township, the household's members, a scan of each material — checks it (materials,
ID numbers, the duplicate and cross-assistance check across the province), and gives the applicant
the acceptance number (受理编号) to follow the case with."""

import streamlit as st

from assistance import cases
from dashboards.staff import auth_state, ui
from dashboards.staff import casework_services as cs

RELATIONS = list(cases.RELATIONS_ZH)

user = auth_state.require_page("acceptance")
st.title("一门受理")
st.caption("申请人只需到一个窗口提交一次申请:系统按事项清单核对材料,核验身份证号码,比对全省在保和在办记录"
           "(多重救助、交叉救助),自动生成受理编号并提交家庭经济状况核对,再按流程流转到各级办理机构。")

places = cs.townships(user)
if not places:
    st.info("您的管辖区域内没有乡镇(街道)。")
    st.stop()
region = st.selectbox("申请人户籍所在乡镇(街道)", [c for c, _ in places], format_func=dict(places).get,
                      key="accept_region")
offered = cs.items(region)
item_code = st.selectbox("救助事项", [i.item_code for i in offered], key="accept_item",
                         format_func={i.item_code: i.name_zh for i in offered}.get)
item = next(i for i in offered if i.item_code == item_code)
with st.expander("事项清单:条件、材料、时限", expanded=False):
    st.markdown(f"**适用范围** {item.scope}")
    st.markdown(f"**政策依据** {item.legal_basis}")
    st.markdown(f"**标准** {item.standards}")
    st.markdown(f"**承诺时限** {item.time_limit_working_days}个工作日;**办理地点** {item.where_to_go}")

st.subheader("家庭成员")
count = st.number_input("共同生活的家庭成员人数", min_value=1, max_value=12, value=1, step=1, key="accept_count")
members = []
for i in range(int(count)):
    c1, c2, c3 = st.columns([2, 3, 2])
    name = c1.text_input(f"成员{i + 1}姓名", key=f"accept_name_{i}")
    pid = c2.text_input(f"成员{i + 1}身份证号码", key=f"accept_id_{i}")
    relation = c3.selectbox(f"成员{i + 1}与户主关系", RELATIONS, format_func=cases.RELATIONS_ZH.get,
                            index=0 if i == 0 else RELATIONS.index("20"), key=f"accept_relation_{i}")
    members.append({"name": name, "person_id": pid, "relation": relation})
household_no = st.text_input("户籍户号(可选)", key="accept_household")

st.subheader("申请材料(扫描件:PDF、PNG、JPEG、TIFF)")
uploads = {}
for j, m in enumerate(item.materials):
    label = f"{m.name}{'(必备)' if m.required else '(如有)'}"
    f = st.file_uploader(label, type=["pdf", "png", "jpg", "jpeg", "tif", "tiff"], key=f"accept_file_{item_code}_{j}",
                         help=m.note or None)
    if f is not None:
        uploads[m.name] = (f.name, f.getvalue())

if st.button("受理", type="primary", key="accept_submit"):
    number, ok = ui.attempt(cs.accept, user, item_code=item_code, region_code=region, members=members,
                            uploads=uploads, household_no=household_no)
    if ok:
        st.success(f"已受理。受理编号:{number}。请告知申请人凭受理编号和身份证号码查询办理进度。")
        st.session_state["accept_last"] = number
