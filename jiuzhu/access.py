"""Who may do what, where (SC-1, SC-2, AN-5): roles, the permission matrix and one decision function.

Every screen, command, export and API asks ``authorize`` (or ``authorize_and_audit``, which also
leaves the audit entry) before it acts. A decision needs all of:
  1. the action is in the role's row of ``MATRIX``;
  2. the region lies inside the user's jurisdiction (prefix at the jurisdiction's level);
  3. the field access level (1 least .. 4 most sensitive, from the contracts) is within the role's
     ``MAX_LEVEL``;
plus an active account that has replaced its initial password, and a stated purpose for any
action on personal data.

三权分立: a user has exactly one role (one column); the system, security and audit administrators
hold disjoint duties and none of them may touch personal data (checked by ``separation_problems``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from jiuzhu import audit, regions

VERIFICATION_OFFICER = "verification_officer"
CASE_WORKER = "case_worker"
APPROVER = "approver"
ANALYST = "analyst"
DECISION_MAKER = "decision_maker"
DATA_ENGINEER = "data_engineer"
SUPERVISOR = "supervisor"
FINANCE_OFFICER = "finance_officer"
SYSTEM_ADMIN = "system_admin"
SECURITY_ADMIN = "security_admin"
AUDIT_ADMIN = "audit_admin"

ROLE_NAMES_ZH = {
    VERIFICATION_OFFICER: "核对员",
    CASE_WORKER: "经办人",
    APPROVER: "审批人",
    ANALYST: "分析员",
    DECISION_MAKER: "决策者",
    DATA_ENGINEER: "数据工程师",
    SUPERVISOR: "纪检监察员",
    FINANCE_OFFICER: "财务人员",
    SYSTEM_ADMIN: "系统管理员",
    SECURITY_ADMIN: "安全管理员",
    AUDIT_ADMIN: "审计管理员",
}
ROLES = tuple(ROLE_NAMES_ZH)  # the staff roles a user account can hold
ADMIN_ROLES = frozenset({SYSTEM_ADMIN, SECURITY_ADMIN, AUDIT_ADMIN})
# the public portal's registered citizen (公众用户): never a staff account, only the portal's own actions
CITIZEN = "citizen"
# a unit calling the exchange API (接口单位): its client's scopes narrow it further
EXCHANGE_CLIENT = "exchange_client"
PRINCIPAL_NAMES_ZH = {**ROLE_NAMES_ZH, CITIZEN: "公众用户", EXCHANGE_CLIENT: "接口单位"}


@dataclass(frozen=True)
class Action:
    name_zh: str
    personal: bool  # touches identifiable personal data: needs a purpose, never for admins/analysts


ACTIONS = {
    "view_person": Action("查看个人信息", True),
    "search_person": Action("模糊查询人员", True),
    "view_household_report": Action("查看家庭经济状况核对报告", True),
    "accept_application": Action("受理救助申请", True),
    "submit_application": Action("网上申请救助", True),
    "submit_complaint": Action("提交投诉举报与咨询", False),
    "handle_complaint": Action("办理投诉举报与咨询", True),
    "submit_batch": Action("报送数据批次", True),
    "view_verification_result": Action("查询委托核对结果", True),
    "view_sharing": Action("获取共享数据", True),
    "submit_verification": Action("提交核对申请", True),
    "review_verification": Action("复核核对结果", True),
    "handle_warning": Action("处理监测预警", True),
    "approve_assistance": Action("审批救助", True),
    "handle_case": Action("办理救助案件", True),
    "view_archive": Action("查阅档案", True),
    "manage_funds": Action("资金监管", True),
    "issue_certificate": Action("签发电子证照", True),
    "file_relatives": Action("近亲属备案", True),
    "edit_catalogue": Action("编辑救助事项和政策文件", False),
    "publish_catalogue": Action("审核发布救助事项", False),
    "handle_supervision": Action("处理监察预警", False),
    "export_personal": Action("导出个人明细", True),
    "view_aggregate": Action("查看统计分析", False),
    "export_aggregate": Action("导出统计数据", False),
    "adhoc_sql": Action("即席查询", False),
    "view_supervision": Action("查看监察预警", False),
    "view_exchange_status": Action("查看数据交换状态", False),
    "run_pipeline": Action("运行数据作业", False),
    "manage_users": Action("管理用户账户", False),
    "manage_security_settings": Action("管理安全策略", False),
    "view_audit": Action("查看审计日志", False),
    "export_audit": Action("导出审计日志", False),
}
PERSONAL_ACTIONS = frozenset(name for name, a in ACTIONS.items() if a.personal)

# The written matrix: role -> the actions it may take. Anything not listed is denied.
MATRIX: dict[str, frozenset[str]] = {
    VERIFICATION_OFFICER: frozenset(
        {
            "view_person",
            "search_person",
            "view_household_report",
            "submit_verification",
            "review_verification",
            "handle_warning",
            "file_relatives",
            "export_personal",
            "view_aggregate",
        }
    ),
    CASE_WORKER: frozenset(
        {
            "view_person",
            "search_person",
            "view_household_report",
            "accept_application",
            "submit_verification",
            "handle_warning",
            "handle_case",
            "handle_complaint",
            "view_archive",
            "file_relatives",
            "edit_catalogue",
            "view_aggregate",
        }
    ),
    APPROVER: frozenset(
        {
            "view_person",
            "search_person",
            "view_household_report",
            "approve_assistance",
            "handle_case",
            "handle_complaint",
            "view_archive",
            "issue_certificate",
            "file_relatives",
            "edit_catalogue",
            "publish_catalogue",
            "export_personal",
            "view_aggregate",
            "export_aggregate",
        }
    ),
    ANALYST: frozenset({"view_aggregate", "export_aggregate", "adhoc_sql"}),
    DECISION_MAKER: frozenset({"view_aggregate", "export_aggregate"}),
    DATA_ENGINEER: frozenset({"view_exchange_status", "run_pipeline", "view_aggregate"}),
    SUPERVISOR: frozenset(
        {
            "view_person",
            "view_household_report",
            "view_supervision",
            "handle_supervision",
            "handle_complaint",
            "view_archive",
            "view_audit",
            "view_aggregate",
            "export_aggregate",
        }
    ),
    FINANCE_OFFICER: frozenset({"manage_funds", "file_relatives", "view_aggregate"}),
    SYSTEM_ADMIN: frozenset({"manage_users", "view_exchange_status"}),
    SECURITY_ADMIN: frozenset({"manage_security_settings"}),
    AUDIT_ADMIN: frozenset({"view_audit", "export_audit"}),
    # a citizen applies for their own family and files complaints; the portal checks the family
    CITIZEN: frozenset({"submit_application", "submit_complaint"}),
    # a unit reports its batches, commissions verifications and reads their results, receives shares
    EXCHANGE_CLIENT: frozenset({"submit_batch", "submit_verification", "view_verification_result", "view_sharing"}),
}

# Highest field access level each role may read (contracts: 1 public .. 4 most sensitive).
# Analysts and decision-makers stop at pseudonymous/aggregate data; admins at non-personal data.
MAX_LEVEL = {
    VERIFICATION_OFFICER: 4,
    APPROVER: 4,
    CASE_WORKER: 3,
    SUPERVISOR: 3,
    FINANCE_OFFICER: 3,
    ANALYST: 2,
    DECISION_MAKER: 2,
    DATA_ENGINEER: 2,
    SYSTEM_ADMIN: 1,
    SECURITY_ADMIN: 1,
    AUDIT_ADMIN: 1,
    CITIZEN: 1,
    EXCHANGE_CLIENT: 3,
}

# The duty that belongs to exactly one administrator.
ADMIN_DUTIES = {
    SYSTEM_ADMIN: frozenset({"manage_users"}),
    SECURITY_ADMIN: frozenset({"manage_security_settings"}),
    AUDIT_ADMIN: frozenset({"view_audit", "export_audit"}),
}


class Principal(Protocol):
    username: str
    role: str
    jurisdiction_code: str


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason_zh: str
    code: str = "ALLOWED"


class AccessDenied(PermissionError):
    def __init__(self, decision: Decision):
        super().__init__(decision.reason_zh)
        self.decision = decision
        self.code = decision.code
        self.message_zh = decision.reason_zh


def _deny(code: str, reason_zh: str) -> Decision:
    return Decision(False, reason_zh, code)


def authorize(user: Principal, action: str, region_code: str | None, access_level: int = 1) -> Decision:
    """The single authorisation decision. Pure: no I/O, no audit (see ``authorize_and_audit``)."""
    if not getattr(user, "active", True):
        return _deny("ACCOUNT_INACTIVE", "账户已停用")
    if getattr(user, "must_change_password", False):
        return _deny("PASSWORD_CHANGE_REQUIRED", "请先修改初始密码后再进行操作")
    role = user.role
    if role not in MATRIX:
        return _deny("UNKNOWN_ROLE", f"未知的角色:{role}")
    if action not in ACTIONS:
        return _deny("UNKNOWN_ACTION", f"未知的操作:{action}")
    if action not in MATRIX[role]:
        return _deny("ROLE_NOT_PERMITTED", f"{PRINCIPAL_NAMES_ZH[role]}无权{ACTIONS[action].name_zh}")
    if not isinstance(access_level, int) or not 1 <= access_level <= 4:
        return _deny("UNKNOWN_LEVEL", f"数据访问级别无效:{access_level}(应为1至4)")
    if access_level > MAX_LEVEL[role]:
        return _deny(
            "LEVEL_TOO_HIGH",
            f"{PRINCIPAL_NAMES_ZH[role]}最高只能访问{MAX_LEVEL[role]}级数据,该数据为{access_level}级",
        )
    tree = regions.load()
    if not region_code or region_code not in tree:
        return _deny("UNKNOWN_REGION", f"未知的行政区划代码:{region_code or '(空)'}")
    if not user.jurisdiction_code or user.jurisdiction_code not in tree:
        return _deny("NO_JURISDICTION", "账户未配置有效的管辖区域")
    if not regions.contains(user.jurisdiction_code, region_code):
        return _deny(
            "OUT_OF_JURISDICTION",
            f"{tree.full_name(region_code)}不在您的管辖范围({tree.full_name(user.jurisdiction_code)})内",
        )
    return Decision(True, f"允许{ACTIONS[action].name_zh}")


def _audit_region(region_code: str | None) -> str | None:
    try:
        return regions.normalise_code(region_code) if region_code else None
    except regions.UnknownRegion:
        return None


def authorize_and_audit(
    session: Session,
    user: Principal,
    action: str,
    region_code: str | None,
    subject_key: str | None = None,
    *,
    purpose: str,
    level: int = 1,
    detail: dict | None = None,
    clock: audit.Clock = audit.utc_now,
) -> Decision:
    """Decide, write the audit entry (allowed or denied), then raise ``AccessDenied`` on denial.

    The entry is committed before this returns; if it cannot be written ``AuditUnavailable`` is
    raised and the caller must not act, whatever the decision was.
    """
    decision = authorize(user, action, region_code, level)
    if decision.allowed and action in PERSONAL_ACTIONS and not (purpose or "").strip():
        decision = _deny("PURPOSE_REQUIRED", f"{ACTIONS[action].name_zh}须说明事由")
    entry_detail = {"code": decision.code, "level": level, **(detail or {})}
    audit.record(
        session,
        actor=user.username,
        role=user.role,
        action=action,
        outcome="allowed" if decision.allowed else "denied",
        subject_key=subject_key,
        region_code=_audit_region(region_code),
        purpose=(purpose or "").strip() or None,
        detail=entry_detail,
        clock=clock,
    )
    if not decision.allowed:
        raise AccessDenied(decision)
    return decision


T = TypeVar("T")


def perform(
    session: Session,
    user: Principal,
    action: str,
    region_code: str | None,
    operation: Callable[[], T],
    **audit_args: Any,
) -> T:
    """Run ``operation`` only after an allowed, durably audited decision."""
    authorize_and_audit(session, user, action, region_code, **audit_args)
    return operation()


def separation_problems() -> list[str]:
    """Breaches of 三权分立 in the matrix (empty when the matrix is sound)."""
    problems = []
    for role in ADMIN_ROLES:
        personal = MATRIX[role] & PERSONAL_ACTIONS
        if personal:
            problems.append(f"{ROLE_NAMES_ZH[role]}不得访问个人信息:{sorted(personal)}")
        if MAX_LEVEL[role] > 1:
            problems.append(f"{ROLE_NAMES_ZH[role]}的数据访问级别不得高于1级")
        for other in ADMIN_ROLES - {role}:
            shared = MATRIX[role] & ADMIN_DUTIES[other]
            if shared:
                problems.append(f"{ROLE_NAMES_ZH[role]}不得行使{ROLE_NAMES_ZH[other]}的职责:{sorted(shared)}")
    for role in (ANALYST, DECISION_MAKER):
        if MATRIX[role] & PERSONAL_ACTIONS or MAX_LEVEL[role] > 2:
            problems.append(f"{ROLE_NAMES_ZH[role]}只能使用汇总或假名化数据")
    for role, duties in ADMIN_DUTIES.items():
        holders = {r for r in MATRIX if MATRIX[r] & duties and r not in (role, SUPERVISOR)}
        if holders:
            problems.append(f"{ROLE_NAMES_ZH[role]}的职责被其他角色持有:{sorted(holders)}")
    return problems
