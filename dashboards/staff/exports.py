"""Spreadsheet-safe exports: CSV (UTF-8 with BOM, Excel reads it as UTF-8) and XLSX.

Every text cell (headers included) goes through ``jiuzhu.masking.safe_cell``, the one neutraliser
of the platform (also used by the audit export): a cell starting with = + - @, tab, CR, LF or the
full-width ＝＋－＠ gets a leading ``'`` so no spreadsheet runs it as a formula. Numbers stay
numbers, negative ones included. XLSX is written cell by cell with xlsxwriter's typed writers and
formula/URL detection off, so even a cell that slipped past the neutraliser stays text.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import xlsxwriter

from jiuzhu.masking import safe_cell

_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _plain(value):
    """A cell value as Python: None for missing, numbers as int/float, everything else as text."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 2**53:
            return int(value)  # counts in a column pandas widened to float because of a gap
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _plain(value.item())  # numpy scalars
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def safe_rows(frame: pd.DataFrame) -> tuple[list[str], list[list]]:
    """Header and rows with every text cell neutralised (numbers untouched)."""
    header = [safe_cell(str(c)) for c in frame.columns]
    rows = [[safe_cell(_plain(v)) for v in row] for row in frame.itertuples(index=False, name=None)]
    return header, rows


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    header, rows = safe_rows(frame)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def _sheet_name(name: str, taken: set[str]) -> str:
    base = _SHEET_FORBIDDEN.sub("_", name).strip("'") or "表"
    base = base[:31]
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"({n})"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate)
    return candidate


def to_xlsx_bytes(tables: Mapping[str, pd.DataFrame]) -> bytes:
    """One workbook, one sheet per table (sheet names are the tables' Chinese titles)."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                 "strings_to_numbers": False}
    )
    bold = workbook.add_format({"bold": True})
    taken: set[str] = set()
    for name, frame in tables.items():
        sheet = workbook.add_worksheet(_sheet_name(name, taken))
        header, rows = safe_rows(frame)
        for col, title in enumerate(header):
            sheet.write_string(0, col, title, bold)
            sheet.set_column(col, col, max(10, min(40, len(str(title)) * 2 + 2)))
        for r, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                if value is None:
                    sheet.write_blank(r, col, None)
                elif isinstance(value, (int, float)):
                    sheet.write_number(r, col, value)
                else:
                    sheet.write_string(r, col, value)
    workbook.close()
    return buffer.getvalue()
