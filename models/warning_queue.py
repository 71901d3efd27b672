"""The warning queue (MN-3, 主动发现): the month's scored households that the rules or the model
single out become warnings in the responsible township's queue in the business database.

- Combined: a household found by a rule and by the model is one warning (source ``rule+model``)
  with the higher severity; it carries every rule's Chinese explanation, the model's top factors and
  the social resources (MN-5) that meet its needs.
- De-duplicated: a household is not pushed again within ``repush_after_days`` (30) of an earlier
  warning unless its severity rises; it is pushed once per month at most (re-running changes nothing).
- Worked: claimed by a worker (认领, optional), pending (待走访) → visited (已走访, with what the visit found) → referred (已转入认定) or
  dismissed (已排除, with the reason); the visit is due within the time limit of its severity.
Every push and every step is audited.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from jiuzhu import access, audit, regions, sqlguard
from jiuzhu.business.models import MonitoringWarning
from jiuzhu.errors import CodedError
from models import indicators, resources, scoring

STATUS_ZH = {"pending": "待走访", "visited": "已走访", "referred": "已转入认定", "dismissed": "已排除"}
SOURCE_ZH = {"rule": "规则预警", "model": "模型预警", "rule+model": "规则与模型"}
_STEPS = {"claim": (("pending",), "pending"), "visit": (("pending",), "visited"),
          "refer": (("visited",), "referred"), "dismiss": (("visited",), "dismissed")}
SYSTEM_ACTOR = "system:monitoring"


class WarningError(CodedError):
    """A warning step refused, with its reason."""


@dataclass
class PushResult:
    period: str
    candidates: int
    pushed: int
    suppressed: int  # warned within the re-push window at the same or a higher severity
    already_queued: int  # this month's warning exists
    townships: int
    by_severity: dict[str, int]


def severity_name(level: int) -> str:
    return {v: k for k, v in indicators.SEVERITY_RANK.items()}[level]


def combine(row: dict, config: indicators.Config) -> dict | None:
    """One scored candidate → the warning it makes (or None): source, severity, reasons, factors."""
    reasons = json.loads(row.get("reasons_json") or "[]")
    rule_level = max((indicators.SEVERITY_RANK[r["severity"]] for r in reasons), default=0)
    model_level = 0
    if row.get("model_candidate"):
        sev = config.severity_of_probability(row["probability"])
        model_level = indicators.SEVERITY_RANK[sev] if sev else 0
    if not rule_level and not model_level:
        return None
    source = "rule+model" if rule_level and model_level else ("rule" if rule_level else "model")
    level = max(rule_level, model_level)
    severity = severity_name(level)
    factors = json.loads(row.get("factors_json") or "[]")
    if model_level:
        named = "、".join(f["name_zh"] for f in factors) or "多项指标"
        reasons.append({"code": "RISK_MODEL", "name_zh": "风险模型预警", "severity": severity_name(model_level),
                        "explanation_zh": f"风险模型估计未来{config.horizon_months}个月陷入生活困难的概率为"
                                          f"{row['probability']:.0%},居本乡镇第{row['rank_in_township']}位,"
                                          f"主要因素:{named}", "sources": [], "source_names": []})
    needs = [n for n in (row.get("needs") or "").split(",") if n]
    return {"source": source, "severity": severity, "reasons": reasons, "factors": factors,
            "resources": resources.suggest(needs, row["county_code"])}


def push(session: Session, lake_root: Path, period: str | None = None, *, config: indicators.Config | None = None,
         clock: audit.Clock = audit.utc_now) -> PushResult:
    config = config or indicators.load()
    period = period or scoring.latest_period(lake_root)
    rows = scoring.read_scores(lake_root, period) if period else []
    now = clock()
    window_start = now - _dt.timedelta(days=config.repush_after_days)
    recent: dict[str, int] = defaultdict(int)
    this_month: set[str] = set()
    for household, severity, pushed_at, p in session.execute(
            select(MonitoringWarning.household_no, MonitoringWarning.severity, MonitoringWarning.pushed_at,
                   MonitoringWarning.period)
            .where((MonitoringWarning.pushed_at >= window_start) | (MonitoringWarning.period == period))):
        if p == period:
            this_month.add(household)
        if pushed_at >= window_start:
            recent[household] = max(recent[household], indicators.SEVERITY_RANK[severity])
    pushed, suppressed, already = 0, 0, 0
    per_county: dict[str, int] = defaultdict(int)
    townships: set[str] = set()
    by_severity: dict[str, int] = defaultdict(int)
    for row in sorted(rows, key=lambda r: (r["township_code"], -r["probability"], r["household_no"])):
        warning = combine(row, config)
        if warning is None:
            continue
        household = row["household_no"]
        if household in this_month:
            already += 1
            continue
        if recent.get(household, 0) >= indicators.SEVERITY_RANK[warning["severity"]]:
            suppressed += 1
            continue
        township = regions.normalise_code(row["township_code"])
        county = regions.normalise_code(row["county_code"])
        session.add(MonitoringWarning(
            period=period, household_no=household, township_code=township, county_code=county,
            source=warning["source"], severity=warning["severity"],
            probability=row["probability"] if row.get("model_candidate") else None, risk_index=row["risk_index"],
            reasons_json=json.dumps(warning["reasons"], ensure_ascii=False),
            factors_json=json.dumps(warning["factors"], ensure_ascii=False),
            resources_json=json.dumps(warning["resources"], ensure_ascii=False),
            model_version=row.get("model_version"), config_version=row["indicator_config_version"],
            status="pending", pushed_at=now,
            due_at=now + _dt.timedelta(days=config.visit_within_days[warning["severity"]]), updated_at=now))
        recent[household] = indicators.SEVERITY_RANK[warning["severity"]]
        this_month.add(household)
        pushed += 1
        per_county[county] += 1
        townships.add(township)
        by_severity[warning["severity"]] += 1
    for county, count in sorted(per_county.items()):  # one audit entry per county's lists pushed
        audit.append(session, actor=SYSTEM_ACTOR, role="system", action="push_monitoring_warnings", outcome="success",
                     subject_key=None, region_code=county, purpose=f"{period}低收入人口动态监测预警推送",
                     detail={"period": period, "households": count}, clock=clock)
    session.commit()
    return PushResult(period or "", len(rows), pushed, suppressed, already, len(townships), dict(by_severity))


def queue(session: Session, user: access.Principal, *, status: str | None = None, mine: bool = False,
          clock: audit.Clock = audit.utc_now) -> list[MonitoringWarning]:
    """The warnings in the user's jurisdiction, the most urgent first (audited: it names households)."""
    access.authorize_and_audit(session, user, "handle_warning", user.jurisdiction_code, purpose="查看监测预警工作队列",
                               detail={"status": status}, clock=clock)
    prefix = sqlguard.jurisdiction_prefix(user.jurisdiction_code)
    stmt = (select(MonitoringWarning).where(MonitoringWarning.township_code.like(prefix + "%"))
            .order_by(MonitoringWarning.due_at, MonitoringWarning.id))
    if status:
        stmt = stmt.where(MonitoringWarning.status == status)
    if mine:
        stmt = stmt.where(MonitoringWarning.claimed_by == user.username)
    return list(session.scalars(stmt))


def overdue(warnings: list[MonitoringWarning], now: _dt.datetime) -> list[MonitoringWarning]:
    """Warnings not visited within their time limit."""
    return [w for w in warnings if w.status == "pending" and w.due_at < now]


def handle(session: Session, user: access.Principal, warning_id: int, step: str, note: str, *,
           clock: audit.Clock = audit.utc_now) -> MonitoringWarning:
    """claim (认领: the worker takes the warning), visit (登记走访情况), refer (转入认定程序) or dismiss
    (排除, with the reason); a note is required for every step but the claim. A warning claimed by
    one worker is worked by that worker only."""
    warning = session.get(MonitoringWarning, warning_id)
    if warning is None:
        raise WarningError("WARNING_UNKNOWN", f"没有编号为{warning_id}的监测预警")
    if step not in _STEPS:
        raise WarningError("STEP_UNKNOWN", f"未知的处理步骤:{step}")
    allowed, target = _STEPS[step]
    if warning.status not in allowed:
        raise WarningError("STATUS_INVALID", f"预警当前状态为“{STATUS_ZH[warning.status]}”,不能执行此操作")
    purpose = f"{'认领' if step == 'claim' else '处理'}{warning.period}监测预警"
    if step != "claim" and not note.strip():
        raise WarningError("NOTE_MISSING", {"visit": "登记走访须写明走访情况", "refer": "转入认定须写明理由",
                                            "dismiss": "排除预警须写明理由"}[step])
    access.authorize_and_audit(session, user, "handle_warning", warning.township_code, purpose=purpose,
                               detail={"warning_id": warning.id, "step": step}, clock=clock)
    if warning.claimed_by and warning.claimed_by != user.username:
        raise WarningError("CLAIMED_BY_OTHER", f"该预警已由{warning.claimed_by}认领")
    if step == "claim":
        warning.claimed_by, warning.updated_at = user.username, clock()
        session.commit()
        return warning
    now = clock()
    warning.status, warning.handled_by, warning.updated_at = target, user.username, now
    warning.claimed_by = warning.claimed_by or user.username
    if step == "visit":
        warning.visited_at, warning.visit_note = now, note.strip()
    else:
        warning.outcome_note = note.strip()
    session.commit()
    return warning


def explanation(warning: MonitoringWarning) -> dict:
    """What the township officer reads: every rule's explanation, the model's factors, resources."""
    return {"reasons": json.loads(warning.reasons_json), "factors": json.loads(warning.factors_json),
            "resources": json.loads(warning.resources_json), "source_zh": SOURCE_ZH[warning.source],
            "severity_zh": indicators.SEVERITY_ZH[warning.severity]}
