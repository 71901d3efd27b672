"""Authentication (SC-1): Argon2 passwords, policy, lockout, session expiry, first-login change.

GB/T 22239-2019 level 3 as testable policy: passwords of at least 8 characters with 3 of the 4
character classes, changed at first login; 5 consecutive failures lock the account for 15
minutes; sessions end after 30 idle minutes and 8 hours in total. Every login attempt and every
account change is audited. All time comes from an injectable clock.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from jiuzhu import access, audit, regions
from jiuzhu.business.models import User

MIN_LENGTH = 8
MIN_CLASSES = 3
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=8)
SYMBOLS = "!@#$%^&*()-_=+[]{};:,.?/~"

MSG_BAD_CREDENTIALS = "用户名或密码错误"
MSG_POLICY = "密码至少8位且包含大写字母、小写字母、数字、符号中的三类"
MSG_CONTAINS_USERNAME = "密码不得包含用户名"
MSG_INACTIVE = "账户已停用,请联系系统管理员"
MSG_MUST_CHANGE = "首次登录请修改初始密码"
MSG_SAME_PASSWORD = "新密码不得与当前密码相同"
MSG_IDLE = "会话因长时间未操作已过期,请重新登录"
MSG_ABSOLUTE = "会话已超过最长时限,请重新登录"

_USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,63}$")
# Argon2id with the library's RFC 9106 low-memory defaults (64 MiB, t=3, p=4).
# Argon2id at 64 MiB, 3 passes, 4 lanes (docs/security.md); the tests swap in a cheap hasher in their
# own process only (tests/conftest.py), and check these parameters here
HASH_PARAMETERS = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}
_hasher = PasswordHasher(**HASH_PARAMETERS)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_problems(password: str, username: str = "") -> list[str]:
    """The Chinese reasons a password breaks the policy (empty when it complies)."""
    problems = []
    classes = sum(
        (
            any(c.isupper() for c in password),
            any(c.islower() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() and not c.isspace() for c in password),
        )
    )
    if len(password) < MIN_LENGTH or classes < MIN_CLASSES:
        problems.append(MSG_POLICY)
    if username and username.lower() in password.lower():
        problems.append(MSG_CONTAINS_USERNAME)
    return problems


class WeakPassword(ValueError):
    code = "PASSWORD_POLICY"

    def __init__(self, problems: list[str]):
        self.problems = problems
        self.message_zh = ";".join(problems)
        super().__init__(self.message_zh)


class AccountError(ValueError):
    def __init__(self, code: str, message_zh: str):
        super().__init__(message_zh)
        self.code = code
        self.message_zh = message_zh


def _check_policy(password: str, username: str) -> None:
    problems = password_problems(password, username)
    if problems:
        raise WeakPassword(problems)


def generate_initial_password(length: int = 14) -> str:
    """A random password that meets the policy (all four classes), for new accounts."""
    alphabet = string.ascii_letters + string.digits + SYMBOLS
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.isupper() for c in candidate)
            and any(c.islower() for c in candidate)
            and any(c.isdigit() for c in candidate)
            and any(c in SYMBOLS for c in candidate)
        ):
            return candidate


def find_user(session: DbSession, username: str, *, for_update: bool = False) -> User | None:
    query = select(User).where(User.username == username)
    if for_update:
        # Row lock on PostgreSQL (SQLite ignores it): concurrent wrong guesses must not lose
        # failure counts and slip past the lockout.
        query = query.with_for_update()
    return session.scalars(query).first()


def create_user(
    session: DbSession,
    username: str,
    display_name: str,
    role: str,
    jurisdiction_code: str,
    password: str,
    *,
    must_change_password: bool = True,
    actor: str = "system",
    actor_role: str | None = None,
    clock: audit.Clock = audit.utc_now,
) -> User:
    """Create an account (one role, one jurisdiction), audited; commits."""
    if not _USERNAME.match(username):
        raise AccountError(
            "USERNAME_INVALID", "用户名须以小写字母开头,由3至64位小写字母、数字、下划线、点或连字符组成"
        )
    if role not in access.ROLES:
        raise AccountError("ROLE_UNKNOWN", f"未知的角色:{role}")
    if jurisdiction_code not in regions.load():
        raise AccountError("JURISDICTION_UNKNOWN", f"未知的管辖区域代码:{jurisdiction_code}")
    _check_policy(password, username)
    if find_user(session, username) is not None:
        raise AccountError("USERNAME_TAKEN", f"用户名已存在:{username}")
    now = clock()
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
        jurisdiction_code=regions.normalise_code(jurisdiction_code),
        must_change_password=must_change_password,
        failed_attempts=0,
        locked_until=None,
        last_login_at=None,
        password_changed_at=now,
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        role=actor_role,
        action="create_user",
        outcome="success",
        region_code=user.jurisdiction_code,
        detail={"username": username, "role": role},
        clock=clock,
    )
    return user


# --- login -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """A logged-in session. Checked on every request by ``check_session`` and renewed by ``touch``."""

    token: str
    username: str
    role: str
    jurisdiction_code: str
    created_at: datetime
    last_seen_at: datetime
    must_change_password: bool = False
    idle_timeout: timedelta = IDLE_TIMEOUT
    absolute_timeout: timedelta = ABSOLUTE_TIMEOUT


@dataclass(frozen=True)
class SessionCheck:
    valid: bool
    code: str
    message_zh: str


def check_session(sess: Session, clock: audit.Clock = audit.utc_now) -> SessionCheck:
    now = clock()
    if now - sess.created_at >= sess.absolute_timeout:
        hours = sess.absolute_timeout.total_seconds() / 3600
        return SessionCheck(False, "SESSION_ABSOLUTE_EXPIRED", f"{MSG_ABSOLUTE}(最长{hours:g}小时)")
    if now - sess.last_seen_at >= sess.idle_timeout:
        minutes = sess.idle_timeout.total_seconds() / 60
        return SessionCheck(False, "SESSION_IDLE_EXPIRED", f"{MSG_IDLE}(超过{minutes:g}分钟未操作)")
    return SessionCheck(True, "SESSION_VALID", "会话有效")


def touch(sess: Session, clock: audit.Clock = audit.utc_now) -> Session:
    """The session after a request: idle time restarts, the absolute limit does not."""
    return replace(sess, last_seen_at=clock())


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    code: str
    message_zh: str
    session: Session | None = None
    must_change_password: bool = False


def _typed(username: str) -> str:
    """What was typed, recorded only if it looks like a username: people do type ID numbers."""
    return username if _USERNAME.match(username) else "(无效用户名)"


def _minutes_left(until: datetime, now: datetime) -> int:
    return max(1, -(-int((until - now).total_seconds()) // 60))


def _login_audit(
    session: DbSession,
    username: str,
    role: str | None,
    region: str | None,
    outcome: str,
    reason: str,
    clock: audit.Clock,
) -> None:
    audit.record(
        session,
        actor=username,
        role=role,
        action="login",
        outcome=outcome,
        region_code=region,
        detail={"reason": reason},
        clock=clock,
    )


def login(
    session: DbSession,
    username: str,
    password: str,
    *,
    clock: audit.Clock = audit.utc_now,
    idle_timeout: timedelta | None = None,
    absolute_timeout: timedelta | None = None,
) -> LoginResult:
    """Check a password; lock after the security policy's consecutive failures (``MAX_FAILURES``
    by default). Every attempt is audited. The session limits are the policy's unless given.

    Unknown user and wrong password get the same message so the form does not reveal accounts.
    """
    from jiuzhu import security_settings  # noqa: PLC0415  (it imports this module)

    rules = security_settings.policy(session)
    idle_timeout = idle_timeout or rules.idle_timeout
    absolute_timeout = absolute_timeout or rules.absolute_timeout
    now = clock()
    user = find_user(session, username, for_update=True)
    if user is None:
        # Spend the same time as a real check so timing does not reveal which accounts exist.
        _burn_a_verify(password)
        _login_audit(session, _typed(username), None, None, "failure", "unknown_user", clock)
        return LoginResult(False, "BAD_CREDENTIALS", MSG_BAD_CREDENTIALS)
    region = user.jurisdiction_code
    if user.locked_until is not None and user.locked_until > now:
        _login_audit(session, username, user.role, region, "failure", "locked", clock)
        return LoginResult(
            False, "ACCOUNT_LOCKED", f"账户已锁定,请于{_minutes_left(user.locked_until, now)}分钟后重试"
        )
    if not _verify(user.password_hash, password):
        user.failed_attempts = (user.failed_attempts or 0) + 1
        user.updated_at = now
        if user.failed_attempts >= rules.max_failures:
            user.failed_attempts = 0
            user.locked_until = now + rules.lockout
            _login_audit(session, username, user.role, region, "failure", "locked_now", clock)
            return LoginResult(
                False, "ACCOUNT_LOCKED", f"账户已锁定,请于{int(rules.lockout.total_seconds() // 60)}分钟后重试"
            )
        _login_audit(session, username, user.role, region, "failure", "bad_password", clock)
        return LoginResult(False, "BAD_CREDENTIALS", MSG_BAD_CREDENTIALS)
    if not user.active:
        _login_audit(session, username, user.role, region, "failure", "inactive", clock)
        return LoginResult(False, "ACCOUNT_INACTIVE", MSG_INACTIVE)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_attempts = 0
    user.locked_until = None
    user.last_login_at = now
    user.updated_at = now
    _login_audit(
        session,
        username,
        user.role,
        region,
        "success",
        "must_change_password" if user.must_change_password else "ok",
        clock,
    )
    sess = Session(
        token=secrets.token_urlsafe(32),
        username=user.username,
        role=user.role,
        jurisdiction_code=user.jurisdiction_code,
        created_at=now,
        last_seen_at=now,
        must_change_password=user.must_change_password,
        idle_timeout=idle_timeout,
        absolute_timeout=absolute_timeout,
    )
    if user.must_change_password:
        return LoginResult(True, "PASSWORD_CHANGE_REQUIRED", MSG_MUST_CHANGE, sess, must_change_password=True)
    return LoginResult(True, "LOGIN_OK", "登录成功", sess)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DUMMY_HASH: str | None = None


def _burn_a_verify(password: str) -> None:
    global _DUMMY_HASH  # computed once, lazily: hashing costs ~0.1 s
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(generate_initial_password())
    _verify(_DUMMY_HASH, password)


def change_password(
    session: DbSession,
    username: str,
    old_password: str,
    new_password: str,
    *,
    clock: audit.Clock = audit.utc_now,
) -> User:
    """Replace a password (the forced first-login change included); audited; commits."""
    now = clock()
    user = find_user(session, username)
    if user is None or not _verify(user.password_hash, old_password):
        audit.record(
            session,
            actor=_typed(username),
            role=user.role if user else None,
            action="change_password",
            outcome="failure",
            detail={"reason": "bad_password"},
            clock=clock,
        )
        raise AccountError("BAD_CREDENTIALS", MSG_BAD_CREDENTIALS)
    try:
        _check_policy(new_password, username)
        if _verify(user.password_hash, new_password):
            raise WeakPassword([MSG_SAME_PASSWORD])
    except WeakPassword:
        audit.record(
            session,
            actor=username,
            role=user.role,
            action="change_password",
            outcome="failure",
            detail={"reason": "policy"},
            clock=clock,
        )
        raise
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    user.password_changed_at = now
    user.updated_at = now
    audit.record(
        session,
        actor=username,
        role=user.role,
        action="change_password",
        outcome="success",
        region_code=user.jurisdiction_code,
        detail={},
        clock=clock,
    )
    return user


# --- demo accounts -------------------------------------------------------------------------------------


def demo_accounts() -> list[tuple[str, str, str, str]]:
    """(username, display name, role, jurisdiction): a demo user for every role (two approvers: the
    township's 审核 and the county's 审批), on real codes."""
    tree = regions.load()
    province, chengdu, jinjiang = "510000000000", "510100000000", "510104000000"
    township = min(r.code for r in tree.children(jinjiang))
    return [
        ("hedui01", f"核对员(演示,{tree.get(jinjiang).name})", access.VERIFICATION_OFFICER, jinjiang),
        ("jingban01", f"经办人(演示,{tree.get(township).name})", access.CASE_WORKER, township),
        ("shenpi01", f"审批人(演示,{tree.get(jinjiang).name})", access.APPROVER, jinjiang),
        # 审核 at the township is an approver of the township's own office
        ("shenhe01", f"审核人(演示,{tree.get(township).name})", access.APPROVER, township),
        ("caiwu01", f"财务人员(演示,{tree.get(jinjiang).name})", access.FINANCE_OFFICER, jinjiang),
        ("fenxi01", f"分析员(演示,{tree.get(chengdu).name})", access.ANALYST, chengdu),
        ("juece01", "决策者(演示,四川省)", access.DECISION_MAKER, province),
        ("shuju01", "数据工程师(演示,四川省)", access.DATA_ENGINEER, province),
        ("jijian01", "纪检监察员(演示,四川省)", access.SUPERVISOR, province),
        ("xitong01", "系统管理员(演示)", access.SYSTEM_ADMIN, province),
        ("anquan01", "安全管理员(演示)", access.SECURITY_ADMIN, province),
        ("shenji01", "审计管理员(演示)", access.AUDIT_ADMIN, province),
    ]


@dataclass(frozen=True)
class SeededUser:
    username: str
    role: str
    jurisdiction_code: str
    initial_password: str


def seed_demo_users(session: DbSession, *, clock: audit.Clock = audit.utc_now) -> list[SeededUser]:
    """Create the demo accounts that do not exist yet, each with a fresh random initial password
    that must be changed at first login. Returns only the accounts created now."""
    created = []
    for username, display_name, role, jurisdiction in demo_accounts():
        if find_user(session, username) is not None:
            continue
        password = generate_initial_password()
        create_user(
            session,
            username,
            display_name,
            role,
            jurisdiction,
            password,
            must_change_password=True,
            actor="system:seed-demo",
            clock=clock,
        )
        created.append(SeededUser(username, role, jurisdiction, password))
    return created
