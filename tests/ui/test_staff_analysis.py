"""分布分析: only the jurisdiction's counts, drill-down province → prefecture → county, an offline
choropleth, and exports that are audited and neutralise formula cells."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict

import openpyxl
import pytest

from dashboards.staff import auth_state, services
from jiuzhu import access, regions
from tests.ui.staffkit import FORMULA_CAUSES, LATEST, audit_rows, frame, login, texts

TABLES = ["按县(市、区)", "按年龄段", "按性别", "按民族", "按残疾状况", "按救助类别", "按致困原因", "月度趋势"]


def _persons(gold, prefix: str, period: str | None = LATEST) -> int:
    return sum(r["persons"] for r in gold.cube
               if r["county_code"].startswith(prefix) and (period is None or r["period"] == period))


def _open_analysis(username: str):
    at = login(username)
    at.switch_page("views/analysis.py").run()
    assert not at.exception
    assert texts(at.title) == ["分布分析"]
    return at


def test_county_officer_analysis_counts_only_his_county(staff, gold):
    at = _open_analysis("hedui01")  # 锦江区
    assert at.selectbox(key="analysis_prefecture_fixed").disabled
    assert at.selectbox(key="analysis_county_fixed").disabled
    by_region = frame(at, "analysis_by_region")
    assert list(by_region["区划代码"]) == ["510104"]
    total = _persons(gold, "510104")
    assert by_region["人数"].sum() == total
    for title in TABLES[1:-1]:
        assert frame(at, f"analysis_table_{title}")["人数"].sum() == total, title
    monthly = defaultdict(int)
    for r in gold.cube:
        if r["county_code"] == "510104":
            monthly[r["period"]] += r["persons"]
    trend = frame(at, "analysis_table_月度趋势").groupby("月份")["人数"].sum().to_dict()
    assert trend == dict(monthly)


def test_province_user_drills_down_from_province_to_prefecture_to_county(staff, gold):
    at = _open_analysis("juece01")
    by_county = frame(at, "analysis_by_region")
    assert len(by_county) == len(regions.load().counties())  # every county of Sichuan, zeros included
    assert by_county["人数"].sum() == _persons(gold, "51")

    at.radio(key="analysis_map_level").set_value(2).run()
    by_prefecture = frame(at, "analysis_by_region")
    assert len(by_prefecture) == 21
    assert by_prefecture.set_index("区划代码")["人数"].to_dict()["513400"] == _persons(gold, "5134")

    at.selectbox(key="analysis_prefecture").set_value("510100000000").run()
    chengdu = frame(at, "analysis_by_region")
    assert set(chengdu["区划代码"]) == {r.short_code for r in regions.load().children("510100000000")}
    assert chengdu["人数"].sum() == _persons(gold, "5101")

    at.selectbox(key="analysis_county_510100000000").set_value("510105000000").run()
    qingyang = frame(at, "analysis_by_region")
    assert list(qingyang["区划代码"]) == ["510105"]
    assert frame(at, "analysis_table_按性别")["人数"].sum() == _persons(gold, "510105")


def test_prefecture_analyst_cannot_drill_outside_chengdu(staff, gold):
    at = _open_analysis("fenxi01")
    prefecture = at.selectbox(key="analysis_prefecture_fixed")
    assert prefecture.disabled and prefecture.options == ["成都市"]
    counties = at.selectbox(key="analysis_county_510100000000")
    assert len(counties.options) == 1 + len(regions.load().children("510100000000"))
    assert frame(at, "analysis_by_region")["人数"].sum() == _persons(gold, "5101")

    analyst = auth_state.StaffUser("fenxi01", "分析员", access.ANALYST, "510100000000", True, False)
    with pytest.raises(access.AccessDenied):
        services.cube(analyst, "510300000000")  # 自贡市: a tampered selection is refused by the service


def test_map_is_drawn_offline_from_the_bundled_boundaries(staff):
    at = _open_analysis("fenxi01")
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    maps = [s for s in specs if s.get("mark", {}).get("type") == "geoshape"]
    assert len(maps) == 1
    shapes = maps[0]["datasets"][maps[0]["data"]["name"]]  # GeoJSON stays inline in the spec
    assert {f["properties"]["adcode"] for f in shapes["features"]} == {
        r.short_code for r in regions.load().children("510100000000")}
    assert '"url"' not in json.dumps(maps[0])  # no tiles, nothing to download
    assert any("天地图" in c for c in texts(at.caption))


def _export(at):
    at.button(key="analysis_export_prepare").click().run()
    assert not at.exception and not at.error
    return at.session_state["analysis_export"]


def test_export_is_audited_before_the_files_exist_and_neutralises_formula_cells(staff, gold):
    at = _open_analysis("fenxi01")
    before = len(audit_rows(staff, actor="fenxi01", action="export_aggregate"))
    prepared = _export(at)
    entries = audit_rows(staff, actor="fenxi01", action="export_aggregate")
    assert len(entries) == before + 1 and entries[-1].outcome == "allowed"
    assert json.loads(entries[-1].detail)["tables"] == TABLES
    assert [b.label for b in at.get("download_button")] == ["下载 CSV", "下载 XLSX", "全部表格(XLSX)"]
    assert list(prepared.files) == TABLES

    csv_bytes, xlsx_bytes = prepared.files["按致困原因"]
    assert csv_bytes.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(csv_bytes.decode("utf-8-sig"))))
    assert rows[0] == ["致困原因", "人数", "占比"]
    causes = {r[0] for r in rows[1:]}
    assert {"'" + c for c in FORMULA_CAUSES} <= causes
    assert not [c for c in causes if c[:1] in "=+-@＝＋－＠"]

    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert {"'" + c for c in FORMULA_CAUSES} <= {v[0] for v in values[1:]}
    assert all(isinstance(v[1], int) for v in values[1:])  # counts stay numbers
    assert sum(v[1] for v in values[1:]) == _persons(gold, "5101")

    workbook = openpyxl.load_workbook(io.BytesIO(prepared.workbook))
    assert workbook.sheetnames == TABLES


def test_roles_without_export_permission_are_offered_no_export(staff):
    at = _open_analysis("hedui01")
    assert not [b for b in at.button if b.key == "analysis_export_prepare"]
    assert any("核对员无权导出统计数据" in c for c in texts(at.caption))
    assert "analysis_export" not in at.session_state
