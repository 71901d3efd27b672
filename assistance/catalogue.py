"""救助事项库 (BZ-1): the catalogue list (目录清单, province) and the implementation lists (实施清单,
per region) of the aid items, each version through edit → review → publish (清单发布).

The definition of an item is data (``aid_items.yaml`` seeds the catalogue): legal basis, scope,
conditions, materials, flow, standards, time limits, where to go, the items it excludes. A case is
always started on the *effective* definition for the applicant's region: the published
implementation list of the nearest enclosing region, else the province's catalogue entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistance import flows
from jiuzhu import audit, regions
from jiuzhu.business.models import AidItem
from jiuzhu.errors import CodedError

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


def effective(session: Session, item_code: str, region_code: str) -> ItemDefinition:
    """The published version of ``item_code`` that applies in ``region_code``: the nearest enclosing
    region's implementation list, else the province's catalogue entry (newest version)."""
    chain = _enclosing(region_code)
    rows = list(session.scalars(select(AidItem).where(AidItem.item_code == item_code,
                                                      AidItem.status == "published",
                                                      AidItem.region_code.in_(chain))))
    if not rows:
        raise CatalogueError("ITEM_NOT_PUBLISHED", f"救助事项{item_code}在该地区没有已发布的清单")
    best = min(rows, key=lambda r: (chain.index(r.region_code), -r.version))
    return definition_of(best)


def published_items(session: Session, region_code: str) -> list[ItemDefinition]:
    """Every item effective in a region, in the catalogue's order of codes."""
    chain = _enclosing(region_code)
    codes = sorted(set(session.scalars(select(AidItem.item_code).where(AidItem.status == "published",
                                                                       AidItem.region_code.in_(chain)))))
    return [effective(session, code, region_code) for code in codes]
