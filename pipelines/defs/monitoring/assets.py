"""Monitoring assets (MN-3): the risk model trained on the gold features (on demand and monthly),
each month's scores with the feature-drift check (population stability index per feature), and the
push of the month's warnings into the townships' queues in the business database."""

import dagster as dg

from pipelines.defs.exchange.assets import PARTITIONS
from pipelines.defs.foundation.resources import PlatformPaths
from pipelines.defs.verification.assets import _business_session

FEATURES_KEY = dg.AssetKey(["gold", "monitoring", "monitoring_features"])
MODEL_KEY = dg.AssetKey(["models", "risk_model"])
SCORES_KEY = dg.AssetKey(["gold", "monitoring", "risk_scores"])
WARNINGS_KEY = dg.AssetKey(["business", "monitoring_warnings"])


def _period(context: dg.AssetExecutionContext) -> str:
    return context.partition_key[:7]


@dg.asset(key=MODEL_KEY, deps=[FEATURES_KEY], group_name="models", kinds={"scikit-learn"},
          description="低收入风险模型:以监测指标训练,按时间切分评估,与加权指数和规则对比,skops 存入模型库")
def risk_model(context: dg.AssetExecutionContext, paths: PlatformPaths) -> dg.MaterializeResult:
    from models import risk, training  # noqa: PLC0415

    cfg = paths.resolved()
    trained, meta = training.train_and_evaluate(cfg.lake, cfg.province_dir, seed=cfg.seed % 1000)
    folder = risk.save(cfg.home, trained, training.model_card(meta))
    context.log.info(training.verdict(trained.metadata))
    m = trained.metadata["metrics"]
    return dg.MaterializeResult(metadata={
        "version": trained.metadata["version"], "registry": dg.MetadataValue.path(str(folder)),
        "train_window": " … ".join(meta["train_window"]), "test_window": " … ".join(meta["test_window"]),
        "pr_auc_model": m["model"]["pr_auc"], "pr_auc_index": m["index"]["pr_auc"],
        "precision_at_k_model": m["model"]["precision_at_k"], "precision_at_k_index": m["index"]["precision_at_k"],
        "model_card": dg.MetadataValue.md(training.comparison_markdown(trained.metadata))})


@dg.asset(key=SCORES_KEY, deps=[FEATURES_KEY, MODEL_KEY], partitions_def=PARTITIONS, group_name="gold_monitoring",
          kinds={"delta"}, check_specs=[dg.AssetCheckSpec("feature_drift", asset=SCORES_KEY,
                                                          description="每个特征的群体稳定性指数(PSI)不超过0.25")],
          description="月度风险评分:每户的模型概率、加权风险指数、规则发现及预警候选户的解释")
def risk_scores(context: dg.AssetExecutionContext, paths: PlatformPaths):
    from models import scoring  # noqa: PLC0415

    cfg = paths.resolved()
    period = _period(context)
    result = scoring.score_period(cfg.lake, cfg.home, period)
    yield dg.MaterializeResult(metadata={
        "period": period, "households": result.households, "persons": result.persons,
        "candidates": result.candidates, "model_version": result.model_version, "seconds": result.seconds,
        "delta_version": result.table_version})
    drifted = result.drifted
    yield dg.AssetCheckResult(
        check_name="feature_drift", passed=not drifted, severity=dg.AssetCheckSeverity.WARN,
        description=("特征分布发生显著漂移,建议重新训练模型:" + "、".join(drifted)) if drifted else "特征分布稳定",
        metadata={"psi": dg.MetadataValue.json(result.psi), "max_psi": max(result.psi.values(), default=0.0)})


@dg.asset(key=WARNINGS_KEY, deps=[SCORES_KEY], partitions_def=PARTITIONS, group_name="business", kinds={"sql"},
          description="监测预警推送:规则与模型预警合并、30天内未升级不重复推送,推送至责任乡镇工作队列")
def monitoring_warnings(context: dg.AssetExecutionContext, paths: PlatformPaths) -> dg.MaterializeResult:
    from models import warning_queue  # noqa: PLC0415

    with _business_session() as session:
        result = warning_queue.push(session, paths.resolved().lake, _period(context))
    return dg.MaterializeResult(metadata={
        "period": result.period, "candidates": result.candidates, "pushed": result.pushed,
        "suppressed": result.suppressed, "already_queued": result.already_queued, "townships": result.townships,
        "by_severity": dg.MetadataValue.json(result.by_severity)})


TRAINING_JOB = dg.define_asset_job("monitoring_training", selection=dg.AssetSelection.assets(MODEL_KEY),
                                   description="训练并登记低收入风险模型(按需或每月)")
MONITORING_JOB = dg.define_asset_job("monitoring", selection=dg.AssetSelection.assets(SCORES_KEY, WARNINGS_KEY),
                                     partitions_def=PARTITIONS, description="月度风险评分、漂移检查与预警推送")
# retrain on the 19th, score and push on the 21st: after the marts and the re-verification (20th)
TRAINING_SCHEDULE = dg.ScheduleDefinition(job=TRAINING_JOB, cron_schedule="0 3 19 * *",
                                          execution_timezone="Asia/Shanghai")
MONITORING_SCHEDULE = dg.build_schedule_from_partitioned_job(MONITORING_JOB, day_of_month=21, hour_of_day=6)
ASSETS = [risk_model, risk_scores, monitoring_warnings]
JOBS = [TRAINING_JOB, MONITORING_JOB]
SCHEDULES = [TRAINING_SCHEDULE, MONITORING_SCHEDULE]
