"""安全策略: only the security administrator changes the lockout and session limits, inside their
ranges, every change audited with the old and new value; logins follow the stored policy."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from jiuzhu import access, auth, security_settings
from jiuzhu.business.models import AuditLog

PASSWORD = "Abcdef12!"


@pytest.fixture
def admins(session, clock):
    made = {}
    for name, role in (("anquan.a", access.SECURITY_ADMIN), ("xitong.a", access.SYSTEM_ADMIN),
                       ("hedui.a", access.VERIFICATION_OFFICER)):
        made[name] = auth.create_user(session, name, name, role, "510000000000", PASSWORD,
                                      must_change_password=False, clock=clock)
    return made


def test_the_defaults_are_the_documented_ones(session):
    assert security_settings.values(session) == {"max_failures": auth.MAX_FAILURES, "lockout_minutes": 15,
                                                 "idle_timeout_minutes": 30, "absolute_timeout_hours": 8}


def test_only_the_security_administrator_changes_the_policy_audited(session, clock, admins):
    with pytest.raises(access.AccessDenied):
        security_settings.update(session, admins["xitong.a"], "max_failures", 3, clock=clock)
    old = security_settings.update(session, admins["anquan.a"], "max_failures", 3, clock=clock)
    assert old == 5 and security_settings.values(session)["max_failures"] == 3
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "manage_security_settings",
                                                   AuditLog.outcome == "allowed")).one()
    detail = json.loads(entry.detail)
    assert entry.actor == "anquan.a" and (detail["key"], detail["old"], detail["new"]) == ("max_failures", 5, 3)
    denied = session.scalars(select(AuditLog).where(AuditLog.action == "manage_security_settings",
                                                    AuditLog.outcome == "denied")).one()
    assert denied.actor == "xitong.a"


@pytest.mark.parametrize("key, value", [("max_failures", 2), ("lockout_minutes", 10_000), ("idle_timeout_minutes", 0),
                                        ("absolute_timeout_hours", 1.5)])
def test_values_outside_the_range_are_refused_in_chinese(session, clock, admins, key, value):
    with pytest.raises(security_settings.SettingError, match="须为.*之间的整数"):
        security_settings.update(session, admins["anquan.a"], key, value, clock=clock)


def test_logins_follow_the_stored_policy(session, clock, admins):
    security_settings.update(session, admins["anquan.a"], "max_failures", 3, clock=clock)
    security_settings.update(session, admins["anquan.a"], "lockout_minutes", 60, clock=clock)
    security_settings.update(session, admins["anquan.a"], "idle_timeout_minutes", 10, clock=clock)
    for _ in range(2):
        assert auth.login(session, "hedui.a", "wrong", clock=clock).code == "BAD_CREDENTIALS"
    third = auth.login(session, "hedui.a", "wrong", clock=clock)
    assert third.code == "ACCOUNT_LOCKED" and "60分钟" in third.message_zh
    clock.advance(minutes=61)
    ok = auth.login(session, "hedui.a", PASSWORD, clock=clock)
    assert ok.ok and ok.session.idle_timeout == timedelta(minutes=10)
    clock.advance(minutes=11)
    assert auth.check_session(ok.session, clock=clock).code == "SESSION_IDLE_EXPIRED"
