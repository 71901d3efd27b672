"""Bronze, quarantine and silver assets for every sharing department (built from the vocabulary and
the contracts, never from a hand-kept list), partitioned by delivery month."""

import datetime as dt
import json

import dagster as dg

from exchange import batches as B
from exchange import ingest, relational, run, silver
from jiuzhu import departments
from pipelines.defs.foundation.resources import PlatformPaths
from schemas import contracts

PARTITIONS = dg.MonthlyPartitionsDefinition(start_date="2024-11-01")
# A backfill of many months runs as one run (one writer per table, no run-per-month overhead).
SINGLE_RUN = dg.BackfillPolicy.single_run()
EXCHANGE_TAG = {"layer": "exchange"}
REJECTION_WARN_SHARE = 0.05


def bronze_key(dept: departments.Department) -> dg.AssetKey:
    return dg.AssetKey(["bronze", dept.slug, dept.bronze_table])


def quarantine_key(dept: departments.Department) -> dg.AssetKey:
    return dg.AssetKey(["quarantine", dept.slug, ingest.QUARANTINE])


def silver_key(dept: departments.Department) -> dg.AssetKey:
    return dg.AssetKey(["silver", silver.TABLES[dept.slug]])


PERSONS_KEY = dg.AssetKey(["silver", "persons"])


def _periods(context) -> list[str]:
    return [k[:7] for k in context.partition_keys]


def _ingest_asset(dept: departments.Department):
    checks = [
        dg.AssetCheckSpec("deliveries_reconcile", asset=bronze_key(dept),
                          description="每个批次:实收 = 入库 + 隔离,且与清单声明一致(整批拒收的除外)"),
        dg.AssetCheckSpec("rejection_rate", asset=bronze_key(dept),
                          description=f"隔离率不超过{REJECTION_WARN_SHARE:.0%}"),
        dg.AssetCheckSpec("delivered_on_time", asset=bronze_key(dept), description="按约定日期报送(新鲜度)"),
    ]

    @dg.multi_asset(
        name=f"ingest_{dept.slug}",
        specs=[
            dg.AssetSpec(bronze_key(dept), group_name=f"bronze_{dept.slug}", kinds={"delta"}, tags=EXCHANGE_TAG,
                         description=f"交换库:{dept.name}报送的{dept.entity_name},按原样保存并附血缘字段"),
            dg.AssetSpec(quarantine_key(dept), group_name=f"bronze_{dept.slug}", kinds={"delta"}, tags=EXCHANGE_TAG,
                         description=f"隔离区:{dept.short_name}被拒收的记录及原因"),
        ],
        check_specs=checks,
        partitions_def=PARTITIONS,
        backfill_policy=SINGLE_RUN,
        retry_policy=dg.RetryPolicy(max_retries=2, delay=2),
    )
    def _ingest(context: dg.AssetExecutionContext, paths: PlatformPaths):
        cfg = paths.resolved()
        periods = _periods(context)
        report = run.ingest_department(cfg.inbox, cfg.lake, cfg.home / "receipts", dept.slug, periods=periods)
        ledger = [r for r in B.ledger_rows(cfg.lake, dept.slug) if r["period"] in periods]
        loaded = [r for r in ledger if r["status"] in ("loaded", "superseding", "rejected")]
        delivered = sum(r["delivered"] for r in loaded)
        rejected = sum(r["rejected"] for r in loaded)
        meta = {"batches": len(report.outcomes), "delivered": delivered, "rejected": rejected,
                "duplicate_batches": sum(1 for o in report.outcomes if o.status == "duplicate")}
        yield dg.MaterializeResult(asset_key=bronze_key(dept), metadata=meta)
        yield dg.MaterializeResult(asset_key=quarantine_key(dept), metadata={"rejected": rejected})
        bad = [r["batch_key"] for r in loaded if r["delivered"] != r["accepted"] + r["rejected"]
               or (r["status"] != "rejected" and r["delivered"] != r["declared"])]
        yield dg.AssetCheckResult(asset_key=bronze_key(dept), check_name="deliveries_reconcile", passed=not bad,
                                  metadata={"unreconciled_batches": json.dumps(bad, ensure_ascii=False)})
        share = rejected / delivered if delivered else 0.0
        yield dg.AssetCheckResult(asset_key=bronze_key(dept), check_name="rejection_rate",
                                  passed=share <= REJECTION_WARN_SHARE, severity=dg.AssetCheckSeverity.WARN,
                                  metadata={"rejected_share": round(share, 4)})
        late = [r["batch_id"] for r in loaded if r["delivered_at"] and r["due_date"]
                and dt.date.fromisoformat(r["delivered_at"][:10]) > dt.date.fromisoformat(r["due_date"])]
        yield dg.AssetCheckResult(asset_key=bronze_key(dept), check_name="delivered_on_time", passed=not late,
                                  severity=dg.AssetCheckSeverity.WARN,
                                  metadata={"late_batches": json.dumps(late, ensure_ascii=False)})
        if report.systemic:
            first = report.systemic[0]
            raise dg.Failure(description=f"{dept.short_name}:{len(report.systemic)}个批次无法处理:"
                                         f"{first['code']} {first['message']}(回执已生成,其余批次已处理)",
                             metadata={"systemic": json.dumps(report.systemic, ensure_ascii=False)})

    return _ingest


def _silver_asset(dept: departments.Department):
    specs = [dg.AssetSpec(silver_key(dept), group_name="silver_conformed", kinds={"delta"}, tags=EXCHANGE_TAG,
                          deps=[bronze_key(dept)],
                          description=f"基础信息库:{dept.entity_name}(已标准化、去重,按主键增量合并)")]
    if dept.slug == "gongan":
        specs.append(dg.AssetSpec(PERSONS_KEY, group_name="silver_conformed", kinds={"delta"}, tags=EXCHANGE_TAG,
                                  deps=[bronze_key(dept)], description="人员:每人最新户籍状态"))

    check_specs = [dg.AssetCheckSpec(name, asset=silver_key(dept), description=desc)
                   for name, desc in silver.CONTRACT_CHECKS.items()]

    @dg.multi_asset(name=f"conform_{dept.slug}", specs=specs, check_specs=check_specs, partitions_def=PARTITIONS,
                    backfill_policy=SINGLE_RUN, retry_policy=dg.RetryPolicy(max_retries=2, delay=2))
    def _conform(context: dg.AssetExecutionContext, paths: PlatformPaths):
        cfg = paths.resolved()
        rows = run.conform_department(cfg.lake, dept.slug, _periods(context))
        for spec in specs:
            yield dg.MaterializeResult(asset_key=spec.key, metadata={"conformed_rows": rows})
        results = silver.contract_checks(cfg.lake, contracts.latest(dept.slug))
        for name in silver.CONTRACT_CHECKS:
            outcome = results.get(name, {"passed": True, "violations": 0})
            yield dg.AssetCheckResult(asset_key=silver_key(dept), check_name=name, passed=outcome["passed"],
                                      metadata={"violations": outcome["violations"]})

    return _conform


@dg.asset(key=["silver", "households"], group_name="silver_derived", kinds={"delta"}, deps=[PERSONS_KEY],
          description="家庭户与家庭关系:由人员表派生(含 silver/family_relations)")
def households(paths: PlatformPaths) -> dg.MaterializeResult:
    counts = silver.rebuild_households(paths.resolved().lake)
    return dg.MaterializeResult(metadata=counts)


@dg.asset(key=["silver", "income_monthly"], group_name="silver_derived", kinds={"delta"},
          deps=[silver_key(departments.get(s)) for s in ("renshe", "shuiwu", "gongjijin")],
          description="分类月收入:工资、职工养老金、失业保险金(计入收入),个税申报收入、公积金缴存基数(佐证)")
def income_monthly(paths: PlatformPaths) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": silver.rebuild_income_monthly(paths.resolved().lake)})


@dg.asset(key=["silver", "quarantined_members"], group_name="silver_derived", kinds={"delta"}, deps=[PERSONS_KEY],
          description="户籍记录被隔离(未通过校验、尚未更正)的家庭:家庭人口可能不全,核对结论须人工复核")
def quarantined_members(paths: PlatformPaths) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"households": silver.rebuild_quarantined_members(paths.resolved().lake)})


def _pull_asset(source: relational.RelationalSource):
    """A department whose data sits in a relational database (EX-7): the rows changed since the
    last pull become ordinary deliveries in its inbox, which the inbox sensor then ingests."""
    dept = departments.get(source.department)

    @dg.asset(key=["inbox", dept.slug, "relational_pull"], group_name="inbox", kinds={"sql"},
              description=f"{dept.name}:按变更时间从其关系型数据库增量抽取,写入收件箱({source.dialect})")
    def _pull(paths: PlatformPaths) -> dg.MaterializeResult:
        from sqlalchemy import create_engine  # noqa: PLC0415

        cfg = paths.resolved()
        engine = create_engine(source.url())
        try:
            result = relational.pull(source, engine, cfg.inbox, cfg.lake)
        finally:
            engine.dispose()
        return dg.MaterializeResult(metadata={"rows": result.rows, "batches": len(result.batches),
                                              "watermark": str(result.watermark)})

    return _pull


PULL_ASSETS = [_pull_asset(s) for s in relational.all_sources()]
INGEST_ASSETS = [_ingest_asset(d) for d in departments.all_departments()]
SILVER_ASSETS = [_silver_asset(d) for d in departments.all_departments()]
DERIVED_ASSETS = [households, quarantined_members, income_monthly]
