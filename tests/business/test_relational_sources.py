"""Relational sources (EX-7): the housing-fund centre's contributions pulled from a real PostgreSQL
and a real MariaDB on localhost with one query rendered for each dialect; the watermark picks up
only new and changed rows (and a row committed later with the watermark's own time); the pulled
batches go through the ordinary ingestion; the rendering for Oracle is fixed by golden files."""

import csv
import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from deltalake import DeltaTable
from sqlalchemy import create_engine, text

from exchange import relational, run
from jiuzhu.errors import CodedError

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "relational"
T0 = dt.datetime(2025, 3, 1, 8, 0, 0)
T1 = dt.datetime(2025, 3, 2, 9, 30, 0)
DDL = {
    "postgres": ["CREATE TABLE hf_persons (person_no INTEGER PRIMARY KEY, id_card VARCHAR(32), full_name VARCHAR(64))",
                 "CREATE TABLE hf_contributions (person_no INTEGER, contribution_month VARCHAR(6), employer_type "
                 "VARCHAR(32), base_fen BIGINT, monthly_fen BIGINT, updated_at TIMESTAMP, "
                 "PRIMARY KEY (person_no, contribution_month))"],
    "mysql": ["CREATE TABLE hf_persons (person_no INTEGER PRIMARY KEY, id_card VARCHAR(32), full_name VARCHAR(64))",
              "CREATE TABLE hf_contributions (person_no INTEGER, contribution_month VARCHAR(6), employer_type "
              "VARCHAR(32), base_fen BIGINT, monthly_fen BIGINT, updated_at DATETIME(6), "
              "PRIMARY KEY (person_no, contribution_month))"],
}


def _delivered_rows(tiny_province: Path, months: tuple[str, ...]) -> list[dict]:
    """The tiny province's housing-fund rows of some months, as the centre's database would hold them."""
    rows, seen = [], set()
    for month in months:
        path = tiny_province / "inbox" / "gongjijin" / f"gongjijin-{month}" / f"gongjijin_{month}.csv"
        with open(path, encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                key = (r["zjhm"], r["jcny"])
                if r["jcjs"].isdigit() and r["yjce"].isdigit() and r["zjhm"] and key not in seen:
                    seen.add(key)
                    rows.append(r)
    return rows


@pytest.fixture(params=["postgres", pytest.param("mysql", id="mariadb")])
def source_db(request, pg_database, tiny_province):
    """(dialect, SQLAlchemy engine) of a source database loaded with two months of contributions."""
    if request.param == "postgres":
        base, _ = pg_database
        url = base
        schema_url = None
    else:
        url = request.getfixturevalue("mariadb_database")
        schema_url = url
    engine = create_engine(url)
    rows = _delivered_rows(tiny_province, ("202501", "202502"))
    with engine.begin() as conn:
        for stmt in ("DROP TABLE IF EXISTS hf_contributions", "DROP TABLE IF EXISTS hf_persons"):
            conn.execute(text(stmt))
        for stmt in DDL[request.param]:
            conn.execute(text(stmt))
        people = {}
        for r in rows:
            people.setdefault(r["zjhm"], (len(people) + 1, r["xm"]))
        conn.execute(text("INSERT INTO hf_persons VALUES (:n, :id, :name)"),
                     [{"n": n, "id": pid, "name": name} for pid, (n, name) in people.items()])
        conn.execute(text("INSERT INTO hf_contributions VALUES (:n, :m, :t, :b, :y, :u)"),
                     [{"n": people[r["zjhm"]][0], "m": r["jcny"], "t": r["dwlx"], "b": int(r["jcjs"]),
                       "y": int(r["yjce"]), "u": T0} for r in rows])
    yield request.param, engine, len(rows), schema_url
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS hf_contributions"))
        conn.execute(text("DROP TABLE IF EXISTS hf_persons"))
    engine.dispose()


def _silver(lake_root: Path) -> dict[tuple[str, str], float]:
    table = DeltaTable(str(lake_root / "silver" / "housing_fund")).to_pyarrow_table(
        columns=["person_id", "period", "monthly_contribution"]).to_pylist()
    return {(r["person_id"], r["period"]): float(r["monthly_contribution"]) for r in table}


def test_a_pull_picks_up_only_new_and_changed_rows_and_ingests_them(source_db, tmp_path, tiny_province):
    dialect, engine, loaded, _ = source_db
    source = dataclasses.replace(relational.load("gongjijin"), dialect=dialect)
    inbox, lake_root, receipts = tmp_path / "inbox", tmp_path / "lake", tmp_path / "receipts"

    first = relational.pull(source, engine, inbox, lake_root, now=dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC))
    assert first.rows == loaded and len(first.batches) == 2  # one delivery per month
    manifests = [json.loads((Path(b) / "manifest.json").read_text("utf-8")) for b in first.batches]
    assert {m["period"] for m in manifests} == {"2025-01", "2025-02"}
    assert sum(m["record_count"] for m in manifests) == loaded and all(m["source"] == "relational" for m in manifests)
    report = run.run_department(inbox, lake_root, receipts, "gongjijin", today=dt.date(2025, 3, 5))
    assert not report.systemic and report.delivered == loaded
    accepted = sum(o.accepted for o in report.outcomes)
    silver = _silver(lake_root)
    assert len(silver) == accepted and accepted >= 0.9 * loaded  # the rest quarantined with their reasons

    # two contributions corrected and one person joining, all at T1
    with engine.begin() as conn:
        changed = conn.execute(text("SELECT c.person_no, p.id_card, c.contribution_month FROM hf_contributions c "
                                    "JOIN hf_persons p ON p.person_no = c.person_no ORDER BY c.person_no, "
                                    "c.contribution_month")).fetchall()
        targets = [r for r in changed if (r[1], f"{r[2][:4]}-{r[2][4:]}") in silver][:2]
        for person_no, _, month in targets:
            conn.execute(text("UPDATE hf_contributions SET monthly_fen = 123456, updated_at = :u "
                              "WHERE person_no = :n AND contribution_month = :m"), {"u": T1, "n": person_no, "m": month})
        known = {r[1] for r in changed}
        new_id = next(r["zjhm"] for r in _delivered_rows(tiny_province, ("202503", "202504")) if r["zjhm"] not in known)
        conn.execute(text("INSERT INTO hf_persons VALUES (999999, :id, '新成员')"), {"id": new_id})
        conn.execute(text("INSERT INTO hf_contributions VALUES (999999, '202502', '企业', 500000, 120000, :u)"),
                     {"u": T1})
    second = relational.pull(source, engine, inbox, lake_root, now=dt.datetime(2025, 3, 2, 12, tzinfo=dt.UTC))
    assert second.rows == 3 and second.since == T0.isoformat() and second.watermark == T1.isoformat()
    run.run_department(inbox, lake_root, receipts, "gongjijin", today=dt.date(2025, 3, 5))
    silver = _silver(lake_root)
    for _, id_card, month in targets:
        assert silver[(id_card, f"{month[:4]}-{month[4:]}")] == 1234.56  # fen → yuan, the correction applied
    assert silver[(new_id, "2025-02")] == 1200.0  # the person who joined

    # nothing changed: nothing pulled, no batch written
    folders = sorted((inbox / "gongjijin").iterdir())
    third = relational.pull(source, engine, inbox, lake_root, now=dt.datetime(2025, 3, 3, 12, tzinfo=dt.UTC))
    assert third.rows == 0 and sorted((inbox / "gongjijin").iterdir()) == folders
    # a row committed later with the watermark's own time is not lost, and the others are not pulled again
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO hf_contributions VALUES (999999, '202501', '企业', 500000, 120000, :u)"),
                     {"u": T1})
    late = relational.pull(source, engine, inbox, lake_root, now=dt.datetime(2025, 3, 4, 12, tzinfo=dt.UTC))
    assert late.rows == 1


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "oracle"])
def test_the_query_is_written_once_and_rendered_per_dialect(dialect):
    source = relational.load("gongjijin")
    assert relational.render(source, dialect) + "\n" == (GOLDEN / f"gongjijin.{dialect}.sql").read_text("utf-8")


def test_a_source_that_does_not_select_the_contracts_columns_is_refused(tmp_path):
    spec = (relational.SOURCES_DIR / "gongjijin.yaml").read_text("utf-8").replace("AS yjce", "AS monthly")
    (tmp_path / "gongjijin.yaml").write_text(spec, "utf-8")
    with pytest.raises(CodedError) as err:
        relational.load("gongjijin", tmp_path)
    assert err.value.code == "SOURCE_COLUMNS" and "yjce" in err.value.message
    with pytest.raises(CodedError) as err:
        relational.load("nosuch", tmp_path)
    assert err.value.code == "SOURCE_UNKNOWN"


def test_a_missing_connection_setting_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("JIUZHU_SOURCE_GONGJIJIN_URL", raising=False)
    with pytest.raises(CodedError) as err:
        relational.load("gongjijin").url()
    assert err.value.code == "SOURCE_URL_MISSING" and "JIUZHU_SOURCE_GONGJIJIN_URL" in err.value.message
