"""Sharpe/Sortino annualised from time, not bar count, against independent oracles.

* quantstats (``stats.sharpe`` / ``stats.sortino`` with ``periods=P``) on daily returns of the marked-to-
  market equity rebuilt here with pandas from ``run(...).equity`` (real EURUSD hourly and GOOG daily bars;
  a generated 24/7 hourly series);
* the closed form on synthetic monthly and weekly bars whose per-bar returns are chosen here: buy-and-hold
  equity has exactly those returns, so Sharpe = mean / std(ddof=1) × √12 (√52), never × √252;
* volatility-target sizing on monthly bars: σ = std of the last ``window`` monthly returns × √12.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pandas as pd
import polars as pl
import pytest

from workbench.backtest import (
    Param,
    Rules,
    Size,
    StrategySpec,
    annualization,
    period_returns,
    run,
    sweep,
)
from workbench.backtest.spec import close, cross_above, cross_below
from workbench.errors import DataError

qs = pytest.importorskip("quantstats")

REL = 1e-9
LEVEL = StrategySpec(
    name="level",
    description="close crosses a fixed level",
    params=(Param("level", float, 100.0, (0.0, 1e9)),),
    constraint=None,
    rules=lambda level: Rules(cross_above(close(), level), cross_below(close(), level)),
)


def _bars(ts: list[datetime] | pl.Series, closes: np.ndarray) -> pl.DataFrame:
    c = np.asarray(closes, dtype=np.float64)
    return pl.DataFrame(
        {
            "ts": pl.Series(ts).cast(pl.Datetime("us")),
            "open": c,
            "high": c * 1.001,
            "low": c * 0.999,
            "close": c,
            "volume": np.ones(c.size),
        }
    )


def _trading_days(equity: pl.DataFrame, weekends_open: bool) -> pd.Series:
    """Equity at the last bar of each trading day, pct change (pandas, apart from the engine). A market
    closed at weekends counts Saturday bars to Friday and Sunday bars to Monday."""
    df = equity.to_pandas().set_index("ts")
    day = df.index.normalize()
    if not weekends_open:
        wd = df.index.dayofweek
        day = day + pd.to_timedelta(np.where(wd == 5, -1, np.where(wd == 6, 1, 0)), unit="D")
    return df["equity"].groupby(day).last().pct_change().dropna()


@pytest.mark.parametrize("symbol", ["EURUSD", "GOOG"])
def test_sharpe_sortino_match_quantstats_on_daily_mtm_returns(bars, symbol):
    res = run(bars[symbol], "sma_cross", {"fast": 10, "slow": 50}, direction="both")
    ann = res.annualization
    assert (ann.periods_per_year, ann.period) == (252, "day")
    returns = _trading_days(res.equity, weekends_open=False)
    assert returns.size == ann.returns > 200
    np.testing.assert_allclose(res.returns(), returns.to_numpy(), rtol=1e-12, atol=1e-15)
    sharpe, sortino = qs.stats.sharpe(returns, periods=252), qs.stats.sortino(returns, periods=252)
    assert res.metrics["sharpe"] == pytest.approx(sharpe, rel=REL)
    assert res.metrics["sortino"] == pytest.approx(sortino, rel=REL)
    row = sweep(bars[symbol], "sma_cross", {"fast": [10], "slow": [50]}, direction="both").row(0, named=True)
    assert (row["sharpe"], row["sortino"]) == (
        pytest.approx(sharpe, rel=REL),
        pytest.approx(sortino, rel=REL),
    )


def test_fx_sunday_bars_are_monday_not_a_day_of_their_own(bars):
    ann = annualization(bars["EURUSD"])
    assert ann.periods_per_year == 252
    assert "Sunday bars to Monday" in ann.source
    dates = bars["EURUSD"]["ts"].dt.date().n_unique()
    sundays = bars["EURUSD"].filter(pl.col("ts").dt.weekday() == 7)["ts"].dt.date().n_unique()
    assert sundays > 30 and ann.returns == dates - sundays - 1
    assert annualization(bars["GOOG"]).to_dict() == {
        "periods_per_year": 252,
        "period": "day",
        "basis": "daily returns of mark-to-market equity",
        "source": "no weekend bars",
        "returns": bars["GOOG"].height - 1,
    }


def test_a_24_7_market_uses_365_calendar_days():
    rng = np.random.default_rng(7)
    ts = pl.datetime_range(datetime(2023, 1, 2), datetime(2023, 4, 30, 23), "1h", eager=True)
    closes = 20_000 * np.exp(np.cumsum(rng.normal(0, 0.004, ts.len())))
    crypto = _bars(ts, closes)
    ann = annualization(crypto)
    assert (ann.periods_per_year, ann.period) == (365, "day")
    assert "24/7" in ann.source and "100% of Saturdays" in ann.source
    res = run(crypto, "sma_cross", {"fast": 12, "slow": 48}, direction="both")
    returns = _trading_days(res.equity, weekends_open=True)
    assert returns.size == ann.returns == 118  # 119 calendar days
    assert res.metrics["sharpe"] == pytest.approx(qs.stats.sharpe(returns, periods=365), rel=REL)
    assert res.metrics["sortino"] == pytest.approx(qs.stats.sortino(returns, periods=365), rel=REL)


def test_weekend_bars_on_one_side_only_keep_252():
    # a broker at UTC+10: FX's Friday close falls on Saturday morning, no Sunday bars
    ts = [t for t in pl.datetime_range(datetime(2024, 1, 1), datetime(2024, 3, 1), "1h", eager=True)
          if t.weekday() < 5 or (t.weekday() == 5 and t.hour < 7)]  # fmt: skip
    ann = annualization(_bars(ts, np.linspace(100, 110, len(ts))))
    assert ann.periods_per_year == 252 and "Saturday bars count to Friday" in ann.source


def _buy_and_hold(ts: pl.Series, returns: np.ndarray) -> tuple[pl.DataFrame, np.ndarray]:
    """Bars whose close crosses above 100 at bar 1 (a close fill buys all equity there) and then moves by
    ``returns[2:]``, staying far above 100: the equity's per-bar returns are [0, *returns[2:]]."""
    closes = np.empty(returns.size)
    closes[0], closes[1] = 99.0, 150.0
    for i in range(2, returns.size):
        closes[i] = closes[i - 1] * (1.0 + returns[i])
    assert closes[1:].min() > 100.0
    return _bars(ts, closes), np.concatenate([[0.0], returns[2:]])


MONTHLY_RETURNS = np.array([0.0, 0.0] + [0.031, -0.012, 0.024, 0.008, -0.027, 0.015, 0.002, 0.019] * 4)


def test_monthly_bars_closed_form_sqrt_12():
    ts = pl.date_range(datetime(2018, 1, 1), datetime(2020, 10, 1), "1mo", eager=True)
    assert ts.len() == MONTHLY_RETURNS.size
    monthly, r = _buy_and_hold(ts, MONTHLY_RETURNS)
    ann = annualization(monthly)
    assert ann.to_dict() == {
        "periods_per_year": 12,
        "period": "month",
        "basis": "monthly returns of mark-to-market equity (one per bar)",
        "source": "monthly bars (median spacing 31 days)",
        "returns": MONTHLY_RETURNS.size - 1,
    }
    res = run(monthly, LEVEL, {"level": 100.0}, fill="close")
    assert res.trades.height == 0 and res.metrics["final_equity"] > 10_000  # held to the end
    np.testing.assert_allclose(res.returns(), r, rtol=1e-12, atol=1e-15)
    sharpe = r.mean() / r.std(ddof=1) * math.sqrt(12)
    sortino = r.mean() / math.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) * math.sqrt(12)
    assert res.metrics["sharpe"] == pytest.approx(sharpe, rel=REL)
    assert res.metrics["sortino"] == pytest.approx(sortino, rel=REL)
    assert res.metrics["sharpe"] == pytest.approx(qs.stats.sharpe(pd.Series(r), periods=12), rel=REL)
    # the old bar-count convention (each bar a "day", × √252) was √21 ≈ 4.58 times too high
    assert r.mean() / r.std(ddof=1) * math.sqrt(252) / res.metrics["sharpe"] == pytest.approx(math.sqrt(21))
    row = sweep(monthly, LEVEL, {"level": [100.0]}, fill="close").row(0, named=True)
    assert row["sharpe"] == pytest.approx(sharpe, rel=REL) and row["sortino"] == pytest.approx(
        sortino, rel=REL
    )


def test_weekly_bars_closed_form_sqrt_52():
    ts = pl.date_range(datetime(2021, 1, 4), datetime(2021, 8, 23), "1w", eager=True)
    weekly, r = _buy_and_hold(ts, MONTHLY_RETURNS)
    assert annualization(weekly).periods_per_year == 52
    res = run(weekly, LEVEL, {"level": 100.0}, fill="close")
    assert res.metrics["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(52), rel=REL)


def test_vol_target_on_monthly_bars_annualises_by_sqrt_12():
    ts = pl.date_range(datetime(2015, 1, 1), datetime(2016, 6, 1), "1mo", eager=True)
    closes = np.array([90, 92, 89, 93, 91, 95, 94, 97, 96, 99, 102, 104, 101, 105, 99, 103, 108, 110.0])
    monthly = _bars(ts, closes)
    res = run(monthly, LEVEL, {"level": 100.0}, fill="close", size=Size.vol_target(0.10, window=5,
                                                                                   max_leverage=10.0))  # fmt: skip
    entry = res.trades.row(0, named=True)
    i = entry["entry_bar"]
    assert i == 10  # 99 -> 102 crosses the level
    r = closes[1:] / closes[:-1] - 1.0
    sigma = np.std(r[i - 5 : i], ddof=1) * math.sqrt(12)  # the 5 monthly returns ending at bar i
    assert entry["size"] == pytest.approx(10_000 * min(0.10 / sigma, 10.0) / closes[i], rel=1e-9)


def test_annualization_needs_a_ts_column():
    with pytest.raises(DataError):
        annualization(pl.DataFrame({"x": [1, 2]}))
    assert period_returns(pl.DataFrame({"ts": [datetime(2024, 1, 1)], "equity": [1.0]})).size == 0
