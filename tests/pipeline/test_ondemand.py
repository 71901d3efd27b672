"""On-demand assessment of one household equals the batch mart's rows (same definition: the
compiled dbt models) for every household of the tiny province, served by the index, and for a
sample read from the lake itself; members from two prefectures are assessed as one family."""

import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable

from tests.rows import typed
from verification import ondemand, serving

# one worker builds the tiny lake and marts once (pytest-xdist --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]


@pytest.fixture(scope="module")
def batch(warehouse):
    proc, wh, lake_root = warehouse
    assert proc.returncode == 0
    with duckdb.connect(str(wh), read_only=True) as con:
        profile = pl.from_arrow(con.sql("select * from household_profile").to_arrow_table())
        reasons = pl.from_arrow(con.sql("select * from household_assessment_reasons").to_arrow_table())
    persons = pl.from_arrow(DeltaTable(str(lake_root / "silver" / "persons")).to_pyarrow_table())
    index = serving.ServingIndex(ondemand.serving_index_path(lake_root))
    index.refresh(ondemand.indexed_tables(lake_root))
    index.close()
    return profile, reasons, persons, lake_root


def _sample(profile: pl.DataFrame) -> list[str]:
    """A fixed sample: failing, review and passing households of the latest month."""
    last = profile.get_column("period").max()
    latest = profile.filter(pl.col("period") == last).sort("household_no")
    out = []
    for result, n in (("不符合", 25), ("需人工复核", 5), ("符合", 20)):
        out += latest.filter(pl.col("assessment") == result).get_column("household_no").head(n).to_list()
    return out


def test_on_demand_assessment_equals_the_batch_mart_for_every_household(batch, tmp_path):
    profile, reasons, persons, lake_root = batch
    households = profile.get_column("household_no").unique().sort().to_list()
    assert len(households) == persons.get_column("household_no").n_unique()
    by_household = persons.group_by("household_no").agg("person_id")
    members_of = dict(zip(by_household.get_column("household_no").to_list(),
                          by_household.get_column("person_id").to_list(), strict=True))
    for household in households:
        result = ondemand.assess(lake_root, [ondemand.Member(p) for p in sorted(members_of[household])],
                                 work_dir=tmp_path)
        assert result.source == "serving_index"
        expected = profile.filter(pl.col("household_no") == household).sort("period").to_dicts()
        assert typed(result.profile) == typed(expected), household
        expected_reasons = reasons.filter(pl.col("household_no") == household).sort("period", "reason_code").to_dicts()
        assert typed(result.reasons) == typed(expected_reasons), household


def test_the_lake_path_gives_the_same_assessment_as_the_batch_mart(batch, tmp_path):
    """Without the index (or for versions it does not hold) the rows are read from the lake."""
    profile, reasons, persons, lake_root = batch
    for household in _sample(profile)[::5]:
        members = [ondemand.Member(p) for p in persons.filter(pl.col("household_no") == household)
                   .get_column("person_id").to_list()]
        result = ondemand.assess(lake_root, members, work_dir=tmp_path, use_index=False)
        assert result.source == "lake"
        expected = profile.filter(pl.col("household_no") == household).sort("period").to_dicts()
        assert typed(result.profile) == typed(expected), household
        expected_reasons = reasons.filter(pl.col("household_no") == household).sort("period", "reason_code").to_dicts()
        assert typed(result.reasons) == typed(expected_reasons), household


def test_members_registered_in_two_prefectures_are_one_family(batch, tmp_path):
    profile, _, persons, lake_root = batch
    alive = persons.filter(pl.col("alive") & (pl.col("relation") == "02"))
    a = alive.filter(pl.col("region_code").str.starts_with("5101")).row(0, named=True)
    b = alive.filter(pl.col("region_code").str.starts_with("5134")).row(0, named=True)
    members = [ondemand.Member(a["person_id"], "02"), ondemand.Member(b["person_id"], "10")]
    result = ondemand.assess(lake_root, members, work_dir=tmp_path)
    assert result.profile, "one complete assessment"
    last = result.profile[-1]
    assert last["household_no"] == "+".join(sorted([a["household_no"], b["household_no"]]))
    assert last["members"] == 2
    assert last["county_code"] == a["region_code"][:6]  # the applicant's (head's) county sets the standard
