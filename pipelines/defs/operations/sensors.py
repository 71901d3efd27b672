"""Operations sensors: a department's feed late past its window opens an alert (and its recovery
clears it) within one sensor interval; a failed run raises a critical alert. The alerts go to the
sinks of ``JIUZHU_ALERT_SINKS`` (``jiuzhu.alerts``)."""

from __future__ import annotations

import datetime as _dt

import dagster as dg

from jiuzhu import alerts, settings

FRESHNESS_INTERVAL_S = 600
BEIJING = _dt.timezone(_dt.timedelta(hours=8))


def today() -> _dt.date:
    return _dt.datetime.now(BEIJING).date()


def late_feeds(rows: list[dict]) -> dict[str, tuple[str, str, str]]:
    """The open freshness alerts the exchange status calls for (key → severity, title, detail)."""
    current = {}
    for r in rows:
        if r["freshness"].startswith("逾期"):
            current[f"freshness:{r['department']}"] = (
                "warning", f"{r['name']}数据逾期未报送",
                f"{r['name']}最近一批为{r['last_period']},下一批应于{r['next_due']}前送达,现{r['freshness']}。"
                "请联系共享单位,并按运行手册处理。")
    return current


@dg.sensor(minimum_interval_seconds=FRESHNESS_INTERVAL_S, default_status=dg.DefaultSensorStatus.STOPPED,
           description="各共享单位数据新鲜度:逾期未报送即告警,恢复后解除")
def freshness_sensor(context: dg.SensorEvaluationContext):
    from exchange import status  # noqa: PLC0415

    cfg = settings.load()
    rows = status.department_status(cfg.lake, today())
    opened, cleared = alerts.Alerts(cfg.home).reconcile("freshness:", late_feeds(rows))
    return dg.SkipReason(f"逾期 {sum(1 for r in rows if r['freshness'].startswith('逾期'))} 个单位;"
                         f"新告警 {len(opened)},解除 {len(cleared)}")


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.STOPPED, description="作业失败即发出紧急告警")
def run_failure_alert(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    message = context.failure_event.message or ""
    alerts.Alerts(settings.load().home).raise_(
        f"run:{run.run_id}", "critical", f"作业 {run.job_name} 运行失败",
        f"运行 {run.run_id[:8]} 失败:{message[:500]}。请在 Dagster 界面查看日志,按运行手册处理。")


@dg.sensor(minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED,
           description="资产检查未通过即告警(错误级为紧急),再次通过后解除")
def failed_check_alert(context: dg.SensorEvaluationContext):
    """Every asset check evaluated since the last tick: a failure opens ``check:<asset>:<check>``, a
    later pass clears it (the cursor is the event storage id, so nothing is seen twice)."""
    after = int(context.cursor) if context.cursor else None
    records = context.instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after),
        ascending=True, limit=1000)
    board = alerts.Alerts(settings.load().home)
    opened = cleared = 0
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        asset = evaluation.asset_key.to_user_string()
        key = f"check:{asset}:{evaluation.check_name}"
        if evaluation.passed:
            cleared += board.resolve(key, f"资产检查 {asset} / {evaluation.check_name} 已通过")
        else:
            critical = evaluation.severity == dg.AssetCheckSeverity.ERROR
            opened += board.raise_(key, "critical" if critical else "warning",
                                   f"资产检查未通过:{asset} / {evaluation.check_name}",
                                   (evaluation.description or "")[:500] + " 请在 Dagster 界面查看该资产的检查结果。")
    if records:
        context.update_cursor(str(records[-1].storage_id))
    return dg.SkipReason(f"检查结果 {len(records)} 条;新告警 {opened},解除 {cleared}")


SENSORS = [freshness_sensor, run_failure_alert, failed_check_alert]
