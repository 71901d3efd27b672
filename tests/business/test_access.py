"""Authorisation (SC-1, SC-2, M7, M11): every role × action × in/out of jurisdiction as specified,
every denial audited, 三权分立 held, nothing happens while the audit sink is down."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text

from jiuzhu import access, audit, auth, regions
from jiuzhu.business.models import AuditLog

JINJIANG = "510104000000"  # 锦江区, the test users' county
JINJIANG_TOWNSHIP = "510104017000"  # 锦官驿街道, inside
QINGYANG = "510105000000"  # 青羊区, the neighbouring county: outside

ROLE_COLUMNS = [
    "verification_officer",
    "case_worker",
    "approver",
    "analyst",
    "decision_maker",
    "data_engineer",
    "supervisor",
    "finance_officer",
    "system_admin",
    "security_admin",
    "audit_admin",
    "citizen",
    "exchange_client",
]

# The specification, written out by hand: Y = allowed inside the jurisdiction.
# fmt: off
#                                VO CW AP AN DM DE SV FI SY SE AU CI EX
EXPECTED = {
    "view_person":               "Y  Y  Y  .  .  .  Y  .  .  .  .  .  .",
    "search_person":             "Y  Y  Y  .  .  .  .  .  .  .  .  .  .",
    "view_household_report":     "Y  Y  Y  .  .  .  Y  .  .  .  .  .  .",
    "accept_application":        ".  Y  .  .  .  .  .  .  .  .  .  .  .",
    "submit_application":        ".  .  .  .  .  .  .  .  .  .  .  Y  .",
    "submit_complaint":          ".  .  .  .  .  .  .  .  .  .  .  Y  .",
    "handle_complaint":          ".  Y  Y  .  .  .  Y  .  .  .  .  .  .",
    "submit_batch":              ".  .  .  .  .  .  .  .  .  .  .  .  Y",
    "view_verification_result":  ".  .  .  .  .  .  .  .  .  .  .  .  Y",
    "view_sharing":              ".  .  .  .  .  .  .  .  .  .  .  .  Y",
    "submit_verification":       "Y  Y  .  .  .  .  .  .  .  .  .  .  Y",
    "review_verification":       "Y  .  .  .  .  .  .  .  .  .  .  .  .",
    "handle_warning":            "Y  Y  .  .  .  .  .  .  .  .  .  .  .",
    "approve_assistance":        ".  .  Y  .  .  .  .  .  .  .  .  .  .",
    "handle_case":               ".  Y  Y  .  .  .  .  .  .  .  .  .  .",
    "view_archive":              ".  Y  Y  .  .  .  Y  .  .  .  .  .  .",
    "manage_funds":              ".  .  .  .  .  .  .  Y  .  .  .  .  .",
    "issue_certificate":         ".  .  Y  .  .  .  .  .  .  .  .  .  .",
    "file_relatives":            "Y  Y  Y  .  .  .  .  Y  .  .  .  .  .",
    "edit_catalogue":            ".  Y  Y  .  .  .  .  .  .  .  .  .  .",
    "publish_catalogue":         ".  .  Y  .  .  .  .  .  .  .  .  .  .",
    "handle_supervision":        ".  .  .  .  .  .  Y  .  .  .  .  .  .",
    "export_personal":           "Y  .  Y  .  .  .  .  .  .  .  .  .  .",
    "view_aggregate":            "Y  Y  Y  Y  Y  Y  Y  Y  .  .  .  .  .",
    "export_aggregate":          ".  .  Y  Y  Y  .  Y  .  .  .  .  .  .",
    "adhoc_sql":                 ".  .  .  Y  .  .  .  .  .  .  .  .  .",
    "view_supervision":          ".  .  .  .  .  .  Y  .  .  .  .  .  .",
    "view_exchange_status":      ".  .  .  .  .  Y  .  .  Y  .  .  .  .",
    "run_pipeline":              ".  .  .  .  .  Y  .  .  .  .  .  .  .",
    "manage_users":              ".  .  .  .  .  .  .  .  Y  .  .  .  .",
    "manage_security_settings":  ".  .  .  .  .  .  .  .  .  Y  .  .  .",
    "view_audit":                ".  .  .  .  .  .  Y  .  .  .  Y  .  .",
    "export_audit":              ".  .  .  .  .  .  .  .  .  .  Y  .  .",
}
# fmt: on
EXPECTED_MAX_LEVEL = {
    "verification_officer": 4,
    "approver": 4,
    "case_worker": 3,
    "supervisor": 3,
    "finance_officer": 3,
    "analyst": 2,
    "decision_maker": 2,
    "data_engineer": 2,
    "system_admin": 1,
    "security_admin": 1,
    "audit_admin": 1,
    "citizen": 1,
    "exchange_client": 3,
}


def expected_allowed(role: str, action: str) -> bool:
    return EXPECTED[action].split()[ROLE_COLUMNS.index(role)] == "Y"


@dataclass
class Person:
    """A principal without a database row: authorize only reads these attributes."""

    username: str
    role: str
    jurisdiction_code: str
    active: bool = True
    must_change_password: bool = False


def officer(role: str, jurisdiction: str = JINJIANG) -> Person:
    return Person(f"t_{role}", role, jurisdiction)


def cells():
    for role in ROLE_COLUMNS:
        for action in EXPECTED:
            for where, region in (("inside", JINJIANG_TOWNSHIP), ("outside", QINGYANG)):
                yield role, action, where, region


def test_the_written_matrix_covers_every_role_and_action_of_the_module():
    assert set(ROLE_COLUMNS) == set(access.ROLES) | {access.CITIZEN, access.EXCHANGE_CLIENT} == set(access.MATRIX)
    assert access.CITIZEN not in access.ROLES  # no staff account can hold the public role
    assert set(EXPECTED) == set(access.ACTIONS)
    assert set(access.ROLE_NAMES_ZH.values()) == {
        "核对员",
        "经办人",
        "审批人",
        "分析员",
        "决策者",
        "数据工程师",
        "纪检监察员",
        "财务人员",
        "系统管理员",
        "安全管理员",
        "审计管理员",
    }


@pytest.mark.parametrize("role", ROLE_COLUMNS)
def test_every_cell_of_the_matrix_decides_as_specified(role):
    wrong = []
    for cell_role, action, where, region in cells():
        if cell_role != role:
            continue
        decision = access.authorize(officer(role), action, region)
        expected = expected_allowed(role, action) and where == "inside"
        if decision.allowed != expected:
            wrong.append((action, where, decision.code))
        if not decision.allowed:
            assert decision.reason_zh, (action, where)
    assert not wrong, f"{role}: cells deciding against the specification: {wrong}"


def test_denials_name_their_reason_in_chinese():
    analyst = officer("analyst")
    denied = access.authorize(analyst, "view_person", JINJIANG_TOWNSHIP)
    assert (denied.code, denied.reason_zh) == ("ROLE_NOT_PERMITTED", "分析员无权查看个人信息")
    outside = access.authorize(officer("verification_officer"), "view_person", QINGYANG)
    assert outside.code == "OUT_OF_JURISDICTION"
    assert "青羊区" in outside.reason_zh and "不在您的管辖范围" in outside.reason_zh


@pytest.mark.parametrize("role", ROLE_COLUMNS)
def test_field_access_level_never_exceeds_the_roles_maximum(role):
    action = next(a for a in EXPECTED if expected_allowed(role, a))
    for level in (1, 2, 3, 4):
        decision = access.authorize(officer(role), action, JINJIANG_TOWNSHIP, access_level=level)
        assert decision.allowed == (level <= EXPECTED_MAX_LEVEL[role]), (role, level, decision)
        if not decision.allowed:
            assert decision.code == "LEVEL_TOO_HIGH"


def test_invalid_access_levels_are_refused():
    for level in (0, 5, -1):
        assert (
            access.authorize(officer("verification_officer"), "view_person", JINJIANG_TOWNSHIP, level).code
            == "UNKNOWN_LEVEL"
        )


def test_analysts_and_decision_makers_only_ever_get_aggregate_data():
    for role in ("analyst", "decision_maker"):
        for action in access.PERSONAL_ACTIONS:
            assert not access.authorize(officer(role, "510000000000"), action, JINJIANG_TOWNSHIP).allowed
        assert access.MAX_LEVEL[role] <= 2


def test_three_admins_are_separate_and_none_reads_personal_data():
    assert access.separation_problems() == []
    admins = ("system_admin", "security_admin", "audit_admin")
    for role in admins:
        for action in access.PERSONAL_ACTIONS:
            assert not access.authorize(officer(role, "510000000000"), action, JINJIANG_TOWNSHIP).allowed
    # Each admin duty belongs to exactly one of the three.
    for duty in ("manage_users", "manage_security_settings", "export_audit"):
        holders = [r for r in admins if access.authorize(officer(r, "510000000000"), duty, JINJIANG).allowed]
        assert len(holders) == 1, (duty, holders)


def test_a_user_has_exactly_one_known_role(session):
    with pytest.raises(auth.AccountError) as err:
        auth.create_user(session, "twohats", "两个角色", "system_admin,audit_admin", JINJIANG, "Zx9!kLmn2")
    assert err.value.code == "ROLE_UNKNOWN"


def test_jurisdiction_containment_follows_the_level_of_the_jurisdiction():
    tree = regions.load()
    village = tree.children(JINJIANG_TOWNSHIP)[0].code
    sibling_township = "510104018000"
    province = officer("supervisor", "510000000000")
    assert access.authorize(province, "view_person", "513400000000").allowed  # 凉山州
    assert access.authorize(province, "view_person", village).allowed
    city_analyst = officer("analyst", "510100000000")
    assert access.authorize(city_analyst, "view_aggregate", JINJIANG).allowed
    assert access.authorize(city_analyst, "view_aggregate", "510300000000").code == "OUT_OF_JURISDICTION"
    township_worker = officer("case_worker", JINJIANG_TOWNSHIP)
    assert access.authorize(township_worker, "view_person", village).allowed
    assert access.authorize(township_worker, "view_person", sibling_township).code == "OUT_OF_JURISDICTION"
    assert access.authorize(township_worker, "view_person", JINJIANG).code == "OUT_OF_JURISDICTION"


def test_unknown_regions_and_missing_regions_are_denied():
    vo = officer("verification_officer")
    assert access.authorize(vo, "view_person", "500101000000").code == "UNKNOWN_REGION"  # 重庆: not ours
    assert access.authorize(vo, "view_person", None).code == "UNKNOWN_REGION"
    assert access.authorize(vo, "view_person", "51x").code == "UNKNOWN_REGION"


def test_inactive_accounts_and_unchanged_initial_passwords_are_denied_everything():
    assert (
        access.authorize(
            Person("a", "verification_officer", JINJIANG, active=False), "view_aggregate", JINJIANG
        ).code
        == "ACCOUNT_INACTIVE"
    )
    assert (
        access.authorize(
            Person("b", "verification_officer", JINJIANG, must_change_password=True),
            "view_aggregate",
            JINJIANG,
        ).code
        == "PASSWORD_CHANGE_REQUIRED"
    )


def test_every_decision_is_audited_and_every_denial_raises_after_auditing(session, clock):
    decisions = []
    for role, action, _where, region in cells():
        try:
            access.authorize_and_audit(
                session, officer(role), action, region, purpose="日常核对", clock=clock
            )
            decisions.append((role, action, region, "allowed"))
        except access.AccessDenied as denied:
            assert denied.message_zh
            decisions.append((role, action, region, "denied"))
        clock.advance(seconds=1)
    entries = session.scalars(select(AuditLog).order_by(AuditLog.seq)).all()
    assert len(entries) == len(decisions)
    for entry, (role, action, region, outcome) in zip(entries, decisions, strict=True):
        assert (entry.actor, entry.role, entry.action, entry.region_code, entry.outcome) == (
            f"t_{role}",
            role,
            action,
            region,
            outcome,
        )
        assert entry.purpose == "日常核对"
        expected = expected_allowed(role, action) and region == JINJIANG_TOWNSHIP
        assert (outcome == "allowed") == expected
    denied = session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.outcome == "denied"))
    assert denied == sum(1 for d in decisions if d[3] == "denied") > 0
    assert audit.verify(session).ok


def test_personal_data_needs_a_stated_purpose(session, clock):
    vo = officer("verification_officer")
    with pytest.raises(access.AccessDenied) as err:
        access.authorize_and_audit(session, vo, "view_person", JINJIANG_TOWNSHIP, purpose="  ", clock=clock)
    assert err.value.code == "PURPOSE_REQUIRED"
    entry = session.scalars(select(AuditLog)).one()
    assert entry.outcome == "denied"
    assert json.loads(entry.detail)["code"] == "PURPOSE_REQUIRED"


def test_an_allowed_action_runs_once_and_leaves_who_when_what_whose_why(session, clock):
    done = []
    subject = "0123456789abcdef0123456789abcdef"
    result = access.perform(
        session,
        officer("verification_officer"),
        "view_person",
        JINJIANG_TOWNSHIP,
        lambda: done.append("shown") or "ok",
        subject_key=subject,
        purpose="低保复核",
        level=3,
        clock=clock,
    )
    assert result == "ok" and done == ["shown"]
    entry = session.scalars(select(AuditLog)).one()
    assert (entry.actor, entry.at, entry.action, entry.subject_key, entry.purpose) == (
        "t_verification_officer",
        clock.now,
        "view_person",
        subject,
        "低保复核",
    )


def test_a_denied_action_never_runs(session, clock):
    done = []
    with pytest.raises(access.AccessDenied):
        access.perform(
            session,
            officer("analyst"),
            "view_person",
            JINJIANG_TOWNSHIP,
            lambda: done.append(1),
            purpose="好奇",
            clock=clock,
        )
    assert done == []


def test_raw_citizen_ids_are_refused_as_audit_subjects(session, clock):
    done = []
    with pytest.raises(audit.AuditUnavailable):
        access.perform(
            session,
            officer("verification_officer"),
            "view_person",
            JINJIANG_TOWNSHIP,
            lambda: done.append(1),
            subject_key="51010419900307123X",
            purpose="核对",
            clock=clock,
        )
    assert done == []
    assert session.scalar(select(func.count()).select_from(AuditLog)) == 0


@pytest.mark.parametrize("role,action", [("verification_officer", "view_person"), ("analyst", "view_person")])
def test_nothing_proceeds_while_the_audit_sink_is_down(session, engine, clock, role, action):
    access.authorize_and_audit(
        session, officer(role), "view_aggregate", JINJIANG, purpose="预热", clock=clock
    )
    session.rollback()
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log RENAME TO audit_log_offline"))
    done = []
    with pytest.raises(audit.AuditUnavailable) as err:
        access.perform(
            session,
            officer(role),
            action,
            JINJIANG_TOWNSHIP,
            lambda: done.append(1),
            purpose="核对",
            clock=clock,
        )
    assert done == []
    assert err.value.message_zh.startswith("审计日志写入失败,操作已中止")


def test_login_fails_closed_while_the_audit_sink_is_down(session, engine, clock):
    auth.create_user(
        session,
        "hedui_t",
        "核对员",
        "verification_officer",
        JINJIANG,
        "Zx9!kLmn2",
        must_change_password=False,
        clock=clock,
    )
    session.rollback()
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log RENAME TO audit_log_offline"))
    with pytest.raises(audit.AuditUnavailable):
        auth.login(session, "hedui_t", "Zx9!kLmn2", clock=clock)
