"""The business database: schema only from migrations, SQLite in WAL mode, PostgreSQL alike."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from jiuzhu.business import db
from jiuzhu.business.models import Base


def test_migrations_build_exactly_the_models(engine):
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert MigrationContext.configure(conn).get_current_revision() == "0009_exchange_api"


def test_every_table_carries_updated_at_for_incremental_mirroring(engine):
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == {"users", "audit_log", "verification_requests", "verification_request_members",
                      "verification_reports", "reverification_tasks", "monitoring_warnings", "security_settings",
                      # the business platform (0006)
                      "aid_items", "policy_documents", "policy_attachments", "policy_terms", "assistance_cases",
                      "case_members", "case_steps", "archive_documents", "household_changes", "benefits",
                      "disbursement_orders", "payment_batches", "payment_results", "reconciliation_issues",
                      "case_alerts", "staff_relatives", "certificates",
                      # benefit mechanics (0007)
                      "benefit_adjustments",
                      # the public portal (0008)
                      "citizens", "portal_rate_events", "complaints", "complaint_images",
                      # the exchange API (0009)
                      "api_clients"}
    for table in tables:
        assert "updated_at" in {c["name"] for c in inspect(engine).get_columns(table)}


def test_upgrading_twice_is_harmless(business_url):
    db.upgrade(business_url)
    db.upgrade(business_url)


def test_the_default_is_an_sqlite_file_under_jiuzhu_home_in_wal_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("JIUZHU_HOME", str(tmp_path / "home"))
    url = db.default_url()
    assert url == f"sqlite:///{tmp_path / 'home' / 'business.sqlite'}"
    db.upgrade()
    engine = db.make_engine()
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
    assert (tmp_path / "home" / "business.sqlite").exists()


def test_the_environment_variable_overrides_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("JIUZHU_BUSINESS_DB_URL", "postgresql+psycopg://u@127.0.0.1:5432/x")
    assert db.default_url() == "postgresql+psycopg://u@127.0.0.1:5432/x"
