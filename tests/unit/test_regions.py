"""Administrative divisions: the hierarchy every jurisdiction check and report depends on."""

from jiuzhu import regions


def test_sichuan_has_21_prefectures_and_183_counties():
    tree = regions.load()
    assert len(tree.prefectures()) == 21
    assert len(tree.counties()) == 183
    assert len(tree) == 37728


def test_every_region_has_its_parent():
    tree = regions.load()
    for row in tree.rows():
        if row["level"] > 1:
            parent = tree.get(row["parent_code"])
            assert parent.level == row["level"] - 1


def test_every_county_lies_in_its_prefecture():
    tree = regions.load()
    for county in tree.counties():
        assert tree.parent(county.code).code[:4] == county.code[:4]


def test_containment_is_a_prefix_test_at_the_outer_level():
    assert regions.contains("510100", "510104003001")  # Chengdu contains a Jinjiang village
    assert regions.contains("51", "513402")
    assert not regions.contains("510104", "510105")
    assert not regions.contains("510104003", "510104004001")


def test_codes_of_any_natural_length_resolve():
    tree = regions.load()
    assert tree.get("5101").name == "成都市"
    assert tree.get("510104").name == "锦江区"
    assert tree.full_name("510104") == "四川省成都市锦江区"


def test_census_covers_all_counties_and_the_province_total():
    census = regions.county_census()
    assert len(census) == 183
    assert sum(c.pop_total for c in census.values()) == 83_674_866
    assert census["513402"].pop_total > 300_000  # 会理 under its current code


def test_regions_table_for_the_lake_has_one_row_per_region():
    table = regions.to_arrow()
    assert table.num_rows == 37728
    assert table.column("level").to_pylist().count(2) == 21
