"""What the staff-app tests share: synthetic gold tables, accounts, a controllable clock, and a
helper that logs in through the real login form.

The gold tables have the shapes and types the marts publish (DuckDB's ``decimal(38,0)`` counts
included) on real Sichuan region codes; values are drawn from a seeded generator, never typed in.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "staff" / "app.py")
PASSWORD = "Jiuzhu#2026ui"
START = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)

# Four counties in three prefectures: 锦江区 and 青羊区 (成都市), 自流井区 (自贡市), 昭觉县 (凉山州).
COUNTIES = ("510104", "510105", "510302", "513431")
PERIODS = tuple(f"{y}-{m:02d}" for y, m in [(2025, m) for m in range(10, 13)] + [(2026, m) for m in range(1, 11)])
LATEST = PERIODS[-1]
CATEGORIES = ("dibao", "tekun", "margin", "temporary")
AID_ITEMS = {"dibao": ("城市低保", "农村低保"), "tekun": ("城市特困", "农村特困")}
CAUSES = ("因病", "因残", "因学", "因灾", "因意外", "缺劳力", "因务工就业不稳", "未登记")
# Cells a spreadsheet would run as formulas, as a careless upstream could deliver them.
FORMULA_CAUSES = ("=1+2", "＠因灾", "-2+3", "+SUM(A1)")

DEC = pa.decimal128(38, 0)


def _prefecture(county: str) -> str:
    return county[:4] + "00"


def monthly_statistics_rows(rng: random.Random) -> list[dict]:
    base = {(c, cat): rng.randint(20, 200) for c in COUNTIES for cat in CATEGORIES}
    per_person = {"dibao": 720.0, "tekun": 1050.0, "margin": 0.0, "temporary": 310.0}
    rows, by_key = [], {}
    for i, period in enumerate(PERIODS):
        for county in COUNTIES:
            for cat in CATEGORIES:
                if cat == "temporary" and i % 3 == 1 and county == "513431":
                    continue  # temporary aid is not paid every month everywhere
                recipients = max(1, base[county, cat] + rng.randint(-8, 8) + i)
                households = max(1, round(recipients / 2.3))
                amount = round(recipients * per_person[cat] * rng.uniform(0.9, 1.1), 2)
                by_key[period, county, cat] = (recipients, amount)
                rows.append({"period": period, "county_code": county, "prefecture_code": _prefecture(county),
                             "aid_category": cat, "recipients": recipients, "households": households,
                             "amount_yuan": amount})
    for r in rows:
        y, m = int(r["period"][:4]), int(r["period"][5:])
        prev = f"{y - (m == 1)}-{12 if m == 1 else m - 1:02d}"
        last_year = f"{y - 1}-{m:02d}"
        p = by_key.get((prev, r["county_code"], r["aid_category"]))
        ly = by_key.get((last_year, r["county_code"], r["aid_category"]))
        r["recipients_last_month"] = p[0] if p else None
        r["recipients_mom_change"] = r["recipients"] - p[0] if p else None
        r["recipients_last_year"] = ly[0] if ly else None
        r["recipients_yoy_change"] = r["recipients"] - ly[0] if ly else None
        r["amount_mom_change"] = round(r["amount_yuan"] - p[1], 2) if p else None
        r["amount_yoy_change"] = round(r["amount_yuan"] - ly[1], 2) if ly else None
    return rows


MONTHLY_SCHEMA = pa.schema([
    ("period", pa.string()), ("county_code", pa.string()), ("prefecture_code", pa.string()),
    ("aid_category", pa.string()), ("recipients", DEC), ("households", pa.int64()), ("amount_yuan", pa.float64()),
    ("recipients_last_month", DEC), ("recipients_mom_change", DEC), ("recipients_last_year", DEC),
    ("recipients_yoy_change", DEC), ("amount_mom_change", pa.float64()), ("amount_yoy_change", pa.float64()),
])


def detection_rows(rng: random.Random) -> list[dict]:
    rows = []
    for period in PERIODS[-2:]:
        for county in COUNTIES:
            for seq in range(rng.randint(2, 4)):
                cat = rng.choice(("dibao", "tekun"))
                failed = rng.choice((0, 1, 2))
                rows.append({
                    "period": period, "county_code": county, "household_no": f"{county}000000{seq:03d}",
                    "aid_category": cat, "aid_item": rng.choice(AID_ITEMS[cat]),
                    "household_amount_yuan": float(rng.choice((510, 685, 720, 1025))),
                    "assessment": "不符合" if failed else "需人工复核",
                    "failed_rules": failed, "review_rules": 0 if failed else 1,
                    "income_per_capita_yuan": round(rng.uniform(300, 2400), 2),
                    "standard_yuan": float(rng.choice((510, 685, 720))),
                })
    return rows


DETECTION_SCHEMA = pa.schema([
    ("period", pa.string()), ("county_code", pa.string()), ("household_no", pa.string()),
    ("aid_category", pa.string()), ("aid_item", pa.string()), ("household_amount_yuan", pa.float64()),
    ("assessment", pa.string()), ("failed_rules", pa.int32()), ("review_rules", pa.int32()),
    ("income_per_capita_yuan", pa.float64()), ("standard_yuan", pa.float64()),
])


def exchange_quality_rows(rng: random.Random) -> list[dict]:
    from jiuzhu import departments

    rows = []
    for dept in departments.slugs():
        for period in PERIODS[-3:]:
            delivered = rng.randint(50, 400)
            rejected = rng.randint(0, 6)
            rows.append({"department": dept, "period": period, "batches": 1, "replays": rng.choice((0, 0, 1)),
                         "refused_batches": 0, "delivered": delivered, "accepted": delivered - rejected,
                         "rejected": rejected, "delivered_late": rng.choice((0, 0, 0, 1))})
    return rows


EXCHANGE_SCHEMA = pa.schema([
    ("department", pa.string()), ("period", pa.string()), ("batches", pa.int64()), ("replays", pa.int64()),
    ("refused_batches", pa.int64()), ("delivered", DEC), ("accepted", DEC), ("rejected", DEC),
    ("delivered_late", pa.int32()),
])


def cube_rows(rng: random.Random) -> list[dict]:
    rows = []
    for period, county in itertools.product(PERIODS[-3:], COUNTIES):
        for cat, age, sex in itertools.product(CATEGORIES, ("0-17", "18-59", "60-79", "80+"), ("1", "2")):
            ethnicity = rng.choice(("07", "07", "07", "01")) if county == "513431" else rng.choice(("01",) * 9 + ("03",))
            rows.append({"period": period, "prefecture_code": _prefecture(county), "county_code": county,
                         "category": cat, "age_band": age, "sex": sex, "ethnicity": ethnicity,
                         "disability": rng.choice(("none", "none", "none", "severe", "other")),
                         "cause": rng.choice(CAUSES), "persons": rng.randint(1, 9)})
    for cause in FORMULA_CAUSES:
        rows.append({"period": LATEST, "prefecture_code": "510100", "county_code": "510104", "category": "dibao",
                     "age_band": "18-59", "sex": "1", "ethnicity": "01", "disability": "none", "cause": cause,
                     "persons": 1})
    return rows


CUBE_SCHEMA = pa.schema([
    ("period", pa.string()), ("prefecture_code", pa.string()), ("county_code", pa.string()),
    ("category", pa.string()), ("age_band", pa.string()), ("sex", pa.string()), ("ethnicity", pa.string()),
    ("disability", pa.string()), ("cause", pa.string()), ("persons", pa.int64()),
])


def to_arrow(rows: list[dict], schema: pa.Schema) -> pa.Table:
    decimals = [f.name for f in schema if pa.types.is_decimal(f.type)]
    converted = [{k: (Decimal(v) if k in decimals and v is not None else v) for k, v in r.items()} for r in rows]
    return pa.Table.from_pylist(converted, schema=schema)


UNITS = ("街道办事处", "乡镇人民政府", "县医疗保障局")
VERIFICATION_SCHEMA = pa.schema([
    ("period", pa.string()), ("prefecture_code", pa.string()), ("county_code", pa.string()),
    ("commissioning_unit", pa.string()), ("aid_item", pa.string()),
    *[(c, pa.int64()) for c in ("requests", "awaiting_receipt", "in_progress", "reported", "rejected",
                                "assessed_eligible", "assessed_ineligible", "assessed_for_review")],
    ("mean_hours_to_report", pa.float64()), ("max_seconds_to_report", pa.int64()),
])


def verification_statistics_rows(rng: random.Random) -> list[dict]:
    rows = []
    for period in PERIODS[-3:]:
        for county in COUNTIES:
            for unit in UNITS:
                item = "medical" if unit == "县医疗保障局" else rng.choice(("dibao", "tekun"))
                reported, rejected, in_progress, awaiting = (rng.randint(0, 6), rng.randint(0, 1), rng.randint(0, 2),
                                                             rng.randint(0, 1))
                eligible = rng.randint(0, reported)
                rows.append({"period": period, "prefecture_code": _prefecture(county), "county_code": county,
                             "commissioning_unit": unit, "aid_item": item,
                             "requests": reported + rejected + in_progress + awaiting, "awaiting_receipt": awaiting,
                             "in_progress": in_progress, "reported": reported, "rejected": rejected,
                             "assessed_eligible": eligible, "assessed_ineligible": reported - eligible,
                             "assessed_for_review": 0,
                             "mean_hours_to_report": round(rng.uniform(2, 48), 1) if reported else None,
                             "max_seconds_to_report": rng.randint(3600, 200000) if reported else None})
    return rows


@dataclass
class Gold:
    lake: Path
    monthly: list[dict]
    detections: list[dict]
    exchange: list[dict]
    cube: list[dict]
    verifications: list[dict]


def build_gold(root: Path, seed: int = 20261129) -> Gold:
    """Write the gold tables the staff app reads under ``root`` (a lake root)."""
    rng = random.Random(seed)
    tables = {
        ("statistics", "monthly_statistics"): (monthly_statistics_rows(rng), MONTHLY_SCHEMA),
        ("verification", "detection_list"): (detection_rows(rng), DETECTION_SCHEMA),
        ("exchange", "exchange_quality"): (exchange_quality_rows(rng), EXCHANGE_SCHEMA),
        ("analysis", "low_income_cube"): (cube_rows(rng), CUBE_SCHEMA),
        ("statistics", "verification_statistics"): (verification_statistics_rows(rng), VERIFICATION_SCHEMA),
    }
    for (area, name), (rows, schema) in tables.items():
        path = root / "gold" / area / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_deltalake(str(path), to_arrow(rows, schema), mode="overwrite")
    return Gold(root, *(rows for rows, _ in tables.values()))


# --- the business database ------------------------------------------------------------------------------

EXTRA_ACCOUNTS = [
    # username, display name, role, jurisdiction, must change the initial password
    ("hedui02", "核对员(青羊区)", "verification_officer", "510105000000", False),
    ("xinren01", "新入职核对员", "verification_officer", "510104000000", True),
    ("suoding01", "锁定测试分析员", "analyst", "510100000000", False),
    ("tingyong01", "停用测试分析员", "analyst", "510100000000", False),
]


@dataclass
class StaffDb:
    home: Path
    url: str
    sessions: object = field(repr=False)


class Clock:
    """A clock the test moves by hand (``auth`` and ``audit`` take time only from the app's clock)."""

    def __init__(self, start: datetime = START):
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta) -> None:
        self.current += timedelta(**delta)


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=90).run()


def login(username: str, password: str = PASSWORD, at: AppTest | None = None) -> AppTest:
    """Fill in and submit the login form (the real form, the real ``auth.login``)."""
    at = at or new_app()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button(key="login_submit").click().run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def audit_rows(staff_db: StaffDb, **where) -> list:
    from sqlalchemy import select

    from jiuzhu.business.models import AuditLog

    with staff_db.sessions() as s:
        query = select(AuditLog).order_by(AuditLog.seq)
        for name, value in where.items():
            query = query.where(getattr(AuditLog, name) == value)
        return list(s.scalars(query))


def _blocks(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from _blocks(child)


def frame(at: AppTest, key: str, *, missing_ok: bool = False):
    """The pandas frame of the table ``ui.table`` rendered under ``key`` (None when absent and allowed)."""
    for block in _blocks(at.main):
        if getattr(block, "key", None) == key:
            tables = [n for n in _blocks(block) if getattr(n, "type", None) == "dataframe"]
            if tables:
                return tables[0].value
    assert missing_ok, f"no table {key!r}"
    return None
