"""Turn a department's clean rows for a month into the batch it really sends: its file format,
encoding, units and date style, with the defects real departments deliver, and a manifest.

Every injected defect is written to the ground-truth ledger (truth/defects.parquet) with the file
and 1-based data row it sits on, so ingestion can be scored against it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from jiuzhu.departments import Department

CONTRACT_VERSION = "1.0"
XLSX_MAX_ROWS = 1_000_000  # Excel's sheet limit is 1,048,576 rows; departments split before it

# The person-ID column, region column, date columns and amount columns of each feed.
ID_COLUMN = {"gongan": "公民身份号码", "renshe": "id_number", "shuiwu": "taxpayer_id", "budongchan": "owner_id",
             "cheliang": "所有人身份证号", "shichang": "经营者身份证号", "gongjijin": "zjhm", "yibao": "person_id",
             "canlian": "身份证号", "yinhang": "id_no", "siwang": "身份证号", "xiangcun": "member_id",
             "minzheng": "member_id"}
REGION_COLUMN = {"gongan": "户籍地区划代码", "budongchan": "region_code", "shichang": "住所区划代码",
                 "siwang": "死亡地点区划代码", "minzheng": "region_code"}
AMOUNT_COLUMN = {"renshe": "wage", "shuiwu": "income_amount", "cheliang": "车辆估值", "gongjijin": "jcjs",
                 "yibao": "out_of_pocket", "yinhang": "deposit_balance", "minzheng": "monthly_amount"}
NAME_COLUMN = {"gongan": "姓名", "renshe": "name", "shuiwu": "taxpayer_name", "budongchan": "owner_name",
               "cheliang": "所有人姓名", "shichang": "经营者姓名", "gongjijin": "xm", "yibao": "person_name",
               "canlian": "姓名", "yinhang": "name", "siwang": "姓名", "xiangcun": "member_name",
               "minzheng": "member_name"}
FEN_COLUMNS = {"gongjijin": ["jcjs", "yjce"], "yinhang": ["deposit_balance", "financial_assets"]}

# Defect rates per row (share of a batch's rows). Stated here, checked by the tests.
RATES = {
    "bad_check_digit": 0.002,
    "legacy_15": 0.01,  # only departments with old systems, and only people born before 2000
    "fullwidth_id": 0.001,
    "scientific_id": 0.003,  # only XLSX deliveries (a clerk opened and saved the file in Excel)
    "missing_id": 0.0005,
    "unknown_region": 0.001,
    "future_date": 0.0005,
    "negative_amount": 0.0005,
    "alt_date_format": 0.02,  # CSV and JSONL only
    "duplicate_row": 0.003,
    "conflicting_duplicate": 0.001,
    "corrected_later": 0.002,  # renshe only: wrong in this batch, corrected in the next
}
LEGACY_DEPARTMENTS = {"gongan", "canlian", "cheliang"}
BATCH_RATES = {"late": 0.06, "replayed": 0.03}
# Defects after which the row is still acceptable once normalised (the others must be quarantined).
REPAIRABLE = {"legacy_15", "fullwidth_id", "alt_date_format", "corrected_later", "correction"}

_DATE_STYLES = {
    "iso": "%Y-%m-%d", "yyyymmdd": "%Y%m%d", "slash": "%Y/%m/%d", "chinese": "%Y年%m月%d日", "yyyymm": "%Y-%m-%d",
}
_ALT_STYLES = ["%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d", "%Y-%m-%d 00:00:00"]


LEDGER_SCHEMA = pa.schema([("department", pa.string()), ("batch_id", pa.string()), ("file", pa.string()),
                           ("row_number", pa.int64()), ("defect", pa.string()), ("column", pa.string()),
                           ("repairable", pa.bool_())])


@dataclass
class Ledger:
    """The defect ledger, streamed to Parquet (at province scale it holds tens of millions of rows)."""

    path: Path
    rows: list[dict] = field(default_factory=list)
    offset: int = 0  # data rows already written to the current file by earlier chunks
    count: int = 0
    _writer: pq.ParquetWriter | None = None

    def add(self, dept: str, batch: str, file: str, row: int, kind: str, column: str | None) -> None:
        self.rows.append({"department": dept, "batch_id": batch, "file": file, "row_number": int(row) + self.offset,
                          "defect": kind, "column": column, "repairable": kind in REPAIRABLE})
        self.count += 1
        if len(self.rows) >= 200_000:
            self.flush()

    def flush(self) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, LEDGER_SCHEMA, compression="zstd")
        if self.rows:
            self._writer.write_table(pa.Table.from_pylist(self.rows, schema=LEDGER_SCHEMA))
        self.rows = []

    def close(self) -> None:
        self.flush()
        self._writer.close()


def batch_id(dept: Department, period: str) -> str:
    return f"{dept.slug}-{period.replace('-', '')}"


def _to_string_dates(col: np.ndarray, fmt: str) -> np.ndarray:
    days = col.astype("datetime64[D]")
    py = days.astype(object)
    return np.array([d.strftime(fmt) if d is not None else "" for d in py], dtype=object)


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "0" <= ch <= "9" or ch == "X" else ch for ch in text)


def _legacy15(id18: str) -> str:
    return id18[:6] + id18[8:17]


def apply_defects(rng, dept: Department, cols: dict, period_end: _dt.date, ledger: Ledger, batch: str,
                  file: str, extra_rows: dict | None = None) -> dict:
    """Inject row defects into ``cols`` (dict of numpy arrays), returning the new columns.

    Dates are still ``datetime64[D]`` on entry; text formats get them formatted here."""
    slug = dept.slug
    fmt = dept.delivery.format
    n = len(next(iter(cols.values())))
    cols = {k: np.array(v, dtype=object) if v.dtype.kind in "OUS" else v.copy() for k, v in cols.items()}
    taken = np.zeros(n, dtype=bool)

    def pick(rate: float, eligible: np.ndarray | None = None) -> np.ndarray:
        ok = ~taken if eligible is None else (~taken & eligible)
        chosen = np.flatnonzero(ok & (rng.random(n) < rate))
        taken[chosen] = True
        return chosen

    id_col = ID_COLUMN[slug]
    ids_ = cols[id_col]
    scientific = np.zeros(n, dtype=bool)
    for r in pick(RATES["bad_check_digit"]):
        good = ids_[r]
        wrong = "0123456789X"[("0123456789X".index(good[-1]) + 1 + int(rng.integers(0, 9))) % 11]
        ids_[r] = good[:-1] + wrong
        ledger.add(slug, batch, file, r + 1, "bad_check_digit", id_col)
    if slug in LEGACY_DEPARTMENTS:
        born_early = np.array([s[6:10] < "2000" for s in ids_], dtype=bool)
        for r in pick(RATES["legacy_15"], born_early):
            ids_[r] = _legacy15(ids_[r])
            ledger.add(slug, batch, file, r + 1, "legacy_15", id_col)
    for r in pick(RATES["fullwidth_id"]):
        ids_[r] = _fullwidth(ids_[r])
        ledger.add(slug, batch, file, r + 1, "fullwidth_id", id_col)
    if fmt == "xlsx":
        for r in pick(RATES["scientific_id"], np.array([s[-1] != "X" for s in ids_], dtype=bool)):
            scientific[r] = True
            ledger.add(slug, batch, file, r + 1, "scientific_id", id_col)
    for r in pick(RATES["missing_id"]):
        ids_[r] = ""
        ledger.add(slug, batch, file, r + 1, "missing_id", id_col)
    if slug in REGION_COLUMN:
        rc = REGION_COLUMN[slug]
        for r in pick(RATES["unknown_region"]):
            cols[rc][r] = "519" + str(cols[rc][r])[3:]
            ledger.add(slug, batch, file, r + 1, "unknown_region", rc)
    date_cols = [k for k, v in cols.items() if getattr(v, "dtype", None) is not None and v.dtype.kind == "M"]
    if date_cols:
        dc = date_cols[0]
        for r in pick(RATES["future_date"]):
            cols[dc][r] = np.datetime64(period_end) + np.timedelta64(400 + int(rng.integers(0, 900)), "D")
            ledger.add(slug, batch, file, r + 1, "future_date", dc)
    if slug in AMOUNT_COLUMN:
        ac = AMOUNT_COLUMN[slug]
        positive = cols[ac] > 0
        for r in pick(RATES["negative_amount"], positive):
            cols[ac][r] = -cols[ac][r]
            ledger.add(slug, batch, file, r + 1, "negative_amount", ac)
    if extra_rows is not None:  # rows wrong in this batch, corrected in the next (renshe)
        ac = AMOUNT_COLUMN[slug]
        positive = cols[ac] > 0
        for r in pick(RATES["corrected_later"], positive):
            extra_rows.setdefault("rows", []).append({k: (v[r] if k not in FEN_COLUMNS.get(slug, []) else v[r]) for k, v in cols.items()})
            cols[ac][r] = round(float(cols[ac][r]) * 1.5, 0)
            ledger.add(slug, batch, file, r + 1, "corrected_later", ac)
    # amount units
    for fc in FEN_COLUMNS.get(slug, []):
        cols[fc] = np.round(cols[fc].astype(np.float64) * 100).astype(np.int64)
    # date formatting for text formats, with a share of rows in another style
    if fmt in ("csv", "jsonl", "xlsx"):
        style = _DATE_STYLES[dept.delivery.date_style]
        for dc in date_cols:
            text = _to_string_dates(cols[dc], style if fmt != "xlsx" else "%Y-%m-%d")
            if fmt != "xlsx" and dc == date_cols[0]:
                alt = pick(RATES["alt_date_format"])
                for r in alt:
                    alt_style = _ALT_STYLES[int(rng.integers(0, len(_ALT_STYLES)))]
                    if alt_style == style:
                        alt_style = "%Y-%m-%d"
                    text[r] = cols[dc][r].astype(object).strftime(alt_style)
                    ledger.add(slug, batch, file, r + 1, "alt_date_format", dc)
            cols[dc] = text
    # duplicates appended at the end of the file
    # duplicates are copies of clean rows, so each copy has exactly one reason to be set aside
    dups = np.flatnonzero(~taken & (rng.random(n) < RATES["duplicate_row"]) & ~scientific)
    conflicts = np.flatnonzero(~taken & (rng.random(n) < RATES["conflicting_duplicate"]) & ~scientific)
    name_col = NAME_COLUMN[slug]
    appended = []
    for r in dups:
        appended.append((r, None))
    for r in conflicts:
        appended.append((r, "conflict"))
    if appended:
        base = {k: list(v) for k, v in cols.items()}
        sci = list(scientific)
        for i, (r, kind) in enumerate(appended):
            for k in cols:
                base[k].append(cols[k][r])
            sci.append(scientific[r])
            row_no = n + i + 1
            if kind == "conflict":
                if slug in AMOUNT_COLUMN:
                    ac = AMOUNT_COLUMN[slug]
                    base[ac][-1] = type(base[ac][-1])(base[ac][-1] + (100 if base[ac][-1] >= 0 else -100))
                    ledger.add(slug, batch, file, row_no, "conflicting_duplicate", ac)
                else:
                    base[name_col][-1] = str(base[name_col][-1])[:-1] + "某"
                    ledger.add(slug, batch, file, row_no, "conflicting_duplicate", name_col)
            else:
                ledger.add(slug, batch, file, row_no, "duplicate_row", None)
        cols = {k: np.array(v, dtype=object if cols[k].dtype.kind == "O" else cols[k].dtype) for k, v in base.items()}
        scientific = np.array(sci, dtype=bool)
    cols["__scientific__"] = scientific
    return cols


class FileWriter:
    """Appends chunks of a batch to one delivery file in the department's format and encoding."""

    def __init__(self, dept: Department, path: Path):
        self.dept = dept
        self.path = path
        self.rows = 0
        self._parquet: pq.ParquetWriter | None = None
        self._xlsx_done = False

    def append(self, cols: dict) -> int:
        scientific = cols.pop("__scientific__")
        fmt, enc = self.dept.delivery.format, self.dept.delivery.encoding
        n = len(next(iter(cols.values())))
        if fmt == "csv":
            table = pa.table({k: pc.fill_null(_text_column(v), "") for k, v in cols.items()})
            buf = io.BytesIO()
            pacsv.write_csv(table, buf, pacsv.WriteOptions(quoting_style="needed", include_header=self.rows == 0))
            data = buf.getvalue()
            if enc == "utf-8-sig" and self.rows > 0:
                enc = "utf-8"  # the byte-order mark opens the file only
            with self.path.open("ab") as f:
                f.write(data if enc == "utf-8" else data.decode("utf-8").encode(enc))
        elif fmt == "jsonl":
            import polars as pl  # noqa: PLC0415

            if n:
                frame = pl.from_arrow(pa.table({k: _json_column(v) for k, v in cols.items()}))
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(frame.write_ndjson())
            else:
                self.path.touch()
        elif fmt == "parquet":
            table = arrow_table(cols)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            self._parquet.write_table(table.cast(self._parquet.schema))
        elif fmt == "xlsx":
            if self._xlsx_done:
                raise ValueError("an XLSX delivery file holds one chunk (split before Excel's row limit)")
            _write_xlsx(cols, scientific, ID_COLUMN[self.dept.slug], self.path)
            self._xlsx_done = True
        else:
            raise ValueError(f"unknown delivery format {fmt}")
        self.rows += n
        return n

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()


def arrow_table(cols: dict) -> pa.Table:
    """Numpy columns as an Arrow table: dates as dates, numbers as numbers, the rest as text."""
    arrays = {}
    for k, v in cols.items():
        if v.dtype.kind == "M":
            arrays[k] = pa.array(v.astype("datetime64[D]"), pa.date32())
        elif v.dtype.kind in "fiub":
            arrays[k] = pa.array(v)
        else:
            arrays[k] = _text_column(v)
    return pa.table(arrays)


def _text_column(v: np.ndarray) -> pa.Array:
    """A column as delivered text: amounts with at most two decimals, no trailing ``.0``."""
    if v.dtype.kind in "fi":
        return pc.cast(pa.array(np.round(v, 2) if v.dtype.kind == "f" else v), pa.string())
    try:
        return pa.array(v, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([None if x is None else str(x) for x in v], pa.string())


def _json_column(v: np.ndarray) -> pa.Array:
    if v.dtype.kind == "f":
        return pa.array(np.round(v, 2))
    if v.dtype.kind == "i":
        return pa.array(v)
    return _text_column(v)


def _write_xlsx(cols: dict, scientific: np.ndarray, id_col: str, path: Path) -> None:
    import xlsxwriter  # noqa: PLC0415 (only XLSX deliveries need it)

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    wb.set_properties({"created": _dt.datetime(2024, 1, 1), "author": "共享单位"})
    ws = wb.add_worksheet("数据")
    keys = list(cols)
    for j, k in enumerate(keys):
        ws.write_string(0, j, k)
    n = len(next(iter(cols.values())))
    for i in range(n):
        for j, k in enumerate(keys):
            v = cols[k][i]
            if k == id_col and scientific[i]:
                ws.write_number(i + 1, j, float(v))  # what Excel does to an 18-digit number
            elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
                ws.write_number(i + 1, j, float(v))
            else:
                ws.write_string(i + 1, j, "" if v is None else str(v))
    wb.close()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def normalise_fullwidth(text: str) -> str:
    return unicodedata.normalize("NFKC", text)
