"""Households and persons of one county, drawn from the census (vectorised, no per-person loops).

Everything here is synthetic. Shares come from the 2020 census rows of the county (population,
urban share, household size, one-person households, minority share); names from the national
surname distribution plus Yi and Tibetan naming; IDs are valid GB 11643 numbers consistent with
birth date, sex and birthplace.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np

from jiuzhu import ids, regions

EPOCH = _dt.date(1970, 1, 1)

# GB/T 4761 family-relation codes (与户主关系)
REL_HEAD, REL_SPOUSE, REL_CHILD, REL_GRANDCHILD, REL_PARENT = "02", "10", "20", "40", "50"
RELATION_NAMES = {"02": "户主", "10": "配偶", "20": "子女", "40": "孙子女", "50": "父母"}

# GB 3304 ethnicity codes used in Sichuan
ETHNIC_NAMES = {"01": "汉族", "03": "回族", "04": "藏族", "06": "苗族", "07": "彝族", "15": "土家族",
                "20": "傈僳族", "27": "纳西族", "33": "羌族"}
# Which minorities live where (prefecture or county prefix → (codes, weights)). Composition by
# group is not published in the reference data; these weights are rough and marked synthetic.
_MINORITY_MIX = {
    "5134": (["07", "04", "03", "20"], [0.93, 0.03, 0.02, 0.02]),  # 凉山彝族自治州
    "5133": (["04", "07", "03"], [0.95, 0.03, 0.02]),  # 甘孜藏族自治州
    "5132": (["04", "33", "03"], [0.62, 0.33, 0.05]),  # 阿坝藏族羌族自治州
    "510726": (["33", "04"], [0.95, 0.05]),  # 北川羌族自治县
    "5104": (["07", "20", "06", "27"], [0.6, 0.15, 0.15, 0.1]),  # 攀枝花
    "5111": (["07", "03"], [0.9, 0.1]),  # 乐山 (峨边、马边)
    "5118": (["07", "04", "03"], [0.5, 0.4, 0.1]),  # 雅安 (石棉、宝兴)
}
_MINORITY_DEFAULT = (["15", "03", "06", "07"], [0.3, 0.3, 0.2, 0.2])

_YI_SURNAMES = ["吉克", "阿苦", "沙马", "阿约", "俄木", "勒格", "海来", "吉伍", "马海", "曲比", "阿说", "木乃", "阿尔", "日火"]
_YI_GIVEN = ["阿呷", "伍呷", "拉哈", "日哈", "石布", "约布", "尔古", "子哈", "阿依", "莫色", "次尔", "伍各", "布都", "木呷"]
_TIBETAN_A = ["扎西", "次仁", "格桑", "泽仁", "洛绒", "尼玛", "达瓦", "旺姆", "拉姆", "卓玛", "央金", "益西", "泽旺", "降措", "四郎"]
_TIBETAN_B = ["多吉", "卓玛", "拉姆", "泽仁", "措姆", "曲珍", "平措", "扎西", "旺堆", "志玛", "降泽", "翁姆", "彭措", "央宗"]
_GIVEN_M = list("伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欢阳建国志文亮成兵")
_GIVEN_F = list("芳娜敏静丽艳娟霞燕玲桂英秀兰萍红梅琳雪婷倩颖洁佳慧莉琴云莲真环凤丹蓉春菊玉")

# Prefectures where hardship is more common (the former deep-poverty areas and the northeast).
POOR_PREFECTURES = {"513400": 0.62, "513300": 0.7, "513200": 0.75, "511900": 0.8, "510800": 0.82,
                    "511300": 0.85, "511700": 0.85, "511600": 0.9, "512000": 0.9}
RICH_PREFECTURES = {"510100": 1.35, "510600": 1.1, "510700": 1.05}


@dataclass
class County:
    """All households and persons of one county, as parallel numpy arrays."""

    code: str  # 6-digit
    index: int
    # households
    hh_village: np.ndarray  # 12-digit village code (str)
    hh_urban: np.ndarray  # bool
    hh_z: np.ndarray  # latent economic position, N(0, 1)
    hh_supporter: np.ndarray  # bool: has a legal supporter living elsewhere
    # persons
    p_hh: np.ndarray  # household index
    p_rel: np.ndarray  # relation code (str)
    p_sex: np.ndarray  # "M"/"F"
    p_birth: np.ndarray  # days since 1970-01-01
    p_eth: np.ndarray  # ethnicity code
    p_name: np.ndarray
    p_birthplace: np.ndarray  # 6-digit code of first issue
    p_id: np.ndarray = field(default=None)  # 18-char IDs, filled by assign_ids
    p_start: np.ndarray = field(default=None)  # month index the person appears (0 = already there)
    hh_base: int = 0  # number of the first household (a county simulated in parts)

    @property
    def n_households(self) -> int:
        return len(self.hh_village)

    @property
    def n_persons(self) -> int:
        return len(self.p_hh)


@cache
def external_codes() -> list[str]:
    """County codes outside Sichuan (from python-stdnum's division list), used as the birthplace of
    people born elsewhere. Each Sichuan county gets its own code, so IDs never collide between
    counties generated independently."""
    text = (resources.files("stdnum") / "cn" / "loc.dat").read_text("utf-8")
    codes, prefix2 = [], ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        stripped = line.strip()
        code = stripped.split(" ", 1)[0]
        if not line.startswith(" "):
            prefix2 = code
        elif len(code) == 2:
            continue  # a prefecture line: its counties follow
        elif len(code) == 4 and "county=" in stripped and "[" not in stripped:
            full = prefix2 + code
            if not full.startswith(("51", "71", "81", "82")):
                codes.append(full)
    codes = sorted(set(codes))
    return codes


def _minority_mix(county6: str) -> tuple[list[str], list[float]]:
    for key in (county6, county6[:4]):
        if key in _MINORITY_MIX:
            return _MINORITY_MIX[key]
    return _MINORITY_DEFAULT


def _household_sizes(rng, n_persons: int, census: regions.CountyCensus) -> np.ndarray:
    p1 = census.one_person_households / census.family_households
    avg = census.avg_household_size
    lam = max((avg - p1) / (1 - p1) - 2, 0.05)
    n_hh = max(int(round(n_persons / avg)), 1)
    single = rng.random(n_hh) < p1
    sizes = np.where(single, 1, 2 + np.minimum(rng.poisson(lam, n_hh), 6))
    # Trim or pad the last households so the county gets exactly its share of persons.
    total = int(sizes.sum())
    while total > n_persons and len(sizes) > 1:
        cut = min(int(sizes[-1]), total - n_persons)
        if cut >= sizes[-1]:
            total -= int(sizes[-1])
            sizes = sizes[:-1]
        else:
            sizes[-1] -= cut
            total -= cut
    if total < n_persons:
        extra = n_persons - total
        sizes = np.concatenate([sizes, np.ones(extra, dtype=sizes.dtype)])
    return sizes.astype(np.int64)


def _names(rng, sex: np.ndarray, eth: np.ndarray, surname: np.ndarray) -> np.ndarray:
    n = len(sex)
    g_m = np.array(_GIVEN_M)
    g_f = np.array(_GIVEN_F)
    male = sex == "M"
    first = np.where(male, g_m[rng.integers(0, len(g_m), n)], g_f[rng.integers(0, len(g_f), n)])
    second = np.where(male, g_m[rng.integers(0, len(g_m), n)], g_f[rng.integers(0, len(g_f), n)])
    given = np.where(rng.random(n) < 0.7, np.char.add(first, second), first)
    names = np.char.add(surname.astype(str), given).astype(object)
    yi = eth == "07"
    if yi.any():
        k = int(yi.sum())
        yi_names = np.char.add(np.array(_YI_SURNAMES)[rng.integers(0, len(_YI_SURNAMES), k)],
                               np.array(_YI_GIVEN)[rng.integers(0, len(_YI_GIVEN), k)])
        han_style = rng.random(k) < 0.35  # many Yi also use a Han surname
        names[yi] = np.where(han_style, names[yi], yi_names)
    tib = eth == "04"
    if tib.any():
        k = int(tib.sum())
        names[tib] = np.char.add(np.array(_TIBETAN_A)[rng.integers(0, len(_TIBETAN_A), k)],
                                 np.array(_TIBETAN_B)[rng.integers(0, len(_TIBETAN_B), k)])
    return names


def draw_surnames(rng, n: int) -> np.ndarray:
    s_names, s_p = _surname_table()
    return s_names[rng.choice(len(s_names), n, p=s_p)]


@cache
def _surname_table():
    rows = regions.surnames()
    return np.array([s for s, _ in rows]), np.array([p for _, p in rows])


def _villages(county6: str) -> tuple[np.ndarray, np.ndarray]:
    tree = regions.load()
    county = tree.get(county6)
    codes, urban = [], []
    for town in tree.children(county.code):
        for village in tree.children(town.code):
            codes.append(village.code)
            urban.append(village.urban_rural == "urban")
    if not codes:  # a county without village rows: use its townships
        for town in tree.children(county.code):
            codes.append(town.code)
            urban.append(town.urban_rural == "urban")
    return np.array(codes), np.array(urban, dtype=bool)


def build_county(rng, county6: str, index: int, n_persons: int, window_start: _dt.date) -> County | None:
    """Draw the households and persons present at the start of the window."""
    if n_persons <= 0:
        return None
    census = regions.county_census()[county6]
    sizes = _household_sizes(rng, n_persons, census)
    n_hh = len(sizes)
    urban_share = census.pop_urban / max(census.pop_total, 1)
    v_codes, v_urban = _villages(county6)
    hh_urban = rng.random(n_hh) < urban_share
    if v_urban.any() and (~v_urban).any():
        urban_idx, rural_idx = np.flatnonzero(v_urban), np.flatnonzero(~v_urban)
        pick_u = urban_idx[rng.integers(0, len(urban_idx), n_hh)]
        pick_r = rural_idx[rng.integers(0, len(rural_idx), n_hh)]
        village_idx = np.where(hh_urban, pick_u, pick_r)
    else:
        village_idx = rng.integers(0, len(v_codes), n_hh)
        hh_urban = v_urban[village_idx] if v_urban.any() else np.zeros(n_hh, dtype=bool)
    hh_village = v_codes[village_idx]

    # Roles by slot: 0 head, 1 spouse (or child), then children, last slots an extra generation.
    hh_of_person = np.repeat(np.arange(n_hh), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    slot = np.arange(len(hh_of_person)) - starts[hh_of_person]
    size_p = sizes[hh_of_person]
    has_spouse = (sizes >= 2) & (rng.random(n_hh) < 0.85)
    three_gen = (sizes >= 4) & (rng.random(n_hh) < 0.5)
    single = sizes == 1
    head_age = np.where(single & (rng.random(n_hh) < 0.45), rng.integers(65, 91, n_hh),
                        rng.integers(24, 76, n_hh))
    head_age = np.where(single, head_age, np.clip(head_age, 24, 80))
    young_head = head_age < 55
    rel = np.full(len(slot), REL_CHILD, dtype=object)
    rel[slot == 0] = REL_HEAD
    rel[(slot == 1) & has_spouse[hh_of_person]] = REL_SPOUSE
    extra_gen = three_gen[hh_of_person] & (slot >= np.maximum(size_p - 2, 2)) & (slot >= 2)
    extra_gen &= (slot == size_p - 1) | (size_p >= 6)
    rel[extra_gen & young_head[hh_of_person]] = REL_PARENT
    rel[extra_gen & ~young_head[hh_of_person]] = REL_GRANDCHILD

    n = len(slot)
    ha = head_age[hh_of_person].astype(float)
    age = np.select(
        [rel == REL_HEAD, rel == REL_SPOUSE, rel == REL_PARENT, rel == REL_GRANDCHILD],
        [ha, ha + rng.normal(-1.5, 3, n), ha + rng.uniform(22, 32, n), ha - rng.uniform(44, 58, n)],
        default=ha - rng.uniform(20, 38, n),
    )
    age = np.clip(age, 0, 100)
    head_male = rng.random(n_hh) < 0.75
    sex_rand = np.where(rng.random(n) < 0.51, "M", "F")
    hm = head_male[hh_of_person]
    sex = np.where(rel == REL_HEAD, np.where(hm, "M", "F"),
                   np.where(rel == REL_SPOUSE, np.where(hm, "F", "M"), sex_rand))
    start_days = (window_start - EPOCH).days
    birth = (start_days - (age * 365.25).astype(np.int64) - rng.integers(1, 365, n)).astype(np.int64)

    minority = rng.random(n_hh) < census.minority_share
    codes, weights = _minority_mix(county6)
    hh_eth = np.where(minority, np.array(codes)[rng.choice(len(codes), n_hh, p=weights)], "01")
    eth = hh_eth[hh_of_person].astype(object)
    spouse_mixed = (rel == REL_SPOUSE) & (rng.random(n) < 0.08)
    eth[spouse_mixed] = "01"

    # Children take the head's surname; spouses and parents keep their own.
    surname = draw_surnames(rng, n_hh)[hh_of_person]
    own = (rel == REL_SPOUSE) | (rel == REL_PARENT)
    surname[own] = draw_surnames(rng, int(own.sum()))
    names = _names(rng, sex, eth, surname)
    hh_z = rng.standard_normal(n_hh)
    hh_supporter = rng.random(n_hh) < 0.75
    c = County(
        code=county6, index=index, hh_village=hh_village, hh_urban=hh_urban, hh_z=hh_z,
        hh_supporter=hh_supporter, p_hh=hh_of_person, p_rel=rel, p_sex=sex, p_birth=birth,
        p_eth=eth, p_name=names, p_birthplace=_birthplaces(rng, county6, index, birth, urban_share),
    )
    c.p_start = np.zeros(n, dtype=np.int16)
    return c


def _birthplaces(rng, county6: str, index: int, birth: np.ndarray, urban_share: float) -> np.ndarray:
    """Mostly the county itself; people born elsewhere carry the county's own external code; people
    of 会理 born before its 2021 recoding mostly keep the old code 513425."""
    n = len(birth)
    ext = external_codes()
    out = np.full(n, county6, dtype=object)
    born_elsewhere = rng.random(n) < 0.02 + 0.08 * urban_share
    out[born_elsewhere] = ext[(index * 7) % len(ext)]
    if county6 == "513402":
        before_2021 = birth < (_dt.date(2021, 1, 1) - EPOCH).days
        out[before_2021 & ~born_elsewhere & (rng.random(n) < 0.9)] = "513425"
    return out


def add_persons(c: County, hh: np.ndarray, rel: np.ndarray, sex: np.ndarray, birth: np.ndarray,
                eth: np.ndarray, names: np.ndarray, birthplace: np.ndarray, start: np.ndarray) -> None:
    """Append persons who arrive during the window (births, spouses who marry in)."""
    c.p_hh = np.concatenate([c.p_hh, hh])
    c.p_rel = np.concatenate([c.p_rel, rel])
    c.p_sex = np.concatenate([c.p_sex, sex])
    c.p_birth = np.concatenate([c.p_birth, birth])
    c.p_eth = np.concatenate([c.p_eth, eth])
    c.p_name = np.concatenate([c.p_name, names])
    c.p_birthplace = np.concatenate([c.p_birthplace, birthplace])
    c.p_start = np.concatenate([c.p_start, start.astype(np.int16)])


def assign_ids(rng, c: County) -> None:
    """Give every person a unique valid ID: sequence numbers ranked within (birthplace, date, sex)."""
    n = c.n_persons
    male = (c.p_sex == "M").astype(np.int64)
    bp = c.p_birthplace.astype(str)
    order = np.lexsort((male, c.p_birth, bp))
    keys = np.stack([np.unique(bp, return_inverse=True)[1][order], c.p_birth[order], male[order]])
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = (keys[:, 1:] != keys[:, :-1]).any(axis=0)
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - group_start
    seq = 10 + 2 * rank + male  # odd for men, even for women (GB 11643)
    if seq.max() > 999:
        raise OverflowError(f"county {c.code}: more than 495 people share a birthplace, date and sex")
    dates = (np.datetime64("1970-01-01") + c.p_birth.astype("timedelta64[D]")).astype("S10")
    bodies = np.char.add(np.char.add(bp.astype("S6"), np.char.replace(dates, b"-", b"")),
                         np.char.zfill(seq.astype("S3"), 3))
    c.p_id = with_check_chars(bodies)


_WEIGHTS = np.array(ids.WEIGHTS, dtype=np.int64)
_CHECKS = np.frombuffer(ids.CHECK_CHARS.encode(), dtype="S1")


def with_check_chars(bodies: np.ndarray) -> np.ndarray:
    """Vectorised GB 11643 check characters for an array of 17-digit bodies (bytes)."""
    bodies = np.asarray(bodies, dtype="S17")
    digits = bodies.view(np.uint8).reshape(-1, 17).astype(np.int64) - 48
    check = _CHECKS[(digits @ _WEIGHTS) % 11]
    return np.char.add(bodies, check).astype(str).astype(object)


def split(c: County, max_persons: int) -> list[County]:
    """Cut a county into parts of whole households with at most ``max_persons`` persons each, so the
    (persons × months) matrices of the largest county (2.7 million people at province scale) fit in
    bounded memory. IDs are assigned before the split, so they stay unique across parts."""
    if c.n_persons <= max_persons:
        return [c]
    order = np.argsort(c.p_hh, kind="stable")
    counts = np.bincount(c.p_hh, minlength=c.n_households)
    ends, acc, start = [], 0, 0
    for h, k in enumerate(counts):
        if acc + k > max_persons and acc > 0:
            ends.append((start, h))
            start, acc = h, 0
        acc += int(k)
    ends.append((start, c.n_households))
    parts = []
    person_hh = c.p_hh[order]
    for h0, h1 in ends:
        sel = order[(person_hh >= h0) & (person_hh < h1)]
        parts.append(County(
            code=c.code, index=c.index, hh_village=c.hh_village[h0:h1], hh_urban=c.hh_urban[h0:h1],
            hh_z=c.hh_z[h0:h1], hh_supporter=c.hh_supporter[h0:h1], p_hh=c.p_hh[sel] - h0, p_rel=c.p_rel[sel],
            p_sex=c.p_sex[sel], p_birth=c.p_birth[sel], p_eth=c.p_eth[sel], p_name=c.p_name[sel],
            p_birthplace=c.p_birthplace[sel], p_id=c.p_id[sel], p_start=c.p_start[sel], hh_base=c.hh_base + h0,
        ))
    return parts
