"""The monitoring indicators (MN-1) and the rule warnings (MN-3), from ``models/indicators.yaml``.

One file configures every indicator: the feature it reads, its threshold, its weight in the weighted
risk index, whether it is a rule warning, with which severity and which Chinese explanation. This
module validates that file, evaluates it on rows of the ``monitoring_features`` mart and explains
each warning in the words of the file.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from jiuzhu import departments

CONFIG_PATH = Path(__file__).with_name("indicators.yaml")
SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3}
SEVERITY_ZH = {"low": "一般", "medium": "较重", "high": "严重"}
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class ConfigError(ValueError):
    """The indicator file is not valid: the message says which entry and why (in Chinese)."""


@dataclass(frozen=True)
class Indicator:
    code: str
    name_zh: str
    definition: str
    feature: str
    op: str
    threshold: float
    weight: float
    sources: tuple[str, ...]
    warn: bool
    severity: str
    explanation_zh: str
    threshold_if_monitored: float | None = None

    def thresholds(self, frame: pl.DataFrame) -> np.ndarray:
        base = np.full(frame.height, float(self.threshold))
        if self.threshold_if_monitored is not None and "monitored_target" in frame.columns:
            monitored = frame["monitored_target"].fill_null(0).to_numpy() >= 1
            base[monitored] = float(self.threshold_if_monitored)
        return base

    def holds(self, frame: pl.DataFrame) -> np.ndarray:
        """Boolean per row; a missing value (e.g. no bank reported) never triggers an indicator."""
        values = frame[self.feature].cast(pl.Float64).to_numpy()
        known = ~np.isnan(values)
        return known & _OPS[self.op](np.where(known, values, 0.0), self.thresholds(frame))

    def explain(self, row: dict) -> str:
        values = {k: (0 if v is None else v) for k, v in row.items()}
        threshold = self.threshold
        if self.threshold_if_monitored is not None and (row.get("monitored_target") or 0) >= 1:
            threshold = self.threshold_if_monitored
        return self.explanation_zh.format(**values, threshold=threshold)

    @property
    def source_names(self) -> list[str]:
        return [departments.get(s).short_name for s in self.sources]


@dataclass(frozen=True)
class Config:
    version: str
    effective_from: str
    population: str
    horizon_months: int
    visit_budget_per_township: int
    model_warning_min_probability: float
    model_severity: dict[str, float]
    repush_after_days: int
    visit_within_days: dict[str, int]
    indicators: tuple[Indicator, ...] = field(default=())

    @property
    def total_weight(self) -> float:
        return sum(i.weight for i in self.indicators)

    def severity_of_probability(self, p: float) -> str | None:
        for level in ("high", "medium"):
            if p >= self.model_severity[level]:
                return level
        return None


def _indicator(raw: dict, seen: set[str]) -> Indicator:
    code = raw.get("code", "?")
    missing = [k for k in ("code", "name_zh", "feature", "op", "threshold", "weight", "sources", "severity",
                           "explanation_zh") if k not in raw]
    if missing:
        raise ConfigError(f"指标{code}缺少字段:{', '.join(missing)}")
    if code in seen:
        raise ConfigError(f"指标编码{code}重复")
    if raw["op"] not in _OPS:
        raise ConfigError(f"指标{code}的比较符“{raw['op']}”无效,应为 < <= > >= 之一")
    if raw["severity"] not in SEVERITY_RANK:
        raise ConfigError(f"指标{code}的严重程度“{raw['severity']}”无效,应为 low/medium/high")
    weight = float(raw["weight"])
    if not math.isfinite(weight) or weight < 0:
        raise ConfigError(f"指标{code}的权重须为非负数")
    for slug in raw["sources"]:
        try:
            departments.get(slug)
        except KeyError:
            raise ConfigError(f"指标{code}的数据来源“{slug}”不是已登记的共享单位") from None
    return Indicator(
        code=code, name_zh=raw["name_zh"], definition=str(raw.get("definition", "")).strip(), feature=raw["feature"],
        op=raw["op"], threshold=float(raw["threshold"]), weight=weight, sources=tuple(raw["sources"]),
        warn=bool(raw.get("warn", False)), severity=raw["severity"], explanation_zh=raw["explanation_zh"],
        threshold_if_monitored=(float(raw["threshold_if_monitored"]) if "threshold_if_monitored" in raw else None),
    )


def parse(text: str) -> Config:
    raw = yaml.safe_load(text) or {}
    for key in ("version", "effective_from", "indicators", "horizon_months", "visit_budget_per_township"):
        if key not in raw:
            raise ConfigError(f"指标配置缺少“{key}”")
    seen: set[str] = set()
    indicators = []
    for entry in raw["indicators"]:
        ind = _indicator(entry, seen)
        seen.add(ind.code)
        indicators.append(ind)
    config = Config(
        version=str(raw["version"]), effective_from=str(raw["effective_from"]), population=raw["population"],
        horizon_months=int(raw["horizon_months"]), visit_budget_per_township=int(raw["visit_budget_per_township"]),
        model_warning_min_probability=float(raw["model_warning_min_probability"]),
        model_severity={k: float(v) for k, v in raw["model_severity"].items()},
        repush_after_days=int(raw["repush_after_days"]),
        visit_within_days={k: int(v) for k, v in raw["visit_within_days"].items()}, indicators=tuple(indicators))
    if config.total_weight <= 0:
        raise ConfigError("指标权重之和须大于0")
    if set(config.visit_within_days) != set(SEVERITY_RANK):
        raise ConfigError("visit_within_days 须为 low/medium/high 各设时限")
    return config


@cache
def load(path: str | None = None) -> Config:
    return parse(Path(path or CONFIG_PATH).read_text("utf-8"))


def population(frame: pl.DataFrame) -> pl.DataFrame:
    """The monitored households: not already receiving dibao or tekun."""
    return frame.filter((pl.col("on_dibao") == 0) & (pl.col("on_tekun") == 0))


def evaluate(frame: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Add ``ind_<code>`` (0/1) per indicator, ``risk_index`` (0 … 1), ``rule_severity`` (0 none … 3
    high) and ``rule_count`` (warning rules that hold)."""
    weighted = np.zeros(frame.height)
    severity = np.zeros(frame.height, dtype=np.int8)
    count = np.zeros(frame.height, dtype=np.int16)
    columns = {}
    for ind in config.indicators:
        hold = ind.holds(frame)
        columns[f"ind_{ind.code}"] = hold.astype(np.int8)
        weighted += ind.weight * hold
        if ind.warn:
            severity = np.where(hold, np.maximum(severity, SEVERITY_RANK[ind.severity]), severity)
            count += hold
    return frame.with_columns(
        *[pl.Series(name, values) for name, values in columns.items()],
        pl.Series("risk_index", np.round(weighted / config.total_weight, 4)),
        pl.Series("rule_severity", severity), pl.Series("rule_count", count))


def reasons(row: dict, config: Config) -> list[dict]:
    """The warning rules that hold for one evaluated row, most severe first, each explained."""
    found = []
    for ind in config.indicators:
        if ind.warn and row.get(f"ind_{ind.code}"):
            found.append({"code": ind.code, "name_zh": ind.name_zh, "severity": ind.severity,
                          "explanation_zh": ind.explain(row), "sources": list(ind.sources),
                          "source_names": ind.source_names})
    return sorted(found, key=lambda r: (-SEVERITY_RANK[r["severity"]], r["code"]))


def index_terms(row: dict, config: Config) -> list[dict]:
    """What makes up one household's weighted index: every indicator that holds, with its weight."""
    return [{"code": i.code, "name_zh": i.name_zh, "weight": i.weight}
            for i in config.indicators if row.get(f"ind_{i.code}")]
