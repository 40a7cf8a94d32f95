"""Ray Tune searches (TPE, NSGA-II, walk-forward) on the packaged EURUSD hourly bars, one local Ray."""

from __future__ import annotations

import json
import math
from datetime import datetime

import pytest

from workbench.backtest import sweep
from workbench.optimize import parse_objectives, run_optimize
from workbench.workspace import open_workspace

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.xdist_group("ray")]

GRID = {"fast": list(range(5, 31)), "slow": list(range(40, 121, 5))}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ray = pytest.importorskip("ray")
    w = open_workspace(tmp_path_factory.mktemp("lake"))
    w.load_samples()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield w
    ray.shutdown()


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
