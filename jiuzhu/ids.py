"""Citizen identity numbers (居民身份证号码, GB 11643-1999).

python-stdnum's ``cn.ric`` does the arithmetic (MOD 11-2 check character, birth date) and
carries the historical county-code list. We wrap it with our own policy, because two of its
rules are wrong for real data (see shared SECURITY.md):

* it accepts birth dates in the future (2099): we reject them;
* it rejects a county code that did not yet exist in the birth year. An ID carries the code of
  the place where it was *first issued*, which may be newer than the birth date (会理市 513402
  was created in 2021, its residents born in 1960 carry it when re-issued). We accept any code
  that existed at any time.

Every rejection has a stable reason code (used in quarantine and receipts) and a Chinese
message (shown to staff and departments).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
import unicodedata
from dataclasses import dataclass, field

from stdnum import numdb
from stdnum.cn import ric as _ric

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# The oldest living person plausible on a register; older birth dates are data errors.
OLDEST_BIRTH = _dt.date(1890, 1, 1)
# Region prefixes outside the GB/T 2260 list that still carry valid IDs: residence permits for
# Hong Kong, Macao and Taiwan residents (810000/820000/830000) and, since 2023, foreign
# permanent-residence IDs that start with 9.
SPECIAL_PREFIXES = ("810000", "820000", "830000")

_SCIENTIFIC = re.compile(r"^\d(\.\d+)?E\+\d+$", re.IGNORECASE)


class InvalidId(ValueError):
    """An ID that cannot be accepted; ``code`` is stable, ``message`` is Chinese."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class IdInfo:
    number: str  # the normalised 18-character form
    birth_date: _dt.date
    sex: str  # "M" or "F"
    region_code: str  # the 6-digit code of the place of first issue
    upgraded_from_15: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def sex_zh(self) -> str:
        return "男" if self.sex == "M" else "女"

    def as_dict(self) -> dict:
        return {
            "valid": True,
            "number": self.number,
            "birth_date": self.birth_date.isoformat(),
            "sex": self.sex,
            "region_code": self.region_code,
            "upgraded_from_15": self.upgraded_from_15,
            "notes": list(self.notes),
        }


def check_char(body17: str) -> str:
    """The check character for the first 17 digits (R = Σ digit × weight mod 11)."""
    total = sum(int(d) * w for d, w in zip(body17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def upgrade_15(number15: str) -> str:
    """Upgrade a 15-digit legacy number: insert "19" before the 6-digit birth date, add the check."""
    if len(number15) != 15 or not number15.isdigit():
        raise InvalidId("ID_LENGTH", "15位旧号码必须全部为数字")
    body = number15[:6] + "19" + number15[6:]
    return body + check_char(body)


@functools.lru_cache(maxsize=8192)  # a few thousand county codes; the numdb look-up costs ~0.7 ms
def _known_region(code6: str) -> bool:
    if code6.startswith(SPECIAL_PREFIXES) or code6.startswith("9"):
        return True
    results = numdb.get("cn/loc").info(code6)
    # numdb returns one (part, props) pair per digit group; a full match has a county.
    return any("county" in props for _part, props in results)


@functools.cache
def known_region_codes() -> frozenset[str]:
    """Every 6-digit county-level code that ever existed (python-stdnum's historical list) plus
    the current Sichuan codes: the set vectorised validation tests membership in."""
    from importlib import resources  # noqa: PLC0415

    text = (resources.files("stdnum") / "cn" / "loc.dat").read_text("utf-8")
    codes, p2, p4 = set(), "", ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        code = line.strip().split(" ", 1)[0]
        if not line.startswith(" "):
            p2 = code
        elif len(code) == 2:
            p4 = p2 + code
            codes.add(p4 + "00")
        elif len(code) == 4:
            codes.add(p2 + code)
    from jiuzhu import regions  # noqa: PLC0415

    codes.update(r.code[:6] for r in regions.load().at_level(3))
    return frozenset(codes)


def region_name(code6: str) -> str:
    """The name of a division code as recorded in python-stdnum's historical list ("" if unknown)."""
    results = numdb.get("cn/loc").info(code6)
    info = {k: v for _part, props in results for k, v in props.items()}
    county = info.get("county", "")
    if county.startswith("["):  # historical names carry their years: "[-2021]会理县"
        county = ",".join(part.split("]", 1)[-1] for part in county.split(","))
    return info.get("province", "") + info.get("prefecture", "") + county


def normalise_text(raw: str) -> tuple[str, list[str]]:
    """Strip spaces, convert full-width characters and lower-case x; report what was changed."""
    notes = []
    text = raw.strip()
    nfkc = unicodedata.normalize("NFKC", text)
    if nfkc != text:
        notes.append("全角字符已转换为半角")
    text = re.sub(r"[\s\-]", "", nfkc)
    if text.endswith("x"):
        text = text[:-1] + "X"
    return text, notes


def parse(raw: str | None, *, today: _dt.date | None = None) -> IdInfo:
    """Validate and normalise one ID; raise :class:`InvalidId` with the exact reason."""
    if raw is None or str(raw).strip() == "":
        raise InvalidId("ID_EMPTY", "身份证号码为空")
    text, notes = normalise_text(str(raw))
    if _SCIENTIFIC.match(text):
        raise InvalidId("ID_SCIENTIFIC", "身份证号码被表格软件转成了科学计数法(如1.23E+17),原号码已丢失")
    upgraded = False
    if len(text) == 15:
        if not text.isdigit():
            raise InvalidId("ID_FORMAT", "15位旧号码必须全部为数字")
        text = upgrade_15(text)
        upgraded = True
        notes.append("15位旧号码已升级为18位")
    if len(text) != 18:
        raise InvalidId("ID_LENGTH", f"身份证号码应为18位(或15位旧号码),实际为{len(text)}位")
    if not text[:17].isdigit() or not (text[17].isdigit() or text[17] == "X"):
        raise InvalidId("ID_FORMAT", "身份证号码含有非法字符(前17位须为数字,末位为数字或X)")
    try:
        birth = _ric.get_birth_date(text)
    except Exception:  # stdnum raises InvalidComponent for an impossible date
        raise InvalidId("ID_BIRTH_DATE", f"出生日期{text[6:14]}不是有效日期") from None
    today = today or _dt.date.today()
    if birth > today:
        raise InvalidId("ID_BIRTH_FUTURE", f"出生日期{birth.isoformat()}晚于当前日期")
    if birth < OLDEST_BIRTH:
        raise InvalidId("ID_BIRTH_TOO_OLD", f"出生日期{birth.isoformat()}早于{OLDEST_BIRTH.year}年,不合理")
    if not _known_region(text[:6]):
        raise InvalidId("ID_REGION", f"地址码{text[:6]}不是已知的行政区划代码")
    expected = check_char(text[:17])
    if text[17] != expected:
        raise InvalidId("ID_CHECK", f"校验码错误:应为{expected},实际为{text[17]}")
    sex = "M" if int(text[16]) % 2 == 1 else "F"
    return IdInfo(text, birth, sex, text[:6], upgraded, tuple(notes))


def is_valid(raw: str | None, *, today: _dt.date | None = None) -> bool:
    try:
        parse(raw, today=today)
    except InvalidId:
        return False
    return True


def check(raw: str | None, *, today: _dt.date | None = None) -> dict:
    """A JSON-ready verdict for one ID: the CLI and the exchange API print this."""
    try:
        return {"input": raw, **parse(raw, today=today).as_dict()}
    except InvalidId as exc:
        return {"input": raw, "valid": False, "reason_code": exc.code, "reason": exc.message}


def mask(number: str) -> str:
    """Mask for display: first 6 and last 4 characters kept (``510104********123X``)."""
    if not number:
        return ""
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def to_key(number18: str) -> int:
    """The int64 join key: first 17 digits × 11 + check value (X = 10).

    It encodes the ID itself, so it is personal data and stays where the ID may
    (shared PERFORMANCE.md: int64 keys are 1.5–2.5 × faster than strings in joins).
    """
    check_value = 10 if number18[17] == "X" else int(number18[17])
    return int(number18[:17]) * 11 + check_value


def from_key(key: int) -> str:
    body, check_value = divmod(int(key), 11)
    return f"{body:017d}" + ("X" if check_value == 10 else str(check_value))


def make(region6: str, birth: _dt.date, sequence: int) -> str:
    """Build a valid 18-digit ID (used by the synthetic generator and tests only)."""
    body = f"{region6}{birth:%Y%m%d}{sequence:03d}"
    return body + check_char(body)
