"""我要申请 (向导式): choose the item where the family's hukou is, list the family, upload the
materials (checked before anything is submitted), confirm. The township then accepts it."""

import streamlit as st

from assistance import cases, portal
from dashboards.portal import common, runtime
from jiuzhu import ids

RELATIONS = {"02": "户主", "10": "配偶", "20": "子女", "50": "父母", "60": "祖父母", "40": "孙子女",
             "70": "兄弟姐妹", "99": "其他"}
STEPS = ("选择事项", "家庭成员", "上传材料", "确认提交")

st.title("我要申请")
me = runtime.citizen()
if me is None:
    st.info("网上申请需要先实名登录:请到“登录与注册”。")
    st.stop()

step = st.session_state.setdefault("apply_step", 0)
st.progress((step + 1) / len(STEPS), text=f"第{step + 1}步(共{len(STEPS)}步):{STEPS[step]}")


def _go(to: int) -> None:
    st.session_state["apply_step"] = to


if step == 0:
    town = common.choose_place("apply", level=4, label="户籍所在乡镇(街道)")
    if town is not None:
        with runtime.business_session() as s:
            items = portal.policies(s, town)
        choice = st.selectbox("救助事项", [i["code"] for i in items], index=None, placeholder="请选择",
                              format_func={i["code"]: i["name"] for i in items}.get, key="apply_item")
        if choice and st.button("下一步", type="primary", key="apply_next_0"):
            st.session_state["apply_place"] = town
            st.session_state["apply_item_def"] = next(i for i in items if i["code"] == choice)
            _go(1)
            st.rerun()
elif step == 1:
    count = st.number_input("家庭成员人数(共同生活的家庭成员,含本人)", min_value=1, max_value=10,
                            value=st.session_state.get("apply_count", 1), key="apply_count")
    rows = []
    for i in range(int(count)):
        c1, c2, c3 = st.columns([2, 3, 2])
        name = c1.text_input(f"成员{i + 1}姓名", value=me.name if i == 0 else "", key=f"apply_name_{i}")
        pid = c2.text_input(f"成员{i + 1}身份证号码", value=me.person_id if i == 0 else "", key=f"apply_id_{i}")
        relation = c3.selectbox("与户主关系", list(RELATIONS), format_func=RELATIONS.get, key=f"apply_rel_{i}")
        rows.append((name.strip(), pid.strip(), relation))
    b1, b2 = st.columns(2)
    b1.button("上一步", key="apply_back_1", on_click=_go, args=(0,))
    if b2.button("下一步", type="primary", key="apply_next_1"):
        problems = []
        for i, (name, pid, _) in enumerate(rows, 1):
            if not name:
                problems.append(f"成员{i}:请填写姓名")
            try:
                ids.parse(pid)
            except ids.InvalidId as exc:
                problems.append(f"成员{i}:身份证号码有误({exc.message})")
        if not problems and me.person_id not in {pid for _, pid, _ in rows}:
            problems.append("申请人本人须是家庭成员之一")
        if not problems and sum(r == "02" for *_, r in rows) != 1:
            problems.append("请指定一名户主")
        if problems:
            for p in problems:
                st.error(p)
        else:
            st.session_state["apply_members"] = rows
            _go(2)
            st.rerun()
elif step == 2:
    item = st.session_state["apply_item_def"]
    st.write(f"申请事项:**{item['name']}**。请上传材料的照片或扫描件(PDF、JPG、PNG)。")
    uploads = {}
    for j, m in enumerate(item["materials"]):
        label = f"{m['name']}{'(必须)' if m['required'] else '(如有)'}"
        f = st.file_uploader(label, type=["pdf", "jpg", "jpeg", "png"], key=f"apply_file_{item['code']}_{j}")
        if f is not None:
            uploads[m["name"]] = (f.name, f.getvalue())
    b1, b2 = st.columns(2)
    b1.button("上一步", key="apply_back_2", on_click=_go, args=(1,))
    if b2.button("检查材料并下一步", type="primary", key="apply_next_2"):
        files = [cases.MaterialIn(name, fname, data) for name, (fname, data) in uploads.items()]
        with runtime.business_session() as s:
            problems = portal.material_problems(s, item["code"], st.session_state["apply_place"], files)
        if problems:
            for p in problems:
                st.error(p)
        else:
            st.session_state["apply_files"] = files
            _go(3)
            st.rerun()
else:
    item = st.session_state["apply_item_def"]
    members = st.session_state["apply_members"]
    st.markdown(f"**申请事项** {item['name']}")
    st.markdown("**家庭成员**\n" + "\n".join(f"- {n}({RELATIONS[r]},{ids.mask(p)})" for n, p, r in members))
    st.markdown("**材料** " + "、".join(m.name for m in st.session_state["apply_files"]))
    st.caption("提交即表示您承诺所填信息真实,并授权有关部门核对家庭经济状况。")
    b1, b2 = st.columns(2)
    b1.button("上一步", key="apply_back_3", on_click=_go, args=(2,))
    if b2.button("确认提交", type="primary", key="apply_submit"):
        rows = [cases.MemberIn(p, n, r) for n, p, r in members]
        with runtime.business_session() as s:
            case, ok = common.attempt(portal.apply, s, me, item_code=item["code"],
                                      township_code=st.session_state["apply_place"], members=rows,
                                      materials=st.session_state["apply_files"], lake_root=runtime.lake_root(),
                                      clock=runtime.now)
            number = case.acceptance_no if ok else None
        if ok:
            st.success(f"已提交。受理编号:{number}。乡镇(街道)将在3个工作日内受理,您可随时在“办理进度查询”查看。")
            for key in ("apply_step", "apply_members", "apply_files", "apply_item_def", "apply_place"):
                st.session_state.pop(key, None)
