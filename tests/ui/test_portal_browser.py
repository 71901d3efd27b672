"""The public portal in a real browser at a phone's size (390 × 844, Debian's Chromium driven by
Playwright): every page opens without a Streamlit exception and without sideways scrolling, a citizen
registers through the form and reaches the application wizard, and a screenshot of each page is
saved (``JIUZHU_SCREENSHOTS`` keeps them, else the test's tmp folder)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistance import catalogue
from tests.business import casekit
from tests.ui.browserkit import chromium, exceptions, require_chromium, settled, streamlit_app

pytestmark = [pytest.mark.slow, pytest.mark.browser]
APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "portal" / "app.py")
PHONE = {"width": 390, "height": 844}
PAGES = {"policies": "救助政策与事项", "apply": "我要申请", "progress": "办理进度查询", "complaints": "投诉举报与咨询",
         "disclosure": "救助公示", "services": "公益服务项目", "account": "登录与注册"}


@pytest.fixture(scope="module")
def portal_url(tmp_path_factory):
    from jiuzhu.business import db

    require_chromium()
    home = tmp_path_factory.mktemp("portal-home")
    url = f"sqlite:///{home / 'business.sqlite'}"
    db.upgrade(url)
    with db.session_factory(db.make_engine(url))() as s:
        catalogue.seed(s)
    env = {"JIUZHU_HOME": str(home), "JIUZHU_LAKE": str(home / "lake"), "JIUZHU_BUSINESS_DB_URL": url,
           "JIUZHU_ALLOW_DEMO_KEY": "1"}
    with streamlit_app(APP, env) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"页面宽度{width}px,超出手机屏幕"


def test_every_page_fits_a_phone_and_a_citizen_registers_and_starts_an_application(portal_url, browser, tmp_path):
    shots = Path(os.environ.get("JIUZHU_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=PHONE, locale="zh-CN", device_scale_factor=2, is_mobile=True, has_touch=True)
    for i, (path, title) in enumerate(PAGES.items()):
        page.goto(f"{portal_url}/{path if i else ''}")  # the default page is the site's root
        page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
        settled(page)
        assert not exceptions(page), (path, exceptions(page))
        _no_sideways_scroll(page)
        page.screenshot(path=str(shots / f"portal-{i:02d}-{path}.png"), full_page=True)

    # a family finds what it can apply for where it lives, in its own words
    page.goto(portal_url)
    page.get_by_role("heading", name="救助政策与事项").first.wait_for(timeout=60_000)
    settled(page)
    for label, option in (("市(州)", "成都市"), ("县(市、区)", "锦江区")):
        page.locator('[data-testid="stSelectbox"]', has_text=label).locator("input").click()
        page.get_by_role("option", name=option, exact=True).click()
        settled(page)
    page.get_by_label("搜索(如:低保、看病、上学、材料)").fill("看病")
    page.keyboard.press("Enter")
    page.get_by_text("医疗救助(医疗救助)").wait_for(timeout=60_000)
    settled(page)
    _no_sideways_scroll(page)
    page.screenshot(path=str(shots / "portal-07-policies-found.png"), full_page=True)

    # register through the form (the 实名注册 tab), then the wizard's first step is there
    page.goto(f"{portal_url}/account")
    page.get_by_role("tab", name="实名注册").click()
    member = casekit.family(start=5)[0]
    page.get_by_label("姓名").fill(member.name)
    page.get_by_label("身份证号码").last.fill(member.person_id)
    page.get_by_label("手机号码").fill("13800138000")
    page.get_by_label("设置密码", exact=False).fill("Qiuzhu#2026portal")
    page.get_by_text("我同意平台为办理救助事项核验我的身份信息").click()
    page.get_by_role("button", name="注册").click()
    page.get_by_text("注册成功,已为您登录。").wait_for(timeout=60_000)
    settled(page)
    page.screenshot(path=str(shots / "portal-08-registered.png"), full_page=True)
    # signed in for this browser session: move on through the menu (a reload would start a new session)
    page.locator('[data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapsedControl"] button').first.click()
    page.locator('[data-testid="stSidebarNav"] a', has_text="我要申请").click()
    page.get_by_text("第1步(共4步):选择事项").wait_for(timeout=60_000)
    settled(page)
    page.screenshot(path=str(shots / "portal-09-menu.png"), full_page=True)
    page.locator('[data-testid="stSidebarCollapseButton"] button, [data-testid="stSidebarHeader"] button').first.click()
    page.wait_for_timeout(800)
    assert not exceptions(page)
    _no_sideways_scroll(page)
    page.screenshot(path=str(shots / "portal-10-apply-step1.png"), full_page=True)
    page.close()
