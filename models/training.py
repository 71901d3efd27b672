"""Train and evaluate the risk model side by side with the weighted index and the rules.

On a held-out window of later months: ROC-AUC, PR-AUC, Brier score and precision/recall at the
township visit budget (the top k households of each township each month), for the model, the
weighted risk index of ``models/indicators.yaml`` and the rule warnings; calibration of the model;
recall by prefecture and by ethnic group (the fairness table). ``jiuzhu model train|evaluate``
write the result to ``docs/models/``.
"""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from jiuzhu import regions
from models import indicators, risk
from schemas import contracts

SCORES = {"model": "风险模型", "index": "加权风险指数", "rules": "规则预警"}
MIN_GROUP_POSITIVES = 30


def dataset(lake_root: Path, province_dir: Path, config: indicators.Config,
            periods: list[str] | None = None) -> pl.DataFrame:
    """Every monitored household-month (of ``periods``, default all) with a known label, indicators evaluated."""
    frame = risk.read_features(lake_root, periods)
    labelled = frame.join(risk.labels(province_dir, config.horizon_months, periods), on=["household_no", "period"])
    return indicators.evaluate(labelled, config)


def _platt(train_score: np.ndarray, train_y: np.ndarray, score: np.ndarray) -> np.ndarray:
    lr = LogisticRegression().fit(train_score.reshape(-1, 1), train_y)
    return lr.predict_proba(score.reshape(-1, 1))[:, 1]


def rule_score(frame: pl.DataFrame) -> np.ndarray:
    return frame["rule_severity"].to_numpy() + 0.01 * frame["rule_count"].to_numpy()


def at_budget(frame: pl.DataFrame, score: np.ndarray, k: int) -> np.ndarray:
    """Selected (True) for the top ``k`` of each township and month; ties broken by a fixed hash."""
    ranked = (frame.select("period", "township_code", "household_no")
              .with_columns(score=pl.Series(score), tie=pl.col("household_no").hash(7), row=pl.int_range(pl.len()))
              .sort(["period", "township_code", "score", "tie"], descending=[False, False, True, False])
              .with_columns(rank=pl.int_range(pl.len()).over(["period", "township_code"])))
    selected = np.zeros(frame.height, dtype=bool)
    rows = ranked.filter(pl.col("rank") < k)["row"].to_numpy()
    selected[rows] = True
    return selected


def _metrics(y: np.ndarray, score: np.ndarray, prob: np.ndarray, selected: np.ndarray) -> dict:
    chosen = int(selected.sum())
    hits = int((selected & (y == 1)).sum())
    return {"roc_auc": round(float(roc_auc_score(y, score)), 4),
            "pr_auc": round(float(average_precision_score(y, score)), 4),
            "brier": round(float(brier_score_loss(y, prob)), 4),
            "precision_at_k": round(hits / chosen, 4) if chosen else 0.0,
            "recall_at_k": round(hits / max(int(y.sum()), 1), 4), "selected": chosen, "hits": hits}


def _calibration(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> list[dict]:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(prob, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append({"bin": f"{edges[b]:.1f}–{edges[b + 1]:.1f}", "households": int(mask.sum()),
                        "mean_predicted": round(float(prob[mask].mean()), 4),
                        "observed_rate": round(float(y[mask].mean()), 4)})
    return out


def ethnic_group(frame: pl.DataFrame, top: int = 4) -> pl.Series:
    counts = frame["head_ethnicity"].fill_null("未知").value_counts(sort=True)
    keep = set(counts["head_ethnicity"].head(top).to_list())
    return frame["head_ethnicity"].fill_null("未知").map_elements(lambda e: e if e in keep else "其他",
                                                                  return_dtype=pl.Utf8)


def group_name(dim: str, code: str) -> str:
    if dim == "prefecture":
        try:
            return f"{regions.load().get(code).name} ({code})"
        except KeyError:
            return code
    names = next((f.codes for f in contracts.latest("gongan").fields if f.name == "ethnicity"), None) or {}
    return f"{names[code]} ({code})" if code in names else code


def _fairness(test: pl.DataFrame, y: np.ndarray, selected: dict[str, np.ndarray]) -> dict:
    out = {}
    # the size of each household's township (monitored households in the township that month)
    size = test.select(pl.len().over(["period", "township_code"]).alias("n"))["n"].to_numpy()
    for dim, groups in (("prefecture", test["prefecture_code"]), ("ethnicity", ethnic_group(test))):
        rows = []
        labels = groups.to_numpy()
        for g in sorted(set(labels)):
            mask = labels == g
            positives = int((y[mask] == 1).sum())
            row = {"group": g, "name": group_name(dim, g), "households": int(mask.sum()), "positives": positives,
                   "positive_rate": round(positives / max(int(mask.sum()), 1), 4),
                   "households_per_township": round(float(size[mask].mean()), 1)}
            for name, sel in selected.items():
                row[f"recall_{name}"] = round(float((sel[mask] & (y[mask] == 1)).sum() / positives), 4) \
                    if positives else None
            rows.append(row)
        judged = [r for r in rows if r["positives"] >= MIN_GROUP_POSITIVES]
        gaps = {}
        for name in selected:
            values = [r[f"recall_{name}"] for r in judged]
            gaps[name] = round(max(values) - min(values), 4) if values else None
        corr = None
        if len(judged) >= 3:
            corr = round(float(np.corrcoef([r["households_per_township"] for r in judged],
                                           [r["recall_model"] for r in judged])[0, 1]), 3)
        out[dim] = {"groups": rows, "gap": gaps, "min_positives": MIN_GROUP_POSITIVES,
                    "corr_township_size_recall_model": corr}
    return out


def split(data: pl.DataFrame, config: indicators.Config, test_months: int = 4
          ) -> tuple[pl.DataFrame, pl.DataFrame, list[str], list[str]]:
    train_p, test_p = risk.time_split(data["period"].unique().to_list(), config.horizon_months, test_months)
    return data.filter(pl.col("period").is_in(train_p)), data.filter(pl.col("period").is_in(test_p)), train_p, test_p


def evaluate(pipeline, train: pl.DataFrame, test: pl.DataFrame, config: indicators.Config) -> dict:
    """The model, the weighted index and the rules on the held-out months, side by side."""
    y, y_train = test["label"].to_numpy(), train["label"].to_numpy()
    k = config.visit_budget_per_township
    prob = risk.predict(pipeline, test)
    index, index_train = test["risk_index"].to_numpy(), train["risk_index"].to_numpy()
    rules, rules_train = rule_score(test), rule_score(train)
    selected = {"model": at_budget(test, prob, k), "index": at_budget(test, index, k),
                "rules": at_budget(test, rules, k)}
    metrics = {
        "model": _metrics(y, prob, prob, selected["model"]),
        "index": _metrics(y, index, _platt(index_train, y_train, index), selected["index"]),
        "rules": _metrics(y, rules, _platt(rules_train, y_train, rules), selected["rules"]),
    }
    return {"metrics": metrics, "calibration": _calibration(y, prob), "fairness": _fairness(test, y, selected),
            "rows": {"train": train.height, "test": test.height},
            "positive_rate": {"train": round(float(y_train.mean()), 4), "test": round(float(y.mean()), 4)},
            "townships": int(test["township_code"].n_unique())}


def train_and_evaluate(lake_root: Path, province_dir: Path, config: indicators.Config | None = None, *,
                       seed: int = 0, test_months: int = 4) -> tuple[risk.Trained, dict]:
    config = config or indicators.load()
    data = dataset(lake_root, province_dir, config)
    train, test, train_p, test_p = split(data, config, test_months)
    started = time.perf_counter()
    pipeline = risk.fit(train, seed=seed)
    fit_s = time.perf_counter() - started
    metadata = {
        "model": risk.MODEL_NAME, "estimator": "HistGradientBoostingClassifier",
        "trained_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "seed": seed,
        "indicator_config_version": config.version, "horizon_months": config.horizon_months,
        "visit_budget_per_township": config.visit_budget_per_township, "features": risk.FEATURE_NAMES,
        "train_window": [train_p[0], train_p[-1]], "test_window": [test_p[0], test_p[-1]],
        **evaluate(pipeline, train, test, config),
        "feature_profile": risk.feature_profile(risk.matrix(train)),
        "iterations": int(pipeline[-1].n_iter_), "fit_seconds": round(fit_s, 1),
    }
    return risk.Trained(pipeline, metadata), metadata


def reevaluate(trained: risk.Trained, lake_root: Path, province_dir: Path,
               config: indicators.Config | None = None) -> dict:
    """Judge a registered model again on its own held-out months, against today's lake."""
    config = config or indicators.load()
    data = dataset(lake_root, province_dir, config)
    meta = trained.metadata
    train = data.filter(pl.col("period").is_between(pl.lit(meta["train_window"][0]), pl.lit(meta["train_window"][1])))
    test = data.filter(pl.col("period").is_between(pl.lit(meta["test_window"][0]), pl.lit(meta["test_window"][1])))
    return {**meta, **evaluate(trained.pipeline, train, test, config)}


def _pct(v: float) -> str:
    return f"{v * 100:.1f}%"


def comparison_markdown(meta: dict) -> str:
    m = meta["metrics"]
    lines = ["| | ROC-AUC | PR-AUC | Brier | precision@k | recall@k |", "|---|---|---|---|---|---|"]
    for name, label in SCORES.items():
        r = m[name]
        lines.append(f"| {label} ({name}) | {r['roc_auc']:.3f} | {r['pr_auc']:.3f} | {r['brier']:.4f} | "
                     f"{_pct(r['precision_at_k'])} | {_pct(r['recall_at_k'])} |")
    return "\n".join(lines)


def verdict(meta: dict) -> str:
    m, i = meta["metrics"]["model"], meta["metrics"]["index"]
    d_pr, d_p = m["pr_auc"] - i["pr_auc"], m["precision_at_k"] - i["precision_at_k"]
    beats = d_pr > 0 and d_p > 0
    return (f"The model {'beats' if beats else 'does NOT beat'} the weighted index: PR-AUC {m['pr_auc']:.3f} vs "
            f"{i['pr_auc']:.3f} ({d_pr:+.3f}, {d_pr / max(i['pr_auc'], 1e-9):+.0%}), precision at the budget "
            f"{_pct(m['precision_at_k'])} vs {_pct(i['precision_at_k'])} ({d_p * 100:+.1f} points).")


def _fairness_md(meta: dict) -> str:
    out = []
    names = {"prefecture": "Prefecture (市州)", "ethnicity": "Ethnic group of the household head (户主民族)"}
    for dim, block in meta["fairness"].items():
        out.append(f"**{names[dim]}** — recall at the budget; groups with fewer than {block['min_positives']} "
                   f"positives are listed but not judged. Gap (max − min): model "
                   f"{block['gap']['model']}, index {block['gap']['index']}, rules {block['gap']['rules']}.\n")
        corr = block.get("corr_township_size_recall_model")
        if corr is not None:
            out.append(f"Correlation between a group's monitored households per township and the model's recall: "
                       f"r = {corr} — with a fixed visit budget per township, the larger the townships, the smaller "
                       f"the share of their households that can be visited.\n")
        out.append("| group | household-months | positives | positive rate | monitored households per township "
                   "| model | index | rules |")
        out.append("|---|---|---|---|---|---|---|---|")
        for r in block["groups"]:
            cells = [("—" if r[f"recall_{n}"] is None else _pct(r[f"recall_{n}"])) for n in SCORES]
            out.append(f"| {r['name']} | {r['households']:,} | {r['positives']:,} | {_pct(r['positive_rate'])} | "
                       f"{r['households_per_township']} | "
                       + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def model_card(meta: dict) -> str:
    cal = "\n".join(f"| {c['bin']} | {c['households']:,} | {c['mean_predicted']:.3f} | {c['observed_rate']:.3f} |"
                    for c in meta["calibration"])
    feats = "\n".join(f"- `{f}` — {risk.FEATURE_ZH[f]}" for f in meta["features"])
    return f"""# Model card — low-income risk model `{meta.get('version', '(unsaved)')}`

- **Task**: will a household not receiving dibao or tekun be in hardship (the generator's ground
  truth: eligible for dibao, or below the standard after three months' medical spending, assets within
  limits) in one of the next {meta['horizon_months']} months?
- **Estimator**: scikit-learn `{meta['estimator']}` in a `Pipeline` ({meta['iterations']} boosting
  iterations, early stopping), seed {meta['seed']}; saved with skops (`model.skops`, sha256 in
  `metadata.json`); loading refuses any type outside `models.risk.TRUSTED_TYPES`.
- **Data window**: trained on {meta['train_window'][0]} … {meta['train_window'][1]}
  ({meta['rows']['train']:,} household-months, {_pct(meta['positive_rate']['train'])} positive); tested on
  the later, unseen months {meta['test_window'][0]} … {meta['test_window'][1]}
  ({meta['rows']['test']:,} household-months, {_pct(meta['positive_rate']['test'])} positive, {meta['townships']:,}
  townships), with a gap of the horizon so no training label looks into the test window.
- **Indicator configuration**: `models/indicators.yaml` version {meta['indicator_config_version']};
  visit budget k = {meta['visit_budget_per_township']} households per township and month.

## Features (gold `monitoring/monitoring_features`, known by the month's end)
{feats}

Prefecture and ethnicity are **not** features; they are used only to measure error rates below.

## Metrics on the held-out months
{comparison_markdown(meta)}

{verdict(meta)}

The index and the rules are scores, not probabilities: their Brier scores are of a one-variable
logistic calibration fitted on the training months. precision@k and recall@k select the top
{meta['visit_budget_per_township']} households of every township each month (ties broken by a fixed hash).

## Calibration (model, held-out months)
| predicted | households | mean predicted | observed |
|---|---|---|---|
{cal}

## Error rates by group
{_fairness_md(meta)}
## Reading the error rates
The model never sees the prefecture or the ethnic group; its recall differs between groups because
the visit budget is fixed per township while townships differ in size and in the share of
households falling into hardship. Urban prefectures (Chengdu above all) have large townships, so
three visits a month reach a small share of their households; the prefectures of Ganzi, Aba and
Liangshan, where most households headed by Tibetan and Yi members live, have small townships and
higher positive rates, so the same budget reaches most of the households at risk. The index and the
rules show the same pattern with larger gaps. A fairer allocation is a budget proportional to a
township's monitored households — a policy choice for the department, not a property of the model.

## Limitations
- The labels are the synthetic generator's truth; on real data the label would be a later
  determination (认定) of dibao, tekun or hardship, which arrives with delay and only for households
  that applied — expect lower scores and selection bias.
- Households whose income reaches no feed (uninsured migrant work) look poorer than they are; the
  model learns the generator's rate of such households.
- A fixed budget per township is unfair to large townships and generous to small ones: recall
  differs between prefectures mostly because their townships differ in size and poverty rate, not
  because the model treats them differently (it never sees the prefecture).
- Disasters are not a feature: no connected feed carries them.
- Retrain when the drift check (population stability index per feature) flags a feature, or when
  the indicator configuration changes.
"""
