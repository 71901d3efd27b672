"""统计月报: a decision-maker chooses a month and a county and reads the figures the gold statistics
hold, with month-on-month change; the region list stays inside the jurisdiction; the XLSX and the
PDF are made only after the export is authorised and audited; a role without export is told why."""

from __future__ import annotations

import io
import json
import subprocess

import openpyxl
import pytest

from tests.ui.staffkit import LATEST, PERIODS, audit_rows, login, texts

PAGE = "views/monthly.py"


def _open(username: str):
    at = login(username)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _sum(rows, period, county, key="recipients"):
    return sum(r[key] for r in rows if r["period"] == period and r["county_code"] == county)


def test_a_decision_maker_reads_a_countys_month_as_the_statistics_hold_it(staff, gold):
    at = _open("juece01")
    period = PERIODS[-3]
    at.selectbox(key="monthly_period").set_value(period).run()
    at.selectbox(key="monthly_region").set_value("510104000000").run()
    assert not at.exception, at.exception
    metrics = {m.label: m for m in at.metric}
    expected = _sum(gold.monthly, period, "510104")
    assert metrics["在册救助人数"].value == f"{expected:,}"
    change = expected - _sum(gold.monthly, PERIODS[-4], "510104")
    assert metrics["在册救助人数"].delta == f"{change:+,}"
    by_category = at.dataframe[0].value
    assert int(by_category["救助人数"].sum()) == expected


def test_the_regions_offered_stay_inside_the_jurisdiction(staff):
    at = _open("fenxi01")  # 成都市
    values = at.selectbox(key="monthly_region").options  # as shown: full names
    assert len(values) > 1 and all(v.startswith("四川省成都市") for v in values)


def test_the_month_exports_to_xlsx_and_pdf_after_an_audited_authorisation(staff, gold):
    at = _open("juece01")
    at.selectbox(key="monthly_region").set_value("510104000000").run()
    before = len(audit_rows(staff, action="export_aggregate"))
    at.button(key="monthly_prepare").click().run()
    assert not at.exception, at.exception and not at.error
    entries = audit_rows(staff, action="export_aggregate")
    assert len(entries) == before + 1 and entries[-1].actor == "juece01" and LATEST in entries[-1].purpose
    files = at.session_state["monthly_files"]
    book = openpyxl.load_workbook(io.BytesIO(files.xlsx))
    assert "按救助类别" in book.sheetnames and "月度走势" in book.sheetnames
    sheet = book["按救助类别"]
    total = sum(row[1] for row in sheet.iter_rows(min_row=2, values_only=True))
    assert total == _sum(gold.monthly, LATEST, "510104")
    assert files.pdf.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-", "-"], input=files.pdf, capture_output=True, check=True).stdout.decode("utf-8")
    assert "社会救助统计月报" in text and "锦江区" in text and LATEST in text


def test_a_role_without_export_is_told_why(staff):
    at = _open("hedui01")
    assert not at.button or all(b.key != "monthly_prepare" for b in at.button)
    assert any("无权导出统计数据" in c for c in texts(at.caption))


@pytest.mark.parametrize("username", ["jingban01"])
def test_a_township_account_is_sent_to_the_overview(staff, username):
    at = _open(username)
    assert any("乡镇(街道)账户" in i for i in texts(at.info))


def test_the_verification_business_of_the_region_is_counted_and_charted(staff, gold):
    """核对业务统计 (VF-7): the region's requests by status, result, commissioning unit and aid item,
    with the time to report weighted by the reports issued; only the region's counties count."""
    from tests.ui.staffkit import frame

    at = _open("juece01")
    at.selectbox(key="monthly_region").set_value("510104000000").run()
    assert not at.exception, at.exception
    rows = [r for r in gold.verifications if r["county_code"] == "510104"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["核对申请"] == f"{sum(r['requests'] for r in rows):,}"
    assert metrics["已出具报告"] == f"{sum(r['reported'] for r in rows):,}"
    reported = sum(r["reported"] for r in rows)
    weighted = sum(r["mean_hours_to_report"] * r["reported"] for r in rows if r["reported"]) / reported
    assert metrics["平均办结时长(小时)"] == f"{round(weighted, 1):,.1f}"
    by_unit = frame(at, "monthly_verification_by_unit")
    assert dict(zip(by_unit["委托单位"], by_unit["申请数"], strict=True)) == {
        unit: sum(r["requests"] for r in rows if r["commissioning_unit"] == unit)
        for unit in {r["commissioning_unit"] for r in rows}}
    by_month = frame(at, "monthly_verification_by_month")
    assert list(by_month["月份"]) == sorted({r["period"] for r in rows})
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    titles = {s.get("title", {}).get("text") if isinstance(s.get("title"), dict) else s.get("title") for s in specs}
    assert {"核对结论", "按救助事项", "按委托单位"} <= titles


def test_the_verification_statistics_of_a_prefecture_stay_inside_it(staff, gold):
    at = _open("fenxi01")  # 成都市: 510104 and 510105 of the four generated counties
    assert not at.exception, at.exception
    rows = [r for r in gold.verifications if r["county_code"].startswith("5101")]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["核对申请"] == f"{sum(r['requests'] for r in rows):,}"
    from tests.ui.staffkit import frame

    regions = frame(at, "monthly_verification_by_region")
    assert set(regions["区划代码"]) == {"510104", "510105"}
