"""The dbt project as Dagster assets (dagster-dbt) and the gold Delta publication of the marts.

Asset keys and groups come from dbt's own folders (the translator), never from a list of model
names: staging and intermediate models are ``warehouse/<model>``, marts are ``warehouse/<model>``
in group ``gold_<area>``, and each mart is published to ``gold/<area>/<model>`` for the screens,
which never open the warehouse file.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from jiuzhu import dbtproject, departments, engines, lake
from pipelines.defs.exchange.assets import PARTITIONS
from pipelines.defs.foundation.resources import PlatformPaths

DBT_DIR = dbtproject.DBT_DIR
TARGET = DBT_DIR / "target"


def _ensure_manifest() -> Path:
    """dbt's manifest is built by `dbt parse` when missing or older than any model (about 5 s); a
    file lock keeps parallel loaders (test workers, the webserver) from parsing at once."""
    import fcntl  # noqa: PLC0415

    manifest = TARGET / "manifest.json"
    TARGET.mkdir(parents=True, exist_ok=True)
    with open(TARGET / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not dbtproject.changed_after(manifest):
            return manifest
        env = {**os.environ, "DO_NOT_TRACK": "1", "JIUZHU_LAKE": os.environ.get("JIUZHU_LAKE", "var/lake")}
        subprocess.run([str(Path(sys.executable).parent / "dbt"), "parse", "--profiles-dir", str(DBT_DIR),
                        "--target-path", str(TARGET), "--quiet"], cwd=DBT_DIR, env=env, check=True,
                       stdin=subprocess.DEVNULL, timeout=600)
        return manifest


PROJECT = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR, target_path=TARGET)
MANIFEST = _ensure_manifest()


def mart_area(props: dict) -> str | None:
    parts = props.get("fqn", [])
    return parts[2] if len(parts) > 3 and parts[1] == "marts" else None


class Translator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            source, name = dbt_resource_props["source_name"], dbt_resource_props["name"]
            if source == "exchange":  # a department's batch ledger is written by its ingest asset
                dept = departments.get(dbt_resource_props["meta"]["department"])
                return dg.AssetKey(["bronze", dept.slug, dept.bronze_table])
            if source == "business":  # the business database's mirror (foundation's business_mirror)
                return dg.AssetKey(["bronze", "business", f"raw__business__{name}"])
            return dg.AssetKey(["silver", name])
        return dg.AssetKey(["warehouse", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props) -> str:
        area = mart_area(dbt_resource_props)
        if area:
            return f"gold_{area}"
        return f"warehouse_{dbt_resource_props['fqn'][1]}"


@dbt_assets(manifest=MANIFEST, dagster_dbt_translator=Translator(), project=PROJECT,
            partitions_def=PARTITIONS, backfill_policy=dg.BackfillPolicy.single_run())
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, paths: PlatformPaths):
    """Monthly partitions: a month's run rebuilds the monthly marts from that month on (dbt
    incremental by period); a range rebuilds from its first month. JIUZHU_ENGINE picks the engine:
    DuckDB (the warehouse file) or spark (Delta tables through a Spark-compatible cluster). With
    JIUZHU_MONTHS_PER_RUN the months are built in chunks of that many, in order (`dbt run` for each
    chunk but the last, then `dbt build` of the last: the data tests see the whole history)."""
    cfg = paths.resolved()
    engine = engines.engine_name()
    first = min(context.partition_keys)[:7]
    per_run = engines.months_per_run()
    chunks = [(first, None)]
    if per_run:
        chunks = engines.month_chunks([m for m in engines.delivered_months(cfg.lake) if m >= first], per_run,
                                      first=first) or chunks
    setup = engines.dbt_run(engine, home=cfg.home, lake=cfg.lake, warehouse=cfg.warehouse, from_period=first)
    # dbt reads the lake and owns the warehouse; both come from the platform settings
    os.environ.update(setup.env)
    cfg.warehouse.parent.mkdir(parents=True, exist_ok=True)
    context.log.info(f"计算引擎:{setup.target}")
    # the silver versions the build reads, recorded when they stood still while it ran: the served
    # assessments (verification.served) are published with them
    from verification import ondemand, served  # noqa: PLC0415

    served.record_build(cfg.warehouse.parent, None, "")
    before = ondemand.resolve_versions(cfg.lake, None, use_index=False)
    model_definition = served.definition()
    for start, end in chunks[:-1]:
        context.log.info(f"分段构建:{start} 至 {end}")
        chunk = engines.dbt_run(engine, home=cfg.home, lake=cfg.lake, warehouse=cfg.warehouse, from_period=start,
                                to_period=end)
        dbt.cli(chunk.args(["run"]), context=context).wait()  # raises when a model fails
    # made after the chunks: on spark it registers the marts they wrote
    run = engines.dbt_run(engine, home=cfg.home, lake=cfg.lake, warehouse=cfg.warehouse, from_period=chunks[-1][0])
    yield from dbt.cli(run.args(["build"]), context=context).stream()
    # only a build of every model claims its versions: a subset leaves the others as an earlier
    # build made them, from other versions
    whole = set(context.selected_asset_keys) >= set(context.assets_def.keys)
    if whole and ondemand.resolve_versions(cfg.lake, None, use_index=False) == before:
        served.record_build(cfg.warehouse.parent, before, first, model_definition)
    elif not whole:
        context.log.info("本次只构建了部分模型:不记录 silver 版本,批量核对结果待完整构建后再发布")


def _marts() -> list[tuple[str, str]]:
    manifest = json.loads(MANIFEST.read_text("utf-8"))
    return sorted((mart_area(n), n["name"]) for n in manifest["nodes"].values()
                  if n["resource_type"] == "model" and mart_area(n))


def _publish_asset(area: str, model: str):
    @dg.asset(key=["gold", area, model], deps=[dg.AssetKey(["warehouse", model])], group_name=f"gold_{area}",
              kinds={"delta"}, output_required=False,
              description=f"分析库:{model} 发布为 Delta 表,供员工端读取(员工端不打开数仓文件)")
    def _publish(context: dg.AssetExecutionContext, paths: PlatformPaths):
        cfg = paths.resolved()
        if engines.engine_name() == "spark":
            built = engines.spark_warehouse(cfg.home)
            if model not in engines.written_marts(built):
                # left out by the spark target while its sources are empty (engines.empty_business_sources)
                context.log.warning(f"分布式引擎未生成 {model}(其来源尚无数据),本次不发布")
                return
            table = engines.read_mart(built, model)
        else:
            with duckdb.connect(str(cfg.warehouse), read_only=True) as con:
                table = con.sql(f'select * from main."{model}"').to_arrow_table()  # model names come from the manifest
        version = lake.write(lake.table_path(cfg.lake, "gold", area, model), table)
        yield dg.MaterializeResult(metadata={"rows": table.num_rows, "delta_version": version})

    return _publish


PUBLISH_ASSETS = [_publish_asset(area, model) for area, model in _marts()]
DBT_RESOURCE = DbtCliResource(project_dir=str(DBT_DIR), profiles_dir=str(DBT_DIR), target_path=str(TARGET),
                               dbt_executable=str(Path(sys.executable).parent / "dbt"))
