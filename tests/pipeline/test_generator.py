"""The synthetic province: deterministic, realistic in its shares, with exactly the defects it
says it injected, and with the ground truth kept out of the deliveries."""

import hashlib
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from exchange.readers import read_raw
from jiuzhu import departments, ids, regions, synth
from jiuzhu.synth import deliver

pytestmark = pytest.mark.slow


def _digest_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_the_same_bytes(tiny_province, tmp_path):
    from tests.conftest import TINY_SEED

    again = tmp_path / "again"
    synth.generate("tiny", TINY_SEED, again)
    assert _digest_tree(again) == _digest_tree(tiny_province)


def test_another_seed_gives_another_province(tiny_province, tmp_path):
    other = tmp_path / "other"
    synth.generate("tiny", 12345, other)
    a = json.loads((tiny_province / "generation.json").read_text())
    b = json.loads((other / "generation.json").read_text())
    assert a["seed"] != b["seed"]
    assert _digest_tree(other / "truth") != _digest_tree(tiny_province / "truth")


def test_generation_refuses_to_overwrite_a_province(tiny_province):
    with pytest.raises(FileExistsError):
        synth.generate("tiny", 1, tiny_province)


def test_truth_is_never_under_the_delivery_folder(tiny_province):
    inbox = tiny_province / "inbox"
    assert (tiny_province / "truth" / "defects.parquet").exists()
    assert not any("truth" in p.parts for p in inbox.rglob("*"))
    truth_only = {"eligible", "hardship", "counted_income", "economic_z", "assets_ok", "income_per_capita"}
    for manifest in inbox.rglob("manifest.json"):
        m = json.loads(manifest.read_text())
        for f in m["files"]:
            cols = set(read_raw(manifest.parent / f["name"], m["format"], m["encoding"]).column_names)
            assert not cols & truth_only, manifest


def test_every_department_delivers_every_month_with_a_true_manifest(tiny_province):
    inbox = tiny_province / "inbox"
    for dept in departments.all_departments():
        batches = [p for p in (inbox / dept.slug).iterdir() if "__" not in p.name]
        assert len(batches) == 24, dept.slug
        for batch in batches:
            m = json.loads((batch / "manifest.json").read_text())
            assert m["batch_id"] == batch.name and m["department"] == dept.slug
            total = 0
            for f in m["files"]:
                path = batch / f["name"]
                assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"]
                total += read_raw(path, m["format"], m["encoding"]).num_rows
            assert total == m["record_count"]


def test_formats_and_encodings_are_those_departments_send(tiny_province):
    inbox = tiny_province / "inbox"
    gongan = next((inbox / "gongan" / "gongan-202411").glob("*.csv")).read_bytes()
    gongan.decode("gbk")  # GBK, as the hukou system exports it
    with pytest.raises(UnicodeDecodeError):
        gongan.decode("utf-8")
    siwang = next((inbox / "siwang" / "siwang-202411").glob("*.csv")).read_bytes()
    assert siwang.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
    seen = {json.loads(p.read_text())["format"] for p in inbox.rglob("manifest.json")}
    assert seen == {"csv", "jsonl", "parquet", "xlsx"}
    units = {json.loads(p.read_text())["amount_unit"] for p in inbox.rglob("manifest.json")}
    assert {"yuan", "fen"} <= units


def _delivered_ids(province: Path):
    """(department, batch, file, row_number, raw id) for every delivered row."""
    for manifest in sorted((province / "inbox").rglob("manifest.json")):
        if "__" in manifest.parent.name:
            continue
        m = json.loads(manifest.read_text())
        col = deliver.ID_COLUMN[m["department"]]
        for f in m["files"]:
            table = read_raw(manifest.parent / f["name"], m["format"], m["encoding"])
            if table.num_rows == 0:
                continue
            for i, raw in enumerate(table.column(col).to_pylist()):
                yield m["department"], m["batch_id"], f["name"], i + 1, raw


def test_every_delivered_id_is_valid_except_the_intended_defects(tiny_province):
    ledger = pq.read_table(tiny_province / "truth" / "defects.parquet").to_pylist()
    id_defects = {(d["batch_id"], d["file"], d["row_number"]): d["defect"] for d in ledger
                  if d["defect"] in ("bad_check_digit", "missing_id", "scientific_id", "legacy_15", "fullwidth_id")}
    checked = invalid_as_intended = 0
    for _dept, batch, file, row, raw in _delivered_ids(tiny_province):
        defect = id_defects.get((batch, file, row))
        valid = ids.is_valid(raw)
        if defect in ("bad_check_digit", "missing_id", "scientific_id"):
            assert not valid, (batch, row, defect)
            invalid_as_intended += 1
        else:
            assert valid, (batch, row, raw, defect)
        checked += 1
    assert checked > 40_000
    assert invalid_as_intended > 50


def test_ids_are_unique_and_consistent_with_birth_date_and_sex(tiny_province):
    persons = pq.read_table(tiny_province / "truth" / "persons").to_pylist()
    numbers = [p["person_id"] for p in persons]
    assert len(numbers) == len(set(numbers))
    for p in persons:
        info = ids.parse(p["person_id"])
        assert info.birth_date == p["birth_date"]
        assert info.sex == p["sex"]


def test_people_live_in_real_villages_of_every_prefecture(tiny_province):
    tree = regions.load()
    households = pq.read_table(tiny_province / "truth" / "households").to_pylist()
    for h in households:
        village = tree.get(h["village_code"])
        assert village.county_code == h["county_code"]
    assert len({h["county_code"][:4] for h in households}) == 21


def test_caseload_shares_are_those_of_a_real_province(calibration_province):
    """Sichuan: dibao ≈ 4–5 % of residents, tekun ≈ 0.6 %, margin 1.5–2.5 %, temporary aid a
    fraction of a percent each month (shares stated in docs/synthetic-province.md)."""
    con = duckdb.connect()
    hm = str(calibration_province / "truth" / "household_months" / "*.parquet")
    rows = con.execute(f"""
        select status, sum(members)::double / (select sum(members) from read_parquet('{hm}') where month = m.month)
        from read_parquet('{hm}') m where month in ('2024-11', '2025-11', '2026-10') group by status, month
    """).fetchall()
    share: dict[str, list[float]] = {}
    for status, s in rows:
        share.setdefault(status, []).append(s)
    assert all(0.035 <= s <= 0.075 for s in share["dibao"]), share["dibao"]
    assert all(0.002 <= s <= 0.01 for s in share["tekun"]), share["tekun"]
    assert all(0.01 <= s <= 0.035 for s in share["margin"]), share["margin"]
    assert all(0.0005 <= s <= 0.006 for s in share["temporary"]), share["temporary"]
    leak = con.execute(f"""select avg(case when eligible then 0 else 1 end) from read_parquet('{hm}')
                           where status = 'dibao' and month = '2024-11'""").fetchone()[0]
    assert 0.02 <= leak <= 0.10  # recipients who are not eligible: what 检出 must find
    poor = dict(con.execute(f"""select substr(county_code, 1, 4) = '5134', avg(case when status = 'dibao' then 1 else 0 end)
                                from read_parquet('{hm}') where month = '2025-11' group by 1""").fetchall())
    assert poor[True] > 1.5 * poor[False]  # Liangshan is poorer than the rest


def test_ethnicity_follows_the_prefectures(calibration_province):
    con = duckdb.connect()
    p = str(calibration_province / "truth" / "persons" / "*.parquet")
    h = str(calibration_province / "truth" / "households" / "*.parquet")
    share = dict(con.execute(f"""
        with c as (select substr(h.county_code, 1, 4) as pref, p.ethnicity, count(*) as n
                   from read_parquet('{p}') p join read_parquet('{h}') h using (household_no) group by 1, 2)
        select pref || ':' || ethnicity, n::double / sum(n) over (partition by pref) from c
    """).fetchall())
    assert share.get("5134:07", 0) > 0.4  # Yi in Liangshan
    assert share.get("5133:04", 0) > 0.6  # Tibetan in Ganzi
    assert share.get("5132:04", 0) > 0.35 and share.get("5132:33", 0) > 0.1  # Tibetan and Qiang in Aba
    assert share.get("5101:01", 0) > 0.95  # Han in Chengdu


def test_defect_rates_are_within_their_stated_tolerance(calibration_province):
    con = duckdb.connect()
    ledger = str(calibration_province / "truth" / "defects.parquet")
    batches = str(calibration_province / "truth" / "batches.parquet")
    delivered = con.execute(f"select sum(records) from read_parquet('{batches}')").fetchone()[0]
    counts = dict(con.execute(f"select defect, count(*) from read_parquet('{ledger}') group by 1").fetchall())
    for kind in ("bad_check_digit", "duplicate_row", "fullwidth_id", "missing_id", "conflicting_duplicate"):
        rate = counts[kind] / delivered
        assert deliver.RATES[kind] * 0.6 <= rate <= deliver.RATES[kind] * 1.4, (kind, rate)
    assert counts["correction"] == counts["corrected_later"]
    for kind in ("legacy_15", "scientific_id", "unknown_region", "future_date", "negative_amount", "alt_date_format"):
        assert counts.get(kind, 0) > 0, kind
    late = con.execute(f"select avg(late::int), avg(replayed::int) from read_parquet('{batches}')").fetchone()
    assert 0.02 <= late[0] <= 0.12 and 0.005 <= late[1] <= 0.08


def test_hukou_snapshot_holds_everyone_present_at_the_start(tiny_province):
    persons = pq.read_table(tiny_province / "truth" / "persons").to_pylist()
    at_start = sum(1 for p in persons if p["arrive_month"] == 0 and p["death_month"] != 0)
    m = json.loads((tiny_province / "inbox" / "gongan" / "gongan-202411" / "manifest.json").read_text())
    ledger = pq.read_table(tiny_province / "truth" / "defects.parquet").to_pylist()
    appended = sum(1 for d in ledger if d["batch_id"] == "gongan-202411"
                   and d["defect"] in ("duplicate_row", "conflicting_duplicate"))
    assert m["record_count"] - appended == at_start


def test_chunked_and_split_deliveries_keep_the_ledger_exact(tmp_path, monkeypatch):
    """At province scale batches are finalised in chunks and split by prefecture; the defect
    ledger must still point at the right file and row."""
    monkeypatch.setattr(synth, "CHUNK_ROWS", 300)
    monkeypatch.setattr(synth.Plan, "split_by_prefecture", property(lambda self: True))
    out = tmp_path / "split"
    synth.generate("tiny", 21, out)
    files = {p.name for p in (out / "inbox" / "gongan" / "gongan-202411").iterdir()}
    assert "part-510100.csv" in files and "part-513400.csv" in files
    assert (out / "inbox" / "renshe" / "renshe-202411" / "part-510100.csv").stat().st_size > 0
    test_every_delivered_id_is_valid_except_the_intended_defects(out)
    test_every_department_delivers_every_month_with_a_true_manifest(out)


def test_one_county_can_be_generated_at_province_density(tmp_path):
    out = tmp_path / "one"
    summary = synth.generate(50_000, 2, out, months=2, counties=["513401"])
    households = pq.read_table(out / "truth" / "households").column("county_code").to_pylist()
    assert set(households) == {"513401"}
    assert summary["persons"] >= synth.county_targets(50_000)["513401"]


def test_the_banks_report_exactly_the_familys_deposits(tiny_province):
    """What the banks deliver for a family's members adds up to the family's deposits in the
    ground truth (head 0.7, spouse-coded members 0.3 shared; a child's in-marrying spouse is coded
    10 too, and used to be given a whole 0.3 more; the spouses hold it all once the head has died).
    Months whose bank batch the generator damaged on purpose are left aside."""
    con = duckdb.connect()
    inbox = tiny_province / "inbox" / "yinhang"
    con.execute(f"create view bank as select *, filename as file from read_json('{inbox}/*/*.jsonl', "
                "format='newline_delimited', filename=true, columns={id_no: 'varchar', period: 'varchar', "
                "deposit_balance: 'double', financial_assets: 'double'})")
    con.register("truth_persons", con.read_parquet(str(tiny_province / "truth" / "persons" / "*.parquet")))
    con.register("truth", con.read_parquet(str(tiny_province / "truth" / "household_months" / "*.parquet")))
    con.register("defects", pq.read_table(tiny_province / "truth" / "defects.parquet"))
    rows = con.sql("""
        with touched as (select distinct substr(batch_id, 9, 6) as period from defects where department = 'yinhang'),
             reported as (
                 select p.household_no, b.period, sum(b.deposit_balance + b.financial_assets) / 100 as yuan
                 from bank b join truth_persons p on p.person_id = b.id_no
                 where b.period not in (select period from touched)
                 group by all)
        select r.household_no, r.period, r.yuan, t.deposits
        from reported r join truth t on t.household_no = r.household_no
         and t.month = substr(r.period, 1, 4) || '-' || substr(r.period, 5, 2)
    """).fetchall()
    assert len(rows) > 100
    wrong = [(h, p, y, d) for h, p, y, d in rows if abs(y - d) > 0.05]
    assert wrong == []
