"""人民币大写 on the printed 资金拨付单: the rules of a finance voucher (zeros, 万/亿 sections, 角/分, 整)."""

from decimal import Decimal

import pytest

from assistance.payments import amount_in_capitals


@pytest.mark.parametrize(("amount", "capitals"), [
    ("1677.50", "壹仟陆佰柒拾柒元伍角整"),
    ("0.05", "伍分"),
    ("0", "零元整"),
    ("100", "壹佰元整"),
    ("110", "壹佰壹拾元整"),
    ("1005.30", "壹仟零伍元叁角整"),
    ("10000", "壹万元整"),
    ("100010", "壹拾万零壹拾元整"),
    ("1000000.01", "壹佰万元零壹分"),
    ("3040506.07", "叁佰零肆万零伍佰零陆元零柒分"),
    ("105000000", "壹亿零伍佰万元整"),
    ("2.345", "贰元叁角伍分"),  # rounded half up to the fen first
])
def test_amounts_are_written_as_a_voucher_writes_them(amount, capitals):
    assert amount_in_capitals(Decimal(amount)) == capitals
