"""Each role's menu holds exactly its pages, and a page refuses a role even when opened directly."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from jiuzhu import auth
from jiuzhu.business import db
from tests.ui.staffkit import APP, PASSWORD, login, texts

VIEWS = Path(APP).parent
PAGES = {
    "overview": "views/overview.py",
    "analysis": "views/analysis.py",
    "monthly": "views/monthly.py",
    "catalogue": "views/catalogue.py",
    "knowledge": "views/knowledge.py",
    "acceptance": "views/acceptance.py",
    "tasks": "views/tasks.py",
    "archives": "views/archives.py",
    "funds": "views/funds.py",
    "certificates": "views/certificates.py",
    "verification": "views/verification.py",
    "monitoring": "views/monitoring.py",
    "search": "views/search.py",
    "supervision": "views/supervision.py",
    "exchange": "views/exchange.py",
    "dictionary": "views/dictionary.py",
    "regions": "views/regions.py",
    "users": "views/users.py",
    "audit": "views/audit.py",
    "security": "views/security.py",
    "password": "views/password.py",
}
TITLES = {"overview": "总览", "analysis": "分布分析", "monthly": "统计月报", "catalogue": "救助事项库", "knowledge": "知识库",
          "acceptance": "一门受理", "tasks": "待办事项", "archives": "档案管理", "funds": "资金监管",
          "certificates": "电子证照", "verification": "核对工作台", "monitoring": "监测预警", "search": "人员查询", "supervision": "电子监察",
          "exchange": "数据交换", "dictionary": "数据字典",
          "regions": "行政区划", "users": "用户管理", "audit": "审计日志", "security": "安全策略", "password": "修改密码"}
EVERYONE = {"dictionary", "regions", "password"}
BUSINESS = {"overview", "analysis", "monthly", "catalogue", "knowledge"}
# Written out by hand from the permission matrix in docs/security.md, not derived from the code.
EXPECTED = {
    "hedui01": BUSINESS | {"verification", "search", "monitoring"} | EVERYONE,  # 核对员
    "jingban01": BUSINESS | {"verification", "search", "monitoring", "acceptance", "tasks", "archives"}
    | EVERYONE,  # 经办人
    "shenpi01": BUSINESS | {"search", "tasks", "archives", "certificates"} | EVERYONE,  # 审批人 (county)
    "shenhe01": BUSINESS | {"search", "tasks", "archives", "certificates"} | EVERYONE,  # 审批人 (township)
    "caiwu01": BUSINESS | {"funds"} | EVERYONE,  # 财务人员
    "fenxi01": BUSINESS | EVERYONE,  # 分析员
    "juece01": BUSINESS | EVERYONE,  # 决策者
    "shuju01": BUSINESS | {"exchange"} | EVERYONE,  # 数据工程师
    "jijian01": BUSINESS | {"audit", "supervision", "archives"} | EVERYONE,  # 纪检监察员
    "xitong01": {"exchange", "users"} | EVERYONE,  # 系统管理员
    "anquan01": {"security"} | EVERYONE,  # 安全管理员
    "shenji01": {"audit"} | EVERYONE,  # 审计管理员
}


@pytest.mark.parametrize("username", sorted(EXPECTED))
def test_each_role_is_offered_exactly_the_pages_its_permissions_allow(staff, username):
    at = login(username)
    offered = set()
    for key, file in PAGES.items():
        try:
            at.switch_page(file)
        except ValueError:
            continue  # not registered in this user's navigation
        offered.add(key)
        at.run()
        assert not at.exception, (key, at.exception)
        assert TITLES[key] in texts(at.title), key
        assert not at.error, (key, texts(at.error))
    assert offered == EXPECTED[username]


def _signed_in_directly(page: str, username: str, clock) -> AppTest:
    """Run one page file on its own, as if its URL were opened, with a valid login in the session."""
    sessions = db.session_factory(db.make_engine(db.default_url()))
    with sessions() as s:
        result = auth.login(s, username, PASSWORD, clock=clock)
    assert result.ok
    at = AppTest.from_file(str(VIEWS / page), default_timeout=90)
    at.session_state["staff_session"] = result.session
    return at.run()


@pytest.mark.parametrize(("page", "username", "reason"), [
    ("views/users.py", "fenxi01", "分析员无权管理用户账户"),
    ("views/audit.py", "shuju01", "数据工程师无权查看审计日志"),
    ("views/exchange.py", "hedui01", "核对员无权查看数据交换状态"),
    ("views/overview.py", "shenji01", "审计管理员无权查看统计分析"),
    ("views/analysis.py", "xitong01", "系统管理员无权查看统计分析"),
    ("views/verification.py", "fenxi01", "分析员无权提交核对申请"),
    ("views/monitoring.py", "shenpi01", "审批人无权处理监测预警"),
    ("views/supervision.py", "hedui01", "核对员无权查看监察预警"),
    ("views/search.py", "fenxi01", "分析员无权模糊查询人员"),
    ("views/security.py", "xitong01", "系统管理员无权管理安全策略"),
])
def test_a_page_opened_directly_refuses_a_role_the_menu_hides_it_from(staff, clock, page, username, reason):
    at = _signed_in_directly(page, username, clock)
    assert not at.exception
    assert texts(at.error) == [f"您无权访问本页面:{reason}"]
    assert not at.dataframe


def test_a_page_opened_directly_without_login_asks_to_log_in(staff):
    at = AppTest.from_file(str(VIEWS / "views/overview.py"), default_timeout=90).run()
    assert not at.exception
    assert texts(at.warning) == ["请先登录后再访问本页面。"]
    assert not at.dataframe
