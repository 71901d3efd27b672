"""救助事项库 and 知识库 in the staff app: a county case worker drafts 锦江区's implementation list and
submits it, an approver publishes it and the townships of 锦江区 then work on it; its own editor
cannot approve it; a Chinese search puts the right policy document first with its terms
highlighted; an image that is not an image is refused in Chinese; a reader sees no editing."""

from __future__ import annotations

import pytest
from PIL import Image
from sqlalchemy import select

from assistance import catalogue, knowledge
from jiuzhu import access, auth, regions
from jiuzhu.business import db
from jiuzhu.business.models import AidItem, AuditLog, PolicyAttachment, PolicyDocument
from tests.ui.staffkit import PASSWORD, frame, login, texts

CATALOGUE, KNOWLEDGE = "views/catalogue.py", "views/knowledge.py"
JINJIANG = "510104000000"
TOWNSHIP = min(r.code for r in regions.load().children(JINJIANG))
NEW_STANDARD = "锦江区城市低保标准每人每月960元(2027年1月起执行)"


@pytest.fixture
def platform(tmp_path, monkeypatch, clock):
    """A business database with the seeded catalogue and knowledge base and the accounts below."""
    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    with sessions() as s:
        catalogue.seed(s, clock=clock)
        knowledge.seed_documents(s, clock=clock)
        for name, role, where in (("jingban_qu", access.CASE_WORKER, JINJIANG),  # 区民政局经办人
                                  ("shenpi01", access.APPROVER, JINJIANG),
                                  ("shenpi02", access.APPROVER, JINJIANG),
                                  ("fenxi01", access.ANALYST, "510100000000")):
            auth.create_user(s, name, name, role, where, PASSWORD, must_change_password=False, clock=clock)
    for name, value in (("JIUZHU_HOME", str(tmp_path / "home")), ("JIUZHU_LAKE", str(tmp_path / "lake")),
                        ("JIUZHU_BUSINESS_DB_URL", url)):
        monkeypatch.setenv(name, value)
    return sessions


def _open(username: str, page: str):
    at = login(username)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)
    return at


def _ok(at) -> None:
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)


def _keys(at) -> set[str]:
    return {b.key for b in at.button}


def _blocks(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from _blocks(child)


def _hits(at) -> list[str]:
    """The markdown of each search result, best first."""
    found = {int(b.key.rsplit("_", 1)[1]): " ".join(m.value for m in b.markdown) for b in _blocks(at.main)
             if str(getattr(b, "key", "")).startswith("knowledge_hit_")}
    return [found[rank] for rank in sorted(found)]


def _plain(markdown: str) -> str:
    return markdown.replace("**", "").replace("\\", "")


def test_a_county_list_is_drafted_submitted_published_and_then_applies_in_its_townships(platform, clock):
    at = _open("jingban_qu", CATALOGUE)
    at.selectbox(key="catalogue_new_base").set_value("dibao_urban").run()
    _ok(at)
    assert at.text_input(key="catalogue_n_name_zh").value == "城市居民最低生活保障"  # starts from the catalogue
    at.text_area(key="catalogue_n_standards").input(NEW_STANDARD).run()
    at.button(key="catalogue_save_draft").click().run()
    _ok(at)
    assert any("草稿已保存" in s for s in texts(at.success))
    with platform() as s:
        draft = s.scalar(select(AidItem).where(AidItem.status == "draft"))
        assert (draft.item_code, draft.region_code, draft.list_kind, draft.version) == (
            "dibao_urban", JINJIANG, "implementation", 1)
        draft_id = draft.id

    at.selectbox(key="catalogue_chosen").set_value(draft_id).run()
    _ok(at)
    assert "catalogue_approve" not in _keys(at)  # a case worker edits but never publishes
    at.button(key="catalogue_submit").click().run()
    _ok(at)

    clock.advance(hours=1)
    at = _open("shenpi01", CATALOGUE)
    at.selectbox(key="catalogue_status").set_value("in_review").run()
    queue = frame(at, "catalogue_items")
    assert list(queue["编号"]) == [draft_id] and list(queue["状态"]) == ["待审核"]
    at.selectbox(key="catalogue_chosen").set_value(draft_id).run()
    _ok(at)
    assert any(NEW_STANDARD in m for m in texts(at.markdown))
    at.button(key="catalogue_approve").click().run()
    _ok(at)
    assert any("已发布" in s for s in texts(at.success))

    at.text_input(key="catalogue_effective_region").input(TOWNSHIP).run()
    _ok(at)
    applying = frame(at, "catalogue_effective").set_index("事项代码")
    assert applying.loc["dibao_urban", "适用清单"] == "实施清单"
    assert applying.loc["dibao_urban", "编制区划"] == "四川省成都市锦江区"
    assert applying.loc["dibao_urban", "救助标准"] == NEW_STANDARD
    assert applying.loc["dibao_rural", "适用清单"] == "目录清单"  # the other items keep the catalogue
    with platform() as s:
        d = catalogue.effective(s, "dibao_urban", TOWNSHIP)
        assert (d.region_code, d.version, d.standards) == (JINJIANG, 1, NEW_STANDARD)
        steps = [(e.actor, e.outcome) for e in s.scalars(select(AuditLog).where(
            AuditLog.action.in_(("edit_catalogue", "publish_catalogue"))).order_by(AuditLog.seq))]
        assert steps == [("jingban_qu", "allowed"), ("jingban_qu", "allowed"), ("shenpi01", "allowed")]

    at.selectbox(key="catalogue_stats_region").set_value(JINJIANG).run()
    coverage = frame(at, "catalogue_coverage").set_index("事项代码")
    assert coverage.loc["dibao_urban", "已发布的县(市、区)"] == "锦江区"
    assert coverage.loc["tekun", "已发布实施清单的县"] == 0


def test_the_approver_who_drafted_a_version_is_told_another_must_publish_it(platform, clock):
    at = _open("shenpi01", CATALOGUE)
    at.selectbox(key="catalogue_new_base").set_value("tekun").run()
    at.button(key="catalogue_save_draft").click().run()
    _ok(at)
    with platform() as s:
        draft_id = s.scalar(select(AidItem.id).where(AidItem.status == "draft"))
    at.selectbox(key="catalogue_chosen").set_value(draft_id).run()
    at.button(key="catalogue_submit").click().run()
    _ok(at)
    at.selectbox(key="catalogue_chosen").set_value(draft_id).run()
    assert "catalogue_approve" not in _keys(at)
    assert any("四眼原则" in i for i in texts(at.info))
    at = _open("shenpi02", CATALOGUE)
    at.selectbox(key="catalogue_chosen").set_value(draft_id).run()
    at.button(key="catalogue_reject").click().run()
    assert texts(at.error) == ["退回须写明审核意见"]
    at.text_area(key="catalogue_review_note").input("请补充本区照料护理标准").run()
    at.button(key="catalogue_reject").click().run()
    _ok(at)
    with platform() as s:
        rejected = s.get(AidItem, draft_id)
        assert (rejected.status, rejected.reviewed_by, rejected.review_note) == (
            "rejected", "shenpi02", "请补充本区照料护理标准")


def test_a_chinese_search_puts_the_right_document_first_and_a_reader_cannot_edit(platform):
    at = _open("fenxi01", KNOWLEDGE)
    assert not at.expander and "knowledge_add" not in _keys(at)  # an analyst reads only
    at.text_input(key="knowledge_query").input("特困人员认定条件").run()
    _ok(at)
    shown = _hits(at)[0]
    assert "**特困人员认定**办法" in shown  # the title, its matching terms highlighted
    assert "特困人员认定办法" in _plain(shown)
    at.text_input(key="knowledge_query").input("低保").run()  # only 最低生活保障 in the text: the synonym map
    assert "最低生活保障审核确认办法" in _plain(_hits(at)[0])
    with platform() as s:
        doc_id = s.scalar(select(PolicyDocument.id).where(PolicyDocument.doc_no == "民发〔2021〕57号"))
    at.selectbox(key="knowledge_chosen").set_value(doc_id).run()
    _ok(at)
    assert any("渐退期" in m for m in texts(at.markdown))
    assert "knowledge_withdraw" not in _keys(at) and "knowledge_attach" not in _keys(at)

    at = _open("fenxi01", CATALOGUE)
    assert any("您的角色不能编辑救助事项" in i for i in texts(at.info))
    assert "catalogue_save_draft" not in _keys(at)


def _png() -> bytes:
    import io

    out = io.BytesIO()
    Image.new("RGB", (6, 4), (30, 90, 200)).save(out, format="PNG")
    return out.getvalue()


def test_an_editor_adds_a_document_and_an_image_that_is_not_an_image_is_refused(platform, clock):
    at = _open("jingban_qu", KNOWLEDGE)
    for name, value in (("doc_no", "锦民发〔2026〕3号"), ("title", "锦江区临时救助备用金管理办法"),
                        ("issuer", "成都市锦江区民政局"), ("issued_on", "2026-11-02"),
                        ("body", "乡镇(街道)临时救助备用金用于急难情形的先行救助。")):
        key = f"knowledge_n_{name}"
        (at.text_area(key=key) if name == "body" else at.text_input(key=key)).input(value)
    at.run()
    at.button(key="knowledge_add").click().run()
    _ok(at)
    assert any("已保存为草稿" in s for s in texts(at.success))
    with platform() as s:
        doc_id = s.scalar(select(PolicyDocument.id).where(PolicyDocument.doc_no == "锦民发〔2026〕3号"))

    at.checkbox(key="knowledge_drafts").check().run()
    at.selectbox(key="knowledge_chosen").set_value(doc_id).run()
    _ok(at)
    at.file_uploader(key="knowledge_upload").set_value(("流程图.png", "这不是图片".encode(), "image/png")).run()
    at.button(key="knowledge_attach").click().run()
    assert not at.exception, at.exception
    assert texts(at.error) == ["文件内容不是PNG图片(文件头不符),请上传真实的PNG图片"]
    at.file_uploader(key="knowledge_upload").set_value(("流程图.png", _png(), "image/png")).run()
    at.button(key="knowledge_attach").click().run()
    _ok(at)
    with platform() as s:
        stored = s.scalars(select(PolicyAttachment).where(PolicyAttachment.document_id == doc_id)).all()
        assert [(a.kind, a.filename) for a in stored] == [("image", "流程图.png")]
    assert "knowledge_publish" not in _keys(at)  # the case worker may not publish

    at = _open("shenpi01", KNOWLEDGE)
    at.checkbox(key="knowledge_drafts").check().run()
    at.selectbox(key="knowledge_chosen").set_value(doc_id).run()
    at.button(key="knowledge_publish").click().run()
    _ok(at)
    at = _open("fenxi01", KNOWLEDGE)
    at.text_input(key="knowledge_query").input("备用金 先行救助").run()
    assert "临时救助备用金管理办法" in _plain(_hits(at)[0])
