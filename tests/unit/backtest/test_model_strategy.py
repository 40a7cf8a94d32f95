"""The ``model`` strategy (a predicted probability per bar against thresholds) and the engine's per-bar
series (extra bars columns, ``size_scale``), against backtesting.py driven by the same probabilities
(the oracle) and hand-built cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from backtesting import Backtest, Strategy

from workbench.backtest import BACKTESTING_PY_SIZE, run, signals, sweep
from workbench.errors import StrategyError


def _proba(n: int, seed: int = 7) -> np.ndarray:
    """A noisy probability path in (0, 1) with runs above and below the thresholds, NaN warm-up."""
    rng = np.random.default_rng(seed)
    p = 0.5 + 0.3 * np.sin(np.arange(n) / 9.0) + rng.normal(0, 0.08, n)
    p = np.clip(p, 0.01, 0.99)
    p[:30] = np.nan
    return p


@pytest.fixture(scope="module")
def eurusd_p(pandas_data):
    df = pandas_data["EURUSD"].iloc[:1500].copy()
    from workbench.backtest import bars_from_pandas

    bars = bars_from_pandas(df).with_columns(proba=pl.Series(_proba(len(df))))
    return df, bars


def _oracle(df: pd.DataFrame, p: np.ndarray, upper: float, lower: float, short: bool):
    """backtesting.py: at each bar's close, long while p > upper, short while p < lower (with
    ``short``), flat otherwise - the documented meaning of the model strategy."""
    df = df.assign(P=p)

    class ByProba(Strategy):
        def init(self):
            pass

        def next(self):
            i = len(self.data) - 1
            prev = self.data.P[-2] if i > 0 else np.nan
            now = self.data.P[-1]

            def zone(x):
                return 1 if x > upper else (-1 if (x < lower) else 0)

            z_prev, z = (zone(prev) if i > 0 else None), zone(now)
            if i == 0 or z == z_prev:
                return
            if self.position.is_long and z != 1:
                self.position.close()
            if self.position.is_short and z != -1:
                self.position.close()
            if z == 1:
                self.buy()
            elif z == -1 and short:
                self.sell()

    return Backtest(df, ByProba, cash=10_000).run()


@pytest.mark.parametrize(("upper", "lower", "short"), [(0.6, 0.4, False), (0.55, 0.45, True)])
def test_model_strategy_trades_as_backtesting_py_on_the_same_probabilities(eurusd_p, upper, lower, short):
    df, bars = eurusd_p
    stats = _oracle(df, bars["proba"].to_numpy(), upper, lower, short)
    res = run(
        bars,
        "model",
        {"upper": upper, "lower": lower},
        size=BACKTESTING_PY_SIZE,
        direction="both" if short else "long",
    )
    theirs = stats["_trades"]
    assert res.metrics["trades"] == stats["# Trades"] > 5
    assert res.trades["entry_bar"].to_list() == theirs["EntryBar"].tolist()
    assert res.trades["exit_bar"].to_list() == theirs["ExitBar"].tolist()
    np.testing.assert_allclose(res.trades["pnl"].to_numpy(), theirs["PnL"], atol=1e-6)
    assert res.metrics["final_equity"] == pytest.approx(stats["Equity Final [$]"], abs=1e-6)


def test_no_prediction_means_flat_and_a_regime_filter_blocks_entries(eurusd_p):
    _, bars = eurusd_p
    n = bars.height
    regime = np.where(np.arange(n) % 200 < 100, 0, 1).astype(np.int64)
    b = bars.with_columns(regime=pl.Series(regime))
    sig = signals(b, "model", {"upper": 0.55, "lower": 0.45, "regime": 1})
    entries = np.flatnonzero(sig["long_entry"].to_numpy())
    assert entries.size > 0 and (regime[entries] == 1).all()  # only bars of regime 1 enter
    p = b["proba"].to_numpy()
    assert not sig["long_entry"].to_numpy()[:31].any()  # NaN warm-up: no prediction, no trade
    assert (p[entries] > 0.55).all()
    every = signals(b, "model", {"upper": 0.55, "lower": 0.45})
    assert every["long_entry"].sum() > sig["long_entry"].sum()


def test_size_scale_multiplies_units_and_zero_blocks_entries(eurusd_p):
    _, bars = eurusd_p
    base = run(bars, "model", {"upper": 0.55, "lower": 0.45}, size="1000")
    scale = np.full(bars.height, 0.25)
    scaled = run(bars.with_columns(size_scale=pl.Series(scale)), "model", {}, size="1000")
    assert scaled.metrics["trades"] == base.metrics["trades"]
    np.testing.assert_allclose(scaled.trades["size"].to_numpy(), 250.0)
    np.testing.assert_allclose(scaled.trades["pnl"].to_numpy(), base.trades["pnl"].to_numpy() * 0.25)
    # a 0/1 scale is a filter for any strategy: entries only where it is 1, the same trades otherwise
    sma = run(bars, "sma_cross", {"fast": 10, "slow": 30}, size="1000")
    entry_signal = sma.trades["entry_bar"].to_numpy() - 1  # next-open fills: signal one bar before
    keep = np.ones(bars.height)
    keep[entry_signal[::2]] = 0.0
    filt = run(
        bars.with_columns(size_scale=pl.Series(keep)), "sma_cross", {"fast": 10, "slow": 30}, size="1000"
    )
    assert filt.trades["entry_bar"].to_list() == sma.trades["entry_bar"].to_list()[1::2]


def test_threshold_sweep_matches_single_runs_and_missing_series_is_one_line(eurusd_p, bars):
    _, b = eurusd_p
    table = sweep(b, "model", {"upper": [0.5, 0.6, 0.7], "lower": [0.3, 0.5]}, direction="both")
    assert table.height == 6
    for row in table.iter_rows(named=True):
        one = run(b, "model", {"upper": row["upper"], "lower": row["lower"]}, direction="both")
        assert one.metrics["trades"] == row["trades"]
        assert one.metrics["final_equity"] == pytest.approx(row["final_equity"], rel=1e-12)
    with pytest.raises(
        StrategyError, match="no 'proba' column; backtest a registered model with `workbench ml backtest"
    ):
        run(bars["GOOG"], "model")
