"""The one entry point: every asset, check, resource, schedule and sensor is assembled here."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.exchange import assets as exchange
from pipelines.defs.exchange.sensors import inbox_sensor
from pipelines.defs.foundation import assets as foundation
from pipelines.defs.foundation.resources import PlatformPaths
from pipelines.defs.marts import assets as marts
from pipelines.defs.monitoring import assets as monitoring
from pipelines.defs.operations import assets as operations
from pipelines.defs.operations import sensors as operations_sensors
from pipelines.defs.verification import assets as verification

# Cross-cutting policy lives here only: transient failures (a locked file, a slow disk) are
# retried; a systemic failure still fails the run after the retries.
RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)

defs = dg.Definitions(
    assets=[foundation.regions_table, foundation.synthetic_province, foundation.policy_standards,
            foundation.policy_asset_limits, *foundation.BUSINESS_MIRRORS,
            *exchange.INGEST_ASSETS, *exchange.SILVER_ASSETS, *exchange.DERIVED_ASSETS,
            marts.dbt_models, *marts.PUBLISH_ASSETS, *verification.ASSETS,
            *monitoring.ASSETS, *operations.ASSETS],
    asset_checks=[foundation.regions_are_complete],
    resources={"paths": PlatformPaths(), "dbt": marts.DBT_RESOURCE},
    sensors=[inbox_sensor, *operations_sensors.SENSORS],
    schedules=[verification.REVERIFICATION_SCHEDULE, *monitoring.SCHEDULES, *operations.SCHEDULES],
    jobs=[
        dg.define_asset_job("foundation", selection=dg.AssetSelection.groups("silver_reference", "synthetic"),
                            op_retry_policy=RETRY),
        dg.define_asset_job("silver_derived", selection=dg.AssetSelection.groups("silver_derived"),
                            op_retry_policy=RETRY),
        verification.REVERIFICATION_JOB,
        verification.SERVING_JOB,
        *monitoring.JOBS,
        *operations.JOBS,
        dg.define_asset_job("publish_gold", selection=dg.AssetSelection.assets(*marts.PUBLISH_ASSETS),
                            op_retry_policy=RETRY),
    ],
)
