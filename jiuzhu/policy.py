"""Policy tables (rules as data, SPEC VF-3): standards and asset limits with effective dates.

Each row names its source: ``published``, ``secondary`` or ``synthetic`` (no published figure
found; see docs/glossary.md and DOMAIN notes). The most specific region wins: a county row over
its prefecture's row over the provincial floor.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Standard:
    region_code: str
    area_type: str
    aid_item: str
    effective_from: _dt.date
    effective_to: _dt.date
    amount_yuan: int
    source: str
    source_note: str


def _read(name: str) -> list[dict]:
    text = (resources.files("jiuzhu") / "data" / "policy" / name).read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@cache
def standards() -> tuple[Standard, ...]:
    return tuple(
        Standard(
            r["region_code"], r["area_type"], r["aid_item"],
            _dt.date.fromisoformat(r["effective_from"]), _dt.date.fromisoformat(r["effective_to"]),
            int(r["amount_yuan"]), r["source"], r["source_note"],
        )
        for r in _read("standards.csv")
    )


@cache
def _index() -> dict[tuple[str, str, str], list[Standard]]:
    out: dict[tuple[str, str, str], list[Standard]] = {}
    for s in standards():
        out.setdefault((s.region_code, s.area_type, s.aid_item), []).append(s)
    return out


def standard(county6: str, area_type: str, aid_item: str, on: _dt.date) -> Standard:
    """The standard in force for a county, area type and aid item on a date."""
    for code in (county6[:6], county6[:4] + "00", "510000"):
        for s in _index().get((code, area_type, aid_item), []):
            if s.effective_from <= on <= s.effective_to:
                return s
    raise LookupError(f"没有适用的{aid_item}标准:{county6} {area_type} {on}")


@cache
def asset_limits() -> dict[str, float]:
    return {r["limit_code"]: float(r["value"]) for r in _read("asset_limits.csv")}


def standards_arrow():
    """The standards table for the lake (silver/policy_standards), read by the dbt marts."""
    import pyarrow as pa  # noqa: PLC0415

    return pa.Table.from_pylist(_read("standards.csv"), schema=pa.schema([
        ("region_code", pa.string()), ("area_type", pa.string()), ("aid_item", pa.string()),
        ("effective_from", pa.string()), ("effective_to", pa.string()), ("amount_yuan", pa.string()),
        ("source", pa.string()), ("source_note", pa.string()),
    ]))


def asset_limits_arrow():
    import pyarrow as pa  # noqa: PLC0415

    return pa.Table.from_pylist(_read("asset_limits.csv"), schema=pa.schema([
        (name, pa.string()) for name in ("limit_code", "aid_item", "description_zh", "value", "unit",
                                         "effective_from", "effective_to", "source", "source_note")
    ]))
