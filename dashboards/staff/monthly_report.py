"""统计月报 files: the month's statistics of a region as an XLSX workbook and as a PDF (WeasyPrint,
the Noto CJK fonts embedded), both built only after ``export_aggregate`` is authorised and audited."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pandas as pd

from dashboards.staff import exports, services
from dashboards.staff.runtime import business_session, china_time, now
from jiuzhu import access

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class ReportFiles:
    fingerprint: str
    xlsx: bytes
    pdf: bytes


def _cell(value) -> dict:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return {"text": "—", "num": True}
    if isinstance(value, int | float):
        return {"text": f"{value:,.2f}" if isinstance(value, float) else f"{value:,}", "num": True}
    return {"text": str(value), "num": False}


def _signed(value, money: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+,.2f}" if money else f"{value:+,}"


def tables_of(stats: services.StatisticsOverview) -> dict[str, pd.DataFrame]:
    tables = {"按救助类别": stats.by_category}
    if stats.by_region is not None:
        tables["按下级区划"] = stats.by_region
    tables["月度走势"] = stats.trend.pivot_table(index="月份", columns="救助类别", values="救助人数",
                                            aggfunc="sum").reset_index() if not stats.trend.empty else stats.trend
    return tables


def render_pdf(stats: services.StatisticsOverview, region_name: str) -> bytes:
    import weasyprint  # 1–2 s to import: only when a file is made

    t = stats.totals
    kpis = [{"label": "在册救助人数", "value": f"{t['recipients']:,}", "mom": _signed(t["recipients_mom"]),
             "yoy": _signed(t["recipients_yoy"])},
            {"label": "在册救助户数", "value": f"{t['households']:,}", "mom": _signed(t["households_mom"]),
             "yoy": _signed(t["households_yoy"])},
            {"label": "当月救助金额(元)", "value": f"{t['amount_yuan']:,.2f}",
             "mom": _signed(t["amount_yuan_mom"], True), "yoy": _signed(t["amount_yuan_yoy"], True)}]
    tables = [{"title": title, "columns": list(frame.columns),
               "rows": [[_cell(v) for v in row] for row in frame.astype(object).where(frame.notna(), None).values.tolist()]}
              for title, frame in tables_of(stats).items()]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    html = env.get_template("monthly.html.j2").render(r={
        "region_name": region_name, "period": stats.period, "kpis": kpis, "tables": tables,
        "generated_at": china_time(now(), seconds=False)})
    return weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf()


def prepare(user: access.Principal, stats: services.StatisticsOverview, region_code: str, region_name: str,
            fingerprint: str) -> ReportFiles:
    """Authorise and audit ``export_aggregate`` first, then build the workbook and the PDF."""
    with business_session() as db:
        access.authorize_and_audit(db, user, "export_aggregate", region_code, purpose=f"导出统计月报:{region_name},{stats.period}",
                                   clock=now, detail={"period": stats.period, "formats": ["xlsx", "pdf"]})
    return ReportFiles(fingerprint, exports.to_xlsx_bytes(tables_of(stats)), render_pdf(stats, region_name))
