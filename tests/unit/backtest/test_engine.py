"""Engine conventions on hand-made series (fills, tie rule, stops, sizing, bankruptcy), sweep/run/chunk
consistency, the daily Sharpe, grids and errors."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import SMA

from workbench.backtest import (
    BACKTESTING_PY_SIZE,
    METRICS,
    Param,
    Rules,
    Size,
    StrategySpec,
    iter_sweep,
    parse_grid,
    run,
    signals,
    sweep,
)
from workbench.backtest.indicators import sma
from workbench.backtest.spec import close, cross_above, cross_below
from workbench.errors import ConfigError, DataError, RegistryError, StrategyError

# A strategy made for the hand calculations: long when the close crosses above ``level``, out below it.
LEVEL = StrategySpec(
    name="level",
    description="close crosses a fixed level",
    params=(Param("level", float, 100.0, (0.0, 1e9)),),
    constraint=None,
    rules=lambda level: Rules(cross_above(close(), level), cross_below(close(), level)),
)


def make_bars(rows: list[tuple[float, float, float, float]], start: datetime | None = None) -> pl.DataFrame:
    """Hourly bars from (open, high, low, close) rows."""
    t0 = start or datetime(2024, 1, 1)
    return pl.DataFrame(
        {
            "ts": [t0 + timedelta(hours=i) for i in range(len(rows))],
            "open": [float(r[0]) for r in rows],
            "high": [float(r[1]) for r in rows],
            "low": [float(r[2]) for r in rows],
            "close": [float(r[3]) for r in rows],
            "volume": [1.0] * len(rows),
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("us")))


# close crosses above 100 at bar 1 and below at bar 3; crosses above again on the last bar
TINY = make_bars(
    [
        (99.0, 99.5, 98.5, 99.0),
        (99.0, 101.5, 98.8, 101.0),
        (103.0, 104.5, 102.5, 104.0),
        (105.0, 105.5, 98.5, 99.0),
        (97.0, 98.5, 96.5, 98.0),
        (98.0, 101.5, 97.5, 101.0),
    ]
)


def test_close_fill_acts_on_the_signal_bar_close():
    res = run(TINY, LEVEL, fill="close")
    t = res.trades.row(0, named=True)
    assert res.trades.height == 1  # the last bar's entry stays open: marked to market, not a trade
    assert (t["entry_bar"], t["exit_bar"], t["entry_price"], t["exit_price"]) == (1, 3, 101.0, 99.0)
    units = 10_000 / 101.0
    assert t["size"] == pytest.approx(units)
    assert t["pnl"] == pytest.approx(units * (99.0 - 101.0))
    # bar 2 equity: all cash in units bought at 101, marked at the close of 104
    assert res.equity["equity"][2] == pytest.approx(units * 104.0)
    # the position opened at the last close (101) is worth what it cost
    assert res.metrics["final_equity"] == pytest.approx(10_000 + units * (99.0 - 101.0))


def test_next_open_fill_acts_on_the_next_bar_open():
    res = run(TINY, LEVEL, fill="next_open")
    t = res.trades.row(0, named=True)
    assert res.trades.height == 1  # the last bar's signal has no next bar: never filled
    assert (t["entry_bar"], t["exit_bar"], t["entry_price"], t["exit_price"]) == (2, 4, 103.0, 97.0)
    assert t["entry_time"] == datetime(2024, 1, 1, 2) and t["exit_time"] == datetime(2024, 1, 1, 4)
    units = 10_000 / 103.0
    assert t["pnl"] == pytest.approx(units * (97.0 - 103.0))
    assert res.equity["equity"].to_list()[:2] == [10_000.0, 10_000.0]
    assert res.equity["equity"][2] == pytest.approx(units * 104.0)
    assert res.metrics["final_equity"] == pytest.approx(10_000 + units * (97.0 - 103.0))
    assert res.metrics["total_return_pct"] == pytest.approx(units * (97.0 - 103.0) / 100)
    # peak = units * 105? no: marks are at closes only: peak 10 097.09 (bar 2), trough 9 417.48
    peak, trough = units * 104.0, 10_000 + units * (97.0 - 103.0)
    assert res.metrics["max_drawdown_pct"] == pytest.approx((1 - trough / peak) * 100)


def test_short_fills_and_reversal():
    res = run(TINY, LEVEL, fill="close", direction="both")
    # long 101 -> 99 (bar 3), short 99 -> 101 (bar 5, reversal back to long, left open)
    assert res.trades["direction"].to_list() == ["long", "short"]
    assert res.trades["entry_price"].to_list() == [101.0, 99.0]
    assert res.trades["exit_price"].to_list() == [99.0, 101.0]
    cash_after_long = 10_000 + 10_000 / 101 * (99 - 101)
    assert res.trades["size"][1] == pytest.approx(cash_after_long / 99.0)
    short_only = run(TINY, LEVEL, fill="close", direction="short")
    assert short_only.trades["direction"].to_list() == ["short"]


def test_tie_rule_equal_smas_are_not_a_cross(pandas_data):
    """sma(2) - sma(4) goes -, 0, + at bars 4..6: no cross (strictly below, then strictly above, as in
    backtesting.lib.crossover); the later direct -, + changes are crosses."""
    closes = [10, 10, 10, 10, 9, 11, 12, 12, 12, 8, 8, 13, 14, 14, 9, 9, 15, 15]
    # d = sma2 - sma4 = (c[i] + c[i-1] - c[i-2] - c[i-3]) / 4
    d = [np.nan] * 3 + [(closes[i] + closes[i - 1] - closes[i - 2] - closes[i - 3]) / 4 for i in range(3, 18)]
    assert d[4] < 0 and d[5] == 0 and d[6] > 0  # the tie
    c = np.array(closes, dtype=float)
    s2, s4 = sma(c, 2), sma(c, 4)
    assert s2[5] == s4[5]  # exactly equal, as pandas has them
    assert pd.Series(c).rolling(2).mean()[5] == pd.Series(c).rolling(4).mean()[5]
    bars = make_bars([(x, x, x, x) for x in closes])
    flags = signals(bars, "sma_cross", {"fast": 2, "slow": 4})
    ups = [i for i, v in enumerate(flags["long_entry"].to_list()) if v]
    downs = [i for i, v in enumerate(flags["long_exit"].to_list()) if v]
    naive_ups = [i for i in range(4, 18) if d[i - 1] <= 0 < d[i]]  # "sign change from <= 0" rule
    assert 6 in naive_ups and 6 not in ups  # the rule matters on this series
    assert ups == [i for i in range(4, 18) if d[i - 1] < 0 < d[i]]
    assert downs == [i for i in range(4, 18) if d[i - 1] > 0 > d[i]]
    assert ups and downs

    class Cross(Strategy):
        def init(self):
            self.a = self.I(SMA, self.data.Close, 2)
            self.b = self.I(SMA, self.data.Close, 4)

        def next(self):
            if crossover(self.a, self.b):
                self.position.close()
                self.buy()
            elif crossover(self.b, self.a):
                self.position.close()
                self.sell()

    df = pd.DataFrame({k: closes for k in ("Open", "High", "Low", "Close")}, dtype=float)
    df.index = pd.date_range("2024-01-01", periods=len(closes), freq="h")
    stats = Backtest(df, Cross, cash=10_000, trade_on_close=True).run()
    res = run(
        bars, "sma_cross", {"fast": 2, "slow": 4}, fill="close", direction="both", size=BACKTESTING_PY_SIZE
    )
    assert res.trades["entry_bar"].to_list() == stats["_trades"]["EntryBar"].tolist()
    assert res.metrics["final_equity"] == pytest.approx(stats["Equity Final [$]"], abs=1e-9)


STOPS = make_bars(
    [
        (99.0, 99.5, 98.5, 99.0),
        (99.0, 101.5, 98.8, 101.0),  # signal; next-open entry at 103 on bar 2
        (103.0, 104.5, 102.5, 104.0),
        (105.0, 105.5, 98.5, 101.0),
        (101.0, 101.5, 100.5, 101.0),
    ]
)


@pytest.mark.parametrize(
    ("sl", "tp", "bar", "price", "reason"),
    [
        (0.02, 0.0, 3, 103 * 0.98, "stop_loss"),  # bar 3's low 98.5 touches 100.94
        (0.0, 0.01, 2, 103 * 1.01, "take_profit"),  # the entry bar's high 104.5 reaches 104.03
        (0.02, 0.01, 2, 103 * 1.01, "take_profit"),
        (0.004, 0.01, 2, 103 * 0.996, "stop_loss"),  # both touched on bar 2: the stop is assumed first
    ],
)
def test_stop_loss_and_take_profit(sl, tp, bar, price, reason):
    res = run(STOPS, LEVEL, sl=sl, tp=tp)
    t = res.trades.row(0, named=True)
    assert (t["exit_bar"], t["exit_reason"]) == (bar, reason)
    assert t["exit_price"] == pytest.approx(price)


def test_stop_gap_fills_at_the_open_and_short_stops():
    gap = make_bars([(99, 99.5, 98.5, 99), (99, 101.5, 98.8, 101), (97, 97.5, 96, 97.5), (97, 98, 96, 97)])
    t = run(gap, LEVEL, fill="close", sl=0.02).trades.row(0, named=True)
    assert (t["exit_bar"], t["exit_price"], t["exit_reason"]) == (2, 97.0, "stop_loss")  # open below 98.98
    down = make_bars([(101, 101, 101, 101), (101, 101, 98, 99), (99, 100.2, 98.5, 99.5), (99, 99, 90, 92)])
    t = run(down, LEVEL, fill="close", direction="short", sl=0.01, tp=0.05).trades
    assert t["exit_reason"].to_list() == ["stop_loss"]  # bar 2 high 100.2 >= 99.99
    assert t["exit_price"][0] == pytest.approx(99 * 1.01)
    t = run(down, LEVEL, fill="close", direction="short", tp=0.05).trades
    assert t["exit_reason"].to_list() == ["take_profit"] and t["exit_price"][0] == pytest.approx(99 * 0.95)


# -- trade times are fill times -------------------------------------------------------------------------------


def test_trade_times_are_fill_times():
    # hourly bars from 00:00: bar i opens at i:00 and closes at (i + 1):00
    h = lambda i: datetime(2024, 1, 1, i)  # noqa: E731
    t = run(TINY, LEVEL, fill="next_open").trades.row(0, named=True)
    assert (t["entry_bar"], t["exit_bar"]) == (2, 4)
    assert (t["entry_time"], t["exit_time"]) == (h(2), h(4))  # at those bars' opens
    t = run(TINY, LEVEL, fill="close").trades.row(0, named=True)
    assert (t["entry_bar"], t["exit_bar"]) == (1, 3)
    assert (t["entry_time"], t["exit_time"]) == (h(2), h(4))  # at bars 1 and 3's closes
    # a stop touched inside bar 3 (next-open entry on bar 2): known filled by bar 3's close
    t = run(STOPS, LEVEL, sl=0.02).trades.row(0, named=True)
    assert (t["exit_bar"], t["exit_reason"], t["exit_time"]) == (3, "stop_loss", h(4))
    # a stop filled at bar 2's open through a gap: at that open
    gap = make_bars([(99, 99.5, 98.5, 99), (99, 101.5, 98.8, 101), (97, 97.5, 96, 97.5), (97, 98, 96, 97)])
    t = run(gap, LEVEL, fill="close", sl=0.02).trades.row(0, named=True)
    assert (t["exit_price"], t["entry_time"], t["exit_time"]) == (97.0, h(2), h(2))
    # bankruptcy is found at bar 3's close
    t = run(TINY, LEVEL, size=Size.units(10_000)).trades.row(0, named=True)
    assert (t["exit_reason"], t["exit_time"]) == ("bankrupt", h(4))
    # the ingest schema carries the same times
    frame = run(TINY, LEVEL, fill="close").to_trades("X")
    assert (frame["open_time"][0], frame["close_time"][0]) == (h(2), h(4))


def test_close_time_is_the_bar_period_after_the_start_across_gaps_and_months():
    # a weekend gap: Friday's 23:00 bar closes at Saturday 00:00, not at Monday's first bar
    fri = datetime(2024, 1, 5, 22)
    ts = [
        fri,
        datetime(2024, 1, 5, 23),
        datetime(2024, 1, 8, 0),
        datetime(2024, 1, 8, 1),
        datetime(2024, 1, 8, 2),
    ]
    rows = [(99, 99, 99, 99), (99, 101, 99, 101), (101, 101, 98, 98), (98, 98, 98, 98), (98, 98, 98, 98)]
    bars = make_bars(rows).with_columns(pl.Series("ts", ts).cast(pl.Datetime("us")))
    t = run(bars, LEVEL, fill="close").trades.row(0, named=True)
    assert (t["entry_time"], t["exit_time"]) == (datetime(2024, 1, 6), datetime(2024, 1, 8, 1))
    # monthly bars: the close of February's bar is March 1st (a calendar month, not 31 days)
    months = make_bars(rows).with_columns(
        pl.date_range(datetime(2024, 1, 1), datetime(2024, 5, 1), "1mo", eager=True).cast(pl.Datetime("us"))
        .alias("ts")
    )  # fmt: skip
    t = run(months, LEVEL, fill="close").trades.row(0, named=True)
    assert (t["entry_bar"], t["entry_time"], t["exit_time"]) == (
        1,
        datetime(2024, 3, 1),
        datetime(2024, 4, 1),
    )
    t = run(months, LEVEL).trades.row(0, named=True)  # next-open: the opens of March and April
    assert (t["entry_time"], t["exit_time"]) == (datetime(2024, 3, 1), datetime(2024, 4, 1))


def test_commission_and_spread_arithmetic():
    res = run(TINY, LEVEL, fill="next_open", commission=0.001, spread=0.0002, size=Size.fraction(0.5))
    t = res.trades.row(0, named=True)
    fill = 103 * 1.0002
    units = 10_000 * 0.5 / (fill + 103 * 0.001)
    assert t["entry_price"] == pytest.approx(fill) and t["size"] == pytest.approx(units)
    assert t["commission"] == pytest.approx(units * fill * 0.001 + units * 97 * 0.001)
    assert t["pnl"] == pytest.approx(units * (97 - fill) - t["commission"])
    assert res.metrics["final_equity"] == pytest.approx(10_000 + t["pnl"])


def test_whole_units_and_fixed_units():
    whole = run(TINY, LEVEL, size=Size.fraction(1.0, whole=True)).trades
    assert whole["size"][0] == math.floor(10_000 / 103)
    assert run(TINY, LEVEL, size=Size.units(3)).trades["size"][0] == 3.0


def test_bankruptcy_ends_the_run():
    res = run(TINY, LEVEL, size=Size.units(10_000))  # 10 000 units at 103 with 10 000 cash
    t = res.trades.row(0, named=True)
    assert (t["exit_bar"], t["exit_reason"], t["exit_price"]) == (3, "bankrupt", 99.0)
    assert res.equity["equity"].to_list()[3:] == [0.0, 0.0, 0.0]
    assert res.metrics["total_return_pct"] == -100.0 and res.metrics["max_drawdown_pct"] == 100.0


# -- consistency ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "grid"),
    [
        ("sma_cross", {"fast": [5, 10, 20], "slow": [20, 50], "sl": [0.0, 0.03], "tp": [0.0, 0.08]}),
        ("macd", {"fast": [8, 12], "slow": [26], "signal": [5, 9]}),
        ("rsi_reversion", {"window": [7, 14], "lower": [30.0, 40.0], "upper": [60.0, 70.0]}),
        ("bollinger_breakout", {"window": [10, 20], "k": [1.5, 2.0]}),
        ("donchian_breakout", {"entry": [20, 55], "exit": [10, 20]}),
    ],
)
def test_sweep_rows_equal_single_runs(bars, name, grid):
    kw = {"direction": "both", "commission": 0.0005, "spread": 0.0001}
    table = sweep(bars["GOOG"], name, grid, **kw)
    for row in table.iter_rows(named=True):
        params = {k: row[k] for k in table.columns if k not in METRICS}
        res = run(bars["GOOG"], name, params, **kw)
        for m in METRICS:
            assert row[m] == pytest.approx(res.metrics[m], rel=1e-12, nan_ok=True), (params, m)


def test_iter_sweep_chunks_and_row_eviction_change_nothing(bars):
    grid = {"fast": list(range(5, 30, 3)), "slow": list(range(20, 120, 10))}
    whole = sweep(bars["EURUSD"], "sma_cross", grid)
    n = bars["EURUSD"].height
    # room for only 4 indicator rows: every chunk recomputes / evicts rows
    parts = list(iter_sweep(bars["EURUSD"], "sma_cross", grid, chunk_size=7, max_indicator_bytes=4 * 8 * n))
    assert [p.height for p in parts[:-1]] == [7] * (len(parts) - 1)
    assert pl.concat(parts).equals(whole)


def test_grid_counts_and_constraint(bars):
    grid = parse_grid(["fast=5:50", "slow=10:200:5"])
    assert grid["fast"] == list(range(5, 51)) and grid["slow"] == list(range(10, 201, 5))
    table = sweep(bars["EURUSD"], "sma_cross", grid)
    assert table.height == sum(1 for f in range(5, 51) for s in range(10, 201, 5) if f < s) == 1605
    assert (table["fast"] < table["slow"]).all()
    assert table.select(["fast", "slow"]).is_unique().all()


def test_sharpe_is_daily_on_trading_days(bars):
    """GOOG (daily bars, no weekend bars): equity at each date's bar, pct change, mean / std(ddof=1) ×
    √252. The oracles for every convention (quantstats, closed forms, 24/7 markets, monthly bars) are in
    test_annualization.py."""
    res = run(bars["GOOG"], "sma_cross", {"fast": 10, "slow": 50})
    returns = res.equity["equity"].to_pandas().pct_change().dropna()
    assert len(returns) == bars["GOOG"].height - 1
    expected = returns.mean() / returns.std(ddof=1) * math.sqrt(252)
    assert res.metrics["sharpe"] == pytest.approx(expected, rel=1e-9)
    assert res.annualization.periods_per_year == 252
    row = sweep(bars["GOOG"], "sma_cross", {"fast": [10], "slow": [50]})
    assert row["sharpe"][0] == pytest.approx(expected, rel=1e-9)


def test_to_trades_feeds_analytics(bars):
    from workbench.analytics import compute_metrics

    res = run(bars["GOOG"], "sma_cross", {"fast": 10, "slow": 50}, commission=0.001)
    frame = res.to_trades("GOOG")
    m = compute_metrics(frame, 10_000)
    assert m.total_trades == res.metrics["trades"]
    assert m.net_profit == pytest.approx(res.trades["pnl"].sum())
    assert m.profit_factor == pytest.approx(res.metrics["profit_factor"])


# -- grids and errors ----------------------------------------------------------------------------------------


def test_parse_grid_forms():
    g = parse_grid(["k=1:2:0.25", "lower=20,25.5", "signal=9"])
    assert g == {"k": [1.0, 1.25, 1.5, 1.75, 2.0], "lower": [20, 25.5], "signal": [9]}
    for bad in ["fast", "fast=", "fast=a:b", "fast=9:5", "fast=1:5:0", "fast=1:2:3:4"]:
        with pytest.raises(ConfigError, match="grid item"):
            parse_grid([bad])


def test_errors_are_one_line_and_name_the_problem(bars):
    b = bars["GOOG"]
    with pytest.raises(RegistryError, match="did you mean 'sma_cross'"):
        run(b, "sma_crosss")
    with pytest.raises(StrategyError, match="no parameter 'fats'"):
        sweep(b, "sma_cross", {"fats": [5]})
    with pytest.raises(StrategyError, match="violates its constraint 'fast < slow'"):
        run(b, "sma_cross", {"fast": 50, "slow": 10})
    with pytest.raises(StrategyError, match="no combination"):
        sweep(b, "sma_cross", {"fast": [50], "slow": [10, 20]})
    with pytest.raises(StrategyError, match="outside its range"):
        run(b, "sma_cross", {"fast": 1})
    with pytest.raises(StrategyError, match="not an integer"):
        run(b, "sma_cross", {"fast": 2.5})
    with pytest.raises(DataError, match="lack column"):
        run(b.drop("low"), "sma_cross")
    with pytest.raises(DataError, match="strictly increasing"):
        run(b.reverse(), "sma_cross")
    with pytest.raises(DataError, match=r"bars.close row 3"):
        run(
            b.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise("close").alias("close")),
            "sma_cross",
        )
    with pytest.raises(ConfigError, match="fill 'open'"):
        run(b, "sma_cross", fill="open")
    with pytest.raises(ConfigError, match="direction"):
        run(b, "sma_cross", direction="sideways")
