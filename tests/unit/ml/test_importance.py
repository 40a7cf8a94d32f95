"""MDI, MDA (purged CV) and SHAP on a synthetic series whose informative features are known: they rank on top."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.ml import make_model, mda, mdi, shap_importance
from workbench.ml.cv import PurgedKFold

INFORMATIVE = {"x0", "x1", "x2"}
NAMES = [f"x{i}" for i in range(8)]


@pytest.fixture(scope="module")
def data(synthetic):
    X, y = synthetic(2000, seed=11)
    t = np.arange(y.size)
    return X, y, t, t + 5  # labels 5 steps long: purging has work to do


@pytest.fixture(scope="module", params=["random_forest", "lightgbm"])
def fitted(request, data):
    X, y, _, _ = data
    params = {"random_forest": {"n_estimators": 40, "min_samples_leaf": 20}, "lightgbm": {"n_estimators": 60}}
    return request.param, params[request.param], make_model(request.param, 0, params[request.param]).fit(X, y)


def _top3(frame, col):
    return set(frame.sort(col, descending=True)["feature"].head(3).to_list())


def test_mdi_ranks_the_informative_features_first(fitted):
    name, _, model = fitted
    out = mdi(model, NAMES)
    assert _top3(out, "mdi") == INFORMATIVE, name
    assert out["mdi"].sum() == pytest.approx(1.0)


def test_mda_under_purged_cv_ranks_them_first(fitted, data):
    name, params, _ = fitted
    X, y, t0, t1 = data
    out = mda(name, X, y, t0, t1, PurgedKFold(4, 0.01), names=NAMES, params=params)
    assert _top3(out, "mda") == INFORMATIVE, name
    # permuting an informative feature costs log loss; permuting noise costs ~nothing
    informative = out.filter(out["feature"].is_in(list(INFORMATIVE)))["mda"]
    noise = out.filter(~out["feature"].is_in(list(INFORMATIVE)))["mda"]
    assert informative.min() > 0.02 and informative.min() > 3 * noise.abs().max()
    assert set(out.columns) == {"feature", "mda", "mda_std"}


def test_shap_ranks_them_first(fitted, data):
    name, _, model = fitted
    out = shap_importance(model, data[0], names=NAMES, max_rows=300)
    assert _top3(out, "shap") == INFORMATIVE, name
    # the strongest coefficient (x0: 2.0) has the largest mean |SHAP|
    assert out["feature"][0] == "x0"


def test_ensemble_mdi_is_the_members_mean(data):
    X, y, _, _ = data
    ens = make_model(
        "ensemble", 0, {"random_forest": {"n_estimators": 20}, "lightgbm": {"n_estimators": 30}}
    ).fit(X, y)
    assert _top3(mdi(ens, NAMES), "mdi") == INFORMATIVE
