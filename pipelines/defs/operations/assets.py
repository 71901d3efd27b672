"""Operations assets: the integrity manifest of the lake's data files, sealed and checked hourly;
a finding fails the check (severity error), which is the alert the on-call engineer sees."""

import dagster as dg

from pipelines.defs.foundation.resources import PlatformPaths

MANIFEST_KEY = dg.AssetKey(["integrity", "manifest"])


@dg.asset(key=MANIFEST_KEY, group_name="integrity", kinds={"sha256"},
          check_specs=[dg.AssetCheckSpec("data_files_untouched", asset=MANIFEST_KEY,
                                         description="每个数据文件与登记的校验值一致,无缺失、无多余")],
          description="数据文件校验值清单:登记新写入的数据文件(SHA-256),并核查被改动、替换、缺失或多出的文件")
def integrity_manifest(context: dg.AssetExecutionContext, paths: PlatformPaths):
    from jiuzhu import integrity  # noqa: PLC0415

    lake_root = paths.resolved().lake
    sealed = integrity.seal(lake_root)
    findings = [f for f in integrity.check(lake_root) if f.code != "UNSEALED"]
    for f in findings:
        context.log.error(f"[{f.code}] {f.table}/{f.file}: {f.message_zh}")
    yield dg.MaterializeResult(metadata={"tables": len(sealed), "newly_sealed": sum(sealed.values()),
                                         "manifest": dg.MetadataValue.path(str(integrity.manifest_root(lake_root)))})
    yield dg.AssetCheckResult(
        check_name="data_files_untouched", passed=not findings, severity=dg.AssetCheckSeverity.ERROR,
        description=("发现数据文件完整性问题:" + ";".join(f"{f.table}/{f.file} {f.message_zh}" for f in findings[:10]))
        if findings else "所有数据文件与登记的校验值一致",
        metadata={"findings": len(findings), "by_code": dg.MetadataValue.json(
            {c: sum(1 for f in findings if f.code == c) for c in sorted({f.code for f in findings})})})


INTEGRITY_JOB = dg.define_asset_job("integrity", selection=dg.AssetSelection.assets(MANIFEST_KEY),
                                    description="登记并核查数据文件校验值(每小时)")
INTEGRITY_SCHEDULE = dg.ScheduleDefinition(job=INTEGRITY_JOB, cron_schedule="15 * * * *",
                                           execution_timezone="Asia/Shanghai")
ASSETS = [integrity_manifest]
