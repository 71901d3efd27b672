"""Monitoring on the tiny province, end to end through Dagster: the features mart knows only the
past, the risk model trains on the truth with a time split and is registered, the month is scored
with its drift check, and the warnings reach the township queues explained."""

import json
import shutil

import dagster as dg
import duckdb
import polars as pl
import pytest
from sqlalchemy import select

from jiuzhu import lake
from jiuzhu.business import db
from jiuzhu.business.models import MonitoringWarning
from models import indicators, risk, scoring
from pipelines.defs.foundation.resources import PlatformPaths
from pipelines.defs.monitoring import assets

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]


@pytest.fixture(scope="module")
def features(warehouse):
    proc, wh, _ = warehouse
    assert proc.returncode == 0, proc.stdout[-2000:]
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.sql("select * from main.monitoring_features").to_arrow_table()


def test_every_indicator_reads_a_column_of_the_features_mart(features):
    columns = set(features.column_names)
    config = indicators.load()
    assert {i.feature for i in config.indicators} <= columns
    assert set(risk.FEATURE_NAMES) - {"rural"} <= columns


def test_the_features_count_only_deaths_known_by_the_months_end(features, tiny_province):
    frame = pl.from_arrow(features)
    persons = pl.read_parquet(str(tiny_province / "truth" / "persons" / "*.parquet"),
                              columns=["household_no", "death_month"])
    months = sorted(frame["period"].unique().to_list())
    died = persons.filter(pl.col("death_month") >= 0).with_columns(
        death_period=pl.col("death_month").map_elements(lambda m: months[m] if m < len(months) else "9999",
                                                        return_dtype=pl.Utf8))
    flagged = frame.filter(pl.col("deceased_3m") > 0).select("household_no", "period")
    assert flagged.height > 0, "the tiny province has deaths in its window"
    joined = flagged.join(died, on="household_no", how="left")
    for (household, period), group in joined.group_by(["household_no", "period"]):
        # some member really died in this month or the two before it, never later
        i = months.index(period)
        assert any(d is not None and d in months[max(i - 2, 0): i + 1] for d in group["death_period"].to_list()), \
            (household, period)


def test_train_score_and_push_through_dagster(warehouse, features, tiny_province, tmp_path, monkeypatch):
    _, _, lake_root = warehouse
    own = tmp_path / "lake"
    shutil.copytree(lake_root, own, ignore=shutil.ignore_patterns("serving"))
    lake.write(lake.table_path(own, "gold", "monitoring", "monitoring_features"), features)
    home = tmp_path / "home"
    (home / "province").mkdir(parents=True)
    (home / "province" / "tiny-11").symlink_to(tiny_province)
    monkeypatch.setenv("JIUZHU_LAKE", str(own))
    monkeypatch.delenv("JIUZHU_BUSINESS_DB_URL", raising=False)
    monkeypatch.setenv("JIUZHU_HOME", str(home))
    paths = PlatformPaths(home=str(home), scale="tiny", seed=11)

    trained = dg.materialize([assets.risk_model], resources={"paths": paths})
    assert trained.success
    model = risk.load(home)
    assert model.metadata["test_window"][0] > model.metadata["train_window"][1]
    assert set(model.metadata["metrics"]) == {"model", "index", "rules"}
    assert (risk.registry_dir(home) / model.metadata["version"] / "model_card.md").read_text("utf-8").startswith("# Model card")

    period = scoring.latest_period(own)
    for _ in range(2):  # a second run of the month changes nothing in the queue
        result = dg.materialize([assets.risk_scores, assets.monitoring_warnings], resources={"paths": paths},
                                partition_key=f"{period}-01")
        assert result.success
    checks = result.get_asset_check_evaluations()
    assert [c.check_name for c in checks] == ["feature_drift"] and "psi" in checks[0].metadata

    scores = pl.from_arrow(lake.read(scoring.scores_path(own)))
    monitored = indicators.population(pl.from_arrow(features).filter(pl.col("period") == period))
    assert scores.filter(pl.col("period") == period).height == monitored.height
    assert scores["model_version"].unique().to_list() == [model.metadata["version"]]

    engine = db.make_engine(db.default_url())
    with db.session_factory(engine)() as session:
        warnings = session.scalars(select(MonitoringWarning)).all()
    engine.dispose()
    candidates = scoring.read_scores(own, period)
    assert warnings and len(warnings) <= len(candidates)
    assert len({w.household_no for w in warnings}) == len(warnings)
    for w in warnings:
        reasons = json.loads(w.reasons_json)
        assert reasons and all(r["explanation_zh"] for r in reasons)
        assert w.period == period and len(w.township_code) == 12
