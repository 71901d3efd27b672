"""监测预警 services: the township warning queue of the user's jurisdiction, one warning's
explanation, and the visit / referral / dismissal steps.

Every call goes through ``models.warning_queue`` (authorised for role and jurisdiction, audited).
The queue names households by their household number only; a warning's detail is the data behind it
(rules with figures and departments, the model's factors, suggested social resources).
"""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import func, select

from dashboards.staff.runtime import business_session, china_time, now
from jiuzhu import access, regions, sqlguard
from jiuzhu.business.models import MonitoringWarning
from models import indicators, warning_queue

COLUMNS = ["预警号", "月份", "户号", "乡镇(街道)", "来源", "等级", "风险概率", "加权指数", "主要原因", "状态",
           "认领人", "走访期限", "超期"]


def _township(tree, code: str) -> str:
    return tree.get(code).name if code in tree else code


def queue_frame(user: access.Principal, status: str | None = None, mine: bool = False) -> pd.DataFrame:
    tree = regions.load()
    with business_session() as db:
        found = warning_queue.queue(db, user, status=status, mine=mine, clock=now)
        late = {w.id for w in warning_queue.overdue(found, now())}
        rows = []
        for w in found:
            reasons = json.loads(w.reasons_json)
            rows.append({"预警号": w.id, "月份": w.period, "户号": w.household_no,
                         "乡镇(街道)": _township(tree, w.township_code), "来源": warning_queue.SOURCE_ZH[w.source],
                         "等级": indicators.SEVERITY_ZH[w.severity],
                         "风险概率": "" if w.probability is None else f"{w.probability:.0%}",
                         "加权指数": f"{w.risk_index:.2f}", "主要原因": reasons[0]["name_zh"] if reasons else "",
                         "状态": warning_queue.STATUS_ZH[w.status], "认领人": w.claimed_by or "",
                         "走访期限": china_time(w.due_at, seconds=False),
                         "超期": "是" if w.id in late else ""})
    return pd.DataFrame(rows, columns=COLUMNS)


def detail(user: access.Principal, warning_id: int) -> dict:
    """One warning's explanation (audited: it tells why a household is singled out)."""
    with business_session() as db:
        warning = db.get(MonitoringWarning, warning_id)
        if warning is None:
            raise warning_queue.WarningError("WARNING_UNKNOWN", f"没有编号为{warning_id}的监测预警")
        access.authorize_and_audit(db, user, "handle_warning", warning.township_code, purpose="查看监测预警详情",
                                   detail={"warning_id": warning_id}, clock=now)
        why = warning_queue.explanation(warning)
        return {**why, "household_no": warning.household_no, "period": warning.period, "status": warning.status,
                "status_zh": warning_queue.STATUS_ZH[warning.status], "claimed_by": warning.claimed_by,
                "visit_note": warning.visit_note,
                "outcome_note": warning.outcome_note, "model_version": warning.model_version,
                "config_version": warning.config_version}


def handle(user: access.Principal, warning_id: int, step: str, note: str) -> None:
    with business_session() as db:
        warning_queue.handle(db, user, warning_id, step, note, clock=now)


def warning_summary(user: access.Principal) -> tuple[str | None, pd.DataFrame, int]:
    """Counts of the jurisdiction's warnings of the latest month by severity and status, and how many
    open ones are past their visit deadline (aggregates: no household appears)."""
    decision = access.authorize(user, "view_aggregate", user.jurisdiction_code)
    if not decision.allowed:
        raise access.AccessDenied(decision)
    prefix = sqlguard.jurisdiction_prefix(user.jurisdiction_code)
    mine = MonitoringWarning.township_code.like(prefix + "%")
    with business_session() as db:
        period = db.scalar(select(func.max(MonitoringWarning.period)).where(mine))
        if period is None:
            return None, pd.DataFrame(columns=["等级", "状态", "预警户数"]), 0
        rows = db.execute(select(MonitoringWarning.severity, MonitoringWarning.status, func.count())
                          .where(mine, MonitoringWarning.period == period)
                          .group_by(MonitoringWarning.severity, MonitoringWarning.status)).all()
        late = db.scalar(select(func.count()).select_from(MonitoringWarning)
                         .where(mine, MonitoringWarning.status == "pending", MonitoringWarning.due_at < now()))
    order = {"high": 0, "medium": 1, "low": 2}
    frame = pd.DataFrame([{"等级": indicators.SEVERITY_ZH[s], "状态": warning_queue.STATUS_ZH[st], "预警户数": int(n)}
                          for s, st, n in sorted(rows, key=lambda r: (order[r[0]], r[1]))],
                         columns=["等级", "状态", "预警户数"])
    return period, frame, int(late or 0)
