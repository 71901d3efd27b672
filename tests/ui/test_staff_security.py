"""安全策略 in the app: the security administrator changes the idle limit and it is kept; a value
outside the range cannot be entered; the system administrator is refused."""

from __future__ import annotations

import json

from tests.ui.staffkit import audit_rows, login, texts

PAGE = "views/security.py"


def test_the_security_administrator_changes_the_idle_limit(staff):
    at = login("anquan01")
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    field = at.number_input(key="security_idle_timeout_minutes")
    assert field.value == 30 and field.min == 5 and field.max == 120
    field.set_value(20)
    at.button(key="security_save").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert texts(at.success) == ["已保存:无操作自动退出时限"]
    entry = audit_rows(staff, action="manage_security_settings")[-1]
    assert entry.actor == "anquan01" and json.loads(entry.detail)["new"] == 20
    at.switch_page(PAGE).run()
    assert at.number_input(key="security_idle_timeout_minutes").value == 20
    at.number_input(key="security_idle_timeout_minutes").set_value(30)  # leave the shared database as found
    at.button(key="security_save").click().run()
    assert not at.error
