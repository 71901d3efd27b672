"""Served assessments: a request naming exactly a registered household, on the data the batch marts
were built from, is answered with the marts' latest row for every household of the tiny province;
anything else (other members, an earlier date, other versions) is computed; the report is the same
either way."""

import datetime as dt

import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable

from jiuzhu import ids
from tests.rows import typed
from verification import ondemand, report, served, serving

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]


@pytest.fixture(scope="module")
def published(warehouse):
    proc, wh, lake_root = warehouse
    assert proc.returncode == 0
    versions = ondemand.resolve_versions(lake_root, None, use_index=False)  # what the warehouse was built from
    served.publish_from_warehouse(lake_root, wh, served.build_record(versions, "0000-00"))
    index = serving.ServingIndex(ondemand.serving_index_path(lake_root))
    index.refresh({**ondemand.indexed_tables(lake_root), **served.tables(lake_root)})
    index.close()
    with duckdb.connect(str(wh), read_only=True) as con:
        profile = pl.from_arrow(con.sql("select * from household_profile").to_arrow_table())
        reasons = pl.from_arrow(con.sql("select * from household_assessment_reasons").to_arrow_table())
    persons = pl.from_arrow(DeltaTable(str(lake_root / "silver" / "persons")).to_pyarrow_table())
    by_household = persons.group_by("household_no").agg("person_id", "relation")
    members = {h: [ondemand.Member(p, r) for p, r in sorted(zip(ps, rs, strict=True))]
               for h, ps, rs in by_household.iter_rows()}
    return lake_root, versions, profile, reasons, members


def _latest(profile: pl.DataFrame, reasons: pl.DataFrame, household: str) -> tuple[list[dict], list[dict]]:
    rows = profile.filter(pl.col("household_no") == household).sort("period")
    last = rows.get_column("period").max()
    return (rows.filter(pl.col("period") == last).to_dicts(),
            reasons.filter((pl.col("household_no") == household) & (pl.col("period") == last))
            .sort("reason_code").to_dicts())


def test_every_household_is_served_the_batch_marts_latest_row(published, tmp_path):
    lake_root, _, profile, reasons, members = published
    households = profile.get_column("household_no").unique().sort().to_list()
    assert len(households) > 500
    for household in households:
        result = ondemand.assess(lake_root, members[household], work_dir=tmp_path, latest_only=True)
        assert result.source == "served", household
        want_profile, want_reasons = _latest(profile, reasons, household)
        assert typed(result.profile) == typed(want_profile), household
        assert typed(result.reasons) == typed(want_reasons), household
        assert result.inputs["persons"].num_rows == len(members[household])  # the report's rows are read too


def test_computed_latest_month_equals_the_served_one(published, tmp_path, monkeypatch):
    """The computed path (the served one switched off) gives the same rows for the same request."""
    lake_root, _, profile, reasons, members = published
    sample = profile.filter(pl.col("assessment") != "符合").get_column("household_no").unique().sort().head(8)
    for household in sample:
        fast = ondemand.assess(lake_root, members[household], work_dir=tmp_path, latest_only=True)
        with monkeypatch.context() as m:
            m.setattr(served, "lookup", lambda *a: None)
            slow = ondemand.assess(lake_root, members[household], work_dir=tmp_path, latest_only=True)
        assert (fast.source, slow.source) == ("served", "serving_index")
        assert typed(fast.profile) == typed(slow.profile), household
        assert typed(fast.reasons) == typed(slow.reasons), household
        assert fast.table_versions == slow.table_versions


def test_the_report_is_the_same_served_or_computed(published, tmp_path, monkeypatch):
    lake_root, _, profile, _, members = published
    household = profile.filter(pl.col("assessment") == "不符合").get_column("household_no").sort()[0]

    class Request:
        request_no, commissioning_unit, aid_item, purpose, authorisation_ref = "HD-1", "测试", "dibao", "测试", "A-1"
        region_code, verified_by, reviewed_by = "510000000000", "a", "b"

    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)

    def content():
        a = ondemand.assess(lake_root, members[household], work_dir=tmp_path, latest_only=True)
        return a.source, report.build_content(report_no="BG-1", request=Request, members=members[household],
                                              assessment=a, issued_at=now, issued_by="a", as_of=now)

    fast = content()
    with monkeypatch.context() as m:
        m.setattr(served, "lookup", lambda *a: None)
        slow = content()
    assert (fast[0], slow[0]) == ("served", "serving_index")
    assert fast[1] == slow[1]


def test_other_members_or_other_versions_are_computed(published, tmp_path):
    lake_root, versions, profile, _, members = published
    large = next(h for h, ms in sorted(members.items()) if len(ms) >= 3)
    part = ondemand.assess(lake_root, members[large][:-1], work_dir=tmp_path, latest_only=True)
    assert part.source == "serving_index"  # a member left out: not the household the marts assessed
    assert part.profile and part.profile[0]["household_no"] == large
    other = next(h for h in sorted(members) if h != large)
    mixed = ondemand.assess(lake_root, members[large] + members[other][:1], work_dir=tmp_path, latest_only=True)
    assert mixed.source == "serving_index" and "+" in mixed.profile[0]["household_no"]
    index = serving.ServingIndex(ondemand.serving_index_path(lake_root))
    earliest = index.state()["persons"][0]
    index.close()
    if versions["persons"] > earliest:  # an earlier persons version than the build read
        older = {**versions, "persons": versions["persons"] - 1}
        past = ondemand.assess(lake_root, members[large], versions=older, work_dir=tmp_path, latest_only=True)
        assert past.source == "serving_index"
    moved = {**versions, "policy_standards": None}  # a set of versions no build read
    index = serving.ServingIndex(ondemand.serving_index_path(lake_root))
    keys = [ids.to_key(ids.parse(m.person_id).number) for m in members[large]]
    registered = index.rows("persons", versions["persons"], keys)
    assert served.lookup(index, versions, keys, registered) is not None
    assert served.lookup(index, moved, keys, registered) is None
    index.close()
    early = ondemand.assess(lake_root, members[large], as_of=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                            work_dir=tmp_path, latest_only=True)
    assert early.source != "served"


def test_after_a_change_to_the_models_the_result_is_computed_until_the_next_build(published, tmp_path,
                                                                                  monkeypatch):
    lake_root, _, profile, _, members = published
    household = profile.get_column("household_no").sort()[0]
    assert ondemand.assess(lake_root, members[household], work_dir=tmp_path, latest_only=True).source == "served"
    monkeypatch.setattr(served, "definition", lambda: "models-changed-since")
    assert ondemand.assess(lake_root, members[household], work_dir=tmp_path, latest_only=True).source != "served"


def test_each_served_version_keeps_what_it_was_built_from(published):
    lake_root, versions, _, _, _ = published
    index = serving.ServingIndex(ondemand.serving_index_path(lake_root))
    built = index.version_built_from(served.PROFILE, served.built_from(served.build_record(versions, "0000-00")))
    assert built == DeltaTable(str(served.paths(lake_root)[served.PROFILE])).version()
    other = served.build_record({**versions, "persons": -1}, "0000-00")
    assert index.version_built_from(served.PROFILE, served.built_from(other)) is None
    changed = served.build_record(versions, "0000-00", model_definition="another-definition")
    assert index.version_built_from(served.PROFILE, served.built_from(changed)) is None
    index.close()
