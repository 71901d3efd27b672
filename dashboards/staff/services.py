"""Data access of the staff app: gold and quarantine Delta tables and the business database.

Rules every function here keeps (the pages stay thin and never read a table themselves):
- reads only Delta tables under ``jiuzhu.settings.load().lake`` and the business database, never
  the DuckDB warehouse file;
- decides with ``jiuzhu.access`` before returning anything, and returns only the rows inside the
  user's jurisdiction (a region-code prefix at the jurisdiction's level, as ``regions.contains``);
- reads of personal data go through ``access.authorize_and_audit`` with the user's purpose, and
  what the role may not see in the clear is masked (``jiuzhu.masking``);
- a gold table that does not exist yet is ``None`` (the page says so in Chinese), not an error.
Reads are cached per table path and Delta version, so a new table version is picked up at once.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import streamlit as st
from deltalake import DeltaTable
from sqlalchemy import func, select

from dashboards.staff import exports, labels
from dashboards.staff.runtime import CHINA_TIME, business_session, china_time, now, today_in_china
from exchange import batches, ingest
from exchange import status as exchange_status
from jiuzhu import access, audit, departments, lake, masking, regions, security_settings, settings
from jiuzhu import status as lake_status
from jiuzhu.business.models import AuditLog, User

# gold table -> (area, Chinese name shown when it is missing)
GOLD = {
    "monthly_statistics": ("statistics", "统计月报"),
    "verification_statistics": ("statistics", "核对业务统计"),
    "benefit_statistics": ("statistics", "救助待遇发放统计"),
    "detection_list": ("verification", "检出名单"),
    "exchange_quality": ("exchange", "交换质量"),
    "low_income_cube": ("analysis", "低收入人口分布"),
    "person_directory": ("verification", "人员目录"),
}
# Quarantine columns staff may see. ``_raw_row`` (and ``_raw_text``) hold the delivered row with
# its personal data and are never read; ``_row_hash`` is of no use on a screen.
QUARANTINE_COLUMNS = ("_batch_id", "_period", "_file", "_row_number", "_reason_code", "_reason_field",
                      "_reason_message")
# Detection-list fields that are personal (contracts: monthly_amount is PII "sensitive", level 3).
DETECTION_PII = {"household_amount_yuan": "sensitive", "income_per_capita_yuan": "sensitive"}
DETECTION_LEVEL = 3
AUDIT_ROW_LIMIT = 1000


class Unavailable(LookupError):
    """Nothing to show, for a reason the page tells the user in Chinese (``message_zh``)."""

    message_zh = ""


class NoData(Unavailable):
    def __init__(self, message_zh: str):
        self.message_zh = message_zh
        super().__init__(message_zh)




def below_county(region_code: str) -> bool:
    """The gold tables are by county: a township jurisdiction contains none of their rows."""
    return regions.level_of_code(region_code) > 3


def _require_county_grain(region_code: str) -> None:
    if below_county(region_code):
        raise NoData("统计数据按县(市、区)汇总,您的管辖区域在县级以下,没有可显示的汇总数据。")


class TableMissing(Unavailable):
    """A gold table has not been published yet."""

    def __init__(self, name: str):
        area, title = GOLD[name]
        self.name, self.title = name, title
        self.message_zh = (f"{title}(gold/{area}/{name})尚未生成:请先运行数据作业"
                           f"(`make demo`,或在 Dagster 中运行 marts 作业)后再查看。")
        super().__init__(self.message_zh)


# --- lake reads ----------------------------------------------------------------------------------


def lake_root() -> Path:
    return settings.load().lake


def gold_path(name: str) -> Path:
    area, _ = GOLD[name]
    return lake.table_path(lake_root(), "gold", area, name)


def table_version(path: Path) -> int | None:
    return DeltaTable(str(path)).version() if lake.exists(path) else None


def _normalise(table: pa.Table) -> pl.DataFrame:
    """Decimals from DuckDB (``decimal(38,0)`` counts) become Int64, other decimals Float64."""
    frame = pl.from_arrow(table)
    casts = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Decimal):
            casts.append(pl.col(name).cast(pl.Int64 if (dtype.scale or 0) == 0 else pl.Float64))
    return frame.with_columns(casts) if casts else frame


# cache_resource: every page shares the one frame read per table version (Polars frames are never
# changed in place); cache_data would pickle a copy on every hit — a quarter of a second for the cube
# at medium scale
@st.cache_resource(show_spinner="正在读取数据……", max_entries=64)
def _read(path: str, version: int, columns: tuple[str, ...] | None) -> pl.DataFrame:
    table = DeltaTable(path, version=version).to_pyarrow_table(columns=list(columns) if columns else None)
    return _normalise(table)


def read_delta(path: Path, columns: Iterable[str] | None = None) -> pl.DataFrame | None:
    version = table_version(path)
    if version is None:
        return None
    return _read(str(path), version, tuple(columns) if columns else None)


def read_gold(name: str) -> pl.DataFrame:
    frame = read_delta(gold_path(name))
    if frame is None:
        raise TableMissing(name)
    return frame


# --- jurisdiction ----------------------------------------------------------------------------------


def prefix_digits(region_code: str) -> tuple[str, int]:
    code = regions.normalise_code(region_code)
    return code, regions.LEVEL_DIGITS[regions.level_of_code(code)]


def within(frame: pl.DataFrame, column: str, region_code: str) -> pl.DataFrame:
    """Rows whose region lies inside ``region_code``: ``regions.contains`` vectorised.

    Codes of any natural length are padded to 12 digits and compared at the outer region's
    level, so a county-level row is never inside a township.
    """
    code, digits = prefix_digits(region_code)
    padded = pl.col(column).cast(pl.String).str.pad_end(12, "0").str.slice(0, digits)
    return frame.filter(padded == code[:digits])


def region_name(code: str | None) -> str:
    if not code:
        return "未知"
    try:
        return regions.load().get(code).name
    except regions.UnknownRegion:
        return f"未知区划({code})"


def full_region_name(code: str) -> str:
    try:
        return regions.load().full_name(code)
    except regions.UnknownRegion:
        return f"未知区划({code})"


def _authorize(user: access.Principal, action: str, region_code: str, level: int = 1) -> None:
    decision = access.authorize(user, action, region_code, level)
    if not decision.allowed:
        raise access.AccessDenied(decision)


def may(user: access.Principal, action: str, region_code: str | None = None, level: int = 1) -> bool:
    return access.authorize(user, action, region_code or user.jurisdiction_code, level).allowed


def shift_period(period: str, months: int) -> str:
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _change(current, previous):
    return None if previous is None else current - previous


# --- 总览: monthly statistics ------------------------------------------------------------------------


@dataclass(frozen=True)
class StatisticsOverview:
    period: str
    previous_period: str
    totals: dict  # recipients, households, amount_yuan and their month-on-month changes
    by_category: pd.DataFrame
    by_region: pd.DataFrame | None  # next level down (prefectures or counties)
    trend: pd.DataFrame  # period × category


def _sum_by(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return frame.group_by(keys).agg(pl.col("recipients").sum(), pl.col("households").sum(),
                                    pl.col("amount_yuan").sum())


def statistics_overview(user: access.Principal, period: str | None = None,
                        region_code: str | None = None) -> StatisticsOverview:
    """A month (default the latest) in the user's jurisdiction or a region inside it (统计月报), with
    month-on-month and year-on-year change.

    Changes are computed on the jurisdiction's totals of the previous month (and of the same month
    a year earlier), so a county or category that dropped out still counts in the change.
    Raises ``NoData`` below the county (the statistics are by county) or when the table is empty.
    """
    region_code = region_code or user.jurisdiction_code
    _authorize(user, "view_aggregate", region_code)
    _require_county_grain(region_code)
    data = read_gold("monthly_statistics")
    if data.is_empty():
        raise NoData("统计月报中还没有数据。")
    latest = period or data.get_column("period").max()
    if latest not in set(data.get_column("period").unique().to_list()):
        raise NoData(f"统计月报中没有{latest}的数据。")
    mine = within(data, "county_code", region_code)
    known = set(data.get_column("period").unique().to_list())
    prev, last_year = shift_period(latest, -1), shift_period(latest, -12)

    def totals_at(period: str) -> dict | None:
        if period not in known:
            return None
        rows = mine.filter(pl.col("period") == period)
        return {"recipients": int(rows.get_column("recipients").sum() or 0),
                "households": int(rows.get_column("households").sum() or 0),
                "amount_yuan": float(rows.get_column("amount_yuan").sum() or 0.0)}

    cur, before, year_before = totals_at(latest), totals_at(prev), totals_at(last_year)
    totals = {**cur, **{f"{k}_mom": _change(cur[k], before[k] if before else None) for k in cur},
              **{f"{k}_yoy": _change(cur[k], year_before[k] if year_before else None) for k in cur}}

    def by_category_at(period: str) -> dict[str, dict]:
        rows = _sum_by(mine.filter(pl.col("period") == period), ["aid_category"])
        return {r["aid_category"]: r for r in rows.to_dicts()}

    now_cat, prev_cat, year_cat = by_category_at(latest), by_category_at(prev), by_category_at(last_year)
    categories = [c for c in labels.AID_CATEGORIES if c in now_cat or c in prev_cat]
    categories += sorted(set(now_cat) - set(categories))
    empty = {"recipients": 0, "households": 0, "amount_yuan": 0.0}
    rows = []
    for cat in categories:
        c, p, y = now_cat.get(cat, empty), prev_cat.get(cat, empty), year_cat.get(cat, empty)
        rows.append({
            "救助类别": labels.aid_category(cat),
            "救助人数": int(c["recipients"]),
            "救助户数": int(c["households"]),
            "救助金额(元)": round(float(c["amount_yuan"]), 2),
            "人数环比增减": int(c["recipients"] - p["recipients"]) if prev in known else None,
            "金额环比增减(元)": round(float(c["amount_yuan"] - p["amount_yuan"]), 2) if prev in known else None,
            "人数同比增减": int(c["recipients"] - y["recipients"]) if last_year in known else None,
        })
    by_category = pd.DataFrame(rows, columns=["救助类别", "救助人数", "救助户数", "救助金额(元)", "人数环比增减",
                                              "金额环比增减(元)", "人数同比增减"])

    level = regions.level_of_code(region_code)
    by_region = None
    if level <= 2:
        key = "prefecture_code" if level == 1 else "county_code"
        current = _sum_by(mine.filter(pl.col("period") == latest), [key])
        previous = {r[key]: r["recipients"] for r in _sum_by(mine.filter(pl.col("period") == prev), [key]).to_dicts()}
        by_region = pd.DataFrame([
            {"区划代码": r[key], "区划": region_name(r[key]), "救助人数": int(r["recipients"]),
             "救助户数": int(r["households"]), "救助金额(元)": round(float(r["amount_yuan"]), 2),
             "人数环比增减": int(r["recipients"] - previous.get(r[key], 0)) if prev in known else None}
            for r in current.sort(key).to_dicts()
        ], columns=["区划代码", "区划", "救助人数", "救助户数", "救助金额(元)", "人数环比增减"])

    trend_rows = _sum_by(mine.filter(pl.col("period") <= latest), ["period", "aid_category"]).sort(["period", "aid_category"])
    trend = pd.DataFrame([
        {"月份": r["period"], "救助类别": labels.aid_category(r["aid_category"]), "救助人数": int(r["recipients"])}
        for r in trend_rows.to_dicts()
    ], columns=["月份", "救助类别", "救助人数"])
    return StatisticsOverview(latest, prev, totals, by_category, by_region, trend)


# --- 核对业务统计 (VF-7) ---------------------------------------------------------------------------------

VERIFICATION_COUNTS = ("requests", "awaiting_receipt", "in_progress", "reported", "rejected", "assessed_eligible",
                       "assessed_ineligible", "assessed_for_review")


@dataclass(frozen=True)
class VerificationStatistics:
    totals: dict  # the counts of VERIFICATION_COUNTS and mean_hours_to_report
    by_month: pd.DataFrame  # 月份 × status
    by_result: pd.DataFrame  # 核对结论, 户数
    by_unit: pd.DataFrame  # 委托单位, 申请数, 已出具报告, 平均办结时长(小时)
    by_item: pd.DataFrame  # 救助事项, 申请数, 已出具报告
    by_region: pd.DataFrame | None  # the next level of divisions


def _mean_hours(rows: pl.DataFrame) -> float | None:
    """Hours to report over the groups, weighted by their reported requests."""
    done = rows.filter(pl.col("reported") > 0)
    total = int(done.get_column("reported").sum() or 0)
    if not total:
        return None
    return round(float((done.get_column("mean_hours_to_report") * done.get_column("reported")).sum()) / total, 1)


BENEFIT_RULES_ZH = {"dibao": "整户低保", "single_person": "单人保", "tekun": "特困供养", "manual": "审批人核定"}
BENEFIT_PARTS_ZH = {"base_yuan": "低保补差", "addon_yuan": "分类施保", "single_person_yuan": "单人保",
                    "tekun_basic_yuan": "特困基本生活费", "tekun_care_yuan": "照料护理补贴", "minimum_yuan": "保底补足",
                    "exit_yuan": "渐退期发放", "manual_yuan": "审批人工核定", "correction_yuan": "拨付单更正",
                    "back_pay_yuan": "补发", "rounding_yuan": "舍入差"}


@dataclass(frozen=True)
class BenefitStatistics:
    totals: dict  # households, persons, exit_households, ordered_yuan, paid_yuan
    by_rule: pd.DataFrame  # 救助类别, 计算方式, 户数, 人数, 拨付金额(元), 已发放(元)
    parts: pd.DataFrame  # 构成, 金额(元)


def benefit_statistics(user: access.Principal, period: str, region_code: str | None = None) -> BenefitStatistics:
    """救助待遇发放统计: the platform's own orders of a month in a region — households, persons, amounts
    ordered and paid by aid category and rule, and what the amounts are made of."""
    from assistance.catalogue import CATEGORIES  # noqa: PLC0415

    region_code = region_code or user.jurisdiction_code
    _authorize(user, "view_aggregate", region_code)
    _require_county_grain(region_code)
    mine = within(read_gold("benefit_statistics"), "county_code", region_code).filter(pl.col("period") == period)
    if mine.is_empty():
        raise NoData(f"{period}本辖区没有本平台审批的救助待遇拨付单。")
    counts = ("households", "persons", "exit_households", "ordered_yuan", "paid_yuan")
    totals = mine.select([pl.col(c).sum() for c in counts]).to_dicts()[0]
    grouped = mine.group_by("aid_category", "rule_kind").agg([pl.col(c).sum() for c in counts]).sort(
        "aid_category", "rule_kind")
    by_rule = pd.DataFrame([{"救助类别": CATEGORIES.get(r["aid_category"], r["aid_category"]),
                             "计算方式": BENEFIT_RULES_ZH.get(r["rule_kind"], r["rule_kind"]), "户数": r["households"],
                             "人数": r["persons"], "渐退期户数": r["exit_households"],
                             "拨付金额(元)": round(r["ordered_yuan"], 2), "已发放(元)": round(r["paid_yuan"], 2)}
                            for r in grouped.to_dicts()])
    sums = mine.select([pl.col(c).sum() for c in BENEFIT_PARTS_ZH]).to_dicts()[0]
    parts = pd.DataFrame([{"构成": zh, "金额(元)": round(sums[c], 2)} for c, zh in BENEFIT_PARTS_ZH.items()
                          if sums[c]], columns=["构成", "金额(元)"])
    return BenefitStatistics(totals, by_rule, parts)


def verification_statistics(user: access.Principal, region_code: str | None = None) -> VerificationStatistics:
    """The verification requests of the jurisdiction (or a region inside it): how many came in by
    month, where they stand, what was found, who asked, for which aid, and how long a report took."""
    from verification.requests import AID_ITEMS  # noqa: PLC0415

    region_code = region_code or user.jurisdiction_code
    _authorize(user, "view_aggregate", region_code)
    _require_county_grain(region_code)
    mine = within(read_gold("verification_statistics"), "county_code", region_code)
    if mine.is_empty():
        raise NoData("本辖区尚无核对申请。")
    sums = [pl.col(c).sum() for c in VERIFICATION_COUNTS]
    totals = {k: int(v or 0) for k, v in mine.select(sums).to_dicts()[0].items()}
    totals["mean_hours_to_report"] = _mean_hours(mine)
    months = mine.group_by("period").agg(sums).sort("period")
    by_month = pd.DataFrame([{"月份": r["period"], "申请数": r["requests"], "待接收": r["awaiting_receipt"],
                              "办理中": r["in_progress"], "已出具报告": r["reported"], "已退回": r["rejected"]}
                             for r in months.to_dicts()])
    by_result = pd.DataFrame([{"核对结论": name, "户数": totals[key]} for name, key in
                              (("符合", "assessed_eligible"), ("不符合", "assessed_ineligible"),
                               ("需人工复核", "assessed_for_review"))])
    units = []
    for unit, rows in sorted(mine.group_by("commissioning_unit"), key=lambda g: str(g[0][0])):
        units.append({"委托单位": unit[0], "申请数": int(rows.get_column("requests").sum()),
                      "已出具报告": int(rows.get_column("reported").sum()), "平均办结时长(小时)": _mean_hours(rows)})
    by_unit = pd.DataFrame(units, columns=["委托单位", "申请数", "已出具报告", "平均办结时长(小时)"])
    items = mine.group_by("aid_item").agg(pl.col("requests").sum(), pl.col("reported").sum()).sort("aid_item")
    by_item = pd.DataFrame([{"救助事项": AID_ITEMS.get(r["aid_item"], r["aid_item"]), "申请数": int(r["requests"]),
                             "已出具报告": int(r["reported"])} for r in items.to_dicts()],
                           columns=["救助事项", "申请数", "已出具报告"])
    level = regions.level_of_code(region_code)
    by_region = None
    if level <= 2:
        key = "prefecture_code" if level == 1 else "county_code"
        grouped = mine.group_by(key).agg(pl.col("requests").sum(), pl.col("reported").sum()).sort(key)
        by_region = pd.DataFrame([{"区划代码": r[key], "区划": region_name(r[key]), "申请数": int(r["requests"]),
                                   "已出具报告": int(r["reported"])} for r in grouped.to_dicts()],
                                 columns=["区划代码", "区划", "申请数", "已出具报告"])
    return VerificationStatistics(totals, by_month, by_result, by_unit, by_item, by_region)


def statistics_periods() -> list[str]:
    data = read_gold("monthly_statistics")
    return sorted(data.get_column("period").unique().to_list(), reverse=True) if not data.is_empty() else []


def report_regions(user: access.Principal) -> list[str]:
    """The jurisdiction and every prefecture and county inside it (the regions a report can cover)."""
    tree = regions.load()
    root = regions.normalise_code(user.jurisdiction_code)
    if below_county(root):
        return []
    out = [root]
    for child in tree.children(root) if regions.level_of_code(root) < 3 else []:
        out.append(child.code)
        if regions.level_of_code(child.code) < 3:
            out += [c.code for c in tree.children(child.code)]
    return out


# --- 总览: detections ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectionSummary:
    period: str | None
    households: int
    by_county: pd.DataFrame


def _latest_detections(user: access.Principal) -> tuple[str | None, pl.DataFrame]:
    data = read_gold("detection_list")
    if data.is_empty():
        return None, data
    latest = data.get_column("period").max()
    return latest, within(data.filter(pl.col("period") == latest), "county_code", user.jurisdiction_code)


def detection_summary(user: access.Principal) -> DetectionSummary:
    """Households detected in the latest month, counted by county, category and assessment."""
    _authorize(user, "view_aggregate", user.jurisdiction_code)
    _require_county_grain(user.jurisdiction_code)
    period, mine = _latest_detections(user)
    counts = (mine.group_by(["county_code", "aid_category", "assessment"]).agg(pl.len().alias("n"))
              .sort(["county_code", "aid_category", "assessment"]))
    frame = pd.DataFrame([
        {"区划代码": r["county_code"], "县(市、区)": region_name(r["county_code"]),
         "救助类别": labels.aid_category(r["aid_category"]), "核对结论": r["assessment"], "检出户数": int(r["n"])}
        for r in counts.to_dicts()
    ], columns=["区划代码", "县(市、区)", "救助类别", "核对结论", "检出户数"])
    return DetectionSummary(period, mine.height, frame)


DETECTION_COLUMNS = {
    "period": "数据期", "county_code": "区划代码", "county_name": "县(市、区)", "household_no": "户号",
    "aid_category": "救助类别", "aid_item": "救助事项", "household_amount_yuan": "家庭月救助金额(元)",
    "assessment": "核对结论", "failed_rules": "不符合规则数", "review_rules": "需复核规则数",
    "income_per_capita_yuan": "家庭月人均收入(元)", "standard_yuan": "保障标准(元)",
}


def detection_rows(user: access.Principal, purpose: str) -> pd.DataFrame:
    """The detection list of the jurisdiction, household by household: personal data.

    Authorised and audited (``view_household_report``, level 3, with the purpose) before any row
    leaves this function; amounts are masked for roles that may not see them in the clear.
    Raises ``access.AccessDenied`` or ``audit.AuditUnavailable``.
    """
    period, mine = _latest_detections(user)
    with business_session() as db:
        access.authorize_and_audit(
            db, user, "view_household_report", user.jurisdiction_code, purpose=purpose,
            level=DETECTION_LEVEL, clock=now,
            detail={"source": "gold/verification/detection_list", "period": period, "rows": mine.height},
        )
    out = []
    for row in mine.sort(["county_code", "assessment", "household_no"]).to_dicts():
        masked = masking.mask_row(row, DETECTION_PII, user.role, jurisdiction=user.jurisdiction_code,
                                  region_field="county_code")
        masked["county_name"] = region_name(row["county_code"])
        masked["aid_category"] = labels.aid_category(row["aid_category"])
        out.append({title: masked.get(col) for col, title in DETECTION_COLUMNS.items()})
    return pd.DataFrame(out, columns=list(DETECTION_COLUMNS.values()))


# --- exchange health (gold) and department status (ledgers) -------------------------------------------


def exchange_health(user: access.Principal) -> pd.DataFrame:
    """Per department: the latest delivery month and the running totals (province-wide feeds)."""
    _authorize(user, "view_aggregate", user.jurisdiction_code)
    data = read_gold("exchange_quality")
    out = []
    for slug, rows in sorted(data.partition_by("department", as_dict=True).items()):
        dept = slug[0] if isinstance(slug, tuple) else slug
        rows = rows.sort("period")
        last = rows.row(-1, named=True)
        delivered = int(rows.get_column("delivered").sum() or 0)
        rejected = int(rows.get_column("rejected").sum() or 0)
        out.append({
            "共享单位": labels.department(dept),
            "最近数据期": last["period"],
            "最近月报送行数": int(last["delivered"] or 0),
            "最近月接收行数": int(last["accepted"] or 0),
            "最近月拒收行数": int(last["rejected"] or 0),
            "累计批次": int(rows.get_column("batches").sum() or 0),
            "重复报送": int(rows.get_column("replays").sum() or 0),
            "整批拒收批次": int(rows.get_column("refused_batches").sum() or 0),
            "迟报月数": int(rows.get_column("delivered_late").sum() or 0),
            "累计拒收率": f"{rejected / delivered:.2%}" if delivered else "—",
        })
    return pd.DataFrame(out)


def _ledger_fingerprint(root: Path) -> tuple:

    return tuple((d.slug, table_version(lake.table_path(root, "bronze", d.slug, batches.LEDGER)))
                 for d in departments.all_departments())


@st.cache_data(show_spinner="正在读取交换台账……", max_entries=16)
def _department_status(root: str, today_iso: str, fingerprint: tuple) -> list[dict]:

    return exchange_status.department_status(Path(root), date.fromisoformat(today_iso))


def relational_sources(user: access.Principal) -> pd.DataFrame:
    """Departments pulled from their databases (EX-7): dialect, whether the connection is
    configured (never the URL itself), and the watermark of the last pull."""
    from exchange import relational  # noqa: PLC0415

    _authorize(user, "view_exchange_status", regions.PROVINCE_CODE)
    rows = []
    for source in relational.all_sources():
        state = relational.watermark(lake_root(), source.department)
        since = state.get("since")
        pulled = state.get("pulled_at")
        rows.append({
            "共享单位": departments.get(source.department).name,
            "数据库类型": {"postgres": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB", "oracle": "Oracle"}.get(
                source.dialect, source.dialect),
            "连接配置": "已配置" if os.environ.get(source.connection_env) else f"未配置({source.connection_env})",
            "增量水位(源库变更时间)": since.replace("T", " ") if since else "尚未抽取",
            "最近抽取": china_time(datetime.fromisoformat(pulled), seconds=False) if pulled else "—",
            "说明": source.description,
        })
    return pd.DataFrame(rows, columns=["共享单位", "数据库类型", "连接配置", "增量水位(源库变更时间)", "最近抽取", "说明"])


MASKS_ZH = {"clear": "明文", "mask_id": "部分隐藏", "mask_name": "姓名部分隐藏", "mask_phone": "部分隐藏",
            "pseudonym": "假名化", "year": "只保留年份"}


def sharing_agreements(user: access.Principal) -> tuple[pd.DataFrame, pd.DataFrame]:
    """共享库 (EX-4): the agreements (unit, purpose, legal basis, dataset, each column with its masking,
    frequency, format) and the extracts made so far, checked against their manifests' checksums."""
    from exchange import sharing  # noqa: PLC0415

    _authorize(user, "view_exchange_status", regions.PROVINCE_CODE)
    agreements = pd.DataFrame([{
        "协议": a.code, "共享单位": a.unit, "用途": a.purpose, "依据": a.legal_basis, "数据集": a.dataset,
        "字段(脱敏方式)": "、".join(f"{c}({MASKS_ZH[m]})" for c, m in a.columns.items()),
        "范围": full_region_name(a.region_code.ljust(12, "0")), "频率": {"daily": "每日", "weekly": "每周",
                                                                      "monthly": "每月"}[a.frequency],
        "格式": a.format} for a in sharing.load()],
        columns=["协议", "共享单位", "用途", "依据", "数据集", "字段(脱敏方式)", "范围", "频率", "格式"])
    made = pd.DataFrame([{
        "协议": m["agreement"], "共享单位": m["unit"], "生成时间": china_time(datetime.fromisoformat(m["generated_at"])),
        "数据期": m.get("period") or "全部", "行数": m["rows"], "数据版本": m["dataset_version"], "文件": m["file"],
        "校验": "完整" if m["intact"] else "文件与清单不符"} for m in sharing.extracts(sharing.outbox_root(settings.load().home))],
        columns=["协议", "共享单位", "生成时间", "数据期", "行数", "数据版本", "文件", "校验"])
    return agreements, made


def api_clients(user: access.Principal) -> pd.DataFrame:
    """数据交换接口的调用单位 (EX-6): unit, scopes, area, state and last call — never the token."""
    from exchange.clients import SCOPES  # noqa: PLC0415
    from jiuzhu.business.models import ApiClient  # noqa: PLC0415

    _authorize(user, "view_exchange_status", regions.PROVINCE_CODE)
    with business_session() as db:
        clients = db.scalars(select(ApiClient).order_by(ApiClient.id)).all()
    return pd.DataFrame([{"调用单位": c.unit_name, "客户端编号": c.client_id,
                          "权限": "、".join(SCOPES.get(x, x) for x in c.scopes.split()),
                          "报送单位": labels.department(c.department) if c.department else "—",
                          "范围": full_region_name(c.region_code), "状态": "启用" if c.active else "停用",
                          "最近调用": china_time(c.last_used_at, seconds=False) if c.last_used_at else "—"}
                         for c in clients],
                        columns=["调用单位", "客户端编号", "权限", "报送单位", "范围", "状态", "最近调用"])


def sync_packages(user: access.Principal) -> pd.DataFrame:
    """纵向同步包 exported from this node (``jiuzhu sync export``, default folder ``$JIUZHU_HOME/sync``)."""
    _authorize(user, "view_exchange_status", regions.PROVINCE_CODE)
    rows = []
    for manifest in sorted((settings.load().home / "sync").glob("*/manifest.json"), reverse=True):
        m = json.loads(manifest.read_text("utf-8"))
        tables = m.get("tables", {})
        rows.append({"同步包": manifest.parent.name, "节点": full_region_name(m["region"].ljust(12, "0")),
                     "生成时间": china_time(datetime.fromisoformat(m["created_at"])), "表": len(tables),
                     "新增行": sum(t["inserts"]["rows"] for t in tables.values()),
                     "删除行": sum(t["deletes"]["rows"] for t in tables.values()), "签名密钥": m.get("key_id", "")})
    return pd.DataFrame(rows, columns=["同步包", "节点", "生成时间", "表", "新增行", "删除行", "签名密钥"])


def department_status(user: access.Principal) -> pd.DataFrame:
    """Per department: last batch, its receipt, freshness and quality (``exchange.status``)."""
    _authorize(user, "view_exchange_status", regions.PROVINCE_CODE)
    root = lake_root()
    rows = _department_status(str(root), today_in_china().isoformat(), _ledger_fingerprint(root))
    out = []
    for r in rows:
        reasons = "、".join(f"{code}×{n}" for code, n in sorted(r["last_reasons"].items())) or "—"
        out.append({
            "代码": r["department"],
            "共享单位": r["name"],
            "最近批次": r["last_batch"] or "—",
            "数据期": r["last_period"] or "—",
            "最近批次状态": labels.BATCH_STATUS.get(r["last_status"] or "", r["last_status"] or "—"),
            "报送行数": r["last_delivered"],
            "接收行数": r["last_accepted"],
            "拒收行数": r["last_rejected"],
            "拒收原因": reasons,
            "批次数": r["batches"],
            "重复报送": r["replays"],
            "迟报批次": r["late_batches"],
            "整批拒收批次": r["rejected_batches"],
            "累计拒收率": f"{r['rejected_share']:.2%}",
            "下次应报日期": r["next_due"] or "—",
            "时效": r["freshness"],
            "质量": r["quality"],
        })
    return pd.DataFrame(out)


@dataclass(frozen=True)
class Rejections:
    by_reason: pd.DataFrame
    rows: pd.DataFrame
    total: int


def rejected_rows(user: access.Principal, department: str, period: str | None = None) -> Rejections | None:
    """Quarantined rows of one department by reason, without the raw row (personal data)."""

    _authorize(user, "view_exchange_status", regions.PROVINCE_CODE)
    path = ingest.quarantine_path(lake_root(), department)
    if not lake.exists(path):
        return None
    available = set(DeltaTable(str(path)).schema().to_arrow().names)
    columns = [c for c in QUARANTINE_COLUMNS if c in available]
    data = read_delta(path, columns)
    if period:
        data = data.filter(pl.col("_period") == period)
    by_reason = (data.group_by(["_reason_code", "_reason_message"]).agg(pl.len().alias("n"))
                 .sort(["n", "_reason_code"], descending=[True, False]))
    reason_frame = pd.DataFrame([
        {"原因代码": r["_reason_code"], "原因说明": r["_reason_message"], "拒收行数": int(r["n"])}
        for r in by_reason.to_dicts()
    ], columns=["原因代码", "原因说明", "拒收行数"])
    titles = {"_batch_id": "批次", "_period": "数据期", "_file": "文件", "_row_number": "行号",
              "_reason_code": "原因代码", "_reason_field": "字段", "_reason_message": "原因说明"}
    order = [c for c in ("_period", "_batch_id", "_file", "_row_number") if c in columns]
    detail = data.sort(order, descending=[c == "_period" for c in order]) if order else data
    rows = detail.rename({c: titles[c] for c in columns}).to_pandas()
    return Rejections(reason_frame, rows, data.height)


def quarantine_periods(user: access.Principal, department: str) -> list[str]:

    _authorize(user, "view_exchange_status", regions.PROVINCE_CODE)
    data = read_delta(ingest.quarantine_path(lake_root(), department), ["_period"])
    if data is None:
        return []
    return sorted(data.get_column("_period").unique().to_list(), reverse=True)


def lake_tables(user: access.Principal) -> pd.DataFrame:
    """Every Delta table of the lake with its version and rows (from the logs, no data read)."""

    _authorize(user, "view_exchange_status", regions.PROVINCE_CODE)
    root = lake_root()
    rows = lake_status.lake_tables(root) if root.exists() else []
    return pd.DataFrame([{"表": r["table"], "版本": r["version"], "行数": r["rows"]} for r in rows],
                        columns=["表", "版本", "行数"])


# --- 分布分析: the low-income cube ----------------------------------------------------------------------

DIMENSIONS = {
    "age_band": ("按年龄段", "年龄段", labels.age_band),
    "sex": ("按性别", "性别", labels.sex),
    "ethnicity": ("按民族", "民族", labels.ethnicity),
    "disability": ("按残疾状况", "残疾状况", labels.disability),
    "category": ("按救助类别", "救助类别", labels.aid_category),
    "cause": ("按致困原因", "致困原因", lambda v: v or "未登记"),
}


def cube(user: access.Principal, scope_code: str) -> pl.DataFrame:
    """The cube cut to ``scope_code``, which must lie inside the user's jurisdiction."""
    _authorize(user, "view_aggregate", scope_code)
    _require_county_grain(scope_code)
    data = read_gold("low_income_cube")
    # Both cuts: the scope the user picked and the jurisdiction the account holds.
    return within(within(data, "county_code", user.jurisdiction_code), "county_code", scope_code)


def periods(frame: pl.DataFrame) -> list[str]:
    return sorted(frame.get_column("period").unique().to_list(), reverse=True)


def persons_by(frame: pl.DataFrame, dimension: str) -> pd.DataFrame:
    """Persons by one dimension, with Chinese labels and shares."""
    _, title, label = DIMENSIONS[dimension]
    grouped = frame.group_by(dimension).agg(pl.col("persons").sum()).sort("persons", descending=True)
    total = int(grouped.get_column("persons").sum() or 0)
    rows = [{title: label(r[dimension]), "人数": int(r["persons"]),
             "占比": round(r["persons"] / total, 4) if total else 0.0} for r in grouped.to_dicts()]
    out = pd.DataFrame(rows, columns=[title, "人数", "占比"])
    if dimension == "age_band":
        order = {name: i for i, name in enumerate(labels.AGE_ORDER)}
        out = out.sort_values(title, key=lambda s: s.map(lambda v: order.get(v, 99))).reset_index(drop=True)
    return out


def persons_by_region(frame: pl.DataFrame, level: int, scope_code: str) -> pd.DataFrame:
    """Persons per prefecture (level 2) or county (level 3) inside the scope, zeros included."""
    tree = regions.load()
    key = "prefecture_code" if level == 2 else "county_code"
    counts = {r[key]: int(r["persons"]) for r in frame.group_by(key).agg(pl.col("persons").sum()).to_dicts()}
    scope = tree.get(scope_code)
    if scope.level == level:
        units = [scope]
    elif scope.level > level:
        units = []
    else:
        units = [r for r in tree.at_level(level) if regions.contains(scope.code, r.code)]
    total = sum(counts.values())
    rows = []
    for unit in sorted(units, key=lambda r: r.code):
        code = unit.code[:6]
        n = counts.get(code, 0)
        rows.append({"区划代码": code, "区划": unit.name, "人数": n, "占比": round(n / total, 4) if total else 0.0})
    return pd.DataFrame(rows, columns=["区划代码", "区划", "人数", "占比"])


def trend(frame: pl.DataFrame) -> pd.DataFrame:
    grouped = frame.group_by(["period", "category"]).agg(pl.col("persons").sum()).sort(["period", "category"])
    return pd.DataFrame([{"月份": r["period"], "救助类别": labels.aid_category(r["category"]), "人数": int(r["persons"])}
                         for r in grouped.to_dicts()], columns=["月份", "救助类别", "人数"])


# --- exports ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedExport:
    fingerprint: str
    files: dict  # table title -> (csv bytes, xlsx bytes)
    workbook: bytes  # every table, one sheet each


def prepare_export(user: access.Principal, scope_code: str, tables: Mapping[str, pd.DataFrame],
                   fingerprint: str, purpose: str) -> PreparedExport:
    """Authorise and audit ``export_aggregate`` first, then build the CSV and XLSX files."""
    with business_session() as db:
        access.authorize_and_audit(db, user, "export_aggregate", scope_code, purpose=purpose, clock=now,
                                   detail={"tables": list(tables), "formats": ["csv", "xlsx"]})
    files = {title: (exports.to_csv_bytes(frame), exports.to_xlsx_bytes({title: frame}))
             for title, frame in tables.items()}
    return PreparedExport(fingerprint, files, exports.to_xlsx_bytes(tables))


# --- 系统管理: users and the audit trail -------------------------------------------------------------------

USER_COLUMNS = (User.username, User.display_name, User.role, User.jurisdiction_code, User.active,
                User.must_change_password, User.failed_attempts, User.locked_until, User.last_login_at,
                User.password_changed_at, User.created_at)


def users_list(user: access.Principal) -> pd.DataFrame:
    """Accounts inside the administrator's jurisdiction; the password hash is never selected."""
    _authorize(user, "manage_users", user.jurisdiction_code)
    with business_session() as db:
        rows = db.execute(select(*USER_COLUMNS).order_by(User.username)).all()
    current = now()
    out = []
    for r in rows:
        if r.jurisdiction_code not in regions.load() or not regions.contains(user.jurisdiction_code,
                                                                              r.jurisdiction_code):
            continue
        locked = r.locked_until is not None and r.locked_until > current
        out.append({
            "用户名": r.username, "姓名": r.display_name, "角色": labels.role(r.role),
            "管辖区域": full_region_name(r.jurisdiction_code),
            "状态": ("已锁定" if locked else "正常") if r.active else "已停用",
            "须修改初始密码": "是" if r.must_change_password else "否",
            "连续失败次数": r.failed_attempts or 0,
            "锁定至": china_time(r.locked_until) if locked else "",
            "最近登录": china_time(r.last_login_at), "密码修改时间": china_time(r.password_changed_at),
            "创建时间": china_time(r.created_at),
        })
    return pd.DataFrame(out, columns=["用户名", "姓名", "角色", "管辖区域", "状态", "须修改初始密码", "连续失败次数",
                                      "锁定至", "最近登录", "密码修改时间", "创建时间"])


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    outcome: str = ""
    since: date | None = None  # Beijing date, inclusive
    until: date | None = None  # Beijing date, inclusive


def _audit_query(user: access.Principal, flt: AuditFilter):

    query = select(AuditLog)
    code, digits = prefix_digits(user.jurisdiction_code)
    if digits > 2:
        # Below the province only entries about regions inside the jurisdiction.
        query = query.where(AuditLog.region_code.like(code[:digits] + "%"))
    if flt.actor.strip():
        query = query.where(AuditLog.actor == flt.actor.strip())
    if flt.action:
        query = query.where(AuditLog.action == flt.action)
    if flt.outcome:
        query = query.where(AuditLog.outcome == flt.outcome)
    if flt.since:
        query = query.where(AuditLog.at >= datetime.combine(flt.since, time.min, CHINA_TIME))
    if flt.until:
        query = query.where(AuditLog.at < datetime.combine(flt.until, time.min, CHINA_TIME) + timedelta(days=1))
    return query


def audit_entries(user: access.Principal, flt: AuditFilter) -> tuple[pd.DataFrame, int]:
    """The newest entries matching the filter (at most ``AUDIT_ROW_LIMIT``) and how many match."""

    _authorize(user, "view_audit", user.jurisdiction_code)
    query = _audit_query(user, flt)
    with business_session() as db:
        total = db.scalar(select(func.count()).select_from(query.subquery()))
        entries = db.scalars(query.order_by(AuditLog.seq.desc()).limit(AUDIT_ROW_LIMIT)).all()
    frame = pd.DataFrame([{
        "序号": e.seq, "时间(北京时间)": china_time(e.at), "操作人": e.actor, "角色": labels.role(e.role),
        "操作": labels.audit_action(e.action), "结果": labels.OUTCOMES.get(e.outcome, e.outcome),
        "区划": full_region_name(e.region_code) if e.region_code else "", "对象(假名)": e.subject_key or "",
        "事由": e.purpose or "", "详情": e.detail, "哈希": e.entry_hash[:16],
    } for e in entries], columns=["序号", "时间(北京时间)", "操作人", "角色", "操作", "结果", "区划", "对象(假名)",
                                  "事由", "详情", "哈希"])
    return frame, int(total or 0)


def audit_actions(user: access.Principal) -> list[str]:
    _authorize(user, "view_audit", user.jurisdiction_code)
    with business_session() as db:
        return sorted(db.scalars(select(AuditLog.action).distinct()).all())


def anchor_path() -> Path:
    return settings.load().home / "audit_head.json"


def verify_audit(user: access.Principal) -> audit.VerifyResult:
    """``audit.verify`` over the whole chain, against the external anchor when there is one."""
    _authorize(user, "view_audit", user.jurisdiction_code)
    anchor = anchor_path()
    with business_session() as db:
        return audit.verify(db, anchor if anchor.exists() else None)


def export_audit(user: access.Principal) -> bytes:
    """The whole trail as CSV (UTF-8 with BOM, cells neutralised by ``audit.export``); audited first."""
    with business_session() as db:
        access.authorize_and_audit(db, user, "export_audit", user.jurisdiction_code, purpose="导出审计日志",
                                   clock=now, detail={"format": "csv"})
        with tempfile.TemporaryDirectory(prefix="audit-export-") as tmp:
            path = Path(tmp) / "audit.csv"
            audit.export(db, path, "csv")
            return path.read_bytes()


# --- 系统管理: the security policy (security administrator) -------------------------------------------


def security_policy(user: access.Principal) -> list[dict]:
    _authorize(user, "manage_security_settings", user.jurisdiction_code)
    with business_session() as db:
        return security_settings.rows(db)


def update_security_policy(user: access.Principal, changes: Mapping[str, int]) -> list[str]:
    """Apply the changed values one by one (each authorised and audited); the names of those changed."""
    done = []
    with business_session() as db:
        current = security_settings.values(db)
        for key, value in changes.items():
            if current.get(key) != value:
                security_settings.update(db, user, key, int(value), clock=now)
                done.append(security_settings.SETTINGS[key].name_zh)
    return done
