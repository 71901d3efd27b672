"""人员查询: an officer finds people of the county by name, homophone or partial ID with a purpose,
opens a household, and both steps are audited without the name or number typed; a township worker
finds only the township's people; a search without a purpose is refused and leaves no trace."""

from __future__ import annotations

import json

import pytest
from deltalake import write_deltalake

from jiuzhu import lake
from tests.ui.staffkit import audit_rows, login, texts
from tests.unit.test_directory import person
from verification import associations, directory

PAGE = "views/search.py"


@pytest.fixture
def people(staff, gold, monkeypatch):
    import polars as pl

    rows = [person(1, "张伟", "510104017001"), person(2, "章伟", "510104017001"), person(3, "张伟民", "510104018002"),
            person(4, "王芳", "510104017001"), person(5, "张伟", "510302001001")]
    table = pl.DataFrame(rows)
    write_deltalake(str(lake.table_path(gold.lake, "gold", *directory.GOLD)), table.to_arrow(), mode="overwrite")
    persons = table.select("person_key", "household_no", "region_code").to_arrow()
    write_deltalake(str(lake.table_path(gold.lake, "silver", "persons")), persons, mode="overwrite")
    vehicles = pl.DataFrame({"person_key": [1, 2], "plate_no": ["川A12345", "川A12345"]}).to_arrow()
    write_deltalake(str(lake.table_path(gold.lake, "silver", "vehicles")), vehicles, mode="overwrite")
    associations.publish(gold.lake)  # the screens read the links from gold
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")  # the pseudonyms of the audit trail
    return table


def _search(username: str, query: str, purpose: str):
    at = login(username)
    at.switch_page(PAGE).run()
    at.text_input(key="search_query").input(query)
    at.text_input(key="search_purpose").input(purpose)
    at.button(key="search_submit").click().run()
    assert not at.exception, at.exception
    return at


def test_an_officer_finds_by_name_and_homophone_and_opens_a_household_audited(staff, people):
    before = len(audit_rows(staff, action="search_person"))
    at = _search("hedui01", "张伟", "办理低保申请,核实申请人身份")
    assert not at.error, texts(at.error)
    rows = at.dataframe[0].value
    assert rows["姓名"].tolist() == ["张伟", "张伟民", "章伟"]  # 自贡's 张伟 is outside 锦江区
    assert rows["匹配方式"].tolist() == ["姓名一致", "姓名开头一致", "同音"]
    entries = audit_rows(staff, action="search_person")
    assert len(entries) == before + 1 and entries[-1].actor == "hedui01"
    detail = json.loads(entries[-1].detail)
    assert detail["query_kind"] == "name" and "张伟" not in entries[-1].detail  # the name typed is not kept
    at.selectbox(key="search_chosen").set_value(1).run()
    at.button(key="search_household").click().run()
    assert not at.exception, at.exception
    members = at.dataframe[1].value
    assert members["公民身份号码"].tolist() == people.filter(people["person_key"] == 1)["person_id"].to_list()
    links = at.dataframe[2].value  # 关联关系: this household shares a vehicle with 章伟's household
    assert len(links) == 1 and (links["关联方式"][0], links["资产标识"][0]) == ("机动车号牌", "川A12345")
    assert links["关联家庭户号"][0] == people.filter(people["person_key"] == 2)["household_no"][0]
    assert links["关联家庭所在地"][0].startswith("四川省成都市锦江区锦官驿街道")
    opened = audit_rows(staff, action="view_person", actor="hedui01")
    assert opened and opened[-1].subject_key and len(opened[-1].subject_key) == 32


def test_a_partial_id_works_and_a_township_sees_only_its_people(staff, people):
    target = people.filter(people["person_key"] == 4)["person_id"][0]
    at = _search("jingban01", target[-6:], "核实申请人")
    assert at.dataframe[0].value["姓名"].tolist() == ["王芳"]
    at = _search("jingban01", "zhangwei", "核实申请人")
    assert set(at.dataframe[0].value["户籍地"].map(lambda r: "锦官驿" in r)) == {True}


def test_without_a_purpose_the_search_is_refused_and_not_audited(staff, people):
    before = len(audit_rows(staff, action="search_person"))
    at = _search("hedui01", "张伟", "")
    assert texts(at.error) == ["查询个人信息须说明事由"] and not at.dataframe
    at = _search("hedui01", "<b>", "核实")
    assert "请输入姓名" in texts(at.error)[0]
    assert len(audit_rows(staff, action="search_person")) == before
