"""Every registered model learns a known signal, is deterministic under its seed and survives pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from workbench.errors import ConfigError
from workbench.ml import DEFAULTS, MODELS, make_model, positive_proba

SMALL = {
    "logreg": {},
    "random_forest": {"n_estimators": 30, "min_samples_leaf": 10},
    "lightgbm": {"n_estimators": 40},
    "ensemble": {"random_forest": {"n_estimators": 20}, "lightgbm": {"n_estimators": 30}},
    "lstm": {"window": 4, "hidden": 8, "epochs": 5, "lr": 0.02, "batch_size": 128},
    "tcn": {"window": 4, "hidden": 8, "epochs": 8, "lr": 0.01, "batch_size": 64},
}


def test_registry_names():
    assert set(MODELS.names()) == {"logreg", "random_forest", "lightgbm", "ensemble", "lstm", "tcn"}
    assert set(DEFAULTS) == set(MODELS.names())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_learns_known_signal_deterministically(name, synthetic):
    X, y = synthetic()
    Xtr, ytr, Xte, yte = X[:1000], y[:1000], X[1000:], y[1000:]
    p = positive_proba(make_model(name, 3, SMALL[name]).fit(Xtr, ytr), Xte)
    assert p.shape == (500,) and np.all((p >= 0) & (p <= 1))
    # the Bayes AUC of this problem is ~0.85; every model gets most of it
    assert roc_auc_score(yte, p) > 0.75, name
    again = make_model(name, 3, SMALL[name]).fit(Xtr, ytr)
    np.testing.assert_array_equal(positive_proba(again, Xte), p)  # same seed, same model
    clone = pickle.loads(pickle.dumps(again))  # what a registry stores
    np.testing.assert_array_equal(positive_proba(clone, Xte), p)
    full = again.predict_proba(Xte)
    np.testing.assert_allclose(full.sum(axis=1), 1.0)


def test_seed_changes_the_stochastic_models(synthetic):
    X, y = synthetic()
    a = positive_proba(make_model("random_forest", 1, SMALL["random_forest"]).fit(X, y), X[:50])
    b = positive_proba(make_model("random_forest", 2, SMALL["random_forest"]).fit(X, y), X[:50])
    assert not np.array_equal(a, b)


def test_unknown_params_are_refused():
    with pytest.raises(ConfigError, match="no parameter"):
        make_model("logreg", 0, {"alpha": 1})
    with pytest.raises(Exception, match="unknown model 'xgboost'"):
        make_model("xgboost")


def test_sequence_windows_read_only_the_past(synthetic):
    """Row i's prediction does not change when rows after i change (the window looks back only)."""
    X, y = synthetic(600)
    m = make_model("tcn", 0, SMALL["tcn"]).fit(X[:400], y[:400])
    p = positive_proba(m, X[400:])
    X2 = X.copy()
    X2[500:] = np.random.default_rng(9).normal(size=(100, 8))
    p2 = positive_proba(m, X2[400:])
    np.testing.assert_array_equal(p[:100], p2[:100])
    assert not np.array_equal(p[100:], p2[100:])


@pytest.mark.parametrize("name", ["lightgbm", "random_forest", "ensemble", "logreg"])
def test_small_batch_path_equals_predict_proba(name, synthetic):
    """positive_proba's direct path for small batches gives predict_proba's numbers (NaNs included)."""
    X, y = synthetic(800)
    m = make_model(name, 0, SMALL[name]).fit(X, y)
    x = X[:40].copy()
    x[0, 0] = np.nan
    x[1, 7] = np.nan
    want = m.predict_proba(x)[:, 1]
    np.testing.assert_allclose(positive_proba(m, x), want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(positive_proba(m, x[3:4]), want[3:4], rtol=1e-12, atol=1e-15)
