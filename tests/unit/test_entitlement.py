"""Benefit mechanics (issue #15): hand-computed households for every rule, and properties over random ones.

The standards here are the test's own (a fixed table, so every figure below is computed by hand):
城区 510104 urban dibao 600 until 2026-03-15 and 700 from 2026-03-16; 县 510802 rural dibao 400;
tekun 900 (urban) and 600 (rural).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistance import entitlement as e
from jiuzhu import policy

CITY, COUNTY = "510104", "510802"


def _std(region, area, item, start, end, amount):
    return policy.Standard(region, area, item, dt.date.fromisoformat(start), dt.date.fromisoformat(end), amount,
                           "synthetic", "test")


STANDARDS = [
    _std(CITY, "urban", "dibao", "2020-01-01", "2026-03-15", 600),
    _std(CITY, "urban", "dibao", "2026-03-16", "2099-12-31", 700),
    _std(COUNTY, "rural", "dibao", "2020-01-01", "2099-12-31", 400),
    _std(CITY, "urban", "tekun", "2020-01-01", "2099-12-31", 900),
    _std(COUNTY, "rural", "tekun", "2020-01-01", "2099-12-31", 600),
]


def standard_of(county, area, item, day):
    for s in STANDARDS:
        if (s.region_code, s.area_type, s.aid_item) == (county, area, item) and s.effective_from <= day <= s.effective_to:
            return s
    raise LookupError(f"{county} {area} {item} {day}")


BASE_RULES = {
    "region_code": "510000", "name_zh": "测试省级规则", "effective_from": dt.date(2020, 1, 1),
    "effective_to": dt.date(2099, 12, 31), "source": "synthetic", "rounding_yuan": "0.01",
    "minimum_payment_yuan": None, "standard_change": "prorate_days",
    "dibao_addons": {"overlap": "highest", "serious_illness": {"percent": 20}, "severe_disability": {"percent": 20},
                     "elderly": {"percent": 10, "min_age": 60}, "minor": {"yuan": 30, "max_age": 17}},
    "single_person": {"margin_multiple": 1.5, "percent": 100, "counts_own_income": True, "addon": True},
    "tekun": {"dispersed_percent": 100, "centralised_percent": 90, "care_yuan": {"full": 50, "partial": 400, "none": 800}},
    "gradual_exit_months": 3,
}


def rules(**over):
    return ({**BASE_RULES, **over},)


def adult(pid="A", born=dt.date(1985, 6, 1), **kw):
    return e.Person(pid, born, **kw)


HOME = (e.Place(CITY, "urban", dt.date(2010, 1, 1)),)


def month(period, members, income, category="dibao", places=HOME, **kw):
    return e.HouseholdMonth(period, category, tuple(members), places, D(str(income)), **kw)


def compute(m, rule_sets=None, previous=None):
    b = e.compute(m, previous=previous, rule_sets=rule_sets or rules(dibao_addons={}), standard_of=standard_of)
    assert sum(ln.amount for ln in b.lines) == b.amount  # the breakdown always adds up
    return b


# ----------------------------------------------------------------------------- 补差 and rounding

TOPUP = [
    # (case, period, members, income, expected amount, expected standard)
    ("three members, whole month at 600", "2026-02", 3, "1000", "800.00", "600"),
    ("three members, whole month at 700", "2026-04", 3, "1000", "1100.00", "700"),
    ("income in fen", "2026-04", 2, "1234.56", "165.44", "700"),
    ("one member, no income", "2026-04", 1, "0", "700.00", "700"),
    # 600 × 15 days + 700 × 16 days over 31 days = 651.612903…; × 3 − 1000 = 954.8387… → 954.84
    ("standard raised on 16 March: by days", "2026-03", 3, "1000", "954.84", "651.6129"),
]


@pytest.mark.parametrize(("case", "period", "size", "income", "amount", "standard"), TOPUP, ids=[t[0] for t in TOPUP])
def test_the_top_up_is_standard_times_size_minus_income(case, period, size, income, amount, standard):
    b = compute(month(period, [adult(f"P{i}") for i in range(size)], income))
    assert b.status == "paid" and b.family_size == size
    assert b.amount == D(amount)
    assert b.standard_yuan.quantize(D("0.0001")) == D(standard)


def test_a_mid_month_standard_change_is_applied_by_days_and_listed():
    b = compute(month("2026-03", [adult("A"), adult("B"), adult("C")], "1000"))
    assert [(p["from"], p["to"], p["days"], p["amount_yuan"]) for p in b.standard_parts] == [
        ("2026-03-01", "2026-03-15", 15, 600), ("2026-03-16", "2026-03-31", 16, 700)]
    start_rule = compute(month("2026-03", [adult("A"), adult("B"), adult("C")], "1000"),
                         rules(dibao_addons={}, standard_change="month_start"))
    assert start_rule.amount == D("800.00")  # 600 × 3 − 1000: the standard of the 1st for the whole month


def test_rounding_happens_once_at_the_end():
    # whole-yuan rounding: 500.40 + 50.40 = 550.80 → 551 (rounding each line first would give 550)
    r = rules(rounding_yuan="1", dibao_addons={"elderly": {"yuan": "50.4", "min_age": 60}})
    b = compute(month("2026-04", [adult("A"), adult("B", dt.date(1950, 1, 1))], "899.6"), r)
    assert b.amount == D("551.00")
    assert [(ln.code, ln.amount) for ln in b.lines] == [("base", D("500.40")), ("addon", D("50.40")),
                                                        ("rounding", D("0.20"))]


def test_the_minimum_payment_tops_a_small_amount_up():
    r = rules(dibao_addons={}, minimum_payment_yuan="50")
    b = compute(month("2026-04", [adult("A"), adult("B")], "1390"), r)  # 1400 − 1390 = 10
    assert b.amount == D("50.00")
    assert [(ln.code, ln.amount) for ln in b.lines] == [("base", D("10.00")), ("minimum", D("40.00"))]
    assert compute(month("2026-04", [adult("A"), adult("B")], "1000"), r).amount == D("400.00")  # above it: as computed


def test_other_grounds_refuse_the_whole_amount():
    b = compute(month("2026-04", [adult("A")], "0", other_grounds_fail=("机动车价值超过限额",)))
    assert b.status == "ineligible" and b.amount == D("0.00") and b.lines == []
    assert "不符合:机动车价值超过限额" in b.notes_zh


# ----------------------------------------------------------------------------- 分类施保

def test_classified_add_ons_per_person_counted_once():
    members = [
        adult("OLD", dt.date(1950, 1, 1)),  # 76: elderly 10 % of 700 = 70
        adult("SICK", dt.date(1948, 1, 1), serious_illness=True, disability_grade=1),  # 3 conditions: highest, 20 % = 140
        adult("KID", dt.date(2015, 1, 1)),  # minor: 30 yuan
        adult("MUM"),  # none
    ]
    b = compute(month("2026-04", members, "2000"), rules())
    addons = {(ln.person_id, ln.amount) for ln in b.lines if ln.code == "addon"}
    assert addons == {("OLD", D("70.00")), ("SICK", D("140.00")), ("KID", D("30.00"))}
    assert b.amount == D("1040.00")  # 700 × 4 − 2000 = 800, + 70 + 140 + 30
    summed = compute(month("2026-04", members, "2000"),
                     rules(dibao_addons={**BASE_RULES["dibao_addons"], "overlap": "sum"}))
    assert summed.amount == D("1250.00")  # 800 + 70 + (140 + 140 + 70) + 30: the sick grandfather gets all three


def test_age_conditions_use_the_age_at_the_end_of_the_month():
    turns_60 = adult("A", dt.date(1966, 4, 30))
    b = compute(month("2026-04", [turns_60], "0"), rules())
    assert [ln.code for ln in b.lines] == ["base", "addon"]
    assert compute(month("2026-04", [adult("A", dt.date(1966, 5, 1))], "0"), rules()).amount == D("700.00")


# ----------------------------------------------------------------------------- deaths and moves

def test_a_member_who_dies_is_not_counted_from_that_month():
    members = [adult("A"), adult("B"), adult("C", died_on=dt.date(2026, 5, 10))]
    april = compute(month("2026-04", members, "1000"))
    may = compute(month("2026-05", members, "1000"), previous=april)
    assert (april.family_size, april.amount) == (3, D("1100.00"))
    assert (may.family_size, may.amount) == (2, D("400.00"))
    assert any("死亡" in n for n in may.notes_zh)


def test_a_household_moving_county_takes_the_new_standard_from_the_month_after():
    places = (e.Place(CITY, "urban", dt.date(2010, 1, 1)), e.Place(COUNTY, "rural", dt.date(2026, 4, 20)))
    april = compute(month("2026-04", [adult("A"), adult("B")], "300", places=places))
    may = compute(month("2026-05", [adult("A"), adult("B")], "300", places=places), previous=april)
    assert (april.place["county_code"], april.amount) == (CITY, D("1100.00"))  # 700 × 2 − 300
    assert (may.place["county_code"], may.amount) == (COUNTY, D("500.00"))  # 400 × 2 − 300


# ----------------------------------------------------------------------------- 单人保

def _margin_family(**disabled):
    return [adult("HEAD"), adult("SPOUSE"), adult("SON", dt.date(2000, 1, 1), **disabled)]


def test_single_person_coverage_of_a_severely_disabled_member():
    # per capita 2400 / 3 = 800: not below 700, below 1.5 × 700 = 1050 → the son alone: 700 + 20 % add-on
    b = compute(month("2026-04", _margin_family(disability_grade=2), "2400", category="single_person",
                      covered=("SON",)), rules())
    assert b.status == "paid" and b.family_size == 1
    assert [(ln.code, ln.amount) for ln in b.lines] == [("single", D("700.00")), ("addon", D("140.00"))]
    own = compute(month("2026-04", _margin_family(disability_grade=3, disability_kind="精神残疾",
                                                   own_income_yuan=D(250)), "2400",
                        category="single_person", covered=("SON",)), rules(dibao_addons={}))
    assert own.amount == D("450.00")  # grade 3 mental qualifies; 700 − his own 250


@pytest.mark.parametrize(("income", "kind", "grade", "why"), [
    ("1500", None, 1, "应按整户低保计算"),  # per capita 500 < 700
    ("3300", None, 1, "不属于低保边缘家庭"),  # per capita 1100 ≥ 1050
    ("2400", "肢体残疾", 3, "不能单人保"),  # grade 3 physical: not severe
])
def test_single_person_coverage_refused(income, kind, grade, why):
    b = compute(month("2026-04", _margin_family(disability_grade=grade, disability_kind=kind), income,
                      category="single_person", covered=("SON",)), rules())
    assert b.status == "ineligible" and b.amount == 0 and any(why in n for n in b.notes_zh)


# ----------------------------------------------------------------------------- 特困供养

@pytest.mark.parametrize(("mode", "care", "place", "amount"), [
    ("dispersed", "full", HOME, "950.00"),  # 900 + 50
    ("dispersed", "none", HOME, "1700.00"),  # 900 + 800
    ("centralised", "partial", HOME, "1210.00"),  # 900 × 90 % + 400
    ("dispersed", "partial", (e.Place(COUNTY, "rural", dt.date(2000, 1, 1)),), "1000.00"),  # 600 + 400
])
def test_tekun_support_by_mode_and_self_care(mode, care, place, amount):
    b = compute(month("2026-04", [adult("T", dt.date(1940, 1, 1), self_care=care)], "0", category="tekun",
                      places=place, tekun_mode=mode), rules())
    assert b.status == "paid" and b.amount == D(amount)
    assert {ln.code for ln in b.lines} <= {"tekun_basic", "tekun_care"}


def test_tekun_needs_the_self_care_assessment():
    with pytest.raises(e.RuleError) as err:
        compute(month("2026-04", [adult("T", dt.date(1940, 1, 1))], "0", category="tekun"), rules())
    assert err.value.code == "SELF_CARE_MISSING" and "自理能力" in err.value.message_zh


# ----------------------------------------------------------------------------- 渐退期

def test_gradual_exit_keeps_the_last_amount_then_exits():
    family = [adult("A"), adult("B")]
    paid = compute(month("2026-04", family, "1000"))  # 700 × 2 − 1000 = 400
    history = [paid]
    for period in ("2026-05", "2026-06", "2026-07", "2026-08"):
        history.append(compute(month(period, family, "1500"), previous=history[-1]))  # income now above 1400
    assert [(b.status, b.amount) for b in history] == [
        ("paid", D("400.00")), ("exit", D("400.00")), ("exit", D("400.00")), ("exit", D("400.00")),
        ("exited", D("0.00"))]
    assert [b.exit["months_left"] for b in history[1:4]] == [2, 1, 0]
    assert "渐退期第1个月,共3个月,剩余2个月" in history[1].text_zh()


def test_income_falling_back_during_the_exit_resumes_the_benefit():
    family = [adult("A"), adult("B")]
    paid = compute(month("2026-04", family, "1000"))
    exiting = compute(month("2026-05", family, "1500"), previous=paid)
    back = compute(month("2026-06", family, "1200"), previous=exiting)
    assert (exiting.status, back.status, back.amount, back.exit) == ("exit", "paid", D("200.00"), None)


def test_no_exit_period_where_the_rule_sets_none_and_none_for_new_applicants():
    family = [adult("A"), adult("B")]
    paid = compute(month("2026-04", family, "1000"))
    at_once = compute(month("2026-05", family, "1500"), rules(dibao_addons={}, gradual_exit_months=0), previous=paid)
    assert (at_once.status, at_once.amount) == ("exited", 0)
    assert compute(month("2026-05", family, "1500")).status == "ineligible"  # never paid: nothing to keep


# ----------------------------------------------------------------------------- the rules as data

def test_the_packaged_rules_validate_and_the_city_rule_overrides_only_what_it_names():
    sets = e.load_rules()
    chengdu = e.rules_for("510104", dt.date(2026, 4, 1), sets)
    elsewhere = e.rules_for("510802", dt.date(2026, 4, 1), sets)
    assert chengdu["minimum_payment_yuan"] == "50" and elsewhere["minimum_payment_yuan"] is None
    assert chengdu["gradual_exit_months"] == elsewhere["gradual_exit_months"] > 0
    assert [s["region_code"] for s in chengdu["applied"]] == ["510000", "510100"]
    assert all(s["source"] for s in sets)


@pytest.mark.parametrize(("change", "code", "words"), [
    ({"addon_typo": 1}, "RULE_KEY_UNKNOWN", "addon_typo"),
    ({"dibao_addons": {"elderly": {"yuan": 10, "percent": 5}}}, "RULE_VALUE", "elderly"),
    ({"dibao_addons": {"orphan": {"yuan": 10}}}, "RULE_KEY_UNKNOWN", "orphan"),
    ({"gradual_exit_months": -1}, "RULE_VALUE", "gradual_exit_months"),
    ({"source": "guess"}, "RULE_SOURCE", "source"),
    ({"region_code": "5101"}, "RULE_REGION", "region_code"),
])
def test_a_bad_rule_file_is_refused_with_the_rule_named(tmp_path: Path, change, code, words):
    import yaml

    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rule_sets": [{**BASE_RULES, **change}]}, allow_unicode=True), "utf-8")
    with pytest.raises(e.RuleError) as err:
        e.load_rules(path)
    assert err.value.code == code and words in err.value.message_zh and "第1条规则" in err.value.message_zh


def test_a_rule_file_without_the_provincial_default_is_refused(tmp_path: Path):
    import yaml

    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rule_sets": [{**BASE_RULES, "region_code": "510100"}]}), "utf-8")
    with pytest.raises(e.RuleError, match="省级默认规则"):
        e.load_rules(path)


# ----------------------------------------------------------------------------- properties

persons = st.builds(
    e.Person, person_id=st.uuids().map(str), birth_date=st.dates(dt.date(1925, 1, 1), dt.date(2026, 4, 30)),
    died_on=st.one_of(st.none(), st.dates(dt.date(2025, 1, 1), dt.date(2026, 12, 31))),
    serious_illness=st.booleans(), disability_grade=st.one_of(st.none(), st.integers(1, 4)))
periods = st.sampled_from(["2026-02", "2026-03", "2026-04", "2026-05"])
incomes = st.decimals(min_value=0, max_value=8000, places=2)
rounding = st.sampled_from(["0.01", "0.1", "1"])


def _bound(b, members, period):
    """Standard × members counted + each counted person's add-on (the highest one that applies)."""
    end = e._month(period)[1]
    counted = [p for p in members if p.counted_in(end)]
    addons = D(0)
    for p in counted:
        addons += max([D(0)] + [b.standard_yuan * D("0.2")] * (p.serious_illness or p.severely_disabled)
                      + [b.standard_yuan * D("0.1")] * (p.age_at(end) >= 60) + [D(30)] * (p.age_at(end) <= 17))
    return b.standard_yuan * len(counted) + addons


@settings(max_examples=400, derandomize=True, deadline=None)
@given(members=st.lists(persons, min_size=1, max_size=8), period=periods, income=incomes, unit=rounding,
       minimum=st.sampled_from([None, "20"]), previous_amount=st.one_of(st.none(), incomes))
def test_the_amount_is_never_negative_never_above_the_bound_and_adds_up(members, period, income, unit, minimum,
                                                                        previous_amount):
    r = rules(rounding_yuan=unit, minimum_payment_yuan=minimum, dibao_addons=BASE_RULES["dibao_addons"])
    previous = None
    if previous_amount is not None:
        previous = compute(month("2026-01", members, "0"), r)
        previous.amount = previous_amount.quantize(D("0.01"))
    b = compute(month(period, members, income), r, previous=previous)
    assert b.amount >= 0
    assert sum(ln.amount for ln in b.lines) == b.amount
    if b.status == "paid":
        assert b.amount <= e.round_to(_bound(b, members, period), D(unit))
        assert b.family_size == sum(1 for p in members if p.counted_in(e._month(period)[1]))
    elif b.status == "exit":
        assert b.amount == previous.amount  # the exit keeps the last amount, nothing more
    else:
        assert b.amount == 0 and b.lines == []
