"""Monthly scoring: every monitored household of a month gets its model probability, weighted risk
index and rule findings; the households that should be warned get their explanation (the rules
that hold, in Chinese, and the model's top contributing factors). Written to the gold table
``monitoring/risk_scores`` one month at a time (re-scoring a month replaces only that month), with
the population stability index of every feature against the training distribution (drift).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from jiuzhu import lake
from models import indicators, resources, risk

GOLD_SCORES = ("monitoring", "risk_scores")
PSI_ALERT = 0.25  # the usual reading: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 significant shift


@dataclass
class ScoreResult:
    period: str
    model_version: str
    households: int
    persons: int
    candidates: int
    seconds: float
    table_version: int | None
    psi: dict[str, float] = field(default_factory=dict)

    @property
    def drifted(self) -> dict[str, float]:
        return {k: v for k, v in self.psi.items() if v > PSI_ALERT}


def scores_path(lake_root: Path) -> Path:
    return lake.table_path(Path(lake_root), "gold", *GOLD_SCORES)


def score_frame(frame: pl.DataFrame, trained: risk.Trained, config: indicators.Config,
                x: np.ndarray | None = None) -> pl.DataFrame:
    """Score one month's monitored households (rows of the features mart); explain the candidates.
    ``x`` is the frame's feature matrix when the caller has built it already."""
    evaluated = indicators.evaluate(frame, config)
    x = risk.matrix(frame) if x is None else x
    prob = np.round(trained.pipeline.predict_proba(x)[:, 1], 4) if frame.height else np.zeros(0)
    k = config.visit_budget_per_township
    scored = evaluated.with_columns(probability=pl.Series(prob, dtype=pl.Float64)).with_columns(
        rank_in_township=pl.col("probability").rank("ordinal", descending=True).over(["period", "township_code"])
        .cast(pl.Int32))
    model_pick = (pl.col("rank_in_township") <= k) & (pl.col("probability") >= config.model_warning_min_probability)
    scored = scored.with_columns(model_candidate=model_pick, rule_candidate=pl.col("rule_severity") > 0)
    candidates = scored.filter(pl.col("model_candidate") | pl.col("rule_candidate"))
    reference = {name: p["median"] for name, p in trained.metadata["feature_profile"].items()}
    factors = risk.explain(trained.pipeline, candidates, reference)
    rows = candidates.to_dicts()
    explained = pl.DataFrame({
        "household_no": [r["household_no"] for r in rows],
        "reasons_json": [json.dumps(indicators.reasons(r, config), ensure_ascii=False) for r in rows],
        "factors_json": [json.dumps(f, ensure_ascii=False) for f in factors],
        "index_terms_json": [json.dumps(indicators.index_terms(r, config), ensure_ascii=False) for r in rows],
        "needs": [",".join(resources.needs_of(r)) for r in rows],
    }, schema={"household_no": pl.Utf8, "reasons_json": pl.Utf8, "factors_json": pl.Utf8, "index_terms_json": pl.Utf8,
               "needs": pl.Utf8})
    keep = ["period", "household_no", "township_code", "county_code", "prefecture_code", "members",
            "probability", "risk_index", "rule_severity", "rule_count", "rank_in_township",
            "model_candidate", "rule_candidate"]
    out = scored.select(keep).join(explained, on="household_no", how="left")
    return out.with_columns(model_version=pl.lit(trained.metadata["version"]),
                            indicator_config_version=pl.lit(config.version))


def drift(trained: risk.Trained, x: np.ndarray) -> dict[str, float]:
    """The population stability index of every feature of the matrix against training."""
    profile = trained.metadata["feature_profile"]
    return {name: round(risk.psi(profile[name], x[:, j]), 4) for j, name in enumerate(risk.FEATURE_NAMES)}


def score_period(lake_root: Path, home: Path, period: str, *, config: indicators.Config | None = None,
                 trained: risk.Trained | None = None, write: bool = True) -> ScoreResult:
    config = config or indicators.load()
    trained = trained or risk.load(home)
    started = time.perf_counter()
    frame = risk.read_features(lake_root, [period])
    if frame.height == 0:
        raise ValueError(f"{period}没有可评分的监测指标数据(gold/monitoring/monitoring_features)")
    x = risk.matrix(frame)
    scored = score_frame(frame, trained, config, x)
    seconds = time.perf_counter() - started
    version = None
    if write:
        version = lake.write(scores_path(lake_root), scored.to_arrow(), mode="overwrite", partition_by=["period"],
                             predicate=f"period = '{period}'", description=f"risk scores {period}")
    return ScoreResult(period=period, model_version=trained.metadata["version"], households=scored.height,
                       persons=int(frame["members"].sum()), candidates=int(scored["reasons_json"].is_not_null().sum()),
                       seconds=round(seconds, 2), table_version=version, psi=drift(trained, x))


def read_scores(lake_root: Path, period: str, *, candidates_only: bool = True) -> list[dict]:
    from deltalake import DeltaTable

    path = scores_path(lake_root)
    if not lake.exists(path):
        return []
    table: pa.Table = DeltaTable(str(path)).to_pyarrow_table(filters=[("period", "=", period)])
    frame = pl.from_arrow(table)
    if candidates_only:
        frame = frame.filter(pl.col("reasons_json").is_not_null())
    return frame.to_dicts()


def latest_period(lake_root: Path) -> str | None:
    from deltalake import DeltaTable

    path = lake.table_path(Path(lake_root), "gold", *risk.GOLD_FEATURES)
    if not lake.exists(path):
        return None
    periods = DeltaTable(str(path)).to_pyarrow_table(columns=["period"]).column("period")
    return max(periods.to_pylist()) if len(periods) else None
