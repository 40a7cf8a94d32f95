"""Feature importance (AFML ch. 8): MDI, MDA under purged CV, and SHAP for the tree models.

* :func:`mdi` — mean decrease in impurity of a fitted tree model: scikit-learn's
  ``feature_importances_`` for the random forest, LightGBM's total split **gain** per feature, the mean
  of the members' for the ensemble; normalised to sum to 1. In-sample, and biased towards features
  with many distinct values: read it beside MDA.
* :func:`mda` — mean decrease in accuracy, out of sample: for each split of a (purged) CV the model is
  fitted on the training set, and each feature's column of the test set is permuted (``n_repeats``
  times, seeded); ``mda`` = mean over splits of (permuted log loss - log loss): how much worse the model
  predicts without that feature. Near zero or negative: the feature carries nothing the model uses.
* :func:`shap_importance` — mean |SHAP value| (TreeSHAP, the ``shap`` package) per feature on up to
  ``max_rows`` rows (seeded sample), for the random forest and LightGBM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from workbench.errors import ConfigError
from workbench.ml.cv import make_cv
from workbench.ml.models import positive_proba

__all__ = ["mdi", "mda", "shap_importance"]


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _tree_importance(model: Any) -> np.ndarray:
    if hasattr(model, "booster_"):  # LightGBM: total gain (its default "split" counts splits)
        return np.asarray(model.booster_.feature_importance(importance_type="gain"), dtype=np.float64)
    if hasattr(model, "estimators_") and hasattr(model, "named_estimators_"):  # soft voting ensemble
        parts = [_normalised(_tree_importance(m)) for m in model.estimators_ if _has_tree_importance(m)]
        if not parts:
            raise ConfigError("MDI needs a tree model (random_forest, lightgbm, ensemble)")
        return np.mean(parts, axis=0)
    if hasattr(model, "feature_importances_"):
        return np.asarray(model.feature_importances_, dtype=np.float64)
    raise ConfigError(
        f"MDI needs a fitted tree model (random_forest, lightgbm, ensemble), got {type(model).__name__}"
    )


def _has_tree_importance(model: Any) -> bool:
    return hasattr(model, "booster_") or hasattr(model, "feature_importances_")


def _normalised(x: np.ndarray) -> np.ndarray:
    total = x.sum()
    return x / total if total > 0 else x


def mdi(model: Any, names: Sequence[str]) -> pl.DataFrame:
    """``feature, mdi`` (sums to 1) of a fitted tree model, most important first."""
    imp = _normalised(_tree_importance(model))
    if imp.shape[0] != len(names):
        raise ConfigError(f"the model has {imp.shape[0]} features, {len(names)} names given")
    return pl.DataFrame({"feature": list(names), "mdi": imp}).sort("mdi", descending=True)


def mda(
    model_factory: Callable[[], Any] | str,
    X: Any,
    y: Any,
    t0: Any,
    t1: Any,
    cv: Any = "purged",
    *,
    names: Sequence[str] | None = None,
    n_repeats: int = 1,
    seed: int = 0,
    params: dict[str, Any] | None = None,
) -> pl.DataFrame:
    """``feature, mda, mda_std`` (permutation importance under ``cv``, in log loss; std over splits), most
    important first. ``model_factory``: a callable returning an unfitted model, or a model name."""
    from workbench.ml.models import make_model

    if isinstance(model_factory, str):
        name = model_factory
        model_factory = lambda: make_model(name, seed, params)  # noqa: E731
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    names = list(names) if names is not None else [f"f{i}" for i in range(X.shape[1])]
    rng = np.random.default_rng(seed)
    drops: list[np.ndarray] = []
    for train_idx, test_idx in make_cv(cv).split(t0, t1):
        ytr = y[train_idx]
        if train_idx.size == 0 or test_idx.size == 0 or ytr.min() == ytr.max():
            continue
        m = model_factory()
        m.fit(X[train_idx], ytr)
        Xte, yte = X[test_idx].copy(), y[test_idx]
        base = _log_loss(yte, positive_proba(m, Xte))
        d = np.zeros(X.shape[1])
        for j in range(X.shape[1]):
            col = Xte[:, j].copy()
            for _ in range(n_repeats):
                Xte[:, j] = rng.permutation(col)
                d[j] += (_log_loss(yte, positive_proba(m, Xte)) - base) / n_repeats
            Xte[:, j] = col
        drops.append(d)
    if not drops:
        raise ConfigError("MDA: no CV split had both classes in its training set")
    arr = np.vstack(drops)
    std = arr.std(axis=0, ddof=1) if arr.shape[0] > 1 else np.full(arr.shape[1], np.nan)
    return pl.DataFrame({"feature": names, "mda": arr.mean(axis=0), "mda_std": std}).sort(
        "mda", descending=True
    )


def shap_importance(
    model: Any, X: Any, *, names: Sequence[str] | None = None, max_rows: int = 1000, seed: int = 0
) -> pl.DataFrame:
    """``feature, shap``: mean |SHAP value| (TreeSHAP, towards class 1) over up to ``max_rows`` rows."""
    import shap

    X = np.asarray(X, dtype=np.float64)
    names = list(names) if names is not None else [f"f{i}" for i in range(X.shape[1])]
    if X.shape[0] > max_rows:
        X = X[np.sort(np.random.default_rng(seed).choice(X.shape[0], max_rows, replace=False))]
    inner = model.booster_ if hasattr(model, "booster_") else model
    if not (hasattr(model, "booster_") or hasattr(model, "estimators_")):
        raise ConfigError(
            f"SHAP (TreeSHAP) needs a tree model (random_forest, lightgbm), got {type(model).__name__}"
        )
    values = shap.TreeExplainer(inner).shap_values(X, check_additivity=False)
    if isinstance(values, list):  # older shap: one array per class
        values = values[-1]
    values = np.asarray(values)
    if values.ndim == 3:  # (rows, features, classes)
        values = values[:, :, -1]
    return pl.DataFrame({"feature": names, "shap": np.abs(values).mean(axis=0)}).sort("shap", descending=True)
