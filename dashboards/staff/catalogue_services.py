"""救助事项库 and 知识库 services: the catalogue's lists and versions, the edit → review → publish
steps, the statistics, the definitions that apply in a region; the knowledge base's ranked search,
documents with their images and attachments, and the editors' steps.

Reading needs ``view_aggregate`` in the region (the catalogue and the policy documents hold no
personal data); every step is authorised and audited in ``assistance.catalogue`` and
``assistance.knowledge`` (edit_catalogue, publish_catalogue), which also refuse with the reason in
Chinese. Pages get plain values (frames, dicts, bytes), never database rows.
"""

from __future__ import annotations

import json
import re

import pandas as pd
from sqlalchemy import select

from assistance import catalogue, flows, knowledge
from dashboards.staff import services
from dashboards.staff.runtime import business_session, china_time, now
from jiuzhu import access, regions
from jiuzhu.business.models import AidItem, PolicyDocument

ITEM_COLUMNS = ["编号", "事项代码", "事项名称", "类别", "清单", "编制区划", "版本", "状态", "发布时间", "编辑人",
                "审核人"]
HISTORY_COLUMNS = ["版本", "状态", "编辑人", "审核人", "审核意见", "发布时间", "更新时间"]
EFFECTIVE_COLUMNS = ["事项代码", "事项名称", "类别", "适用清单", "编制区划", "版本", "办理时限(工作日)", "救助标准"]
DOCUMENT_COLUMNS = ["编号", "文号", "标题", "发文机关", "发文日期", "状态"]
REQUIRED_ZH = {"必需": True, "必须": True, "是": True, "可选": False, "否": False}
FORM_FIELDS = ("code", "name_zh", "category", "flow", "legal_basis", "scope", "conditions", "materials",
               "standards", "time_limit_working_days", "where_to_go", "exclusive_with")


def _authorize(user: access.Principal, action: str, region_code: str) -> None:
    decision = access.authorize(user, action, region_code)
    if not decision.allowed:
        raise access.AccessDenied(decision)


def may(user: access.Principal, action: str, region_code: str | None = None) -> bool:
    return access.authorize(user, action, region_code or user.jurisdiction_code).allowed


def region_choices(user: access.Principal) -> list[str]:
    """The jurisdiction and the prefectures and counties inside it."""
    return services.report_regions(user) or [regions.normalise_code(user.jurisdiction_code)]


def region_name(code: str) -> str:
    return services.full_region_name(code)


def flow_names() -> dict[str, str]:
    return {code: f.name_zh for code, f in flows.load().items()}


# --- the catalogue ----------------------------------------------------------------------------------------

def _published_at(row: AidItem) -> str:
    return china_time(row.published_at, seconds=False)


def items_frame(user: access.Principal, region_code: str, *, category: str | None = None,
                status: str | None = None, text: str | None = None) -> pd.DataFrame:
    _authorize(user, "view_aggregate", region_code)
    with business_session() as db:
        rows = catalogue.query(db, region_code=region_code, category=category or None, status=status or None,
                               text=text or None)
        out = [{"编号": r.id, "事项代码": r.item_code, "事项名称": r.name_zh,
                "类别": catalogue.CATEGORIES[r.category], "清单": catalogue.LIST_KIND_ZH[r.list_kind],
                "编制区划": region_name(r.region_code), "版本": r.version, "状态": catalogue.STATUS_ZH[r.status],
                "发布时间": _published_at(r), "编辑人": r.edited_by, "审核人": r.reviewed_by or ""} for r in rows]
    return pd.DataFrame(out, columns=ITEM_COLUMNS)


def item_detail(user: access.Principal, item_id: int) -> dict:
    """One version with its definition, its history and what the user may do with it."""
    _authorize(user, "view_aggregate", user.jurisdiction_code)
    with business_session() as db:
        row = catalogue.get(db, item_id)
        if not (regions.contains(user.jurisdiction_code, row.region_code)
                or regions.contains(row.region_code, user.jurisdiction_code)):
            raise access.AccessDenied(access.Decision(False, f"{region_name(row.region_code)}的清单不在您的管辖范围内",
                                                      "OUT_OF_JURISDICTION"))
        d = catalogue.definition_of(row)
        history = [{"版本": h.version, "状态": catalogue.STATUS_ZH[h.status], "编辑人": h.edited_by,
                    "审核人": h.reviewed_by or "", "审核意见": h.review_note or "", "发布时间": _published_at(h),
                    "更新时间": china_time(h.updated_at, seconds=False)}
                   for h in catalogue.history(db, row.item_code, row.region_code)]
        editors = catalogue.editors(db, row) if row.status == "in_review" else set()
        raw = json.loads(row.definition_json)
        info = {"id": row.id, "item_code": row.item_code, "name_zh": row.name_zh, "status": row.status,
                "status_zh": catalogue.STATUS_ZH[row.status], "list_kind": row.list_kind,
                "list_zh": catalogue.LIST_KIND_ZH[row.list_kind], "region_code": row.region_code,
                "region_name": region_name(row.region_code), "version": row.version,
                "category_zh": catalogue.CATEGORIES[row.category],
                "flow_zh": flow_names().get(row.flow_code, row.flow_code),
                "definition": d, "raw": raw, "review_note": row.review_note or "", "edited_by": row.edited_by,
                "reviewed_by": row.reviewed_by or "", "published_at": _published_at(row),
                "history": pd.DataFrame(history, columns=HISTORY_COLUMNS)}
    edit = may(user, "edit_catalogue", info["region_code"])
    publish = may(user, "publish_catalogue", info["region_code"])
    status = info["status"]
    info.update(
        can_edit=edit and status in ("draft", "rejected"),
        can_submit=edit and status == "draft",
        can_review=publish and status == "in_review" and user.username not in editors,
        four_eyes=publish and status == "in_review" and user.username in editors,
        can_retire=publish and status == "published",
    )
    return info


def effective_frame(user: access.Principal, region_code: str) -> pd.DataFrame:
    """The definitions that apply in a region (the nearest published list of each item)."""
    try:
        code = regions.normalise_code(region_code)
    except regions.UnknownRegion as exc:
        raise catalogue.CatalogueError("REGION_UNKNOWN", exc.message) from None
    if code not in regions.load():
        raise catalogue.CatalogueError("REGION_UNKNOWN", f"未知的行政区划代码:{region_code}")
    _authorize(user, "view_aggregate", code)
    with business_session() as db:
        items = catalogue.published_items(db, code)
    rows = [{"事项代码": d.item_code, "事项名称": d.name_zh, "类别": catalogue.CATEGORIES[d.category],
             "适用清单": catalogue.LIST_KIND_ZH[d.list_kind], "编制区划": region_name(d.region_code), "版本": d.version,
             "办理时限(工作日)": d.time_limit_working_days, "救助标准": d.standards} for d in items]
    return pd.DataFrame(rows, columns=EFFECTIVE_COLUMNS)


def statistics(user: access.Principal, region_code: str) -> dict:
    _authorize(user, "view_aggregate", region_code)
    with business_session() as db:
        stats = catalogue.statistics(db, region_code)

    def counts(values: dict, names: dict, label: str) -> pd.DataFrame:
        return pd.DataFrame([{label: names.get(k, k), "版本数": n} for k, n in sorted(values.items())],
                            columns=[label, "版本数"])

    coverage = pd.DataFrame([{
        "事项代码": c.item_code, "事项名称": c.name_zh, "县(市、区)数": c.counties,
        "已发布实施清单的县": len(c.published_counties), "覆盖率": f"{c.share:.0%}",
        "已发布的县(市、区)": "、".join(regions.load().get(k).name for k in c.published_counties),
        "市(州)实施清单": "、".join(regions.load().get(k).name for k in c.published_cities),
    } for c in stats.coverage])
    return {"by_category": counts(stats.by_category, catalogue.CATEGORIES, "类别"),
            "by_status": counts(stats.by_status, catalogue.STATUS_ZH, "状态"),
            "by_list_kind": counts(stats.by_list_kind, catalogue.LIST_KIND_ZH, "清单"),
            "coverage": coverage, "total": sum(stats.by_status.values()),
            "published": stats.by_status.get("published", 0),
            "in_review": stats.by_status.get("in_review", 0)}


def draft_target(user: access.Principal) -> tuple[str, str] | None:
    """(list kind, region) the user drafts for: the province's catalogue, or the implementation list
    of the user's city or county; None for a township account or without edit_catalogue."""
    code = regions.normalise_code(user.jurisdiction_code)
    level = regions.level_of_code(code)
    if level > 3 or not may(user, "edit_catalogue", code):
        return None
    return ("catalogue" if code == regions.PROVINCE_CODE else "implementation"), code


def base_items(user: access.Principal) -> dict[str, str]:
    """Published catalogue items (code → name) a draft can start from."""
    with business_session() as db:
        rows = db.execute(select(AidItem.item_code, AidItem.name_zh)
                          .where(AidItem.list_kind == "catalogue", AidItem.status == "published")
                          .order_by(AidItem.item_code)).all()
    return {code: name for code, name in rows}


def starting_definition(user: access.Principal, item_code: str) -> dict:
    """What a new draft of ``item_code`` for the user's region starts from: the definition in force there."""
    with business_session() as db:
        d = catalogue.effective(db, item_code, user.jurisdiction_code)
        row = db.scalar(select(AidItem).where(AidItem.item_code == d.item_code,
                                              AidItem.region_code == d.region_code,
                                              AidItem.version == d.version))
        return json.loads(row.definition_json)


def form_values(raw: dict | None) -> dict:
    """A stored definition as the form's field values (lists as one line each)."""
    raw = raw or {}
    materials = []
    for m in raw.get("materials") or []:
        line = f"{m['name']}|{'必需' if m.get('required', True) else '可选'}"
        materials.append(line + (f"|{m['note']}" if m.get("note") else ""))
    return {"code": raw.get("code", ""), "name_zh": raw.get("name_zh", ""),
            "category": raw.get("category", "dibao"), "flow": raw.get("flow", "standard"),
            "legal_basis": raw.get("legal_basis", ""),
            "scope": raw.get("scope", ""), "conditions": "\n".join(raw.get("conditions") or []),
            "materials": "\n".join(materials), "standards": raw.get("standards", ""),
            "time_limit_working_days": int(raw.get("time_limit_working_days") or 25),
            "where_to_go": raw.get("where_to_go", ""),
            "exclusive_with": list(raw.get("exclusive_with") or [])}


def parse_form(values: dict) -> dict:
    """The form's values as a definition for ``catalogue.validate`` (materials: 名称|必需或可选|说明)."""
    materials = []
    for n, line in enumerate(str(values.get("materials") or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in re.split(r"[|｜]", line)]
        flag = parts[1] if len(parts) > 1 and parts[1] else "必需"
        if flag not in REQUIRED_ZH:
            raise catalogue.CatalogueError("MATERIAL_INVALID", f"申请材料第{n}行:第二栏须为“必需”或“可选”,而不是“{flag}”")
        materials.append({"name": parts[0], "required": REQUIRED_ZH[flag], "note": "|".join(parts[2:])})
    conditions = [c.strip() for c in str(values.get("conditions") or "").splitlines() if c.strip()]
    return {"code": str(values.get("code") or "").strip(), "name_zh": values.get("name_zh") or "",
            "category": values.get("category"), "flow": values.get("flow"),
            "legal_basis": values.get("legal_basis") or "", "scope": values.get("scope") or "",
            "conditions": conditions, "materials": materials, "standards": values.get("standards") or "",
            "time_limit_working_days": int(values.get("time_limit_working_days") or 0),
            "where_to_go": values.get("where_to_go") or "",
            "exclusive_with": list(values.get("exclusive_with") or [])}


def save_draft(user: access.Principal, values: dict) -> int:
    target = draft_target(user)
    if target is None:
        raise catalogue.CatalogueError("NO_DRAFT_REGION", "乡镇(街道)账户不编制清单,请由县级以上经办人编制")
    raw = parse_form(values)
    with business_session() as db:
        return catalogue.draft(db, user, raw=raw, list_kind=target[0], region_code=target[1], clock=now).id


def save_edit(user: access.Principal, item_id: int, values: dict) -> None:
    raw = parse_form(values)
    with business_session() as db:
        catalogue.edit_draft(db, user, item_id, raw=raw, clock=now)


def submit(user: access.Principal, item_id: int) -> None:
    with business_session() as db:
        catalogue.submit_for_review(db, user, item_id, clock=now)


def review(user: access.Principal, item_id: int, approve: bool, note: str) -> None:
    with business_session() as db:
        catalogue.review(db, user, item_id, approve, note, clock=now)


def retire(user: access.Principal, item_id: int, note: str) -> None:
    with business_session() as db:
        catalogue.retire(db, user, item_id, note, clock=now)


# --- the knowledge base ---------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~$:<])")


def md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def highlighted(text: str, terms: tuple[str, ...] | list[str]) -> str:
    """Markdown of ``text`` with the found terms in bold (everything else escaped)."""
    return "".join(f"**{md_escape(piece)}**" if hit else md_escape(piece)
                   for piece, hit in knowledge.highlight_spans(text, terms))


def search(user: access.Principal, query: str, include_drafts: bool = False) -> list[dict]:
    _authorize(user, "view_aggregate", user.jurisdiction_code)
    drafts = include_drafts and may(user, "edit_catalogue")
    with business_session() as db:
        hits = knowledge.search(db, query, include_drafts=drafts)
    return [{"id": h.document_id, "doc_no": h.doc_no, "title": h.title, "issuer": h.issuer,
             "issued_on": h.issued_on, "status_zh": knowledge.STATUS_ZH[h.status], "score": h.score,
             "terms": h.terms, "title_md": highlighted(h.title, h.terms),
             "snippet_md": highlighted(h.snippet, h.terms)}
            for h in hits]


def documents_frame(user: access.Principal, include_drafts: bool = False) -> pd.DataFrame:
    _authorize(user, "view_aggregate", user.jurisdiction_code)
    drafts = include_drafts and may(user, "edit_catalogue")
    statuses = ["published", "draft", "withdrawn"] if drafts else ["published"]
    with business_session() as db:
        docs = db.scalars(select(PolicyDocument).where(PolicyDocument.status.in_(statuses))
                          .order_by(PolicyDocument.issued_on.desc(), PolicyDocument.id)).all()
        rows = [{"编号": d.id, "文号": d.doc_no, "标题": d.title, "发文机关": d.issuer, "发文日期": d.issued_on,
                 "状态": knowledge.STATUS_ZH[d.status]} for d in docs]
    return pd.DataFrame(rows, columns=DOCUMENT_COLUMNS)


def document(user: access.Principal, document_id: int) -> dict:
    """A document with its images and attachments (content included) and what the user may do."""
    _authorize(user, "view_aggregate", user.jurisdiction_code)
    with business_session() as db:
        doc = knowledge.get_document(db, document_id)
        editor = may(user, "edit_catalogue")
        if doc.status != "published" and not editor:
            raise knowledge.KnowledgeError("DOCUMENT_NOT_PUBLISHED", "该政策文件尚未发布或已撤回")
        files = [{"id": a.id, "kind": a.kind, "filename": a.filename, "media_type": a.media_type,
                  "size": a.size, "sm3": a.sm3, "content": bytes(a.content)}
                 for a in knowledge.attachments(db, doc.id)]
        info = {"id": doc.id, "doc_no": doc.doc_no, "title": doc.title, "issuer": doc.issuer,
                "issued_on": doc.issued_on, "body": doc.body, "status": doc.status,
                "status_zh": knowledge.STATUS_ZH[doc.status], "aid_item_code": doc.aid_item_code or "",
                "updated_at": china_time(doc.updated_at, seconds=False), "files": files}
        owner = knowledge.owner_region(db, doc)
    info["can_edit"] = may(user, "edit_catalogue", owner)
    info["can_publish"] = may(user, "publish_catalogue", owner) and info["status"] in ("draft", "withdrawn")
    info["can_withdraw"] = may(user, "publish_catalogue", owner) and info["status"] == "published"
    return info


def add_document(user: access.Principal, fields: dict) -> int:
    with business_session() as db:
        return knowledge.add_document(db, user, clock=now, **fields).id


def edit_document(user: access.Principal, document_id: int, fields: dict) -> None:
    with business_session() as db:
        knowledge.edit_document(db, user, document_id, clock=now, **fields)


def publish_document(user: access.Principal, document_id: int) -> None:
    with business_session() as db:
        knowledge.publish_document(db, user, document_id, clock=now)


def withdraw_document(user: access.Principal, document_id: int) -> None:
    with business_session() as db:
        knowledge.withdraw_document(db, user, document_id, clock=now)


def attach(user: access.Principal, document_id: int, filename: str, media_type: str, content: bytes) -> str:
    with business_session() as db:
        return knowledge.attach(db, user, document_id, filename, media_type, content, clock=now).filename

