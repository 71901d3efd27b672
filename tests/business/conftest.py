"""Business-database fixtures: every test runs on SQLite and on PostgreSQL, schema via migrations.

PostgreSQL: the server on 127.0.0.1:5432 (trust auth) when it answers, else a throw-away server
started from the local binaries, else the PostgreSQL variant is skipped with the reason. One
migrated template database per test session (per xdist worker) and one database made from it that
the tests of the session share, emptied after each test (a test that changed the schema gets it made
anew from the template); SQLite: one migrated file per session, copied per test.
Set ``JIUZHU_TEST_PG_LOCAL=1`` to use a throw-away server even when 5432 answers.
"""

from __future__ import annotations

import graphlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from jiuzhu.business import db
from jiuzhu.pgserver import ThrowAwayServer, free_port
from jiuzhu.pgserver import answers as _answers

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USERS = ("postgres", "root")


class FakeClock:
    """A controllable clock: tests move time forward instead of sleeping."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment


def _admin_user(host: str, port: int) -> str | None:
    for user in PG_USERS:
        try:
            with psycopg.connect(
                host=host, port=port, user=user, dbname="postgres", connect_timeout=3, autocommit=True
            ) as conn:
                can_create = conn.execute(
                    "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
                ).fetchone()
                if can_create and can_create[0]:
                    return user
        except psycopg.Error:
            continue
    return None


@pytest.fixture(scope="session")
def pg_server():
    """(host, port, user) of a PostgreSQL server we may create databases on, or skip."""
    server = None
    if os.environ.get("JIUZHU_TEST_PG_LOCAL") != "1" and _answers(PG_HOST, PG_PORT):
        user = _admin_user(PG_HOST, PG_PORT)
        if user is None:
            pytest.skip(f"{PG_HOST}:{PG_PORT} 上的 PostgreSQL 不接受 {'/'.join(PG_USERS)} 免密建库")
        yield PG_HOST, PG_PORT, user
        return
    server = ThrowAwayServer()
    problem = server.start()
    if problem:
        server.stop()
        pytest.skip(f"没有可用的 PostgreSQL:{PG_HOST}:{PG_PORT} 无响应,且{problem}")
    try:
        yield PG_HOST, server.port, "postgres"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_database(pg_server):
    """A fresh database with a random name for this test session; dropped afterwards."""
    host, port, user = pg_server
    name = f"jiuzhu_test_{secrets.token_hex(6)}"
    with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://{user}@{host}:{port}/{name}", (host, port, user, name)
    finally:
        with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(autouse=True)
def _business_environment(monkeypatch, tmp_path):
    """No developer settings leak in; anything written under JIUZHU_HOME lands in tmp."""
    for name in ("JIUZHU_BUSINESS_DB_URL", "JIUZHU_PSEUDONYM_KEY", "JIUZHU_ALLOW_DEMO_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JIUZHU_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory):
    """One migrated SQLite file per test session; each test gets a copy (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("business-template") / "business.sqlite"
    db.upgrade(f"sqlite:///{path}")  # the engine is disposed: the WAL is checkpointed into the file
    return path


@pytest.fixture(scope="session")
def _pg_template(pg_server):
    """One migrated PostgreSQL database per test session, the template each test's database is
    created from (CREATE DATABASE … TEMPLATE copies it in a fraction of a migration's time)."""
    host, port, user = pg_server
    name = f"jiuzhu_tpl_{secrets.token_hex(6)}"
    with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db.upgrade(f"postgresql+psycopg://{user}@{host}:{port}/{name}")
    try:
        yield host, port, user, name
    finally:
        with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# Everything a test could change besides the rows: relations and their columns, constraints,
# triggers, functions, view definitions and the migration stamp, outside PostgreSQL's own schemas.
_SCHEMA_FINGERPRINT = """
SELECT md5(string_agg(item, E'\\n' ORDER BY item)) FROM (
    SELECT 'rel ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' '
           || coalesce(string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text,
                                  ', ' ORDER BY a.attnum), '') AS item
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
    GROUP BY n.nspname, c.relname, c.relkind
    UNION ALL
    SELECT 'con ' || c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
    UNION ALL
    SELECT 'trg ' || tgrelid::regclass::text || ' ' || tgname || ' ' || tgenabled::text FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL
    SELECT 'fn ' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
    UNION ALL
    SELECT 'view ' || c.oid::regclass::text || ' ' || pg_get_viewdef(c.oid) FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND n.nspname = 'public'
    UNION ALL
    SELECT 'alembic ' || version_num FROM public.alembic_version
) items
"""


class _SharedPgDatabase:
    """The PostgreSQL business database the tests of one session share: made from the migrated
    template once, then after each test put back as the migrations left it — every table but
    alembic_version emptied with DELETE (referencing tables first), the rows a migration seeded
    copied back in and every sequence set back — in 0.02–0.04 s here, against 0.2–0.3 s for a
    CREATE DATABASE … TEMPLATE and a DROP per test (and 0.6 s for TRUNCATE … RESTART IDENTITY of
    the 26 tables: a new file per table and index). When a test changed the schema (test_access
    renames audit_log) or putting it back fails, it is dropped and made anew from the template."""

    def __init__(self, host: str, port: int, user: str, template: str):
        self.host, self.port, self.user, self.template = host, port, user, template
        self.name = f"jiuzhu_t_{secrets.token_hex(6)}"
        self.fingerprint, self.reset, self.seeds = "", "", {}
        self._create()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{self.name}"

    def _connect(self, dbname: str) -> psycopg.Connection:
        return psycopg.connect(host=self.host, port=self.port, user=self.user, dbname=dbname, autocommit=True)

    def _create(self) -> None:
        with self._connect("postgres") as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(self.name), sql.Identifier(self.template)))
        try:
            with self._connect(self.name) as conn:
                self.fingerprint = conn.execute(_SCHEMA_FINGERPRINT).fetchone()[0]
                self._plan(conn)
        except BaseException:
            self.drop()
            raise

    def _plan(self, conn: psycopg.Connection) -> None:
        """The statement that puts the migrated database back, and the rows the migrations seeded."""
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
        order = graphlib.TopologicalSorter({t: set() for t in tables})
        for child, parent in conn.execute(
                "SELECT c.relname, p.relname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
                "JOIN pg_class p ON p.oid = k.confrelid WHERE k.contype = 'f' "
                "AND c.relnamespace = 'public'::regnamespace AND p.relnamespace = 'public'::regnamespace"):
            if child != parent and child in tables and parent in tables:
                order.add(parent, child)  # the referencing rows go first
        deletions = list(order.static_order())
        statements = [sql.SQL("DELETE FROM {}").format(sql.Identifier("public", t)) for t in deletions]
        for name, value, called in conn.execute(
                "SELECT format('%I.%I', schemaname, sequencename), coalesce(last_value, start_value), "
                "last_value IS NOT NULL FROM pg_sequences WHERE schemaname = 'public'"):
            statements.append(sql.SQL("SELECT setval({}::regclass, {}, {})").format(name, value, called))
        self.reset = sql.SQL("; ").join(statements).as_string(conn)
        self.seeds = {}
        for table in reversed(deletions):  # referenced tables first
            ident = sql.Identifier("public", table)
            if conn.execute(sql.SQL("SELECT EXISTS (SELECT FROM {})").format(ident)).fetchone()[0]:
                with conn.cursor().copy(sql.SQL("COPY {} TO STDOUT (FORMAT binary)").format(ident)) as copy:
                    self.seeds[table] = b"".join(bytes(block) for block in copy)

    def drop(self) -> None:
        with self._connect("postgres") as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))

    def put_back(self) -> None:
        """Back to the migrated database for the next test."""
        try:
            with self._connect(self.name) as conn:
                # the test's connections go, as with DROP DATABASE … WITH (FORCE): none keeps a lock
                others = ("FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                          "AND backend_type = 'client backend'")
                conn.execute(f"SELECT pg_terminate_backend(pid) {others}")
                for _ in range(200):
                    if not conn.execute(f"SELECT count(*) {others}").fetchone()[0]:
                        break
                    time.sleep(0.05)
                if conn.execute(_SCHEMA_FINGERPRINT).fetchone()[0] == self.fingerprint:
                    with conn.transaction():
                        conn.execute("SET LOCAL lock_timeout = '10s'")
                        conn.execute(self.reset)
                        for table, rows in self.seeds.items():
                            ident = sql.Identifier("public", table)
                            with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN (FORMAT binary)").format(ident)) as copy:
                                copy.write(rows)
                    return
        except psycopg.Error:
            pass
        self.drop()
        self._create()


@pytest.fixture(scope="session")
def _pg_shared_database(_pg_template):
    database = _SharedPgDatabase(*_pg_template)
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def business_url(request, tmp_path):
    """A migrated, empty business database: a copy of the migrated SQLite file, or the session's
    PostgreSQL database made from the migrated template and put back after each test; the schema
    always comes from the migrations."""
    if request.param == "sqlite":
        path = tmp_path / "business.sqlite"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    database = request.getfixturevalue("_pg_shared_database")
    try:
        yield database.url
    finally:
        database.put_back()


@pytest.fixture
def engine(business_url):
    engine = db.make_engine(business_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with db.session_factory(engine)() as session:
        yield session


@pytest.fixture
def clock():
    # 10:00 in Beijing on a Monday: office hours, so no night rule fires by accident.
    return FakeClock(datetime(2025, 3, 3, 2, 0, tzinfo=UTC))


# --- MariaDB (the relational-source tests) ----------------------------------------------------------

MY_PORT = 3306


class ThrowAwayMariaDB:
    """A MariaDB server in a temp folder from the local binaries (mariadb-server-core), no grants."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="jiuzhu-my-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> str | None:
        install, server = shutil.which("mariadb-install-db"), shutil.which("mariadbd") or (
            "/usr/sbin/mariadbd" if Path("/usr/sbin/mariadbd").exists() else None)
        if not install or not server:
            return "本机没有 MariaDB 程序(mariadb-install-db、mariadbd)"
        user = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("mysql")
            except KeyError:
                return "以 root 运行且没有 mysql 系统用户"
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            user = ["--user=mysql"]
        data = self.folder / "data"
        proc = subprocess.run([install, "--no-defaults", f"--datadir={data}", *user, "--skip-test-db",
                               "--auth-root-authentication-method=normal"], check=False, capture_output=True, text=True,
                              timeout=180)
        if proc.returncode != 0:
            return f"初始化临时 MariaDB 失败:{(proc.stderr or proc.stdout).strip()[-300:]}"
        self.proc = subprocess.Popen([server, "--no-defaults", f"--datadir={data}", *user, f"--port={self.port}",
                                      "--bind-address=127.0.0.1", f"--socket={self.folder / 'my.sock'}",
                                      "--skip-grant-tables", "--skip-networking=0"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(120):
            if _answers(PG_HOST, self.port):
                return None
            if self.proc.poll() is not None:
                return "临时 MariaDB 启动后退出"
            import time

            time.sleep(0.5)
        return "临时 MariaDB 未在 60 秒内就绪"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb_server():
    """(host, port) of a MariaDB server that lets root in without a password, or skip."""
    import pymysql

    if _answers(PG_HOST, MY_PORT):
        try:
            pymysql.connect(host=PG_HOST, port=MY_PORT, user="root", connect_timeout=3).close()
            yield PG_HOST, MY_PORT
            return
        except pymysql.Error:
            pass
    server = ThrowAwayMariaDB()
    problem = server.start()
    if problem:
        server.stop()
        pytest.skip(f"没有可用的 MariaDB:{PG_HOST}:{MY_PORT} 不可用,且{problem}")
    try:
        yield PG_HOST, server.port
    finally:
        server.stop()


@pytest.fixture
def mariadb_database(mariadb_server):
    """A fresh database for one test: its SQLAlchemy URL; dropped afterwards."""
    import pymysql

    host, port = mariadb_server
    name = f"jiuzhu_test_{secrets.token_hex(6)}"
    with pymysql.connect(host=host, port=port, user="root") as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")  # a random name made here
    try:
        yield f"mysql+pymysql://root@{host}:{port}/{name}?charset=utf8mb4"
    finally:
        with pymysql.connect(host=host, port=port, user="root") as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture
def demo_key(monkeypatch):
    """The public demo signing key (archives, reports and certificates are signed)."""
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")


@pytest.fixture
def seeded(session, clock):
    """A business database with the province's aid-item catalogue published."""
    from assistance import catalogue

    catalogue.seed(session, clock=clock)
    return session
