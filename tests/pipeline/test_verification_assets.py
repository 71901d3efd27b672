"""The Dagster verification assets run: the serving index is refreshed from the lake, the month's
detections are pushed to the county queues once, and the statistics are published to gold."""

import shutil

import dagster as dg
import duckdb
import pytest
from deltalake import DeltaTable
from sqlalchemy import func, select

from jiuzhu import lake
from jiuzhu.business import db
from jiuzhu.business.models import ReverificationTask
from pipelines.defs.foundation.resources import PlatformPaths
from pipelines.defs.verification import assets
from verification import ondemand, served, serving

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]


def test_index_push_and_statistics_materialise(warehouse, tmp_path, monkeypatch):
    proc, wh, lake_root = warehouse
    assert proc.returncode == 0
    own = tmp_path / "lake"
    shutil.copytree(lake_root, own, ignore=shutil.ignore_patterns("serving"))
    with duckdb.connect(str(wh), read_only=True) as con:
        for model in ("detection_list", "household_assessment_reasons"):
            lake.write(lake.table_path(own, "gold", "verification", model),
                       con.sql(f"select * from main.{model}").to_arrow_table())
        last = con.sql("select max(period) from detection_list").fetchall()[0][0]
        detected = con.sql("select count(*) from detection_list where period = ?", params=[last]).fetchall()[0][0]
    monkeypatch.setenv("JIUZHU_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JIUZHU_LAKE", str(own))
    monkeypatch.delenv("JIUZHU_BUSINESS_DB_URL", raising=False)
    # the warehouse as the marts asset leaves it: built, with the silver versions it read recorded
    (tmp_path / "home").mkdir()
    shutil.copyfile(wh, tmp_path / "home" / "warehouse.duckdb")
    served.record_build(tmp_path / "home", ondemand.resolve_versions(own, None, use_index=False), "0000-00")
    for _ in range(2):  # a second run changes nothing
        result = dg.materialize(assets.ASSETS, resources={"paths": PlatformPaths()})
        assert result.success
    index = serving.ServingIndex(ondemand.serving_index_path(own))
    assert set(index.state()) == set(ondemand.indexed_tables(own)) | {served.PROFILE, served.REASONS}
    with duckdb.connect(str(wh), read_only=True) as con:
        household = con.sql("select household_no from household_profile order by household_no limit 1").fetchall()[0][0]
    persons = DeltaTable(str(own / "silver" / "persons")).to_pyarrow_table().to_pylist()
    family = [ondemand.Member(p["person_id"]) for p in persons if p["household_no"] == household]
    assert ondemand.assess(own, family, work_dir=tmp_path / "od", latest_only=True).source == "served"
    engine = db.make_engine(db.default_url())
    with db.session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(ReverificationTask)) == detected
    engine.dispose()
    stats = DeltaTable(str(own / "gold" / "verification" / "reverification_statistics")).to_pyarrow_table()
    assert sum(stats.column("tasks").to_pylist()) == detected
