"""总览: figures of the user's jurisdiction only; the detection list is personal data (purpose,
audit, masking); exchange health; a Chinese notice when a gold table is missing."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from jiuzhu import departments
from tests.ui.staffkit import LATEST, PERIODS, audit_rows, frame, login, texts

CATEGORY_NAMES = {"dibao": "最低生活保障(低保)", "tekun": "特困人员供养(特困)", "margin": "低保边缘",
                  "temporary": "临时救助"}


def _recipients(gold, prefix: str, period: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in gold.monthly:
        if r["period"] == period and r["county_code"].startswith(prefix):
            out[CATEGORY_NAMES[r["aid_category"]]] += r["recipients"]
    return dict(out)


def _detections(gold, prefix: str) -> list[dict]:
    return [r for r in gold.detections if r["period"] == LATEST and r["county_code"].startswith(prefix)]


def test_county_officer_overview_holds_only_his_county(staff, gold):
    at = login("hedui01")  # 锦江区 510104
    by_category = frame(at, "overview_by_category")
    assert dict(zip(by_category["救助类别"], by_category["救助人数"], strict=True)) == _recipients(gold, "510104", LATEST)
    previous = _recipients(gold, "510104", PERIODS[-2])
    for _, row in by_category.iterrows():
        name = row["救助类别"]
        assert row["人数环比增减"] == _recipients(gold, "510104", LATEST)[name] - previous.get(name, 0)
    total = sum(_recipients(gold, "510104", LATEST).values())
    assert at.metric[0].value == f"{total:,}"
    detections = frame(at, "overview_detections")
    assert set(detections["区划代码"]) == {"510104"}
    assert detections["检出户数"].sum() == len(_detections(gold, "510104"))
    assert frame(at, "overview_by_region", missing_ok=True) is None  # a county has no lower level here


def test_prefecture_analyst_overview_breaks_down_by_the_counties_of_chengdu(staff, gold):
    at = login("fenxi01")  # 成都市 510100
    by_region = frame(at, "overview_by_region")
    assert set(by_region["区划代码"]) == {"510104", "510105"}
    assert list(by_region["区划"]) == ["锦江区", "青羊区"]
    by_category = frame(at, "overview_by_category")
    assert dict(zip(by_category["救助类别"], by_category["救助人数"], strict=True)) == _recipients(gold, "5101", LATEST)
    assert set(frame(at, "overview_detections")["区划代码"]) == {"510104", "510105"}


def test_province_decision_maker_overview_breaks_down_by_prefecture(staff, gold):
    at = login("juece01")
    by_region = frame(at, "overview_by_region")
    assert list(by_region["区划代码"]) == ["510100", "510300", "513400"]
    assert by_region["救助人数"].sum() == sum(_recipients(gold, "51", LATEST).values())


def test_detection_detail_needs_a_purpose_and_leaves_an_audit_entry(staff, gold):
    at = login("hedui01")
    at.button(key="detection_submit").click().run()
    assert texts(at.error) == ["查看个人信息须说明事由"]
    assert frame(at, "overview_detection_rows", missing_ok=True) is None

    at.text_input(key="detection_purpose").input("本月低保动态复核,逐户核实检出家庭")
    at.button(key="detection_submit").click().run()
    rows = frame(at, "overview_detection_rows")
    expected = sorted(_detections(gold, "510104"), key=lambda r: r["household_no"])
    assert sorted(rows["户号"]) == [r["household_no"] for r in expected]
    assert set(rows["区划代码"]) == {"510104"}
    by_household = dict(zip(rows["户号"], rows["家庭月救助金额(元)"], strict=True))
    assert by_household == {r["household_no"]: r["household_amount_yuan"] for r in expected}  # in the clear
    entry = audit_rows(staff, actor="hedui01", action="view_household_report")[-1]
    assert entry.outcome == "allowed"
    assert entry.purpose == "本月低保动态复核,逐户核实检出家庭"
    assert entry.region_code == "510104000000"
    assert json.loads(entry.detail)["rows"] == len(expected)


def test_officer_of_another_county_never_receives_jinjiang_households(staff, gold):
    at = login("hedui02")  # 青羊区 510105
    at.text_input(key="detection_purpose").input("青羊区检出家庭复核")
    at.button(key="detection_submit").click().run()
    rows = frame(at, "overview_detection_rows")
    assert set(rows["区划代码"]) == {"510105"}
    assert not [h for h in rows["户号"] if not h.startswith("510105")]
    assert set(frame(at, "overview_detections")["区划代码"]) == {"510105"}
    assert set(frame(at, "overview_by_category")["救助人数"]) <= set(_recipients(gold, "510105", LATEST).values())


def test_supervisor_sees_the_detection_list_with_amounts_masked(staff, gold):
    at = login("jijian01")  # 纪检监察员, province: may read the list, not the amounts in the clear
    at.text_input(key="detection_purpose").input("核查检出家庭的处置情况")
    at.button(key="detection_submit").click().run()
    rows = frame(at, "overview_detection_rows")
    assert len(rows) == len(_detections(gold, "51"))
    assert set(rows["家庭月救助金额(元)"]) == {"***"}
    assert set(rows["家庭月人均收入(元)"]) == {"***"}
    assert rows["户号"].str.len().eq(15).all()


def test_analyst_is_offered_no_household_detail(staff):
    at = login("fenxi01")
    assert not [w for w in at.text_input if w.key == "detection_purpose"]
    assert any("分析员无权查看家庭经济状况核对报告" in c for c in texts(at.caption))
    for df in at.dataframe:
        assert "户号" not in df.value.columns


def test_township_case_worker_gets_no_county_rows(staff):
    at = login("jingban01")  # a township of 锦江区: the gold tables are by county
    assert not at.exception
    assert any("县级以下" in i for i in texts(at.info))
    assert frame(at, "overview_by_category", missing_ok=True) is None
    assert frame(at, "overview_detections", missing_ok=True) is None
    assert len(frame(at, "overview_exchange")) == len(departments.all_departments())


def test_exchange_health_names_every_department_in_chinese(staff, gold):
    at = login("fenxi01")
    health = frame(at, "overview_exchange")
    assert set(health["共享单位"]) == {d.short_name for d in departments.all_departments()}
    assert set(health["最近数据期"]) == {LATEST}
    delivered = {r["department"]: r["delivered"] for r in gold.exchange if r["period"] == LATEST}
    by_name = dict(zip(health["共享单位"], health["最近月报送行数"], strict=True))
    assert by_name == {departments.get(slug).short_name: n for slug, n in delivered.items()}


@pytest.mark.parametrize("page", ["views/overview.py", "views/analysis.py"])
def test_missing_gold_tables_are_announced_in_chinese(staff, monkeypatch, tmp_path, page):
    monkeypatch.setenv("JIUZHU_LAKE", str(tmp_path / "empty-lake"))
    at = login("juece01")
    at.switch_page(page).run()
    assert not at.exception
    notices = " ".join(texts(at.info))
    assert "尚未生成" in notices
    assert not at.dataframe
