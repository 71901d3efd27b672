"""人员查询 services: the fuzzy search of persons inside the user's jurisdiction and one person's
household, each authorised and audited with its purpose before a row leaves; names and IDs are
masked unless the role sees them in the clear for that region.

The audit entry of a search records what kind of query it was and how many people it returned, not
the name or number typed (the trail is read by supervisors; it must not become a list of names).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import polars as pl

from dashboards.staff import labels, services
from dashboards.staff.runtime import business_session, now
from jiuzhu import access, masking, sqlguard
from jiuzhu.errors import CodedError
from schemas import contracts
from verification import associations, directory

LIMIT = 50
COLUMNS = ["序号", "姓名", "公民身份号码", "性别", "出生年月", "户号", "与户主关系", "户籍地", "状态", "匹配方式"]


class SearchError(CodedError):
    """A search that cannot run: no purpose, or a query that cannot be searched."""


def _relations() -> dict[str, str]:
    field = next(f for f in contracts.latest("gongan").fields if f.name == "relation")
    return field.codes or {}


def _directory() -> pl.DataFrame:
    return services.read_gold("person_directory")


def _rows(user: access.Principal, frame: pl.DataFrame, with_match: bool) -> pd.DataFrame:
    relations = _relations()
    out = []
    for i, r in enumerate(frame.to_dicts(), start=1):
        clear = masking.sees_clear(user.role, user.jurisdiction_code, r["region_code"])
        out.append({
            "序号": i, "姓名": r["person_name"] if clear else masking.mask_name(r["person_name"]),
            "公民身份号码": r["person_id"] if clear else masking.mask_id(r["person_id"]),
            "性别": labels.sex(r["sex"]), "出生年月": r["birth_date"].strftime("%Y-%m") if r["birth_date"] else "",
            "户号": r["household_no"], "与户主关系": relations.get(r["relation"], r["relation"]),
            "户籍地": services.full_region_name(r["region_code"]), "状态": "在世" if r["alive"] else "已故",
            "匹配方式": r.get("match", "") if with_match else ""})
    columns = COLUMNS if with_match else COLUMNS[:-1]
    return pd.DataFrame(out, columns=COLUMNS)[columns]


@dataclass(frozen=True)
class SearchResult:
    kind: str
    rows: pd.DataFrame  # what the screen shows (masked by role)
    truncated: bool
    hits: pl.DataFrame  # the directory rows behind them, in the same order (kept for opening one)


def search(user: access.Principal, query: str, purpose: str) -> SearchResult:
    if not purpose.strip():
        raise SearchError("PURPOSE_MISSING", "查询个人信息须说明事由")
    try:
        kind = directory.classify(query)
    except directory.QueryError as exc:
        raise SearchError("QUERY_INVALID", str(exc)) from None
    prefix = sqlguard.jurisdiction_prefix(user.jurisdiction_code)
    with business_session() as db:
        access.authorize_and_audit(db, user, "search_person", user.jurisdiction_code, purpose=purpose.strip(),
                                   clock=now, detail={"query_kind": kind, "query_length": len(query.strip())})
    found = directory.search(_directory(), query, prefix, limit=LIMIT)
    return SearchResult(kind, _rows(user, found.rows, with_match=True), found.truncated, found.rows)


LINK_COLUMNS = ["关联方式", "资产标识", "关联家庭户号", "关联家庭所在地"]


def _links(user: access.Principal, household_no: str) -> pd.DataFrame:
    """The households this one shares a home, vehicle or business with; a household outside the
    jurisdiction is shown by its county only, and the asset masked unless the role sees it clear."""
    found = associations.links(services.lake_root(), household_no)
    rows = []
    for r in found.to_dicts():
        inside = masking.sees_clear(user.role, user.jurisdiction_code, r["other_region_code"])
        rows.append({"关联方式": r["kind"], "资产标识": r["asset_id"] if inside else masking.SENSITIVE_MASK,
                     "关联家庭户号": r["other_household_no"] if inside else "(管辖区域外)",
                     "关联家庭所在地": services.full_region_name(r["other_region_code"] if inside
                                                          else r["other_region_code"][:6] + "000000")})
    return pd.DataFrame(rows, columns=LINK_COLUMNS).drop_duplicates()


def household(user: access.Principal, result: SearchResult, index: int, purpose: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The household of the ``index``-th person of a search (1-based) and its links to other
    households (关联关系), audited as ``view_person``."""
    if not 1 <= index <= result.hits.height:
        raise SearchError("PERSON_NOT_CHOSEN", "请先查询并选择一名人员")
    person = result.hits.row(index - 1, named=True)
    with business_session() as db:
        access.authorize_and_audit(db, user, "view_person", person["region_code"],
                                   subject_key=masking.pseudonym(person["person_id"]), purpose=purpose.strip(),
                                   level=3, clock=now, detail={"view": "household"})
    return (_rows(user, directory.household(_directory(), person["household_no"]), with_match=False),
            _links(user, person["household_no"]))
