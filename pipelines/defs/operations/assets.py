"""Operations assets: the integrity manifest of the lake's data files, sealed and checked hourly
(a finding fails the error-severity check, which ``failed_check_alert`` turns into a critical
alert), the daily backup and the weekly table maintenance."""

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


BACKUP_KEY = dg.AssetKey(["operations", "backup"])


@dg.asset(key=BACKUP_KEY, deps=[MANIFEST_KEY], group_name="operations", kinds={"backup"},
          description="每日备份:数据湖(各表版本固定、按内容去重增量)、业务库、审计链头与 Dagster 实例,按保留份数清理")
def daily_backup(paths: PlatformPaths) -> dg.MaterializeResult:
    import os  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from jiuzhu import backup  # noqa: PLC0415
    from jiuzhu.business import db  # noqa: PLC0415

    cfg = paths.resolved()
    dest = os.environ.get("JIUZHU_BACKUP_DIR") or str(cfg.home / "backup")  # a path or an object-store URI
    dagster_home = os.environ.get("DAGSTER_HOME")
    result = backup.backup(cfg.lake, cfg.home, dest, business_url=db.default_url(),
                           dagster_home=Path(dagster_home) if dagster_home else None)
    dropped, removed = backup.prune(dest, int(os.environ.get("JIUZHU_BACKUP_KEEP", "7")))
    return dg.MaterializeResult(metadata={"backup": str(result.path), "tables": result.tables,
                                          "files": result.files, "new_objects": result.new_objects,
                                          "new_mib": round(result.bytes_new / 2**20, 1), "pruned_backups": dropped,
                                          "pruned_objects": removed})


MAINTENANCE_KEY = dg.AssetKey(["operations", "table_maintenance"])


@dg.asset(key=MAINTENANCE_KEY, group_name="operations", kinds={"delta"},
          description="表维护:合并小文件(按查询键 Z-order),按可复现窗口(400天)清理过期文件,行数不变")
def table_maintenance(paths: PlatformPaths) -> dg.MaterializeResult:
    from jiuzhu import maintenance  # noqa: PLC0415

    results = maintenance.maintain(paths.resolved().lake)
    changed = [r for r in results if r.rows_after != r.rows_before]
    if changed:
        raise RuntimeError(f"表维护后行数改变:{', '.join(r.table for r in changed)}")
    return dg.MaterializeResult(metadata={
        "tables": len(results), "files_before": sum(r.files_before for r in results),
        "files_after": sum(r.files_after for r in results), "vacuumed": sum(r.vacuumed for r in results),
        "retention_days": maintenance.REPRODUCIBILITY_DAYS})


MAINTENANCE_JOB = dg.define_asset_job("table_maintenance", selection=dg.AssetSelection.assets(MAINTENANCE_KEY),
                                      description="每周表维护(合并、Z-order、清理)")
MAINTENANCE_SCHEDULE = dg.ScheduleDefinition(job=MAINTENANCE_JOB, cron_schedule="0 3 * * 0",
                                             execution_timezone="Asia/Shanghai")
BACKUP_JOB = dg.define_asset_job("backup", selection=dg.AssetSelection.assets(MANIFEST_KEY, BACKUP_KEY),
                                 description="核查数据文件后做每日备份")
BACKUP_SCHEDULE = dg.ScheduleDefinition(job=BACKUP_JOB, cron_schedule="30 2 * * *", execution_timezone="Asia/Shanghai")
INTEGRITY_JOB = dg.define_asset_job("integrity", selection=dg.AssetSelection.assets(MANIFEST_KEY),
                                    description="登记并核查数据文件校验值(每小时)")
INTEGRITY_SCHEDULE = dg.ScheduleDefinition(job=INTEGRITY_JOB, cron_schedule="15 * * * *",
                                           execution_timezone="Asia/Shanghai")
ASSETS = [integrity_manifest, daily_backup, table_maintenance]
JOBS = [INTEGRITY_JOB, BACKUP_JOB, MAINTENANCE_JOB]
SCHEDULES = [INTEGRITY_SCHEDULE, BACKUP_SCHEDULE, MAINTENANCE_SCHEDULE]
