"""救助事项库 (BZ-1): the catalogue list (目录清单, province) and the implementation lists (实施清单,
per region) of the aid items, each version through edit → review → publish (清单发布).

The definition of an item is data (``aid_items.yaml`` seeds the catalogue): legal basis, scope,
conditions, materials, flow, standards, time limits, where to go, the items it excludes. A case is
always started on the *effective* definition for the applicant's region: the published
implementation list of the nearest enclosing region, else the province's catalogue entry.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistance import flows, knowledge
from jiuzhu import access, audit, regions
from jiuzhu.business.models import AidItem, AuditLog
from jiuzhu.errors import CodedError
from jiuzhu.supervision import BEIJING

SEED = Path(__file__).resolve().parent / "aid_items.yaml"
CATEGORIES = {"dibao": "最低生活保障", "tekun": "特困人员救助供养", "margin": "低保边缘家庭救助",
              "temporary": "临时救助", "medical": "医疗救助", "education": "教育救助", "housing": "住房救助",
              "employment": "就业救助"}
LEVELS = {1: "province", 2: "city", 3: "county", 4: "township"}
STATUS_ZH = {"draft": "草稿", "in_review": "待审核", "published": "已发布", "rejected": "已退回", "retired": "已停用"}
REQUIRED_TEXT = ("name_zh", "legal_basis", "scope", "standards", "where_to_go")


class CatalogueError(CodedError):
    """A catalogue entry or step refused, with why."""


@dataclass(frozen=True)
class Material:
    name: str
    required: bool
    note: str = ""


@dataclass(frozen=True)
class ItemDefinition:
    """One aid item as a case uses it: the published version effective in a region."""

    item_code: str
    version: int
    region_code: str
    list_kind: str
    name_zh: str
    category: str
    flow_code: str
    legal_basis: str
    scope: str
    conditions: tuple[str, ...]
    materials: tuple[Material, ...]
    standards: str
    time_limit_working_days: int
    where_to_go: str
    exclusive_with: tuple[str, ...]

    @property
    def required_materials(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.materials if m.required)


def validate(raw: dict, *, flow_dir: Path | None = None) -> dict:
    """The definition in its stored form, or ``CatalogueError`` naming the first problem."""
    if not isinstance(raw, dict):
        raise CatalogueError("ITEM_INVALID", "救助事项定义须为键值对")
    code = raw.get("code") or raw.get("item_code")
    where = f"救助事项{code or '(无代码)'}"
    if not code or not isinstance(code, str) or not code.replace("_", "").isalnum() or not code.isascii():
        raise CatalogueError("ITEM_INVALID", f"{where}:事项代码须为字母、数字或下划线")
    for field in REQUIRED_TEXT:
        if not str(raw.get(field) or "").strip():
            raise CatalogueError("ITEM_INVALID", f"{where}:缺少{field}")
    if raw.get("category") not in CATEGORIES:
        raise CatalogueError("ITEM_INVALID", f"{where}:未知的救助类别{raw.get('category')}")
    try:
        flows.get(raw.get("flow") or "", flow_dir)
    except flows.FlowError as exc:
        raise CatalogueError("ITEM_INVALID", f"{where}:{exc.message}") from None
    materials = raw.get("materials") or []
    if not isinstance(materials, list) or not materials:
        raise CatalogueError("ITEM_INVALID", f"{where}:须列明申请材料")
    for m in materials:
        if not isinstance(m, dict) or not str(m.get("name") or "").strip():
            raise CatalogueError("ITEM_INVALID", f"{where}:申请材料须有名称")
    limit = raw.get("time_limit_working_days")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise CatalogueError("ITEM_INVALID", f"{where}:办理时限 time_limit_working_days 须为正整数")
    excluded = raw.get("exclusive_with") or []
    unknown = [c for c in excluded if c not in CATEGORIES]
    if unknown:
        raise CatalogueError("ITEM_INVALID", f"{where}:exclusive_with 含未知类别{unknown}")
    conditions = raw.get("conditions") or []
    if not isinstance(conditions, list):
        raise CatalogueError("ITEM_INVALID", f"{where}:conditions 须为列表")
    return {
        "code": code, "name_zh": raw["name_zh"].strip(), "category": raw["category"], "flow": raw["flow"],
        "legal_basis": raw["legal_basis"].strip(), "scope": raw["scope"].strip(),
        "conditions": [str(c) for c in conditions],
        "materials": [{"name": m["name"].strip(), "required": bool(m.get("required", True)),
                       "note": str(m.get("note") or "")} for m in materials],
        "standards": raw["standards"].strip(), "time_limit_working_days": limit,
        "where_to_go": raw["where_to_go"].strip(), "exclusive_with": list(excluded),
    }


def definition_of(row: AidItem) -> ItemDefinition:
    d = json.loads(row.definition_json)
    return ItemDefinition(
        item_code=row.item_code, version=row.version, region_code=row.region_code, list_kind=row.list_kind,
        name_zh=row.name_zh, category=row.category, flow_code=row.flow_code, legal_basis=d["legal_basis"],
        scope=d["scope"], conditions=tuple(d["conditions"]),
        materials=tuple(Material(m["name"], m["required"], m.get("note", "")) for m in d["materials"]),
        standards=d["standards"], time_limit_working_days=d["time_limit_working_days"],
        where_to_go=d["where_to_go"], exclusive_with=tuple(d["exclusive_with"]))


def seed(session: Session, *, clock: audit.Clock = audit.utc_now, path: Path = SEED) -> int:
    """Publish the seed catalogue (version 1 of each item absent so far); returns how many."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    existing = set(session.scalars(select(AidItem.item_code).where(AidItem.list_kind == "catalogue")))
    now = clock()
    added = 0
    for raw in doc["items"]:
        item = validate(raw)
        if item["code"] in existing:
            continue
        session.add(AidItem(
            item_code=item["code"], list_kind="catalogue", region_code=regions.PROVINCE_CODE, level="province",
            version=1, status="published", name_zh=item["name_zh"], category=item["category"],
            flow_code=item["flow"], definition_json=json.dumps(item, ensure_ascii=False, sort_keys=True),
            edited_by="system:seed", reviewed_by="system:seed", review_note="省级目录清单初始发布",
            published_at=now, created_at=now, updated_at=now))
        added += 1
    if added:
        audit.record(session, actor="system:seed", action="catalogue_seed", outcome="success",
                     detail={"items": added}, clock=clock)
    session.commit()
    return added


def _enclosing(region_code: str) -> list[str]:
    """The region and every region above it, nearest first."""
    tree = regions.load()
    code = regions.normalise_code(region_code)
    chain = []
    node = tree.get(code)
    while node is not None:
        chain.append(node.code)
        node = tree.parent(node.code)
    return chain


def _effective_row(session: Session, item_code: str, region_code: str) -> AidItem:
    chain = _enclosing(region_code)
    rows = list(session.scalars(select(AidItem).where(AidItem.item_code == item_code,
                                                      AidItem.status == "published",
                                                      AidItem.region_code.in_(chain))))
    if not rows:
        raise CatalogueError("ITEM_NOT_PUBLISHED", f"救助事项{item_code}在该地区没有已发布的清单")
    return min(rows, key=lambda r: (chain.index(r.region_code), -r.version))


def effective(session: Session, item_code: str, region_code: str) -> ItemDefinition:
    """The published version of ``item_code`` that applies in ``region_code``: the nearest enclosing
    region's implementation list, else the province's catalogue entry (newest version)."""
    return definition_of(_effective_row(session, item_code, region_code))


def published_items(session: Session, region_code: str) -> list[ItemDefinition]:
    """Every item effective in a region, in the catalogue's order of codes."""
    chain = _enclosing(region_code)
    codes = sorted(set(session.scalars(select(AidItem.item_code).where(AidItem.status == "published",
                                                                       AidItem.region_code.in_(chain)))))
    return [effective(session, code, region_code) for code in codes]


# --- the edit → review → publish cycle (清单发布) ---------------------------------------------------------

LIST_KIND_ZH = {"catalogue": "目录清单", "implementation": "实施清单"}
# Steps of an editor on one version: whoever took any of them may not review that version (四眼原则).
EDITOR_STEPS = frozenset({"draft", "edit", "submit"})
PURPOSES = {"draft": "编辑救助事项", "edit": "编辑救助事项", "submit": "提交救助事项审核",
            "approve": "审核发布救助事项", "reject": "退回救助事项", "retire": "停用救助事项"}


def _region(region_code: str) -> regions.Region:
    try:
        return regions.load().get(region_code)
    except regions.UnknownRegion as exc:
        raise CatalogueError("REGION_UNKNOWN", exc.message) from None


def _row(session: Session, item_id: int, *, lock: bool = False) -> AidItem:
    query = select(AidItem).where(AidItem.id == item_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise CatalogueError("ITEM_UNKNOWN", f"没有编号为{item_id}的救助事项版本")
    return row


def _published_catalogue(session: Session, item_code: str) -> AidItem | None:
    return session.scalar(select(AidItem)
                          .where(AidItem.item_code == item_code, AidItem.list_kind == "catalogue",
                                 AidItem.status == "published")
                          .order_by(AidItem.version.desc()).limit(1))


def _check_kind_and_region(list_kind: str, region: regions.Region) -> None:
    if list_kind not in LIST_KIND_ZH:
        raise CatalogueError("LIST_KIND_UNKNOWN", f"未知的清单类型:{list_kind}(应为目录清单或实施清单)")
    if list_kind == "catalogue" and region.code != regions.PROVINCE_CODE:
        raise CatalogueError("LEVEL_INVALID", f"目录清单由省级编制,{region.name}只能编制实施清单")
    if list_kind == "implementation" and region.level not in (2, 3):
        raise CatalogueError("LEVEL_INVALID", f"实施清单由市(州)或县(市、区)编制,{region.name}是"
                                              f"{regions.LEVEL_NAMES_ZH[region.level]}")


def _check_against_catalogue(session: Session, item: dict, list_kind: str) -> None:
    """An implementation list implements a published catalogue item (same code, same category);
    a new catalogue version keeps the category its implementation lists rely on."""
    base = _published_catalogue(session, item["code"])
    if list_kind == "implementation" and base is None:
        raise CatalogueError("CATALOGUE_ITEM_MISSING", f"省级目录清单中没有已发布的救助事项{item['code']},"
                                                       "实施清单只能实施目录清单中的事项")
    if base is not None and item["category"] != base.category:
        raise CatalogueError("CATEGORY_MISMATCH",
                             f"救助事项{item['code']}在目录清单中属于{CATEGORIES[base.category]},"
                             f"不能改为{CATEGORIES[item['category']]}")


def _apply(row: AidItem, item: dict) -> None:
    row.name_zh, row.category, row.flow_code = item["name_zh"], item["category"], item["flow"]
    row.definition_json = json.dumps(item, ensure_ascii=False, sort_keys=True)


def _audit_step(session: Session, user: access.Principal, action: str, step: str, row_code: str, version: int,
                region_code: str, clock: audit.Clock, **extra) -> None:
    access.authorize_and_audit(session, user, action, region_code, purpose=PURPOSES[step],
                               detail={"step": step, "item_code": row_code, "version": version, **extra},
                               clock=clock)


def draft(session: Session, user: access.Principal, *, raw: dict, list_kind: str, region_code: str,
          clock: audit.Clock = audit.utc_now) -> AidItem:
    """A new draft version of an item for a region: the province's catalogue list, or a city's or
    county's implementation list of a published catalogue item (edit_catalogue in that region)."""
    region = _region(region_code)
    _check_kind_and_region(list_kind, region)
    item = validate(raw)
    _check_against_catalogue(session, item, list_kind)
    versions = list(session.scalars(select(AidItem).where(AidItem.item_code == item["code"],
                                                          AidItem.region_code == region.code)))
    kinds = {v.list_kind for v in versions}
    if kinds and kinds != {list_kind}:
        raise CatalogueError("LIST_KIND_MISMATCH", f"{region.name}的救助事项{item['code']}已是"
                                                   f"{LIST_KIND_ZH[kinds.pop()]}")
    open_ = [v for v in versions if v.status in ("draft", "in_review")]
    if open_:
        v = open_[0]
        raise CatalogueError("OPEN_VERSION_EXISTS", f"{region.name}的“{v.name_zh}”已有{STATUS_ZH[v.status]}的第"
                                                    f"{v.version}版,请在该版本上修改或等待审核")
    version = max((v.version for v in versions), default=0) + 1
    _audit_step(session, user, "edit_catalogue", "draft", item["code"], version, region.code, clock,
                list_kind=list_kind)
    now = clock()
    row = AidItem(item_code=item["code"], list_kind=list_kind, region_code=region.code,
                  level=LEVELS[region.level], version=version, status="draft", edited_by=user.username,
                  created_at=now, updated_at=now)
    _apply(row, item)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise CatalogueError("VERSION_CONFLICT", "同一事项的新版本刚被他人创建,请刷新后重试") from None
    return row


def edit_draft(session: Session, user: access.Principal, item_id: int, *, raw: dict,
               clock: audit.Clock = audit.utc_now) -> AidItem:
    """Change a draft (or a rejected version, which goes back to draft); the item code stays."""
    row = _row(session, item_id)
    if row.status not in ("draft", "rejected"):
        raise CatalogueError("STATUS_INVALID", f"第{row.version}版{STATUS_ZH[row.status]},只能修改草稿或已退回的版本;"
                                               "已发布的事项请新建版本")
    item = validate(raw)
    if item["code"] != row.item_code:
        raise CatalogueError("CODE_CHANGED", f"事项代码不可修改(本版本为{row.item_code})")
    _check_against_catalogue(session, item, row.list_kind)
    _audit_step(session, user, "edit_catalogue", "edit", row.item_code, row.version, row.region_code, clock)
    row = _row(session, item_id, lock=True)
    if row.status not in ("draft", "rejected"):
        raise CatalogueError("STATUS_INVALID", f"第{row.version}版已{STATUS_ZH[row.status]},不能再修改")
    _apply(row, item)
    row.status, row.edited_by, row.updated_at = "draft", user.username, clock()
    session.commit()
    return row


def submit_for_review(session: Session, user: access.Principal, item_id: int, *,
                      clock: audit.Clock = audit.utc_now) -> AidItem:
    row = _row(session, item_id)
    if row.status != "draft":
        raise CatalogueError("STATUS_INVALID", f"第{row.version}版{STATUS_ZH[row.status]},只有草稿可以提交审核")
    _audit_step(session, user, "edit_catalogue", "submit", row.item_code, row.version, row.region_code, clock)
    row = _row(session, item_id, lock=True)
    if row.status != "draft":
        raise CatalogueError("STATUS_INVALID", f"第{row.version}版已{STATUS_ZH[row.status]}")
    row.status, row.updated_at = "in_review", clock()
    session.commit()
    return row


def editors(session: Session, row: AidItem) -> set[str]:
    """Everyone who drafted, changed or submitted this version (from the audit trail)."""
    entries = session.execute(select(AuditLog.actor, AuditLog.detail).where(
        AuditLog.action == "edit_catalogue", AuditLog.outcome == "allowed",
        AuditLog.region_code == row.region_code,
        AuditLog.detail.contains(f'"item_code":"{row.item_code}"', autoescape=True)))
    found = {row.edited_by}
    for actor, detail in entries:
        d = json.loads(detail)
        if d.get("version") == row.version and d.get("step") in EDITOR_STEPS:
            found.add(actor)
    return found


def review(session: Session, user: access.Principal, item_id: int, approve: bool, note: str = "",
           clock: audit.Clock = audit.utc_now) -> AidItem:
    """审核: approve publishes the version (清单发布) and retires the version it replaces; reject sends
    it back with the reviewer's note. The reviewer is never one of the version's editors."""
    step = "approve" if approve else "reject"
    note = (note or "").strip()
    row = _row(session, item_id)
    if row.status != "in_review":
        raise CatalogueError("STATUS_INVALID", f"第{row.version}版{STATUS_ZH[row.status]},只有待审核的版本可以审核")
    if not approve and not note:
        raise CatalogueError("NOTE_MISSING", "退回须写明审核意见")
    if user.username in editors(session, row):
        audit.record(session, actor=user.username, role=user.role, action="publish_catalogue",
                     outcome="denied", region_code=row.region_code, purpose=PURPOSES[step],
                     detail={"code": "FOUR_EYES", "step": step, "item_code": row.item_code,
                             "version": row.version}, clock=clock)
        raise CatalogueError("FOUR_EYES", "您编辑或提交过该版本,不能审核(四眼原则),请由其他审批人审核")
    _audit_step(session, user, "publish_catalogue", step, row.item_code, row.version, row.region_code, clock)
    row = _row(session, item_id, lock=True)
    if row.status != "in_review":
        raise CatalogueError("STATUS_INVALID", f"第{row.version}版已{STATUS_ZH[row.status]}")
    now = clock()
    row.reviewed_by, row.review_note, row.updated_at = user.username, note or None, now
    if approve:
        previous = session.scalars(select(AidItem).where(AidItem.item_code == row.item_code,
                                                         AidItem.region_code == row.region_code,
                                                         AidItem.status == "published", AidItem.id != row.id))
        for old in previous:
            old.status, old.updated_at = "retired", now
        row.status, row.published_at = "published", now
    else:
        row.status = "rejected"
    session.commit()
    return row


def retire(session: Session, user: access.Principal, item_id: int, note: str,
           clock: audit.Clock = audit.utc_now) -> AidItem:
    """停用 a published version: where it was an implementation list, the list above applies again."""
    note = (note or "").strip()
    row = _row(session, item_id)
    if row.status != "published":
        raise CatalogueError("STATUS_INVALID", f"第{row.version}版{STATUS_ZH[row.status]},只有已发布的版本可以停用")
    if not note:
        raise CatalogueError("NOTE_MISSING", "停用须写明理由")
    _audit_step(session, user, "publish_catalogue", "retire", row.item_code, row.version, row.region_code,
                clock)
    row = _row(session, item_id, lock=True)
    if row.status != "published":
        raise CatalogueError("STATUS_INVALID", f"第{row.version}版已{STATUS_ZH[row.status]}")
    row.status, row.updated_at = "retired", clock()
    row.review_note = "".join(filter(None, [row.review_note, ";" if row.review_note else "", f"停用理由:{note}"]))
    session.commit()
    return row


# --- reading the catalogue --------------------------------------------------------------------------------

def get(session: Session, item_id: int) -> AidItem:
    return _row(session, item_id)


def history(session: Session, item_code: str, region_code: str) -> list[AidItem]:
    """Every version of one region's list entry, newest first."""
    code = _region(region_code).code
    return list(session.scalars(select(AidItem)
                                .where(AidItem.item_code == item_code, AidItem.region_code == code)
                                .order_by(AidItem.version.desc())))


def _relevant(row_region: str, region_code: str, chain: list[str]) -> bool:
    """A list concerns a region when it is the region's, one above it (applies there) or one below."""
    return row_region in chain or regions.contains(region_code, row_region)


def _matches(row: AidItem, phrases: set[str]) -> bool:
    d = json.loads(row.definition_json)
    haystack = " ".join([row.item_code, row.name_zh, CATEGORIES.get(row.category, ""),
                         d.get("legal_basis", "")]).lower()
    return any(p.lower() in haystack for p in phrases)


def query(session: Session, *, region_code: str | None = None, category: str | None = None,
          text: str | None = None, status: str | None = None) -> list[AidItem]:
    """Versions by region (the region's lists, those above it and those below it), category, status
    and text (in the code, name, category or legal basis; with the knowledge base's synonyms, so
    低保 finds 最低生活保障)."""
    stmt = select(AidItem)
    if category:
        if category not in CATEGORIES:
            raise CatalogueError("CATEGORY_UNKNOWN", f"未知的救助类别:{category}")
        stmt = stmt.where(AidItem.category == category)
    if status:
        if status not in STATUS_ZH:
            raise CatalogueError("STATUS_UNKNOWN", f"未知的状态:{status}")
        stmt = stmt.where(AidItem.status == status)
    rows = list(session.scalars(stmt.order_by(AidItem.item_code, AidItem.region_code,
                                              AidItem.version.desc())))
    if region_code:
        code = _region(region_code).code
        chain = _enclosing(code)
        rows = [r for r in rows if _relevant(r.region_code, code, chain)]
    if text and text.strip():
        phrases = knowledge.expand_phrases(text.strip())
        rows = [r for r in rows if _matches(r, phrases)]
    return rows


@dataclass(frozen=True)
class Coverage:
    """One catalogue item: the counties of the region that have published their own implementation list."""

    item_code: str
    name_zh: str
    counties: int
    published_counties: tuple[str, ...]
    published_cities: tuple[str, ...]

    @property
    def share(self) -> float:
        return len(self.published_counties) / self.counties if self.counties else 0.0


@dataclass(frozen=True)
class CatalogueStatistics:
    region_code: str
    by_category: dict[str, int]
    by_status: dict[str, int]
    by_list_kind: dict[str, int]
    coverage: tuple[Coverage, ...]


def _counties_of(region: regions.Region) -> list[str]:
    tree = regions.load()
    if region.level == 3:
        return [region.code]
    if region.level > 3:
        return [tree.get(region.county_code.ljust(12, "0")).code] if region.county_code else []
    return [c.code for c in tree.counties() if regions.contains(region.code, c.code)]


def statistics(session: Session, region_code: str) -> CatalogueStatistics:
    """Versions by category, status and list kind among the lists that concern the region, and per
    published catalogue item which of the region's counties have published their own list."""
    region = _region(region_code)
    rows = query(session, region_code=region.code)
    by_category = Counter(r.category for r in rows)
    by_status = Counter(r.status for r in rows)
    by_kind = Counter(r.list_kind for r in rows)
    counties = _counties_of(region)
    county_set = set(counties)
    published = session.execute(select(AidItem.item_code, AidItem.region_code, AidItem.level).where(
        AidItem.status == "published", AidItem.list_kind == "implementation")).all()
    coverage = []
    catalogue_items = session.execute(select(AidItem.item_code, AidItem.name_zh).where(
        AidItem.status == "published", AidItem.list_kind == "catalogue").order_by(AidItem.item_code)).all()
    for code, name in catalogue_items:
        own = sorted({r for c, r, _ in published if c == code and r in county_set})
        cities = sorted({r for c, r, lv in published if c == code and lv == "city"
                         and any(regions.contains(r, k) for k in counties)})
        coverage.append(Coverage(code, name, len(counties), tuple(own), tuple(cities)))
    return CatalogueStatistics(region.code, dict(by_category), dict(by_status), dict(by_kind),
                               tuple(coverage))


def _local_date(moment) -> str:
    return moment.astimezone(BEIJING).date().isoformat() if moment else ""


def portal_items(session: Session, region_code: str) -> list[dict]:
    """What the public portal shows for a region: the effective published items, plain fields only
    (no editor, reviewer or internal identifiers)."""
    tree = regions.load()
    code = _region(region_code).code
    chain = _enclosing(code)
    codes = sorted(set(session.scalars(select(AidItem.item_code).where(AidItem.status == "published",
                                                                       AidItem.region_code.in_(chain)))))
    out = []
    for item_code in codes:
        row = _effective_row(session, item_code, code)
        d = definition_of(row)
        out.append({
            "code": d.item_code, "name": d.name_zh, "category": CATEGORIES[d.category],
            "list": LIST_KIND_ZH[d.list_kind], "issued_by": tree.full_name(d.region_code),
            "version": d.version, "published_on": _local_date(row.published_at),
            "legal_basis": d.legal_basis, "scope": d.scope, "conditions": list(d.conditions),
            "materials": [{"name": m.name, "required": m.required, "note": m.note} for m in d.materials],
            "standards": d.standards, "time_limit_working_days": d.time_limit_working_days,
            "where_to_go": d.where_to_go,
        })
    return out
