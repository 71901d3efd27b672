"""待遇计算 in the staff app (issue #15): the county approver opens a dibao case and sees how the proposed
amount is made up, approves it as computed; a township approver switches a margin family to 单人保 for
its disabled child and sees the new proposal; finance tries a policy change month on 待遇调整测算;
an approver confirms a back-pay item on 待办事项."""

from __future__ import annotations

import datetime as _dt
import json

import pytest
from sqlalchemy import select, update

from assistance import cases, catalogue
from jiuzhu import auth, policy
from jiuzhu.business import db
from jiuzhu.business.models import AssistanceCase, Benefit, BenefitAdjustment, DisbursementOrder, VerificationRequest
from tests.business import casekit
from tests.ui.staffkit import PASSWORD, login, texts


@pytest.fixture
def office(tmp_path, monkeypatch, gold, clock):
    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    with sessions() as s:
        for username, name, role, where in auth.demo_accounts():
            auth.create_user(s, username, name, role, where, PASSWORD, must_change_password=False, clock=clock)
        catalogue.seed(s, clock=clock)
    for name, value in (("JIUZHU_HOME", str(tmp_path / "home")), ("JIUZHU_LAKE", str(gold.lake)),
                        ("JIUZHU_BUSINESS_DB_URL", url), ("JIUZHU_ALLOW_DEMO_KEY", "1")):
        monkeypatch.setenv(name, value)
    return sessions


def _case(sessions, clock, *, income: float, members: list[dict] | None = None, to_county: bool = True) -> str:
    """A 锦江 family (casekit) accepted, verified (the centre's result written as the lake would give it)
    and reviewed by the township; returns the acceptance number."""
    with sessions() as s:
        principal = {u: auth.find_user(s, u) for u in ("jingban01", "shenhe01")}
        township = principal["jingban01"].jurisdiction_code
        case = cases.accept(s, principal["jingban01"], item_code="dibao_urban", region_code=township,
                            members=casekit.family(), materials=casekit.materials("dibao_urban", s, township),
                            household_no="H-UI-1", lake_root=None, clock=clock)
        profile = {"period": "2026-10", "county_code": "510104", "area_type": "urban", "counted_income_yuan": income,
                   "wage_yuan": income, "assessment": "符合"}
        s.execute(update(VerificationRequest).where(VerificationRequest.request_no == case.verification_request_no)
                  .values(status="reviewed", assessment="符合", verified_by="hedui01", reviewed_by="hedui02",
                          result_json=json.dumps({"profile": profile, "members": members or []})))
        s.commit()
        cases.sweep(s, clock=clock)
        if to_county:
            cases.complete(s, principal["shenhe01"], case.acceptance_no, "pass", note="入户调查属实", clock=clock)
        return case.acceptance_no


def _open_case(username, number):
    at = login(username)
    at.switch_page("views/tasks.py").run()
    at.text_input(key="tasks_case").input(number).run()
    assert not at.exception, at.exception
    return at


def test_the_approver_sees_the_breakdown_and_approves_the_computed_amount(office, clock):
    number = _case(office, clock, income=1500.0)
    at = _open_case("shenpi01", number)
    shown = " ".join(m.value for m in at.markdown)
    # 锦江 2026 urban standard 1,025 × 3 − 1,500 = 1,575, + the child's 10 % add-on 102.50
    assert "建议救助金额** 1,677.50 元/月" in shown
    assert "低保补差:1,575.00 元" in shown and "分类施保·未成年人:102.50 元" in shown
    assert at.number_input(key="tasks_amount").value == 1677.5
    at.text_area(key="tasks_note").input("同意").run()
    at.button(key="tasks_pass").click().run()
    assert not at.exception and not at.error, texts(at.error)
    with office() as s:
        case = s.scalar(select(AssistanceCase).where(AssistanceCase.acceptance_no == number))
        assert case.approved_amount == 1677.5 and json.loads(case.proposed_breakdown_json)["status"] == "paid"


def test_the_township_switches_a_margin_family_to_single_person_coverage(office, clock):
    child = casekit.family()[2].person_id
    number = _case(office, clock, income=3300.0, to_county=False,
                   members=[{"person_id": child, "birth_date": "2012-03-03", "disability_grade": 2}])
    at = _open_case("shenhe01", number)
    assert "不低于低保标准" in " ".join(m.value for m in at.markdown)  # the household as a whole: nothing due
    at.radio(key="tasks_terms_kind").set_value("single_person").run()
    at.selectbox(key="tasks_terms_covered").set_value(child).run()
    at.button(key="tasks_terms_apply").click().run()
    assert not at.exception and not at.error, texts(at.error)
    shown = " ".join(m.value for m in at.markdown)
    assert "建议救助金额** 1,230.00 元/月" in shown and "单人保:1,025.00 元" in shown  # + 20 % = 205


def test_finance_sees_which_households_a_new_standard_changes(office, clock, monkeypatch):
    number = _case(office, clock, income=1500.0)
    with office() as s:
        approver = auth.find_user(s, "shenpi01")
        cases.complete(s, approver, number, "pass", note="同意", clock=clock)
        clock.advance(days=9)
        cases.sweep(s, clock=clock)
        assert s.scalar(select(Benefit.monthly_amount)) == 1677.5
    original = policy.standard

    def raised(county6, area, item, on):
        if county6 == "510104" and item == "dibao" and on >= _dt.date(2026, 12, 1):
            return policy.Standard("510104", area, item, _dt.date(2026, 12, 1), _dt.date(2099, 12, 31), 1100,
                                   "synthetic", "测试")
        return original(county6, area, item, on)

    monkeypatch.setattr(policy, "standard", raised)
    at = login("caiwu01")
    at.switch_page("views/funds.py").run()
    at.text_input(key="funds_impact_period").input("2026-12").run()
    at.button(key="funds_impact_run").click().run()
    assert not at.exception and not at.error, texts(at.error)
    table = next(df.value for df in at.dataframe if "变化(元/月)" in df.value.columns)
    assert table["受理编号"].tolist() == [number] and table["变化(元/月)"].tolist() == ["+232.50"]  # 75 × 3 + 7.50


def test_an_approver_confirms_a_back_pay_item(office, clock):
    number = _case(office, clock, income=1500.0)
    with office() as s:
        approver = auth.find_user(s, "shenpi01")
        cases.complete(s, approver, number, "pass", note="同意", clock=clock)
        clock.advance(days=9)
        cases.sweep(s, clock=clock)
        order = s.scalar(select(DisbursementOrder))
        benefit = s.scalar(select(Benefit))
        s.add(BenefitAdjustment(benefit_id=benefit.id, case_id=benefit.case_id, order_id=order.id,
                                region_code=benefit.region_code, period=order.period, kind="back_pay",
                                paid_amount=order.amount, correct_amount=order.amount + 50, difference=50.0,
                                reasons_json=json.dumps(["新增数据显示:家庭成员(子女)于2026-11-02死亡(死亡登记、户籍)"]),
                                breakdown_json=benefit.breakdown_json, table_versions_json="{}",
                                status="pending_review", detected_at=clock(), updated_at=clock()))
        s.commit()
    at = login("shenpi01")
    at.switch_page("views/tasks.py").run()
    table = next(df.value for df in at.dataframe if "差额(元)" in df.value.columns)
    assert table["类别"].tolist() == ["补发"] and table["差额(元)"].tolist() == ["+50.00"]
    assert "2026-11-02" in table["原因"].iloc[0] and casekit.family()[2].person_id not in table.to_string()
    at.button(key="tasks_adjustment_submit").click().run()
    assert any("须写明意见" in e for e in texts(at.error))
    at.text_input(key="tasks_adjustment_note").input("核实属实").run()
    at.button(key="tasks_adjustment_submit").click().run()
    assert not at.exception
    with office() as s:
        assert s.scalar(select(BenefitAdjustment.status)) == "confirmed"


def test_the_monthly_report_shows_what_the_platform_paid_and_what_it_is_made_of(office, clock, gold, tmp_path,
                                                                               monkeypatch):
    import shutil

    from assistance import benefits
    from jiuzhu import lake

    clock.current = _dt.datetime(2026, 10, 8, 2, 0, tzinfo=_dt.UTC)  # the gold fixture's latest month
    number = _case(office, clock, income=1500.0)
    with office() as s:
        cases.complete(s, auth.find_user(s, "shenpi01"), number, "pass", note="同意", clock=clock)
        clock.advance(days=9)
        cases.sweep(s, clock=clock)
        table = benefits.statistics_table(s)
    own = tmp_path / "lake"
    shutil.copytree(gold.lake, own)
    lake.write(lake.table_path(own, "gold", "statistics", "benefit_statistics"), table)
    monkeypatch.setenv("JIUZHU_LAKE", str(own))
    at = login("shenpi01")
    at.switch_page("views/monthly.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="monthly_period").set_value("2026-10").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["发放户数"] == "1" and metrics["保障人数"] == "3" and metrics["拨付金额(元)"] == "1,677.50"
    by_rule = next(df.value for df in at.dataframe if "计算方式" in df.value.columns)
    assert by_rule[["救助类别", "计算方式", "户数"]].values.tolist() == [["最低生活保障", "整户低保", 1]]
    parts = next(df.value for df in at.dataframe if "构成" in df.value.columns)
    assert dict(zip(parts["构成"], parts["金额(元)"], strict=True)) == {"低保补差": 1575.0, "分类施保": 102.5}
