"""Masking of personal data on screens and exports, pseudonyms for the analysis zone, safe cells.

Masks follow common practice: ID ``510104********123X``, phone ``138****1234``, name ``张*`` /
``欧阳**``, bank account first 4 and last 4, address down to the township. Only the officers who
handle a case (核对员、经办人、审批人) see clear values, and only inside their jurisdiction.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Mapping

from jiuzhu import ids, regions

log = logging.getLogger(__name__)

PSEUDONYM_KEY_ENV = "JIUZHU_PSEUDONYM_KEY"
DEMO_KEY_ENV = "JIUZHU_ALLOW_DEMO_KEY"
# Public on purpose: it only exists so the demo runs without setup, never for real data.
_DEMO_KEY = b"jiuzhu-demo-pseudonym-key-not-for-production"
MIN_KEY_BYTES = 16

COMPOUND_SURNAMES = frozenset(
    {
        "欧阳",
        "司马",
        "诸葛",
        "上官",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "令狐",
        "夏侯",
    }
)
# Roles that work on named cases (mirrors jiuzhu.access: kept literal so masking stays import-light).
CLEAR_VIEW_ROLES = frozenset({"verification_officer", "case_worker", "approver"})
PII_CLASSES = frozenset({"none", "id", "name", "phone", "account", "address", "sensitive"})
SENSITIVE_MASK = "***"

_NAME_SEPARATORS = "·• "
_TOWNSHIP_SUFFIX = re.compile(r"(街道|镇|乡|苏木)")
_COUNTY_SUFFIX = re.compile(r"(区|县)")
_CITY_SUFFIX = re.compile(r"(市|州)")


class PseudonymKeyMissing(RuntimeError):
    code = "PSEUDONYM_KEY_MISSING"

    def __init__(self, message_zh: str):
        super().__init__(message_zh)
        self.message_zh = message_zh


def mask_id(number: str | None) -> str | None:
    if number is None:
        return None
    return ids.mask(str(number).strip())


def mask_name(name: str | None) -> str | None:
    """Keep the surname (one character, or a known compound surname), mask the given name."""
    if name is None:
        return None
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    keep = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:keep] + "".join(c if c in _NAME_SEPARATORS else "*" for c in name[keep:])


def mask_phone(phone: str | None) -> str | None:
    """``138****1234``; landlines keep the first 3 and last 4 digits as well."""
    if phone is None:
        return None
    text = str(phone).strip()
    digit_positions = [i for i, c in enumerate(text) if c.isdigit()]
    if len(digit_positions) < 8:
        return "".join("*" if c.isdigit() else c for c in text)
    hidden = set(digit_positions[3:-4])
    return "".join("*" if i in hidden else c for i, c in enumerate(text))


def mask_account(account: str | None) -> str | None:
    """Bank card or account: first 4 and last 4 kept."""
    if account is None:
        return None
    text = re.sub(r"\s+", "", str(account))
    if len(text) <= 8:
        return "*" * len(text)
    return text[:4] + "*" * (len(text) - 8) + text[-4:]


def _region_prefix_length(address: str) -> int:
    """Length of the leading province/prefecture/county/township names found in the region tree."""
    tree = regions.load()
    province = tree.get(regions.PROVINCE_CODE)
    pos = len(province.name) if address.startswith(province.name) else 0
    current = province
    township_end = 0
    while current.level < 4:
        candidates = tree.children(current.code)
        if current.level == 1 and not any(address.startswith(c.name, pos) for c in candidates):
            # Addresses often start at the county ("锦江区..."): look one level further down.
            candidates = [county for c in candidates for county in tree.children(c.code)]
        match = max(
            (c for c in candidates if address.startswith(c.name, pos)),
            key=lambda c: len(c.name),
            default=None,
        )
        if match is None:
            break
        pos += len(match.name)
        current = match
        if match.level == 4:
            township_end = pos
    return township_end


def mask_address(address: str | None) -> str | None:
    """Keep the address down to the township (乡镇/街道) name, mask everything after it."""
    if address is None:
        return None
    text = address.strip()
    keep = _region_prefix_length(text)
    if not keep:
        # Not in the tree (old names, typing variants): fall back to the township suffix,
        # then to the county or city suffix, and keep nothing when none is found.
        township = _TOWNSHIP_SUFFIX.search(text)
        upper = township or _COUNTY_SUFFIX.search(text) or _CITY_SUFFIX.search(text)
        keep = upper.end() if upper else 0
    return text[:keep] + "*" * len(text[keep:])


_MASKERS = {
    "id": mask_id,
    "name": mask_name,
    "phone": mask_phone,
    "account": mask_account,
    "address": mask_address,
    "sensitive": lambda value: None if value is None else SENSITIVE_MASK,
}


def sees_clear(role: str, jurisdiction: str | None, region_code: str | None) -> bool:
    """Clear values only for case-handling roles, only for rows inside their jurisdiction."""
    if role not in CLEAR_VIEW_ROLES or not jurisdiction or not region_code:
        return False
    try:
        return regions.contains(jurisdiction, region_code)
    except regions.UnknownRegion:
        return False


def mask_row(
    row: Mapping[str, object],
    field_pii: Mapping[str, str],
    role: str,
    *,
    jurisdiction: str | None = None,
    region_field: str = "region_code",
) -> dict:
    """A copy of ``row`` with every PII field masked unless ``role`` may see it in the clear.

    ``field_pii`` maps field name to the contract's PII class. Fails closed: without a
    jurisdiction or a region on the row, even case-handling roles get masked values, and an
    unknown PII class is an error rather than a pass-through.
    """
    clear = sees_clear(role, jurisdiction, row.get(region_field))  # type: ignore[arg-type]
    out = dict(row)
    for field, pii in field_pii.items():
        if pii not in PII_CLASSES:
            raise ValueError(f"未知的个人信息类别:{pii}")
        if pii == "none" or clear or field not in out:
            continue
        value = out[field]
        out[field] = _MASKERS[pii](value if value is None or pii == "sensitive" else str(value))
    return out


# --- pseudonyms -----------------------------------------------------------------------------------

_demo_warned = False


def pseudonym_key() -> bytes:
    """The HMAC key from ``JIUZHU_PSEUDONYM_KEY``; the fixed demo key only when explicitly allowed."""
    global _demo_warned  # warn once per process, not once per row
    key = os.environ.get(PSEUDONYM_KEY_ENV, "")
    if key:
        raw = key.encode("utf-8")
        if len(raw) < MIN_KEY_BYTES:
            raise PseudonymKeyMissing(f"假名化密钥 {PSEUDONYM_KEY_ENV} 太短:至少需要{MIN_KEY_BYTES}个字节")
        return raw
    if os.environ.get(DEMO_KEY_ENV) == "1":
        if not _demo_warned:
            log.warning("正在使用公开的演示假名化密钥(%s=1),不得用于真实数据", DEMO_KEY_ENV)
            _demo_warned = True
        return _DEMO_KEY
    raise PseudonymKeyMissing(
        f"未设置假名化密钥:请设置环境变量 {PSEUDONYM_KEY_ENV}(仅演示环境可设置 {DEMO_KEY_ENV}=1 使用演示密钥)"
    )


def _hmac_sm3(key: bytes, message: bytes) -> str:
    try:
        return hmac.new(key, message, "sm3").hexdigest()
    except ValueError:
        # OpenSSL builds without SM3 in hmac's digest lookup: HMAC by hand (RFC 2104, block 64).
        if len(key) > 64:
            key = hashlib.new("sm3", key).digest()
        key = key.ljust(64, b"\0")
        inner = hashlib.new("sm3", bytes(b ^ 0x36 for b in key) + message).digest()
        return hashlib.new("sm3", bytes(b ^ 0x5C for b in key) + inner).hexdigest()


def pseudonym(person_id: str, key: bytes | None = None) -> str:
    """The pseudonymous key of a person: HMAC-SM3 of the normalised ID, 32 hex characters.

    A plain hash of an ID can be reversed by enumerating the ~10^11 valid IDs; the secret key
    is what makes this a pseudonym. ``key`` overrides the environment (key rotation re-keys
    with both keys side by side).
    """
    normalised = str(person_id).strip().upper()
    if not normalised:
        raise ValueError("证件号为空,无法生成假名化键")
    return _hmac_sm3(key if key is not None else pseudonym_key(), normalised.encode("utf-8"))[:32]


# --- spreadsheet-safe cells -----------------------------------------------------------------------

_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def safe_cell(value):
    """Neutralise a text cell a spreadsheet would run as a formula (CSV/XLSX injection).

    Real numbers are returned unchanged so they stay numeric, negative ones included.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_LEADS):
        return "'" + value
    return value
