"""Verification assets: the serving index refreshed from silver, the monthly re-verification push
into the counties' work queues (动态复核), and the re-verification statistics published to gold."""

import contextlib

import dagster as dg

from jiuzhu import departments, lake
from pipelines.defs.exchange import assets as exchange
from pipelines.defs.foundation.resources import PlatformPaths


@contextlib.contextmanager
def _business_session():
    """A session on the business database (migrated first), its engine disposed afterwards."""
    from jiuzhu.business import db  # noqa: PLC0415

    url = db.default_url()
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        with db.session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


SERVING_KEY = dg.AssetKey(["serving", "household_index"])
QUEUE_KEY = dg.AssetKey(["business", "reverification_tasks"])
DETECTION_KEYS = [dg.AssetKey(["gold", "verification", "detection_list"]),
                  dg.AssetKey(["gold", "verification", "household_assessment_reasons"])]


def _silver_keys() -> list[dg.AssetKey]:
    keys = {exchange.PERSONS_KEY, dg.AssetKey(["silver", "policy_standards"]),
            dg.AssetKey(["silver", "policy_asset_limits"])}
    for dept in departments.all_departments():
        keys |= {exchange.silver_key(dept), exchange.bronze_key(dept)}  # the batch ledgers live beside bronze
    return sorted(keys, key=lambda k: k.to_user_string())


SERVED_KEY = dg.AssetKey(["gold", "verification", "assessment_current"])


@dg.asset(key=SERVED_KEY, deps=[dg.AssetKey(["warehouse", "household_profile"]),
                                dg.AssetKey(["warehouse", "household_assessment_reasons"])],
          group_name="gold_verification", kinds={"delta"}, output_required=False,
          description="批量核对结果(每户最近一月及原因),记录所依据的 silver 版本;单户核对在版本一致时直接返回")
def assessment_current(context: dg.AssetExecutionContext, paths: PlatformPaths):
    import duckdb  # noqa: PLC0415

    from jiuzhu import engines  # noqa: PLC0415
    from verification import served  # noqa: PLC0415

    cfg = paths.resolved()
    build = served.read_build(cfg.warehouse.parent)
    if build is None:  # the last build failed, or its inputs moved while it ran
        context.log.warning("数仓最近一次构建没有记录一致的 silver 版本:本次不发布批量核对结果,单户核对照常现算")
        return
    if engines.engine_name() == "spark":
        built = engines.spark_warehouse(cfg.home)
        con = duckdb.connect()
        con.register("profile", engines.read_mart(built, "household_profile"))
        con.register("reasons", engines.read_mart(built, "household_assessment_reasons"))
        profile, reasons = served.current(con, build["from_period"])
    else:
        profile, reasons = served.current_from_warehouse(cfg.warehouse, build["from_period"])
    if served.read_build(cfg.warehouse.parent) != build:  # a build ran meanwhile: its rows, not this record's
        context.log.warning("读取期间数仓又构建了一次:本次不发布批量核对结果,下次运行时发布")
        return
    versions = served.publish(cfg.lake, profile, reasons, build)
    yield dg.MaterializeResult(metadata={"delta_versions": dg.MetadataValue.json(versions),
                                         "from_period": build["from_period"]})


@dg.asset(key=SERVING_KEY, deps=[*_silver_keys(), SERVED_KEY], group_name="serving", kinds={"sqlite"},
          description="核对服务索引:按人员键索引的家庭数据副本(含各 Delta 版本),单户核对毫秒级返回;增量刷新")
def household_index(paths: PlatformPaths) -> dg.MaterializeResult:
    from verification import ondemand, served, serving  # noqa: PLC0415

    cfg = paths.resolved()
    index = serving.ServingIndex(ondemand.serving_index_path(cfg.lake))
    try:
        done = index.refresh({**ondemand.indexed_tables(cfg.lake), **served.tables(cfg.lake)})
    finally:
        index.close()
    moved = {name: f"{a}->{b}" for name, (a, b) in done.items() if a != b}
    return dg.MaterializeResult(metadata={"tables": len(done), "advanced": dg.MetadataValue.json(moved)})


DIRECTORY_KEY = dg.AssetKey(["gold", "verification", "person_directory"])


@dg.asset(key=DIRECTORY_KEY, deps=[exchange.PERSONS_KEY], group_name="gold_verification", kinds={"delta"},
          description="人员目录:户籍人员及姓名拼音、首字母,供人员查询(模糊、同音、拼音、部分身份证号)")
def person_directory(paths: PlatformPaths) -> dg.MaterializeResult:
    from verification import directory  # noqa: PLC0415

    version = directory.publish(paths.resolved().lake)
    return dg.MaterializeResult(metadata={"delta_version": version})


LINKS_KEY = dg.AssetKey(["gold", "verification", "household_links"])


@dg.asset(key=LINKS_KEY, deps=[exchange.PERSONS_KEY, *(exchange.silver_key(departments.get(s))
                                                       for s in ("budongchan", "cheliang", "shichang"))],
          group_name="gold_verification", kinds={"delta"},
          description="家庭关联关系:不同家庭成员共有的不动产、机动车或市场主体(两个方向各一行)")
def household_links(paths: PlatformPaths) -> dg.MaterializeResult:
    from verification import associations  # noqa: PLC0415

    version = associations.publish(paths.resolved().lake)
    return dg.MaterializeResult(metadata={"delta_version": version})


@dg.asset(key=QUEUE_KEY, deps=DETECTION_KEYS, group_name="business", kinds={"sql"},
          description="动态复核:当月检出名单(不符合、需人工复核的在册家庭)推送至各县工作队列,同一户每月只推送一次")
def reverification_tasks(paths: PlatformPaths) -> dg.MaterializeResult:
    from verification import reverify  # noqa: PLC0415

    with _business_session() as session:
        result = reverify.push(session, paths.resolved().lake)
    return dg.MaterializeResult(metadata={"period": result.period, "detected": result.detected,
                                          "pushed": result.pushed, "already_queued": result.already_queued,
                                          "counties": len(result.counties)})


@dg.asset(key=["gold", "verification", "reverification_statistics"], deps=[QUEUE_KEY],
          group_name="gold_verification", kinds={"delta"},
          description="动态复核统计:按月、县、结论与办理状态的检出户数及超期户数")
def reverification_statistics(paths: PlatformPaths) -> dg.MaterializeResult:
    return _publish_statistics(paths, "reverification_statistics")


def _publish_statistics(paths: PlatformPaths, name: str) -> dg.MaterializeResult:
    import datetime as dt  # noqa: PLC0415

    from verification import statistics  # noqa: PLC0415

    cfg = paths.resolved()
    with _business_session() as session:
        table = statistics.queue_table(session, dt.datetime.now(dt.UTC))
    version = lake.write(lake.table_path(cfg.lake, "gold", "verification", name), table)
    return dg.MaterializeResult(metadata={"rows": table.num_rows, "delta_version": version})


REVERIFICATION_JOB = dg.define_asset_job(
    "reverification", selection=dg.AssetSelection.assets(*DETECTION_KEYS, QUEUE_KEY).downstream()
    | dg.AssetSelection.assets(*DETECTION_KEYS),
    description="动态复核:发布当月检出名单与原因,推送各县工作队列,更新核对统计")
# the 20th: after every department's agreed delivery day (the latest is the 15th) and the marts
REVERIFICATION_SCHEDULE = dg.ScheduleDefinition(job=REVERIFICATION_JOB, cron_schedule="0 6 20 * *",
                                                execution_timezone="Asia/Shanghai")
SERVING_JOB = dg.define_asset_job("serving_index", selection=dg.AssetSelection.assets(SERVING_KEY, DIRECTORY_KEY, LINKS_KEY),
                                  description="核对服务索引与人员目录:silver 更新后刷新")
ASSETS = [assessment_current, household_index, person_directory, household_links, reverification_tasks, reverification_statistics]
