"""共享库 (EX-4): one asset and one job per sharing agreement (``exchange/sharing/*.yaml``), on the
agreement's own schedule: the extract, exactly as agreed, into the unit's outbox, audited."""

import dagster as dg

from exchange import sharing
from pipelines.defs.foundation.resources import PlatformPaths
from pipelines.defs.verification.assets import _business_session


def _asset(agreement: sharing.Agreement):
    @dg.asset(key=["sharing", agreement.code], group_name="sharing", kinds={"csv" if agreement.format == "csv" else
                                                                          agreement.format},
              deps=[dg.AssetKey(agreement.dataset.split("/"))],
              description=f"共享库:向{agreement.unit}提供{agreement.purpose}所需数据({agreement.dataset},"
                          f"{len(agreement.columns)}个约定字段)")
    def _extract(paths: PlatformPaths) -> dg.MaterializeResult:
        cfg = paths.resolved()
        current = sharing.get(agreement.code)  # the agreement as it stands now, validated again
        with _business_session() as session:
            made = sharing.extract(current, cfg.lake, sharing.outbox_root(cfg.home), session)
        return dg.MaterializeResult(metadata={"unit": current.unit, "rows": made.manifest["rows"],
                                              "file": str(made.path), "sha256": made.manifest["sha256"],
                                              "dataset_version": made.manifest["dataset_version"]})

    return _extract


AGREEMENTS = sharing.load()
ASSETS = [_asset(a) for a in AGREEMENTS]
JOBS = [dg.define_asset_job(f"sharing_{a.code}", selection=dg.AssetSelection.assets(dg.AssetKey(["sharing", a.code])),
                            description=f"共享库:{a.unit}({a.purpose})") for a in AGREEMENTS]
SCHEDULES = [dg.ScheduleDefinition(job=job, cron_schedule=sharing.FREQUENCIES[a.frequency],
                                   execution_timezone="Asia/Shanghai") for a, job in zip(AGREEMENTS, JOBS, strict=True)]
