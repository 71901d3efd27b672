"""The household economic-status verification report (居民家庭经济状况核对报告), VF-4.

``build_content`` turns a request, its assessment and the family's rows into the report's content:
a plain dict with every figure, its source department and data date. Its canonical JSON's SM3 is
the document hash printed on every page and carried by the QR code. ``render_pdf`` lays it out as
an A4 document (WeasyPrint, with the Noto CJK fonts embedded) and ``signing.sign_pdf`` signs the
file. Nothing in the content depends on when it is rendered: regenerated from the same table
versions, officer and issue time, the report is the same, hash and bytes (DR-4).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
from functools import cache
from pathlib import Path

import jinja2
import pyarrow as pa
import segno

from jiuzhu import departments, masking, regions
from jiuzhu.errors import CodedError
from jiuzhu.supervision import BEIJING
from schemas import contracts
from verification import signing

TEMPLATES = Path(__file__).with_name("templates")
AID_ITEMS_ZH = {"dibao": "最低生活保障", "tekun": "特困人员救助供养", "margin": "低保边缘家庭认定",
                "temporary": "临时救助", "medical": "医疗救助", "education": "教育救助", "housing": "住房救助"}
# GB/T 4761-2008 family relations, by code and by its first digit
RELATIONS = {"01": "本人", "02": "户主", "10": "配偶", "11": "夫", "12": "妻", "20": "子", "30": "女",
             "40": "孙子女或外孙子女", "50": "父母", "51": "父亲", "52": "母亲", "60": "祖父母或外祖父母",
             "70": "兄弟姐妹", "80": "其他亲属", "99": "非亲属"}
_RELATION_GROUPS = {"1": "配偶", "2": "子", "3": "女", "4": "孙子女或外孙子女", "5": "父母", "6": "祖父母或外祖父母",
                    "7": "兄弟姐妹", "8": "其他亲属", "9": "非亲属"}

# What the report shows of each table: title, department, columns, and which rows belong to the
# assessed month ("month": the month's rows; "year": the 12 months up to it; "all": every current row).
SECTIONS = [
    ("income", "employment_income", "工资性收入、养老金及失业保险金", "month",
     ["person_name", "employment_status", "employer_type", "wage", "pension", "unemployment_benefit"]),
    ("income", "taxable_income", "个人所得税申报收入", "month", ["person_name", "income_type", "income_amount", "tax_paid"]),
    ("social_insurance", "housing_fund", "住房公积金缴存", "month",
     ["person_name", "employer_type", "contribution_base", "monthly_contribution"]),
    ("assets", "deposits", "存款及金融资产", "month", ["person_name", "bank_code", "account_no", "deposit_balance",
                                                     "financial_assets"]),
    ("assets", "real_estate", "不动产登记", "all", ["person_name", "certificate_no", "region_code", "usage", "area_m2",
                                                  "registration_date", "change_type"]),
    ("assets", "vehicles", "机动车登记", "all", ["person_name", "plate_no", "vehicle_type", "first_registration_date",
                                               "vehicle_value", "vehicle_status"]),
    ("assets", "businesses", "市场主体登记", "all", ["person_name", "entity_name", "entity_type", "registered_capital",
                                                 "established_date", "registration_status"]),
    ("spending", "medical_claims", "医疗费用结算(近12个月)", "year",
     ["person_name", "settlement_date", "visit_type", "hospital_level", "total_cost", "fund_paid", "assistance_paid",
      "out_of_pocket", "diagnosis_category"]),
    ("status", "disability", "残疾人证", "all", ["person_name", "certificate_no", "disability_type", "disability_grade",
                                              "issue_date", "certificate_status"]),
    ("status", "deaths", "死亡登记", "all", ["person_name", "death_date", "death_cause"]),
    ("status", "monitoring_targets", "防止返贫监测对象", "all", ["person_name", "target_type", "risk_cause",
                                                         "identified_date", "monitoring_status"]),
    ("status", "assistance_roster", "社会救助在册信息", "month", ["person_name", "aid_item", "relation", "start_date",
                                                          "household_size", "monthly_amount"]),
]
STANDARD_SOURCES = {"published": "公开发布的低保标准", "synthetic": "合成数据:未找到公开发布的本地标准,按规则估算",
                    "secondary": "公开报道中的标准(二手来源)"}
GROUPS = {"income": "一、收入情况", "social_insurance": "二、社会保险与公积金", "assets": "三、财产情况",
          "spending": "四、刚性支出", "status": "五、人员状况及救助记录"}


class ReportError(CodedError):
    """A report that cannot be issued or regenerated, with the reason."""


def relation_zh(code: str | None) -> str:
    if not code:
        return "—"
    return RELATIONS.get(code) or _RELATION_GROUPS.get(code[0], "其他") + f"({code})"


def _beijing(moment: _dt.datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y年%m月%d日 %H:%M")


@cache
def _labels(department: str) -> dict[str, tuple[str, dict | None, str | None]]:
    """Column name → (Chinese label, code list, unit) from the department's latest contract."""
    out = {}
    for f in contracts.latest(department).fields:
        label = f.description.split("(")[0].split("(")[0].strip() or f.name
        # silver holds every amount in yuan, whatever unit the department delivered in
        unit = "元" if f.unit in ("fen", "yuan", "wanyuan") else ("平方米" if f.name == "area_m2" else None)
        out[f.name] = (label, {str(k): v for k, v in f.codes.items()} if f.codes else None, unit)
    return out


def _department_of(table: str) -> str | None:
    return next((d.slug for d in departments.all_departments() if d.entity == table), None)


def _cell(column: str, value, codes: dict | None, tree) -> str:
    if value is None:
        return "—"
    if codes and str(value) in codes:
        return codes[str(value)]
    if column == "account_no":
        return masking.mask_account(str(value)) or "—"
    if column == "region_code":
        try:
            return tree.full_name(regions.normalise_code(str(value)))
        except (KeyError, ValueError):
            return str(value)
    if column == "aid_item":
        return AID_ITEMS_ZH.get(str(value), str(value))
    if column == "relation":
        return relation_zh(str(value))
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def _month_of(value) -> str | None:
    if value is None:
        return None
    return value.isoformat()[:7] if isinstance(value, _dt.date) else str(value)[:7]


def _in_window(row: dict, window: str, period: str) -> bool:
    if window == "all":
        return True
    month = row.get("period") or _month_of(row.get("settlement_date")) or row.get("_period")
    if window == "month":
        return month == period
    first = f"{int(period[:4]) - 1}-{period[5:]}"
    return month is not None and first < month <= period  # the 12 months up to the assessed one


def _data_date(ledgers: dict[str, pa.Table], department: str, period: str) -> tuple[str | None, str | None]:
    """The extract date and batch of the department's latest loaded batch for a month up to ``period``."""
    table = ledgers.get(f"batches_{department}")
    if table is None or table.num_rows == 0:
        return None, None
    rows = [r for r in table.select(["period", "status", "extract_date", "batch_key"]).to_pylist()
            if r["status"] in ("loaded", "superseding") and r["period"] and r["period"] <= period]
    if not rows:
        return None, None
    latest = max(rows, key=lambda r: (r["period"], r["extract_date"] or ""))
    return latest["extract_date"], latest["batch_key"]


def build_content(*, report_no: str, request, members: list, assessment, issued_at: _dt.datetime,
                  issued_by: str, as_of: _dt.datetime) -> dict:
    """The report's content (everything printed, nothing about how it is printed)."""
    if not assessment.profile:
        raise ReportError("NO_ASSESSMENT", "没有可出具报告的核对结果:所列成员在核对时点没有户籍数据")
    latest = assessment.profile[-1]
    period = latest["period"]
    tree = regions.load()
    inputs = assessment.inputs
    persons = {r["person_id"]: r for r in inputs["persons"].to_pylist()} if "persons" in inputs else {}
    deaths = {r["person_id"]: r for r in inputs.get("deaths", pa.table({})).to_pylist()}
    member_rows = []
    for i, m in enumerate(members, 1):
        p = persons.get(m.person_id, {})
        status = "死亡" if m.person_id in deaths or p.get("alive") is False else ("在册" if p else "公安户籍无记录")
        member_rows.append({
            "no": i, "name": p.get("person_name") or "—", "relation": relation_zh(m.relation),
            "person_id": m.person_id, "sex": {"1": "男", "2": "女"}.get(str(p.get("sex")), "—"),
            "birth_date": _cell("birth_date", p.get("birth_date"), None, tree),
            "region": _cell("region_code", p.get("region_code"), None, tree) if p.get("region_code") else "—",
            "household_no": p.get("household_no") or "—", "status": status,
        })
    ledgers = {n: t for n, t in inputs.items() if n.startswith("batches_")}
    sections = []
    for group, table, title, window, columns in SECTIONS:
        data = inputs.get(table)
        rows = [r for r in (data.to_pylist() if data is not None else []) if _in_window(r, window, period)]
        department = _department_of(table)
        if department is None:
            continue
        labels = _labels(department)
        rows.sort(key=lambda r: tuple(str(r.get(c) or "") for c in columns))
        extract_date, batch = _data_date(ledgers, department, period)
        sections.append({
            "group": group, "group_title": GROUPS[group], "table": table, "title": title,
            "department": department, "department_name": departments.get(department).name,
            "data_date": extract_date or "未报送", "batch": batch or "—",
            "columns": [labels.get(c, (c, None, None))[0] + (f"({labels[c][2]})" if c in labels and labels[c][2]
                                                             else "") for c in columns],
            "rows": [[_cell(c, r.get(c), labels.get(c, (None, None, None))[1], tree) for c in columns] for r in rows],
        })
    reasons = [r for r in assessment.reasons if r["period"] == period]
    county = latest["county_code"]
    county_name = tree.full_name(regions.normalise_code(county)) if county else "—"
    return {
        "title": "居民家庭经济状况核对报告",
        "report_no": report_no,
        "request_no": request.request_no,
        "agency": f"{county_name}居民家庭经济状况核对中心",
        "issued_at": _beijing(issued_at),
        "issued_at_iso": issued_at.astimezone(BEIJING).isoformat(timespec="seconds"),
        "as_of": _beijing(as_of),
        "period": period,
        "period_zh": f"{period[:4]}年{int(period[5:7])}月",
        "request": {"commissioning_unit": request.commissioning_unit,
                    "aid_item": AID_ITEMS_ZH.get(request.aid_item, request.aid_item),
                    "purpose": request.purpose, "authorisation_ref": request.authorisation_ref,
                    "region": tree.full_name(request.region_code) if request.region_code in tree else request.region_code},
        "household_no": assessment.household_no,
        "members": member_rows,
        "sections": sections,
        "totals": {k: latest.get(k) for k in (
            "members", "wage_yuan", "business_yuan", "pension_yuan", "unemployment_benefit_yuan",
            "counted_income_yuan", "income_per_capita_yuan", "standard_yuan", "standard_source", "area_type",
            "deposits_yuan", "homes", "max_car_value_yuan", "companies", "sole_trader_capital_yuan",
            "medical_out_of_pocket_yuan", "severely_disabled_members")},
        "standard_basis": STANDARD_SOURCES.get(latest.get("standard_source") or "", latest.get("standard_source")),
        "assessment": latest["assessment"],
        "reasons": [{"code": r["reason_code"], "effect": r["effect"], "text": r["reason_zh"],
                     "departments": "、".join(departments.get(d).short_name for d in (r["departments"] or "").split(",")
                                             if d)} for r in reasons],
        "officers": {"verified_by": request.verified_by, "reviewed_by": request.reviewed_by, "issued_by": issued_by},
        "table_versions": dict(sorted(assessment.table_versions.items())),
    }


def canonical(content: dict) -> bytes:
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def content_hash(content: dict) -> str:
    return signing.sm3(canonical(content))


def qr_payload(content: dict, digest: str, signer: signing.Signer) -> str:
    """What the QR code carries: enough to check the report without the platform (the centre's
    public key verifies the signature over number and content hash) and to look it up with it."""
    body = f"JZHD1|{content['report_no']}|{content['period']}|{digest}|{signer.key_id}"
    return f"{body}|{signer.sign_text(body)}"


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("report.html.j2")


def _yuan(value) -> str:
    return "—" if value is None else f"{value:,.2f}"


def render_html(content: dict, digest: str, qr: str, *, demo: bool) -> str:
    svg = segno.make(qr, error="m").svg_data_uri(scale=2, border=2)
    return _template().render(c=content, digest=digest, qr_svg=svg, yuan=_yuan, demo=demo)


_RENDER_LOCK = threading.Lock()


def write_pdf_at(html: str, base_url: Path, moment: _dt.datetime) -> bytes:
    """WeasyPrint's PDF of ``html`` as of ``moment``: fontTools stamps each embedded font subset with
    "now" unless SOURCE_DATE_EPOCH is set, so the issue time makes the file a function of the content
    alone (the environment is process-wide, so renders take turns). Reports and certificates use it."""
    import weasyprint  # 1-2 s to import: only when a document is rendered

    with _RENDER_LOCK:
        saved = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = str(int(moment.timestamp()))
        try:
            return weasyprint.HTML(string=html, base_url=str(base_url)).write_pdf(custom_metadata=True)
        finally:
            if saved is None:
                os.environ.pop("SOURCE_DATE_EPOCH", None)
            else:
                os.environ["SOURCE_DATE_EPOCH"] = saved


def render_pdf(content: dict, signer: signing.Signer) -> tuple[bytes, str]:
    """The signed PDF and its content hash."""
    digest = content_hash(content)
    html = render_html(content, digest, qr_payload(content, digest, signer), demo=signer.demo)
    pdf = write_pdf_at(html, TEMPLATES, _dt.datetime.fromisoformat(content["issued_at_iso"]))
    return signing.sign_pdf(pdf, content["report_no"], signer), digest
