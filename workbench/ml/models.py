"""The model registry: ``MODELS[name](seed, **params)`` -> an unfitted scikit-learn-like binary classifier
(``fit(X, y)``, ``predict_proba(X)`` with columns ``[P(0), P(1)]``).

==================  ===========================================================================
``logreg``          median imputation -> standard scaling -> L2 logistic regression (``C``)
``random_forest``   scikit-learn's random forest (NaN-aware splits), ``min_samples_leaf`` large
                    enough for noisy labels
``lightgbm``        LightGBM gradient boosting, ``deterministic=True``, one thread
``ensemble``        soft voting (mean probability) of the three above, each with its own params
                    (``ensemble(seed, logreg={...}, random_forest={...}, lightgbm={...})``). Soft
                    voting, not stacking: scikit-learn's stacking fits its meta-model on an
                    internal, unpurged k-fold, which leaks on overlapping labels.
``lstm`` / ``tcn``  a small torch LSTM / temporal CNN on a window of the last ``window`` feature
                    rows, CPU, fixed seeds (:mod:`workbench.ml.sequence`)
==================  ===========================================================================

Every model is seeded by the factory's ``seed`` (recorded in the lineage); the same seed, params and
data give the same predictions. ``DEFAULTS[name]`` are the parameters used when none are given (merged
under the caller's), and :func:`model_params` returns the complete set a model was built with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from workbench._registry import Registry
from workbench.errors import ConfigError

__all__ = ["MODELS", "DEFAULTS", "TREE_MODELS", "SMALL_BATCH", "make_model", "model_params", "positive_proba"]

Factory = Callable[..., Any]
MODELS: Registry[Factory] = Registry("model")

DEFAULTS: dict[str, dict[str, Any]] = {
    "logreg": {"C": 0.1, "max_iter": 1000},
    "random_forest": {"n_estimators": 100, "max_features": "sqrt", "min_samples_leaf": 50, "max_depth": None},
    "lightgbm": {
        "n_estimators": 200,
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_child_samples": 50,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "reg_lambda": 1.0,
    },
    "ensemble": {},
    "lstm": {"window": 32, "hidden": 16, "epochs": 5, "lr": 3e-3, "batch_size": 256, "dropout": 0.0},
    "tcn": {"window": 32, "hidden": 16, "epochs": 5, "lr": 3e-3, "batch_size": 256, "dropout": 0.0},
}
TREE_MODELS = frozenset({"random_forest", "lightgbm", "ensemble"})
"""Models with impurity (MDI) and TreeSHAP importances."""


def model_params(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """``DEFAULTS[name]`` overridden by ``params`` (unknown keys are refused for the sklearn models)."""
    MODELS.get(name)
    merged = {**DEFAULTS.get(name, {}), **(params or {})}
    return merged


def make_model(name: str, seed: int = 0, params: dict[str, Any] | None = None) -> Any:
    """``MODELS[name](seed, **model_params(name, params))``."""
    return MODELS.get(name)(seed, **model_params(name, params))


SMALL_BATCH = 256
"""Up to this many rows, :func:`positive_proba` skips scikit-learn's per-call machinery (input checks,
joblib dispatch, one validation per tree) and reads the fitted trees / booster directly: the same numbers
(tests/unit/ml/test_models.py), single-row decisions in well under a millisecond instead of ~10 ms."""


def _rf_fast(model: Any, X: np.ndarray) -> np.ndarray:
    x32 = np.ascontiguousarray(X, dtype=np.float32)
    total = np.zeros(X.shape[0])
    for est in model.estimators_:
        p = est.tree_.predict(x32)
        p = p.reshape(X.shape[0], -1)[:, : len(model.classes_)]
        total += p[:, -1] / p.sum(axis=1)
    return total / len(model.estimators_)


def _fast_proba(model: Any, X: np.ndarray) -> np.ndarray | None:
    """P(1) without the library's per-call overhead, or None where there is no shortcut."""
    kind = type(model).__name__
    classes = list(getattr(model, "classes_", []))
    if classes != [0, 1]:
        return None
    if kind == "LGBMClassifier":
        return np.asarray(model.booster_.predict(X, num_threads=1), dtype=np.float64)
    if kind == "RandomForestClassifier":
        return _rf_fast(model, X)
    if kind == "VotingClassifier" and model.voting == "soft":
        parts = [positive_proba(m, X) for m in model.estimators_]
        return np.average(np.vstack(parts), axis=0, weights=model._weights_not_none)
    return None


def positive_proba(model: Any, X: np.ndarray) -> np.ndarray:
    """``P(y = 1)`` for each row (the second column of ``predict_proba``; 0 when the model only ever saw
    0). Small batches (<= :data:`SMALL_BATCH` rows) of LightGBM, random forest and soft-voting models take
    a direct path with the same result."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 2 and X.shape[0] <= SMALL_BATCH:
        fast = _fast_proba(model, X)
        if fast is not None:
            return fast
    p = np.asarray(model.predict_proba(X))
    classes = list(getattr(model, "classes_", [0, 1]))
    if p.ndim == 2 and p.shape[1] == 2:
        return p[:, 1]
    return np.full(p.shape[0], 1.0 if classes == [1] else 0.0)


def _bad(name: str, params: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConfigError(
            f"model {name!r} has no parameter(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})"
        )


@MODELS.register("logreg")
def logreg(seed: int = 0, **params: Any) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    p = {**DEFAULTS["logreg"], **params}
    _bad("logreg", p, {"C", "max_iter", "class_weight", "tol"})
    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(random_state=seed, **p),
    )


@MODELS.register("random_forest")
def random_forest(seed: int = 0, **params: Any) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    p = {**DEFAULTS["random_forest"], **params}
    _bad(
        "random_forest",
        p,
        {
            "n_estimators",
            "max_features",
            "min_samples_leaf",
            "max_depth",
            "class_weight",
            "max_samples",
            "criterion",
        },
    )
    return RandomForestClassifier(random_state=seed, n_jobs=1, **p)


@MODELS.register("lightgbm")
def lightgbm(seed: int = 0, **params: Any) -> Any:
    from lightgbm import LGBMClassifier

    p = {**DEFAULTS["lightgbm"], **params}
    return LGBMClassifier(
        random_state=seed, n_jobs=1, deterministic=True, force_row_wise=True, verbose=-1, **p
    )


@MODELS.register("ensemble")
def ensemble(
    seed: int = 0,
    *,
    logreg: dict[str, Any] | None = None,
    random_forest: dict[str, Any] | None = None,
    lightgbm: dict[str, Any] | None = None,
    weights: list[float] | None = None,
) -> Any:
    from sklearn.ensemble import VotingClassifier

    members = {"logreg": logreg, "random_forest": random_forest, "lightgbm": lightgbm}
    return VotingClassifier(
        [(name, MODELS.get(name)(seed, **(p or {}))) for name, p in members.items()],
        voting="soft",
        weights=weights,
        n_jobs=None,
    )


def _sequence(kind: str) -> Factory:
    def factory(seed: int = 0, **params: Any) -> Any:
        from workbench.ml.sequence import SequenceClassifier

        p = {**DEFAULTS[kind], **params}
        _bad(kind, p, {"window", "hidden", "epochs", "lr", "batch_size", "dropout", "layers"})
        return SequenceClassifier(kind=kind, seed=seed, **p)

    factory.__name__ = kind
    return factory


MODELS.add("lstm", _sequence("lstm"))
MODELS.add("tcn", _sequence("tcn"))
