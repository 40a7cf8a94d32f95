"""Evaluation and training: bars -> features + labels -> cross-validated scores -> a fitted model with its
lineage.

* :func:`make_dataset` — features (:func:`~workbench.ml.features.build_features`) joined to labels
  (:func:`~workbench.ml.labels.make_labels`) by ``ts``; the first ``spec.warm_up`` bars are dropped
  (features not defined yet), later missing values stay NaN (every model handles them). Target: ``label
  > 0``. ``t0`` = the bar's time, ``t1`` = the label's end (for purging).
* :func:`evaluate` — one model under one CV scheme: per-split scores (``log_loss`` by default, lower is
  better; ``auc`` and ``accuracy`` also reported), their mean, the chance baseline (a constant
  prediction of the training base rate) and the out-of-sample probabilities (the mean over the splits
  that tested each sample; NaN where none did, e.g. walk-forward's first block).
* :func:`naive_vs_purged` — the same model and data under naive shuffled k-fold, purged k-fold, CPCV and
  walk-forward, side by side: what leakage through overlapping labels is worth.
* :func:`train` — the whole path: optional Ray Tune search (``tune=N`` trials scored by purged CV), CV,
  the naive score, the model refitted on all samples, MDI/MDA/SHAP importance, and the lineage
  (:class:`TrainResult`).
"""

from __future__ import annotations

import hashlib
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from workbench.errors import ConfigError, DataError
from workbench.ml.cv import make_cv
from workbench.ml.features import FEATURE_SET_VERSION, FeatureSpec, build_features, feature_set_id
from workbench.ml.labels import LabelSpec, binary_target, make_labels
from workbench.ml.models import MODELS, TREE_MODELS, make_model, model_params, positive_proba

__all__ = [
    "SCORES",
    "CVResult",
    "Dataset",
    "TrainResult",
    "make_dataset",
    "evaluate",
    "naive_vs_purged",
    "train",
    "predict",
    "bars_hash",
    "search_space",
    "tune_params",
]

Progress = Callable[[str, float], None]

# -- scores --------------------------------------------------------------------------------------------

_EPS = 1e-15


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((p >= 0.5) == (y == 1)))


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if 0 < y.sum() < y.size else float("nan")


SCORES: dict[str, tuple[Callable[[np.ndarray, np.ndarray], float], bool]] = {
    "log_loss": (_log_loss, False),
    "auc": (_auc, True),
    "accuracy": (_accuracy, True),
}
"""name -> (score(y, p), higher is better)."""


@dataclass(frozen=True)
class CVResult:
    """Scores of one model under one CV scheme. ``scores``: ``metric`` per split; ``mean``: their mean;
    ``baseline``: the same metric for a constant prediction of each split's training base rate (chance);
    ``other``: the mean of every other metric in :data:`SCORES`; ``oos_proba``: P(1) per sample from the
    splits that tested it (NaN where none did)."""

    scheme: str
    folds: int
    scores: tuple[float, ...]
    mean: float
    oos_proba: np.ndarray = field(repr=False, compare=False)
    metric: str = "log_loss"
    baseline: float = float("nan")
    other: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def higher_is_better(self) -> bool:
        return SCORES[self.metric][1]

    @property
    def std(self) -> float:
        return float(np.std(self.scores, ddof=1)) if len(self.scores) > 1 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """The CLI's ``cv`` object: scheme, folds, scores, mean (+ metric, baseline, the other metrics)."""

        def num(x: float) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        return {
            "scheme": self.scheme,
            "folds": self.folds,
            "scores": [num(s) for s in self.scores],
            "mean": num(self.mean),
            "metric": self.metric,
            "baseline": num(self.baseline),
            **{k: num(v) for k, v in self.other.items()},
        }


# -- data ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """The learning problem: ``X`` (samples × features), ``y`` (0/1), ``t0``/``t1`` (label start/end,
    datetime64[us]) and the label frame they came from."""

    X: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    t0: np.ndarray = field(repr=False)
    t1: np.ndarray = field(repr=False)
    feature_names: list[str]
    labels: pl.DataFrame = field(repr=False)

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


def make_dataset(
    bars: pl.DataFrame,
    *,
    spec: FeatureSpec | None = None,
    label: LabelSpec | str = "triple_barrier",
    entries: pl.DataFrame | None = None,
    features: pl.DataFrame | None = None,
) -> Dataset:
    """Features at each labelled bar (warm-up bars dropped), target ``label > 0``."""
    spec = spec or FeatureSpec()
    feats = features if features is not None else build_features(bars, spec=spec)
    labels = make_labels(bars, LabelSpec.parse(label), entries=entries)
    warm = feats.slice(min(spec.warm_up, feats.height))
    joined = labels.join(warm, on="ts", how="inner").sort("ts")
    if joined.height == 0:
        raise DataError(
            f"no labelled samples after the {spec.warm_up}-bar warm-up ({bars.height} bars); use more bars",
            file="bars",
            where="labels",
        )
    names = [c for c in feats.columns if c != "ts"]
    X = joined.select(names).to_numpy().astype(np.float64)
    return Dataset(
        X=X,
        y=binary_target(joined),
        t0=joined["ts"].to_numpy(),
        t1=joined["t1"].to_numpy(),
        feature_names=names,
        labels=joined.select(labels.columns),
    )


def bars_hash(bars: pl.DataFrame) -> str:
    """sha256 of the bars' content: ts (int64 µs) and open/high/low/close/volume (float64, nulls as NaN),
    each column's name and bytes in that order — the same bars give the same hash in any process."""
    h = hashlib.sha256()
    h.update(str(bars.height).encode())
    for c in ("ts", "open", "high", "low", "close", "volume"):
        if c not in bars.columns:
            continue
        s = bars[c]
        if c == "ts":
            arr = s.cast(pl.Datetime("us")).cast(pl.Int64).fill_null(np.iinfo(np.int64).min).to_numpy()
        else:
            arr = s.cast(pl.Float64).fill_null(float("nan")).to_numpy()
        h.update(c.encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


# -- evaluation ----------------------------------------------------------------------------------------


def _as_matrix(X: Any) -> np.ndarray:
    if isinstance(X, pl.DataFrame):
        X = X.drop("ts", strict=False).to_numpy()
    return np.asarray(X, dtype=np.float64)


def evaluate(
    X: Any,
    y: Any,
    t0: Any,
    t1: Any,
    model: str,
    cv: Any = "purged",
    *,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    scoring: str = "log_loss",
    cv_params: dict[str, Any] | None = None,
) -> CVResult:
    """Fit ``MODELS[model](seed, **params)`` on each split's training set and score it on the test set."""
    if scoring not in SCORES:
        raise ConfigError(f"unknown score {scoring!r} (known: {', '.join(SCORES)})")
    MODELS.get(model)
    X = _as_matrix(X)
    y = np.asarray(y).astype(np.int64)
    splitter = make_cv(cv, **(cv_params or {}))
    full = model_params(model, params)
    per: dict[str, list[float]] = {k: [] for k in SCORES}
    base: list[float] = []
    p_sum = np.zeros(y.shape[0])
    p_cnt = np.zeros(y.shape[0])
    for train_idx, test_idx in splitter.split(t0, t1):
        if train_idx.size == 0 or test_idx.size == 0:
            continue
        m = make_model(model, seed, full)
        ytr = y[train_idx]
        if ytr.min() == ytr.max():  # one class only: the model can only say the base rate
            p = np.full(test_idx.size, float(ytr[0]))
        else:
            m.fit(X[train_idx], ytr)
            p = positive_proba(m, X[test_idx])
        yte = y[test_idx]
        for k, (fn, _) in SCORES.items():
            per[k].append(fn(yte, p))
        rate = float(ytr.mean())
        base.append(SCORES[scoring][0](yte, np.full(test_idx.size, rate)) if scoring != "auc" else 0.5)
        p_sum[test_idx] += p
        p_cnt[test_idx] += 1
    if not per[scoring]:
        raise DataError(
            f"cv {splitter.name}: no split had both training and test samples", file="cv", where="split"
        )
    with np.errstate(invalid="ignore"):
        oos = np.where(p_cnt > 0, p_sum / np.maximum(p_cnt, 1), np.nan)
    scores = tuple(float(s) for s in per[scoring])
    return CVResult(
        scheme=splitter.name,
        folds=len(scores),
        scores=scores,
        mean=float(np.nanmean(scores)),
        oos_proba=oos,
        metric=scoring,
        baseline=float(np.mean(base)),
        other={k: float(np.nanmean(v)) for k, v in per.items() if k != scoring},
        params=full,
    )


def naive_vs_purged(
    X: Any,
    y: Any,
    t0: Any,
    t1: Any,
    model: str = "lightgbm",
    *,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    n_splits: int = 5,
    embargo: float = 0.01,
    schemes: Sequence[str] = ("naive", "purged", "cpcv", "walk_forward"),
) -> pl.DataFrame:
    """One row per CV scheme on the same samples and model: ``log_loss``, ``auc``, ``accuracy`` (means
    over splits), ``baseline_log_loss`` (constant base-rate prediction), and ``auc_inflation`` /
    ``log_loss_inflation``: how much better the naive scheme looks than this one (naive AUC - AUC,
    log loss - naive log loss; > 0 = the naive score is inflated)."""
    cv_args = {
        "naive": {"n_splits": n_splits, "seed": seed},
        "purged": {"n_splits": n_splits, "embargo": embargo},
        "cpcv": {"n_groups": max(n_splits + 1, 3), "n_test_groups": 2, "embargo": embargo},
        "walk_forward": {"n_splits": n_splits},
    }
    rows = []
    for scheme in schemes:
        r = evaluate(X, y, t0, t1, model, scheme, seed=seed, params=params, cv_params=cv_args.get(scheme, {}))
        rows.append(
            {
                "scheme": scheme,
                "model": model,
                "splits": r.folds,
                "log_loss": r.mean,
                "auc": r.other["auc"],
                "accuracy": r.other["accuracy"],
                "baseline_log_loss": r.baseline,
            }
        )
    out = pl.DataFrame(rows)
    naive = out.filter(pl.col("scheme") == "naive")
    if naive.height:
        n_auc, n_ll = naive["auc"][0], naive["log_loss"][0]
        out = out.with_columns(
            auc_inflation=n_auc - pl.col("auc"),
            log_loss_inflation=pl.col("log_loss") - n_ll,
        )
    return out


# -- training ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainResult:
    """A model fitted on every sample, with its lineage. ``cv``: its purged (or chosen) CV;
    ``naive_cv_mean``: the same metric under naive shuffled k-fold (inflated on overlapping labels);
    ``importance``: feature, mdi, mda, shap (null where the model has none); ``oos``: ``ts, proba`` —
    out-of-sample P(1) from the CV, for backtesting the signal; ``bars_hash``: :func:`bars_hash`."""

    model: Any = field(repr=False)
    model_name: str
    feature_names: list[str]
    feature_set_version: str
    feature_set: str
    feature_spec: FeatureSpec
    label_spec: LabelSpec
    cv: CVResult
    naive_cv_mean: float | None
    importance: pl.DataFrame = field(repr=False)
    params: dict[str, Any]
    seed: int
    bars_hash: str
    oos: pl.DataFrame = field(repr=False)
    n_samples: int = 0
    base_rate: float = float("nan")
    tuning: pl.DataFrame | None = field(default=None, repr=False)
    seconds: float = 0.0

    def lineage(self) -> dict[str, Any]:
        """Plain data for a registry: everything but the model and the frames."""
        from workbench import __version__

        return {
            "model": self.model_name,
            "feature_set_version": self.feature_set_version,
            "feature_set": self.feature_set,
            "feature_names": list(self.feature_names),
            "feature_spec": self.feature_spec.to_dict(),
            "label_spec": self.label_spec.to_dict(),
            "cv": self.cv.to_dict(),
            "naive_cv_mean": self.naive_cv_mean,
            "params": self.params,
            "seed": self.seed,
            "bars_hash": self.bars_hash,
            "n_samples": self.n_samples,
            "base_rate": self.base_rate,
            "workbench_version": __version__,
        }

    def predict(self, bars: pl.DataFrame) -> pl.DataFrame:
        """``ts, proba`` for every bar (null during the feature warm-up)."""
        return predict(self.model, bars, spec=self.feature_spec, feature_names=self.feature_names)


def predict(
    model: Any,
    bars: pl.DataFrame,
    *,
    spec: FeatureSpec | None = None,
    feature_names: Sequence[str] | None = None,
) -> pl.DataFrame:
    """``ts, proba`` (P(1)) of ``model`` on the features of ``bars``; null during the warm-up. A model
    trained on other features (``feature_names`` differ from what ``spec`` builds) is refused."""
    spec = spec or FeatureSpec()
    feats = build_features(bars, spec=spec)
    names = [c for c in feats.columns if c != "ts"]
    if feature_names is not None and list(feature_names) != names:
        missing = sorted(set(feature_names) - set(names))
        extra = sorted(set(names) - set(feature_names))
        raise ConfigError(
            f"feature set mismatch: the model was trained on {len(feature_names)} features, these bars give "
            f"{len(names)} (missing {missing[:5]}, extra {extra[:5]}); retrain on feature set {feature_set_id(spec)}"
        )
    proba = positive_proba(model, feats.select(names).to_numpy().astype(np.float64))
    proba[: min(spec.warm_up, proba.shape[0])] = np.nan
    return pl.DataFrame({"ts": feats["ts"], "proba": pl.Series(proba, nan_to_null=True)})


def _importance(
    name: str,
    fitted: Any,
    data: Dataset,
    cv: Any,
    seed: int,
    params: dict[str, Any],
    *,
    mda: bool,
    shap: bool,
) -> pl.DataFrame:
    from workbench.ml import importance as imp

    frame = pl.DataFrame({"feature": data.feature_names})
    cols: list[pl.DataFrame] = []
    if name in TREE_MODELS:
        cols.append(imp.mdi(fitted, data.feature_names).select("mdi"))
    else:
        cols.append(pl.DataFrame({"mdi": [None] * len(data.feature_names)}, schema={"mdi": pl.Float64}))
    if mda:
        cols.append(
            imp.mda(
                lambda: make_model(name, seed, params),
                data.X,
                data.y,
                data.t0,
                data.t1,
                cv,
                names=data.feature_names,
            ).select("mda")
        )
    else:
        cols.append(pl.DataFrame({"mda": [None] * len(data.feature_names)}, schema={"mda": pl.Float64}))
    if shap and name in TREE_MODELS - {"ensemble"}:
        cols.append(imp.shap_importance(fitted, data.X, names=data.feature_names, seed=seed).select("shap"))
    else:
        cols.append(pl.DataFrame({"shap": [None] * len(data.feature_names)}, schema={"shap": pl.Float64}))
    out = pl.concat([frame, *cols], how="horizontal")
    order = "mda" if mda else "mdi"
    return out.sort(order, descending=True, nulls_last=True)


def train(
    bars: pl.DataFrame,
    *,
    model: str = "lightgbm",
    label: LabelSpec | str = "triple_barrier",
    cv: str = "purged",
    seed: int = 0,
    params: dict[str, Any] | None = None,
    tune: int = 0,
    spec: FeatureSpec | None = None,
    cv_params: dict[str, Any] | None = None,
    scoring: str = "log_loss",
    entries: pl.DataFrame | None = None,
    naive: bool = True,
    importance: bool = True,
    mda: bool = True,
    shap: bool = True,
    address: str | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Features + labels of ``bars`` -> (Ray Tune search over ``tune`` trials) -> ``cv`` scores, naive
    shuffled k-fold score -> the model refitted on every sample -> importance; everything recorded."""
    started = time.perf_counter()
    say = progress or (lambda stage, frac: None)
    MODELS.get(model)
    spec = spec or FeatureSpec()
    label_spec = LabelSpec.parse(label)
    say("features", 0.0)
    data = make_dataset(bars, spec=spec, label=label_spec, entries=entries)
    splitter = make_cv(cv, **(cv_params or {}))
    tuning = None
    if tune > 0:
        say("tune", 0.1)
        best, tuning = tune_params(
            data.X, data.y, data.t0, data.t1, model, trials=tune, seed=seed, scoring=scoring,
            params=params, address=address,
        )  # fmt: skip
        params = {**(params or {}), **best}
    full = model_params(model, params)
    say("cv", 0.3)
    result = evaluate(
        data.X, data.y, data.t0, data.t1, model, splitter, seed=seed, params=full, scoring=scoring
    )
    naive_mean = None
    if naive:
        say("naive cv", 0.5)
        n_splits = getattr(splitter, "n_splits", 5) if splitter.name in ("purged", "walk_forward") else 5
        naive_mean = evaluate(
            data.X, data.y, data.t0, data.t1, model, "naive", seed=seed, params=full, scoring=scoring,
            cv_params={"n_splits": max(int(n_splits), 2), "seed": seed},
        ).mean  # fmt: skip
    say("fit", 0.7)
    fitted = make_model(model, seed, full)
    fitted.fit(data.X, data.y)
    say("importance", 0.8)
    if importance:
        imp = _importance(model, fitted, data, splitter, seed, full, mda=mda, shap=shap)
    else:
        imp = pl.DataFrame(
            {"feature": data.feature_names, "mdi": None, "mda": None, "shap": None},
            schema={"feature": pl.Utf8, "mdi": pl.Float64, "mda": pl.Float64, "shap": pl.Float64},
        )
    oos = pl.DataFrame({"ts": data.t0, "proba": pl.Series(result.oos_proba, nan_to_null=True)}).drop_nulls(
        "proba"
    )
    say("done", 1.0)
    return TrainResult(
        model=fitted,
        model_name=model,
        feature_names=list(data.feature_names),
        feature_set_version=FEATURE_SET_VERSION,
        feature_set=feature_set_id(spec),
        feature_spec=spec,
        label_spec=label_spec,
        cv=result,
        naive_cv_mean=naive_mean,
        importance=imp,
        params=full,
        seed=seed,
        bars_hash=bars_hash(bars),
        oos=oos,
        n_samples=data.n,
        base_rate=float(data.y.mean()),
        tuning=tuning,
        seconds=time.perf_counter() - started,
    )


# -- Ray Tune ------------------------------------------------------------------------------------------


def search_space(model: str) -> dict[str, Any]:
    """The Ray Tune search space over ``model``'s hyperparameters."""
    from ray import tune

    spaces: dict[str, Callable[[], dict[str, Any]]] = {
        "logreg": lambda: {"C": tune.loguniform(1e-3, 10.0)},
        "random_forest": lambda: {
            "n_estimators": tune.choice([50, 100, 200]),
            "min_samples_leaf": tune.randint(10, 200),
            "max_features": tune.choice(["sqrt", 0.5]),
        },
        "lightgbm": lambda: {
            "n_estimators": tune.randint(50, 400),
            "learning_rate": tune.loguniform(0.01, 0.2),
            "num_leaves": tune.randint(4, 64),
            "min_child_samples": tune.randint(20, 300),
            "colsample_bytree": tune.uniform(0.5, 1.0),
        },
        "ensemble": lambda: {
            "logreg": {"C": tune.loguniform(1e-3, 10.0)},
            "lightgbm": {"num_leaves": tune.randint(4, 64), "learning_rate": tune.loguniform(0.01, 0.2)},
        },
        "lstm": lambda: {"hidden": tune.choice([8, 16, 32]), "lr": tune.loguniform(1e-3, 1e-2)},
        "tcn": lambda: {"hidden": tune.choice([8, 16, 32]), "lr": tune.loguniform(1e-3, 1e-2)},
    }
    if model not in spaces:
        raise ConfigError(f"no search space for model {model!r} (known: {', '.join(spaces)})")
    return spaces[model]()


def _tune_trial(
    config: dict[str, Any], *, data: tuple, model: str, seed: int, scoring: str, params: dict
) -> None:
    from ray import tune

    X, y, t0, t1 = data
    r = evaluate(X, y, t0, t1, model, "purged", seed=seed, params={**params, **config}, scoring=scoring)
    tune.report({"score": r.mean, "folds": r.folds, **{f"cv_{k}": v for k, v in r.other.items()}})


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def tune_params(
    X: Any,
    y: Any,
    t0: Any,
    t1: Any,
    model: str,
    *,
    trials: int,
    seed: int = 0,
    scoring: str = "log_loss",
    params: dict[str, Any] | None = None,
    address: str | None = None,
    space: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], pl.DataFrame]:
    """``trials`` Ray Tune trials (random search drawn with ``seed``: the same seed draws the same
    configurations) over :func:`search_space`, each scored by purged 5-fold CV; returns the best params
    and one row per trial (``trial``, ``score``, ``params`` JSON). Ray is connected the way the strategy
    sweeps connect (``address`` or ``$RAY_ADDRESS``, else a local Ray; :mod:`workbench.optimize.tune`)
    and shut down afterwards when this call started it."""
    import json

    import ray
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from workbench.config import settings
    from workbench.raycluster import connect_ray

    if trials < 1:
        raise ConfigError(f"tune needs >= 1 trials, got {trials}")
    higher = SCORES[scoring][1]
    started, _ = connect_ray(address or settings().ray_address)
    storage = tempfile.mkdtemp(prefix="workbench-ml-tune-")
    try:
        data = (_as_matrix(X), np.asarray(y), np.asarray(t0), np.asarray(t1))
        trainable = tune.with_resources(
            tune.with_parameters(
                _tune_trial, data=data, model=model, seed=seed, scoring=scoring, params=params or {}
            ),
            {"cpu": 1},
        )
        tuner = tune.Tuner(
            trainable,
            param_space=space or search_space(model),
            tune_config=tune.TuneConfig(
                search_alg=BasicVariantGenerator(random_state=seed),
                num_samples=trials,
                metric="score",
                mode="max" if higher else "min",
            ),
            run_config=tune.RunConfig(name="ml", storage_path=storage, verbose=0, log_to_file=False),
        )
        grid = tuner.fit()
        rows = []
        for i, r in enumerate(grid):
            if r.error is not None or "score" not in (r.metrics or {}):
                continue
            rows.append(
                {
                    "trial": i,
                    "score": float(r.metrics["score"]),
                    "params": json.dumps(_plain(r.config), sort_keys=True),
                }
            )
    finally:
        shutil.rmtree(storage, ignore_errors=True)
        if started:
            ray.shutdown()
    if not rows:
        raise ConfigError(
            f"tune: none of the {trials} trials finished; rerun with WORKBENCH_DEBUG=1 to see why"
        )
    frame = pl.DataFrame(rows).sort("score", descending=higher)
    best = json.loads(frame["params"][0])
    return best, frame
