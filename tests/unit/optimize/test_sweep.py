"""run_sweep on a fresh workspace with the packaged EURUSD hourly bars."""

from __future__ import annotations

import itertools
import json

import pytest

from workbench.backtest import run
from workbench.errors import StrategyError
from workbench.optimize import run_sweep
from workbench.workspace import open_workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = open_workspace(tmp_path_factory.mktemp("lake"))
    w.load_samples()
    return w


def test_sweep_stores_every_combination_and_the_best(ws):
    grid = {"fast": [5, 10, 15, 20], "slow": [10, 20, 30, 40]}
    out = run_sweep(ws, "sma_cross", "EURUSD:1h", grid, chunk_size=3)  # several chunks in one transaction
    expected = [(f, s) for f, s in itertools.product(grid["fast"], grid["slow"]) if f < s]  # fast < slow
    assert out.combos == len(expected)
    rows = ws.optimization_results(out.optimization_id)
    assert rows.height == len(expected)
    stored = sorted((json.loads(p)["fast"], json.loads(p)["slow"]) for p in rows["parameters"])
    assert stored == sorted(expected)
    returns = [json.loads(m)["total_return_pct"] for m in rows["metrics"]]
    assert out.best_metrics["total_return_pct"] == max(returns)
    assert sorted(rows["rank"].to_list()) == list(range(1, len(expected) + 1))
    opt = ws.optimizations().filter(id=out.optimization_id).row(0, named=True)
    assert (opt["origin"], opt["algo"]) == ("sweep", "grid")
    # the best combination stored as a full backtest whose trades reproduce the engine's run
    (bid,) = out.backtest_ids
    result = run(ws.bars("EURUSD:1h"), "sma_cross", out.best_params)
    assert ws.metrics(bid).net_profit == pytest.approx(float(result.trades["pnl"].sum()), rel=1e-9)
    assert ws.trades(bid).height == result.metrics["trades"]
    assert ws.backtests().filter(id=bid)["origin"][0] == "sweep"
    assert ws.parameters(bid, "backtest")["fast"] == out.best_params["fast"]


def test_min_metric_ranks_ascending(ws):
    out = run_sweep(
        ws, "sma_cross", "EURUSD:1h", {"fast": [5, 10], "slow": [30, 60]}, rank_by="max_drawdown_pct"
    )
    rows = ws.optimization_results(out.optimization_id)
    dds = [json.loads(m)["max_drawdown_pct"] for m in rows["metrics"]]
    assert out.best_metrics["max_drawdown_pct"] == min(dds)


def test_empty_grid_writes_nothing(ws):
    before = ws.optimizations().height
    with pytest.raises(StrategyError):
        run_sweep(ws, "sma_cross", "EURUSD:1h", {"fast": [50], "slow": [10]})
    assert ws.optimizations().height == before
