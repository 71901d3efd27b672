"""Bad input from departments: every kind yields a clear, specific reason and loses nothing
(delivered = accepted + rejected; rejected rows are in quarantine; the batch is receipted)."""

import datetime as dt
import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from exchange import batches as B
from exchange import ingest, run, silver
from jiuzhu import ids

TODAY = dt.date(2026, 11, 29)
PERSON = ids.make("510104", dt.date(1980, 1, 1), 123)
PERSON2 = ids.make("510105", dt.date(1975, 6, 3), 246)
RENSHE_HEADER = ["id_number", "name", "period", "employment_status", "employer_type", "wage", "pension",
                 "unemployment_benefit", "record_type"]


def renshe_row(person=PERSON, name="张伟", wage="5000", **over):
    row = dict(zip(RENSHE_HEADER, [person, name, "202501", "1", "企业", wage, "0", "0", "正常"], strict=True))
    row.update(over)
    return row


def csv_bytes(rows: list[dict], header: list[str] | None = None, encoding="utf-8") -> bytes:
    header = header or list(rows[0])
    lines = [",".join(header)] + [",".join(str(r.get(h, "")) for h in header) for r in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


class Inbox:
    def __init__(self, root: Path):
        self.root = root
        self.lake = root / "lake"
        self.receipts = root / "receipts"

    def batch(self, dept: str, name: str, data: bytes, *, fmt="csv", encoding="utf-8", records=None,
              version="1.0", period="2025-01", sha=None, folder=None) -> B.BatchRef:
        path = self.root / "inbox" / dept / (folder or f"{dept}-{period.replace('-', '')}")
        path.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
        if records is None:
            records = _count_rows(path / name, fmt, encoding)
        manifest = {"department": dept, "batch_id": f"{dept}-{period.replace('-', '')}", "contract_version": version,
                    "period": period, "extract_date": "2025-02-01", "due_date": "2025-02-10",
                    "delivered_at": "2025-02-08T09:00:00+08:00", "format": fmt, "encoding": encoding,
                    "record_count": records,
                    "files": [{"name": name, "records": records,
                               "sha256": sha or hashlib.sha256(data).hexdigest(), "bytes": len(data)}]}
        (path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
        return B.BatchRef(dept, path)

    def ingest(self, ref):
        return ingest.ingest(ref, self.lake, self.receipts, today=TODAY)

    def bronze(self, dept: str, entity: str) -> list[dict]:
        return DeltaTable(str(self.lake / "bronze" / dept / f"raw__{dept}__{entity}")).to_pyarrow_table().to_pylist()

    def quarantine(self, dept: str) -> list[dict]:
        path = self.lake / "quarantine" / dept / "rejected_rows"
        return DeltaTable(str(path)).to_pyarrow_table().to_pylist() if path.exists() else []


def _count_rows(path: Path, fmt: str, encoding: str) -> int:
    from exchange.readers import read_raw

    try:
        table, issues, _ = read_raw(path, fmt, encoding, with_issues=True)
    except Exception:  # unreadable on purpose: the manifest still declares something
        return 1
    return table.num_rows + len(issues)


@pytest.fixture
def box(tmp_path):
    return Inbox(tmp_path)


def assert_nothing_lost(box: Inbox, outcome, dept="renshe", entity="employment_income"):
    assert outcome.delivered == outcome.accepted + outcome.rejected
    rows = [r for r in box.bronze(dept, entity) if r["_batch_key"] == outcome.batch_key] if outcome.delivered else []
    assert len(rows) == outcome.delivered
    q = [r for r in box.quarantine(dept) if r["_batch_key"] == outcome.batch_key]
    assert len(q) == outcome.rejected
    receipt = json.loads(next((box.receipts / dept).glob(f"{outcome.batch_id}__*.json")).read_text())
    assert receipt["delivered"] == outcome.delivered and receipt["rejected"] == outcome.rejected
    return rows, q


def only_reason(outcome, code):
    assert code in outcome.reasons, outcome.reasons
    return [r for r in outcome.rejected_rows if r["reason_code"] == code]


# --- encodings -----------------------------------------------------------------------------

def test_gbk_file_declared_utf8_is_detected_and_loaded(box):
    o = box.ingest(box.batch("renshe", "a.csv", csv_bytes([renshe_row()], encoding="gbk"), encoding="utf-8"))
    assert o.accepted == 1 and any(w["code"] == "ENCODING_DETECTED" for w in o.warnings)
    rows, _ = assert_nothing_lost(box, o)
    assert rows[0]["person_name"] == "张伟"


def test_mixed_encoding_quarantines_the_foreign_lines_only(box):
    good = csv_bytes([renshe_row(), renshe_row(PERSON2, "李娜")])
    lines = good.split(b"\n")
    lines[2] = lines[2].decode("utf-8").encode("gbk")  # one line saved from a GBK tool
    o = box.ingest(box.batch("renshe", "a.csv", b"\n".join(lines)))
    assert only_reason(o, "ENCODING_INVALID")[0]["row_number"] == 2
    assert o.accepted == 1
    assert_nothing_lost(box, o)


def test_utf8_bom_is_stripped_from_the_header(box):
    o = box.ingest(box.batch("renshe", "a.csv", b"\xef\xbb\xbf" + csv_bytes([renshe_row()])))
    assert o.accepted == 1 and not o.warnings


def test_bom_on_a_gbk_declared_file_means_utf8(box):
    o = box.ingest(box.batch("renshe", "a.csv", b"\xef\xbb\xbf" + csv_bytes([renshe_row()]), encoding="gbk"))
    assert o.accepted == 1 and o.warnings[0]["code"] == "ENCODING_DETECTED"


def test_gbk_hukou_file_with_chinese_headers_loads(box):
    from schemas import contracts

    c = contracts.get("gongan", "1.0")
    row = {"公民身份号码": PERSON, "姓名": "王芳", "性别": "2", "民族": "01", "出生日期": "19800101",
           "户号": "510104000000001", "与户主关系": "02", "户籍地区划代码": "510104017001", "户口性质": "城镇",
           "变动类型": "全量", "变动日期": "20241031"}
    o = box.ingest(box.batch("gongan", "h.csv", csv_bytes([row], c.source_columns, "gbk"), encoding="gbk", period="2024-11"))
    assert o.accepted == 1
    assert_nothing_lost(box, o, "gongan", "hukou")


# --- file structure ---------------------------------------------------------------------------

def test_truncated_file_fails_the_checksum_and_the_batch_is_refused_whole(box):
    data = csv_bytes([renshe_row(), renshe_row(PERSON2, "李娜")])
    ref = box.batch("renshe", "a.csv", data[:-25], sha=hashlib.sha256(data).hexdigest(), records=2)
    o = box.ingest(ref)
    assert o.status == "rejected" and o.batch_error["code"] == "BATCH_CHECKSUM_MISMATCH"
    assert o.accepted == 0
    assert_nothing_lost(box, o)


def test_ragged_row_is_quarantined_with_its_row_number(box):
    data = csv_bytes([renshe_row(), renshe_row(PERSON2, "李娜")]) + f"{PERSON},多,202501,1,企业,1,0,0,正常,EXTRA\n".encode()
    o = box.ingest(box.batch("renshe", "a.csv", data))
    assert only_reason(o, "RAGGED_ROW")[0]["row_number"] == 3
    assert o.accepted == 2
    assert_nothing_lost(box, o)


def test_missing_required_column_rejects_rows_and_says_which_column(box):
    header = [h for h in RENSHE_HEADER if h != "wage"]
    o = box.ingest(box.batch("renshe", "a.csv", csv_bytes([renshe_row()], header)))
    assert o.rejected == 1 and "MISSING_COLUMN" in o.reasons
    assert any(w["code"] == "MISSING_COLUMN" and w["column"] == "wage" for w in o.warnings)


def test_extra_column_is_reported_and_rows_load(box):
    row = {**renshe_row(), "备注": "x"}
    o = box.ingest(box.batch("renshe", "a.csv", csv_bytes([row])))
    assert o.accepted == 1 and any(w["code"] == "EXTRA_COLUMN" for w in o.warnings)


def test_renamed_column_is_reported_as_missing_with_a_hint(box):
    header = ["gongzi" if h == "wage" else h for h in RENSHE_HEADER]
    row = {("gongzi" if k == "wage" else k): v for k, v in renshe_row().items()}
    o = box.ingest(box.batch("renshe", "a.csv", csv_bytes([row], header)))
    assert o.rejected == 1
    assert any("gongzi" in w["message"] and "重命名" in w["message"] for w in o.warnings)


def test_empty_file_is_an_empty_batch(box):
    o = box.ingest(box.batch("renshe", "a.csv", b"", records=0))
    assert o.status == "loaded" and o.delivered == 0
    assert any(w["code"] == "FILE_EMPTY" for w in o.warnings)


def test_header_only_file_is_an_empty_batch(box):
    o = box.ingest(box.batch("renshe", "a.csv", (",".join(RENSHE_HEADER) + "\n").encode(), records=0))
    assert o.status == "loaded" and o.delivered == 0 and o.rejected == 0


# --- values -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("override", "code"), [
    ({"wage": "abc"}, "AMOUNT_INVALID"),
    ({"wage": "-300"}, "AMOUNT_NEGATIVE"),
    ({"wage": "500000000"}, "AMOUNT_IMPLAUSIBLE"),  # fen delivered where yuan is declared
    ({"id_number": PERSON[:-1] + ("0" if PERSON[-1] != "0" else "1")}, "ID_CHECK"),
    ({"id_number": "5.10104E+17"}, "ID_SCIENTIFIC"),
    ({"id_number": "51010419800101"}, "ID_LENGTH"),
    ({"id_number": ids.make("510104", dt.date(2030, 1, 1), 123)}, "ID_BIRTH_FUTURE"),
    ({"name": ""}, "REQUIRED_MISSING"),
    ({"name": "王" * 5000}, "FIELD_TOO_LONG"),
    ({"employment_status": "9"}, "CODE_UNKNOWN"),
    ({"period": "202513"}, "PERIOD_INVALID"),
    ({"period": "202706"}, "PERIOD_FUTURE"),
])
def test_bad_value_gets_its_own_reason(box, override, code):
    bad = {**renshe_row(PERSON2, "李娜"), **override}
    o = box.ingest(box.batch("renshe", "a.csv", csv_bytes([renshe_row(), bad])))
    rows = only_reason(o, code)
    assert rows[0]["row_number"] == 2 and rows[0]["message"]
    assert o.accepted == 1
    assert_nothing_lost(box, o)


def test_fifteen_digit_id_is_upgraded_and_loaded(box):
    legacy = PERSON[:6] + PERSON[8:17]
    o = box.ingest(box.batch("renshe", "a.csv", csv_bytes([renshe_row(legacy)])))
    assert o.accepted == 1
    run.conform_department(box.lake, "renshe", today=TODAY)
    rows = DeltaTable(str(silver.table_path(box.lake, "employment_income"))).to_pyarrow_table().to_pylist()
    assert rows[0]["person_id"] == PERSON and rows[0]["person_key"] == ids.to_key(PERSON)


def test_fullwidth_digits_are_normalised(box):
    full = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in PERSON)
    o = box.ingest(box.batch("renshe", "a.csv", csv_bytes([renshe_row(full, wage="５０００")])))
    assert o.accepted == 1


def test_formula_like_cells_are_kept_as_text(box):
    o = box.ingest(box.batch("renshe", "a.csv", csv_bytes([renshe_row(name="=1+1")])))
    rows, _ = assert_nothing_lost(box, o)
    assert rows[0]["person_name"] == "=1+1"


def test_unknown_region_code_is_quarantined(box):
    from schemas import contracts

    c = contracts.get("siwang", "1.0")
    row = {"身份证号": PERSON, "姓名": "王芳", "死亡日期": "2025年01月03日", "死亡地点区划代码": "519999003001",
           "死亡原因分类": "疾病"}
    o = box.ingest(box.batch("siwang", "d.csv", csv_bytes([row], c.source_columns)))
    assert only_reason(o, "REGION_UNKNOWN")
    assert_nothing_lost(box, o, "siwang", "deaths")


@pytest.mark.parametrize(("value", "code"), [("2025-02-30", "DATE_INVALID"), ("2029-01-01", "DATE_FUTURE"),
                                             ("1850-01-01", "DATE_IMPLAUSIBLE")])
def test_impossible_and_future_dates_are_quarantined(box, value, code):
    from schemas import contracts

    c = contracts.get("siwang", "1.0")
    row = {"身份证号": PERSON, "姓名": "王芳", "死亡日期": value, "死亡地点区划代码": "510104017001", "死亡原因分类": "疾病"}
    o = box.ingest(box.batch("siwang", "d.csv", csv_bytes([row], c.source_columns)))
    assert only_reason(o, code)


def test_mixed_date_formats_are_all_understood(box):
    from schemas import contracts

    c = contracts.get("siwang", "1.0")
    rows = [{"身份证号": ids.make("510104", dt.date(1940, 1, 1), 11 + 2 * i), "姓名": "王芳", "死亡日期": d,
             "死亡地点区划代码": "510104017001", "死亡原因分类": "疾病"}
            for i, d in enumerate(["2025年01月03日", "2025/1/3", "20250103", "2025-01-03", "2025.01.03",
                                   "2025-01-03 00:00:00"])]
    o = box.ingest(box.batch("siwang", "d.csv", csv_bytes(rows, c.source_columns)))
    assert o.accepted == 6
    run.conform_department(box.lake, "siwang", today=TODAY)
    dates = {r["death_date"] for r in DeltaTable(str(silver.table_path(box.lake, "deaths"))).to_pyarrow_table().to_pylist()}
    assert dates == {dt.date(2025, 1, 3)}


def test_lost_leading_zero_in_a_code_is_quarantined(box):
    from schemas import contracts

    c = contracts.get("gongan", "1.0")
    row = {"公民身份号码": PERSON, "姓名": "王芳", "性别": "2", "民族": "7", "出生日期": "19800101",
           "户号": "510104000000001", "与户主关系": "02", "户籍地区划代码": "510104017001", "户口性质": "城镇",
           "变动类型": "全量", "变动日期": "20241031"}
    o = box.ingest(box.batch("gongan", "h.csv", csv_bytes([row], c.source_columns, "gbk"), encoding="gbk", period="2024-11"))
    assert only_reason(o, "CODE_UNKNOWN")[0]["field"] == "ethnicity"


def test_fen_amounts_are_converted_to_yuan(box):
    from schemas import contracts

    line = {"id_no": PERSON, "name": "张伟", "period": "202501", "bank_code": "102", "account_no": "6217000011112222",
            "deposit_balance": 1234567, "financial_assets": 0}
    data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
    o = box.ingest(box.batch("yinhang", "b.jsonl", data, fmt="jsonl"))
    assert o.accepted == 1
    run.conform_department(box.lake, "yinhang", today=TODAY)
    rows = DeltaTable(str(silver.table_path(box.lake, "deposits"))).to_pyarrow_table().to_pylist()
    assert rows[0]["deposit_balance"] == pytest.approx(12345.67)
    del contracts


def test_broken_json_line_is_quarantined(box):
    line = {"id_no": PERSON, "name": "张伟", "period": "202501", "bank_code": "102", "account_no": "6217000011112222",
            "deposit_balance": 100, "financial_assets": 0}
    data = (json.dumps(line, ensure_ascii=False) + "\n{\"id_no\": \n").encode()
    o = box.ingest(box.batch("yinhang", "b.jsonl", data, fmt="jsonl"))
    assert only_reason(o, "JSON_INVALID")[0]["row_number"] == 2
    assert_nothing_lost(box, o, "yinhang", "deposits")


# --- duplicates and batches ------------------------------------------------------------------

def test_exact_duplicate_row_is_counted_once(box):
    o = box.ingest(box.batch("renshe", "a.csv", csv_bytes([renshe_row(), renshe_row()])))
    assert o.accepted == 1 and o.duplicates == 1 and only_reason(o, "DUPLICATE_ROW")[0]["row_number"] == 2


def test_conflicting_duplicate_keeps_the_first_and_flags_the_second(box):
    o = box.ingest(box.batch("renshe", "a.csv", csv_bytes([renshe_row(), renshe_row(wage="6000")])))
    assert o.accepted == 1 and only_reason(o, "KEY_CONFLICT")[0]["row_number"] == 2


def test_manifest_count_mismatch_refuses_the_batch(box):
    o = box.ingest(box.batch("renshe", "a.csv", csv_bytes([renshe_row()]), records=5))
    assert o.status == "rejected" and o.batch_error["code"] == "BATCH_COUNT_MISMATCH"
    assert_nothing_lost(box, o)


def test_checksum_mismatch_refuses_the_batch(box):
    o = box.ingest(box.batch("renshe", "a.csv", csv_bytes([renshe_row()]), sha="0" * 64))
    assert o.status == "rejected" and o.batch_error["code"] == "BATCH_CHECKSUM_MISMATCH"
    assert (box.receipts / "renshe").glob("*.txt")


def test_unknown_contract_version_fails_with_a_receipt(box):
    ref = box.batch("renshe", "a.csv", csv_bytes([renshe_row()]), version="9.9")
    with pytest.raises(B.SystemicBatchError) as err:
        box.ingest(ref)
    assert err.value.code == "CONTRACT_UNKNOWN"
    text = next((box.receipts / "renshe").glob("*.txt")).read_text()
    assert "9.9" in text and "整批拒收" in text


def test_replayed_batch_changes_nothing(box):
    ref = box.batch("renshe", "a.csv", csv_bytes([renshe_row()]))
    first = box.ingest(ref)
    before = box.bronze("renshe", "employment_income")
    again = box.ingest(ref)
    assert again.status == "duplicate" and again.replay_of == first.batch_key
    assert box.bronze("renshe", "employment_income") == before


def test_renamed_replay_is_recognised_by_content(box):
    data = csv_bytes([renshe_row()])
    first = box.ingest(box.batch("renshe", "a.csv", data))
    other = box.batch("renshe", "a.csv", data, folder="renshe-202501-resent")
    again = box.ingest(other)
    assert again.status == "duplicate" and again.replay_of == first.batch_key
    assert len(box.bronze("renshe", "employment_income")) == 1


def test_corrected_batch_supersedes_with_history_kept(box):
    box.ingest(box.batch("renshe", "a.csv", csv_bytes([renshe_row(wage="5000")])))
    run.conform_department(box.lake, "renshe", today=TODAY)
    shutil.rmtree(box.root / "inbox" / "renshe")
    o = box.ingest(box.batch("renshe", "a.csv", csv_bytes([renshe_row(wage="5200")])))
    assert o.status == "superseding" and o.supersedes
    run.conform_department(box.lake, "renshe", today=TODAY)
    path = str(silver.table_path(box.lake, "employment_income"))
    assert DeltaTable(path).to_pyarrow_table().column("wage").to_pylist() == [5200.0]
    assert DeltaTable(path, version=0).to_pyarrow_table().column("wage").to_pylist() == [5000.0]
    assert len(box.bronze("renshe", "employment_income")) == 2  # both deliveries stay in bronze


def test_correction_row_replaces_last_months_value(box):
    box.ingest(box.batch("renshe", "a.csv", csv_bytes([renshe_row(wage="7500")]), period="2025-01"))
    feb = [renshe_row(PERSON2, "李娜", period="202502"), renshe_row(wage="5000", record_type="更正")]
    box.ingest(box.batch("renshe", "a.csv", csv_bytes(feb), period="2025-02"))
    run.conform_department(box.lake, "renshe", today=TODAY)
    rows = DeltaTable(str(silver.table_path(box.lake, "employment_income"))).to_pyarrow_table().to_pylist()
    jan = [r for r in rows if r["person_id"] == PERSON and r["period"] == "2025-01"]
    assert len(jan) == 1 and jan[0]["wage"] == 5000.0 and jan[0]["record_type"] == "更正"


# --- archives and spreadsheets ------------------------------------------------------------------

def _zip(members: dict[str, bytes], gbk_names=False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2025, 2, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            if gbk_names:
                info.flag_bits &= ~0x800  # no UTF-8 flag: the name bytes are GBK, as Windows tools write
                info.filename = name
            zf.writestr(info, data)
    raw = buf.getvalue()
    if gbk_names:
        for name in members:
            raw = raw.replace(name.encode("utf-8"), name.encode("gbk").ljust(len(name.encode("utf-8")), b"_"))
    return raw


def test_zip_with_gbk_member_names_is_read(box):
    data = _zip({"人社数据.csv": csv_bytes([renshe_row()])})
    o = box.ingest(box.batch("renshe", "a.zip", data, records=1))
    assert o.accepted == 1


def test_zip_with_path_traversal_is_refused(box):
    ref = box.batch("renshe", "a.zip", _zip({"../../etc/evil.csv": csv_bytes([renshe_row()])}), records=1)
    with pytest.raises(B.SystemicBatchError) as err:
        box.ingest(ref)
    assert err.value.code == "ZIP_UNSAFE_PATH"
    assert (ref.folder / "a.zip").exists()  # the delivery stays where it was, for the department to check


def test_zip_bomb_is_refused_before_inflating(box):
    ref = box.batch("renshe", "a.zip", _zip({"big.csv": b"0" * (50 * 2**20)}), records=1)
    with pytest.raises(B.SystemicBatchError) as err:
        box.ingest(ref)
    assert err.value.code == "ZIP_BOMB"


def test_unreadable_xlsx_fails_the_batch_with_a_clear_reason(box):
    ref = box.batch("shichang", "s.xlsx", b"PK\x03\x04 this is not a workbook", fmt="xlsx", records=1)
    with pytest.raises(B.SystemicBatchError) as err:
        box.ingest(ref)
    assert err.value.code == "XLSX_UNREADABLE" and "XLSX" in err.value.message


def test_xlsx_with_an_excel_mangled_id_is_quarantined(box, tmp_path):
    import xlsxwriter

    from schemas import contracts

    c = contracts.get("canlian", "1.0")
    path = tmp_path / "c.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    for j, h in enumerate(c.source_columns):
        ws.write_string(0, j, h)
    for i, pid in enumerate([PERSON2, PERSON2]):
        values = [pid, "李娜", pid + "42", "肢体残疾", "二级", "2020-05-01", "有效"]
        for j, v in enumerate(values):
            if i == 1 and j == 0:
                ws.write_number(i + 1, j, float(pid))
            else:
                ws.write_string(i + 1, j, v)
    wb.close()
    o = box.ingest(box.batch("canlian", "c.xlsx", path.read_bytes(), fmt="xlsx"))
    assert only_reason(o, "ID_SCIENTIFIC")[0]["row_number"] == 2
    assert_nothing_lost(box, o, "canlian", "disability")


def test_parquet_delivery_with_a_bad_row_loads_the_rest(box, tmp_path):
    from schemas import contracts

    c = contracts.get("budongchan", "1.0")
    rows = [[f"川(2020)不动产权第000000{i}号", PERSON, "张伟", "510104017001", "住宅", 88.5 if i else -1.0,
             dt.date(2020, 1, 1), "存量"] for i in range(3)]
    table = pa.table({name: [r[j] for r in rows] for j, name in enumerate(c.source_columns)})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    o = box.ingest(box.batch("budongchan", "r.parquet", buf.getvalue(), fmt="parquet"))
    assert only_reason(o, "NUMBER_RANGE") and o.accepted == 2
