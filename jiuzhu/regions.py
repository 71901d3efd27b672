"""Administrative divisions of Sichuan (行政区划): a five-level hierarchy with containment checks.

Source: NBS 统计用区划代码 2023 (province → village, 37,728 rows) and the 7th census county
figures, as collected in the project's shared reference data (see ``jiuzhu/data/SOURCES.md``).
Codes are the 12-digit statistical codes; a code at its natural length (2, 4, 6, 9 or 12 digits)
is accepted everywhere and padded. Jurisdiction containment is a prefix test at the outer
region's level (province 2, prefecture 4, county 6, township 9, village 12 digits).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from importlib import resources

LEVEL_DIGITS = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}
LEVEL_NAMES_ZH = {1: "省", 2: "市(州)", 3: "县(市、区)", 4: "乡镇(街道)", 5: "村(社区)"}
PROVINCE_CODE = "510000000000"


class UnknownRegion(KeyError):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code
        self.message = f"未知的行政区划代码:{code}"


@dataclass(frozen=True, slots=True)
class Region:
    code: str  # 12-digit statistical code
    name: str
    level: int
    parent_code: str | None
    prefecture_code: str | None  # 6-digit
    county_code: str | None  # 6-digit
    unit_type: str
    urban_rural: str | None  # derived proxy: urban / rural / mixed / special

    @property
    def short_code(self) -> str:
        return self.code[: LEVEL_DIGITS[self.level]]

    @property
    def gb2260(self) -> str | None:
        return self.code[:6] if self.level <= 3 else None


def normalise_code(code: str | int) -> str:
    """Pad a code of natural length to the 12-digit statistical code."""
    text = str(code).strip()
    if not text.isdigit() or len(text) not in (2, 4, 6, 9, 12):
        raise UnknownRegion(text)
    return text.ljust(12, "0")


def level_of_code(code: str) -> int:
    """The level a 12-digit code denotes, from its trailing zeros."""
    code = normalise_code(code)
    for level in (5, 4, 3, 2, 1):
        digits = LEVEL_DIGITS[level]
        if level == 1 or code[LEVEL_DIGITS[level - 1] : digits].strip("0"):
            return level
    return 1


def contains(outer: str, inner: str) -> bool:
    """True when region ``inner`` lies inside (or is) region ``outer``: prefix at outer's level."""
    outer12, inner12 = normalise_code(outer), normalise_code(inner)
    digits = LEVEL_DIGITS[level_of_code(outer12)]
    return inner12[:digits] == outer12[:digits]


class RegionTree:
    """All Sichuan divisions, loaded once from package data."""

    def __init__(self, regions: list[Region]):
        self._by_code = {r.code: r for r in regions}
        self._children: dict[str, list[str]] = defaultdict(list)
        for r in regions:
            if r.parent_code:
                self._children[r.parent_code].append(r.code)

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        try:
            return normalise_code(str(code)) in self._by_code
        except UnknownRegion:
            return False

    def get(self, code: str) -> Region:
        key = normalise_code(code)
        try:
            return self._by_code[key]
        except KeyError:
            raise UnknownRegion(str(code)) from None

    def parent(self, code: str) -> Region | None:
        region = self.get(code)
        return self._by_code[region.parent_code] if region.parent_code else None

    def children(self, code: str) -> list[Region]:
        return [self._by_code[c] for c in self._children[self.get(code).code]]

    def ancestors(self, code: str) -> list[Region]:
        """From the province down to the region itself."""
        chain = [self.get(code)]
        while chain[-1].parent_code:
            chain.append(self._by_code[chain[-1].parent_code])
        return chain[::-1]

    def full_name(self, code: str) -> str:
        return "".join(r.name for r in self.ancestors(code))

    def at_level(self, level: int) -> list[Region]:
        return [r for r in self._by_code.values() if r.level == level]

    def prefectures(self) -> list[Region]:
        return self.at_level(2)

    def counties(self) -> list[Region]:
        return self.at_level(3)

    def rows(self) -> list[dict]:
        return [
            {
                "region_code": r.code,
                "short_code": r.short_code,
                "gb2260_code": r.gb2260,
                "name": r.name,
                "full_name": self.full_name(r.code),
                "level": r.level,
                "parent_code": r.parent_code,
                "prefecture_code": r.prefecture_code,
                "county_code": r.county_code,
                "unit_type": r.unit_type,
                "urban_rural": r.urban_rural,
            }
            for r in sorted(self._by_code.values(), key=lambda r: r.code)
        ]


def _data_text(name: str) -> str:
    ref = resources.files("jiuzhu") / "data" / name
    raw = ref.read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


@cache
def load() -> RegionTree:
    reader = csv.DictReader(io.StringIO(_data_text("sichuan_regions.csv.gz")))
    regions = [
        Region(
            code=row["code"],
            name=row["name"],
            level=int(row["level"]),
            parent_code=row["parent_code"] or None,
            prefecture_code=row["prefecture_code"] or None,
            county_code=row["county_code"] or None,
            unit_type=row["unit_type"],
            urban_rural=row["urban_rural_proxy"] or None,
        )
        for row in reader
    ]
    return RegionTree(regions)


@dataclass(frozen=True, slots=True)
class CountyCensus:
    county_code: str  # 6-digit current code
    prefecture_code: str
    pop_total: int
    pop_urban: int
    pop_rural: int
    minority_share: float  # 0..1
    avg_household_size: float
    share_65plus: float  # 0..1
    one_person_households: int
    family_households: int


@cache
def county_census() -> dict[str, CountyCensus]:
    """Census 2020 per current county. The three economic development zones (no GB/T 2260 code)
    are folded into their prefecture's districts, in proportion to the districts' population,
    so the province total stays 83,674,866."""
    rows = list(csv.DictReader(io.StringIO(_data_text("sichuan_county_population.csv"))))
    counties = [r for r in rows if r["level"] == "3"]
    out: dict[str, dict] = {}
    zones = []
    for r in counties:
        if not r["code_2023"]:
            zones.append(r)
            continue
        out[r["code_2023"]] = {
            "county_code": r["code_2023"],
            "prefecture_code": r["prefecture_code"],
            "pop_total": int(r["pop_total"]),
            "pop_urban": int(r["pop_urban"]),
            "pop_rural": int(r["pop_rural"]),
            "minority_share": float(r["minority_share_pct"]) / 100,
            "avg_household_size": float(r["avg_family_household_size"]),
            "share_65plus": float(r["share_age_65plus_pct"]) / 100,
            "one_person_households": int(r["one_person_households"]),
            "family_households": int(r["family_households"]),
        }
    tree = load()
    for zone in zones:
        districts = [
            c for c, v in out.items()
            if v["prefecture_code"] == zone["prefecture_code"] and tree.get(c).name.endswith("区")
        ]
        base = sum(out[c]["pop_total"] for c in districts)
        remaining = {k: int(zone[k]) for k in ("pop_total", "pop_urban", "pop_rural")}
        for i, c in enumerate(sorted(districts)):
            share = out[c]["pop_total"] / base
            last = i == len(districts) - 1
            for k in remaining:
                add = remaining[k] if last else round(int(zone[k]) * share)
                out[c][k] += add
                remaining[k] -= add
    return {code: CountyCensus(**v) for code, v in sorted(out.items())}


@cache
def age_sex_profile() -> dict[str, list[tuple[str, str, int]]]:
    """Census 2020 population by 5-year age group and sex, per current county code."""
    reader = csv.DictReader(io.StringIO(_data_text("sichuan_county_age_sex_2020.csv")))
    out: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for r in reader:
        if r["level"] == "3" and r["code_2023"]:
            out[r["code_2023"]].append((r["age_group"], r["sex"], int(r["population"])))
    return dict(out)


@cache
def surnames() -> list[tuple[str, float]]:
    reader = csv.DictReader(io.StringIO(_data_text("surnames.csv")))
    rows = [(r["surname"], float(r["percent"])) for r in reader]
    total = sum(p for _, p in rows)
    return [(s, p / total) for s, p in rows]


def to_arrow():
    """The region hierarchy as an Arrow table (the silver ``regions`` table)."""
    import pyarrow as pa  # noqa: PLC0415 (kept out of the import path of pure look-ups)

    rows = load().rows()
    schema = pa.schema([
        ("region_code", pa.string()), ("short_code", pa.string()), ("gb2260_code", pa.string()),
        ("name", pa.string()), ("full_name", pa.string()), ("level", pa.int8()), ("parent_code", pa.string()),
        ("prefecture_code", pa.string()), ("county_code", pa.string()), ("unit_type", pa.string()),
        ("urban_rural", pa.string()),
    ])
    return pa.Table.from_pylist(rows, schema=schema)
