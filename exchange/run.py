"""Run the exchange over the inbox: ingest new batches, conform them, report (used by Dagster and the CLI)."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from exchange import batches as B
from exchange import ingest as ingest_
from exchange import silver
from schemas import contracts


@dataclass
class RunReport:
    outcomes: list[ingest_.Outcome] = field(default_factory=list)
    systemic: list[dict] = field(default_factory=list)
    conformed_rows: int = 0
    skipped: int = 0

    @property
    def delivered(self) -> int:
        return sum(o.delivered for o in self.outcomes if o.status != "duplicate")


def pending(inbox: Path, lake_root: Path, department: str, period: str | None = None) -> list[B.BatchRef]:
    """Batch folders of a department not yet in its ledger (by folder and manifest checksum)."""
    done = {(r["folder"], r["manifest_sha256"]) for r in B.ledger_rows(lake_root, department)}
    out = []
    for ref in B.discover(inbox, department):
        if not ref.manifest_path.exists():
            out.append(ref)
            continue
        sha = B.sha256_bytes(ref.manifest_path.read_bytes())
        if (ref.folder.name, sha) in done:
            continue
        if period is not None:
            try:
                if json.loads(ref.manifest_path.read_text("utf-8")).get("period") != period:
                    continue
            except (json.JSONDecodeError, UnicodeDecodeError):
                pass
        out.append(ref)
    return out


def run_department(inbox: Path, lake_root: Path, receipts_dir: Path, department: str, *,
                   period: str | None = None, today: _dt.date | None = None,
                   now: _dt.datetime | None = None) -> RunReport:
    """Ingest every pending batch of one department (optionally one period), then conform every
    ingested batch not yet in silver — including one a crashed earlier run left unconformed.

    A batch with a systemic problem is recorded, receipted and reported; the others go on."""
    report = ingest_department(inbox, lake_root, receipts_dir, department,
                               periods=[period] if period else None, today=today, now=now)
    report.conformed_rows = conform_department(lake_root, department, [period] if period else None, today,
                                               only_pending=True)
    return report


def ingest_department(inbox: Path, lake_root: Path, receipts_dir: Path, department: str, *,
                      periods: list[str] | None = None, today: _dt.date | None = None,
                      now: _dt.datetime | None = None) -> RunReport:
    """Ingest (bronze, quarantine, ledger, receipts) the pending batches of one department."""
    report = RunReport()
    ledger = B.ledger_rows(lake_root, department)
    refs = pending(inbox, lake_root, department)
    if periods is not None:
        refs = [r for r in refs if _delivery_order(r)[0] in set(periods) or not r.manifest_path.exists()]
    for ref in sorted(refs, key=_delivery_order):
        try:
            report.outcomes.append(ingest_.ingest(ref, lake_root, receipts_dir, today=today, now=now, ledger=ledger))
        except B.SystemicBatchError as exc:
            report.systemic.append({"folder": str(ref.folder), "code": exc.code, "message": exc.message})
    return report


def conform_department(lake_root: Path, department: str, periods: list[str] | None = None,
                       today: _dt.date | None = None, *, only_pending: bool = False) -> int:
    """Merge the department's loaded batches (of ``periods``) into silver and mark them conformed.

    The merge is an upsert, so conforming a batch again (a replayed month) changes nothing."""
    rows = 0
    for entry in sorted(B.ledger_rows(lake_root, department), key=lambda r: (r["period"], r["ingested_at"])):
        if entry["status"] not in ("loaded", "superseding") or (periods is not None and entry["period"] not in periods):
            continue
        if only_pending and entry.get("conformed"):
            continue
        contract = contracts.get(department, entry["contract_version"])
        # re-validate exactly as at ingest: same extract date, same "today"
        extract = _dt.date.fromisoformat(entry["extract_date"])
        ingested_on = _dt.date.fromisoformat(entry["ingested_at"][:10])
        rows += silver.conform_batch(lake_root, contract, entry["batch_key"], entry["period"], extract,
                                     today or ingested_on)
        ingest_.mark_conformed(lake_root, entry)
    return rows


def _delivery_order(ref: B.BatchRef) -> tuple:
    try:
        m = json.loads(ref.manifest_path.read_text("utf-8"))
        return (m.get("period", ""), m.get("delivered_at", ""), ref.folder.name)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return ("", "", ref.folder.name)


def run_all(inbox: Path, lake_root: Path, receipts_dir: Path, **kwargs) -> dict[str, RunReport]:
    reports = {}
    for dept in contracts_departments():
        reports[dept] = run_department(inbox, lake_root, receipts_dir, dept, **kwargs)
    silver.rebuild_households(lake_root)
    silver.rebuild_quarantined_members(lake_root)
    silver.rebuild_income_monthly(lake_root)
    return reports


def contracts_departments() -> list[str]:
    return sorted({c.department for c in contracts.all_contracts().values()})
