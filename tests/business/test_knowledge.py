"""知识库: policy documents segmented with jieba and ranked with BM25 (title terms weigh more), the
synonym map that lets 低保 find 最低生活保障, drafts invisible until published, re-indexing on edit,
images and attachments checked by their content, and each document's jurisdiction."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from PIL import Image
from sqlalchemy import select

from assistance import catalogue, knowledge
from jiuzhu import access, auth
from jiuzhu.business.models import AuditLog, PolicyAttachment, PolicyDocument, PolicyTerm
from verification.signing import sm3

PASSWORD = "Jiuzhu#2026kb"
JINJIANG, PROVINCE = "510104000000", "510000000000"


@pytest.fixture
def people(session, clock):
    catalogue.seed(session, clock=clock)
    return {name: auth.create_user(session, name, name, role, where, PASSWORD, must_change_password=False,
                                   clock=clock)
            for name, role, where in (("jj_editor", access.CASE_WORKER, JINJIANG),
                                      ("jj_approver", access.APPROVER, JINJIANG),
                                      ("sheng_approver", access.APPROVER, PROVINCE))}


def _add(session, user, clock, doc_no, title, body, **extra):
    return knowledge.add_document(session, user, doc_no=doc_no, title=title, body=body, clock=clock,
                                  issuer=extra.pop("issuer", "锦江区民政局"),
                                  issued_on=extra.pop("issued_on", "2024-06-01"), **extra)


def _png(size=(4, 3)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def _xlsx() -> bytes:
    from openpyxl import Workbook

    out = io.BytesIO()
    book = Workbook()
    book.active["A1"] = "锦江区低保标准"
    book.save(out)
    return out.getvalue()


def _first(session, query, **kwargs) -> str:
    hits = knowledge.search(session, query, **kwargs)
    assert hits, query
    return hits[0].doc_no


def test_the_seed_loads_the_policy_summaries_once_and_search_puts_the_right_one_first(session, people, clock):
    assert knowledge.seed_documents(session, clock=clock) == 4
    assert knowledge.seed_documents(session, clock=clock) == 0
    docs = session.scalars(select(PolicyDocument)).all()
    assert {d.status for d in docs} == {"published"} and all("要点摘要" in d.title for d in docs)
    assert all(d.body.startswith("【要点摘要,非原文") for d in docs)
    assert {d.doc_no: d.aid_item_code for d in docs}["民发〔2021〕43号"] == "tekun"
    assert session.scalar(select(AuditLog).where(AuditLog.action == "knowledge_seed")) is not None

    assert _first(session, "特困人员认定条件") == "民发〔2021〕43号"
    assert _first(session, "临时救助 先行救助") == "国发〔2014〕47号"
    assert _first(session, "低保审核确认") == "民发〔2021〕57号"
    assert _first(session, "社会救助体系 托底线") == "国务院令第649号"
    assert _first(session, "生活自理能力 全护理") == "民发〔2021〕43号"
    hit = knowledge.search(session, "渐退期")[0]
    assert hit.doc_no == "民发〔2021〕57号" and "渐退期" in hit.terms and "渐退期" in hit.snippet
    assert knowledge.search(session, "养老保险待遇领取") == []
    assert knowledge.search(session, "、,。 的") == []  # punctuation and stop words only


def test_dibao_finds_a_document_saying_only_zuidi_shenghuo_baozhang_by_synonym(session, people, clock):
    body = "城市居民最低生活保障对象的家庭经济状况每年复核一次。"
    assert "低保" not in knowledge.terms(body)  # the segmenter alone never derives 低保 from it
    full = _add(session, people["jj_editor"], clock, "锦民发〔2024〕1号", "关于做好年度复核工作的通知", body)
    short = _add(session, people["jj_editor"], clock, "锦民发〔2024〕2号", "关于临时救助备用金的通知",
                 "乡镇可对低保家庭先行发放临时救助金。")
    other = _add(session, people["jj_editor"], clock, "锦民发〔2024〕3号", "关于就业培训的通知", "组织技能培训。")
    for doc in (full, short, other):
        knowledge.publish_document(session, people["jj_approver"], doc.id, clock=clock)
    assert {h.document_id for h in knowledge.search(session, "低保")} == {full.id, short.id}
    assert {h.document_id for h in knowledge.search(session, "最低生活保障")} == {full.id, short.id}
    assert [h.document_id for h in knowledge.search(session, "技能培训")] == [other.id]


def test_a_term_in_the_title_weighs_more_than_the_same_term_in_the_body(session, people, clock):
    in_body = _add(session, people["jj_editor"], clock, "锦民发〔2024〕4号", "关于社会救助工作的通知",
                   "本年度重点做好医疗救助和住房保障工作,落实各项措施。")
    in_title = _add(session, people["jj_editor"], clock, "锦民发〔2024〕5号", "关于医疗救助工作的通知",
                    "本年度重点做好社会救助和住房保障工作,落实各项措施。")
    stored = session.scalars(select(PolicyTerm).where(PolicyTerm.document_id == in_title.id))
    terms = {t.term: t for t in stored}
    assert terms["医疗救助"].in_title and not terms["住房"].in_title
    ranked = [h.document_id for h in knowledge.search(session, "医疗救助", include_drafts=True)]
    assert ranked == [in_title.id, in_body.id]


def test_drafts_are_found_by_editors_only_and_withdrawn_documents_by_nobody(session, people, clock):
    doc = _add(session, people["jj_editor"], clock, "锦民发〔2024〕6号", "锦江区急难型临时救助实施细则",
               "对急难情形实行先行救助,事后补齐手续。")
    assert knowledge.search(session, "先行救助") == []
    assert [h.status for h in knowledge.search(session, "先行救助", include_drafts=True)] == ["draft"]
    with pytest.raises(access.AccessDenied):  # a case worker may write but not publish
        knowledge.publish_document(session, people["jj_editor"], doc.id, clock=clock)
    knowledge.publish_document(session, people["jj_approver"], doc.id, clock=clock)
    assert [h.document_id for h in knowledge.search(session, "先行救助")] == [doc.id]
    with pytest.raises(knowledge.KnowledgeError, match="不能发布"):
        knowledge.publish_document(session, people["jj_approver"], doc.id, clock=clock)
    knowledge.withdraw_document(session, people["jj_approver"], doc.id, clock=clock)
    assert knowledge.search(session, "先行救助", include_drafts=True) == []
    entries = session.scalars(select(AuditLog)
                              .where(AuditLog.action.in_(("edit_catalogue", "publish_catalogue")))
                              .order_by(AuditLog.seq))
    assert [(e.actor, json.loads(e.detail)["step"], e.outcome) for e in entries] == [
        ("jj_editor", "add_document", "allowed"), ("jj_editor", "publish_document", "denied"),
        ("jj_approver", "publish_document", "allowed"), ("jj_approver", "withdraw_document", "allowed")]


def test_an_edit_re_indexes_the_document_and_sends_it_back_to_draft(session, people, clock):
    doc = _add(session, people["jj_editor"], clock, "锦民发〔2024〕7号", "教育救助办理指南", "学生凭在校证明申请助学金。")
    knowledge.publish_document(session, people["jj_approver"], doc.id, clock=clock)
    knowledge.edit_document(session, people["jj_editor"], doc.id, doc_no="锦民发〔2024〕7号", title="住房救助办理指南",
                            issuer="锦江区民政局", issued_on="2024-06-01", body="住房困难家庭可申请公共租赁住房。",
                            clock=clock)
    stored = set(session.scalars(select(PolicyTerm.term).where(PolicyTerm.document_id == doc.id)))
    assert "住房" in stored and "助学金" not in stored and "教育" not in stored
    assert session.get(PolicyDocument, doc.id).status == "draft"
    assert knowledge.search(session, "助学金", include_drafts=True) == []
    assert [h.document_id for h in knowledge.search(session, "公租房", include_drafts=True)] == [doc.id]


@pytest.mark.parametrize(("changes", "error"), [
    ({"issued_on": "2024/06/01"}, "发文日期须为YYYY-MM-DD格式的日期"),
    ({"issued_on": "2024-W23-1"}, "发文日期须为YYYY-MM-DD格式的日期"),
    ({"issued_on": "2031-01-01"}, "晚于今天"),
    ({"title": "  "}, "请填写标题"),
    ({"aid_item_code": "pension"}, "救助事项库中没有事项pension"),
    ({"doc_no": "国务院令第649号"}, "已在知识库中"),
])
def test_a_document_with_a_bad_field_is_refused(session, people, clock, changes, error):
    knowledge.seed_documents(session, clock=clock)
    fields = {"doc_no": "锦民发〔2024〕8号", "title": "通知", "body": "正文", **changes}
    with pytest.raises(knowledge.KnowledgeError, match=error):
        _add(session, people["jj_editor"], clock, fields.pop("doc_no"), fields.pop("title"),
             fields.pop("body"), **fields)
    assert session.scalar(select(PolicyDocument).where(PolicyDocument.status == "draft")) is None


def test_images_and_attachments_are_checked_by_their_content(session, people, clock):
    doc = _add(session, people["jj_editor"], clock, "锦民发〔2024〕9号", "办事指引图", "见附图。")
    editor = people["jj_editor"]
    png = _png()
    image = knowledge.attach(session, editor, doc.id, "流程图.png", "image/png", png, clock=clock)
    assert (image.kind, image.size, image.sm3) == ("image", len(png), sm3(png))
    for name, media, content in (("原文.pdf", "application/pdf", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n"),
                                 ("申请书.docx", knowledge.DOCX, _docx()), ("标准.xlsx", knowledge.XLSX, _xlsx()),
                                 ("说明.txt", "text/plain", "低保申请须知".encode()),
                                 ("照片.jpg", "", _jpeg())):  # no media type: by the file name
        assert knowledge.attach(session, editor, doc.id, name, media, content, clock=clock).filename == name
    refusals = [
        ("流程图.png", "image/png", "这不是图片".encode(), "文件内容不是PNG图片"),
        ("流程图.png", "image/png", png[:40], "文件无法解码为PNG图片"),
        ("照片.jpg", "image/jpeg", png, "文件内容不是JPEG图片"),
        ("流程图.jpg", "image/png", png, "PNG图片的文件名须以.png结尾"),
        ("原文.pdf", "application/pdf", b"MZ\x90\x00", "文件内容不是PDF文件"),
        ("申请书.docx", knowledge.DOCX, _xlsx(), "文件内容不是Word文档"),
        ("说明.txt", "text/plain", "低保".encode("gbk"), "文本附件须为UTF-8编码"),
        ("程序.exe", "application/x-msdownload", b"MZ", "不支持的文件类型"),
        ("空.pdf", "application/pdf", b"", "文件为空"),
        ("大.pdf", "application/pdf", b"%PDF-" + b"0" * knowledge.MAX_BYTES, "超过10 MB上限"),
    ]
    for name, media, content, error in refusals:
        with pytest.raises(knowledge.KnowledgeError, match=error):
            knowledge.attach(session, editor, doc.id, name, media, content, clock=clock)
    assert len(knowledge.attachments(session, doc.id)) == 6
    assert knowledge.attachments(session, doc.id)[0].kind == "image"
    assert session.scalar(select(PolicyAttachment).where(PolicyAttachment.filename == "程序.exe")) is None


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (3, 3), (10, 120, 10)).save(out, format="JPEG")
    return out.getvalue()


def test_a_document_belongs_to_its_creators_jurisdiction(session, people, clock):
    knowledge.seed_documents(session, clock=clock)
    national = session.scalar(select(PolicyDocument).where(PolicyDocument.doc_no == "国务院令第649号"))
    with pytest.raises(access.AccessDenied) as denied:  # a county approver cannot withdraw a province entry
        knowledge.withdraw_document(session, people["jj_approver"], national.id, clock=clock)
    assert "不在您的管辖范围" in denied.value.message_zh
    with pytest.raises(access.AccessDenied):
        knowledge.attach(session, people["jj_editor"], national.id, "图.png", "image/png", _png(), clock=clock)
    withdrawn = knowledge.withdraw_document(session, people["sheng_approver"], national.id, clock=clock)
    assert withdrawn.status == "withdrawn"
    local = _add(session, people["jj_editor"], clock, "锦民发〔2024〕10号", "锦江区通知", "正文内容。")
    published = knowledge.publish_document(session, people["sheng_approver"], local.id, clock=clock)
    assert published.status == "published"


def test_reindex_rebuilds_the_terms_of_every_document(session, people, clock):
    knowledge.seed_documents(session, clock=clock)
    before = sorted((t.document_id, t.term, t.count, t.in_title) for t in session.scalars(select(PolicyTerm)))
    session.query(PolicyTerm).delete()
    session.commit()
    assert knowledge.search(session, "渐退期") == []
    assert knowledge.reindex(session, clock=clock) == 4
    after = sorted((t.document_id, t.term, t.count, t.in_title) for t in session.scalars(select(PolicyTerm)))
    assert after == before and knowledge.search(session, "渐退期")[0].doc_no == "民发〔2021〕57号"
