"""Read a delivered file into raw text columns, exactly as delivered.

Every value comes back as text (or None for an empty cell), so that validation sees what the
department sent: an ID that Excel turned into ``5.10104E+17`` stays visible as such, and a
leading zero is never lost to type inference.

With ``with_issues=True`` the reader also returns the rows it could not parse (a ragged line,
a line in another encoding, a broken JSON line) with their 1-based data-row numbers, and adds a
``__row_number`` column so every parsed row keeps its place in the file.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROW_NUMBER = "__row_number"
_BAD_LINE = "\x00__undecodable__"
_ALTERNATIVE = {"utf-8": "gb18030", "gbk": "utf-8", "gb18030": "utf-8"}


class UnreadableFile(Exception):
    """A whole file cannot be read; ``code`` is stable, ``message`` is Chinese."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def read_raw(path: Path, fmt: str, encoding: str | None = None, *, with_issues: bool = False):
    """Return the file's rows as an Arrow table of strings, in delivered order."""
    path = Path(path)
    if fmt == "csv":
        table, issues, notes = _read_csv(path, encoding or "utf-8")
    elif fmt == "jsonl":
        table, issues, notes = _read_jsonl(path)
    elif fmt == "parquet":
        table, issues, notes = _read_parquet(path)
    elif fmt == "xlsx":
        table, issues, notes = _read_xlsx(path)
    else:
        raise UnreadableFile("FILE_FORMAT", f"不支持的文件格式:{fmt}")
    if with_issues:
        return _numbered(table, issues), issues, notes
    return table


def _numbered(table: pa.Table, issues: list[dict]) -> pa.Table:
    bad = {i["row_number"] for i in issues}
    total = table.num_rows + len(bad)
    numbers = [n for n in range(1, total + 1) if n not in bad]
    return table.append_column(ROW_NUMBER, pa.array(numbers, pa.int64()))


def _as_text_table(columns: list[str], rows: list[list]) -> pa.Table:
    data = {c: pa.array([None if r[i] is None else str(r[i]) for r in rows], pa.string()) for i, c in enumerate(columns)}
    return pa.table(data) if columns else pa.table({})


def _norm_encoding(encoding: str) -> str:
    e = encoding.lower().replace("_", "-")
    return "utf-8" if e in ("utf-8", "utf8", "utf-8-sig") else e


def _decode(raw: bytes, encoding: str) -> tuple[str, list[int], list[dict]]:
    """Decode a CSV; returns the text, the line numbers that could not be decoded, and notes."""
    notes = []
    enc = _norm_encoding(encoding)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        if enc != "utf-8":
            notes.append({"code": "ENCODING_DETECTED", "message": f"文件带UTF-8字节顺序标记(BOM),按UTF-8读取(声明为{encoding})"})
            enc = "utf-8"
    try:
        return raw.decode(enc), [], notes
    except (UnicodeDecodeError, LookupError):
        pass
    raw_lines = raw.split(b"\n")
    # pure-ASCII lines decode in any of these encodings and tell nothing: judge by the others
    telling = [line for line in raw_lines if not line.isascii()]
    failing = sum(1 for line in telling if not _decodes(line, enc))
    alternative = _ALTERNATIVE.get(enc) if failing * 2 > len(telling) else None  # mostly foreign: detect
    if alternative:
        try:
            text = raw.decode(alternative)
            if enc == "utf-8" or _looks_like_text(text):
                notes.append({"code": "ENCODING_DETECTED",
                              "message": f"文件不是声明的{encoding}编码,已识别为{alternative}并按其读取,请在清单中如实声明"})
                return text, [], notes
        except UnicodeDecodeError:
            pass
    lines, bad = [], []
    for i, line in enumerate(raw_lines):
        try:
            lines.append(line.decode(enc))
        except UnicodeDecodeError:
            if i == 0:
                raise UnreadableFile("FILE_ENCODING", f"表头无法按声明的{encoding}编码解码") from None
            lines.append(_BAD_LINE)
            bad.append(i)
    notes.append({"code": "ENCODING_MIXED", "message": f"文件中有{len(bad)}行无法按{encoding}解码(混合编码),这些行已隔离"})
    return "\n".join(lines), bad, notes


def _decodes(line: bytes, enc: str) -> bool:
    try:
        line.decode(enc)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _looks_like_text(text: str) -> bool:
    return "\ufffd" not in text


def _read_csv(path: Path, encoding: str) -> tuple[pa.Table, list[dict], list[dict]]:
    raw = path.read_bytes()
    if not raw.strip(b"\r\n\t \xef\xbb\xbf"):
        return pa.table({}), [], [{"code": "FILE_EMPTY", "message": "文件为空"}]
    text, _bad_lines, notes = _decode(raw, encoding)
    first_line = text.split("\n", 1)[0].rstrip("\r")
    try:
        names = next(csv.reader([first_line]))
    except csv.Error as exc:
        raise UnreadableFile("FILE_PARSE", f"表头无法解析:{exc}") from None
    if len(set(names)) != len(names):
        raise UnreadableFile("HEADER_DUPLICATE", "表头中有重复的列名")
    issues: list[dict] = []

    def on_invalid(row) -> str:
        code = "ENCODING_INVALID" if row.text.startswith(_BAD_LINE) else "RAGGED_ROW"
        detail = "" if code == "ENCODING_INVALID" else f"应为{row.expected_columns}列,实为{row.actual_columns}列"
        issues.append({"row_number": row.number - 1, "code": code, "detail": detail})
        return "skip"

    opts = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True,
                                quoted_strings_can_be_null=False)
    parse = pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False, newlines_in_values=False)
    try:
        table = pacsv.read_csv(io.BytesIO(text.encode("utf-8")),
                               read_options=pacsv.ReadOptions(block_size=1 << 26, use_threads=False),
                               parse_options=parse, convert_options=opts)
    except pa.ArrowInvalid as exc:
        raise UnreadableFile("FILE_PARSE", f"CSV文件无法解析(可能被截断或引号不配对):{str(exc)[:120]}") from None
    return table, issues, notes


def _read_jsonl(path: Path) -> tuple[pa.Table, list[dict], list[dict]]:
    columns: list[str] = []
    rows: list[dict] = []
    issues: list[dict] = []
    number = 0
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile("FILE_ENCODING", "JSON Lines 文件必须是UTF-8编码") from None
    for line in text.splitlines():
        if not line.strip():
            continue
        number += 1
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            issues.append({"row_number": number, "code": "JSON_INVALID", "detail": "该行不是有效的JSON"})
            continue
        if not isinstance(rec, dict):
            issues.append({"row_number": number, "code": "JSON_INVALID", "detail": "该行不是JSON对象"})
            continue
        for k in rec:
            if k not in columns:
                columns.append(k)
        rows.append(rec)
    notes = [] if number else [{"code": "FILE_EMPTY", "message": "文件为空"}]
    return _as_text_table(columns, [[_json_text(r.get(c)) for c in columns] for r in rows]), issues, notes


def _json_text(v):
    if v is None:
        return None
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _read_parquet(path: Path) -> tuple[pa.Table, list[dict], list[dict]]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise UnreadableFile("PARQUET_UNREADABLE", f"Parquet文件无法读取:{str(exc)[:120]}") from None
    return pa.table({name: table.column(name).cast(pa.string()) for name in table.column_names}), [], []


def _read_xlsx(path: Path) -> tuple[pa.Table, list[dict], list[dict]]:
    import zipfile  # noqa: PLC0415

    import openpyxl  # noqa: PLC0415
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise UnreadableFile("XLSX_UNREADABLE", f"XLSX文件无法打开(文件损坏或不是Excel工作簿):{type(exc).__name__}") from None
    issues: list[dict] = []
    try:
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        header = next(it, None)
        if header is None:
            return pa.table({}), [], [{"code": "FILE_EMPTY", "message": "工作表为空"}]
        while header and header[-1] is None:
            header = header[:-1]
        columns = [str(h).strip() for h in header]
        rows = []
        number = 0
        for r in it:
            if all(v is None for v in r):
                continue  # Excel keeps formatted empty rows; they carry no data
            number += 1
            r = list(r)
            if len(r) > len(columns) and any(v is not None for v in r[len(columns):]):
                issues.append({"row_number": number, "code": "RAGGED_ROW", "detail": "该行有超出表头的数据"})
                continue
            rows.append((r + [None] * len(columns))[: len(columns)])
    finally:
        wb.close()
    return _as_text_table(columns, [[_xlsx_text(v) for v in r] for r in rows]), issues, []


def _xlsx_text(v):
    if v is None:
        return None
    if isinstance(v, float):
        # what Excel shows for a long number typed into a General cell
        if abs(v) >= 1e11:
            return f"{v:.5E}".replace(".00000E", "E")
        return str(int(v)) if v == int(v) else repr(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()[:10]
    return str(v)
