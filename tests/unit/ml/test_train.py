"""evaluate / naive_vs_purged / train: on a random walk (nothing is predictable: the truth is known) naive
shuffled k-fold on overlapping labels looks skilful and purged CV does not; the training lineage."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from workbench.errors import ConfigError
from workbench.ml import FeatureSpec, LabelSpec, evaluate, make_dataset, naive_vs_purged, predict, train
from workbench.ml.train import bars_hash

LGBM = {"n_estimators": 60, "num_leaves": 15}


@pytest.fixture(scope="module")
def walk_data(walk):
    return make_dataset(walk, label="triple_barrier:horizon=24")


def test_naive_cv_is_inflated_on_overlapping_labels(walk_data):
    d = walk_data
    table = naive_vs_purged(d.X, d.y, d.t0, d.t1, "lightgbm", params=LGBM, n_splits=4)
    assert table["scheme"].to_list() == ["naive", "purged", "cpcv", "walk_forward"]
    assert table.filter(pl.col("scheme") == "cpcv")["splits"][0] == 10  # C(5, 2)
    row = {r["scheme"]: r for r in table.iter_rows(named=True)}
    # a random walk: out of sample there is nothing to find ...
    for scheme in ("purged", "cpcv", "walk_forward"):
        assert abs(row[scheme]["auc"] - 0.5) < 0.08, (scheme, row[scheme]["auc"])
        assert row[scheme]["log_loss"] > row[scheme]["baseline_log_loss"] - 0.005  # no better than chance
    # ... but shuffled k-fold scores neighbours of training labels that share most of their path
    assert row["naive"]["auc"] > 0.62
    assert row["purged"]["auc_inflation"] > 0.1 and row["purged"]["log_loss_inflation"] > 0.02


def test_without_overlap_naive_and_purged_agree(walk):
    """Control: 1-bar labels do not overlap, and naive k-fold is no longer inflated."""
    d = make_dataset(walk, label="fixed_horizon:horizon=1")
    naive = evaluate(d.X, d.y, d.t0, d.t1, "lightgbm", "naive", params=LGBM, cv_params={"n_splits": 4})
    purged = evaluate(d.X, d.y, d.t0, d.t1, "lightgbm", "purged", params=LGBM, cv_params={"n_splits": 4})
    assert abs(naive.other["auc"] - 0.5) < 0.05 and abs(purged.other["auc"] - 0.5) < 0.05


def test_evaluate_result(walk_data):
    d = walk_data
    r = evaluate(d.X, d.y, d.t0, d.t1, "logreg", "walk_forward", cv_params={"n_splits": 3})
    assert r.scheme == "walk_forward" and r.folds == 3 and len(r.scores) == 3 and r.metric == "log_loss"
    assert r.mean == pytest.approx(np.mean(r.scores)) and not r.higher_is_better
    first_block = d.n // 4
    assert np.isnan(r.oos_proba[:first_block]).all() and not np.isnan(r.oos_proba[first_block + 5 :]).any()
    # the baseline is the log loss of predicting each split's training base rate
    from workbench.ml import WalkForward

    want = []
    for tr, te in WalkForward(3).split(d.t0, d.t1):
        p = d.y[tr].mean()
        want.append(-np.mean(d.y[te] * np.log(p) + (1 - d.y[te]) * np.log(1 - p)))
    assert r.baseline == pytest.approx(np.mean(want))
    json.dumps(r.to_dict())
    auc = evaluate(d.X, d.y, d.t0, d.t1, "logreg", "purged", scoring="auc", cv_params={"n_splits": 3})
    assert auc.metric == "auc" and auc.higher_is_better and auc.baseline == 0.5
    with pytest.raises(ConfigError, match="unknown score"):
        evaluate(d.X, d.y, d.t0, d.t1, "logreg", scoring="f1")


@pytest.fixture(scope="module")
def trained(eurusd):
    return train(eurusd, model="lightgbm", label="triple_barrier", cv="purged", seed=3, params=LGBM)


def test_train_records_the_lineage(trained, eurusd):
    r = trained
    assert r.cv.scheme == "purged" and r.cv.folds == 5 and r.seed == 3
    assert r.label_spec == LabelSpec() and r.feature_spec == FeatureSpec()
    assert r.params["n_estimators"] == 60 and r.params["learning_rate"] == 0.05  # defaults merged, recorded
    assert r.naive_cv_mean < r.cv.mean  # naive log loss looks better than it is
    assert r.importance.columns == ["feature", "mdi", "mda", "shap"]
    assert set(r.importance["feature"]) == set(r.feature_names)
    assert r.importance["mdi"].sum() == pytest.approx(1.0) and r.importance["shap"].null_count() == 0
    assert r.oos.columns == ["ts", "proba"] and r.oos.height == r.n_samples
    assert r.bars_hash == bars_hash(eurusd) and len(r.bars_hash) == 64
    lineage = r.lineage()
    json.dumps(lineage)
    assert lineage["cv"]["scheme"] == "purged" and lineage["feature_set_version"] == "1"


def test_predict_matches_the_model_and_refuses_other_features(trained, eurusd):
    out = trained.predict(eurusd)
    assert out.height == eurusd.height and out["proba"].null_count() == FeatureSpec().warm_up
    d = make_dataset(eurusd)
    want = trained.model.predict_proba(d.X)[:, 1]
    got = out.join(pl.DataFrame({"ts": d.t0}), on="ts", how="semi")["proba"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(ConfigError, match="feature set mismatch"):
        predict(trained.model, eurusd.drop("volume"), feature_names=trained.feature_names)


def test_bars_hash_is_stable_across_processes_and_sees_one_changed_bar(eurusd):
    code = (
        "from workbench.data.samples import sample_frames; from workbench.ml import bars_hash;"
        "print(bars_hash(sample_frames()['EURUSD:1h'].select('ts','open','high','low','close','volume')))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other == bars_hash(eurusd)
    changed = eurusd.with_columns(
        pl.when(pl.int_range(pl.len()) == 4000)
        .then(pl.col("close") + 1e-5)
        .otherwise(pl.col("close"))
        .alias("close")
    )
    assert bars_hash(changed) != bars_hash(eurusd)


@pytest.mark.slow
@pytest.mark.cluster
@pytest.mark.xdist_group("ray")
def test_tune_searches_with_ray(eurusd):
    ray = pytest.importorskip("ray")
    from workbench.ml import tune_params
    from workbench.raycluster import connect_ray

    d = make_dataset(eurusd.slice(0, 1200))
    started, _ = connect_ray(None)  # one local Ray for both searches (tune_params leaves it running then)
    try:
        best, trials = tune_params(d.X, d.y, d.t0, d.t1, "logreg", trials=2, seed=1)
        again, trials2 = tune_params(d.X, d.y, d.t0, d.t1, "logreg", trials=2, seed=1)
    finally:
        if started:
            ray.shutdown()
    assert trials.height == 2 and trials["score"].is_sorted()  # log loss: best first
    assert best == json.loads(trials["params"][0]) and 1e-3 <= best["C"] <= 10
    # the trial's score is the purged CV score, reproducible outside Ray
    local = evaluate(d.X, d.y, d.t0, d.t1, "logreg", "purged", params=best)
    assert trials["score"][0] == pytest.approx(local.mean, rel=1e-9)
    # the same seed draws the same configurations
    assert sorted(trials2["params"].to_list()) == sorted(trials["params"].to_list()) and again == best


def test_train_on_meta_labels_of_a_primary_strategy(eurusd):
    """Meta-labelling end to end: a primary strategy's trades -> 'did it make money' -> a model of that."""
    from workbench.backtest import run

    bars = eurusd.slice(0, 3000)
    trades = run(bars, "sma_cross", {"fast": 5, "slow": 20}, direction="both").trades
    r = train(bars, model="logreg", label=LabelSpec(kind="meta", primary="sma_cross:fast=5,slow=20"),
              entries=trades, mda=False, cv_params={"n_splits": 3})  # fmt: skip
    assert r.label_spec.kind == "meta" and r.lineage()["label_spec"]["primary"] == "sma_cross:fast=5,slow=20"
    assert 0.5 * trades.height < r.n_samples <= trades.height  # one sample per trade after the warm-up
    assert r.oos.height == r.n_samples and r.cv.folds == 3
