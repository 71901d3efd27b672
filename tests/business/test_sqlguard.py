"""Guarded ad-hoc SQL (AN-4, M14): every hostile query refused with its specific reason, no file
read, legitimate queries answered with in-jurisdiction rows only, rows and time bounded."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from jiuzhu import sqlguard

CHENGDU = "510100000000"
ALLOWED = {"persons": "region_code", "households": "region_code", "assistance": "region_code"}

# (query, refusal code, fragment the Chinese message must contain)
HOSTILE = [
    ("SELECT * FROM persons; DROP TABLE persons", "MULTIPLE_STATEMENTS", "一次只允许一条语句"),
    ("SELECT 1 -- looks harmless\n; DELETE FROM persons", "MULTIPLE_STATEMENTS", "注释隐藏"),
    ("SELECT * FROM persons /* x */; ATTACH '/tmp/evil.db' AS evil", "MULTIPLE_STATEMENTS", "收到2条"),
    ("DROP TABLE persons", "NOT_SELECT", "DROP"),
    ("CREATE TABLE loot AS SELECT * FROM persons", "NOT_SELECT", "CREATE"),
    ("ALTER TABLE persons ADD COLUMN x INTEGER", "NOT_SELECT", "ALTER"),
    ("INSERT INTO persons VALUES ('510104', 1)", "NOT_SELECT", "INSERT"),
    ("UPDATE persons SET region_code = '510104017001'", "NOT_SELECT", "UPDATE"),
    ("DELETE FROM persons", "NOT_SELECT", "DELETE"),
    ("SELECT * FROM read_csv('/etc/passwd')", "FORBIDDEN_FUNCTION", "read_csv"),
    ("SELECT * FROM read_csv_auto('/etc/passwd')", "FORBIDDEN_FUNCTION", "read_csv_auto"),
    ("SELECT * FROM read_parquet('/var/lake/*.parquet')", "FORBIDDEN_FUNCTION", "read_parquet"),
    ("SELECT * FROM read_json('/etc/secrets.json')", "FORBIDDEN_FUNCTION", "read_json"),
    ("SELECT * FROM read_text('/etc/shadow')", "FORBIDDEN_FUNCTION", "read_text"),
    ("SELECT * FROM glob('/etc/*')", "FORBIDDEN_FUNCTION", "glob"),
    ("SELECT * FROM parquet_scan('persons.parquet')", "FORBIDDEN_FUNCTION", "parquet_scan"),
    ("SELECT * FROM delta_scan('/var/lake/silver/persons')", "FORBIDDEN_FUNCTION", "delta_scan"),
    ("SELECT * FROM iceberg_scan('warehouse/persons')", "FORBIDDEN_FUNCTION", "iceberg_scan"),
    ("SELECT * FROM sniff_csv('/etc/passwd')", "FORBIDDEN_FUNCTION", "sniff_csv"),
    ("SELECT * FROM query('SELECT * FROM persons')", "FORBIDDEN_FUNCTION", "query"),
    ("SELECT * FROM query_table('persons')", "FORBIDDEN_FUNCTION", "query_table"),
    ("SELECT getenv('HOME')", "FORBIDDEN_FUNCTION", "getenv"),
    ("SELECT current_setting('enable_external_access')", "FORBIDDEN_FUNCTION", "current_setting"),
    ("SELECT json_execute_serialized_sql('{}')", "FORBIDDEN_FUNCTION", "json_execute_serialized_sql"),
    ("SELECT * FROM duckdb_tables()", "FORBIDDEN_FUNCTION", "duckdb_tables"),
    (
        "SELECT * FROM persons WHERE EXISTS (SELECT 1 FROM read_blob('/etc/shadow'))",
        "FORBIDDEN_FUNCTION",
        "read_blob",
    ),
    ("SELECT * FROM persons, LATERAL read_csv('/etc/passwd')", "FORBIDDEN_FUNCTION", "read_csv"),
    ("SELECT * FROM '/etc/passwd'", "FILE_REFERENCE", "/etc/passwd"),
    ("SELECT * FROM 'persons.csv'", "FILE_REFERENCE", "persons.csv"),
    ("ATTACH '/tmp/evil.db' AS evil", "NOT_SELECT", "ATTACH"),
    ("DETACH memory", "NOT_SELECT", "DETACH"),
    ("COPY persons TO '/tmp/out.csv'", "NOT_SELECT", "COPY"),
    ("COPY (SELECT * FROM persons) TO '/tmp/out.parquet' (FORMAT parquet)", "NOT_SELECT", "COPY"),
    ("PRAGMA database_list", "NOT_SELECT", "PRAGMA"),
    ("INSTALL httpfs", "NOT_SELECT", "INSTALL"),
    ("LOAD httpfs", "NOT_SELECT", "LOAD"),
    ("SET enable_external_access = true", "NOT_SELECT", "SET"),
    ("RESET lock_configuration", "NOT_SELECT", "RESET"),
    ("EXPORT DATABASE '/tmp/dump'", "NOT_SELECT", "EXPORT"),
    ("CALL pragma_version()", "NOT_SELECT", "CALL"),
    ("CHECKPOINT", "NOT_SELECT", "CHECKPOINT"),
    ("BEGIN TRANSACTION", "NOT_SELECT", "BEGIN"),
    ("USE memory", "NOT_SELECT", "USE"),
    ("SUMMARIZE persons", "NOT_SELECT", "SUMMARIZE"),
    ("DESCRIBE persons", "NOT_SELECT", "DESCRIBE"),
    ("SHOW TABLES", "NOT_SELECT", "SHOW"),
    ("SELECT 1 INTO loot", "FORBIDDEN_STATEMENT", "SELECT INTO"),
    ("SELECT * FROM users", "TABLE_NOT_ALLOWED", "users"),
    (
        "SELECT region_code FROM persons UNION ALL SELECT password_hash FROM users",
        "TABLE_NOT_ALLOWED",
        "users",
    ),
    (
        "SELECT * FROM persons WHERE region_code IN (SELECT region_code FROM bank_accounts)",
        "TABLE_NOT_ALLOWED",
        "bank_accounts",
    ),
    ("SELECT * FROM (WITH q AS (SELECT 1) SELECT 1), q", "TABLE_NOT_ALLOWED", "q"),  # CTE used out of scope
    ("WITH persons AS (SELECT * FROM persons) SELECT * FROM persons", "CTE_SHADOWS_TABLE", "persons"),
    (
        "SELECT * FROM (WITH households AS (SELECT * FROM persons) SELECT * FROM households)",
        "CTE_SHADOWS_TABLE",
        "households",
    ),
    ("WITH duckdb_settings AS (SELECT 1) SELECT * FROM duckdb_settings", "RESERVED_NAME", "duckdb_settings"),
    ("SELECT * FROM information_schema.tables", "SYSTEM_CATALOG", "information_schema"),
    ("SELECT * FROM pg_catalog.pg_class", "SYSTEM_CATALOG", "pg_catalog"),
    ("SELECT * FROM duckdb_settings", "SYSTEM_CATALOG", "duckdb_settings"),
    ("SELECT * FROM sqlite_master", "SYSTEM_CATALOG", "sqlite_master"),
    ("SELECT * FROM main.persons", "QUALIFIED_TABLE", "main.persons"),
    ("SELECT * FROM lake.main.persons", "QUALIFIED_TABLE", "lake.main.persons"),
    ("SELECT * FROM persons p, my_udtf(p.region_code)", "TABLE_FUNCTION", "my_udtf"),
    ("SELECT * FROM persons AT (VERSION => 1)", "TABLE_MODIFIER", "when"),  # time travel to other rows
    ("SELECT * FROM persons LIMIT 10 PERCENT", "LIMIT_UNSUPPORTED", "LIMIT"),
    ("SELECT * FROM persons LIMIT (SELECT 100000)", "LIMIT_UNSUPPORTED", "LIMIT"),
    ("   ", "SQL_EMPTY", "为空"),
    ("SELECT * FROM persons WHERE (", "SQL_SYNTAX", "无法解析"),
    ("SELECT " + "1," * 12000 + "1", "SQL_TOO_LONG", "过长"),
]


def test_there_are_at_least_thirty_distinct_hostile_queries():
    assert len({sql for sql, _, _ in HOSTILE}) == len(HOSTILE) >= 30


@pytest.mark.parametrize(
    "sql,code,fragment", HOSTILE, ids=[f"{i:02d}-{c}" for i, (_, c, _) in enumerate(HOSTILE)]
)
def test_hostile_query_is_refused_with_its_reason(sql, code, fragment):
    with pytest.raises(sqlguard.QueryRefused) as err:
        sqlguard.guard(sql, ALLOWED, CHENGDU)
    assert err.value.code == code, err.value.message_zh
    assert fragment in err.value.message_zh


@pytest.fixture
def tables():
    """Synthetic rows in Chengdu (锦江 510104, 青羊 510105), Zigong (510302) and one without a region."""
    persons = pa.table(
        {
            "person_key": [f"p{i:02d}" for i in range(8)],
            "household_key": ["h1", "h1", "h2", "h3", "h3", "h4", "h5", "h6"],
            "region_code": [
                "510104017001",
                "510104017001",
                "510105001001",
                "510302001001",
                "510302001001",
                "510104018002",
                None,
                "510105002003",
            ],
            "sex": ["M", "F", "F", "M", "F", "M", "F", "M"],
        }
    )
    households = pa.table(
        {
            "household_key": ["h1", "h2", "h3", "h4", "h5", "h6"],
            "region_code": [
                "510104017001",
                "510105001001",
                "510302001001",
                "510104018002",
                "510302009009",
                "510105002003",
            ],
            "monthly_income": [800.0, 1200.0, 900.0, 300.0, 1000.0, 650.0],
        }
    )
    assistance = pa.table(
        {
            "household_key": ["h1", "h3"],
            "region_code": ["510104017001", "510302001001"],
            "amount": [620.0, 580.0],
        }
    )
    return {"persons": persons, "households": households, "assistance": assistance}


def run(sql, tables, jurisdiction=CHENGDU, **kwargs):
    return sqlguard.run_guarded(sql, tables, ALLOWED, jurisdiction, **kwargs).to_pylist()


def test_a_plain_select_returns_only_rows_in_the_jurisdiction(tables):
    rows = run("SELECT person_key, region_code FROM persons ORDER BY person_key", tables)
    assert [r["person_key"] for r in rows] == ["p00", "p01", "p02", "p05", "p07"]
    assert all(r["region_code"].startswith("5101") for r in rows)


def test_an_or_true_in_the_users_where_cannot_widen_the_scope(tables):
    rows = run("SELECT person_key FROM persons WHERE region_code LIKE '5103%' OR 1 = 1", tables)
    assert sorted(r["person_key"] for r in rows) == ["p00", "p01", "p02", "p05", "p07"]


def test_joins_scope_every_side(tables):
    rows = run(
        "SELECT p.person_key, h.monthly_income FROM persons p JOIN households h "
        "ON p.household_key = h.household_key ORDER BY 1",
        tables,
    )
    assert [r["person_key"] for r in rows] == ["p00", "p01", "p02", "p05", "p07"]


def test_unions_subqueries_and_ctes_stay_inside(tables):
    union = run(
        "SELECT household_key FROM persons UNION SELECT household_key FROM households ORDER BY 1", tables
    )
    assert [r["household_key"] for r in union] == ["h1", "h2", "h4", "h6"]
    sub = run(
        "SELECT household_key FROM households WHERE household_key IN "
        "(SELECT household_key FROM assistance) ORDER BY 1",
        tables,
    )
    assert [r["household_key"] for r in sub] == ["h1"]
    cte = run(
        "WITH poor AS (SELECT * FROM households WHERE monthly_income < 1000) SELECT count(*) AS n FROM poor",
        tables,
    )
    assert cte == [{"n": 3}]
    lateral = run(
        "SELECT p.person_key, a.amount FROM persons p, LATERAL (SELECT amount FROM assistance "
        "WHERE assistance.household_key = p.household_key) a ORDER BY 1",
        tables,
    )
    assert [r["person_key"] for r in lateral] == ["p00", "p01"]


def test_from_first_joins_and_pivots_are_scoped_too(tables):
    joined = run("FROM persons p JOIN households h USING (household_key) SELECT count(*) AS n", tables)
    assert joined == [{"n": 5}]
    pivoted = run(
        "SELECT * FROM persons PIVOT (count(*) FOR sex IN ('M', 'F') GROUP BY household_key) "
        "ORDER BY household_key",
        tables,
    )
    assert [r["household_key"] for r in pivoted] == ["h1", "h2", "h4", "h6"]


def test_aggregates_by_county_cover_only_the_jurisdiction(tables):
    rows = run(
        "SELECT substr(region_code, 1, 6) AS county, count(*) AS n FROM persons GROUP BY 1 ORDER BY 1", tables
    )
    assert rows == [{"county": "510104", "n": 3}, {"county": "510105", "n": 2}]


def test_a_township_jurisdiction_uses_its_nine_digit_prefix(tables):
    rows = run("SELECT person_key FROM persons ORDER BY 1", tables, jurisdiction="510104017000")
    assert [r["person_key"] for r in rows] == ["p00", "p01"]
    assert "LIKE '510104017%'" in sqlguard.guard("SELECT * FROM persons", ALLOWED, "510104017000")


def test_every_table_reference_gets_the_predicate():
    rewritten = sqlguard.guard(
        "SELECT * FROM persons a JOIN persons b USING (person_key) "
        "WHERE a.household_key IN (SELECT household_key FROM households)",
        ALLOWED,
        CHENGDU,
    )
    assert rewritten.count("LIKE '5101%'") == 3


def test_arrow_datasets_work_as_tables(tables):
    dataset_tables = {name: ds.dataset(t) for name, t in tables.items()}
    assert len(run("SELECT * FROM persons", dataset_tables)) == 5


def test_rows_are_capped_by_the_users_limit_and_the_maximum(tables):
    assert len(run("SELECT * FROM range(50)", tables, limit=5)) == 5
    assert len(run("SELECT * FROM range(50) LIMIT 3", tables, limit=5)) == 3
    assert len(run("SELECT * FROM range(50) LIMIT 100", tables, limit=5)) == 5
    assert len(run("SELECT * FROM range(20000)", tables)) == sqlguard.MAX_ROWS == 10_000
    assert len(run("SELECT * FROM range(20000)", tables, limit=50_000)) == 10_000
    assert len(run("SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3", tables, limit=2)) == 2


def test_a_runaway_query_is_interrupted_at_the_time_limit(tables):
    with pytest.raises(sqlguard.QueryRefused) as err:
        run(
            "SELECT sum(a.range * b.range) FROM range(100000000) a, range(100000000) b", tables, timeout_s=0.3
        )
    assert err.value.code == "TIMEOUT" and "已中止" in err.value.message_zh


def test_execution_errors_are_reported_in_chinese(tables):
    with pytest.raises(sqlguard.QueryRefused) as err:
        run("SELECT no_such_column FROM persons", tables)
    assert err.value.code == "EXECUTION_ERROR" and err.value.message_zh.startswith("查询执行出错")


def test_the_engine_itself_refuses_files_settings_and_unregistered_data(tables):
    """Second wall: even SQL that bypassed the guard cannot read files or reach other data."""
    secret_frame = pa.table({"password": ["hunter2"]})  # a variable a replacement scan could find
    con = sqlguard._connect({**tables, "secret_frame": secret_frame}, ALLOWED)
    try:
        with pytest.raises(duckdb.PermissionException):
            con.sql("SELECT * FROM read_csv('/etc/passwd')").fetchall()
        with pytest.raises(duckdb.PermissionException):
            con.execute("COPY persons TO '/tmp/jiuzhu-should-not-exist.csv'")
        with pytest.raises(duckdb.Error):
            con.execute("SET enable_external_access = true")
        with pytest.raises(duckdb.CatalogException):
            con.sql("SELECT * FROM secret_frame").fetchall()
        assert con.execute("SELECT count(*) FROM persons").fetchone() == (8,)
    finally:
        con.close()


def test_unlisted_tables_handed_in_are_never_registered(tables):
    extra = {**tables, "users": pa.table({"region_code": ["510104017001"], "password_hash": ["x"]})}
    with pytest.raises(sqlguard.QueryRefused) as err:
        sqlguard.run_guarded("SELECT * FROM users", extra, ALLOWED, CHENGDU)
    assert err.value.code == "TABLE_NOT_ALLOWED"


def test_comments_never_reach_the_engine():
    rewritten = sqlguard.guard(
        "SELECT /* ; DROP TABLE persons */ * FROM persons -- trailing", ALLOWED, CHENGDU
    )
    assert "DROP" not in rewritten and "--" not in rewritten and "/*" not in rewritten


def test_an_invalid_jurisdiction_refuses_everything():
    with pytest.raises(sqlguard.QueryRefused) as err:
        sqlguard.guard("SELECT * FROM persons", ALLOWED, "51x")
    assert err.value.code == "NO_JURISDICTION"
