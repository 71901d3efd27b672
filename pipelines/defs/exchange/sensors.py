"""The inbox sensor: a new batch folder requests a run of its department's month."""

import hashlib

import dagster as dg

from exchange import run
from jiuzhu import departments, settings
from pipelines.defs.exchange.assets import bronze_key, quarantine_key, silver_key


@dg.sensor(name="inbox_sensor", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
           description="发现收件箱中的新批次,按共享单位和数据月份触发入库")
def inbox_sensor(context: dg.SensorEvaluationContext):
    cfg = settings.load()
    for dept in departments.all_departments():
        by_period: dict[str, list[str]] = {}
        for ref in run.pending(cfg.inbox, cfg.lake, dept.slug):
            period = run._delivery_order(ref)[0] or "unknown"
            by_period.setdefault(period, []).append(ref.folder.name)
        for period, folders in sorted(by_period.items()):
            if period == "unknown":
                context.log.warning("%s: %d batch folders without a readable manifest", dept.slug, len(folders))
                continue
            digest = hashlib.sha256("|".join(sorted(folders)).encode()).hexdigest()[:12]
            yield dg.RunRequest(
                run_key=f"{dept.slug}-{period}-{digest}", partition_key=f"{period}-01",
                asset_selection=[bronze_key(dept), quarantine_key(dept), silver_key(dept)],
                tags={"department": dept.slug},
            )
