"""Policy tables: a standard must exist for every place and month the platform assesses."""

import datetime as dt
import itertools

from jiuzhu import policy, regions


def test_every_county_has_dibao_and_tekun_standards_2024_to_2026():
    for county, area, year, month in itertools.product(
        [c.short_code for c in regions.load().counties()], ["urban", "rural"], [2024, 2025, 2026], [1, 6, 12]
    ):
        day = dt.date(year, month, 1)
        assert policy.standard(county, area, "dibao", day).amount_yuan > 0
        assert policy.standard(county, area, "tekun", day).amount_yuan > policy.standard(county, area, "dibao", day).amount_yuan * 0.99


def test_no_two_rows_of_one_region_overlap_in_time():
    rows = sorted(policy.standards(), key=lambda s: (s.region_code, s.area_type, s.aid_item, s.effective_from))
    for a, b in itertools.pairwise(rows):
        if (a.region_code, a.area_type, a.aid_item) == (b.region_code, b.area_type, b.aid_item):
            assert a.effective_to < b.effective_from, (a, b)


def test_every_row_names_its_source():
    assert {s.source for s in policy.standards()} <= {"published", "secondary", "synthetic"}
    published = [s for s in policy.standards() if s.source == "published"]
    assert any(s.amount_yuan == 615 and s.region_code == "510000" for s in published)
