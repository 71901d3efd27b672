"""Reference data and the synthetic province: the first assets, so the demo runs real work."""


import json

import dagster as dg

from jiuzhu import lake, policy, regions, synth
from pipelines.defs.foundation.resources import PlatformPaths


@dg.asset(
    key=["silver", "regions"],
    group_name="silver_reference",
    kinds={"delta"},
    description="行政区划: Sichuan's five-level division tree (NBS 2023 statistical codes), one row per region.",
)
def regions_table(context: dg.AssetExecutionContext, paths: PlatformPaths) -> dg.MaterializeResult:
    table = regions.to_arrow()
    target = lake.table_path(paths.resolved().lake, "silver", "regions")
    version = lake.write(target, table, description="行政区划 (NBS 统计用区划代码 2023)")
    by_level = {int(k): int(v) for k, v in zip(*_count_levels(table), strict=True)}
    context.log.info("regions written: %s rows, version %s", table.num_rows, version)
    return dg.MaterializeResult(metadata={
        "rows": table.num_rows, "delta_version": version, "path": str(target),
        "prefectures": by_level.get(2, 0), "counties": by_level.get(3, 0),
        "townships": by_level.get(4, 0), "villages": by_level.get(5, 0),
    })


def _count_levels(table):
    import pyarrow.compute as pc  # noqa: PLC0415

    counts = pc.value_counts(table.column("level"))
    return counts.field("values").to_pylist(), counts.field("counts").to_pylist()


@dg.asset_check(asset=regions_table, description="21 prefecture rows and every region's parent present")
def regions_are_complete(paths: PlatformPaths) -> dg.AssetCheckResult:
    table = lake.read(lake.table_path(paths.resolved().lake, "silver", "regions"))
    codes = set(table.column("region_code").to_pylist())
    parents = [p for p in table.column("parent_code").to_pylist() if p]
    missing = sorted(set(parents) - codes)
    prefectures = table.column("level").to_pylist().count(2)
    return dg.AssetCheckResult(
        passed=prefectures == 21 and not missing,
        metadata={"prefectures": prefectures, "missing_parents": len(missing)},
    )


@dg.asset(
    key=["synthetic", "province"],
    group_name="synthetic",
    description="合成四川: the synthetic province (households, persons, 24 months of life) with each "
    "sharing department's monthly deliveries in the inbox and the ground truth kept apart.",
)
def synthetic_province(context: dg.AssetExecutionContext, paths: PlatformPaths) -> dg.MaterializeResult:
    cfg = paths.resolved()
    out = cfg.province_dir
    summary_file = out / "generation.json"
    if summary_file.exists():
        # Deterministic for (scale, seed): an existing complete generation is the same bytes.
        summary = json.loads(summary_file.read_text("utf-8"))
        context.log.info("province %s-%s already generated", cfg.scale, cfg.seed)
    else:
        if out.exists():  # an interrupted earlier run: start again from nothing
            import shutil  # noqa: PLC0415

            shutil.rmtree(out)
        summary = synth.generate(cfg.scale, cfg.seed, out, progress=context.log.info)
    return dg.MaterializeResult(metadata={
        "scale": summary["scale"], "seed": summary["seed"], "persons": summary["persons"],
        "households": summary["households"], "batches": summary["batches"],
        "delivered_rows": summary["delivered_rows"], "injected_defects": summary["defects"],
        "inbox": str(out / "inbox"),
    })


def _policy_asset(name: str, build, description: str):
    @dg.asset(key=["silver", name], group_name="silver_reference", kinds={"delta"}, description=description)
    def _policy(paths: PlatformPaths) -> dg.MaterializeResult:
        table = build()
        version = lake.write(lake.table_path(paths.resolved().lake, "silver", name), table)
        return dg.MaterializeResult(metadata={"rows": table.num_rows, "delta_version": version})

    return _policy


policy_standards = _policy_asset("policy_standards", policy.standards_arrow,
                                 "政策标准(规则即数据):低保、特困标准,按地区、城乡、年度,注明来源")
policy_asset_limits = _policy_asset("policy_asset_limits", policy.asset_limits_arrow,
                                    "财产与收入认定规则(规则即数据),注明来源")


def _business_mirror_asset(table: str):
    @dg.asset(key=["bronze", "business", f"raw__business__{table}"], group_name="bronze_business", kinds={"delta"},
              description=f"业务生产数据库 {table} 表的镜像(按变更时间增量同步;口令散列、姓名、证件号、账号、事由与核对结果不同步)")
    def _mirror(paths: PlatformPaths) -> dg.MaterializeResult:
        from jiuzhu.business import db, mirror  # noqa: PLC0415

        cfg = paths.resolved()
        url = db.default_url()
        db.upgrade(url)
        result = mirror.mirror(db.make_engine(url), cfg.lake, table)
        return dg.MaterializeResult(metadata={"rows_copied": result["rows"], "watermark": str(result["watermark"])})

    return _mirror


BUSINESS_MIRRORS = [_business_mirror_asset(t) for t in ("users", "audit_log", "verification_requests",
                                                        "assistance_cases", "benefits", "disbursement_orders")]
