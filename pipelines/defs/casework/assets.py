"""Business-platform assets (issue #9): the time limits of every open case step swept (办结预警,
escalation, publicity periods closed, verification results taken over), the case supervision rules
(电子监察) run over every case, and each month's disbursement orders generated with the
certificates of ended benefits revoked; then the paid months re-assessed against later deliveries
(后补追缴, issue #15)."""

import datetime as dt

import dagster as dg

from pipelines.defs.foundation.resources import PlatformPaths
from pipelines.defs.verification.assets import _business_session

TIME_LIMITS_KEY = dg.AssetKey(["business", "case_time_limits"])
ALERTS_KEY = dg.AssetKey(["business", "case_alerts"])
ORDERS_KEY = dg.AssetKey(["business", "disbursement_orders"])


@dg.asset(key=TIME_LIMITS_KEY, group_name="business_casework", kinds={"sql"},
          description="办理时限:到期前预警、超期上报上一级、公示期满无异议自动办结、核对结论自动回填")
def case_time_limits(paths: PlatformPaths) -> dg.MaterializeResult:
    from assistance import cases  # noqa: PLC0415

    with _business_session() as session:
        result = cases.sweep(session)
    return dg.MaterializeResult(metadata={"warned": len(result.warned), "overdue": len(result.overdue),
                                          "publicity_closed": len(result.publicity_closed),
                                          "verified": len(result.verified),
                                          "verification_returned": len(result.verification_returned)})


@dg.asset(key=ALERTS_KEY, deps=[TIME_LIMITS_KEY], group_name="business_casework", kinds={"sql"},
          description="电子监察:超期环节、超政策审批、无审批拨付、重复救助、审批近亲属案件,新发现的写入监察预警")
def case_alerts(paths: PlatformPaths) -> dg.MaterializeResult:
    from assistance import casewatch  # noqa: PLC0415

    with _business_session() as session:
        raised = casewatch.scan(session)
        by_rule: dict[str, int] = {}
        for alert in raised:
            by_rule[alert.rule] = by_rule.get(alert.rule, 0) + 1
    return dg.MaterializeResult(metadata={"raised": len(raised), "by_rule": dg.MetadataValue.json(by_rule)})


@dg.asset(key=ORDERS_KEY, deps=[TIME_LIMITS_KEY], group_name="business_casework", kinds={"sql"},
          description="资金拨付单:每月为在保的低保、特困、低保边缘待遇生成当月拨付单;待遇终止的电子证照注销")
def disbursement_orders(paths: PlatformPaths) -> dg.MaterializeResult:
    from assistance import certificates, funds  # noqa: PLC0415

    period = funds.period_of(dt.datetime.now(dt.UTC))
    with _business_session() as session:
        created = funds.generate_month(session, period)
        revoked = certificates.revoke_ended(session)
        session.commit()
    return dg.MaterializeResult(metadata={"period": period, "orders": len(created), "certificates_revoked": len(revoked)})


ADJUSTMENTS_KEY = dg.AssetKey(["business", "benefit_adjustments"])


@dg.asset(key=ADJUSTMENTS_KEY, deps=[ORDERS_KEY], group_name="business_casework", kinds={"sql", "delta"},
          description="后补追缴:按最新交换数据重新评估已发放月份,多发的列为追缴、少发的列为补发,待审批人审核")
def benefit_adjustments(paths: PlatformPaths) -> dg.MaterializeResult:
    from assistance import adjustments  # noqa: PLC0415
    from jiuzhu import lake  # noqa: PLC0415

    resolved = paths.resolved()
    if not lake.exists(lake.table_path(resolved.lake, "silver", "persons")):
        return dg.MaterializeResult(metadata={"skipped": "湖中还没有公安户籍数据,无法重新评估"})
    with _business_session() as session:
        result = adjustments.scan(session, resolved.lake, work_dir=resolved.home / "ondemand")
        session.commit()
    return dg.MaterializeResult(metadata={"benefits": result.benefits, "months": result.months,
                                          "raised": len(result.raised), "unchanged": result.unchanged})


STATISTICS_KEY = dg.AssetKey(["gold", "statistics", "benefit_statistics"])


@dg.asset(key=STATISTICS_KEY, deps=[ORDERS_KEY], group_name="gold_statistics", kinds={"delta"},
          description="救助待遇发放统计:本平台拨付单按月、县、救助类别与计算方式汇总的户数、人数、金额及其构成")
def benefit_statistics(paths: PlatformPaths) -> dg.MaterializeResult:
    from assistance import benefits  # noqa: PLC0415
    from jiuzhu import lake  # noqa: PLC0415

    with _business_session() as session:
        table = benefits.statistics_table(session)
    version = lake.write(lake.table_path(paths.resolved().lake, "gold", "statistics", "benefit_statistics"), table)
    return dg.MaterializeResult(metadata={"rows": table.num_rows, "delta_version": version})


CASEWORK_JOB = dg.define_asset_job("casework", selection=dg.AssetSelection.assets(TIME_LIMITS_KEY, ALERTS_KEY,
                                                                                 STATISTICS_KEY),
                                   description="救助业务:办理时限、电子监察与待遇发放统计(每30分钟)")
MONTHLY_JOB = dg.define_asset_job("casework_monthly", selection=dg.AssetSelection.assets(ORDERS_KEY, ADJUSTMENTS_KEY,
                                                                                         STATISTICS_KEY),
                                  description="救助业务:当月资金拨付单(按待遇计算规则)、证照注销与后补追缴核查(每月1日)")
SCHEDULES = [
    dg.ScheduleDefinition(job=CASEWORK_JOB, cron_schedule="*/30 * * * *", execution_timezone="Asia/Shanghai"),
    dg.ScheduleDefinition(job=MONTHLY_JOB, cron_schedule="0 2 1 * *", execution_timezone="Asia/Shanghai"),
]
JOBS = [CASEWORK_JOB, MONTHLY_JOB]
ASSETS = [case_time_limits, case_alerts, disbursement_orders, benefit_adjustments, benefit_statistics]
