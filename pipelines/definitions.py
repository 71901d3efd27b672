"""The one entry point: every asset, check, resource, schedule and sensor is assembled here."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.casework import assets as casework
from pipelines.defs.exchange import assets as exchange
from pipelines.defs.exchange.sensors import inbox_sensor
from pipelines.defs.foundation import assets as foundation
from pipelines.defs.foundation.resources import PlatformPaths
from pipelines.defs.marts import assets as marts
from pipelines.defs.monitoring import assets as monitoring
from pipelines.defs.operations import assets as operations
from pipelines.defs.operations import sensors as operations_sensors
from pipelines.defs.sharing import assets as sharing
from pipelines.defs.verification import assets as verification

# Cross-cutting policy lives here only: transient failures (a locked file, a slow disk) are
# retried; a systemic failure still fails the run after the retries.
RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)

# the business database's mirror in bronze (users, audit trail, verification requests), hourly:
# the verification statistics mart reads it
BUSINESS_MIRROR_JOB = dg.define_asset_job("business_mirror", selection=dg.AssetSelection.groups("bronze_business"),
                                          op_retry_policy=RETRY)
BUSINESS_MIRROR_SCHEDULE = dg.ScheduleDefinition(job=BUSINESS_MIRROR_JOB, cron_schedule="5 * * * *",
                                                 execution_timezone="Asia/Shanghai")

defs = dg.Definitions(
    assets=[foundation.regions_table, foundation.synthetic_province, foundation.policy_standards,
            foundation.policy_asset_limits, *foundation.BUSINESS_MIRRORS,
            *exchange.PULL_ASSETS, *exchange.INGEST_ASSETS, *exchange.SILVER_ASSETS, *exchange.DERIVED_ASSETS,
            marts.dbt_models, *marts.PUBLISH_ASSETS, *verification.ASSETS,
            *monitoring.ASSETS, *operations.ASSETS, *casework.ASSETS, *sharing.ASSETS],
    asset_checks=[foundation.regions_are_complete],
    resources={"paths": PlatformPaths(), "dbt": marts.DBT_RESOURCE},
    sensors=[inbox_sensor, *operations_sensors.SENSORS],
    schedules=[BUSINESS_MIRROR_SCHEDULE, verification.REVERIFICATION_SCHEDULE, *monitoring.SCHEDULES, *operations.SCHEDULES,
               *casework.SCHEDULES, *sharing.SCHEDULES],
    jobs=[
        dg.define_asset_job("foundation", selection=dg.AssetSelection.groups("silver_reference", "synthetic",
                                                                             "bronze_business"),
                            op_retry_policy=RETRY),
        BUSINESS_MIRROR_JOB,
        dg.define_asset_job("relational_pull", selection=dg.AssetSelection.groups("inbox"), op_retry_policy=RETRY,
                            description="关系型数据源:按变更时间增量抽取各单位数据库,写入收件箱(由收件箱传感器入库)"),
        dg.define_asset_job("silver_derived", selection=dg.AssetSelection.groups("silver_derived"),
                            op_retry_policy=RETRY),
        verification.REVERIFICATION_JOB,
        verification.SERVING_JOB,
        *monitoring.JOBS,
        *operations.JOBS,
        *casework.JOBS,
        *sharing.JOBS,
        dg.define_asset_job("publish_gold", selection=dg.AssetSelection.assets(*marts.PUBLISH_ASSETS,
                                                                                 verification.SERVED_KEY),
                            op_retry_policy=RETRY),
    ],
)
