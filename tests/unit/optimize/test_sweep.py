"""run_sweep on a fresh workspace with the packaged EURUSD hourly bars."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import scipy.stats

from workbench.backtest import annualization, run, sweep
from workbench.errors import StrategyError
from workbench.optimize import run_sweep
from workbench.optimize.overfit import daily_returns, overfitting
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
    # overfitting checks over the chunks: PBO by brute-force CSCV from a single unchunked sweep's moments
    bars = ws.bars("EURUSD:1h")
    direct = sweep(bars, "sma_cross", grid, blocks=16)
    assert opt["pbo"] == pytest.approx(_brute_pbo(direct), abs=1e-12)
    best_i = next(i for i, r in enumerate(direct.iter_rows(named=True)) if r["fast"] == out.best_params["fast"]
                  and r["slow"] == out.best_params["slow"])  # fmt: skip
    expect = overfitting(direct, best_i, returns=daily_returns(result.equity))
    assert opt["deflated_sharpe"] == pytest.approx(expect.deflated_sharpe, rel=1e-9)
    assert 0 <= opt["deflated_sharpe"] <= 1
    assert json.loads(opt["meta"])["overfitting"]["blocks"] == 16
    assert out.to_dict()["overfitting"]["pbo"] == opt["pbo"]


def _brute_pbo(frame) -> float:
    """CSCV written out: pooled Sharpe of each half from the block moments, rank of the in-sample best."""
    m = np.asarray(frame["block_moments"].to_numpy(), dtype=float).reshape(frame.height, 16, 3)
    below = total = 0
    for half in itertools.combinations(range(16), 8):
        rest = [b for b in range(16) if b not in half]

        def sharpe(blocks):
            n, s, q = (m[:, blocks, j].sum(axis=1) for j in range(3))
            var = (q - s * s / n) / (n - 1)
            return np.where(var > 1e-12 * q / n, (s / n) / np.sqrt(np.maximum(var, 1e-300)), -np.inf)

        ins, oos = sharpe(list(half)), sharpe(rest)
        best = int(np.argmax(ins))
        rank = scipy.stats.rankdata(oos)[best]  # 1 = worst, ties averaged
        w = rank / (frame.height + 1)
        below += np.log(w / (1 - w)) <= 0
        total += 1
    return below / total


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


def test_profit_factor_without_a_loss_ranks_first_and_the_annualization_is_stated(ws, monkeypatch, capsys):
    """(175, 400) wins all 4 of its trades: profit factor +inf, the best; the combinations without a
    trade (undefined profit factor) rank last, in combination order."""
    grid = {"fast": [10, 175, 1000], "slow": [50, 400, 4900]}
    bars = ws.bars("EURUSD:1h")
    direct = sweep(bars, "sma_cross", grid)
    assert direct.filter(fast=175, slow=400)["profit_factor"][0] == math.inf  # the sweep frame keeps +inf
    assert direct.filter(slow=4900)["profit_factor"].null_count() == 3  # no trade: null
    out = run_sweep(ws, "sma_cross", "EURUSD:1h", grid, rank_by="profit_factor", chunk_size=2)
    assert out.best_params == {"fast": 175, "slow": 400}
    assert out.best_metrics["trades"] == 4 and out.best_metrics["profit_factor"] is None  # JSON: no inf
    rows = ws.optimization_results(out.optimization_id).sort("rank")
    order = [(json.loads(p)["fast"], json.loads(p)["slow"]) for p in rows["parameters"]]
    assert order == [(175, 400), (10, 400), (10, 50), (10, 4900), (175, 4900), (1000, 4900)]
    pf = [json.loads(m)["profit_factor"] for m in rows["metrics"]]
    assert pf[0] is None and pf[1] > pf[2] > 0 and pf[3:] == [None] * 3
    # the annualisation of sharpe/sortino is stated: outcome, optimisation meta, stored backtest meta
    ann = annualization(bars).to_dict()
    assert ann["periods_per_year"] == 252 and ann["basis"] == "daily returns of mark-to-market equity"
    assert out.to_dict()["annualization"] == ann
    opt = ws.optimizations().filter(id=out.optimization_id).row(0, named=True)
    assert json.loads(opt["meta"])["annualization"] == ann
    meta = ws.backtest(out.backtest_ids[0]).info["meta"]
    assert meta["annualization"] == ann and meta["engine_metrics"]["profit_factor"] is None
    # and in `workbench backtest --json`
    from workbench.cli import main

    monkeypatch.setenv("WORKBENCH_HOME", str(ws.home))
    code = main(["backtest", "--strategy", "sma_cross", "--data", "EURUSD:1h", "--param", "fast=10,175",
                 "--param", "slow=50,400", "--rank-by", "profit_factor", "--json"])  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["best"]["params"] == {"fast": 175, "slow": 400}
    assert data["annualization"] == ann
