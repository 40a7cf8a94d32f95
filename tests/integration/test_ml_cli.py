"""`workbench ml ...` through real subprocesses on a temp workspace: train (purged CV beside naive
k-fold, the signal's backtest, MLflow registration) -> load in another process -> the same predictions;
models, regimes and the regime breakdown of the stored signal backtest; one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from workbench.workspace import open_workspace

pytestmark = pytest.mark.xdist_group("ml-cli")  # the module's workspace and model, built once


def _cli(home, *args, check=True):
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    p = subprocess.run(
        [sys.executable, "-m", "workbench", *args], capture_output=True, text=True, env=env, timeout=600
    )
    if check:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    h = tmp_path_factory.mktemp("ml-lake")
    _cli(h, "data", "samples", "--json")
    return h


@pytest.fixture(scope="module")
def trained(home):
    p = _cli(home, "ml", "train", "--data", "EURUSD:1h", "--model", "lightgbm", "--label", "triple_barrier",
             "--cv", "purged", "--param", "n_estimators=30", "--no-mda", "--json")  # fmt: skip
    return json.loads(p.stdout)


def test_train_prints_the_contract_and_the_leakage(trained):
    out = trained
    assert {"model", "version", "run_id", "cv", "naive_cv_mean", "importance", "backtest"} <= set(out)
    assert out["model"] == "eurusd_1h_lightgbm" and out["version"] == 1 and len(out["run_id"]) == 32
    cv = out["cv"]
    assert cv["scheme"] == "purged" and cv["folds"] == len(cv["scores"]) == 5
    assert cv["mean"] == pytest.approx(float(np.mean(cv["scores"])))
    # overlapping 24-bar triple-barrier labels: shuffled k-fold leaks them and looks far better (lower
    # log loss) than purged CV on the same data and model
    assert out["naive_cv_mean"] < cv["mean"] - 0.05
    names = [r["feature"] for r in out["importance"]]
    assert len(names) == len(set(names)) > 10 and all(
        set(r) >= {"feature", "mdi", "mda"} for r in out["importance"]
    )
    assert sum(r["mdi"] for r in out["importance"]) > 0
    bt = out["backtest"]
    assert bt["trials"] == 4 and bt["trades"] > 0 and bt["signal"] == "walk_forward"
    assert bt["deflated_sharpe"] is None or 0 <= bt["deflated_sharpe"] <= 1


def test_registry_round_trip_in_new_processes(home, trained, tmp_path):
    """train (one process) -> load in this process and in `ml predict` (another) -> same predictions."""
    from workbench.ml.registry import load

    ws = open_workspace(home)
    bars = ws.bars("EURUSD:1h")
    m = load(trained["model"], trained["version"], ws=ws)
    mine = m.predict(bars)
    proba = mine["proba"].fill_null(float("nan")).to_numpy()
    import hashlib

    assert hashlib.sha256(proba.tobytes()).hexdigest() == trained["predictions_sha256"]
    out_file = tmp_path / "p.parquet"
    p = _cli(home, "ml", "predict", trained["model"], "--data", "EURUSD:1h", "-o", str(out_file), "--json")
    pred = json.loads(p.stdout)
    assert pred["predictions_sha256"] == trained["predictions_sha256"]
    assert pl.read_parquet(out_file).equals(mine)
    valid = proba[~np.isnan(proba)]
    assert pred["predictions"] == valid.size and pred["bars"] == bars.height
    assert pred["long"] == int((valid > 0.55).sum()) and pred["short"] == int((valid < 0.45).sum())
    assert pred["long"] + pred["short"] + pred["flat"] == pred["predictions"]
    assert pred["per_second"] > 0 and pred["single_row"]["rows"] == 200
    assert m.lineage["bars_hash"] and m.lineage["cv"]["scores"] == trained["cv"]["scores"]
    listed = json.loads(_cli(home, "ml", "models", "--json").stdout)["models"]
    assert [(r["name"], r["version"], r["run_id"]) for r in listed] == [
        (trained["model"], 1, trained["run_id"])
    ]
    assert listed[0]["data"] == "EURUSD:1h" and listed[0]["cv"]["mean"] == trained["cv"]["mean"]


def test_regimes_and_the_regime_breakdown_of_the_signal_backtest(home, trained):
    out = json.loads(_cli(home, "ml", "regimes", "--data", "EURUSD:1h", "--states", "2", "--json").stdout)
    assert out["bars"] == 5000 and out["states"] == 2 and out["filtered"] is True
    assert sum(r["bars"] for r in out["regimes"]) <= 5000
    assert sum(r["share"] for r in out["regimes"]) == pytest.approx(
        sum(r["bars"] for r in out["regimes"]) / 5000
    )
    ws = open_workspace(home, read_only=True)
    bid = trained["backtest"]["backtest_id"]
    table = ws.breakdown(bid, "regime")
    assert table["trades"].sum() == ws.trades(bid).height == trained["backtest"]["trades"]
    assert set(table["key"].drop_nulls().to_list()) <= {0, 1}
    # the thresholds and the regime filter swept like any strategy, stored with the overfitting checks
    p = _cli(home, "ml", "backtest", trained["model"], "--data", "EURUSD:1h", "--param", "upper=0.5,0.55",
             "--param", "lower=0.45,0.5", "--param", "regime=-1,0", "--regimes", "--json")  # fmt: skip
    sweep = json.loads(p.stdout)
    assert sweep["combos"] == 8 and sweep["signal"] == "walk_forward" and sweep["in_sample"] is False
    stored = ws.optimization_results(sweep["optimization_id"])
    assert stored.height == 8 and sweep["overfitting"]["n_trials"] <= 8
    best = ws.trades(sweep["backtest_ids"][0])
    assert best.height == sweep["best"]["metrics"]["trades"]
    if sweep["best"]["params"]["regime"] == 0:  # entries signalled only on bars of regime 0
        from workbench.ml.regime_store import stored_regimes

        reg = stored_regimes(ws, "EURUSD:1h")
        fill = np.searchsorted(reg["ts"].to_numpy(), best["open_time"].to_numpy())  # next-open fills
        assert (reg["regime"].to_numpy()[fill - 1] == 0).all()


def test_errors_are_one_line(home):
    p = _cli(home, "ml", "predict", "nope", "--data", "EURUSD:1h", "--json", check=False)
    assert p.returncode == 1 and p.stdout == ""
    line = [x for x in p.stderr.splitlines() if x.startswith("error:")]
    assert len(line) == 1 and "no registered model 'nope'" in line[0] and "Traceback" not in p.stderr
    p = _cli(home, "ml", "train", "--data", "EURUSD:1h", "--model", "nope", "--json", check=False)
    assert p.returncode == 1 and "Traceback" not in p.stderr and "model" in p.stderr


def test_model_report_renders(home, trained, tmp_path):
    out = tmp_path / "ml.html"
    p = _cli(home, "report", "ml", "-p", f"model={trained['model']}", "-o", str(out), "--json")
    assert json.loads(p.stdout)["title"] == f"Model {trained['model']} v1 · lightgbm on EURUSD:1h"
    page = out.read_text()
    assert "naive shuffled k-fold mean" in page and "Traceback" not in page
    assert f"{trained['cv']['mean']:.2f}" in page  # the purged mean, as the table writes it
