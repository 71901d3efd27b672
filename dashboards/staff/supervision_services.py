"""电子监察 services: the sensitive-operation warnings over the audit trail (``jiuzhu.supervision``),
the work past its time limit — verification requests, re-verification tasks and monitoring
warnings — and the case supervision (案件监察, ``assistance.casewatch``: its alerts, their handling
and the indicators), inside the supervisor's jurisdiction. Households are not named: the supervisor
follows the numbers of requests, tasks, cases and audit entries."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlalchemy import select

from assistance import casewatch
from dashboards.staff.runtime import business_session, china_time, now, today_in_china
from jiuzhu import access, regions, sqlguard, supervision
from jiuzhu.business.models import MonitoringWarning, ReverificationTask, VerificationRequest
from models import indicators, warning_queue
from verification import requests as vr
from verification import reverify

# The whole review takes at most 25 working days (DOMAIN.md, one city's published rule); five
# calendar weeks stand in for it until the business platform's working-day calendar lands.
REQUEST_LIMIT_DAYS = 35
SEVERITY_ZH = {"high": "高", "medium": "中", "low": "低"}


def _audit_view(db, user: access.Principal, what: str) -> None:
    access.authorize_and_audit(db, user, "view_supervision", user.jurisdiction_code, purpose=f"电子监察:{what}",
                               clock=now)


def sensitive_operations(user: access.Principal, days: int) -> pd.DataFrame:
    with business_session() as db:
        _audit_view(db, user, f"近{days}天敏感操作预警")
        found = supervision.scan_trail(db, since=now() - timedelta(days=days))
    rows = [{"严重程度": SEVERITY_ZH.get(w.severity, w.severity), "预警规则": supervision.RULES[w.rule_code],
             "说明": w.description_zh, "操作人": w.actor,
             "审计记录序号": "、".join(str(s) for s in w.evidence[:12]) + ("……" if len(w.evidence) > 12 else "")}
            for w in sorted(found, key=lambda w: ({"high": 0, "medium": 1, "low": 2}.get(w.severity, 3), w.actor))]
    return pd.DataFrame(rows, columns=["严重程度", "预警规则", "说明", "操作人", "审计记录序号"])


def overdue_work(user: access.Principal) -> dict[str, pd.DataFrame]:
    """Requests, re-verification tasks and warnings past their time limit, oldest first."""
    tree = regions.load()
    name = lambda code: tree.full_name(code) if code in tree else code
    prefix = sqlguard.jurisdiction_prefix(user.jurisdiction_code)
    current = now()
    with business_session() as db:
        _audit_view(db, user, "超期办理事项")
        limit = current - timedelta(days=REQUEST_LIMIT_DAYS)
        requests = db.scalars(select(VerificationRequest).where(
            VerificationRequest.region_code.like(prefix + "%"), VerificationRequest.created_at < limit,
            VerificationRequest.status.not_in(("reported", "rejected"))).order_by(VerificationRequest.created_at)).all()
        tasks = db.scalars(select(ReverificationTask).where(
            ReverificationTask.county_code.like(prefix + "%"), ReverificationTask.due_at < current,
            ReverificationTask.status.in_(("pending", "in_review"))).order_by(ReverificationTask.due_at)).all()
        warnings = db.scalars(select(MonitoringWarning).where(
            MonitoringWarning.township_code.like(prefix + "%"), MonitoringWarning.due_at < current,
            MonitoringWarning.status == "pending").order_by(MonitoringWarning.due_at)).all()
        out = {
            "核对申请": pd.DataFrame([{"申请编号": r.request_no, "状态": vr.STATUS_ZH[r.status], "申请地": name(r.region_code),
                                     "提交时间": china_time(r.created_at, seconds=False),
                                     "已用天数": (current - r.created_at).days} for r in requests],
                                   columns=["申请编号", "状态", "申请地", "提交时间", "已用天数"]),
            "动态复核": pd.DataFrame([{"任务号": t.id, "月份": t.period, "区县": name(t.county_code),
                                     "状态": reverify.STATUS_ZH[t.status], "办结期限": china_time(t.due_at, seconds=False),
                                     "超期天数": (current - t.due_at).days} for t in tasks],
                                   columns=["任务号", "月份", "区县", "状态", "办结期限", "超期天数"]),
            "监测预警": pd.DataFrame([{"预警号": w.id, "月份": w.period, "乡镇(街道)": name(w.township_code),
                                     "等级": indicators.SEVERITY_ZH[w.severity], "状态": warning_queue.STATUS_ZH[w.status],
                                     "走访期限": china_time(w.due_at, seconds=False),
                                     "超期天数": (current - w.due_at).days} for w in warnings],
                                   columns=["预警号", "月份", "乡镇(街道)", "等级", "状态", "走访期限", "超期天数"]),
        }
    return out


# --- 案件监察 (assistance.casewatch) ----------------------------------------------------------------------------

CASE_ALERT_COLUMNS = ["预警号", "监察规则", "严重程度", "说明", "所在地区", "发现时间", "状态"]


def case_alerts(user: access.Principal, rule: str | None = None) -> pd.DataFrame:
    """The open case alerts of the jurisdiction, most severe and oldest first."""
    tree = regions.load()
    with business_session() as db:
        found = casewatch.open_alerts(db, user, rule=rule, clock=now)
    rows = [{"预警号": a.id, "监察规则": casewatch.RULES.get(a.rule, a.rule),
             "严重程度": SEVERITY_ZH.get(a.severity, a.severity), "说明": a.message,
             "所在地区": tree.full_name(a.region_code) if a.region_code in tree else a.region_code,
             "发现时间": china_time(a.raised_at, seconds=False), "状态": casewatch.STATUS_ZH.get(a.status, a.status)}
            for a in found]
    return pd.DataFrame(rows, columns=CASE_ALERT_COLUMNS)


def handle_case_alert(user: access.Principal, alert_id: int, note: str) -> None:
    with business_session() as db:
        casewatch.handle(db, user, alert_id, note, clock=now)


def run_case_scan(user: access.Principal) -> int:
    """Run the case rules now (the platform's job runs them on its schedule); how many alerts are new."""
    with business_session() as db:
        access.authorize_and_audit(db, user, "handle_supervision", user.jurisdiction_code,
                                   purpose="电子监察:立即运行案件监察规则", clock=now)
        return len(casewatch.scan(db, clock=now))


def recent_periods(months: int = 6) -> list[str]:
    today = today_in_china()
    index = today.year * 12 + today.month - 1
    return [f"{(index - i) // 12:04d}-{(index - i) % 12 + 1:02d}" for i in range(months)]


def case_indicators(user: access.Principal, period: str) -> tuple[casewatch.Indicators, pd.DataFrame]:
    """监察指标 of the jurisdiction for a month, and the alerts of the month per rule (open, handled)."""
    with business_session() as db:
        _audit_view(db, user, f"{period}案件监察指标")
        found = casewatch.indicators(db, user.jurisdiction_code, period, clock=now)
    table = pd.DataFrame([{"监察规则": casewatch.RULES[rule], "待处理": counts["open"], "已处理": counts["handled"]}
                          for rule, counts in found.by_rule.items()], columns=["监察规则", "待处理", "已处理"])
    return found, table
