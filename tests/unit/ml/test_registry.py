"""The model registry (MLflow in a SQLite file inside the workspace), the promotion gate, the signal's
backtest and regimes stored per bar with the regime breakdown of a stored backtest."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from workbench.errors import ConfigError, DataError
from workbench.ml import registry as R
from workbench.ml import train
from workbench.ml.signal import (
    backtest_signal,
    compare_signals,
    regime_scale,
    signal_bars,
    walk_forward_proba,
    with_regime_features,
)
from workbench.workspace import open_workspace

# one worker builds the module's fixtures (a trained model, an MLflow registry) once (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("ml-registry")
N_BARS = 1600


@pytest.fixture(scope="module")
def bars(eurusd) -> pl.DataFrame:
    return eurusd.head(N_BARS)


@pytest.fixture(scope="module")
def result(bars):
    return train(bars, model="logreg", label="fixed_horizon:horizon=4", cv="purged", importance=False, seed=3)


@pytest.fixture(scope="module")
def ws(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.delenv("MLFLOW_TRACKING_URI", raising=False)
    ws = open_workspace(tmp_path_factory.mktemp("ml-registry"))
    ws.load_samples()
    return ws


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def registered(ws, result):
    return R.register(result, "eurusd_logreg", ws=ws, data="EURUSD:1h", backtest={"sharpe": 0.5})


def test_register_and_load_round_trip_with_lineage(ws, bars, result, registered):
    name, version, run_id = registered
    assert (name, version) == ("eurusd_logreg", 1) and len(run_id) == 32
    assert registered.tracking_uri == f"sqlite:///{(ws.home / 'mlflow.db').resolve()}"
    assert (ws.home / "mlflow.db").exists() and (ws.home / "mlruns").is_dir()
    m = R.load("eurusd_logreg", ws=ws)
    assert m.version == 1 and m.run_id == run_id and m.model_name == "logreg"
    assert m.predict(bars).equals(result.predict(bars))  # the same predictions, bit for bit
    lin = m.lineage
    assert lin["data"] == "EURUSD:1h" and lin["bars_hash"] == result.bars_hash
    assert lin["label_spec"]["kind"] == "fixed_horizon" and lin["label_spec"]["horizon"] == 4
    assert lin["cv"]["scheme"] == "purged" and lin["cv"]["scores"] == pytest.approx(list(result.cv.scores))
    assert lin["seed"] == 3 and lin["feature_set_version"] == result.feature_set_version
    assert lin["workbench_version"] and lin["backtest"] == {"sharpe": 0.5}
    # the catalog's mirror (what `workbench ml models` lists without MLflow)
    rows = R.models(ws)
    row = rows.row(0, named=True)
    assert rows.height == 1 and row["name"] == "eurusd_logreg" and row["version"] == 1
    assert row["kind"] == "logreg" and row["run_id"] == run_id and row["symbol"] == "EURUSD"
    assert json.loads(row["metrics"])["cv"]["mean"] == pytest.approx(result.cv.mean)
    # a second registration is version 2
    again = R.register(result, "eurusd_logreg", ws=ws, data="EURUSD:1h")
    assert again.version == 2 and R.load("eurusd_logreg", 1, ws=ws).version == 1
    assert R.load("eurusd_logreg", ws=ws).version == 2


def test_a_stale_feature_set_refuses_to_predict(ws, bars, registered, monkeypatch):
    import workbench.ml.features as F

    m = R.load("eurusd_logreg", 1, ws=ws)
    monkeypatch.setattr(F, "FEATURE_SET_VERSION", "999")
    with pytest.raises(
        ConfigError, match=r"feature set version 1, this workbench computes version 999; retrain"
    ):
        m.predict(bars)
    assert "\n" not in str(pytest.raises(ConfigError, m.predict_proba, np.zeros((1, 3))).value)


def test_unknown_model_is_one_line_naming_the_registered(ws, registered):
    with pytest.raises(DataError, match=r"no registered model 'nope'.*registered: eurusd_logreg"):
        R.load("nope", ws=ws)
    with pytest.raises(DataError, match="alias 'production'"):
        R.load("eurusd_logreg", alias="production", ws=ws)


def _evidence(mean: float, baseline: float, dsr: float | None, scheme: str = "purged") -> R.Evidence:
    return R.Evidence(scheme, "log_loss", mean, baseline, False, 5, dsr, 4, 1.2)


def test_gate_checks_each_condition_with_numbers():
    ok, reasons = R.Gate().check(_evidence(0.68, 0.69, 0.97))
    assert ok and all(r.startswith("pass") for r in reasons) and "0.01000" in reasons[1]
    ok, reasons = R.Gate().check(_evidence(0.70, 0.69, 0.97))  # worse than chance (lower is better)
    assert not ok and reasons[1].startswith("fail: CV log_loss 0.70000 does not beat chance 0.69000")
    ok, reasons = R.Gate().check(_evidence(0.68, 0.69, 0.80))
    assert not ok and reasons[2].startswith("fail: deflated Sharpe 0.800 < 0.95 over 4 trials")
    ok, reasons = R.Gate().check(_evidence(0.60, 0.69, 0.99, scheme="naive"))
    assert not ok and reasons[0].startswith("fail: CV scheme naive is not out-of-sample")
    assert not R.Gate().check(_evidence(0.68, 0.69, None))[0]
    assert R.Gate(min_deflated_sharpe=0.5).check(_evidence(0.68, 0.69, 0.80))[0]
    assert R.Evidence("cpcv", "auc", 0.55, 0.5, True, 15).edge == pytest.approx(0.05)


def test_promotion_moves_the_alias_only_on_evidence_and_records_why(ws, registered):
    name = registered.name
    refused = R.promote(name, 1, _evidence(0.70, 0.69, 0.99), ws=ws)
    assert not refused.promoted
    with pytest.raises(DataError):
        R.load(name, alias="production", ws=ws)
    done = R.promote(name, 1, _evidence(0.68, 0.69, 0.99), ws=ws)
    assert done.promoted and R.load(name, alias="production", ws=ws).version == 1
    log = R.promotions(name, ws)
    assert log["promoted"].to_list() == [False, True]
    assert json.loads(log["reasons"][0])[1].startswith("fail: CV log_loss")
    aliases = R.models(ws, name).filter(pl.col("version") == 1)["aliases"][0]
    assert json.loads(aliases) == ["production"]
    # MLflow carries the decision too
    client, _ = R._client(ws)
    tag = json.loads(client.get_model_version(name, "1").tags["workbench.promotion.production"])
    assert tag["promoted"] is True and tag["evidence"]["deflated_sharpe"] == 0.99


def test_signal_bars_confidence_and_regime_filter(bars):
    proba = pl.DataFrame({"ts": bars["ts"][10:20], "proba": np.linspace(0.1, 0.9, 10)})
    regimes = pl.DataFrame({"ts": bars["ts"], "regime": np.arange(bars.height) % 3})
    sb = signal_bars(bars, proba, regimes=regimes, allow=[1])
    assert sb["proba"].null_count() == bars.height - 10
    scale = sb["size_scale"].to_numpy()
    expect = np.zeros(bars.height)
    expect[10:20] = np.abs(2 * np.linspace(0.1, 0.9, 10) - 1) * (np.arange(10, 20) % 3 == 1)
    np.testing.assert_allclose(scale, expect)
    assert regime_scale(pl.Series([0, None, 2, 1]), [1, 2]).tolist() == [0.0, 0.0, 1.0, 1.0]
    # regimes as features: the probabilities joined by ts, rows without a regime null
    from workbench.ml import build_features, make_dataset

    feats = build_features(bars)
    probs = pl.DataFrame({"ts": bars["ts"][100:], "regime": 0, "p_0": np.linspace(0, 1, bars.height - 100)})
    probs = probs.with_columns(p_1=1 - pl.col("p_0"))
    joined = with_regime_features(feats, probs)
    assert joined.columns == [*feats.columns, "regime_p_0", "regime_p_1"] and joined.height == feats.height
    assert joined["regime_p_0"].null_count() == 100 and joined["regime_p_0"][-1] == 1.0
    data = make_dataset(bars, label="fixed_horizon:horizon=4", features=joined)
    assert data.feature_names[-2:] == ["regime_p_0", "regime_p_1"]


def test_walk_forward_predictions_never_see_later_bars(bars):
    """Fold k+1's predictions come from a model trained on earlier samples only: changing every bar
    after some time leaves every prediction up to that time unchanged."""
    kw = {"model": "logreg", "label": "fixed_horizon:horizon=4", "folds": 4}
    wf = walk_forward_proba(bars, **kw)
    assert wf.height > 0 and wf["ts"].min() > bars["ts"][N_BARS // 5]  # the first block is not predicted
    cut = bars.height * 3 // 4
    bent = bars.with_columns(
        pl.when(pl.int_range(pl.len()) > cut).then(pl.col(c) * 1.3).otherwise(pl.col(c)).alias(c)
        for c in ("open", "high", "low", "close")
    )
    wf2 = walk_forward_proba(bent, **kw)
    # features are causal and each fold's model learnt only labels that ended before the fold began:
    # every prediction up to the change is the same
    before = wf.filter(pl.col("ts") <= bars["ts"][cut]).join(wf2, on="ts", suffix="_2")
    assert before.height > 500
    np.testing.assert_array_equal(before["proba"].to_numpy(), before["proba_2"].to_numpy())
    after = wf.filter(pl.col("ts") > bars["ts"][cut]).join(wf2, on="ts", suffix="_2")
    assert (after["proba"] != after["proba_2"]).any()  # the test could fail: later predictions do move


def test_backtest_signal_sweeps_thresholds_and_deflates_the_best(bars, result):
    sig = backtest_signal(bars, result.oos, commission=0.0001)
    assert sig.table.height == 4 and set(sig.params) == {"upper", "lower", "regime"}
    best = sig.table.filter(
        (pl.col("upper") == sig.params["upper"]) & (pl.col("lower") == sig.params["lower"])
    )
    assert best["sharpe"][0] == pytest.approx(sig.table["sharpe"].max())
    assert sig.metrics["trades"] == best["trades"][0]
    assert sig.metrics["final_equity"] == pytest.approx(best["final_equity"][0], rel=1e-12)
    d = sig.overfit.deflated_sharpe
    assert d is None or 0.0 <= d <= 1.0
    assert sig.overfit.n_trials <= 4 and sig.to_dict()["trials"] == 4
    ev = R.Evidence.of(result, sig.overfit)
    assert ev.scheme == "purged" and ev.baseline == result.cv.baseline and ev.trials == sig.overfit.n_trials
    assert math.isfinite(ev.edge)


def test_regime_breakdown_of_a_stored_backtest(ws):
    """Regimes stored per bar; ws.breakdown(id, "regime") groups a stored sweep's trades by the regime
    at their entry - checked against a searchsorted lookup of the same regimes."""
    from workbench.ml.regime_store import store_regimes, stored_regimes
    from workbench.optimize import run_sweep

    bars = ws.bars("EURUSD:1h")
    regime = (np.arange(bars.height) // 500) % 3
    frame = pl.DataFrame({"ts": bars["ts"], "regime": regime, "p_0": 0.2, "p_1": 0.3, "p_2": 0.5})
    assert store_regimes(ws, "EURUSD:1h", frame) == bars.height
    got = stored_regimes(ws, "EURUSD:1h")
    assert got["regime"].to_list() == regime.tolist()
    assert got["probability"].to_list() == [[0.2, 0.3, 0.5][r] for r in regime]
    out = run_sweep(ws, "sma_cross", "EURUSD:1h", {"fast": [10], "slow": [30]})
    table = ws.breakdown(out.backtest_ids[0], "regime")
    trades = ws.trades(out.backtest_ids[0])
    idx = np.searchsorted(bars["ts"].to_numpy(), trades["open_time"].to_numpy(), side="right") - 1
    expect = (
        trades.with_columns(regime=pl.Series(regime[idx]))
        .group_by("regime")
        .agg(pl.len().alias("n"), pl.col("net_profit").sum().alias("net"))
    )
    expect = expect.sort("regime")
    assert table["key"].to_list() == expect["regime"].to_list() == [0, 1, 2]
    assert table["trades"].to_list() == expect["n"].to_list()
    np.testing.assert_allclose(table["net_profit"].to_numpy(), expect["net"].to_numpy())
    # an ingested EURUSD backtest from 2015, before the stored regimes begin: said, not a column of nulls
    from pathlib import Path

    sample = Path(__file__).resolve().parents[3] / "data" / "samples" / "ctrader_history_xml"
    old = ws.ingest([sample]).files[0].backtest_id
    with pytest.raises(
        DataError, match=rf"none of backtest {old}'s trades \(2015-.*opens inside the stored hmm"
    ):
        ws.breakdown(old, "regime")
    with pytest.raises(
        DataError, match="no changepoint regimes stored for EURUSD:1h; run `workbench ml regimes"
    ):
        ws.breakdown(out.backtest_ids[0], "regime", method="changepoint")


def test_mlflow_tracking_uri_points_the_registry_elsewhere(tmp_path, result, monkeypatch):
    """MLFLOW_TRACKING_URI (a team's registry; here another SQLite store) is used instead of the
    workspace's file, and the mirror says where each version lives."""
    team = tmp_path / "team" / "registry.db"
    team.parent.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{team}")
    monkeypatch.chdir(tmp_path)
    ws = open_workspace(tmp_path / "ws")
    reg = R.register(result, "team_model", ws=ws, data="EURUSD:1h")
    assert team.exists() and not (ws.home / "mlflow.db").exists()
    assert (team.parent / "mlruns").is_dir() and not (tmp_path / "mlruns").exists()  # beside it, not in cwd
    assert R.models(ws)["tracking_uri"].to_list() == [f"sqlite:///{team}"] == [reg.tracking_uri]
    assert R.load("team_model", ws=ws).run_id == reg.run_id


def test_several_models_are_deflated_together(bars, result):
    """Two signals (the model's and a coin) over the same four thresholds: one table of 8 trials, the best
    overall re-run, its Sharpe deflated over all of them (more trials than its own four)."""
    rng = np.random.default_rng(0)
    coin = result.oos.with_columns(proba=pl.Series(rng.uniform(0.3, 0.7, result.oos.height)))
    both = compare_signals(bars, {"logreg": result.oos, "coin": coin})
    assert both.table.height == 8 and both.table["signal"].unique().sort().to_list() == ["coin", "logreg"]
    top = both.table.sort("sharpe", descending=True, nulls_last=True).row(0, named=True)
    assert both.params == {
        "signal": top["signal"],
        "upper": top["upper"],
        "lower": top["lower"],
        "regime": -1,
    }
    assert both.metrics["trades"] == top["trades"]
    alone = backtest_signal(bars, result.oos if top["signal"] == "logreg" else coin)
    assert alone.metrics["sharpe"] == pytest.approx(both.metrics["sharpe"])
    assert both.overfit.n_trials >= alone.overfit.n_trials
