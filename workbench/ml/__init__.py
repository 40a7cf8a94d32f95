"""Machine learning on bars and trades, leak-free (docs/ml.md, ADR 0008).

* features — :func:`build_features` (causal: a feature at ``t`` reads bars ``<= t``), :class:`FeatureSpec`,
  :func:`feature_names`, :data:`FEATURE_SET_VERSION`, :func:`features_at_entries`;
* labels — :func:`fixed_horizon`, :func:`triple_barrier`, :func:`meta_labels`, :class:`LabelSpec`,
  :func:`make_labels` (each label carries its end time ``t1``);
* cv — :class:`PurgedKFold`, :class:`CombinatorialPurgedCV`, :class:`WalkForward`, :class:`KFold` (naive),
  :data:`CV_SCHEMES`;
* models — :data:`MODELS` (logreg, random_forest, lightgbm, ensemble, lstm, tcn);
* importance — :func:`mdi`, :func:`mda`, :func:`shap_importance`;
* regimes — :func:`hmm_regimes` (forward-filtered Gaussian HMM), :func:`fit_hmm`, :func:`change_points`;
* train — :func:`evaluate` -> :class:`CVResult`, :func:`naive_vs_purged`, :func:`train` -> :class:`TrainResult`,
  :func:`predict`, :func:`tune_params` (Ray Tune).

Heavy libraries (scikit-learn, LightGBM, torch, hmmlearn, ruptures, shap, Ray) load when first used.
"""

from __future__ import annotations

from workbench.ml.cv import CV_SCHEMES, CombinatorialPurgedCV, KFold, PurgedKFold, WalkForward, make_cv, purge
from workbench.ml.features import (
    FEATURE_SET_VERSION,
    FeatureSpec,
    build_features,
    decision_bars,
    feature_names,
    feature_set_id,
    features_at_entries,
)
from workbench.ml.importance import mda, mdi, shap_importance
from workbench.ml.labels import LABELS, LabelSpec, fixed_horizon, make_labels, meta_labels, triple_barrier
from workbench.ml.models import DEFAULTS, MODELS, TREE_MODELS, make_model, positive_proba
from workbench.ml.regimes import RegimeModel, change_points, fit_hmm, hmm_regimes
from workbench.ml.train import (
    SCORES,
    CVResult,
    Dataset,
    TrainResult,
    bars_hash,
    evaluate,
    make_dataset,
    naive_vs_purged,
    predict,
    search_space,
    train,
    tune_params,
)

__all__ = [
    "CV_SCHEMES",
    "DEFAULTS",
    "FEATURE_SET_VERSION",
    "LABELS",
    "MODELS",
    "SCORES",
    "TREE_MODELS",
    "CVResult",
    "CombinatorialPurgedCV",
    "Dataset",
    "FeatureSpec",
    "KFold",
    "LabelSpec",
    "PurgedKFold",
    "RegimeModel",
    "TrainResult",
    "WalkForward",
    "bars_hash",
    "build_features",
    "change_points",
    "decision_bars",
    "evaluate",
    "feature_names",
    "feature_set_id",
    "features_at_entries",
    "fit_hmm",
    "fixed_horizon",
    "hmm_regimes",
    "make_cv",
    "make_dataset",
    "make_labels",
    "make_model",
    "mda",
    "mdi",
    "meta_labels",
    "naive_vs_purged",
    "positive_proba",
    "predict",
    "purge",
    "search_space",
    "shap_importance",
    "train",
    "triple_barrier",
    "tune_params",
]
