"""Per-block daily-return moments of a sweep (``blocks=S``), checked against the daily returns recomputed
independently from ``run(...)``'s equity curve on the packaged EURUSD (hourly) and GOOG (daily) bars.

Both are markets closed at weekends (252 trading days a year): a trading day is the calendar date of a
bar, with EURUSD's Sunday-evening bars counted to Monday (Saturday bars would count to Friday)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from workbench.backtest import METRICS, Size, iter_sweep, run, sweep
from workbench.errors import ConfigError
from workbench.optimize.overfit import daily_returns

CASES = [
    ("EURUSD", "sma_cross", {"fast": [5, 10], "slow": [20, 50]}, {"direction": "both"}, 8),
    ("EURUSD", "rsi_reversion", {"window": [7, 14], "lower": [30.0]}, {"commission": 0.0002, "sl": 0.01}, 5),
    ("GOOG", "macd", {"fast": [8, 12], "slow": [26], "signal": [9]}, {"direction": "both"}, 16),
    ("GOOG", "bollinger_breakout", {"window": [10, 20], "k": [2.0]}, {"spread": 0.001}, 16),
]


def _session(ts: pl.Expr) -> pl.Expr:
    """The trading day of a bar of a market closed at weekends: Saturday -> Friday, Sunday -> Monday."""
    wd = ts.dt.weekday()  # Monday = 1 ... Sunday = 7
    shift = pl.when(wd == 6).then(-1).when(wd == 7).then(1).otherwise(0)
    return ts.dt.date() + pl.duration(days=shift)


def _n_changes(bars: pl.DataFrame) -> int:
    return bars.select(_session(pl.col("ts")).n_unique()).item() - 1


def _daily(equity: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Equity at the last bar of each trading day -> (returns while the previous equity > 0, the index
    of each return among all the day-to-day changes). Written apart from the engine and overfit."""
    close = equity.group_by(_session(pl.col("ts")), maintain_order=True).agg(pl.col("equity").last())
    eq = close["equity"].to_numpy()
    idx = np.flatnonzero(eq[:-1] > 0)
    return eq[idx + 1] / eq[idx] - 1.0, idx


def _moments(returns: np.ndarray, idx: np.ndarray, n_changes: int, s: int) -> np.ndarray:
    """(S, 3) count, sum, sum of squares with the day-to-day changes cut like ``np.array_split``."""
    out = np.zeros((s, 3))
    for b, part in enumerate(np.array_split(np.arange(n_changes), s)):
        r = returns[np.isin(idx, part)]
        out[b] = (r.size, r.sum(), (r * r).sum())
    return out


@pytest.mark.parametrize(("symbol", "name", "grid", "kw", "s"), CASES)
def test_block_moments_are_the_moments_of_the_daily_returns(bars, symbol, name, grid, kw, s):
    table = sweep(bars[symbol], name, grid, blocks=s, **kw)
    assert table.columns[-len(METRICS) - 1 : -1] == list(METRICS)
    assert table.columns[-1] == "block_moments"
    assert table.schema["block_moments"] == pl.Array(pl.Float64, 3 * s)
    n_changes = _n_changes(bars[symbol])
    assert n_changes < bars[symbol]["ts"].dt.date().n_unique() - 1 if symbol == "EURUSD" else True
    for row in table.iter_rows(named=True):
        params = {k: row[k] for k in grid}
        res = run(bars[symbol], name, params, **kw)
        returns, idx = _daily(res.equity)
        expected = _moments(returns, idx, n_changes, s)
        got = np.array(row["block_moments"]).reshape(s, 3)
        assert got[:, 0].tolist() == expected[:, 0].tolist(), params  # counts: exact
        assert got[:, 0].sum() == n_changes  # no run here goes bust: every day-to-day change counts
        np.testing.assert_allclose(got[:, 1:], expected[:, 1:], rtol=1e-9, atol=1e-15)
        # pooled over all blocks: the sweep's (annualised) Sharpe
        n, total, sq = got.sum(axis=0)
        mean = total / n
        sharpe = mean / math.sqrt((sq - n * mean * mean) / (n - 1)) * math.sqrt(252)
        assert sharpe == pytest.approx(row["sharpe"], rel=1e-9)
        assert sharpe == pytest.approx(float(np.mean(returns) / np.std(returns, ddof=1)) * math.sqrt(252))
        # overfit.daily_returns gives the same series the blocks were built from
        np.testing.assert_allclose(daily_returns(res.equity), returns, rtol=1e-12, atol=1e-15)


def test_block_sizes_follow_array_split(bars):
    table = sweep(bars["GOOG"], "sma_cross", {"fast": [10], "slow": [50]}, blocks=16)
    counts = np.array(table["block_moments"][0]).reshape(16, 3)[:, 0]
    n_changes = bars["GOOG"].height - 1  # daily bars: one return per bar after the first
    assert counts.tolist() == [len(p) for p in np.array_split(np.arange(n_changes), 16)]
    assert counts.max() - counts.min() <= 1


def test_a_run_gone_bust_stops_counting(bars):
    # 1 000 fixed units of GOOG (~$300 each) on $10 000 cash: short, the first rally ends it
    kw = {"direction": "short", "size": Size.units(1_000)}
    table = sweep(bars["GOOG"], "sma_cross", {"fast": [5], "slow": [20]}, blocks=4, **kw)
    assert table["total_return_pct"][0] == -100.0
    res = run(bars["GOOG"], "sma_cross", {"fast": 5, "slow": 20}, **kw)
    returns, idx = _daily(res.equity)
    got = np.array(table["block_moments"][0]).reshape(4, 3)
    n_changes = bars["GOOG"].height - 1
    assert 0 < got[:, 0].sum() == returns.size < n_changes
    np.testing.assert_allclose(got, _moments(returns, idx, n_changes, 4), rtol=1e-9, atol=1e-15)
    assert returns[-1] == -1.0  # the bust day loses everything, later days have no return


def test_blocks_change_no_metric_and_chunks_agree(bars):
    grid = {"fast": [5, 10, 15], "slow": [20, 40, 60]}
    plain = sweep(bars["EURUSD"], "sma_cross", grid)
    with_blocks = sweep(bars["EURUSD"], "sma_cross", grid, blocks=6)
    assert "block_moments" not in plain.columns
    assert with_blocks.drop("block_moments").equals(plain)
    parts = list(iter_sweep(bars["EURUSD"], "sma_cross", grid, chunk_size=4, blocks=6))
    assert pl.concat(parts).equals(with_blocks)


def test_block_errors_are_one_line(bars):
    n_changes = bars["GOOG"].height - 1
    for blocks in (1, -2, n_changes // 2 + 1):
        with pytest.raises(ConfigError, match="blocks=") as err:
            sweep(bars["GOOG"], "sma_cross", {"fast": [10], "slow": [50]}, blocks=blocks)
        assert "\n" not in str(err.value)
    sweep(bars["GOOG"], "sma_cross", {"fast": [10], "slow": [50]}, blocks=n_changes // 2)  # the most
    with pytest.raises(ConfigError, match="integer"):
        sweep(bars["GOOG"], "sma_cross", {"fast": [10], "slow": [50]}, blocks=2.5)
