"""Batch re-verification (动态复核, VF-5): every current recipient household is re-assessed each
month by the batch marts (``household_profile`` over the month's data, the one definition of the
assessment); those not meeting the conditions form the detection list (检出名单), which is pushed
here into the responsible county's work queue in the business database, with every reason.

A household is queued once per month (re-running the push changes nothing); the county handles it
within the time limit: pending (待核实) → in_review (核实中) → confirmed (确认不符合, to the
determination process) or cleared (核实后符合, with the reason). Each push and each step is audited.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
from deltalake import DeltaTable
from sqlalchemy import select
from sqlalchemy.orm import Session

from jiuzhu import access, audit, lake, regions, sqlguard
from jiuzhu.business.models import ReverificationTask
from jiuzhu.errors import CodedError

# 15 working days is the usual time limit for verifying a change in a recipient family; three weeks
# of calendar time stand in for it until the business platform's calendar of working days lands
HANDLING_DAYS = 21
STATUS_ZH = {"pending": "待核实", "in_review": "核实中", "confirmed": "确认不符合", "cleared": "核实后符合"}
_NEXT = {"start": ("pending",), "confirm": ("pending", "in_review"), "clear": ("pending", "in_review")}
SYSTEM_ACTOR = "system:reverification"


class QueueError(CodedError):
    """A re-verification task step refused, with its reason."""


@dataclass
class PushResult:
    period: str
    detected: int
    pushed: int
    already_queued: int
    counties: dict[str, int]


def _gold(lake_root: Path, model: str) -> DeltaTable | None:
    path = lake.table_path(lake_root, "gold", "verification", model)
    return DeltaTable(str(path)) if lake.exists(path) else None


def latest_period(lake_root: Path) -> str | None:
    table = _gold(lake_root, "detection_list")
    if table is None:
        return None
    periods = table.to_pyarrow_table(columns=["period"]).column("period")
    return pc.max(periods).as_py() if len(periods) else None


def detections(lake_root: Path, period: str) -> list[dict]:
    """The month's detection list with each household's reasons (from the gold marts)."""
    found = _gold(lake_root, "detection_list")
    if found is None:
        return []
    rows = found.to_pyarrow_table(filters=[("period", "=", period)]).to_pylist()
    reasons: dict[str, list[dict]] = defaultdict(list)
    explained = _gold(lake_root, "household_assessment_reasons")
    if explained is not None:
        for r in explained.to_pyarrow_table(filters=[("period", "=", period)],
                                            columns=["household_no", "reason_code", "effect", "reason_zh",
                                                     "departments"]).to_pylist():
            reasons[r["household_no"]].append({k: r[k] for k in ("reason_code", "effect", "reason_zh", "departments")})
    for row in rows:
        row["reasons"] = sorted(reasons.get(row["household_no"], []), key=lambda r: r["reason_code"])
    return sorted(rows, key=lambda r: (r["county_code"], r["household_no"]))


def push(session: Session, lake_root: Path, period: str | None = None, *,
         clock: audit.Clock = audit.utc_now) -> PushResult:
    """Queue the month's detections for their counties (idempotent: a household once per month)."""
    period = period or latest_period(lake_root)
    if period is None:
        return PushResult("", 0, 0, 0, {})
    rows = detections(lake_root, period)
    queued = set(session.scalars(select(ReverificationTask.household_no).where(ReverificationTask.period == period)))
    now = clock()
    per_county: dict[str, int] = defaultdict(int)
    for row in rows:
        if row["household_no"] in queued:
            continue
        county = regions.normalise_code(row["county_code"])
        session.add(ReverificationTask(
            period=period, household_no=row["household_no"], county_code=county, aid_item=row["aid_category"],
            assessment=row["assessment"], reasons_json=json.dumps(row["reasons"], ensure_ascii=False),
            status="pending", pushed_at=now, due_at=now + _dt.timedelta(days=HANDLING_DAYS), updated_at=now))
        per_county[county] += 1
    for county, count in sorted(per_county.items()):  # one audit entry per county list pushed
        audit.append(session, actor=SYSTEM_ACTOR, role="system", action="push_reverification", outcome="success",
                     subject_key=None, region_code=county, purpose=f"{period}动态复核检出名单推送",
                     detail={"period": period, "households": count}, clock=clock)
    session.commit()
    pushed = sum(per_county.values())
    return PushResult(period, len(rows), pushed, len(rows) - pushed, dict(per_county))


def queue(session: Session, user: access.Principal, *, status: str | None = None,
          clock: audit.Clock = audit.utc_now) -> list[ReverificationTask]:
    """The re-verification tasks in the user's jurisdiction (audited: the list names households)."""
    access.authorize_and_audit(session, user, "review_verification", user.jurisdiction_code, purpose="查看动态复核工作队列",
                               detail={"status": status}, clock=clock)
    prefix = sqlguard.jurisdiction_prefix(user.jurisdiction_code)  # counties are stored as 12 digits
    stmt = (select(ReverificationTask).where(ReverificationTask.county_code.like(prefix + "%"))
            .order_by(ReverificationTask.due_at, ReverificationTask.id))
    if status:
        stmt = stmt.where(ReverificationTask.status == status)
    return list(session.scalars(stmt))


def overdue(tasks: list[ReverificationTask], now: _dt.datetime) -> list[ReverificationTask]:
    return [t for t in tasks if t.status in ("pending", "in_review") and t.due_at < now]


def handle(session: Session, user: access.Principal, task_id: int, step: str, note: str = "", *,
           clock: audit.Clock = audit.utc_now) -> ReverificationTask:
    """start (开始核实: the officer takes the task; from then on only that officer works it), confirm
    (确认不符合) or clear (核实后符合: a note with the reason is required)."""
    task = session.get(ReverificationTask, task_id)
    if task is None:
        raise QueueError("TASK_UNKNOWN", f"没有编号为{task_id}的复核任务")
    if step not in _NEXT:
        raise QueueError("STEP_UNKNOWN", f"未知的处理步骤:{step}")
    if task.status not in _NEXT[step]:
        raise QueueError("STATUS_INVALID", f"任务当前状态为“{STATUS_ZH[task.status]}”,不能执行此操作")
    if step in ("confirm", "clear") and not note.strip():
        raise QueueError("NOTE_MISSING", "办结复核任务须写明核实情况")
    access.authorize_and_audit(session, user, "review_verification", task.county_code, purpose=f"处理{task.period}动态复核任务",
                               detail={"task_id": task.id, "step": step}, clock=clock)
    if task.handled_by and task.handled_by != user.username:
        raise QueueError("CLAIMED_BY_OTHER", f"该任务已由{task.handled_by}开始核实")
    task.status = {"start": "in_review", "confirm": "confirmed", "clear": "cleared"}[step]
    task.handled_by, task.updated_at = user.username, clock()
    if note.strip():
        task.outcome_note = note.strip()
    session.commit()
    return task
