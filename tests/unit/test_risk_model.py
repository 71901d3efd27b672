"""The risk model's artifacts and mechanics: skops round-trips through the registry, untrusted or
altered files are refused, the split never lets a training label look into the test window, the
drift index sees a shift, the explanation names the feature that drives the risk, and the label is
the generator's hardship in the next months."""

import json
import os

import numpy as np
import polars as pl
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from models import risk
from tests.monitoringkit import toy_frame


@pytest.fixture(scope="module")
def trained():
    frame = toy_frame()
    pipeline = risk.fit(frame, seed=3)
    meta = {"train_window": ["2025-01", "2025-10"], "feature_profile": risk.feature_profile(risk.matrix(frame))}
    return risk.Trained(pipeline, meta), frame


def test_a_saved_model_loads_back_identically_from_the_registry(trained, tmp_path):
    model, frame = trained
    folder = risk.save(tmp_path, risk.Trained(model.pipeline, dict(model.metadata)), "# card")
    assert (folder / "model.skops").exists() and (folder / "model_card.md").read_text("utf-8") == "# card"
    assert risk.current_version(tmp_path) == folder.name
    loaded = risk.load(tmp_path)
    np.testing.assert_array_equal(loaded.pipeline.predict_proba(risk.matrix(frame)),
                                  model.pipeline.predict_proba(risk.matrix(frame)))
    assert loaded.metadata["artifact_sha256"] and loaded.metadata["version"] == folder.name


def test_an_artifact_holding_an_untrusted_type_is_refused(tmp_path):
    hostile = Pipeline([("f", FunctionTransformer(func=os.system))])
    path = tmp_path / "hostile.skops"
    sio.dump(hostile, path)
    with pytest.raises(risk.UntrustedArtifact, match="未受信任的类型"):
        risk.load_artifact(path)


def test_an_altered_artifact_is_refused(trained, tmp_path):
    model, _ = trained
    folder = risk.save(tmp_path, risk.Trained(model.pipeline, dict(model.metadata)), "# card")
    meta = json.loads((folder / "metadata.json").read_text("utf-8"))
    meta["artifact_sha256"] = "0" * 64
    (folder / "metadata.json").write_text(json.dumps(meta), "utf-8")
    with pytest.raises(risk.UntrustedArtifact, match="校验值"):
        risk.load(tmp_path)


def test_loading_with_an_empty_registry_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="jiuzhu model train"):
        risk.load(tmp_path)


def test_the_time_split_keeps_a_gap_of_the_horizon_before_the_test_months():
    periods = [f"{(2024 * 12 + 10 + i) // 12}-{(2024 * 12 + 10 + i) % 12 + 1:02d}" for i in range(21)]  # 2024-11 …
    train, test = risk.time_split(periods, horizon=3, test_months=4)
    assert test == periods[-4:]
    assert min(train) == periods[3]  # three warm-up months without a full window
    assert risk.month_index(test[0]) - risk.month_index(max(train)) > 3
    with pytest.raises(ValueError, match="至少需要"):
        risk.time_split(periods[:8], horizon=3, test_months=4)


def test_the_drift_index_is_near_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 20000)
    profile = risk.feature_profile(np.column_stack([base] * len(risk.FEATURE_NAMES)))["income_ratio"]
    assert risk.psi(profile, rng.normal(0, 1, 20000)) < 0.02
    assert risk.psi(profile, rng.normal(1.0, 1, 20000)) > 0.25


def test_the_explanation_names_what_raises_a_households_risk(trained):
    model, frame = trained
    reference = {k: v["median"] for k, v in model.metadata["feature_profile"].items()}
    poor = frame.head(1).with_columns(income_ratio=pl.lit(0.1), medical_oop_3m_yuan=pl.lit(100.0))
    factors = risk.explain(model.pipeline, poor, reference)[0]
    assert factors and factors[0]["feature"] == "income_ratio"
    assert factors[0]["name_zh"] == "人均收入与低保标准之比" and factors[0]["value"] == pytest.approx(0.1)
    assert all(f["contribution"] > 0 for f in factors)


def test_the_label_is_hardship_in_one_of_the_next_months(tiny_province):
    out = risk.labels(tiny_province, horizon=3)
    truth = pl.read_parquet(str(tiny_province / "truth" / "household_months" / "*.parquet"),
                            columns=["household_no", "month", "hardship"])
    months = sorted(truth["month"].unique().to_list())
    assert set(out["period"].unique().to_list()) == set(months[:-3])  # the last three have no full future
    hardship = {(r["household_no"], r["month"]): r["hardship"] for r in truth.iter_rows(named=True)}
    for row in out.sample(300, seed=2).iter_rows(named=True):
        i = months.index(row["period"])
        expected = any(hardship.get((row["household_no"], m), False) for m in months[i + 1:i + 4])
        assert row["label"] == int(expected)


def test_labels_of_some_months_are_those_of_the_full_labelling(tiny_province):
    full = risk.labels(tiny_province, horizon=3)
    months = sorted(full["period"].unique().to_list())[5:7]
    part = risk.labels(tiny_province, horizon=3, periods=months)
    expected = full.filter(pl.col("period").is_in(months)).sort(["household_no", "period"])
    assert part.sort(["household_no", "period"]).select(expected.columns).equals(expected)
