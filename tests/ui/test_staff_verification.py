"""核对工作台: an officer takes a request from submission to the signed report in the app, a second
officer reviews, the report downloads and verifies; IDs are masked for a role that may not see them,
and a request outside the jurisdiction is not listed."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import polars as pl
import pytest
from deltalake import DeltaTable
from sqlalchemy import select

from jiuzhu import access, auth, settings
from jiuzhu.business import db
from jiuzhu.business.models import VerificationReport
from tests.ui.staffkit import PASSWORD, frame, login, texts
from verification import ondemand, serving, signing
from verification import requests as vr

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]
PAGE = "views/verification.py"


@pytest.fixture
def workbench(warehouse, tmp_path, monkeypatch, clock):
    """The tiny lake (indexed copy), an empty business database with two officers of 锦江区 and a
    case worker, and the app's clock at the real present (the lake was written just now)."""
    lake = tmp_path / "lake"
    shutil.copytree(warehouse[2], lake)
    serving.ServingIndex(ondemand.serving_index_path(lake)).refresh(ondemand.indexed_tables(lake))
    ondemand._INDEXES.clear()
    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    with sessions() as s:
        for name, role, where in (("hedui01", access.VERIFICATION_OFFICER, "510104000000"),
                                  ("hedui02", access.VERIFICATION_OFFICER, "510104000000"),
                                  ("fenxi01", access.ANALYST, "510000000000")):
            auth.create_user(s, name, name, role, where, PASSWORD, must_change_password=False)
    for name, value in (("JIUZHU_HOME", str(tmp_path / "home")), ("JIUZHU_LAKE", str(lake)),
                        ("JIUZHU_BUSINESS_DB_URL", url), ("JIUZHU_ALLOW_DEMO_KEY", "1")):
        monkeypatch.setenv(name, value)
    clock.current = datetime.now(UTC)
    persons = pl.from_arrow(DeltaTable(str(lake / "silver" / "persons")).to_pyarrow_table())
    family = persons.filter(pl.col("alive") & pl.col("region_code").str.starts_with("510104")).sort("household_no")
    household = family.get_column("household_no")[0]
    members = family.filter(pl.col("household_no") == household).sort("relation")
    return members, sessions


def _open(username: str):
    at = login(username)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _choose(at, number: str):
    at.selectbox(key="verification_chosen").set_value(number).run()
    assert not at.exception, at.exception
    return at


def _press(at, key: str):
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)
    return at


def test_an_officer_takes_a_request_to_the_signed_report_in_the_app(workbench):
    members, _ = workbench
    at = _open("hedui01")
    at.text_input(key="new_unit").input("锦江区春熙路街道办事处")
    at.text_input(key="new_authorisation").input("SQ-UI-0001")
    at.text_input(key="new_region").input(members.get_column("region_code")[0])
    at.text_area(key="new_members").input("\n".join(f"{p} {r}" for p, r in
                                                   zip(members["person_id"], members["relation"], strict=True)))
    at.button(key="verification_new_submit").click().run()
    assert not at.exception and not at.error, texts(at.error)
    number = texts(at.success)[0].split()[-1]
    listed = frame(at, "verification_requests")
    assert listed["申请编号"].tolist() == [number] and listed["状态"].tolist() == ["已提交"]
    _choose(at, number)
    shown = frame(at, "verification_members")
    assert shown["公民身份号码"].tolist() == members["person_id"].to_list()  # an officer in the county sees IDs
    _press(at, "verification_receive")
    _press(at, "verification_verify")
    assert any("家庭月人均收入" in m.value for m in at.markdown)
    # four eyes: the verifying officer cannot review
    at.button(key="verification_review").click().run()
    assert any("另一名核对员" in e for e in texts(at.error))
    other = _choose(_open("hedui02"), number)
    _press(other, "verification_review")
    _press(other, "verification_report")
    assert other.get("download_button"), "the issued report is offered for download"
    with workbench[1]() as s:
        record = s.scalars(select(VerificationReport)).one()
        assert record.issued_by == "hedui02"
        again = _choose(_open("hedui01"), number)
        assert "已出具报告" in texts(again.subheader)[0]
        _press(again, "verification_regenerate")
        assert again.get("download_button")
        # the file the app hands out is the registered one, with a valid signature
        file = vr.regenerate_report(s, auth.find_user(s, "hedui01"), record.report_no, settings.load().lake,
                                    purpose="核验")
    assert signing.verify_pdf(file, signing.trusted_keys()).ok
    assert signing.signed_digest(file) == record.file_sm3


def test_an_analyst_cannot_open_the_workbench(workbench):
    at = login("fenxi01")
    with pytest.raises(ValueError):
        at.switch_page(PAGE)  # not in the analyst's menu
