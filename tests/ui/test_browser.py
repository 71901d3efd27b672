"""The staff app in a real browser (Debian's Chromium, headless, driven by Playwright): four roles log
in through the form, walk every page of their menu, no page shows a Streamlit exception, and a
screenshot of each page is saved (``JIUZHU_SCREENSHOTS`` keeps them, else the test's tmp folder)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest

from dashboards.staff import navigation
from jiuzhu import auth
from tests.monitoringkit import DEATH, JOB, MEDICAL, publish
from tests.ui.browserkit import chromium, exceptions, require_chromium, settled, streamlit_app
from tests.ui.staffkit import APP, PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.browser]
ROLES = ("hedui01", "fenxi01", "shuju01", "jijian01")  # verification officer, analyst, data engineer, supervisor
TITLES = {p.url_path: p.title for p in navigation.PAGES}


@pytest.fixture(scope="module")
def app_url(gold, toy_model, tmp_path_factory):
    """The staff app served by Streamlit on a free port, over the UI gold lake, a business database
    with every demo account and a month of monitoring warnings."""
    from jiuzhu.business import db
    from models import warning_queue

    require_chromium()
    home = tmp_path_factory.mktemp("browser-home")
    url = f"sqlite:///{home / 'business.sqlite'}"
    db.upgrade(url)
    scores = home / "scores-lake"
    publish(scores, toy_model, "2026-10", {"510104000000201": DEATH, "510104000000202": JOB, "510104000000203": MEDICAL})
    with db.session_factory(db.make_engine(url))() as s:
        for username, name, role, jurisdiction in auth.demo_accounts():
            auth.create_user(s, username, name, role, jurisdiction, PASSWORD, must_change_password=False)
        warning_queue.push(s, scores, "2026-10")
    env = {"JIUZHU_HOME": str(home), "JIUZHU_LAKE": str(gold.lake), "JIUZHU_BUSINESS_DB_URL": url}
    with streamlit_app(APP, env) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.mark.parametrize("username", ROLES)
def test_a_role_walks_every_page_of_its_menu_without_an_exception(app_url, browser, username, tmp_path):
    shots = Path(os.environ.get("JIUZHU_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1440, "height": 2000}, locale="zh-CN")
    page.goto(app_url)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.locator('[data-testid="stSidebarNav"]').wait_for(timeout=60_000)
    settled(page)
    links = page.locator('[data-testid="stSidebarNav"] a')
    keys = []
    for i in range(links.count()):
        path = urlparse(links.nth(i).get_attribute("href")).path.strip("/")
        text = links.nth(i).inner_text()
        keys.append(path or next(k for k, title in TITLES.items() if title in text))  # the default page: "/"
    assert len(keys) >= 4, keys
    seen = []
    for i, key in enumerate(keys):
        page.locator('[data-testid="stSidebarNav"] a').nth(i).click()
        page.get_by_role("heading", name=TITLES[key]).first.wait_for(timeout=60_000)
        settled(page)
        assert not exceptions(page), (username, key, exceptions(page))
        page.screenshot(path=str(shots / f"{username}-{i:02d}-{key}.png"), full_page=True)
        seen.append(key)
    role, jurisdiction = next((r, j) for u, _, r, j in auth.demo_accounts() if u == username)
    user = SimpleNamespace(role=role, jurisdiction_code=jurisdiction, must_change_password=False, active=True)
    assert seen == [p.url_path for p in navigation.pages_for(user)]  # the menu is the role's pages, in order
    page.close()
