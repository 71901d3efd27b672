"""Engine, sessions and migrations of the business database.

The default is an SQLite file ``$JIUZHU_HOME/business.sqlite`` in WAL mode (readers never block
the single writer); production points ``JIUZHU_BUSINESS_DB_URL`` at PostgreSQL
(``postgresql+psycopg://...``). The schema only ever comes from Alembic migrations, so the
SQLite demo and PostgreSQL run the same DDL history.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from jiuzhu import settings

URL_ENV = "JIUZHU_BUSINESS_DB_URL"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def default_url() -> str:
    """``JIUZHU_BUSINESS_DB_URL`` when set, else the SQLite file under ``JIUZHU_HOME``."""
    explicit = os.environ.get(URL_ENV, "").strip()
    if explicit:
        return explicit
    return f"sqlite:///{settings.load().home / 'business.sqlite'}"


def _on_sqlite_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # SQLite ignores foreign keys unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    # Wait for a concurrent writer instead of failing at once with "database is locked".
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    url = url or default_url()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    return create_engine(url, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: callers keep reading the user they just logged in after commit.
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Run ``alembic upgrade head`` on the database at ``url`` (default: ``default_url()``)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            cfg = alembic_config()
            # Hand over the connection rather than the URL: URLs may hold '%' that the ini
            # interpolation of Config would misread.
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()
