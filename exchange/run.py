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
    """Ingest and conform every pending batch of one department (optionally one period).

    A batch with a systemic problem is recorded, receipted and reported; the others go on."""
    report = RunReport()
    ledger = B.ledger_rows(lake_root, department)
    for ref in sorted(pending(inbox, lake_root, department, period), key=_delivery_order):
        try:
            outcome = ingest_.ingest(ref, lake_root, receipts_dir, today=today, now=now, ledger=ledger)
        except B.SystemicBatchError as exc:
            report.systemic.append({"folder": str(ref.folder), "code": exc.code, "message": exc.message})
            continue
        report.outcomes.append(outcome)
        if outcome.status in ("loaded", "superseding"):
            contract = contracts.get(outcome.department, outcome.contract_version)
            manifest = B.load_manifest(ref)
            report.conformed_rows += silver.conform_batch(
                lake_root, contract, outcome.batch_key, outcome.period,
                _dt.date.fromisoformat(manifest["extract_date"]), today)
    return report


def _delivery_order(ref: B.BatchRef) -> tuple:
    try:
        m = json.loads(ref.manifest_path.read_text("utf-8"))
        return (m.get("period", ""), m.get("delivered_at", ""), ref.folder.name)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return ("", "", ref.folder.name)


def run_all(inbox: Path, lake_root: Path, receipts_dir: Path, **kwargs) -> dict[str, RunReport]:
    reports = {}
    for dept in sorted({c.department for c in contracts.all_contracts().values()}):
        reports[dept] = run_department(inbox, lake_root, receipts_dir, dept, **kwargs)
    silver.rebuild_households(lake_root)
    silver.rebuild_income_monthly(lake_root)
    return reports
