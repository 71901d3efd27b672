"""知识库: policy documents searched in Chinese (ranked, the matching terms highlighted), each with its
text, images and attachments; editors add and change documents and upload files, approvers publish
and withdraw them."""

import streamlit as st

from dashboards.staff import auth_state, ui
from dashboards.staff import catalogue_services as cs

UPLOAD_TYPES = ["png", "jpg", "jpeg", "pdf", "docx", "xlsx", "txt"]
DOC_FIELDS = ("doc_no", "title", "issuer", "issued_on", "aid_item_code", "body")


def _load(prefix: str, identity: str, values: dict) -> None:
    missing = any(f"{prefix}_{name}" not in st.session_state for name in DOC_FIELDS)
    if missing or st.session_state.get(f"{prefix}_loaded") != identity:
        for name in DOC_FIELDS:
            st.session_state[f"{prefix}_{name}"] = values.get(name) or ""
        st.session_state[f"{prefix}_loaded"] = identity


def _form(prefix: str, items: dict[str, str]) -> dict:
    def k(name: str) -> str:  # the widget key of one field of this form
        return f"{prefix}_{name}"

    c1, c2 = st.columns([2, 3])
    c1.text_input("文号", key=k("doc_no"), placeholder="如:川民发〔2024〕1号")
    c2.text_input("标题", key=k("title"))
    c3, c4, c5 = st.columns([2, 1, 2])
    c3.text_input("发文机关", key=k("issuer"))
    c4.text_input("发文日期", key=k("issued_on"), placeholder="YYYY-MM-DD")
    c5.selectbox("相关救助事项", ["", *items], key=k("aid_item_code"),
                 format_func=lambda c: "(无)" if not c else f"{items[c]}({c})")
    st.text_area("正文", key=k("body"), height=240)
    return {name: st.session_state.get(k(name)) for name in DOC_FIELDS}


def _show(doc_id: int, terms: set[str]) -> None:
    info, _ = ui.attempt(cs.document, user, doc_id)
    if not info:
        return
    st.subheader(info["title"])
    st.caption(f"{info['doc_no']} · {info['issuer']} · {info['issued_on']} · {info['status_zh']} · "
               f"更新于 {info['updated_at']}")
    with st.container(key="knowledge_body", border=True):
        st.markdown(cs.highlighted(info["body"], sorted(terms)).replace("\n", "  \n"))
    for f in info["files"]:
        if f["kind"] == "image":
            st.image(f["content"], caption=f["filename"])
    attachments = [f for f in info["files"] if f["kind"] == "attachment"]
    if attachments:
        st.markdown("**附件**")
        for f in attachments:
            st.download_button(f"下载 {f['filename']}({f['size'] / 1024:.1f} KB)", f["content"],
                               file_name=f["filename"], mime=f["media_type"], on_click="ignore",
                               key=f"knowledge_download_{f['id']}", help=f"SM3 {f['sm3']}")
    if info["can_publish"] and st.button("发布", key="knowledge_publish", type="primary"):
        _, ok = ui.attempt(cs.publish_document, user, doc_id)
        if ok:
            auth_state.flash("政策文件已发布。")
            st.rerun()
    if info["can_withdraw"] and st.button("撤回", key="knowledge_withdraw"):
        _, ok = ui.attempt(cs.withdraw_document, user, doc_id)
        if ok:
            auth_state.flash("政策文件已撤回,检索中不再出现。")
            st.rerun()
    if info["can_edit"]:
        with st.expander("上传图片或附件"):
            st.caption("图片:PNG、JPEG;附件:PDF、DOCX、XLSX、TXT(UTF-8);单个文件不超过10 MB。")
            upload = st.file_uploader("选择文件", type=UPLOAD_TYPES, key="knowledge_upload")
            if st.button("上传", key="knowledge_attach", disabled=upload is None):
                name, ok = ui.attempt(cs.attach, user, doc_id, upload.name, upload.type, upload.getvalue())
                if ok:
                    auth_state.flash(f"已上传 {name}。")
                    st.rerun()
        with st.expander("修改文件"):
            if info["status"] == "published":
                st.caption("已发布的文件修改后回到草稿,须重新发布。")
            _load("knowledge_e", f"{doc_id}:{info['updated_at']}", info)
            values = _form("knowledge_e", items)
            if st.button("保存修改", key="knowledge_save_edit", type="primary"):
                _, ok = ui.attempt(cs.edit_document, user, doc_id, values)
                if ok:
                    st.session_state.pop("knowledge_e_loaded", None)
                    auth_state.flash("修改已保存,索引已更新。")
                    st.rerun()


user = auth_state.require_page("knowledge")
st.title("知识库")
st.caption("社会救助政策文件的正文、图片和附件。按中文分词检索,结果按相关度(BM25)排序,标题中的词权重更高;"
           "常用简称与全称互相检索,如“低保”与“最低生活保障”。")
notice = auth_state.take_flash()
if notice:
    st.success(notice)
editor = cs.may(user, "edit_catalogue")
items = cs.base_items(user) if editor else {}

q1, q2 = st.columns([5, 1])
query = q1.text_input("检索政策文件", key="knowledge_query", placeholder="如:低保 审核确认")
drafts = q2.checkbox("含草稿", key="knowledge_drafts") if editor else False
options: dict[int, str] = {}
terms: set[str] = set()
if query.strip():
    hits = ui.guarded(cs.search, user, query, drafts)
    if hits is not None:
        if not hits:
            st.info("没有找到相关的政策文件。")
        for rank, h in enumerate(hits, start=1):
            with st.container(key=f"knowledge_hit_{rank}"):
                st.markdown(f"{rank}\\. {h['title_md']}")
                st.caption(f"{h['doc_no']} · {h['issuer']} · {h['issued_on']} · {h['status_zh']} · "
                           f"相关度 {h['score']:.2f}")
                st.markdown(h["snippet_md"])
        options = {h["id"]: f"{h['title']}({h['doc_no']})" for h in hits}
        terms = {t for h in hits for t in h["terms"]}
else:
    listing = ui.guarded(cs.documents_frame, user, drafts)
    if listing is not None:
        ui.table(listing, key="knowledge_documents", empty="知识库中还没有政策文件。")
        options = {int(r["编号"]): f"{r['标题']}({r['文号']})" for _, r in listing.iterrows()}

if options:
    chosen = st.selectbox("查看文件", [0, *options], key="knowledge_chosen",
                          format_func=lambda n: "请选择" if not n else options[n])
    if chosen:
        _show(int(chosen), terms)

if editor:
    with st.expander("新增政策文件"):
        _load("knowledge_n", "new", {})
        fields = _form("knowledge_n", items)
        if st.button("保存为草稿", key="knowledge_add", type="primary"):
            new_id, ok = ui.attempt(cs.add_document, user, fields)
            if ok:
                st.session_state.pop("knowledge_n_loaded", None)
                auth_state.flash(f"已保存为草稿(编号{new_id}),由审批人发布后可被检索。")
                st.rerun()
