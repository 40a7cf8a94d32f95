"""Engine settings backtesting.py has no equivalent for, checked against hand calculations on tiny series:
trailing stops (price, percent of the best price, shorts, close fills), ATR stops, slippage, spread in
pips, fixed-cash / lot / risk sizing, the per-lot and per-trade commission arithmetic; and the plumbing:
the settings echo, sweep rows equal to runs, swept stops, pips in the ingest trades, one-line errors.
(The settings backtesting.py does have are compared with it in test_settings_vs_backtesting.py.)"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import polars as pl
import pytest

from workbench.backtest import METRICS, Param, Rules, StrategySpec, run, sweep
from workbench.backtest.spec import close, cross_above, cross_below
from workbench.errors import ConfigError

# long when the close crosses above 100, out (short) when it crosses below
LEVEL = StrategySpec(
    name="level",
    description="close crosses a fixed level",
    params=(Param("level", float, 100.0, (0.0, 1e9)),),
    constraint=None,
    rules=lambda level: Rules(cross_above(close(), level), cross_below(close(), level)),
)
H = lambda i: datetime(2024, 1, 1, i)  # noqa: E731  (bar i opens at i:00, closes at i+1:00)


def make_bars(rows: list[tuple[float, float, float, float]], symbol: str | None = None) -> pl.DataFrame:
    """Hourly bars from (open, high, low, close) rows (with a ``symbol`` column when given)."""
    frame = pl.DataFrame(
        {
            "ts": [datetime(2024, 1, 1) + timedelta(hours=i) for i in range(len(rows))],
            "open": [float(r[0]) for r in rows],
            "high": [float(r[1]) for r in rows],
            "low": [float(r[2]) for r in rows],
            "close": [float(r[3]) for r in rows],
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("us")))
    return frame.with_columns(pl.lit(symbol).alias("symbol")) if symbol else frame


# bar 1 closes above 100: a next-open long at bar 2's open (101)
UP = make_bars(
    [
        (99.0, 99.5, 98.5, 99.0),
        (99.0, 101.5, 98.8, 101.0),
        (101.0, 103.0, 100.5, 102.5),
        (102.5, 104.0, 102.2, 103.5),
        (103.5, 103.8, 102.5, 103.0),
        (103.0, 103.2, 102.8, 103.0),
    ]
)
# bar 1 closes below 100: a next-open short at bar 2's open (99)
DOWN = make_bars(
    [
        (101.0, 101.5, 100.5, 101.0),
        (101.0, 101.2, 98.5, 99.0),
        (99.0, 99.5, 97.0, 97.5),
        (97.5, 98.5, 96.8, 97.0),
        (97.0, 97.2, 96.5, 97.0),
    ]
)
# true ranges 2, 3 (bar 1): ATR(2) at bar 1 = 0.5 × 2 + 0.5 × 3 = 2.5 (Wilder, seeded with the first)
ATRS = make_bars(
    [
        (99.0, 100.0, 98.0, 99.0),
        (99.0, 101.5, 98.5, 101.0),
        (101.0, 102.0, 99.0, 100.5),
        (100.5, 101.0, 98.0, 98.2),
        (98.0, 98.5, 97.5, 98.0),
    ]
)


def only(res) -> dict:
    assert res.trades.height == 1, res.trades
    return res.trades.row(0, named=True)


# -- trailing stops -------------------------------------------------------------------------------------------


def test_trailing_stop_follows_the_high_from_the_next_bar():
    t = only(run(UP, LEVEL, trailing_stop="1"))
    # starts at 101 - 1 = 100; bar 2's high 103 moves it to 102 only after bar 2 (whose low 100.5 would
    # have hit 102: the bars do not say whether that low came after the high); bar 3: 104 -> 103; bar 4's
    # low 102.5 touches 103 below its open 103.5: filled at 103
    assert (t["exit_bar"], t["exit_price"], t["exit_reason"]) == (4, 103.0, "trailing_stop")
    assert t["exit_time"] == H(5)  # touched inside bar 4: known by its close
    assert t["pnl"] == pytest.approx(10_000 / 101 * (103 - 101))


def test_trailing_percent_is_of_the_best_price():
    t = only(run(UP, LEVEL, trailing_stop="1%"))
    # 101 × 0.99 = 99.99 -> 103 × 0.99 = 101.97 -> 104 × 0.99 = 102.96; bar 4's low 102.5 hits it
    assert (t["exit_bar"], t["exit_reason"]) == (4, "trailing_stop")
    assert t["exit_price"] == pytest.approx(104 * 0.99)


def test_trailing_stop_of_a_short_follows_the_low():
    t = only(run(DOWN, LEVEL, direction="short", trailing_stop="1"))
    # short at 99: stop 100; bar 2's low 97 -> 98; bar 3's high 98.5 reaches it (open 97.5 below): 98
    assert (t["direction"], t["exit_bar"], t["exit_price"], t["exit_reason"]) == (
        "short",
        3,
        98.0,
        "trailing_stop",
    )
    assert t["pnl"] == pytest.approx(10_000 / 99 * (99 - 98))


def test_trailing_stop_with_close_fills_ignores_the_entry_bar():
    bars = UP.with_columns(pl.when(pl.int_range(pl.len()) == 1).then(103.5).otherwise("high").alias("high"))
    t = only(run(bars, LEVEL, fill="close", trailing_stop="1"))
    # entered at bar 1's close (101): its high 103.5 came before the entry and moves nothing
    assert (t["entry_bar"], t["entry_price"], t["exit_bar"], t["exit_price"]) == (1, 101.0, 4, 103.0)


def test_the_tighter_of_stop_loss_and_trailing_stop_fires_and_is_named():
    t = only(run(UP, LEVEL, stop_loss="0.8", trailing_stop="1"))
    assert t["exit_reason"] == "trailing_stop"  # trailing 102 -> 103 is above the stop at 100.2
    gap = make_bars(
        [(99, 99.5, 98.5, 99), (99, 101.5, 98.8, 101), (101, 101.2, 99, 99.5), (99.5, 99.6, 99, 99.2)]
    )
    t = only(run(gap, LEVEL, stop_loss="1.5", trailing_stop="3"))
    assert (t["exit_bar"], t["exit_price"], t["exit_reason"]) == (2, 99.5, "stop_loss")  # 99.5 > 98


# -- ATR stops --------------------------------------------------------------------------------------------------


def test_atr_stops_use_the_signal_bars_atr():
    t = only(run(ATRS, LEVEL, stop_loss="1atr2", take_profit="2atr2"))
    # ATR(2) at the signal bar 1 = 2.5: stop 101 - 2.5 = 98.5, take 101 + 5 = 106; bar 3's low 98 hits
    assert (t["exit_bar"], t["exit_price"], t["exit_reason"]) == (3, 98.5, "stop_loss")


def test_an_undefined_atr_sets_no_stop_and_risk_sizing_then_does_not_trade():
    t = only(run(ATRS, LEVEL, stop_loss="1atr5"))  # ATR(5) is undefined at bar 1
    assert (t["exit_bar"], t["exit_price"], t["exit_reason"]) == (4, 98.0, "signal")
    assert run(ATRS, LEVEL, stop_loss="1atr5", size="1%risk").metrics["trades"] == 0


# -- sizing -----------------------------------------------------------------------------------------------------


def test_risk_sizing_loses_the_fraction_at_the_stop():
    t = only(run(ATRS, LEVEL, stop_loss="1atr2", size="1%risk"))
    assert t["size"] == pytest.approx(10_000 * 0.01 / 2.5)  # 40 units: 100 lost at the stop 2.5 away
    assert t["pnl"] == pytest.approx(-100.0)
    capped = only(run(ATRS, LEVEL, stop_loss="1atr2", size="1%risk,max=0.2"))
    assert capped["size"] == pytest.approx(0.2 * 10_000 / 101)  # notional at most 0.2 × equity
    trail = only(run(ATRS, LEVEL, trailing_stop="2", size="0.5%risk"))
    assert trail["size"] == pytest.approx(50 / 2)
    both = only(run(ATRS, LEVEL, stop_loss="1atr2", trailing_stop="2", size="1%risk,whole"))
    assert both["size"] == math.floor(100 / 2)  # the tighter stop (2 < 2.5) bounds the risk


def test_fixed_cash_and_lot_sizes():
    t = only(run(UP, LEVEL, size="5000cash", spread="0.001", trailing_stop="1"))
    assert t["entry_price"] == pytest.approx(101 * 1.001)
    assert t["size"] == pytest.approx(5000 / (101 * 1.001))  # notional 5 000 at the entry fill
    assert only(run(UP, LEVEL, size="$5000,whole", trailing_stop="1"))["size"] == math.floor(5000 / 101)
    t = only(run(UP, LEVEL, size="2lots", contract="lot=10", trailing_stop="1"))
    assert t["size"] == 20.0


# -- costs -------------------------------------------------------------------------------------------------------


def test_slippage_moves_market_fills_and_spare_take_profits():
    pip = {"contract": "pip=0.01"}
    # entry: 101 + 2 pips spread + 10 pips slippage = 101.12; signal exit at bar 4's open 98 - 0.10
    t = only(run(ATRS, LEVEL, spread="2pips", slippage="10pips", **pip))
    assert t["entry_price"] == pytest.approx(101.12) and t["exit_price"] == pytest.approx(97.9)
    # a stop is a market order once touched: 101.12 - 2.5 = 98.62, filled 10 pips worse
    t = only(run(ATRS, LEVEL, spread="2pips", slippage="10pips", stop_loss="1atr2", **pip))
    assert (t["exit_reason"], t["exit_price"]) == ("stop_loss", pytest.approx(98.52))
    # a take-profit is a limit order: exactly its price
    t = only(run(ATRS, LEVEL, spread="2pips", slippage="10pips", take_profit="0.5", **pip))
    assert (t["exit_reason"], t["exit_bar"], t["exit_price"]) == ("take_profit", 2, pytest.approx(101.62))
    # a short: spread and slippage both lower its entry (99 × 0.999 - 99 × 0.0005 = 98.8515); its stop
    # (trailing: 99.8515, then 97 + 1 = 98 after bar 2) is bought back 0.05 % higher
    t = only(run(DOWN, LEVEL, direction="short", spread="0.001", slippage="0.0005", trailing_stop="1"))
    assert t["entry_price"] == pytest.approx(99 * (1 - 0.001) - 99 * 0.0005)
    assert (t["exit_bar"], t["exit_reason"]) == (3, "trailing_stop")
    assert t["exit_price"] == pytest.approx(98 * 1.0005)


def test_commission_per_lot_per_trade_and_fraction_arithmetic():
    res = run(UP, LEVEL, size="10", commission="7/lot+2.5/trade+0.1%", contract="lot=100", trailing_stop="1")
    t = only(res)
    per_fill = lambda px: 10 * 7 / 100 + 2.5 + 10 * px * 0.001  # noqa: E731
    assert t["commission"] == pytest.approx(per_fill(101) + per_fill(103))
    assert t["pnl"] == pytest.approx(10 * (103 - 101) - t["commission"])
    assert res.metrics["final_equity"] == pytest.approx(10_000 + t["pnl"])
    # all equity: the per-order fee comes off the cash, the per-unit fee is part of each unit's cost
    t = only(run(UP, LEVEL, commission="7/lot+2.5/trade", contract="lot=100", trailing_stop="1"))
    assert t["size"] == pytest.approx((10_000 - 2.5) / (101 + 0.07))


# -- plumbing --------------------------------------------------------------------------------------------------


def test_the_result_echoes_every_setting(bars):
    eurusd = bars["EURUSD"].with_columns(pl.lit("EURUSD").alias("symbol"))
    res = run(eurusd, "sma_cross", {"fast": 10, "slow": 50}, direction="both", commission="7/lot",
              spread="1pips", size="1%risk", stop_loss="2atr", take_profit="1%")  # fmt: skip
    assert res.settings == {
        "fill": "next_open",
        "direction": "both",
        "cash": 10_000.0,
        "commission": "7/lot",
        "spread": "1pips",
        "slippage": "0",
        "size": "1%risk",
        "stop_loss": "2atr",
        "take_profit": "1%",
        "trailing_stop": None,
        "contract": {
            "symbol": "EURUSD",
            "pip_size": 0.0001,
            "contract_size": 100_000.0,
            "quote_currency": "USD",
        },
    }
    # the echo runs the same backtest again; pips in the ingest trades use the contract's pip size
    again = run(eurusd, "sma_cross", {"fast": 10, "slow": 50}, **res.settings)
    assert again.metrics == res.metrics
    frame = res.to_trades("EURUSD")
    t = res.trades.row(0, named=True)
    sign = 1 if t["direction"] == "long" else -1
    assert frame["pips"][0] == pytest.approx((t["exit_price"] - t["entry_price"]) * sign / 0.0001)
    assert set(res.trades["direction"]) == {"long", "short"}


def test_legacy_sl_tp_fractions_are_the_percent_stops(bars):
    b = bars["GOOG"]
    old = run(b, "sma_cross", {"fast": 10, "slow": 50}, sl=0.03, tp=0.06, direction="both")
    new = run(b, "sma_cross", {"fast": 10, "slow": 50}, stop_loss="3%", take_profit="6%", direction="both")
    assert old.metrics == new.metrics
    assert old.settings["stop_loss"] == "3%"


@pytest.mark.parametrize(
    ("name", "grid", "kw"),
    [
        ("sma_cross", {"fast": [5, 10], "slow": [50], "stop_loss": ["1%", "2atr", "0"]}, {"direction": "both"}),
        ("donchian_breakout", {"entry": [20, 40], "exit": [10], "trailing_stop": ["2%", "5"]},
         {"direction": "both", "commission": "0.5/lot+1bp", "slippage": "2pips", "size": "1%risk"}),
        ("bollinger_breakout", {"window": [20], "k": [1.5, 2.0], "take_profit": ["3atr", "5%"]},
         {"direction": "short", "stop_loss": "1.5atr", "spread": "0.0005", "size": "5000cash"}),
        ("macd", {"fast": [8, 12], "slow": [26], "signal": [9]},
         {"direction": "both", "size": "10%vol,max=2", "trailing_stop": "3atr20", "commission": "1/trade"}),
    ],
)  # fmt: skip
def test_sweep_rows_equal_runs_with_the_settings(bars, name, grid, kw):
    goog = bars["GOOG"].with_columns(pl.lit("GOOG").alias("symbol"))
    table = sweep(goog, name, grid, **kw)
    assert table.height == math.prod(len(v) for v in grid.values())
    for row in table.iter_rows(named=True):
        params = {k: row[k] for k in table.columns if k not in METRICS}
        res = run(goog, name, params, **kw)
        assert res.params == params
        for m in METRICS:
            assert row[m] == pytest.approx(res.metrics[m], rel=1e-12, nan_ok=True), (params, m)


def test_setting_errors_in_the_engine(bars):
    b = bars["GOOG"]
    with pytest.raises(ConfigError, match=r"^--stop-loss is given twice"):
        sweep(b, "sma_cross", {"fast": [10], "slow": [50], "stop_loss": ["1%"]}, stop_loss="2%")
    with pytest.raises(ConfigError, match="one ATR window per sweep"):
        sweep(b, "sma_cross", {"fast": [10], "slow": [50], "stop_loss": ["1atr14", "1atr20"]})
    with pytest.raises(ConfigError, match=r"^--size 1%risk: risk sizing needs a stop"):
        run(b, "sma_cross", size="1%risk")
    with pytest.raises(ConfigError, match=r"^sl and stop_loss are the same setting"):
        run(b, "sma_cross", sl=0.01, stop_loss="1%")
    with pytest.raises(ConfigError, match=r"^--spread '1pips': pips need the instrument's pip size"):
        run(b, "sma_cross", spread="1pips")  # bars without a symbol: no contract
    assert (
        run(b.with_columns(pl.lit("GOOG").alias("symbol")), "sma_cross", spread="1pips").metrics["trades"] > 0
    )
