"""人员查询: the directory search finds a person by a partial name, a homophone, pinyin, initials or a
partial ID, only inside the region asked for, best matches first, and refuses what it cannot search."""

import datetime as dt

import polars as pl
import pytest

from jiuzhu import ids
from verification import directory


def person(key: int, name: str, region: str, alive: bool = True) -> dict:
    body = f"{region[:6]}19800101{key:03d}"
    full, initials = directory.pinyin_of(name)
    return {"person_key": key, "person_id": body + ids.check_char(body), "person_name": name, "sex": "1",
            "ethnicity": "01", "birth_date": dt.date(1980, 1, 1), "household_no": f"{region[:6]}{key:09d}",
            "relation": "02", "region_code": region, "alive": alive, "name_pinyin": full, "name_initials": initials}


@pytest.fixture
def people() -> pl.DataFrame:
    return pl.DataFrame([person(1, "张伟", "510104017001"), person(2, "章伟", "510104017001"),
                         person(3, "张伟民", "510104018002"), person(4, "王芳", "510104017001"),
                         person(5, "张伟", "510302001001"), person(6, "张伟", "510104019003", alive=False)])


def names(found) -> list[str]:
    return found.rows["person_name"].to_list()


def test_a_name_finds_the_exact_name_first_then_longer_names_then_homophones(people):
    found = directory.search(people, "张伟", "510104")
    assert found.kind == "name"
    assert names(found) == ["张伟", "张伟", "张伟民", "章伟"]  # the living before the dead of one rank
    assert found.rows["match"].to_list() == ["姓名一致", "姓名一致", "姓名开头一致", "同音"]
    assert found.rows["alive"].to_list()[:2] == [True, False]


def test_pinyin_and_initials_find_the_same_people(people):
    assert set(names(directory.search(people, "zhangwei", "510104"))) == {"张伟", "章伟", "张伟民"}
    by_initials = directory.search(people, "ZW", "510104")
    assert by_initials.kind == "pinyin" and set(names(by_initials)) == {"张伟", "章伟", "张伟民"}


def test_a_partial_id_finds_by_prefix_suffix_or_any_run(people):
    target = people.filter(pl.col("person_key") == 4)["person_id"][0]
    assert names(directory.search(people, target[-6:], "510104")) == ["王芳"]
    assert names(directory.search(people, target, "510104")) == ["王芳"]
    assert directory.search(people, target[-6:].lower(), "510104").rows.height == 1


def test_the_search_never_leaves_the_region(people):
    regions = directory.search(people, "张伟", "510104").rows["region_code"].to_list()
    assert regions and all(r.startswith("510104") for r in regions)
    assert names(directory.search(people, "张伟", "510302")) == ["张伟"]


def test_results_are_capped_and_say_so(people):
    found = directory.search(people, "zw", "5101", limit=2)
    assert found.rows.height == 2 and found.truncated


@pytest.mark.parametrize("query", ["", "1", "12a4", "张 伟", "a", "<script>"])
def test_what_cannot_be_searched_is_refused_with_a_chinese_hint(people, query):
    with pytest.raises(directory.QueryError, match="请输入姓名"):
        directory.search(people, query, "510104")
