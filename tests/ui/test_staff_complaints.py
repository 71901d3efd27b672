"""投诉咨询 in the staff app (issue #10): what citizens filed on the portal reaches the responsible office
— consultations the township, complaints and reports the county — with the reply date; the county
answers and closes a complaint and the citizen's query on the portal shows the answer; a finance
officer is not offered the page."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from assistance import portal
from jiuzhu import auth
from jiuzhu.business import db
from jiuzhu.business.models import Complaint
from tests.business import casekit
from tests.ui.staffkit import PASSWORD, login, texts


@pytest.fixture
def filed(tmp_path, monkeypatch, gold, clock):
    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    town = casekit.township_of(casekit.JINJIANG)
    png = io.BytesIO()
    Image.new("RGB", (24, 24), (250, 200, 0)).save(png, format="PNG")
    with sessions() as s:
        for username, name, role, where in auth.demo_accounts():
            auth.create_user(s, username, name, role, where, PASSWORD, must_change_password=False, clock=clock)
        complaint = portal.file_complaint(s, None, kind="complaint", region_code=town, subject="低保审批超期",
                                          content="申请低保已经两个月没有结果,请督办。", phone="13900139000",
                                          images=[("photo.png", png.getvalue())], client_key="t", clock=clock)
        consult = portal.file_complaint(s, None, kind="consultation", region_code=town, subject="临时救助怎么申请",
                                        content="家里老人突发重病,想问临时救助需要哪些材料。", phone="13900139001",
                                        client_key="t", clock=clock)
    for name, value in (("JIUZHU_HOME", str(tmp_path / "home")), ("JIUZHU_LAKE", str(gold.lake)),
                        ("JIUZHU_BUSINESS_DB_URL", url), ("JIUZHU_ALLOW_DEMO_KEY", "1")):
        monkeypatch.setenv(name, value)
    return sessions, complaint, consult


def test_the_county_answers_a_complaint_and_the_township_sees_its_consultation(filed, clock):
    sessions, complaint, consult = filed
    at = login("shenpi01")
    at.switch_page("views/complaints.py").run()
    assert not at.exception, at.exception
    table = next(df.value for df in at.dataframe if "受理号" in df.value.columns)
    assert set(table["受理号"]) == {complaint.ticket_no, consult.ticket_no}
    assert list(table[table["受理号"] == complaint.ticket_no]["署名"]) == ["匿名"]
    number = int(table[table["受理号"] == complaint.ticket_no]["编号"].iloc[0])
    at.selectbox(key="complaints_pick").set_value(number).run()
    assert len(at.get("image")) == 1  # the re-encoded picture, shown to the office
    at.button(key="complaints_submit").click().run()
    assert any("请填写答复内容" in e for e in texts(at.error))
    at.text_area(key="complaints_reply").input("已督促街道于5个工作日内完成审核。").run()
    at.button(key="complaints_submit").click().run()
    assert not at.exception and not at.error, texts(at.error)
    with sessions() as s:
        assert s.scalar(select(Complaint.status).where(Complaint.ticket_no == complaint.ticket_no)) == "closed"
        seen = portal.complaint_status(s, complaint.ticket_no, complaint.query_code, client_key="c", clock=clock)
    assert seen.reply == "已督促街道于5个工作日内完成审核。"

    at = login("jingban01")
    at.switch_page("views/complaints.py").run()
    table = next(df.value for df in at.dataframe if "受理号" in df.value.columns)
    assert list(table["受理号"]) == [consult.ticket_no]  # the township answers consultations only


def test_a_finance_officer_is_not_offered_the_page(filed):
    at = login("caiwu01")
    with pytest.raises(ValueError):
        at.switch_page("views/complaints.py")
