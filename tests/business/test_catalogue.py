"""救助事项库: the seeded province catalogue, a county's implementation list through edit → review →
publish (四眼: never reviewed by its editor), the effective definition a case starts on, retirement,
query, statistics with county coverage, the portal view, and the audit trail of every step."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from assistance import catalogue
from jiuzhu import access, regions
from jiuzhu.business.models import AidItem, AuditLog

PROVINCE, CHENGDU, JINJIANG, QINGYANG = "510000000000", "510100000000", "510104000000", "510105000000"


def _township(county: str) -> str:
    return min(r.code for r in regions.load().children(county))


JINJIANG_TOWNSHIP = _township(JINJIANG)


@dataclass(frozen=True)
class Staff:
    """An account as ``jiuzhu.access`` sees it (the catalogue needs no password)."""

    username: str
    role: str
    jurisdiction_code: str


@pytest.fixture
def people(session, clock):
    """The seeded catalogue and the accounts of the cycle: two editors and three approvers."""
    assert catalogue.seed(session, clock=clock) == 9
    return {name: Staff(name, role, where) for name, role, where in (
        ("jj_editor", access.CASE_WORKER, JINJIANG),
        ("jj_approver", access.APPROVER, JINJIANG),
        ("jj_approver2", access.APPROVER, JINJIANG),
        ("sheng_editor", access.CASE_WORKER, PROVINCE),
        ("sheng_approver", access.APPROVER, PROVINCE),
        ("analyst", access.ANALYST, CHENGDU))}


def _definition(session, item: str, **changes) -> dict:
    row = session.scalar(select(AidItem).where(AidItem.item_code == item, AidItem.list_kind == "catalogue"))
    raw = json.loads(row.definition_json)
    raw.update(changes)
    return raw


JINJIANG_STANDARD = "锦江区城市低保标准每人每月910元(区实施清单)"


def _publish_jinjiang(session, people, clock, standards=JINJIANG_STANDARD) -> AidItem:
    row = catalogue.draft(session, people["jj_editor"], list_kind="implementation", region_code=JINJIANG,
                          raw=_definition(session, "dibao_urban", standards=standards), clock=clock)
    catalogue.submit_for_review(session, people["jj_editor"], row.id, clock=clock)
    clock.advance(hours=2)
    return catalogue.review(session, people["jj_approver"], row.id, True, "符合目录清单,同意发布", clock=clock)


def test_the_seed_publishes_the_nine_items_of_the_province_catalogue_once(session, clock):
    assert catalogue.seed(session, clock=clock) == 9
    rows = session.scalars(select(AidItem)).all()
    assert {r.item_code for r in rows} == {"dibao_urban", "dibao_rural", "tekun", "temporary",
                                           "temporary_urgent", "medical", "education", "housing",
                                           "employment"}
    assert {(r.status, r.list_kind, r.region_code, r.version) for r in rows} == {
        ("published", "catalogue", PROVINCE, 1)}
    assert catalogue.seed(session, clock=clock) == 0
    township = _township(JINJIANG)
    assert len(catalogue.published_items(session, township)) == 9
    assert catalogue.effective(session, "tekun", township).region_code == PROVINCE


def test_a_county_list_applies_in_its_townships_and_a_newer_version_replaces_it(session, people, clock):
    jinjiang, qingyang = _township(JINJIANG), _township(QINGYANG)
    published = _publish_jinjiang(session, people, clock)
    assert (published.status, published.version, published.reviewed_by) == ("published", 1, "jj_approver")
    assert published.published_at == clock() and published.level == "county"

    local = catalogue.effective(session, "dibao_urban", jinjiang)
    assert (local.list_kind, local.region_code, local.version, local.standards) == (
        "implementation", JINJIANG, 1, JINJIANG_STANDARD)
    # 青羊区 keeps the catalogue
    assert catalogue.effective(session, "dibao_urban", qingyang).region_code == PROVINCE
    assert catalogue.effective(session, "dibao_rural", jinjiang).region_code == PROVINCE  # other items too

    clock.advance(days=30)
    second = _publish_jinjiang(session, people, clock, standards="锦江区城市低保标准每人每月950元")
    assert second.version == 2
    assert catalogue.effective(session, "dibao_urban", jinjiang).standards == "锦江区城市低保标准每人每月950元"
    assert [(r.version, r.status) for r in catalogue.history(session, "dibao_urban", JINJIANG)] == [
        (2, "published"), (1, "retired")]


def test_effective_takes_the_newest_published_version_of_the_nearest_region(session, people, clock):
    """The lookup itself, with two published versions side by side (as a seed or import can leave)."""
    v1 = session.scalar(select(AidItem).where(AidItem.item_code == "tekun"))
    copied = ("item_code", "list_kind", "region_code", "level", "status", "name_zh", "category", "flow_code",
              "edited_by", "created_at", "updated_at")
    v2 = AidItem(**{c: getattr(v1, c) for c in copied},
                 version=2, definition_json=json.dumps({**json.loads(v1.definition_json), "standards": "新标准"},
                                                       ensure_ascii=False))
    session.add(v2)
    session.commit()
    assert catalogue.effective(session, "tekun", _township(JINJIANG)).version == 2


def test_the_editor_or_submitter_may_never_review_their_own_version(session, people, clock):
    row = catalogue.draft(session, people["jj_approver"], raw=_definition(session, "dibao_urban"),
                          list_kind="implementation", region_code=JINJIANG, clock=clock)
    catalogue.submit_for_review(session, people["jj_approver2"], row.id, clock=clock)
    for who in ("jj_approver", "jj_approver2"):  # the drafter, then the one who submitted it
        with pytest.raises(catalogue.CatalogueError) as refused:
            catalogue.review(session, people[who], row.id, True, "", clock=clock)
        assert refused.value.code == "FOUR_EYES" and "四眼" in refused.value.message
    assert session.get(AidItem, row.id).status == "in_review"
    denied = session.scalars(select(AuditLog).where(AuditLog.action == "publish_catalogue",
                                                    AuditLog.outcome == "denied")).all()
    assert [e.actor for e in denied] == ["jj_approver", "jj_approver2"]
    assert all(json.loads(e.detail)["code"] == "FOUR_EYES" for e in denied)
    with pytest.raises(access.AccessDenied):  # a case worker may edit but not publish
        catalogue.review(session, people["jj_editor"], row.id, True, "", clock=clock)
    published = catalogue.review(session, people["sheng_approver"], row.id, True, "", clock=clock)
    assert published.status == "published"


def test_a_rejected_version_carries_the_note_back_to_its_editor(session, people, clock):
    row = catalogue.draft(session, people["jj_editor"], raw=_definition(session, "dibao_urban"),
                          list_kind="implementation", region_code=JINJIANG, clock=clock)
    with pytest.raises(catalogue.CatalogueError, match="只有待审核的版本可以审核"):
        catalogue.review(session, people["jj_approver"], row.id, True, "", clock=clock)
    catalogue.submit_for_review(session, people["jj_editor"], row.id, clock=clock)
    with pytest.raises(catalogue.CatalogueError, match="退回须写明审核意见"):
        catalogue.review(session, people["jj_approver"], row.id, False, "  ", clock=clock)
    rejected = catalogue.review(session, people["jj_approver"], row.id, False, "标准未写明执行时间", clock=clock)
    assert (rejected.status, rejected.review_note) == ("rejected", "标准未写明执行时间")
    assert catalogue.effective(session, "dibao_urban", _township(JINJIANG)).region_code == PROVINCE

    fixed = catalogue.edit_draft(session, people["jj_editor"], row.id, clock=clock,
                                 raw=_definition(session, "dibao_urban", standards="2026年1月起每人每月910元"))
    assert (fixed.status, fixed.version) == ("draft", 1)
    with pytest.raises(catalogue.CatalogueError, match="事项代码不可修改"):
        catalogue.edit_draft(session, people["jj_editor"], row.id, clock=clock,
                             raw=_definition(session, "dibao_rural"))
    catalogue.submit_for_review(session, people["jj_editor"], row.id, clock=clock)
    published = catalogue.review(session, people["jj_approver"], row.id, True, "", clock=clock)
    assert published.status == "published"
    with pytest.raises(catalogue.CatalogueError, match="已发布的事项请新建版本"):
        catalogue.edit_draft(session, people["jj_editor"], row.id, raw=_definition(session, "dibao_urban"),
                             clock=clock)


REFUSALS = [  # who, list kind, region, item, changes to its definition, the reason shown
    ("jj_editor", "implementation", JINJIANG_TOWNSHIP, "dibao_urban", {}, "实施清单由市(州)或县(市、区)编制"),
    ("sheng_editor", "implementation", PROVINCE, "dibao_urban", {}, "实施清单由市(州)或县(市、区)编制"),
    ("jj_editor", "catalogue", JINJIANG, "dibao_urban", {}, "目录清单由省级编制"),
    ("jj_editor", "implementation", JINJIANG, "dibao_urban", {"code": "dibao_new"}, "省级目录清单中没有已发布的救助事项"),
    ("jj_editor", "implementation", JINJIANG, "dibao_urban", {"category": "tekun"}, "不能改为特困人员救助供养"),
    ("jj_editor", "implementation", JINJIANG, "dibao_urban", {"materials": []}, "须列明申请材料"),
    ("jj_editor", "implementation", JINJIANG, "dibao_urban", {"flow": "fast"}, "救助事项dibao_urban"),
    ("jj_editor", "implementation", JINJIANG, "dibao_urban", {"time_limit_working_days": 0}, "须为正整数"),
    ("jj_editor", "list", JINJIANG, "dibao_urban", {}, "未知的清单类型"),
    ("jj_editor", "implementation", "519999000000", "dibao_urban", {}, "未知的行政区划代码"),
]


def test_a_draft_is_refused_with_the_reason(session, people, clock):
    for who, kind, region, item, changes, error in REFUSALS:
        with pytest.raises(catalogue.CatalogueError, match=re.escape(error)):
            catalogue.draft(session, people[who], raw=_definition(session, item, **changes), list_kind=kind,
                            region_code=region, clock=clock)
    assert session.scalar(select(AidItem).where(AidItem.status == "draft")) is None
    assert session.scalar(select(AuditLog).where(AuditLog.action == "edit_catalogue")) is None  # nothing done


def test_editing_outside_the_jurisdiction_or_without_permission_is_denied_and_audited(session, people, clock):
    for who, region in (("jj_editor", QINGYANG), ("analyst", JINJIANG)):
        with pytest.raises(access.AccessDenied):
            catalogue.draft(session, people[who], raw=_definition(session, "dibao_urban"),
                            list_kind="implementation", region_code=region, clock=clock)
    entries = session.scalars(select(AuditLog).where(AuditLog.action == "edit_catalogue")).all()
    assert [(e.actor, e.outcome, json.loads(e.detail)["code"]) for e in entries] == [
        ("jj_editor", "denied", "OUT_OF_JURISDICTION"), ("analyst", "denied", "ROLE_NOT_PERMITTED")]
    assert session.scalar(select(AidItem).where(AidItem.status == "draft")) is None


def test_one_open_version_at_a_time_and_the_province_drafts_a_new_catalogue_version(session, people, clock):
    catalogue.draft(session, people["jj_editor"], raw=_definition(session, "dibao_urban"),
                    list_kind="implementation", region_code=JINJIANG, clock=clock)
    with pytest.raises(catalogue.CatalogueError, match="已有草稿的第1版"):
        catalogue.draft(session, people["jj_editor"], raw=_definition(session, "dibao_urban"),
                        list_kind="implementation", region_code=JINJIANG, clock=clock)
    row = catalogue.draft(session, people["sheng_editor"], list_kind="catalogue", region_code=PROVINCE,
                          clock=clock, raw=_definition(session, "tekun", standards="2027年起每人每月850元"))
    assert (row.version, row.level, row.status) == (2, "province", "draft")
    catalogue.submit_for_review(session, people["sheng_editor"], row.id, clock=clock)
    catalogue.review(session, people["sheng_approver"], row.id, True, "", clock=clock)
    assert catalogue.effective(session, "tekun", _township(QINGYANG)).version == 2
    assert [r.status for r in catalogue.history(session, "tekun", PROVINCE)] == ["published", "retired"]


def test_retiring_a_county_list_makes_the_catalogue_apply_again(session, people, clock):
    row = _publish_jinjiang(session, people, clock)
    with pytest.raises(catalogue.CatalogueError, match="停用须写明理由"):
        catalogue.retire(session, people["jj_approver2"], row.id, "", clock=clock)
    with pytest.raises(access.AccessDenied):
        catalogue.retire(session, people["jj_editor"], row.id, "并入全市统一清单", clock=clock)
    retired = catalogue.retire(session, people["jj_approver2"], row.id, "并入全市统一清单", clock=clock)
    assert retired.status == "retired" and "停用理由:并入全市统一清单" in retired.review_note
    assert catalogue.effective(session, "dibao_urban", _township(JINJIANG)).region_code == PROVINCE
    with pytest.raises(catalogue.CatalogueError, match="只有已发布的版本可以停用"):
        catalogue.retire(session, people["jj_approver2"], row.id, "再次停用", clock=clock)


def test_query_filters_by_region_category_status_and_text_with_synonyms(session, people, clock):
    _publish_jinjiang(session, people, clock)
    catalogue.draft(session, people["sheng_approver"], raw=_definition(session, "dibao_urban"),
                    list_kind="implementation", region_code=QINGYANG, clock=clock)
    mine = catalogue.query(session, region_code=JINJIANG)
    assert len(mine) == 10 and {r.region_code for r in mine} == {PROVINCE, JINJIANG}  # catalogue + own list
    below = catalogue.query(session, region_code=CHENGDU)
    assert {r.region_code for r in below} == {PROVINCE, JINJIANG, QINGYANG}
    assert [r.status for r in catalogue.query(session, status="draft")] == ["draft"]
    dibao = catalogue.query(session, text="低保", region_code=QINGYANG)  # the names only say 最低生活保障
    assert {(r.item_code, r.region_code) for r in dibao} == {
        ("dibao_urban", PROVINCE), ("dibao_rural", PROVINCE), ("dibao_urban", QINGYANG)}
    temporary = catalogue.query(session, category="temporary")
    assert {r.item_code for r in temporary} == {"temporary", "temporary_urgent"}
    assert catalogue.query(session, text="不存在的事项") == []
    with pytest.raises(catalogue.CatalogueError, match="未知的救助类别"):
        catalogue.query(session, category="pension")


def test_statistics_count_the_lists_and_show_which_counties_published_their_own(session, people, clock):
    _publish_jinjiang(session, people, clock)
    stats = catalogue.statistics(session, CHENGDU)
    assert stats.by_list_kind == {"catalogue": 9, "implementation": 1}
    assert stats.by_status == {"published": 10}
    assert stats.by_category["dibao"] == 3 and stats.by_category["temporary"] == 2
    chengdu_counties = [c for c in regions.load().counties() if c.code.startswith("5101")]
    urban = next(c for c in stats.coverage if c.item_code == "dibao_urban")
    assert (urban.counties, urban.published_counties) == (len(chengdu_counties), (JINJIANG,))
    assert urban.share == pytest.approx(1 / len(chengdu_counties))
    assert all(c.published_counties == () for c in stats.coverage if c.item_code != "dibao_urban")
    assert next(c for c in catalogue.statistics(session, QINGYANG).coverage
                if c.item_code == "dibao_urban").published_counties == ()


def test_the_portal_shows_the_effective_items_with_plain_fields_only(session, people, clock):
    _publish_jinjiang(session, people, clock)
    items = catalogue.portal_items(session, _township(JINJIANG))
    assert len(items) == 9
    urban = next(i for i in items if i["code"] == "dibao_urban")
    assert urban["list"] == "实施清单" and urban["issued_by"] == "四川省成都市锦江区"
    assert urban["standards"] == JINJIANG_STANDARD and urban["published_on"] == "2025-03-03"
    assert urban["materials"][0] == {"name": "最低生活保障申请书", "required": True, "note": ""}
    shown = json.dumps(items, ensure_ascii=False)
    assert "jj_editor" not in shown and "jj_approver" not in shown and "system:seed" not in shown
    qingyang = {i["code"]: i for i in catalogue.portal_items(session, QINGYANG)}
    assert qingyang["dibao_urban"]["list"] == "目录清单"


def test_every_step_of_the_cycle_is_in_the_audit_trail(session, people, clock):
    row = _publish_jinjiang(session, people, clock)
    catalogue.retire(session, people["jj_approver"], row.id, "试点结束", clock=clock)
    entries = session.scalars(select(AuditLog)
                              .where(AuditLog.action.in_(("edit_catalogue", "publish_catalogue")))
                              .order_by(AuditLog.seq)).all()
    assert [(e.actor, e.action, json.loads(e.detail)["step"], e.purpose, e.region_code) for e in entries] == [
        ("jj_editor", "edit_catalogue", "draft", "编辑救助事项", JINJIANG),
        ("jj_editor", "edit_catalogue", "submit", "提交救助事项审核", JINJIANG),
        ("jj_approver", "publish_catalogue", "approve", "审核发布救助事项", JINJIANG),
        ("jj_approver", "publish_catalogue", "retire", "停用救助事项", JINJIANG),
    ]
    assert all(e.outcome == "allowed" and e.subject_key is None for e in entries)
    assert all(json.loads(e.detail)["item_code"] == "dibao_urban" for e in entries)
