"""The low-income risk model (MN-3): will a monitored household be in hardship within the next
``horizon_months``?

Features are the columns of the gold mart ``monitoring/monitoring_features`` (one row per household
and month, only what was known by the month's end). The label comes from the synthetic province's
ground truth (``truth/household_months``: the generator's own hardship flag), read only to train and
evaluate. The split is by time: the model learns from earlier months and is judged on later ones it
never saw, with a gap of the horizon so no training label looks into the test window.

Artifacts are saved with skops, never pickle, and loaded only when every type in them is one this
module trusts (``TRUSTED_TYPES``); each trained model is a folder of the registry with its metadata
(data window, features, metrics, the training distribution of every feature for the drift check)
and a model card.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from jiuzhu import integrity, lake
from models import indicators

# (column of monitoring_features, what a township officer reads)
FEATURES: tuple[tuple[str, str], ...] = (
    ("income_ratio", "人均收入与低保标准之比"),
    ("fell_below_standard", "收入跌破低保标准"),
    ("income_drop_share", "家庭收入三个月降幅"),
    ("wage_drop_share", "工资收入降幅"),
    ("income_per_capita_yuan", "人均月收入(元)"),
    ("medical_oop_3m_yuan", "近三个月医疗自付(元)"),
    ("medical_burden", "医疗自付占收入比例"),
    ("members", "家庭人口"),
    ("working_age_members", "劳动年龄成员数"),
    ("elderly_members", "60岁以上成员数"),
    ("child_members", "16岁以下成员数"),
    ("severely_disabled_members", "重度残疾成员数"),
    ("unemployed_members", "失业登记成员数"),
    ("job_lost_members", "新近失业成员数"),
    ("contributions_stopped_members", "中断缴费成员数"),
    ("new_disabled_working_age", "新增残疾劳动年龄成员数"),
    ("deceased_3m", "近三个月死亡成员数"),
    ("deceased_working_age_3m", "近三个月死亡劳动年龄成员数"),
    ("deposits_months_of_standard", "人均存款相当于几个月低保标准"),
    ("has_bank_data", "有银行数据"),
    ("homes", "住房套数"),
    ("on_margin", "低保边缘家庭"),
    ("on_temporary", "领取临时救助"),
    ("monitored_target", "防返贫监测对象"),
    ("rural", "农村家庭"),
)
FEATURE_NAMES = [name for name, _ in FEATURES]
FEATURE_ZH = dict(FEATURES)
# the only types of a saved model skops does not trust by itself; anything else is refused on load
TRUSTED_TYPES = frozenset({"sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"})
MODEL_NAME = "risk"
GOLD_FEATURES = ("monitoring", "monitoring_features")


class UntrustedArtifact(ValueError):
    """A model file holds a type this platform does not trust: it is not loaded."""


@dataclass
class Trained:
    pipeline: Pipeline
    metadata: dict


# --- data --------------------------------------------------------------------------------------


def month_index(period: str) -> int:
    year, month = period.split("-")[:2]
    return int(year) * 12 + int(month) - 1


def read_features(lake_root: Path, periods: list[str] | None = None, *, version: int | None = None) -> pl.DataFrame:
    """The monitored population's rows of the gold features mart (optionally some months only)."""
    from deltalake import DeltaTable

    table = DeltaTable(str(lake.table_path(Path(lake_root), "gold", *GOLD_FEATURES)), version=version)
    filters = [("period", "in", list(periods))] if periods else None
    frame = pl.from_arrow(table.to_pyarrow_table(filters=filters))
    return prepare(indicators.population(frame))


def prepare(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(rural=(pl.col("area_type") == "农村").cast(pl.Int8))


def matrix(frame: pl.DataFrame) -> np.ndarray:
    return frame.select([pl.col(c).cast(pl.Float64) for c in FEATURE_NAMES]).to_numpy()


def _month_expr(column: str) -> pl.Expr:
    return pl.col(column).str.slice(0, 4).cast(pl.Int32) * 12 + pl.col(column).str.slice(5, 2).cast(pl.Int32) - 1


def labels(province_dir: Path, horizon: int, periods: list[str] | None = None) -> pl.DataFrame:
    """household_no, period, label: in hardship (the generator's truth) in one of the next months.
    With ``periods``, only those months are labelled (and only the truth they need is read)."""
    truth = pl.scan_parquet(str(Path(province_dir) / "truth" / "household_months" / "*.parquet")).select(
        "household_no", m=_month_expr("month"), hardship="hardship")
    bounds = truth.select(first=pl.col("m").min(), last=pl.col("m").max()).collect()
    first, last = int(bounds["first"][0]), int(bounds["last"][0])
    if periods:
        wanted = sorted({month_index(p) for p in periods})
        needed = sorted({w + h for w in wanted for h in range(1, horizon + 1)})
        truth = truth.filter(pl.col("m").is_in(needed))
    # hardship in month m makes a positive label for m-1 … m-horizon: the max over those shifts
    ahead = pl.concat([truth.filter(pl.col("hardship")).select("household_no", (pl.col("m") - h).alias("m"))
                       for h in range(1, horizon + 1)]).unique()
    base = (truth.select("household_no", "m").unique() if not periods else
            truth.select("household_no").unique().join(pl.LazyFrame({"m": wanted}, schema={"m": pl.Int32}), how="cross"))
    out = (base.with_columns(pl.col("m").cast(pl.Int32))
           .filter((pl.col("m") >= first) & (pl.col("m") + horizon <= last))
           .join(ahead.with_columns(pl.col("m").cast(pl.Int32), label=pl.lit(1, pl.Int8)), on=["household_no", "m"],
                 how="left")
           .with_columns(pl.col("label").fill_null(0).cast(pl.Int8)))
    return out.with_columns(period=_period_expr("m")).drop("m").collect()


def _period_expr(column: str) -> pl.Expr:
    year = (pl.col(column) // 12).cast(pl.Utf8)
    month = (pl.col(column) % 12 + 1).cast(pl.Utf8).str.zfill(2)
    return pl.concat_str([year, pl.lit("-"), month])


def time_split(periods: list[str], horizon: int, test_months: int = 4, warmup: int = 3,
               last_labelled: str | None = None) -> tuple[list[str], list[str]]:
    """Train on early months, test on the last labelled ones, with a gap of the horizon between."""
    ordered = sorted(set(periods))[warmup:]
    if last_labelled:
        ordered = [p for p in ordered if p <= last_labelled]
    if len(ordered) < test_months + horizon + 2:
        raise ValueError(f"至少需要{test_months + horizon + 2 + warmup}个月的数据才能按时间切分训练集与测试集")
    test = ordered[-test_months:]
    cut = month_index(test[0]) - horizon
    train = [p for p in ordered if month_index(p) < cut]
    return train, test


# --- the model ---------------------------------------------------------------------------------


def build_pipeline(seed: int = 0) -> Pipeline:
    # gradient-boosted trees handle the missing deposits (no bank reported) natively
    return Pipeline([("model", HistGradientBoostingClassifier(
        learning_rate=0.08, max_iter=300, max_leaf_nodes=31, min_samples_leaf=80, l2_regularization=1.0,
        early_stopping=True, validation_fraction=0.1, n_iter_no_change=20, random_state=seed))])


def feature_profile(x: np.ndarray) -> dict:
    """Training distribution of each feature: decile edges and shares (for PSI), and the median."""
    out = {}
    for j, name in enumerate(FEATURE_NAMES):
        col = x[:, j]
        col = col[~np.isnan(col)]
        if not len(col):
            out[name] = {"edges": [], "shares": [1.0], "median": 0.0, "missing_share": 1.0}
            continue
        edges = np.unique(np.quantile(col, np.linspace(0.1, 0.9, 9)))
        counts = np.bincount(np.searchsorted(edges, col, side="right"), minlength=len(edges) + 1)
        out[name] = {"edges": edges.round(6).tolist(), "shares": (counts / counts.sum()).round(6).tolist(),
                     "median": float(np.median(col)), "missing_share": float(1 - len(col) / x.shape[0])}
    return out


def psi(profile: dict, values: np.ndarray) -> float:
    """Population stability index of one feature against its training distribution."""
    values = values[~np.isnan(values)]
    if not len(values) or not profile["edges"]:
        return 0.0
    edges = np.asarray(profile["edges"])
    expected = np.asarray(profile["shares"])
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    actual = counts / counts.sum()
    e, a = np.clip(expected, 1e-4, None), np.clip(actual, 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))


def fit(frame: pl.DataFrame, *, seed: int = 0) -> Pipeline:
    x, y = matrix(frame), frame["label"].to_numpy()
    return build_pipeline(seed).fit(x, y)


def predict(pipeline: Pipeline, frame: pl.DataFrame) -> np.ndarray:
    if frame.height == 0:
        return np.zeros(0)
    return pipeline.predict_proba(matrix(frame))[:, 1]


def explain(pipeline: Pipeline, frame: pl.DataFrame, reference: dict[str, float], top: int = 3) -> list[list[dict]]:
    """Top contributing factors per row: how much the probability falls when one feature is set to
    the typical (median) household's value, keeping the others — the features that raise this
    household's risk most, with their values."""
    if frame.height == 0:
        return []
    x = matrix(frame)
    base = pipeline.predict_proba(x)[:, 1]
    n, f = x.shape
    swapped = np.repeat(x[None, :, :], f, axis=0)  # f × n × f
    for j, name in enumerate(FEATURE_NAMES):
        swapped[j, :, j] = reference.get(name, 0.0)
    delta = base[None, :] - pipeline.predict_proba(swapped.reshape(f * n, f))[:, 1].reshape(f, n)
    out = []
    for i in range(n):
        order = np.argsort(-delta[:, i])[:top]
        out.append([{"feature": FEATURE_NAMES[j], "name_zh": FEATURE_ZH[FEATURE_NAMES[j]],
                     "value": None if np.isnan(x[i, j]) else round(float(x[i, j]), 4),
                     "typical": round(float(reference.get(FEATURE_NAMES[j], 0.0)), 4),
                     "contribution": round(float(delta[j, i]), 4)}
                    for j in order if delta[j, i] > 0.001])
    return out


# --- the registry ------------------------------------------------------------------------------


def registry_dir(home: Path) -> Path:
    return Path(home) / "models" / "registry" / MODEL_NAME


def save(home: Path, trained: Trained, card: str) -> Path:
    """Write the model as a new registry version and make it the current one."""
    root = registry_dir(home)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S")
    version = f"{trained.metadata['train_window'][1]}-{stamp}"
    folder = root / version
    folder.mkdir(parents=True, exist_ok=False)
    sio.dump(trained.pipeline, folder / "model.skops")
    meta = {**trained.metadata, "version": version, "artifact_sha256": integrity.sha256_file(folder / "model.skops")}
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), "utf-8")
    (folder / "model_card.md").write_text(card, "utf-8")
    (root / "CURRENT").write_text(version + "\n", "utf-8")
    trained.metadata = meta
    return folder


def load_artifact(path: Path) -> Pipeline:
    """Load a skops file only if every type it holds is trusted; never unpickle."""
    untrusted = sio.get_untrusted_types(file=str(path))
    refused = sorted(set(untrusted) - TRUSTED_TYPES)
    if refused:
        raise UntrustedArtifact(f"模型文件包含未受信任的类型,拒绝加载:{', '.join(refused)}")
    return sio.load(str(path), trusted=list(untrusted))


def current_version(home: Path) -> str | None:
    pointer = registry_dir(home) / "CURRENT"
    return pointer.read_text("utf-8").strip() if pointer.exists() else None


def load(home: Path, version: str | None = None) -> Trained:
    version = version or current_version(home)
    if not version:
        raise FileNotFoundError("模型库中还没有已训练的风险模型,请先运行 jiuzhu model train")
    folder = registry_dir(home) / version
    meta = json.loads((folder / "metadata.json").read_text("utf-8"))
    if integrity.sha256_file(folder / "model.skops") != meta["artifact_sha256"]:
        raise UntrustedArtifact(f"模型文件{version}的校验值与登记不符,拒绝加载")
    pipeline = load_artifact(folder / "model.skops")
    return Trained(pipeline, meta)
