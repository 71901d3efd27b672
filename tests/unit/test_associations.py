"""关联关系: a vehicle, a home or a business held by members of two households links them, named by
the asset; what members of one household share with each other is no link; a household holding
nothing shared has none."""

import pyarrow as pa
import pytest

from jiuzhu import lake
from verification import associations


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "lake"
    persons = pa.table({"person_key": [1, 2, 3, 4, 5], "household_no": ["H1", "H1", "H2", "H3", "H3"],
                        "region_code": ["510104017001", "510104017001", "510105001001", "513431100001", "513431100001"]})
    lake.write(lake.table_path(root, "silver", "persons"), persons)
    lake.write(lake.table_path(root, "silver", "vehicles"),
               pa.table({"person_key": [1, 3, 4], "plate_no": ["川A12345", "川A12345", "川W00001"]}))
    lake.write(lake.table_path(root, "silver", "real_estate"),
               pa.table({"person_key": [2, 5, 4], "certificate_no": ["C-1", "C-1", "C-9"]}))
    lake.write(lake.table_path(root, "silver", "businesses"),
               pa.table({"person_key": [1, 2], "uscc": ["91510104MA0000000X", "91510104MA0000000X"]}))
    associations.publish(root)  # what the serving_index job does
    return root


def test_shared_assets_link_households_and_name_the_asset(root):
    found = associations.links(root, "H1").to_dicts()
    assert [(r["other_household_no"], r["kind"], r["asset_id"]) for r in found] == [
        ("H2", "机动车号牌", "川A12345"), ("H3", "不动产权证", "C-1")]
    assert {r["person_key"] for r in found} == {1, 2}


def test_what_one_household_shares_inside_is_no_link(root):
    found = associations.links(root, "H1")
    assert "统一社会信用代码" not in found.get_column("kind").to_list()  # both holders are in H1


def test_a_household_with_nothing_shared_has_no_links(root, tmp_path):
    assert associations.links(root, "H9").is_empty()
    assert associations.links(tmp_path / "nowhere", "H1").is_empty()
    assert associations.build(tmp_path / "nowhere").is_empty()


def test_each_link_is_seen_from_both_households(root):
    assert [r["other_household_no"] for r in associations.links(root, "H2").to_dicts()] == ["H1"]
    assert [r["other_household_no"] for r in associations.links(root, "H3").to_dicts()] == ["H1"]
