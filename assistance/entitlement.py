"""救助待遇计算 (issue #15): the amount a household receives for a month, and why.

One function, :func:`compute`, turns what is known about a household in a month (members, where it
lives, its counted income, the grounds other than income it fails) and the policy in force (the
standards in ``jiuzhu/data/policy/standards.csv`` and the rule sets in ``benefit_rules.yaml``) into
a :class:`Breakdown`: the amount and every line it is made of. The same breakdown is stored with the
approval, printed on the approval record and the disbursement order, and recomputed for each month
the benefit is paid (so a new standard changes future months only) and for past months when later
deliveries change what was known (recovery and back pay, ``assistance.adjustments``).

- 低保补差: the month's standard × the members counted − the family's counted monthly income; the
  classified add-ons (分类施保) per person on top, the highest one where a person meets several;
  a minimum payment (保底) where the local rule sets one. Rounded once, at the end.
- 单人保: a seriously ill or severely disabled member of a low-income-margin family covered alone,
  as a one-person household, with the rule set's own percentage.
- 特困供养: the basic-living standard (dispersed or centralised) and the care subsidy by self-care
  ability, per supported person.
- 渐退期: a dibao household whose income rises to the standard keeps its last amount for the rule
  set's number of months, then exits; the months left are on the breakdown.

Members are counted as the marts count them: a member counts in a month when alive at its end (a
member who dies in a month is no longer counted from that month). A standard that changes within a
month is applied by days; a move to another county takes effect from the month after.
"""

from __future__ import annotations

import calendar
import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from jiuzhu import policy

CATEGORY_ZH = {"dibao": "最低生活保障", "single_person": "单人保", "tekun": "特困人员救助供养"}
STATUS_ZH = {"paid": "正常发放", "exit": "渐退期", "exited": "渐退期满停发", "ineligible": "不符合"}
SELF_CARE_ZH = {"full": "全自理", "partial": "部分失能", "none": "完全失能"}
TEKUN_MODE_ZH = {"dispersed": "分散供养", "centralised": "集中供养"}
ADDON_KINDS = ("serious_illness", "severe_disability", "elderly", "minor")
ADDON_ZH = {"serious_illness": "重病患者", "severe_disability": "重度残疾人", "elderly": "老年人", "minor": "未成年人"}
_FEN = Decimal("0.01")
_SEVERE_SINGLE_KINDS = {"智力残疾", "精神残疾"}


class RuleError(ValueError):
    """A rule set or a household's facts that cannot be computed, with a Chinese message."""

    def __init__(self, code: str, message_zh: str):
        super().__init__(message_zh)
        self.code, self.message_zh = code, message_zh


def money(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def round_to(value: Decimal, unit: Decimal) -> Decimal:
    return (value / unit).quantize(Decimal(1), rounding=ROUND_HALF_UP) * unit


# ---------------------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class Person:
    person_id: str
    birth_date: _dt.date
    relation: str = "99"
    died_on: _dt.date | None = None
    serious_illness: bool = False
    disability_grade: int | None = None  # 1 (一级) … 4 (四级)
    disability_kind: str | None = None  # 残疾类别, e.g. 智力残疾
    own_income_yuan: Decimal = Decimal(0)  # the person's own counted monthly income (单人保)
    self_care: str | None = None  # 生活自理能力 (tekun): full, partial, none

    def counted_in(self, month_end: _dt.date) -> bool:
        return self.died_on is None or self.died_on > month_end

    def age_at(self, day: _dt.date) -> int:
        return day.year - self.birth_date.year - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))

    @property
    def severely_disabled(self) -> bool:
        return self.disability_grade is not None and self.disability_grade <= 2

    @property
    def may_be_covered_alone(self) -> bool:
        """单人保: serious illness, disability grade 1–2, or grade 3 intellectual or mental."""
        return self.serious_illness or self.severely_disabled or (
            self.disability_grade == 3 and self.disability_kind in _SEVERE_SINGLE_KINDS)


@dataclass(frozen=True)
class Place:
    county_code: str  # 6 digits
    area_type: str  # urban | rural
    since: _dt.date


@dataclass(frozen=True)
class HouseholdMonth:
    """What is known about a household in a month, as the benefit computation needs it."""

    period: str  # YYYY-MM
    category: str  # dibao | single_person | tekun
    members: tuple[Person, ...]
    places: tuple[Place, ...]  # where the household lives, each from a date (moves)
    counted_income_yuan: Decimal = Decimal(0)  # the family's counted monthly income
    other_grounds_fail: tuple[str, ...] = ()  # grounds other than income it fails (assets …), in Chinese
    covered: tuple[str, ...] = ()  # single_person: the covered member; tekun: the supported members
    tekun_mode: str = "dispersed"  # dispersed | centralised


# ---------------------------------------------------------------------------------------- rules

_RULE_KEYS = {"region_code", "name_zh", "effective_from", "effective_to", "source", "source_note", "rounding_yuan",
              "minimum_payment_yuan", "standard_change", "move_standard", "dibao_addons", "single_person", "tekun",
              "gradual_exit_months"}
_SOURCES = {"published", "secondary", "synthetic"}


def _validate(sets: list[dict], where: str) -> None:
    if not sets:
        raise RuleError("RULES_EMPTY", f"{where}:没有任何规则")
    for i, s in enumerate(sets, 1):
        label = f"{where} 第{i}条规则({s.get('name_zh') or s.get('region_code') or '未命名'})"
        unknown = set(s) - _RULE_KEYS
        if unknown:
            raise RuleError("RULE_KEY_UNKNOWN", f"{label}:未知的项目 {', '.join(sorted(unknown))}")
        code = str(s.get("region_code", ""))
        if len(code) != 6 or not code.isdigit():
            raise RuleError("RULE_REGION", f"{label}:region_code 须为6位区划代码")
        if s.get("source") not in _SOURCES:
            raise RuleError("RULE_SOURCE", f"{label}:source 须为 published、secondary 或 synthetic")
        for key in ("effective_from", "effective_to"):
            if not isinstance(s.get(key), _dt.date):
                raise RuleError("RULE_DATE", f"{label}:{key} 须为日期(YYYY-MM-DD)")
        if s.get("standard_change", "prorate_days") not in ("prorate_days", "month_start"):
            raise RuleError("RULE_VALUE", f"{label}:standard_change 只能是 prorate_days 或 month_start")
        if s.get("move_standard", "next_month") != "next_month":
            raise RuleError("RULE_VALUE", f"{label}:move_standard 只支持 next_month")
        for kind, spec in (s.get("dibao_addons") or {}).items():
            if kind == "overlap":
                if spec not in ("highest", "sum"):
                    raise RuleError("RULE_VALUE", f"{label}:dibao_addons.overlap 只能是 highest 或 sum")
                continue
            if kind not in ADDON_KINDS:
                raise RuleError("RULE_KEY_UNKNOWN", f"{label}:未知的分类施保类别 {kind}")
            if not isinstance(spec, dict) or ("yuan" in spec) == ("percent" in spec):
                raise RuleError("RULE_VALUE", f"{label}:分类施保 {kind} 须写明 yuan(固定金额)或 percent(标准的百分比)之一")
            if money(spec.get("yuan", spec.get("percent"))) < 0:
                raise RuleError("RULE_VALUE", f"{label}:分类施保 {kind} 的金额不能为负")
        exit_months = s.get("gradual_exit_months")
        if exit_months is not None and (not isinstance(exit_months, int) or exit_months < 0):
            raise RuleError("RULE_VALUE", f"{label}:gradual_exit_months 须为不小于0的整数")
        care = (s.get("tekun") or {}).get("care_yuan") or {}
        if set(care) - set(SELF_CARE_ZH):
            raise RuleError("RULE_VALUE", f"{label}:tekun.care_yuan 只能按 full、partial、none 分档")
    province = [s for s in sets if s["region_code"] == "510000"]
    if not province:
        raise RuleError("RULES_NO_DEFAULT", f"{where}:缺少省级默认规则(region_code 510000)")


def load_rules(path: Path | None = None) -> tuple[dict, ...]:
    """The rule sets of ``path`` (default: the packaged benefit_rules.yaml), validated."""
    if path is None:
        return _packaged_rules()
    data = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    sets = data.get("rule_sets") or []
    _validate(sets, str(path))
    return tuple(sets)


@cache
def _packaged_rules() -> tuple[dict, ...]:
    text = (resources.files("jiuzhu") / "data" / "policy" / "benefit_rules.yaml").read_text("utf-8")
    sets = (yaml.safe_load(text) or {}).get("rule_sets") or []
    _validate(sets, "benefit_rules.yaml")
    return tuple(sets)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def rules_for(county_code: str, on: _dt.date, rule_sets: tuple[dict, ...] | None = None) -> dict:
    """The rules in force for a county on a date: the provincial set, then the prefecture's, then the
    county's, each overriding only the keys it names. ``applied`` lists the sets used."""
    rule_sets = rule_sets if rule_sets is not None else load_rules()
    merged: dict = {}
    applied = []
    for code in ("510000", county_code[:4] + "00", county_code[:6]):
        for s in rule_sets:
            if str(s["region_code"]) == code and s["effective_from"] <= on <= s["effective_to"] and s not in applied:
                merged = _merge(merged, s)
                applied.append(s)
    merged["applied"] = [{"region_code": str(s["region_code"]), "name_zh": s.get("name_zh", ""),
                          "effective_from": s["effective_from"].isoformat(), "source": s["source"]} for s in applied]
    return merged


# ------------------------------------------------------------------------------------ breakdown


@dataclass
class Line:
    code: str  # base, addon, minimum, exit, tekun_basic, tekun_care, single, rounding
    label_zh: str
    amount: Decimal
    person_id: str | None = None
    detail_zh: str = ""

    def to_dict(self) -> dict:
        return {"code": self.code, "label_zh": self.label_zh, "amount": str(self.amount),
                "person_id": self.person_id, "detail_zh": self.detail_zh}


@dataclass
class Breakdown:
    period: str
    category: str
    status: str  # paid, exit, exited, ineligible
    amount: Decimal
    standard_yuan: Decimal  # the month's standard (day-weighted when it changed within the month)
    standard_parts: list[dict]
    family_size: int
    counted_income_yuan: Decimal
    place: dict
    rules: list[dict]
    lines: list[Line] = field(default_factory=list)
    exit: dict | None = None  # {"month": k, "months": n, "months_left": n - k, "amount": …}
    notes_zh: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"period": self.period, "category": self.category, "status": self.status, "amount": str(self.amount),
                "standard_yuan": str(self.standard_yuan), "standard_parts": self.standard_parts,
                "family_size": self.family_size, "counted_income_yuan": str(self.counted_income_yuan),
                "place": self.place, "rules": self.rules, "lines": [ln.to_dict() for ln in self.lines],
                "exit": self.exit, "notes_zh": self.notes_zh}

    @classmethod
    def from_dict(cls, d: dict) -> Breakdown:
        return cls(period=d["period"], category=d["category"], status=d["status"], amount=money(d["amount"]),
                   standard_yuan=money(d["standard_yuan"]), standard_parts=d["standard_parts"],
                   family_size=d["family_size"], counted_income_yuan=money(d["counted_income_yuan"]),
                   place=d["place"], rules=d["rules"],
                   lines=[Line(ln["code"], ln["label_zh"], money(ln["amount"]), ln.get("person_id"),
                               ln.get("detail_zh", "")) for ln in d["lines"]],
                   exit=d.get("exit"), notes_zh=list(d.get("notes_zh") or []))

    def text_zh(self) -> list[str]:
        """The breakdown as lines of Chinese text (approval record, disbursement order, screens)."""
        out = [(f"{self.period} {CATEGORY_ZH.get(self.category, self.category)}:{STATUS_ZH[self.status]},"
               f"金额 {_yuan(self.amount)} 元")]
        parts = ";".join(f"{p['from'][5:]}至{p['to'][5:]} {p['amount_yuan']} 元({p['days']}天)" for p in self.standard_parts)
        out.append(f"当月标准 {_yuan(self.standard_yuan, 4)} 元/人({parts});计算人数 {self.family_size} 人;"
                   f"家庭月收入 {_yuan(self.counted_income_yuan)} 元")
        out += [f"{ln.label_zh}:{_yuan(ln.amount)} 元" + (f"({ln.detail_zh})" if ln.detail_zh else "")
                for ln in self.lines]
        if self.exit:
            out.append(f"渐退期第{self.exit['month']}个月,共{self.exit['months']}个月,剩余{self.exit['months_left']}个月")
        out += self.notes_zh
        return out


def _yuan(value: Decimal, places: int = 2) -> str:
    """Yuan with thousands separators: two decimals, or up to ``places`` where more are not zero
    (a day-weighted standard: 1,048.0645)."""
    shown = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if places > 2 and shown == shown.quantize(_FEN):
        shown = shown.quantize(_FEN)
    return f"{shown:,}"


StandardOf = Callable[[str, str, str, _dt.date], policy.Standard]


def _month(period: str) -> tuple[_dt.date, _dt.date, int]:
    try:
        year, month = (int(x) for x in period.split("-"))
        days = calendar.monthrange(year, month)[1]
    except (ValueError, calendar.IllegalMonthError) as exc:
        raise RuleError("PERIOD_INVALID", f"月份格式不正确:{period}(应为YYYY-MM)") from exc
    return _dt.date(year, month, 1), _dt.date(year, month, days), days


def place_of(month: HouseholdMonth, first_day: _dt.date) -> Place:
    """Where the household counts as living for the month: the place in force on its first day (a
    move takes effect from the month after); before any recorded place, the earliest."""
    if not month.places:
        raise RuleError("PLACE_MISSING", "缺少家庭所在地,无法确定适用的标准")
    ordered = sorted(month.places, key=lambda p: p.since)
    current = [p for p in ordered if p.since <= first_day]
    return current[-1] if current else ordered[0]


def _standard_parts(place: Place, item: str, first: _dt.date, days: int, mode: str,
                    standard_of: StandardOf) -> tuple[Decimal, list[dict]]:
    def at(day: _dt.date) -> policy.Standard:
        try:
            return standard_of(place.county_code, place.area_type, item, day)
        except LookupError as exc:
            raise RuleError("STANDARD_MISSING", f"{day.isoformat()} 没有适用于该地区的{CATEGORY_ZH.get(item, item)}标准") from exc

    if mode == "month_start":
        s = at(first)
        return Decimal(s.amount_yuan), [_part(s, first, first + _dt.timedelta(days=days - 1), days)]
    parts: list[dict] = []
    total = Decimal(0)
    run_start, run_std = first, at(first)
    for offset in range(1, days + 1):
        day = first + _dt.timedelta(days=offset)
        s = at(day) if offset < days else None
        if s is None or (s.amount_yuan, s.region_code, s.effective_from) != (
                run_std.amount_yuan, run_std.region_code, run_std.effective_from):
            length = (day - run_start).days
            parts.append(_part(run_std, run_start, day - _dt.timedelta(days=1), length))
            total += Decimal(run_std.amount_yuan) * length
            run_start, run_std = day, s
    return total / days, parts


def _part(s: policy.Standard, start: _dt.date, end: _dt.date, days: int) -> dict:
    return {"from": start.isoformat(), "to": end.isoformat(), "days": days, "amount_yuan": s.amount_yuan,
            "region_code": s.region_code, "source": s.source}


def _amount_of(spec: dict, standard: Decimal) -> Decimal:
    if "yuan" in spec:
        return money(spec["yuan"])
    return standard * money(spec["percent"]) / 100


def _addon(person: Person, rules: dict, standard: Decimal, month_end: _dt.date) -> list[Line]:
    """The classified add-ons a person is paid: the highest one (or all, where the rule sums them)."""
    spec = rules.get("dibao_addons") or {}
    met: list[Line] = []
    age = person.age_at(month_end)
    for kind in ADDON_KINDS:
        rule = spec.get(kind)
        if rule is None:
            continue
        holds = {"serious_illness": person.serious_illness, "severe_disability": person.severely_disabled,
                 "elderly": age >= int(rule.get("min_age", 60)), "minor": age <= int(rule.get("max_age", 17))}[kind]
        if holds:
            label = rule.get("label_zh") or ADDON_ZH[kind]
            how = f"{rule['yuan']} 元" if "yuan" in rule else f"标准的{rule['percent']}%"
            met.append(Line("addon", f"分类施保·{label}", _amount_of(rule, standard), person.person_id, how))
    if spec.get("overlap", "highest") == "highest" and len(met) > 1:
        best = max(met, key=lambda ln: ln.amount)
        others = "、".join(ln.label_zh.split("·")[1] for ln in met if ln is not best)
        best.detail_zh += f";同时符合{others},按最高一项计发"
        return [best]
    return met


def compute(month: HouseholdMonth, *, previous: Breakdown | None = None, rule_sets: tuple[dict, ...] | None = None,
            standard_of: StandardOf | None = None) -> Breakdown:
    """The amount of ``month`` with its breakdown. ``previous`` is the breakdown of the month before
    (it carries the gradual-exit state and the amount kept during the exit)."""
    if month.category not in CATEGORY_ZH:
        raise RuleError("CATEGORY_UNKNOWN", f"未知的救助类别:{month.category}")
    first, last, days = _month(month.period)
    place = place_of(month, first)
    rules = rules_for(place.county_code, first, rule_sets)
    item = "tekun" if month.category == "tekun" else "dibao"
    standard_of = standard_of or policy.standard  # looked up at call time: the policy module's table
    standard, parts = _standard_parts(place, item, first, days, rules.get("standard_change", "prorate_days"),
                                      standard_of)
    counted = [p for p in month.members if p.counted_in(last)]
    income = money(month.counted_income_yuan)
    out = Breakdown(period=month.period, category=month.category, status="paid", amount=Decimal(0),
                    standard_yuan=standard, standard_parts=parts, family_size=len(counted),
                    counted_income_yuan=income,
                    place={"county_code": place.county_code, "area_type": place.area_type,
                           "since": place.since.isoformat()},
                    rules=rules["applied"])
    gone = [p for p in month.members if not p.counted_in(last)]
    if gone:
        out.notes_zh.append(f"{len(gone)}名成员已于当月或之前死亡,不再计入")
    if month.category == "tekun":
        _tekun(out, month, counted, rules)
    elif month.category == "single_person":
        _single(out, month, counted, rules, last)
    else:
        _dibao(out, month, counted, rules, last, previous)
    return _finish(out, rules)


def _ineligible(out: Breakdown, *reasons: str) -> None:
    out.status = "ineligible"
    out.lines = []
    out.notes_zh += list(reasons)


def _dibao(out: Breakdown, month: HouseholdMonth, counted: list[Person], rules: dict, last: _dt.date,
           previous: Breakdown | None) -> None:
    if month.other_grounds_fail:
        _ineligible(out, *(f"不符合:{r}" for r in month.other_grounds_fail))
        return
    if not counted:
        _ineligible(out, "家庭成员均已死亡,无计算人数")
        return
    gap = out.standard_yuan * len(counted) - out.counted_income_yuan
    if gap <= 0:
        _exit(out, rules, previous)
        return
    out.lines.append(Line("base", "低保补差", gap, None,
                          f"标准 {_yuan(out.standard_yuan, 4)} 元 × {len(counted)} 人 − 家庭月收入 {_yuan(out.counted_income_yuan)} 元"))
    for person in counted:
        out.lines += _addon(person, rules, out.standard_yuan, last)
    minimum = rules.get("minimum_payment_yuan")
    subtotal = sum((ln.amount for ln in out.lines), Decimal(0))
    if minimum is not None and subtotal < money(minimum):
        out.lines.append(Line("minimum", "保底补足", money(minimum) - subtotal, None, f"当地保底金额 {minimum} 元"))


def _exit(out: Breakdown, rules: dict, previous: Breakdown | None) -> None:
    """Income at or above the standard: the gradual exit (渐退期) after months paid, else nothing."""
    months = int(rules.get("gradual_exit_months") or 0)
    reason = (f"家庭人均收入 {_yuan(out.counted_income_yuan / max(out.family_size, 1))} 元"
              f"不低于低保标准 {_yuan(out.standard_yuan)} 元")
    if previous is not None and previous.status == "paid" and months > 0:
        step, total, kept = 1, months, previous.amount
    elif previous is not None and previous.status == "exit" and previous.exit and previous.exit["month"] < previous.exit["months"]:
        step, total, kept = previous.exit["month"] + 1, previous.exit["months"], money(previous.exit["amount"])
    else:
        _ineligible(out, reason)
        if previous is not None and previous.status in ("paid", "exit"):
            out.status = "exited"
            out.notes_zh.append("渐退期已满,停发" if previous.status == "exit" else "当地不设渐退期,停发")
        return
    out.status = "exit"
    out.exit = {"month": step, "months": total, "months_left": total - step, "amount": str(kept)}
    out.lines.append(Line("exit", "渐退期按原金额发放", kept, None, f"{reason};渐退期第{step}个月,共{total}个月"))


def _single(out: Breakdown, month: HouseholdMonth, counted: list[Person], rules: dict, last: _dt.date) -> None:
    spec = rules.get("single_person") or {}
    if len(month.covered) != 1:
        raise RuleError("SINGLE_PERSON_COVERED", "单人保须指定一名纳入保障的家庭成员")
    person = next((p for p in counted if p.person_id == month.covered[0]), None)
    if person is None:
        _ineligible(out, "纳入单人保的成员已死亡或不在家庭成员中")
        return
    if month.other_grounds_fail:
        _ineligible(out, *(f"不符合:{r}" for r in month.other_grounds_fail))
        return
    if not person.may_be_covered_alone:
        _ineligible(out, "该成员不是重病患者或重度残疾人(一、二级残疾或三级智力、精神残疾),不能单人保")
        return
    per_capita = out.counted_income_yuan / len(counted)
    multiple = money(spec.get("margin_multiple", "1.5"))
    if per_capita < out.standard_yuan:
        _ineligible(out, "家庭人均收入低于低保标准,应按整户低保计算")
        return
    if per_capita >= out.standard_yuan * multiple:
        _ineligible(out, f"家庭人均收入不低于低保标准的{multiple}倍,不属于低保边缘家庭")
        return
    base = out.standard_yuan * money(spec.get("percent", 100)) / 100
    detail = f"标准 {_yuan(out.standard_yuan, 4)} 元 × {spec.get('percent', 100)}%"
    if spec.get("counts_own_income", True) and person.own_income_yuan:
        base -= money(person.own_income_yuan)
        detail += f" − 本人月收入 {_yuan(money(person.own_income_yuan))} 元"
    if base <= 0:
        _ineligible(out, "本人收入不低于单人保金额")
        return
    out.family_size = 1
    out.lines.append(Line("single", "单人保", base, person.person_id, detail))
    if spec.get("addon", True):
        out.lines += _addon(person, rules, out.standard_yuan, last)


def _tekun(out: Breakdown, month: HouseholdMonth, counted: list[Person], rules: dict) -> None:
    spec = rules.get("tekun") or {}
    if month.tekun_mode not in TEKUN_MODE_ZH:
        raise RuleError("TEKUN_MODE", f"未知的供养方式:{month.tekun_mode}")
    covered = [p for p in counted if not month.covered or p.person_id in month.covered]
    if not covered:
        _ineligible(out, "供养对象已死亡或不在家庭成员中")
        return
    pct = money(spec.get(f"{month.tekun_mode}_percent", 100))
    care = spec.get("care_yuan") or {}
    out.family_size = len(covered)
    for person in covered:
        out.lines.append(Line("tekun_basic", f"基本生活费({TEKUN_MODE_ZH[month.tekun_mode]})",
                              out.standard_yuan * pct / 100, person.person_id,
                              f"特困基本生活标准 {_yuan(out.standard_yuan, 4)} 元 × {pct}%"))
        if person.self_care is None:
            raise RuleError("SELF_CARE_MISSING", "特困人员须先评估生活自理能力(全自理、部分失能、完全失能)")
        if person.self_care not in SELF_CARE_ZH:
            raise RuleError("SELF_CARE_UNKNOWN", f"未知的生活自理能力:{person.self_care}")
        amount = money(care.get(person.self_care, 0))
        if amount:
            out.lines.append(Line("tekun_care", f"照料护理补贴({SELF_CARE_ZH[person.self_care]})", amount,
                                  person.person_id))


def _finish(out: Breakdown, rules: dict) -> Breakdown:
    """Round once, at the end; lines are stored to the fen with the rounding difference as its own
    line, so the stored lines add up to the amount exactly."""
    unit = money(rules.get("rounding_yuan", "0.01"))
    exact = sum((ln.amount for ln in out.lines), Decimal(0))
    if out.status == "exit":  # the amount kept is the one paid before: never rounded again
        out.amount = exact.quantize(_FEN)
    else:
        out.amount = round_to(exact, unit).quantize(_FEN) if out.lines else Decimal("0.00")
    for ln in out.lines:
        ln.amount = ln.amount.quantize(_FEN, rounding=ROUND_HALF_UP)
    difference = out.amount - sum((ln.amount for ln in out.lines), Decimal(0))
    if difference:
        out.lines.append(Line("rounding", "舍入差", difference, None, f"合计只在最后按 {unit} 元舍入一次"))
    return out
