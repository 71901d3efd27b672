"""Lake paths and Delta table I/O (through the ``deltalake`` package).

Zones: ``bronze/<department>/<table>``, ``silver/<table>``, ``gold/<area>/<table>``,
``quarantine/<table>``. One writer per table (shared SECURITY.md: concurrent writers on one
Delta table fail with CommitFailedError; Dagster runs each table's asset once at a time).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake

ZONES = ("bronze", "silver", "gold", "quarantine")


def table_path(lake: Path, zone: str, *parts: str) -> Path:
    if zone not in ZONES:
        raise ValueError(f"unknown lake zone {zone!r}")
    return Path(lake, zone, *parts)


def write(path: Path, data: pa.Table, *, mode: str = "overwrite", partition_by: list[str] | None = None,
          description: str | None = None, predicate: str | None = None,
          commit_metadata: dict[str, str] | None = None) -> int:
    """Write an Arrow table as a Delta table; return the new table version. With ``predicate``
    (an overwrite of the existing table), only the rows it matches are replaced (one month).
    ``commit_metadata`` goes into the commit's commitInfo (what a derived table was computed from)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    props = CommitProperties(custom_metadata=commit_metadata) if commit_metadata else None
    if predicate is not None and exists(path):
        write_deltalake(str(path), data, mode="overwrite", predicate=predicate, description=description,
                        commit_properties=props)
    else:
        write_deltalake(str(path), data, mode=mode, partition_by=partition_by, commit_properties=props,
                        description=description, schema_mode="overwrite" if mode == "overwrite" else None)
    root = root_of(path)
    if root is not None:  # the new files' checksums go into the integrity manifest at once
        from jiuzhu import integrity  # noqa: PLC0415

        integrity.seal_table(root, Path(path))
    return DeltaTable(str(path)).version()


def root_of(path: Path) -> Path | None:
    """The lake root of a table path (the directory holding its zone), if it lies in a zone."""
    parts = Path(path).resolve().parts
    for i in range(len(parts) - 1, 0, -1):
        if parts[i] in ZONES:
            return Path(*parts[:i])
    return None


def read(path: Path, *, version: int | None = None, columns: list[str] | None = None) -> pa.Table:
    dt = DeltaTable(str(path), version=version)
    return dt.to_pyarrow_table(columns=columns)


def exists(path: Path) -> bool:
    return (Path(path) / "_delta_log").is_dir()
