"""The engine settings of issue 13 against backtesting.py 0.6.6, trade for trade, on its own EURUSD (hourly)
and GOOG (daily) bars: commission as a fraction, percent, basis points, per lot (backtesting.py's callable
commission), per trade (its ``(fixed, relative)`` tuple), spread, stop-loss / take-profit as a percent, a
price distance, pips and ATR multiples, trailing stops, shorts, on the strategies with their own short
rules (donchian, bollinger, macd) as well as the SMA cross.

The oracle is backtesting.py itself driven by signal flags computed independently in pandas (the
crossover rule of ``backtesting.lib.crossover``). Where a setting needs a number backtesting.py does not
compute, the test computes it independently: the stop prices are placed at the entry fill (the next open
after spread) minus / plus the distance, the ATR is pandas' ``ewm(alpha=1/n)`` of the true range, and
the trailing stop is moved in ``next()`` (backtesting.py runs ``next()`` after a bar's orders, so a level
set there acts from the next bar: the engine's convention). Entry and exit bars, times, sizes, prices
and P/L must agree (prices to 1e-12 relative, P/L to 1e-6).

``python tests/unit/backtest/test_settings_vs_backtesting.py`` prints the count of trades compared and the
largest differences (what the issue's closing note quotes).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from backtesting import Backtest, Strategy

from workbench.backtest import BACKTESTING_PY_SIZE, bars_from_pandas, run

LOT = 100_000.0  # EURUSD's contract size (the sample contract)


# -- independent signals and ATR (pandas) ------------------------------------------------------------------


def _cross_up(a: pd.Series, b: pd.Series | float) -> pd.Series:
    b = b if isinstance(b, pd.Series) else pd.Series(b, index=a.index)
    return (a.shift(1) < b.shift(1)) & (a > b)


def flags(name: str, p: dict[str, Any], df: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """(long_entry, long_exit, short_entry, short_exit), written from the strategies' docstrings."""
    c = df.Close
    if name == "sma_cross":
        f, s = c.rolling(p["fast"]).mean(), c.rolling(p["slow"]).mean()
        up, down = _cross_up(f, s), _cross_up(s, f)
        out = (up, down, down, up)
    elif name == "macd":
        line = (
            c.ewm(span=p["fast"], adjust=False, min_periods=p["fast"]).mean()
            - c.ewm(span=p["slow"], adjust=False, min_periods=p["slow"]).mean()
        )
        sig = line.ewm(span=p["signal"], adjust=False, min_periods=p["signal"]).mean()
        up, down = _cross_up(line, sig), _cross_up(sig, line)
        out = (up, down, down, up)
    elif name == "bollinger_breakout":
        mid = c.rolling(p["window"]).mean()
        sd = c.rolling(p["window"]).std(ddof=0)
        upper, lower = mid + p["k"] * sd, mid - p["k"] * sd
        out = (_cross_up(c, upper), _cross_up(mid, c), _cross_up(lower, c), _cross_up(c, mid))
    elif name == "donchian_breakout":
        hi_e = df.High.rolling(p["entry"]).max().shift(1)
        lo_e = df.Low.rolling(p["entry"]).min().shift(1)
        hi_x = df.High.rolling(p["exit"]).max().shift(1)
        lo_x = df.Low.rolling(p["exit"]).min().shift(1)
        out = (_cross_up(c, hi_e), _cross_up(lo_x, c), _cross_up(lo_e, c), _cross_up(c, hi_x))
    else:
        raise AssertionError(name)
    return tuple(np.asarray(f.fillna(False), dtype=bool) for f in out)


def atr(df: pd.DataFrame, n: int) -> np.ndarray:
    """Wilder's ATR: true range (high - low on the first bar), ``ewm(alpha=1/n, adjust=False)``."""
    prev = df.Close.shift(1)
    tr = pd.concat([df.High - df.Low, (df.High - prev).abs(), (df.Low - prev).abs()], axis=1).max(axis=1)
    return tr.ewm(alpha=1 / n, adjust=False, min_periods=n).mean().to_numpy()


# -- the oracle strategy -------------------------------------------------------------------------------------

# a distance rule: (entry fill price, signal bar) -> price distance (None = no stop)
Distance = Callable[[float, int], float | None]


@dataclass
class Oracle:
    """What the backtesting.py strategy does: signals, direction, order size and the stop rules."""

    signals: tuple[np.ndarray, ...]
    long: bool = True
    short: bool = False
    size: float | None = None  # None: backtesting.py's default (all equity, whole units)
    close_fill: bool = False
    spread: float = 0.0
    sl: Distance | None = None
    tp: Distance | None = None
    trail: Distance | None = None  # a fixed distance from the best price
    trail_pct: float | None = None  # or a fraction of the best price
    opens: np.ndarray = field(default_factory=lambda: np.empty(0))
    closes: np.ndarray = field(default_factory=lambda: np.empty(0))


def oracle_strategy(o: Oracle, df: pd.DataFrame) -> type[Strategy]:
    le, lx, se, sx = o.signals
    opens, closes = df.Open.to_numpy(), df.Close.to_numpy()
    highs, lows = df.High.to_numpy(), df.Low.to_numpy()

    def levels(d: int, i: int) -> tuple[float | None, float | None]:
        fill = (closes[i] if o.close_fill else opens[i + 1]) * (1 + d * o.spread)
        stops = []
        if o.sl is not None and (dist := o.sl(fill, i)) is not None and dist > 0:
            stops.append(fill - d * dist)
        if o.trail is not None and (dist := o.trail(fill, i)) is not None and dist > 0:
            stops.append(fill - d * dist)
        if o.trail_pct is not None:
            stops.append(fill * (1 - d * o.trail_pct))
        sl = (max(stops) if d > 0 else min(stops)) if stops else None
        tp = None
        if o.tp is not None and (dist := o.tp(fill, i)) is not None and dist > 0:
            tp = fill + d * dist
        return sl, tp

    class Signals(Strategy):
        def init(self) -> None:
            pass

        def next(self) -> None:
            i = len(self.data) - 1
            # the trailing stop follows this bar's extreme (before any close order: backtesting.py works
            # its orders newest-contingent-first, and a close must go before the stop)
            for t in self.trades:
                if o.trail is None and o.trail_pct is None:
                    break
                d = 1 if t.is_long else -1
                dist = o.trail(t.entry_price, t.entry_bar - (0 if o.close_fill else 1)) if o.trail else None
                best = highs[i] if d > 0 else lows[i]
                cands = [t.sl] if t.sl is not None else []
                if dist is not None and dist > 0:
                    cands.append(best - d * dist)
                if o.trail_pct is not None:
                    cands.append(best * (1 - d * o.trail_pct))
                if cands:
                    t.sl = max(cands) if d > 0 else min(cands)
            pos = self.position
            if (pos.is_long and (lx[i] or se[i])) or (pos.is_short and (sx[i] or le[i])):
                pos.close()
            if not o.close_fill and i + 1 >= len(opens):
                return
            kw: dict[str, Any] = {} if o.size is None else {"size": o.size}
            if o.long and le[i] and not pos.is_long:
                sl, tp = levels(1, i)
                self.buy(sl=sl, tp=tp, **kw)
            elif o.short and se[i] and not pos.is_short:
                sl, tp = levels(-1, i)
                self.sell(sl=sl, tp=tp, **kw)

    return Signals


# -- comparison ----------------------------------------------------------------------------------------------


@dataclass
class Compared:
    trades: int = 0
    price: float = 0.0  # largest |entry or exit price difference|
    pnl: float = 0.0  # largest |P/L difference|
    equity: float = 0.0  # largest |final equity difference|
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: Compared) -> None:
        self.trades += other.trades
        self.price = max(self.price, other.price)
        self.pnl = max(self.pnl, other.pnl)
        self.equity = max(self.equity, other.equity)
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v


def compare(df: pd.DataFrame, o: Oracle, bt_kw: dict[str, Any], name: str, params: dict, **ours) -> Compared:
    """backtesting.py with ``o`` and ``bt_kw`` against ``run(...)`` with ``ours``; asserts they agree."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = Backtest(df, oracle_strategy(o, df), cash=10_000, trade_on_close=o.close_fill, **bt_kw).run()
    bars = bars_from_pandas(df).with_columns(pl.lit(ours.pop("symbol")).alias("symbol"))
    res = run(bars, name, params, fill="close" if o.close_fill else "next_open", **ours)
    theirs = stats["_trades"]
    mine = res.trades
    assert mine.height == len(theirs) == res.metrics["trades"], (mine.height, len(theirs))
    assert mine["entry_bar"].to_list() == theirs["EntryBar"].tolist()
    assert mine["exit_bar"].to_list() == theirs["ExitBar"].tolist()
    signed = mine["size"].to_numpy() * np.where(mine["direction"] == "long", 1, -1)
    np.testing.assert_array_equal(signed, theirs["Size"].to_numpy())
    np.testing.assert_allclose(mine["entry_price"].to_numpy(), theirs["EntryPrice"], rtol=1e-12)
    np.testing.assert_allclose(mine["exit_price"].to_numpy(), theirs["ExitPrice"], rtol=1e-12)
    np.testing.assert_allclose(mine["pnl"].to_numpy(), theirs["PnL"], atol=1e-6)
    # times: backtesting.py stamps each fill with its bar's start; the engine a fill at a bar's open with
    # that start and one inside or at the end of the bar with the bar's close (the next start, or a bar
    # period later across a gap)
    index = df.index
    step = pd.Timedelta(np.median(np.diff(index.values)))
    opens = df.Open.to_numpy()

    def close_time(bar: int) -> pd.Timestamp:
        nominal = index[bar] + step
        return min(nominal, index[bar + 1]) if bar + 1 < len(index) else nominal

    for t, (_, th) in zip(mine.iter_rows(named=True), theirs.iterrows(), strict=True):
        at_open = not o.close_fill
        assert pd.Timestamp(t["entry_time"]) == (th.EntryTime if at_open else close_time(th.EntryBar))
        exit_open = t["exit_price"] == opens[t["exit_bar"]] and (t["exit_reason"] != "signal" or at_open)
        assert pd.Timestamp(t["exit_time"]) == (th.ExitTime if exit_open else close_time(th.ExitBar))
    assert res.metrics["final_equity"] == pytest.approx(stats["Equity Final [$]"], abs=1e-6)
    assert res.metrics["max_drawdown_pct"] == pytest.approx(-stats["Max. Drawdown [%]"], abs=1e-8)
    reasons = mine["exit_reason"].value_counts()
    return Compared(
        trades=mine.height,
        price=float(
            max(
                np.abs(mine["entry_price"].to_numpy() - theirs["EntryPrice"].to_numpy()).max(initial=0),
                np.abs(mine["exit_price"].to_numpy() - theirs["ExitPrice"].to_numpy()).max(initial=0),
            )
        ),
        pnl=float(np.abs(mine["pnl"].to_numpy() - theirs["PnL"].to_numpy()).max(initial=0)),
        equity=abs(res.metrics["final_equity"] - stats["Equity Final [$]"]),
        reasons=dict(zip(reasons["exit_reason"].to_list(), reasons["count"].to_list(), strict=True)),
    )


# -- the cases -----------------------------------------------------------------------------------------------


def frac(f: float) -> Distance:
    return lambda fill, i: fill * f


def price(d: float) -> Distance:
    return lambda fill, i: d


def atr_of(df: pd.DataFrame, mult: float, n: int = 14) -> Distance:
    a = atr(df, n)
    return lambda fill, i: None if math.isnan(a[i]) else mult * a[i]


SMA = ("sma_cross", {"fast": 10, "slow": 50})


def cases(data: dict[str, pd.DataFrame]) -> list[tuple[str, str, Oracle, dict, str, dict, dict]]:
    """(id, symbol, oracle, backtesting.py kwargs, strategy, params, engine settings)."""
    eu, gg = data["EURUSD"], data["GOOG"]
    sig = {s: flags(*SMA, data[s]) for s in data}
    out: list[tuple[str, str, Oracle, dict, str, dict, dict]] = []

    def add(case: str, sym: str, o: Oracle, bt: dict, ours: dict, strat: tuple[str, dict] = SMA) -> None:
        size = {} if "size" in ours else {"size": BACKTESTING_PY_SIZE}
        out.append((case, sym, o, bt, strat[0], strat[1], {**size, **ours}))

    both = {"long": True, "short": True}
    for sym in ("EURUSD", "GOOG"):
        s = sig[sym]
        # commission: the same fraction written three ways; with shorts
        for text in ("0.2%", "20bp", "0.002"):
            add(f"commission {text}", sym, Oracle(s, **both), {"commission": 0.002},
                {"direction": "both", "commission": text})  # fmt: skip
        add("spread 3bp + commission 0.01%", sym, Oracle(s, **both, spread=0.0003),
            {"spread": 0.0003, "commission": 0.0001},
            {"direction": "both", "spread": "3bp", "commission": "0.01%"})  # fmt: skip
        # per trade (backtesting.py's (fixed, relative) tuple), fixed units so its sizing plays no part
        units = 5000 if sym == "EURUSD" else 10
        add("commission 2.5/trade, fixed units", sym, Oracle(s, **both, size=units), {"commission": (2.5, 0.0)},
            {"direction": "both", "commission": "2.5/trade", "size": str(units)})  # fmt: skip
        add("commission 2.5/trade+0.01%", sym, Oracle(s, **both, size=units), {"commission": (2.5, 0.0001)},
            {"direction": "both", "commission": "2.5/trade+0.01%", "size": str(units)})  # fmt: skip
    # per lot: backtesting.py's callable commission (sizing with it included, all equity)
    add("commission 7/lot (EURUSD lot 100 000)", "EURUSD", Oracle(sig["EURUSD"], **both),
        {"commission": lambda size, px: abs(size) * 7 / LOT}, {"direction": "both", "commission": "7/lot"})  # fmt: skip
    add("commission 0.5/lot (GOOG lot 1 share)", "GOOG", Oracle(sig["GOOG"], **both),
        {"commission": lambda size, px: abs(size) * 0.5}, {"direction": "both", "commission": "0.5/lot"})  # fmt: skip

    # stops on EURUSD (next-open fills): percent, price, pips, ATR; long-only, short-only and both
    e = sig["EURUSD"]
    add("SL 0.5% TP 1%, both", "EURUSD", Oracle(e, **both, sl=frac(0.005), tp=frac(0.01)), {},
        {"direction": "both", "stop_loss": "0.5%", "take_profit": "1%"})  # fmt: skip
    add("SL 0.0020 TP 0.0040 + costs, both", "EURUSD",
        Oracle(e, **both, sl=price(0.002), tp=price(0.004), spread=0.0001),
        {"spread": 0.0001, "commission": 0.0001},
        {"direction": "both", "stop_loss": "0.0020", "take_profit": "0.0040", "spread": "0.0001",
         "commission": "0.0001"})  # fmt: skip
    add("SL 15pips TP 30pips, short", "EURUSD", Oracle(e, long=False, short=True, sl=price(0.0015), tp=price(0.003)),
        {}, {"direction": "short", "stop_loss": "15pips", "take_profit": "30pips"})  # fmt: skip
    add("SL 2atr TP 3atr, both", "EURUSD", Oracle(e, **both, sl=atr_of(eu, 2), tp=atr_of(eu, 3)), {},
        {"direction": "both", "stop_loss": "2atr", "take_profit": "3atr"})  # fmt: skip
    add("SL 1.5atr20, long", "EURUSD", Oracle(e, sl=atr_of(eu, 1.5, 20)), {}, {"stop_loss": "1.5atr20"})
    add("trailing 0.0030, both", "EURUSD", Oracle(e, **both, trail=price(0.003)), {},
        {"direction": "both", "trailing_stop": "0.0030"})  # fmt: skip
    add("trailing 2atr + SL 1% + TP 1.5%, both", "EURUSD",
        Oracle(e, **both, trail=atr_of(eu, 2), sl=frac(0.01), tp=frac(0.015)), {},
        {"direction": "both", "trailing_stop": "2atr", "stop_loss": "1%", "take_profit": "1.5%"})  # fmt: skip
    add("trailing 0.4% of the best price, 7/lot, both", "EURUSD", Oracle(e, **both, trail_pct=0.004),
        {"commission": lambda size, px: abs(size) * 7 / LOT},
        {"direction": "both", "trailing_stop": "0.4%", "commission": "7/lot"})  # fmt: skip

    # stops on GOOG with close fills (a daily gap would make backtesting.py refuse a stop placed at the
    # next open's distance, it checks it against the current close); spread on the entry
    g = sig["GOOG"]
    cf = {"close_fill": True}
    add("SL 4% TP 8%, both, close fills", "GOOG", Oracle(g, **both, **cf, sl=frac(0.04), tp=frac(0.08)), {},
        {"direction": "both", "stop_loss": "4%", "take_profit": "8%"})  # fmt: skip
    add("SL $15 TP $30 + spread, short, close fills", "GOOG",
        Oracle(g, long=False, short=True, **cf, sl=price(15), tp=price(30), spread=0.0005), {"spread": 0.0005},
        {"direction": "short", "stop_loss": "15", "take_profit": "30", "spread": "0.0005"})  # fmt: skip
    add("SL 2atr + trailing 3%, both, close fills", "GOOG",
        Oracle(g, **both, **cf, sl=atr_of(gg, 2), trail_pct=0.03), {},
        {"direction": "both", "stop_loss": "2atr", "trailing_stop": "3%"})  # fmt: skip

    # the strategies whose own short rules the commands used to ignore, long/short with stops and costs
    for strat in (("donchian_breakout", {"entry": 20, "exit": 10}), ("bollinger_breakout", {"window": 20, "k": 2.0}),
                  ("macd", {"fast": 12, "slow": 26, "signal": 9})):  # fmt: skip
        f = flags(*strat, eu)
        add(f"{strat[0]} both, SL 2atr TP 0.5%, 7/lot + 1bp spread", "EURUSD",
            Oracle(f, **both, sl=atr_of(eu, 2), tp=frac(0.005), spread=0.0001),
            {"commission": lambda size, px: abs(size) * 7 / LOT, "spread": 0.0001},
            {"direction": "both", "stop_loss": "2atr", "take_profit": "0.5%", "commission": "7/lot",
             "spread": "1bp"}, strat)  # fmt: skip
    return out


def _data() -> dict[str, pd.DataFrame]:
    from backtesting.test import EURUSD, GOOG

    return {"EURUSD": EURUSD, "GOOG": GOOG}


CASES = cases(_data())


@pytest.mark.parametrize("case", CASES, ids=[c[0] + " " + c[1] for c in CASES])
def test_settings_match_backtesting_trade_for_trade(pandas_data, case):
    label, symbol, oracle, bt_kw, name, params, ours = case
    got = compare(pandas_data[symbol], oracle, bt_kw, name, params, symbol=symbol, **ours)
    assert got.trades > 5, "the case must trade to test anything"
    if any(k in ours for k in ("stop_loss", "take_profit", "trailing_stop")):
        stops = sum(v for k, v in got.reasons.items() if k != "signal")
        assert stops > 0, f"{label}: no stop ever fired, the case tests nothing about stops"


def main() -> None:  # pragma: no cover - a report, not a test
    data = _data()
    total = Compared()
    print("| case | symbol | trades | exits | max abs price diff | max abs P/L diff |")
    print("|---|---|---|---|---|---|")
    for label, symbol, oracle, bt_kw, name, params, ours in CASES:
        got = compare(data[symbol], oracle, bt_kw, name, params, symbol=symbol, **ours)
        total.add(got)
        exits = ", ".join(f"{k} {v}" for k, v in sorted(got.reasons.items()))
        print(f"| {label} | {symbol} | {got.trades} | {exits} | {got.price:.3g} | {got.pnl:.3g} |")
    exits = ", ".join(f"{k} {v}" for k, v in sorted(total.reasons.items()))
    print(
        f"| **all {len(CASES)} cases** | | **{total.trades}** | {exits} | {total.price:.3g} | {total.pnl:.3g} |"
    )
    print(f"largest final-equity difference: {total.equity:.3g}")


if __name__ == "__main__":  # pragma: no cover
    main()
