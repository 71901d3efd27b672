"""The staff app renders on the embedded default without errors (AppTest, no browser)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "staff" / "app.py")


@pytest.fixture
def home(tmp_path, monkeypatch, tiny_province):
    import shutil

    target = tmp_path / "province" / "tiny-11"
    target.parent.mkdir(parents=True)
    shutil.copytree(tiny_province, target)
    monkeypatch.setenv("JIUZHU_HOME", str(tmp_path))
    monkeypatch.setenv("JIUZHU_SCALE", "tiny")
    monkeypatch.setenv("JIUZHU_SEED", "11")
    return tmp_path


def test_overview_shows_the_province_and_every_department(home):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "平台总览"
    frame = at.dataframe[0].value
    assert len(frame) == 13
    assert set(frame["批次"]) == {24}


def test_regions_page_lists_the_counties_of_a_prefecture(home):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/regions.py").run()
    assert not at.exception
    assert at.title[0].value == "行政区划"
    assert len(at.dataframe[0].value) == 20  # 成都市 has 20 counties, districts and cities
