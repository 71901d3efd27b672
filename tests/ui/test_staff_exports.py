"""The export writer: CSV in UTF-8 with BOM and XLSX, every formula lead neutralised, numbers kept."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
import pandas as pd

from dashboards.staff import exports

LEADS = ["=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠"]


def _sample() -> pd.DataFrame:
    return pd.DataFrame({
        "=区划": [f"{lead}1+1" for lead in LEADS] + ["锦江区", None],
        "人数": list(range(-5, len(LEADS) - 5)) + [7, None],
        "金额(元)": [Decimal("-12.50")] * len(LEADS) + [Decimal(3), 1.25],
    })


def test_csv_is_utf8_with_bom_and_prefixes_every_formula_lead_with_a_quote():
    data = exports.to_csv_bytes(_sample())
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["'=区划", "人数", "金额(元)"]
    assert [r[0] for r in rows[1:1 + len(LEADS)]] == [f"'{lead}1+1" for lead in LEADS]
    assert rows[-2] == ["锦江区", "7", "3"]
    assert rows[-1] == ["", "", "1.25"]
    assert rows[1][1] == "-5" and rows[1][2] == "-12.5"  # negative numbers stay numbers, unquoted


def test_xlsx_keeps_text_as_text_and_numbers_as_numbers_with_no_formula_cell():
    data = exports.to_xlsx_bytes({"按区划": _sample(), "按区划 ": _sample().head(1)})
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["按区划", "按区划 "]
    sheet = book["按区划"]
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [c for c in cells if c.data_type == "f"]
    assert sheet["A1"].value == "'=区划"
    # openpyxl returns the OOXML escape of a carriage return as written (_x000D_); Excel shows CR.
    texts = [sheet.cell(row=i + 2, column=1).value.replace("_x000D_", "\r") for i in range(len(LEADS))]
    assert texts == [f"'{lead}1+1" for lead in LEADS]
    assert sheet["B2"].value == -5 and sheet["B2"].data_type == "n"
    assert sheet["C2"].value == -12.5
    assert sheet.cell(row=len(LEADS) + 3, column=2).value is None


def test_sheet_names_are_made_valid_and_unique():
    frame = pd.DataFrame({"a": [1]})
    data = exports.to_xlsx_bytes({"a/b": frame, "a:b": frame, "很长的表名" * 10: frame})
    names = openpyxl.load_workbook(io.BytesIO(data)).sheetnames
    assert names[0] == "a_b" and names[1] == "a_b(2)"
    assert len(names[2]) == 31
