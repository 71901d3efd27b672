"""监测预警: a township worker sees the township's warnings with the rules, the model's factors and the
social resources behind each, records the visit and refers the household for determination; a
worker of another county sees none; the explanation is read through the access checks, audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from jiuzhu import access, auth, regions
from jiuzhu.business import db
from jiuzhu.business.models import AuditLog, MonitoringWarning
from models import warning_queue
from tests.monitoringkit import DEATH, JOB, MEDICAL, TOWNSHIP, publish
from tests.ui.staffkit import PASSWORD, login, texts

PAGE = "views/monitoring.py"


@pytest.fixture
def township(toy_model, tmp_path, monkeypatch, clock):
    lake = tmp_path / "lake"
    publish(lake, toy_model, "2026-10", {"510104000000101": DEATH, "510104000000102": JOB, "510104000000103": MEDICAL})
    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    clock.current = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
    with sessions() as s:
        warning_queue.push(s, lake, "2026-10", clock=clock)
        for name, role, where in (("jingban01", access.CASE_WORKER, TOWNSHIP + "000"),
                                  ("jingban09", access.CASE_WORKER, "513431000000"),
                                  ("shenpi01", access.APPROVER, "510104000000")):
            auth.create_user(s, name, name, role, where, PASSWORD, must_change_password=False, clock=clock)
    for name, value in (("JIUZHU_HOME", str(tmp_path / "home")), ("JIUZHU_LAKE", str(lake)),
                        ("JIUZHU_BUSINESS_DB_URL", url)):
        monkeypatch.setenv(name, value)
    return sessions


def _open(username: str):
    at = login(username)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_a_township_worker_reads_why_visits_and_refers(township):
    at = _open("jingban01")
    queue = at.dataframe[0].value
    assert len(queue) == 3 and set(queue["乡镇(街道)"]) == {regions.load().get(TOWNSHIP + "000").name}
    assert list(queue["等级"])[:2] == ["严重", "严重"]  # the most urgent first
    medical = int(queue.loc[queue["户号"] == "510104000000103", "预警号"].iloc[0])
    at.selectbox(key="monitoring_chosen").set_value(medical).run()
    assert not at.exception, at.exception
    shown = " ".join(texts(at.markdown))
    assert "医疗费用个人自付40000元" in shown and "医保" in shown  # the rule, with its figure and source
    assert "风险模型的主要因素" in shown and "近三个月医疗自付" in shown  # the model's factor
    assert "医疗互助帮扶" in shown  # a social resource for the need
    at.button(key="monitoring_claim").click().run()
    assert not at.exception and not at.error
    assert any("认领人:jingban01" in c for c in texts(at.caption))
    at.button(key="monitoring_visit").click().run()
    assert texts(at.error) == ["登记走访须写明走访情况"]
    at.text_area(key="monitoring_note").input("入户走访:户主住院治疗,自付费用高,家庭无其他收入").run()
    at.button(key="monitoring_visit").click().run()
    assert not at.exception and not at.error
    at.text_area(key="monitoring_note").input("符合低保申请条件,已指导提交申请").run()
    at.button(key="monitoring_refer").click().run()
    assert not at.exception and not at.error
    with township() as s:
        done = s.scalars(select(MonitoringWarning).where(MonitoringWarning.id == medical)).one()
        assert done.status == "referred" and done.handled_by == done.claimed_by == "jingban01"
        assert "住院" in done.visit_note
        reads = s.scalars(select(AuditLog).where(AuditLog.actor == "jingban01",
                                                 AuditLog.purpose == "查看监测预警详情")).all()
        assert reads and all(r.outcome == "allowed" for r in reads)


def test_another_countys_worker_sees_no_warning_and_an_approver_is_refused(township):
    at = _open("jingban09")
    assert not at.error and texts(at.caption)
    assert not at.dataframe or at.dataframe[0].value.empty
    at = login("shenpi01")
    with pytest.raises(ValueError):  # not in the approver's menu
        at.switch_page(PAGE)


def test_the_overview_counts_the_jurisdictions_warnings_without_naming_households(township):
    at = login("jingban01")
    at.switch_page("views/overview.py").run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["本期预警户数"] == "3" and metrics["超过走访期限"] == "0"
    table = next(d.value for d in at.dataframe if "预警户数" in d.value.columns)
    assert set(table["等级"]) == {"严重", "较重"} and "户号" not in table.columns
    at = login("jingban09")
    at.switch_page("views/overview.py").run()
    assert {m.label: m.value for m in at.metric}["本期预警户数"] == "0"
