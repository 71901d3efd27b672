"""Read a delivered file into raw text columns, exactly as delivered.

Every value comes back as text (or None for an empty cell), so that validation sees what the
department sent: an ID that Excel turned into ``5.10104E+17`` stays visible as such, and a
leading zero is never lost to type inference.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


class UnreadableFile(Exception):
    """A whole file cannot be read; ``code`` is stable, ``message`` is Chinese."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def read_raw(path: Path, fmt: str, encoding: str | None = None) -> pa.Table:
    """Return the file's rows as an Arrow table of strings, in delivered order."""
    path = Path(path)
    if fmt == "csv":
        return _read_csv(path, encoding or "utf-8")
    if fmt == "jsonl":
        return _read_jsonl(path)
    if fmt == "parquet":
        return _read_parquet(path)
    if fmt == "xlsx":
        return _read_xlsx(path)
    raise UnreadableFile("FILE_FORMAT", f"不支持的文件格式:{fmt}")


def _as_text_table(columns: list[str], rows: list[list]) -> pa.Table:
    data = {c: pa.array([None if r[i] is None else str(r[i]) for r in rows], pa.string()) for i, c in enumerate(columns)}
    return pa.table(data) if columns else pa.table({})


def _read_csv(path: Path, encoding: str) -> pa.Table:
    raw = path.read_bytes()
    if not raw.strip():
        return pa.table({})
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig") else encoding
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise UnreadableFile("FILE_ENCODING", f"文件不是声明的{encoding}编码(第{exc.start}字节无法解码)") from None
    data = text.encode("utf-8")
    read = pacsv.ReadOptions(block_size=1 << 24)
    first_line = text.split("\n", 1)[0]
    names = next(csv.reader([first_line]))
    opts = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True,
                                quoted_strings_can_be_null=False)
    return pacsv.read_csv(io.BytesIO(data), read_options=read, convert_options=opts)


def _read_jsonl(path: Path) -> pa.Table:
    columns: list[str] = []
    rows: list[dict] = []
    with path.open("r", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            for k in rec:
                if k not in columns:
                    columns.append(k)
            rows.append(rec)
    return _as_text_table(columns, [[_json_text(r.get(c)) for c in columns] for r in rows])


def _json_text(v):
    return None if v is None else str(v)


def _read_parquet(path: Path) -> pa.Table:
    table = pq.read_table(path)
    return pa.table({name: table.column(name).cast(pa.string()) for name in table.column_names})


def _read_xlsx(path: Path) -> pa.Table:
    import openpyxl  # noqa: PLC0415

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        header = next(it, None)
        if header is None:
            return pa.table({})
        columns = [str(h) for h in header]
        rows = [list(r) for r in it]
    finally:
        wb.close()
    return _as_text_table(columns, [[_xlsx_text(v) for v in r] for r in rows])


def _xlsx_text(v):
    if v is None:
        return None
    if isinstance(v, float):
        # what Excel shows for a long number typed into a General cell
        return f"{v:.5E}".replace(".00000E", "E") if abs(v) >= 1e11 else repr(v)
    return str(v)
