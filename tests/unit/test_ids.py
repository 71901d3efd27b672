"""Citizen-ID rules (GB 11643): what the exchange, the CLI and the screens rely on."""

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from jiuzhu import ids
from jiuzhu.cli import main

TODAY = dt.date(2026, 11, 29)


def make(region="510104", birth=dt.date(1980, 1, 1), seq=123):
    return ids.make(region, birth, seq)


def test_check_character_matches_the_standard_example():
    # The example printed in GB 11643-1999 appendix: 11010519491231002X
    assert ids.check_char("11010519491231002") == "X"
    assert ids.is_valid("11010519491231002X", today=TODAY)


def test_valid_id_yields_birth_date_sex_and_region():
    info = ids.parse(make(seq=123), today=TODAY)
    assert info.birth_date == dt.date(1980, 1, 1)
    assert info.sex == "M"  # odd sequence
    assert info.region_code == "510104"
    assert ids.parse(make(seq=124), today=TODAY).sex == "F"


def test_lowercase_x_and_spaces_are_normalised():
    info = ids.parse(" 11010519491231002x ", today=TODAY)
    assert info.number == "11010519491231002X"


def test_fullwidth_digits_are_converted_with_a_note():
    number = make()
    full = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in number)
    info = ids.parse(full, today=TODAY)
    assert info.number == number
    assert info.notes


def test_fifteen_digit_legacy_number_is_upgraded():
    number = make(birth=dt.date(1965, 7, 9), seq=31)
    legacy = number[:6] + number[8:17]
    info = ids.parse(legacy, today=TODAY)
    assert info.number == number
    assert info.upgraded_from_15
    assert ids.upgrade_15(legacy) == number


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "ID_EMPTY"),
        (None, "ID_EMPTY"),
        ("5101041980010112", "ID_LENGTH"),
        ("5101041980010112345", "ID_LENGTH"),
        ("51010419800101A236", "ID_FORMAT"),
        ("51010419800101123Y", "ID_FORMAT"),
        ("51010480010A123", "ID_FORMAT"),
        ("5.10104E+17", "ID_SCIENTIFIC"),
        ("5.10104198001011E+17", "ID_SCIENTIFIC"),
        ("510104198002301234", "ID_BIRTH_DATE"),
        ("510104198013011234", "ID_BIRTH_DATE"),
    ],
)
def test_each_kind_of_invalid_id_has_its_own_reason(raw, code):
    with pytest.raises(ids.InvalidId) as err:
        ids.parse(raw, today=TODAY)
    assert err.value.code == code
    assert err.value.message  # a Chinese message for staff and departments


def test_wrong_check_digit_names_the_expected_one():
    good = make()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(ids.InvalidId) as err:
        ids.parse(bad, today=TODAY)
    assert err.value.code == "ID_CHECK"
    assert good[-1] in err.value.message


def test_future_and_implausibly_old_birth_dates_are_rejected():
    with pytest.raises(ids.InvalidId) as err:
        ids.parse(make(birth=dt.date(2099, 1, 1)), today=TODAY)
    assert err.value.code == "ID_BIRTH_FUTURE"
    with pytest.raises(ids.InvalidId) as err:
        ids.parse(make(birth=dt.date(1850, 1, 1)), today=TODAY)
    assert err.value.code == "ID_BIRTH_TOO_OLD"


def test_unknown_region_code_is_rejected():
    with pytest.raises(ids.InvalidId) as err:
        ids.parse(make(region="519999"), today=TODAY)
    assert err.value.code == "ID_REGION"


def test_county_code_newer_than_the_birth_date_is_accepted():
    """会理市 (513402) exists only since 2021; a person born in 1960 may carry it on a re-issued ID.
    python-stdnum alone rejects this; our policy must not."""
    number = make(region="513402", birth=dt.date(1960, 5, 1))
    from stdnum.cn import ric

    assert not ric.is_valid(number)
    assert ids.is_valid(number, today=TODAY)


def test_county_code_that_no_longer_exists_is_accepted():
    assert ids.is_valid(make(region="513425", birth=dt.date(1960, 5, 1)), today=TODAY)


def test_residence_permits_and_foreign_permanent_residence_ids_are_accepted():
    assert ids.is_valid(make(region="810000", birth=dt.date(1990, 1, 1)), today=TODAY)
    assert ids.is_valid(make(region="911101", birth=dt.date(1990, 1, 1)), today=TODAY)


def test_masking_keeps_first_six_and_last_four():
    assert ids.mask("51010419800101123X") == "510104********123X"
    assert ids.mask("") == ""


def test_int64_key_round_trips_and_encodes_x_as_ten():
    number = "11010519491231002X"
    key = ids.to_key(number)
    assert key % 11 == 10
    assert ids.from_key(key) == number
    assert key < 2**63


def test_cli_prints_reason_and_normalised_form():
    runner = CliRunner()
    good = make()
    result = runner.invoke(main, ["id", "check", good, good[:6] + good[8:17], "5.10104E+17"])
    assert result.exit_code == 1  # one input was invalid
    lines = result.output.strip().splitlines()
    assert "有效" in lines[0] and "1980-01-01" in lines[0] and "成都市锦江区" in lines[0]
    assert good in lines[1] and "15位" in lines[1]
    assert "ID_SCIENTIFIC" in lines[2]


def test_cli_json_output_is_one_object_per_id():
    runner = CliRunner()
    good = make()
    result = runner.invoke(main, ["id", "check", "--json", good, "123"])
    objs = [json.loads(line) for line in result.output.strip().splitlines()]
    assert objs[0]["valid"] is True and objs[0]["number"] == good and objs[0]["sex"] == "M"
    assert objs[1]["valid"] is False and objs[1]["reason_code"] == "ID_LENGTH"
