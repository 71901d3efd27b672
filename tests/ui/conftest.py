"""Fixtures of the staff-app tests: the gold lake, the business database, the fake clock."""

from __future__ import annotations

import pytest

from tests.ui.staffkit import EXTRA_ACCOUNTS, PASSWORD, Clock, Gold, StaffDb, build_gold


@pytest.fixture(scope="session")
def gold(tmp_path_factory) -> Gold:
    """A lake with the four gold tables the staff app reads."""
    return build_gold(tmp_path_factory.mktemp("ui-lake") / "lake")


@pytest.fixture(scope="session")
def staff_db(tmp_path_factory) -> StaffDb:
    """SQLite business database (migrated) with every demo account and a few for the edge cases."""
    from jiuzhu import auth
    from jiuzhu.business import db

    home = tmp_path_factory.mktemp("ui-home")
    url = f"sqlite:///{home / 'business.sqlite'}"
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    with sessions() as s:
        for username, name, role, jurisdiction in auth.demo_accounts():
            auth.create_user(s, username, name, role, jurisdiction, PASSWORD, must_change_password=False)
        for username, name, role, jurisdiction, must_change in EXTRA_ACCOUNTS:
            auth.create_user(s, username, name, role, jurisdiction, PASSWORD, must_change_password=must_change)
    return StaffDb(home, url, sessions)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    from dashboards.staff import runtime

    fake = Clock()
    monkeypatch.setattr(runtime, "clock", fake)
    return fake


@pytest.fixture
def staff(monkeypatch, gold, staff_db, clock) -> StaffDb:
    """The app's environment: the gold lake, the business database, the fake clock."""
    monkeypatch.setenv("JIUZHU_HOME", str(staff_db.home))
    monkeypatch.setenv("JIUZHU_LAKE", str(gold.lake))
    monkeypatch.setenv("JIUZHU_BUSINESS_DB_URL", staff_db.url)
    return staff_db


