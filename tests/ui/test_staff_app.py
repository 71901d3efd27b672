"""Login, forced password change, lockout, session expiry and logout of the staff app (AppTest)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from jiuzhu.business.models import User
from tests.ui.staffkit import PASSWORD, audit_rows, login, new_app, texts


def test_signed_out_visitor_gets_only_the_login_page(staff):
    at = new_app()
    assert not at.exception
    assert texts(at.subheader) == ["工作人员登录"]
    assert not at.dataframe
    with pytest.raises(ValueError):
        at.switch_page("views/overview.py")


def test_login_opens_the_overview_and_the_sidebar_names_user_role_and_jurisdiction(staff):
    at = login("hedui01")
    assert texts(at.title) == ["总览"]
    sidebar = " ".join(texts(at.sidebar.markdown) + texts(at.sidebar.caption))
    assert "核对员(演示,锦江区)" in sidebar
    assert "角色:核对员" in sidebar
    assert "管辖区域:四川省成都市锦江区" in sidebar
    entry = audit_rows(staff, actor="hedui01", action="login")[-1]
    assert entry.outcome == "success"


def test_wrong_password_and_unknown_user_get_the_same_refusal(staff):
    wrong = login("fenxi01", "Wrong#pass2026")
    unknown = login("nobody99", "Wrong#pass2026")
    assert texts(wrong.error) == texts(unknown.error) == ["用户名或密码错误"]
    assert texts(wrong.subheader) == ["工作人员登录"]
    assert "staff_session" not in wrong.session_state


def test_fifth_wrong_password_locks_the_account_until_fifteen_minutes_have_passed(staff, clock):
    at = new_app()
    for _ in range(4):
        at = login("suoding01", "Wrong#pass2026", at)
        assert texts(at.error) == ["用户名或密码错误"]
    at = login("suoding01", "Wrong#pass2026", at)
    assert texts(at.error) == ["账户已锁定,请于15分钟后重试"]
    at = login("suoding01", PASSWORD, at)  # the right password does not open a locked account
    assert texts(at.error)[0].startswith("账户已锁定")
    assert texts(at.subheader) == ["工作人员登录"]
    clock.advance(minutes=16)
    at = login("suoding01", PASSWORD, at)
    assert not at.error
    assert texts(at.title) == ["总览"]


def test_initial_password_must_be_changed_before_any_other_page_opens(staff):
    at = login("xinren01")
    assert texts(at.title) == ["修改初始密码"]
    with pytest.raises(ValueError):
        at.switch_page("views/overview.py")

    at.text_input(key="password_old").input(PASSWORD)
    at.text_input(key="password_new").input("weakpass")
    at.text_input(key="password_again").input("weakpass")
    at.button(key="password_submit").click().run()
    assert texts(at.error) == ["密码至少8位且包含大写字母、小写字母、数字、符号中的三类"]

    at.text_input(key="password_old").input(PASSWORD)
    at.text_input(key="password_new").input("Xinmima#2027")
    at.text_input(key="password_again").input("Xinmima#2027")
    at.button(key="password_submit").click().run()
    assert not at.exception and not at.error
    assert texts(at.success)[0].startswith("密码已修改")
    at.switch_page("views/overview.py").run()
    assert texts(at.title) == ["总览"]
    assert audit_rows(staff, actor="xinren01", action="change_password")[-1].outcome == "success"


def test_idle_session_expires_after_thirty_minutes_and_returns_to_login(staff, clock):
    at = login("fenxi01")
    clock.advance(minutes=29)
    at.run()
    assert texts(at.title) == ["总览"]  # activity within the idle limit keeps the session
    clock.advance(minutes=30)
    at.run()
    assert texts(at.subheader) == ["工作人员登录"]
    assert texts(at.info) == ["会话因长时间未操作已过期,请重新登录(超过30分钟未操作)"]
    assert "staff_session" not in at.session_state
    assert not at.dataframe
    assert audit_rows(staff, actor="fenxi01", action="logout")[-1].detail == '{"reason":"SESSION_IDLE_EXPIRED"}'


def test_activity_does_not_extend_a_session_past_eight_hours(staff, clock):
    at = login("juece01")
    for _ in range(16):  # a rerun every 25 minutes keeps the idle timer fresh for 6 h 40 min
        clock.advance(minutes=25)
        at.run()
        assert texts(at.title) == ["总览"]
    clock.advance(minutes=25)
    at.run()
    assert texts(at.title) == ["总览"]  # 7 h 05 min
    for _ in range(3):
        clock.advance(minutes=25)
        at.run()
    assert texts(at.subheader) == ["工作人员登录"]
    assert texts(at.info) == ["会话已超过最长时限,请重新登录(最长8小时)"]


def test_logout_forgets_the_session_and_is_audited(staff):
    at = login("shenpi01")
    at.sidebar.button(key="logout_button").click().run()
    assert texts(at.subheader) == ["工作人员登录"]
    assert texts(at.info) == ["您已安全退出登录"]
    assert "staff_session" not in at.session_state
    assert audit_rows(staff, actor="shenpi01", action="logout")[-1].detail == '{"reason":"user_logout"}'


def test_deactivated_account_is_signed_out_at_its_next_rerun(staff):
    at = login("tingyong01")
    assert texts(at.title) == ["总览"]
    with staff.sessions() as s:
        s.execute(update(User).where(User.username == "tingyong01").values(active=False))
        s.commit()
    try:
        at.run()
        assert texts(at.subheader) == ["工作人员登录"]
        assert texts(at.info) == ["账户已停用,请联系系统管理员"]
    finally:
        with staff.sessions() as s:
            s.execute(update(User).where(User.username == "tingyong01").values(active=True))
            s.commit()
