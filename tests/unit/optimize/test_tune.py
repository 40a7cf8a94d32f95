"""Ray Tune searches (chunked grid/random, TPE, NSGA-II, walk-forward) on the packaged EURUSD hourly
bars, one loopback Ray head (2 CPUs -> 8 chunks, tests/integration/test_ray_cluster.py). The oracle for
stored metrics is a direct ``sweep``."""

from __future__ import annotations

import importlib.util
import inspect
import json
import math
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from workbench.backtest import METRICS, get_strategy, run, sweep
from workbench.backtest.engine import _grid_frame
from workbench.errors import StrategyError
from workbench.optimize import ALGOS, parse_objectives, run_optimize
from workbench.optimize.overfit import daily_returns, overfitting
from workbench.optimize.tune import evaluate
from workbench.workspace import open_workspace

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.xdist_group("ray")]

GRID = {"fast": list(range(5, 31)), "slow": list(range(40, 121, 5))}


def _cluster_helpers():
    """tests/integration/test_ray_cluster.py (loaded by path, as the integration tests do)."""
    path = Path(__file__).resolve().parents[2] / "integration" / "test_ray_cluster.py"
    spec = importlib.util.spec_from_file_location("_wb_ray_cluster", path)
    module = sys.modules.get(spec.name)
    if module is None:
        module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    pytest.importorskip("ray")
    w = open_workspace(tmp_path_factory.mktemp("lake"))
    w.load_samples()
    # a loopback head with 2 CPUs (-> 8 chunks), started the robust way (retries, Ray's timeouts raised)
    with _cluster_helpers().connected(tmp_path_factory, num_cpus=2):
        yield w


def _params(row):
    return {k: row[k] for k in GRID}


def _oriented(v, mode):
    v = -math.inf if v is None else v
    return v if mode == "max" else -v


def _dominates(a, b, modes):
    pairs = [(_oriented(a[k], m), _oriented(b[k], m)) for k, m in modes.items()]
    return all(x >= y for x, y in pairs) and any(x > y for x, y in pairs)


def _check_front(ws, out, modes, fold=None):
    rows = ws.optimization_results(out.optimization_id)
    rows = rows.filter(rows["fold"].is_null() if fold is None else rows["fold"] == fold)
    trials = [(r["trial"], json.loads(r["objectives"]), r["rank"]) for r in rows.iter_rows(named=True)]
    valid = [t for t in trials if t[2] is not None]
    front = {t for t, o, r in valid if r == 1}
    brute = {t for t, o, _ in valid if not any(_dominates(o2, o, modes) for _, o2, _ in valid)}
    assert front == brute and front  # non-dominated, and every non-dominated trial is on the front
    return rows, front


@pytest.mark.parametrize("algo", ["tpe", "nsga2"])
def test_multi_objective_front_is_non_dominated_and_stored(ws, algo):
    objectives = parse_objectives(["sharpe:max", "max_drawdown_pct:min"])
    out = run_optimize(ws, "sma_cross", "EURUSD:1h", GRID, objectives, algo=algo, trials=10, seed=1)
    assert out.trials == 10 and len(out.nodes) == 1
    rows, front = _check_front(ws, out, {"sharpe": "max", "max_drawdown_pct": "min"})
    assert rows.height == 10
    assert {p["trial"] for p in out.pareto} == front
    opt = ws.optimizations().filter(id=out.optimization_id).row(0, named=True)
    assert (opt["origin"], opt["algo"]) == ("ray_tune", algo)
    # a front point's objectives are what the engine computes for its parameters
    p = out.pareto[0]
    row = sweep(ws.bars("EURUSD:1h"), "sma_cross", {k: [v] for k, v in p["params"].items()}).row(
        0, named=True
    )
    assert p["objectives"]["sharpe"] == pytest.approx(row["sharpe"], rel=1e-12)


def test_single_objective_best_trial(ws):
    out = run_optimize(ws, "sma_cross", "EURUSD:1h", GRID, parse_objectives(["total_return_pct:max"]),
                       algo="random", trials=6, seed=3)  # fmt: skip
    rows = ws.optimization_results(out.optimization_id)
    best = max(json.loads(o)["total_return_pct"] for o in rows["objectives"])
    assert len(out.pareto) == 1 and out.pareto[0]["objectives"]["total_return_pct"] == best
    assert rows.filter(rows["rank"] == 1)["trial"].to_list() == [out.pareto[0]["trial"]]


def test_walk_forward_two_folds(ws):
    objectives = parse_objectives(["total_return_pct:max"])
    out = run_optimize(ws, "sma_cross", "EURUSD:1h", GRID, objectives, algo="tpe", trials=6, walk_forward=2)
    assert [f["fold"] for f in out.folds] == [1, 2]
    bars = ws.bars("EURUSD:1h")
    for f in out.folds:
        tr0, tr1 = (datetime.fromisoformat(f["train"][k]) for k in ("start", "end"))
        te0, te1 = (datetime.fromisoformat(f["test"][k]) for k in ("start", "end"))
        assert tr0 < tr1 < te0 < te1  # in-sample strictly before out-of-sample
        # the out-of-sample score is the engine's on the test block alone
        test = bars.filter((bars["ts"] >= te0) & (bars["ts"] <= te1))
        oos = sweep(test, "sma_cross", {k: [v] for k, v in f["params"].items()}).row(0, named=True)
        assert f["out_of_sample"]["total_return_pct"] == pytest.approx(oos["total_return_pct"], rel=1e-12)
        # the chosen params are the fold's best stored in-sample trial
        _, front = _check_front(ws, out, {"total_return_pct": "max"}, fold=f["fold"])
        assert f["in_sample"]["total_return_pct"] == max(
            json.loads(o)["total_return_pct"]
            for o in ws.optimization_results(out.optimization_id).filter(fold=f["fold"])["objectives"]
        )
    assert datetime.fromisoformat(out.folds[0]["test"]["end"]) < datetime.fromisoformat(
        out.folds[1]["test"]["start"]
    )
    rows = ws.optimization_results(out.optimization_id)
    assert rows.group_by("fold").len().sort("fold").rows() == [(1, 6), (2, 6)]


def _stored(ws, oid):
    rows = ws.optimization_results(oid).sort("trial")
    return [(json.loads(p), json.loads(m)) for p, m in zip(rows["parameters"], rows["metrics"], strict=True)]


def _direct(frame):
    """A sweep frame as (params, metrics) with non-finite metrics as null, as the store keeps them."""
    params = [c for c in frame.columns if c not in METRICS]
    out = []
    for r in frame.iter_rows(named=True):
        m = {k: (None if isinstance(r[k], float) and not math.isfinite(r[k]) else r[k]) for k in METRICS}
        out.append(({k: r[k] for k in params}, m))
    return out


def test_grid_is_chunked_and_equals_a_direct_sweep_row_for_row(ws):
    calls = []
    out = run_optimize(ws, "sma_cross", "EURUSD:1h", GRID, parse_objectives(["sharpe:max"]), algo="grid",
                       progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    direct = sweep(ws.bars("EURUSD:1h"), "sma_cross", GRID)
    assert out.trials == direct.height == 26 * 17  # every fast < slow pair: all of them here
    assert _stored(ws, out.optimization_id) == _direct(direct)
    # one Tune trial per chunk (2 CPUs x 4), each reporting its chunk's combinations
    assert len(calls) == 8 and calls[-1] == (direct.height, direct.height)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and calls[0][0] > 1
    # rank 1 is the best Sharpe of the direct sweep
    rows = ws.optimization_results(out.optimization_id)
    best = rows.filter(rank=1).row(0, named=True)
    assert json.loads(best["objectives"])["sharpe"] == direct["sharpe"].max()
    # the resumable experiment directory is removed once the results are stored
    assert not any((ws.home / "tune").iterdir())
    # overfitting checks stored with it: PBO from the direct sweep's block moments, DSR of the best trial
    bars = ws.bars("EURUSD:1h")
    blocks = sweep(bars, "sma_cross", GRID, blocks=16)
    best_i = int(np.argmax(blocks["sharpe"].fill_null(-np.inf).to_numpy()))
    returns = daily_returns(run(bars, "sma_cross", _params(blocks.row(best_i, named=True))).equity)
    expect = overfitting(blocks, best_i, returns=returns)
    assert expect.pbo is not None and expect.deflated_sharpe is not None and expect.blocks == 16
    row = ws.store.frame("SELECT deflated_sharpe, pbo, meta FROM optimizations WHERE id = $1",
                         [out.optimization_id]).row(0, named=True)  # fmt: skip
    assert row["pbo"] == pytest.approx(expect.pbo, abs=1e-12)
    assert row["deflated_sharpe"] == pytest.approx(expect.deflated_sharpe, rel=1e-9)
    assert json.loads(row["meta"])["overfitting"]["n_trials"] == expect.n_trials
    assert out.to_dict()["overfitting"]["pbo"] == row["pbo"]


def test_random_draws_distinct_combinations_and_equals_a_direct_sweep(ws):
    out = run_optimize(ws, "sma_cross", "EURUSD:1h", GRID, parse_objectives(["total_return_pct:max"]),
                       algo="random", trials=30, seed=7)  # fmt: skip
    stored = _stored(ws, out.optimization_id)
    pairs = [(p["fast"], p["slow"]) for p, _ in stored]
    assert out.trials == 30 and len(set(pairs)) == 30  # without replacement
    assert pairs == sorted(pairs)  # kept in grid order
    direct = sweep(ws.bars("EURUSD:1h"), "sma_cross", GRID)
    wanted = pl.DataFrame({"fast": [f for f, _ in pairs], "slow": [s for _, s in pairs]})
    assert stored == _direct(wanted.join(direct, on=["fast", "slow"], how="left"))


def test_random_plan_takes_the_whole_grid_when_trials_exceed_it():
    frame = _grid_frame(get_strategy("sma_cross"), GRID)
    plan = ALGOS["random"](frame, (), frame.height + 5, 0, 8)
    assert plan.combos.equals(frame) and plan.total == frame.height
    small = ALGOS["random"](frame, (), 12, 3, 100)  # more chunks than combinations: one each
    assert small.total == 12 and len(small.space["_rows"]["grid_search"]) == 12
    again = ALGOS["random"](frame, (), 12, 3, 100)
    assert small.combos.equals(again.combos)  # seeded


def test_evaluate_explicit_combinations_in_their_order():
    ws_bars = pytest.importorskip("workbench.data.samples").sample_frames()["EURUSD:1h"]
    bars = ws_bars.select("ts", "open", "high", "low", "close", "volume")
    frame = _grid_frame(get_strategy("sma_cross"), GRID)
    pick = frame[np.random.default_rng(5).permutation(frame.height)[:40].tolist()]  # shuffled
    got = evaluate(bars, "sma_cross", pick)
    direct = pick.join(sweep(bars, "sma_cross", GRID), on=["fast", "slow"], how="left")
    assert got.equals(direct)
    if "blocks" in inspect.signature(sweep).parameters:  # extra sweep columns are carried along
        with_blocks = evaluate(bars, "sma_cross", pick, blocks=4)
        full = pick.join(sweep(bars, "sma_cross", GRID, blocks=4), on=["fast", "slow"], how="left")
        assert "block_moments" in with_blocks.columns and with_blocks.equals(full)
    # missing parameters take their defaults; a row breaking the constraint is refused in one line
    assert (
        evaluate(bars, "sma_cross", pick.select("fast").filter(pl.col("fast") < 30))["slow"].unique().len()
        == 1
    )
    with pytest.raises(StrategyError, match="1 of 2 combinations break"):
        evaluate(bars, "sma_cross", pl.DataFrame({"fast": [10, 60], "slow": [50, 50]}))


def test_engine_settings_reach_every_trial_and_are_stored(ws):
    """Shorts, costs, risk sizing and a swept stop in the chunked grid search: every stored row is the
    direct ``sweep`` with the same settings, and the settings are echoed and kept in the meta."""
    settings = {"direction": "both", "commission": "7/lot", "spread": "1pips", "size": "1%risk",
                "trailing_stop": "30pips"}  # fmt: skip
    grid = {"fast": [5, 10, 20], "slow": [50, 100], "stop_loss": ["2atr", "1%"]}
    out = run_optimize(ws, "sma_cross", "EURUSD:1h", grid, parse_objectives([]), algo="grid", **settings)
    assert out.trials == 12
    assert {k: out.settings[k] for k in settings} == settings and out.to_dict()["settings"] == out.settings
    direct = sweep(ws.bars("EURUSD:1h"), "sma_cross", grid, **settings, contract="EURUSD")
    assert sweep(ws.bars("EURUSD:1h"), "sma_cross", grid, **out.settings).equals(direct)  # the echo
    rows = ws.optimization_results(out.optimization_id)
    stored = {
        tuple(json.loads(p).values()): json.loads(m)["final_equity"]
        for p, m in zip(rows["parameters"], rows["metrics"], strict=True)
    }
    for r in direct.iter_rows(named=True):
        assert stored[(r["fast"], r["slow"], r["stop_loss"])] == pytest.approx(r["final_equity"], rel=1e-12)
    meta = json.loads(ws.optimizations().filter(id=out.optimization_id)["meta"][0])
    assert {k: meta[k] for k in out.settings} == out.settings
