"""What the monitoring tests share: a features row of the mart, a toy risk model trained on rows
drawn from a seeded generator (hardship follows income and medical spending), and the publication of
a month's scores through the real scoring code."""

from __future__ import annotations

import numpy as np
import polars as pl

from jiuzhu import lake
from models import indicators, risk, scoring

TOWNSHIP, COUNTY = "510104017", "510104"  # 锦官驿街道, 锦江区
BASE = {
    "household_no": "510104000000001", "period": "2026-10", "township_code": "510104001", "county_code": "510104",
    "members": 3, "working_age_members": 2, "elderly_members": 0, "child_members": 1, "severely_disabled_members": 0,
    "income_per_capita_yuan": 1200.0, "standard_yuan": 800.0, "income_ratio": 1.5, "fell_below_standard": 0,
    "income_drop_share": 0.0, "wage_drop_share": 0.0, "medical_oop_3m_yuan": 0.0, "medical_burden": 0.0,
    "unemployed_members": 0, "job_lost_members": 0, "contributions_stopped_members": 0,
    "new_disabled_working_age": 0, "deceased_3m": 0, "deceased_working_age_3m": 0,
    "deposits_months_of_standard": 3.0, "has_bank_data": 1, "homes": 1, "on_margin": 0, "on_temporary": 0,
    "monitored_target": 0, "on_dibao": 0, "on_tekun": 0,
}
DEATH = {"deceased_working_age_3m": 1}
JOB = {"job_lost_members": 1}
MEDICAL = {"medical_oop_3m_yuan": 40000.0, "medical_burden": 2.0}


def toy_frame(n: int = 4000, seed: int = 1) -> pl.DataFrame:
    """Rows with every feature; hardship follows income against the standard and medical spending."""
    rng = np.random.default_rng(seed)
    data = {name: rng.integers(0, 3, n).astype(float) for name in risk.FEATURE_NAMES}
    data["income_ratio"] = rng.uniform(0, 3, n)
    data["medical_oop_3m_yuan"] = rng.exponential(3000, n)
    data["deposits_months_of_standard"] = np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0, 10, n))
    p = 1 / (1 + np.exp(4 * (data["income_ratio"] - 0.8) - data["medical_oop_3m_yuan"] / 4000))
    data["label"] = (rng.random(n) < p).astype(np.int8)
    return pl.DataFrame(data)


def toy_model() -> risk.Trained:
    frame = toy_frame()
    meta = {"version": "test-1", "train_window": ["2025-01", "2025-10"],
            "feature_profile": risk.feature_profile(risk.matrix(frame))}
    return risk.Trained(risk.fit(frame, seed=3), meta)


def publish(root, model: risk.Trained, period: str, households: dict[str, dict]) -> None:
    """Score the month's households with the real scoring code and publish to gold, as the asset does."""
    rows = [{**BASE, "household_no": no, "period": period, "township_code": TOWNSHIP, "county_code": COUNTY,
             "prefecture_code": "510100", "area_type": "城镇", "head_ethnicity": "01", **change}
            for no, change in households.items()]
    scored = scoring.score_frame(risk.prepare(pl.DataFrame(rows)), model, indicators.load())
    lake.write(scoring.scores_path(root), scored.to_arrow(), partition_by=["period"], predicate=f"period = '{period}'")
