"""Where the dbt project lives and which of its files define the models (for the checks that
recompile, reparse or distrust a result when a model changed)."""

from __future__ import annotations

from pathlib import Path

DBT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
_BUILT = {"target", "logs", "dbt_packages"}  # what dbt writes inside the project, not definitions


def source_files() -> list[Path]:
    """The project's models, macros, tests and properties (.sql, .yml), sorted."""
    return sorted(p for p in DBT_DIR.rglob("*") if p.suffix in (".sql", ".yml")
                  and not _BUILT & set(p.relative_to(DBT_DIR).parts))


def changed_after(path: Path) -> bool:
    """Whether ``path`` is missing or older than a source file (a manifest to make again)."""
    return not path.exists() or max(p.stat().st_mtime for p in source_files()) > path.stat().st_mtime
