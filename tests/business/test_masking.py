"""Masking by role (SC-4, M9), keyed pseudonyms, spreadsheet-safe cells (M15)."""

from __future__ import annotations

import hashlib
import hmac
import logging

import pytest

from jiuzhu import access, masking

ID = "51010419900307123X"
KEY = "k" * 32


@pytest.mark.parametrize(
    "value,masked",
    [
        (ID, "510104********123X"),
        ("510104900307123", "510104*****7123"),
        (None, None),
    ],
)
def test_mask_id_keeps_the_first_six_and_last_four(value, masked):
    assert masking.mask_id(value) == masked


@pytest.mark.parametrize(
    "name,masked",
    [
        ("张三", "张*"),
        ("张三丰", "张**"),
        ("欧阳娜娜", "欧阳**"),
        ("司马光", "司马*"),
        ("诸葛亮", "诸葛*"),
        ("上官婉儿", "上官**"),
        ("令狐冲", "令狐*"),
        ("夏侯惇", "夏侯*"),
        ("欧阳", "欧*"),  # two characters: a surname alone would reveal the whole name
        ("王", "*"),
        ("阿依古丽·买买提", "阿***·***"),
        ("李𠈌", "李*"),  # a name character outside the BMP is one character
    ],
)
def test_mask_name_keeps_only_the_surname(name, masked):
    assert masking.mask_name(name) == masked


@pytest.mark.parametrize(
    "phone,masked",
    [
        ("13812341234", "138****1234"),
        ("028-85551234", "028-****1234"),
        ("12345", "*****"),
    ],
)
def test_mask_phone(phone, masked):
    assert masking.mask_phone(phone) == masked


@pytest.mark.parametrize(
    "account,masked",
    [
        ("6222021234567890123", "6222***********0123"),
        ("6222 0212 3456 7890", "6222********7890"),
        ("1234567", "*******"),
    ],
)
def test_mask_account_keeps_the_first_and_last_four(account, masked):
    assert masking.mask_account(account) == masked


@pytest.mark.parametrize(
    "address,kept",
    [
        ("四川省成都市锦江区春熙路街道红星路二段70号3单元", "四川省成都市锦江区春熙路街道"),
        ("成都市锦江区春熙路街道红星路二段70号", "成都市锦江区春熙路街道"),
        ("锦江区春熙路街道红星路二段70号", "锦江区春熙路街道"),
        ("某某县幸福镇团结村5组12号", "某某县幸福镇"),  # not in the tree: the suffix fallback
        ("红星路二段70号", ""),
    ],
)
def test_mask_address_keeps_down_to_the_township(address, kept):
    masked = masking.mask_address(address)
    assert masked == kept + "*" * (len(address) - len(kept))


FIELD_PII = {
    "id_number": "id",
    "name": "name",
    "phone": "phone",
    "bank_account": "account",
    "address": "address",
    "monthly_income": "sensitive",
    "sex": "none",
    "region_code": "none",
}
ROW = {
    "id_number": ID,
    "name": "欧阳娜娜",
    "phone": "13812341234",
    "bank_account": "6222021234567890123",
    "address": "四川省成都市锦江区春熙路街道红星路二段70号",
    "monthly_income": 1234.5,
    "sex": "F",
    "region_code": "510104017001",
}
SENSITIVE_VALUES = [ID, "欧阳娜娜", "13812341234", "6222021234567890123", "红星路二段70号", 1234.5]


def leaked(row: dict) -> list:
    return [
        v
        for v in SENSITIVE_VALUES
        if any(
            v == cell or (isinstance(v, str) and isinstance(cell, str) and v in cell) for cell in row.values()
        )
    ]


@pytest.mark.parametrize("role", ["verification_officer", "case_worker", "approver"])
def test_case_handling_roles_see_clear_values_inside_their_jurisdiction_only(role):
    assert masking.mask_row(ROW, FIELD_PII, role, jurisdiction="510104000000") == ROW
    outside = masking.mask_row(ROW, FIELD_PII, role, jurisdiction="510105000000")
    assert leaked(outside) == []
    assert masking.mask_row(ROW, FIELD_PII, role) != ROW  # no jurisdiction given: masked


@pytest.mark.parametrize(
    "role", sorted(set(access.ROLES) - {"verification_officer", "case_worker", "approver"})
)
def test_every_other_role_gets_zero_unmasked_sensitive_values(role):
    masked = masking.mask_row(ROW, FIELD_PII, role, jurisdiction="510000000000")
    assert leaked(masked) == []
    assert masked["id_number"] == "510104********123X"
    assert masked["name"] == "欧阳**"
    assert masked["phone"] == "138****1234"
    assert masked["bank_account"] == "6222***********0123"
    assert masked["address"].startswith("四川省成都市锦江区春熙路街道*")
    assert masked["monthly_income"] == "***"
    assert (masked["sex"], masked["region_code"]) == ("F", "510104017001")


def test_mask_row_fails_closed_on_unknown_pii_classes():
    with pytest.raises(ValueError, match="未知的个人信息类别"):
        masking.mask_row(ROW, {"name": "secretish"}, "analyst")


def test_mask_row_keeps_missing_values_missing():
    masked = masking.mask_row({"name": None, "region_code": "510104017001"}, {"name": "name"}, "analyst")
    assert masked["name"] is None


def test_pseudonym_is_a_keyed_32_hex_digest(monkeypatch):
    monkeypatch.setenv("JIUZHU_PSEUDONYM_KEY", KEY)
    p = masking.pseudonym(ID)
    assert len(p) == 32 and int(p, 16) >= 0
    assert p == masking.pseudonym(ID.lower())  # the check character's case does not matter
    assert p != masking.pseudonym("510104199003071231")
    assert p != hashlib.new("sm3", ID.encode()).hexdigest()[:32]  # not an enumerable plain hash
    assert p == hmac.new(KEY.encode(), ID.encode(), "sm3").hexdigest()[:32]


def test_a_different_key_gives_a_different_pseudonym(monkeypatch):
    monkeypatch.setenv("JIUZHU_PSEUDONYM_KEY", KEY)
    first = masking.pseudonym(ID)
    monkeypatch.setenv("JIUZHU_PSEUDONYM_KEY", "another-key-of-enough-length")
    assert masking.pseudonym(ID) != first
    assert masking.pseudonym(ID, key=KEY.encode()) == first  # rotation recomputes with both keys


def test_a_missing_key_is_an_error_not_a_silent_default():
    with pytest.raises(masking.PseudonymKeyMissing) as err:
        masking.pseudonym(ID)
    assert "JIUZHU_PSEUDONYM_KEY" in err.value.message_zh and "未设置假名化密钥" in err.value.message_zh


def test_a_short_key_is_refused(monkeypatch):
    monkeypatch.setenv("JIUZHU_PSEUDONYM_KEY", "short")
    with pytest.raises(masking.PseudonymKeyMissing, match="太短"):
        masking.pseudonym(ID)


def test_the_demo_key_needs_an_explicit_switch_and_warns_without_personal_data(monkeypatch, caplog):
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")
    monkeypatch.setattr(masking, "_demo_warned", False)
    with caplog.at_level(logging.WARNING, logger="jiuzhu.masking"):
        p = masking.pseudonym(ID)
    assert len(p) == 32
    assert "演示假名化密钥" in caplog.text and ID not in caplog.text and p not in caplog.text


def test_the_manual_hmac_matches_the_library(monkeypatch):
    expected = masking._hmac_sm3(b"x" * 100, b"message")

    def refuse(*_args, **_kwargs):
        raise ValueError("unsupported hash type")

    monkeypatch.setattr(masking.hmac, "new", refuse)
    assert masking._hmac_sm3(b"x" * 100, b"message") == expected
    monkeypatch.undo()
    assert (
        masking._hmac_sm3(b"short-key-123456", b"m") == hmac.new(b"short-key-123456", b"m", "sm3").hexdigest()
    )


@pytest.mark.parametrize(
    "value,safe",
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\nx", "'\nx"),
        ("＝1", "'＝1"),
        ("＋1", "'＋1"),
        ("－1", "'－1"),
        ("＠x", "'＠x"),
        ("正常文本", "正常文本"),
        ("a=b", "a=b"),
        (-5, -5),
        (-1.5, -1.5),
        (0, 0),
        (None, None),
    ],
)
def test_safe_cell_neutralises_formula_text_and_keeps_numbers_numeric(value, safe):
    assert masking.safe_cell(value) == safe
    assert type(masking.safe_cell(value)) is type(safe)
