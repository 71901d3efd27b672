"""Authentication (SC-1): password policy, Argon2, lockout, session expiry, forced first change,
every attempt audited. Time only moves when the test moves the clock."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from jiuzhu import access, auth, cli, regions
from jiuzhu.business.models import AuditLog

JINJIANG = "510104000000"
GOOD = "Zx9!kLmn2"


@pytest.mark.parametrize(
    "password,username,ok",
    [
        ("Abcdef1!", "", True),  # exactly 8, four classes
        ("abcdef1!", "", True),  # lower, digit, symbol
        ("ABCDEF1!", "", True),  # upper, digit, symbol
        ("Abcdefg1", "", True),  # upper, lower, digit
        ("Abcdefg!", "", True),  # upper, lower, symbol
        ("密码Abcd12", "", True),  # Chinese characters count as length, not as a class
        ("Abcde1!", "", False),  # 7 characters
        ("abcdefgh", "", False),  # one class
        ("abcdefg1", "", False),  # two classes
        ("ABCDEFG!", "", False),  # two classes
        ("12345678", "", False),  # one class
        ("", "", False),
        ("Hedui01!x", "hedui01", False),  # contains the username
        ("xHEDUI01!", "hedui01", False),  # ... in any case
    ],
)
def test_password_policy(password, username, ok):
    problems = auth.password_problems(password, username)
    assert (problems == []) == ok, problems
    if not ok:
        assert set(problems) <= {auth.MSG_POLICY, auth.MSG_CONTAINS_USERNAME}


def test_policy_messages_are_chinese_and_specific():
    assert auth.password_problems("abc", "") == ["密码至少8位且包含大写字母、小写字母、数字、符号中的三类"]
    assert auth.password_problems("Hedui01!x", "hedui01") == ["密码不得包含用户名"]


def test_generated_initial_passwords_meet_the_policy():
    for _ in range(50):
        assert auth.password_problems(auth.generate_initial_password(), "someone") == []


def test_the_production_hasher_is_argon2id_at_64_mib_three_passes_four_lanes():
    from argon2 import PasswordHasher

    # the tests hash with a cheap hasher in-process (tests/conftest.py); production uses these
    assert auth.HASH_PARAMETERS == {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}
    encoded = PasswordHasher(**auth.HASH_PARAMETERS).hash(GOOD)
    assert encoded.startswith("$argon2id$") and "m=65536,t=3,p=4" in encoded


def test_passwords_are_stored_as_argon2id_hashes(session, clock):
    user = auth.create_user(session, "hedui_t", "核对员", "verification_officer", JINJIANG, GOOD, clock=clock)
    assert user.password_hash.startswith("$argon2id$")
    assert GOOD not in user.password_hash


@pytest.mark.parametrize(
    "kwargs,code",
    [
        (dict(username="Bad Name"), "USERNAME_INVALID"),
        (dict(role="superuser"), "ROLE_UNKNOWN"),
        (dict(jurisdiction_code="500000000000"), "JURISDICTION_UNKNOWN"),
    ],
)
def test_create_user_refuses_bad_accounts(session, clock, kwargs, code):
    args = (
        dict(
            username="hedui_t",
            display_name="核对员",
            role="verification_officer",
            jurisdiction_code=JINJIANG,
            password=GOOD,
        )
        | kwargs
    )
    with pytest.raises(auth.AccountError) as err:
        auth.create_user(session, clock=clock, **args)
    assert err.value.code == code and err.value.message_zh


def test_create_user_refuses_weak_passwords_and_duplicates(session, clock):
    with pytest.raises(auth.WeakPassword) as weak:
        auth.create_user(
            session, "hedui_t", "核对员", "verification_officer", JINJIANG, "password", clock=clock
        )
    assert weak.value.message_zh == auth.MSG_POLICY
    auth.create_user(session, "hedui_t", "核对员", "verification_officer", JINJIANG, GOOD, clock=clock)
    with pytest.raises(auth.AccountError) as dup:
        auth.create_user(session, "hedui_t", "核对员", "verification_officer", JINJIANG, GOOD, clock=clock)
    assert dup.value.code == "USERNAME_TAKEN"


@pytest.fixture
def officer(session, clock):
    return auth.create_user(
        session,
        "hedui_t",
        "核对员",
        "verification_officer",
        JINJIANG,
        GOOD,
        must_change_password=False,
        clock=clock,
    )


def login_entries(session) -> list[tuple[str, str]]:
    rows = session.scalars(select(AuditLog).where(AuditLog.action == "login").order_by(AuditLog.seq)).all()
    return [(r.outcome, json.loads(r.detail)["reason"]) for r in rows]


def test_five_failures_lock_the_account_for_fifteen_minutes(session, clock, officer):
    for _ in range(4):
        result = auth.login(session, "hedui_t", "wrong-Pass1", clock=clock)
        assert (result.ok, result.code, result.message_zh) == (False, "BAD_CREDENTIALS", "用户名或密码错误")
        clock.advance(seconds=10)
    fifth = auth.login(session, "hedui_t", "wrong-Pass1", clock=clock)
    assert (fifth.code, fifth.message_zh) == ("ACCOUNT_LOCKED", "账户已锁定,请于15分钟后重试")
    locked_at = clock.now
    # The right password does not open a locked account.
    clock.advance(minutes=14, seconds=59)
    still = auth.login(session, "hedui_t", GOOD, clock=clock)
    assert still.code == "ACCOUNT_LOCKED" and still.message_zh == "账户已锁定,请于1分钟后重试"
    clock.set(locked_at + timedelta(minutes=15))
    opened = auth.login(session, "hedui_t", GOOD, clock=clock)
    assert opened.ok and opened.code == "LOGIN_OK"
    assert login_entries(session) == [("failure", "bad_password")] * 4 + [
        ("failure", "locked_now"),
        ("failure", "locked"),
        ("success", "ok"),
    ]


def test_a_success_resets_the_failure_count(session, clock, officer):
    for _ in range(4):
        auth.login(session, "hedui_t", "wrong-Pass1", clock=clock)
    assert auth.login(session, "hedui_t", GOOD, clock=clock).ok
    for _ in range(4):
        assert auth.login(session, "hedui_t", "wrong-Pass1", clock=clock).code == "BAD_CREDENTIALS"
    assert auth.login(session, "hedui_t", GOOD, clock=clock).ok


def test_unknown_users_get_the_same_answer_and_are_audited_without_personal_data(session, clock):
    result = auth.login(session, "nobody", "whatever1A", clock=clock)
    assert (result.code, result.message_zh) == ("BAD_CREDENTIALS", "用户名或密码错误")
    typed_an_id = auth.login(session, "51010419900307123X", "whatever1A", clock=clock)
    assert typed_an_id.code == "BAD_CREDENTIALS"
    actors = session.scalars(select(AuditLog.actor).order_by(AuditLog.seq)).all()
    assert actors == ["nobody", "(无效用户名)"]


def test_inactive_accounts_cannot_log_in(session, clock, officer):
    officer.active = False
    session.commit()
    result = auth.login(session, "hedui_t", GOOD, clock=clock)
    assert (result.ok, result.code) == (False, "ACCOUNT_INACTIVE")
    assert login_entries(session)[-1] == ("failure", "inactive")


def test_sessions_expire_after_idle_time(session, clock, officer):
    sess = auth.login(session, "hedui_t", GOOD, clock=clock).session
    clock.advance(minutes=29)
    assert auth.check_session(sess, clock).valid
    sess = auth.touch(sess, clock)
    clock.advance(minutes=29)
    assert auth.check_session(sess, clock).valid  # activity restarted the idle time
    clock.advance(minutes=1)
    check = auth.check_session(sess, clock)
    assert (check.valid, check.code) == (False, "SESSION_IDLE_EXPIRED")
    assert check.message_zh.startswith("会话因长时间未操作已过期,请重新登录")


def test_idle_timeout_is_configurable(session, clock, officer):
    sess = auth.login(session, "hedui_t", GOOD, clock=clock, idle_timeout=timedelta(minutes=15)).session
    clock.advance(minutes=14)
    assert auth.check_session(sess, clock).valid
    clock.advance(minutes=1)
    assert auth.check_session(sess, clock).code == "SESSION_IDLE_EXPIRED"


def test_sessions_end_after_eight_hours_however_active(session, clock, officer):
    sess = auth.login(session, "hedui_t", GOOD, clock=clock).session
    for _ in range(23):  # 23 × 20 min = 7 h 40 min of steady work
        clock.advance(minutes=20)
        assert auth.check_session(sess, clock).valid
        sess = auth.touch(sess, clock)
    clock.advance(minutes=20)
    check = auth.check_session(sess, clock)
    assert (check.valid, check.code) == (False, "SESSION_ABSOLUTE_EXPIRED")
    assert check.message_zh.startswith("会话已超过最长时限,请重新登录")


def test_the_initial_password_must_be_changed_before_anything_else(session, clock):
    auth.create_user(session, "jingban_t", "经办人", "case_worker", JINJIANG, GOOD, clock=clock)
    first = auth.login(session, "jingban_t", GOOD, clock=clock)
    assert first.ok and first.must_change_password and first.code == "PASSWORD_CHANGE_REQUIRED"
    assert first.message_zh == "首次登录请修改初始密码"
    user = auth.find_user(session, "jingban_t")
    assert access.authorize(user, "view_aggregate", JINJIANG).code == "PASSWORD_CHANGE_REQUIRED"
    with pytest.raises(auth.WeakPassword):
        auth.change_password(session, "jingban_t", GOOD, "weak", clock=clock)
    with pytest.raises(auth.WeakPassword) as same:
        auth.change_password(session, "jingban_t", GOOD, GOOD, clock=clock)
    assert same.value.message_zh == "新密码不得与当前密码相同"
    with pytest.raises(auth.AccountError):
        auth.change_password(session, "jingban_t", "not-it-1A", "Nw-2025!pass", clock=clock)
    clock.advance(minutes=1)
    auth.change_password(session, "jingban_t", GOOD, "Nw-2025!pass", clock=clock)
    second = auth.login(session, "jingban_t", "Nw-2025!pass", clock=clock)
    assert second.ok and not second.must_change_password and second.code == "LOGIN_OK"
    user = auth.find_user(session, "jingban_t")
    assert user.password_changed_at == clock.now
    assert access.authorize(user, "view_aggregate", JINJIANG).allowed
    outcomes = session.scalars(
        select(AuditLog.outcome).where(AuditLog.action == "change_password").order_by(AuditLog.seq)
    ).all()
    assert outcomes == ["failure", "failure", "failure", "success"]


def test_seed_demo_creates_an_account_for_every_role_with_one_time_passwords(session, business_url, tmp_path):
    env = {"JIUZHU_BUSINESS_DB_URL": business_url, "JIUZHU_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(cli.main, ["users", "seed-demo"], env=env)
    assert result.exit_code == 0, result.output
    assert "初始密码只显示这一次" in result.output
    printed = {}
    for line in result.output.splitlines()[1:]:
        username, _role_zh, jurisdiction, password = line.split()
        printed[username] = (jurisdiction, password)
    users = {u.username: u for u in (auth.find_user(session, name) for name in printed)}
    assert {u.role for u in users.values()} == set(access.ROLES)
    assert all(u.must_change_password for u in users.values())
    tree = regions.load()
    by_role = {u.role: u.jurisdiction_code for u in users.values() if u.username != "shenhe01"}
    assert by_role["analyst"] == "510100000000"
    assert by_role["verification_officer"] == by_role["approver"] == by_role["finance_officer"] == JINJIANG
    # the township's 审核 is an approver of the township's own office
    assert tree.parent(users["shenhe01"].jurisdiction_code).code == JINJIANG
    assert (
        tree.get(by_role["case_worker"]).level == 4 and tree.parent(by_role["case_worker"]).code == JINJIANG
    )
    for role in (
        "decision_maker",
        "data_engineer",
        "supervisor",
        "system_admin",
        "security_admin",
        "audit_admin",
    ):
        assert by_role[role] == "510000000000"
    analyst = next(name for name, u in users.items() if u.role == "analyst")
    login = auth.login(session, analyst, printed[analyst][1])
    assert login.ok and login.must_change_password
    again = CliRunner().invoke(cli.main, ["users", "seed-demo"], env=env)
    assert again.exit_code == 0 and "均已存在" in again.output


def test_cli_passwd_performs_the_forced_change(session, business_url, tmp_path, clock):
    auth.create_user(session, "fenxi_t", "分析员", "analyst", "510100000000", GOOD, clock=clock)
    session.close()
    env = {"JIUZHU_BUSINESS_DB_URL": business_url, "JIUZHU_HOME": str(tmp_path / "home")}
    weak = CliRunner().invoke(
        cli.main, ["users", "passwd", "fenxi_t"], input=f"{GOOD}\nweak\nweak\n", env=env
    )
    assert weak.exit_code == 1 and auth.MSG_POLICY in weak.output
    done = CliRunner().invoke(
        cli.main, ["users", "passwd", "fenxi_t"], input=f"{GOOD}\nNw-2025!pass\nNw-2025!pass\n", env=env
    )
    assert done.exit_code == 0 and "密码已修改" in done.output
    assert not auth.login(session, "fenxi_t", "Nw-2025!pass").must_change_password
