"""Login state of one browser session, checked on every rerun (Streamlit never expires sessions).

``st.session_state`` holds the ``jiuzhu.auth.Session`` returned by ``auth.login``. Every rerun,
``current_user`` checks its idle and absolute expiry with ``auth.check_session`` and re-reads the
account from the business database, so a deactivated account, a changed role or jurisdiction, or
an expired session ends the login at once; the entry script then renews the idle timer with
``auth.touch``. Logging out (or expiring) clears the whole session state, so nothing the previous
user saw stays behind, and leaves an audit entry.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from functools import cached_property

import streamlit as st

from dashboards.staff import navigation
from dashboards.staff.runtime import business_session, china_time, now
from jiuzhu import access, audit, auth, regions

SESSION_KEY = "staff_session"
NOTICE_KEY = "staff_notice"
FLASH_KEY = "staff_flash"
AUDITED_KEY = "staff_audited_views"
MSG_ACCOUNT_CHANGED = "账户的角色或管辖区域已变更,请重新登录"
MSG_LOGGED_OUT = "您已安全退出登录"


@dataclass(frozen=True)
class StaffUser:
    """The signed-in account as ``jiuzhu.access`` sees it (re-read from the database every rerun)."""

    username: str
    display_name: str
    role: str
    jurisdiction_code: str
    active: bool
    must_change_password: bool

    @property
    def role_zh(self) -> str:
        return access.ROLE_NAMES_ZH.get(self.role, self.role)

    @cached_property
    def jurisdiction_name(self) -> str:
        try:
            return regions.load().full_name(self.jurisdiction_code)
        except regions.UnknownRegion:
            return f"未知区划({self.jurisdiction_code})"


def _session() -> auth.Session | None:
    return st.session_state.get(SESSION_KEY)


def take_notice() -> str | None:
    """The message left by the last logout or expiry (shown once on the login page)."""
    return st.session_state.pop(NOTICE_KEY, None)


def flash(message: str) -> None:
    """A message for the next rerun of the signed-in user (e.g. after a password change)."""
    st.session_state[FLASH_KEY] = message


def take_flash() -> str | None:
    return st.session_state.pop(FLASH_KEY, None)


def _record_logout(sess: auth.Session, reason: str) -> None:
    try:
        with business_session() as db:
            audit.record(db, actor=sess.username, role=sess.role, action="logout", outcome="success",
                         region_code=sess.jurisdiction_code, detail={"reason": reason}, clock=now)
    except audit.AuditUnavailable:
        # Logging out must always succeed; the failed write is the database's problem to report.
        pass


def end_session(reason: str, notice: str | None = None) -> None:
    """Forget the login and everything the session holds; audited."""
    sess = _session()
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if sess is not None:
        _record_logout(sess, reason)
    if notice:
        st.session_state[NOTICE_KEY] = notice


def logout() -> None:
    end_session("user_logout", MSG_LOGGED_OUT)


def login(username: str, password: str) -> auth.LoginResult:
    """``auth.login`` against the business database; on success the session is kept."""
    with business_session() as db:
        result = auth.login(db, username.strip(), password, clock=now)
    if result.ok and result.session is not None:
        st.session_state.pop(NOTICE_KEY, None)
        st.session_state[SESSION_KEY] = result.session
    return result


def current_user(*, renew: bool = False) -> StaffUser | None:
    """The signed-in user, or None after ending a session that expired or no longer holds.

    ``renew`` restarts the idle timer (the entry script does it once per rerun, after the check).
    """
    sess = _session()
    if sess is None:
        return None
    check = auth.check_session(sess, now)
    if not check.valid:
        end_session(check.code, check.message_zh)
        return None
    with business_session() as db:
        row = auth.find_user(db, sess.username)
    if row is None or not row.active:
        end_session("inactive", auth.MSG_INACTIVE)
        return None
    if row.role != sess.role or row.jurisdiction_code != sess.jurisdiction_code:
        end_session("account_changed", MSG_ACCOUNT_CHANGED)
        return None
    if renew:
        st.session_state[SESSION_KEY] = auth.touch(sess, now)
    return StaffUser(
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        jurisdiction_code=row.jurisdiction_code,
        active=row.active,
        must_change_password=bool(row.must_change_password),
    )


@st.fragment(run_every=60)
def expiry_watch() -> None:
    """Once a minute, without counting as activity: an expired session reruns the whole app,
    which signs out and clears the screen even when nobody touches the browser."""
    sess = _session()
    if sess is not None and not auth.check_session(sess, now).valid:
        st.rerun(scope="app")


def session_limits() -> tuple[str, str] | None:
    """(idle deadline, absolute deadline) of the current session in Beijing time, for the sidebar."""
    sess = _session()
    if sess is None:
        return None
    idle = china_time(sess.last_seen_at + sess.idle_timeout, seconds=False)
    absolute = china_time(sess.created_at + sess.absolute_timeout, seconds=False)
    return idle, absolute


def change_password(user: StaffUser, old_password: str, new_password: str) -> None:
    """``auth.change_password``; the session gets a fresh token and leaves forced-change mode.

    Raises ``auth.AccountError`` (wrong current password) or ``auth.WeakPassword``.
    """
    with business_session() as db:
        auth.change_password(db, user.username, old_password, new_password, clock=now)
    sess = _session()
    if sess is not None:
        st.session_state[SESSION_KEY] = replace(sess, must_change_password=False,
                                                token=secrets.token_urlsafe(32))


def require_page(key: str) -> StaffUser:
    """Stop the page with a Chinese refusal unless the signed-in user may open it."""
    spec = navigation.BY_KEY[key]
    user = current_user()
    if user is None:
        st.warning("请先登录后再访问本页面。")
        st.stop()
    decision = navigation.decide(user, spec)
    if not decision.allowed:
        st.title(spec.title)
        st.error(f"您无权访问本页面:{decision.reason_zh}")
        st.stop()
    return user


def audit_view_once(user: StaffUser, action: str, region_code: str, purpose: str) -> bool:
    """Record the first opening of an administrative view per login (not every rerun); True.

    Raises ``access.AccessDenied`` or ``audit.AuditUnavailable`` like ``authorize_and_audit``.
    """
    done = st.session_state.setdefault(AUDITED_KEY, set())
    if action not in done:
        with business_session() as db:
            access.authorize_and_audit(db, user, action, region_code, purpose=purpose, clock=now)
        done.add(action)
    return True
