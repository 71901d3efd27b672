"""The staff app's pages, who may open each, and the navigation built from that per user.

One decision serves both the menu and the page itself: ``decide`` asks ``jiuzhu.access.authorize``
for the page's action. The menu only hides what the page would refuse anyway; every page calls
``auth_state.require_page`` with its own key, so opening a page by URL changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from jiuzhu import access, regions


@dataclass(frozen=True)
class PageSpec:
    key: str
    file: str  # relative to dashboards/staff/app.py
    title: str
    icon: str
    section: str
    action: str | None  # None: any signed-in user (reference data, own account)
    province_wide: bool = False  # the page's data covers the whole province, not one region

    @property
    def url_path(self) -> str:
        return self.key


LOGIN = PageSpec("login", "views/login.py", "登录", ":material/login:", "", None)
FORCED_PASSWORD = PageSpec("password", "views/password.py", "修改初始密码", ":material/key:", "", None)

PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview", "views/overview.py", "总览", ":material/dashboard:", "业务", "view_aggregate"),
    PageSpec("analysis", "views/analysis.py", "分布分析", ":material/map:", "业务", "view_aggregate"),
    PageSpec("monthly", "views/monthly.py", "统计月报", ":material/summarize:", "业务", "view_aggregate"),
    PageSpec("catalogue", "views/catalogue.py", "救助事项库", ":material/library_books:", "救助业务",
             "view_aggregate"),
    PageSpec("knowledge", "views/knowledge.py", "知识库", ":material/local_library:", "救助业务", "view_aggregate"),
    PageSpec("acceptance", "views/acceptance.py", "一门受理", ":material/assignment_add:", "救助业务",
             "accept_application"),
    PageSpec("tasks", "views/tasks.py", "待办事项", ":material/pending_actions:", "救助业务", "handle_case"),
    PageSpec("archives", "views/archives.py", "档案管理", ":material/inventory_2:", "救助业务", "view_archive"),
    PageSpec("complaints", "views/complaints.py", "投诉咨询", ":material/support_agent:", "救助业务",
             "handle_complaint"),
    PageSpec("verification", "views/verification.py", "核对工作台", ":material/fact_check:", "核对",
             "submit_verification"),
    PageSpec("search", "views/search.py", "人员查询", ":material/person_search:", "核对", "search_person"),
    PageSpec("monitoring", "views/monitoring.py", "监测预警", ":material/notifications_active:", "监测",
             "handle_warning"),
    PageSpec("funds", "views/funds.py", "资金监管", ":material/payments:", "救助业务", "manage_funds"),
    PageSpec("supervision", "views/supervision.py", "电子监察", ":material/policy:", "监督", "view_supervision"),
    PageSpec("certificates", "views/certificates.py", "电子证照", ":material/verified:", "救助业务",
             "issue_certificate"),
    PageSpec("exchange", "views/exchange.py", "数据交换", ":material/sync_alt:", "数据交换",
             "view_exchange_status", province_wide=True),
    PageSpec("dictionary", "views/dictionary.py", "数据字典", ":material/menu_book:", "系统管理", None),
    PageSpec("regions", "views/regions.py", "行政区划", ":material/account_tree:", "系统管理", None),
    PageSpec("users", "views/users.py", "用户管理", ":material/group:", "系统管理", "manage_users"),
    PageSpec("security", "views/security.py", "安全策略", ":material/shield_lock:", "系统管理",
             "manage_security_settings"),
    PageSpec("audit", "views/audit.py", "审计日志", ":material/fact_check:", "系统管理", "view_audit"),
    PageSpec("password", "views/password.py", "修改密码", ":material/key:", "账户", None),
)
BY_KEY = {p.key: p for p in PAGES}


def decide(user: access.Principal, spec: PageSpec) -> access.Decision:
    """May ``user`` open the page? The same answer for the menu and for the page itself."""
    if spec.action is None:
        if getattr(user, "must_change_password", False) and spec.key != "password":
            return access.Decision(False, "请先修改初始密码后再进行操作", "PASSWORD_CHANGE_REQUIRED")
        if not getattr(user, "active", True):
            return access.Decision(False, "账户已停用", "ACCOUNT_INACTIVE")
        return access.Decision(True, "允许访问")
    region = regions.PROVINCE_CODE if spec.province_wide else user.jurisdiction_code
    return access.authorize(user, spec.action, region)


def pages_for(user: access.Principal) -> list[PageSpec]:
    return [p for p in PAGES if decide(user, p).allowed]
