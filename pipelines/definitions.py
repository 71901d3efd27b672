"""The one entry point: every asset, check, resource, schedule and sensor is assembled here."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.foundation import assets as foundation
from pipelines.defs.foundation.resources import PlatformPaths

# Cross-cutting policy lives here only: transient failures (a locked file, a slow disk) are
# retried; a systemic failure still fails the run after the retries.
RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)

defs = dg.Definitions(
    assets=[foundation.regions_table, foundation.synthetic_province],
    asset_checks=[foundation.regions_are_complete],
    resources={"paths": PlatformPaths()},
    jobs=[dg.define_asset_job("foundation", selection=dg.AssetSelection.groups("silver_reference", "synthetic"),
                              op_retry_policy=RETRY)],
)
