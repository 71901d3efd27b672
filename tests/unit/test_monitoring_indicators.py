"""The indicator configuration (MN-1): one versioned file, validated with specific Chinese errors;
the weighted risk index is the share of the weights of the indicators that hold; every rule warning
is explained with the figures and the departments behind it."""

import polars as pl
import pytest
import yaml

from models import indicators, resources
from tests.monitoringkit import BASE


def frame(*changes: dict) -> pl.DataFrame:
    return pl.DataFrame([{**BASE, **c} for c in changes])


def test_the_shipped_configuration_is_valid_versioned_and_weighted():
    config = indicators.load()
    assert config.version and config.effective_from
    assert config.total_weight > 0 and all(i.weight >= 0 for i in config.indicators)
    assert len({i.code for i in config.indicators}) == len(config.indicators)
    warned = [i for i in config.indicators if i.warn]
    # the rule warnings the issue names, each with a severity
    assert {"MEDICAL_SPENDING_HIGH", "WORKING_AGE_DEATH", "WORKING_AGE_DISABILITY", "JOB_LOST",
            "CONTRIBUTIONS_STOPPED", "FELL_BELOW_STANDARD"} <= {i.code for i in warned}


@pytest.mark.parametrize("change, message", [
    ({"op": "≈"}, "比较符"),
    ({"sources": ["nasa"]}, "不是已登记的共享单位"),
    ({"weight": -1}, "权重"),
    ({"severity": "urgent"}, "严重程度"),
])
def test_a_broken_indicator_is_refused_with_a_specific_chinese_message(change, message):
    raw = yaml.safe_load(indicators.CONFIG_PATH.read_text("utf-8"))
    raw["indicators"][0].update(change)
    with pytest.raises(indicators.ConfigError, match=message):
        indicators.parse(yaml.safe_dump(raw, allow_unicode=True))


def test_a_duplicated_code_is_refused():
    raw = yaml.safe_load(indicators.CONFIG_PATH.read_text("utf-8"))
    raw["indicators"].append(dict(raw["indicators"][0]))
    with pytest.raises(indicators.ConfigError, match="重复"):
        indicators.parse(yaml.safe_dump(raw, allow_unicode=True))


def test_the_weighted_index_is_the_share_of_the_weights_that_hold():
    config = indicators.load()
    weights = {i.code: i.weight for i in config.indicators}
    out = indicators.evaluate(frame({}, {"income_ratio": 0.8, "deceased_working_age_3m": 1}), config)
    assert out["risk_index"][0] == 0.0 and out["rule_severity"][0] == 0
    expected = (weights["INCOME_BELOW_STANDARD"] + weights["INCOME_NEAR_STANDARD"] + weights["WORKING_AGE_DEATH"]) \
        / config.total_weight
    assert out["risk_index"][1] == pytest.approx(expected, abs=1e-4)
    assert out["rule_severity"][1] == indicators.SEVERITY_RANK["high"] and out["rule_count"][1] == 1


def test_the_medical_threshold_is_lower_for_monitored_households_and_missing_data_never_triggers():
    config = indicators.load()
    out = indicators.evaluate(frame({"medical_oop_3m_yuan": 8000.0}, {"medical_oop_3m_yuan": 8000.0, "monitored_target": 1},
                                    {"deposits_months_of_standard": None}), config)
    assert out["ind_MEDICAL_SPENDING_HIGH"].to_list() == [0, 1, 0]
    assert out["ind_FEW_SAVINGS"][2] == 0  # no bank reported: unknown, not poor


def test_every_warning_explains_itself_with_the_figures_and_the_departments():
    config = indicators.load()
    row = indicators.evaluate(frame({"medical_oop_3m_yuan": 12345.0, "deceased_working_age_3m": 1, "job_lost_members": 2}),
                              config).to_dicts()[0]
    reasons = indicators.reasons(row, config)
    assert [r["code"] for r in reasons] == ["MEDICAL_SPENDING_HIGH", "WORKING_AGE_DEATH", "JOB_LOST"]
    assert reasons[0]["severity"] == "high" and "12345元" in reasons[0]["explanation_zh"]
    assert "医保" in reasons[0]["explanation_zh"] and reasons[0]["source_names"] == ["医保"]
    assert "2名成员" in reasons[2]["explanation_zh"] and "人社" in reasons[2]["explanation_zh"]
    assert all(r["explanation_zh"] and r["sources"] for r in reasons)


def test_needs_lead_to_the_most_local_social_resources():
    config = indicators.load()
    row = indicators.evaluate(frame({"medical_oop_3m_yuan": 30000.0, "county_code": "510104"}), config).to_dicts()[0]
    needs = resources.needs_of(row)
    assert needs == ["medical"]
    suggested = resources.suggest(needs, "510104")
    assert suggested[0]["code"] == "SR-MED-CD"  # Chengdu's own project before the provincial one
    assert all("医疗" in s["needs_zh"] for s in suggested)
    assert all(s["code"] != "SR-MED-CD" for s in resources.suggest(needs, "513401"))  # not outside Chengdu
