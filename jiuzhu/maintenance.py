"""Table maintenance (运行维护): compaction — Z-ordered on the look-up key where a table has one
(``person_key`` for the person-keyed tables, ``household_no`` for the household marts) — and vacuum
with a retention that keeps the reproducibility window (DR-4: a verification report regenerated
from the table versions of its date, a year and more later). Every row is kept; every version
inside the window stays readable; the files written by the rewrite are sealed into the integrity
manifest at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deltalake import DeltaTable

from jiuzhu import integrity

REPRODUCIBILITY_DAYS = 400  # the report of last year's review, plus a margin
LOOKUP_KEYS = ("person_key", "household_no")


@dataclass(frozen=True)
class TableResult:
    table: str
    files_before: int
    files_after: int
    rows_before: int
    rows_after: int
    zorder: str | None
    vacuumed: int


def maintain_table(lake_root: Path, table: Path, *, retention_days: int = REPRODUCIBILITY_DAYS,
                   zorder: bool = True) -> TableResult:
    dt = DeltaTable(str(table))
    files_before = len(dt.file_uris())
    rows_before = dt.to_pyarrow_dataset().count_rows()
    columns = {f.name for f in dt.schema().fields}
    key = next((k for k in LOOKUP_KEYS if k in columns), None) if zorder else None
    if files_before > 1:
        if key:
            dt.optimize.z_order([key])
        else:
            dt.optimize.compact()
    vacuumed = dt.vacuum(retention_hours=retention_days * 24, dry_run=False, enforce_retention_duration=False)
    after = DeltaTable(str(table))
    integrity.seal_table(lake_root, table)
    return TableResult(str(table.relative_to(lake_root)), files_before, len(after.file_uris()), rows_before,
                       after.to_pyarrow_dataset().count_rows(), key if files_before > 1 else None, len(vacuumed))


def maintain(lake_root: Path, *, retention_days: int = REPRODUCIBILITY_DAYS, zorder: bool = True,
             zones: tuple[str, ...] = ("bronze", "silver", "gold", "quarantine")) -> list[TableResult]:
    if retention_days < 1:
        raise ValueError("保留期至少1天")
    lake_root = Path(lake_root)
    return [maintain_table(lake_root, t, retention_days=retention_days, zorder=zorder)
            for t in integrity.tables(lake_root) if t.relative_to(lake_root).parts[0] in zones]
