"""Vectorised backtests and parameter sweeps over a bars frame (``ts, open, high, low, close, volume``).

Public API (all re-exported by :mod:`workbench.backtest`):

* ``sweep(bars, strategy, grid, ...) -> pl.DataFrame`` — one row per valid combination: the parameter
  columns, then ``METRICS`` (then ``block_moments`` with ``blocks=S``); ``iter_sweep`` yields the same
  rows in chunks (bounded memory). The combinations run on all of Numba's threads in small chunks
  handed out as threads come free (exactly the one-thread results); ``progress(done, total)`` reports
  the combinations finished while the kernel runs.
* ``run(bars, strategy, params, ...) -> BacktestResult`` — one deep backtest with equity and trades
  (``progress(bars_done, bars)`` while it runs).
* ``signals(bars, strategy, params) -> pl.DataFrame`` — the four rule flags per bar.
* ``portfolio(bars, strategy, params, ...)`` — the same signals as a vectorbt ``Portfolio``.
* ``parse_grid(["fast=5:50", "slow=10:200:5"]) -> dict`` — ``start:stop[:step]`` with an inclusive stop.
* ``annualization(bars) -> Annualization`` — how Sharpe/Sortino are annualised on these bars (stated);
  ``period_returns(equity)`` — the returns they are computed from, out of ``run(...).equity``.

Conventions (one set, shared by ``sweep`` and ``run``; they reproduce backtesting.py 0.6 when configured
alike, see tests/unit/backtest):

* **Signals** are crossovers evaluated at each bar's close (tie rule in :mod:`workbench.backtest.spec`).
  A long entry while short (or a short entry while long) reverses; an exit signal only closes.
* **Fills**: ``fill="next_open"`` (default; backtesting.py, cTrader and MetaTrader behaviour) fills at
  the next bar's open, a signal on the last bar is never filled; ``fill="close"`` fills at the signal
  bar's close. A reversal closes first, then sizes the new position from the cash after that close.
* **Settings as written** (:mod:`workbench.backtest.settings`, one parser for the CLI flags, widgets,
  these keywords and the stored parameters): ``commission="7/lot"``, ``spread="1.5pips"``,
  ``slippage="0.01%"``, ``size="1%risk"``, ``stop_loss="2atr"``, ``take_profit="0.5%"``,
  ``trailing_stop="0.0020"``, ``contract="pip=0.0001,lot=100000,quote=USD"`` (default: the contract of
  the bars' ``symbol``, :func:`workbench.backtest.settings.contract_for`). ``BacktestResult.settings``
  echoes them in the same syntax.
* **Costs**: ``commission`` terms are charged on every fill (entry and exit): a fraction of notional
  (``units × price × commission``, backtesting.py's ``commission``), money per unit / per lot
  (``units / contract size``) and per order (backtesting.py's ``(fixed, relative)`` commission).
  ``spread`` (a fraction of price, or pips) is the whole bid/ask spread of a round trip, paid once on
  entry: a long fills at ``price × (1 + spread)`` (``+ pips × pip size``), a short at
  ``price × (1 - spread)``; exits fill at the raw price (backtesting.py's ``spread``). ``slippage`` (the
  same forms) moves every *market* fill against the trade: entries (on top of the spread), signal exits,
  stop-loss and trailing-stop exits; a take-profit is a limit order and fills at its price (or a better
  open); a bankruptcy close is marked at the close. Shorts are costed like longs (the spread on entry at
  the bid, commission on both fills, slippage against them); no borrow fee or swap.
* **Sizing** (:class:`Size`, ``size="..."``): ``Size.units(n)`` / ``"1000"`` fixed units (no cash check,
  leverage unlimited), ``"2lots"`` n × the contract size; ``Size.cash(x)`` / ``"5000cash"``: notional
  ``x`` at the entry fill (``units = x / fill``); ``Size.fraction(f)`` / ``"50%"`` a fraction of equity:
  ``units = (equity × f - per-order fee) / (fill + price × commission + per-unit fee)``, where ``fill`` is
  the price after spread and slippage, floored to whole units with ``whole=True`` (backtesting.py's
  arithmetic); ``Size.vol_target(t)`` / ``"10%vol"``: the fraction ``t / σ`` (capped at
  ``max_leverage``) where σ is the annualised volatility of the last ``window`` close-to-close returns at
  the signal bar; ``Size.risk(r)`` / ``"1%risk"``: ``units = equity × r / d``, ``d`` the distance from the
  entry fill to the tighter of the stop-loss and the trailing stop (no trade without one; notional capped
  at ``max_leverage`` × equity when given). ``BACKTESTING_PY_SIZE`` reproduces backtesting.py's default
  order size (all equity, whole units).
* **Per-bar series**: numeric bars columns beyond OHLCV travel with the bars (``OHLC.extra``); a
  strategy reads one with the ``series`` indicator (the ``model`` strategy reads ``proba`` and
  ``regime``). A column ``size_scale`` multiplies each entry's units at its signal bar (after the
  sizing above and before ``whole`` flooring; 0 or NaN = no entry): confidence sizing of a model's
  signal, or a 0/1 regime filter for any strategy. ``portfolio()`` (vectorbt) ignores it.
* **Stops**: ``stop_loss``/``take_profit``/``trailing_stop`` are distances from the entry fill (after
  spread and slippage): a price distance (``"0.0020"``), pips, a percent of the entry price (``"0.5%"``)
  or an ATR multiple (``"2atr"``: × ATR(14), Wilder, at the signal bar; no stop while the ATR is
  undefined); ``sl``/``tp`` (legacy) are fractions of the entry price. Checked on every bar from the
  fill bar on (for ``fill="close"`` from the next bar), after the open's fill: a long stops at
  ``min(open, stop)`` when the low touches it, takes profit at ``max(open, take)`` when the high does;
  when both are touched in one bar the stop is assumed first. The trailing stop starts at the entry fill
  minus its distance and, at the end of each bar the position was held through, follows the bar's high
  (a long; the low for a short): ``best - distance``, or ``best × (1 - p)`` for a percent; it never
  loosens and only takes effect from the next bar (the bars do not say whether the high came before
  the low). With a stop-loss too the higher level (a long) is the one hit first. Any of them may be a
  grid key (``{"stop_loss": ["1%", "2%"]}``; one ATR window per sweep).
* **Equity** is marked at every close: cash + open position at the close. A position still open after the
  last bar is marked to market but is **not** a trade (backtesting.py's default); equity <= 0 closes
  everything and ends the run (equity 0 afterwards). ``run().equity.ts`` is the bar's ``ts`` (its start);
  the value is the equity at that bar's close.
* **Trade times are fill times.** A bar's ``ts`` is its start; its close time is ``ts`` + the bar period
  (the median bar spacing; calendar months/quarters/years for such bars), or the next bar's ``ts`` when
  that comes sooner. ``entry_time``/``exit_time`` of ``run().trades``: a fill at a bar's open carries
  that bar's ``ts`` (next-open fills, and stops/take-profits filled at the open through a gap); a fill
  at a bar's close carries its close time (close fills, bankruptcy, and stops/take-profits touched
  inside the bar: the bars do not say when inside it, the close is when they prove the fill).
  ``entry_bar``/``exit_bar`` are the bar indices. (backtesting.py stamps every fill with the bar's start.)
* **Metrics**: ``total_return_pct`` = final equity / cash - 1 in %; ``max_drawdown_pct`` = the largest
  ``1 - equity / running peak`` over bar closes in % (a positive number); ``trades`` = closed round
  trips; ``win_rate`` = fraction (0..1) of trades with pnl > 0; ``profit_factor`` = gross win / gross loss
  (``+inf`` with no losing trade, which ranks first when maximised; null with no trades).
* **Sharpe and Sortino from time, not bar count** (:func:`annualization`, stated in
  ``BacktestResult.annualization`` and in the stored sweeps): the marked-to-market equity is sampled at
  the last bar of each *return period* and ``r`` = that equity over the previous period's, minus 1
  (periods without bars have no return; the first period is the base; a run gone bust stops counting).
  The period is the **trading day** (the calendar date of ``ts``) for bars of a day or finer, or the
  **bar** itself when the bars are coarser than a day (median spacing >= 2 days: weekly, monthly ...).
  ``sharpe`` = mean(r) / std(r, ddof=1) × √P and ``sortino`` = mean(r) / √(mean(min(r, 0)²)) × √P
  (risk-free 0; quantstats' ``sharpe``/``sortino`` with ``periods=P``); null with fewer than 2 returns
  or a zero denominator. ``P`` comes from the data: daily returns use **252** (a market closed at
  weekends; weekend bars of such a market, e.g. FX's Sunday-evening open, count to the adjacent Friday /
  Monday) or **365** when Saturdays and Sundays both carry bars (at least half as often as weekdays:
  a 24/7 market, each calendar day a return); coarser bars use 52 (weekly), 12 (monthly), 4 (quarterly),
  1 (yearly), else 365.25 / spacing in days. ``Size.vol_target`` and the ``vol`` indicator annualise bar
  returns by ``P`` × bars per period. These are **not** :mod:`workbench.analytics`' ``sharpe_ratio`` /
  ``sortino_ratio`` (closed-trade balance, from the trades alone; see docs/analytics.md).
* **Block moments** (``blocks=S``, for :mod:`workbench.optimize.overfit`): the series' ``D`` period
  returns (``D`` = periods with bars - 1, in time order) are cut into ``S`` contiguous blocks,
  the first ``D % S`` of ``D // S + 1`` returns, the others of ``D // S`` (``numpy.array_split``); column
  ``block_moments`` (``pl.Array(pl.Float64, 3 * S)``) holds, row-major per block, ``count, sum r,
  sum r²`` of the combination's period returns in that block (the returns that enter ``sharpe``; a run
  that went bust stops counting). Pooled over all blocks they give ``sharpe``:
  ``mean / std(ddof=1) × √P``.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import math
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from workbench.backtest import _kernel as K
from workbench.backtest.indicators import INDICATORS, OHLC, atr, returns_vol
from workbench.backtest.settings import (
    DIRECTIONS,
    FILLS,
    STOP_ATR,
    STOP_FRACTION,
    STOP_NAMES,
    Amount,
    Commission,
    Contract,
    EngineSettings,
    Size,
    parse_stop,
)
from workbench.backtest.spec import Const, Cross, Diff, Ind, Smooth, StrategySpec, get_strategy, valid_mask
from workbench.errors import ConfigError, DataError, MissingDependencyError, StrategyError

__all__ = [
    "METRICS",
    "Annualization",
    "Size",
    "BACKTESTING_PY_SIZE",
    "BacktestResult",
    "EngineSettings",
    "sweep",
    "iter_sweep",
    "run",
    "signals",
    "portfolio",
    "parse_grid",
    "bars_from_pandas",
    "annualization",
    "period_returns",
    "precompile",
    "warm_up",
    "keep_bytes",
]

METRICS = K.METRICS
# grid keys the engine owns: stop-loss / take-profit fractions (legacy) and the stops as written
LEGACY_STOPS = {"sl": "stop_loss", "tp": "take_profit"}
ENGINE_PARAMS = ("sl", "tp", *STOP_NAMES)
DEFAULT_INDICATOR_BYTES = 1 << 30  # indicator rows kept at once by a sweep (1 GiB)
Setting = str | float | None  # a setting as written: "0.5%", "2atr", "7/lot", 0.0002 ...


# backtesting.py's default ``size=1 - sys.float_info.epsilon``: all equity, whole units
BACKTESTING_PY_SIZE = Size.fraction(1 - sys.float_info.epsilon, whole=True)


# -- bars ------------------------------------------------------------------------------------------------


_DAY_US = 86_400_000_000
# bars coarser than a day: (min, max median spacing in days, periods per year, period, adjective)
_COARSE = (
    (5.0, 8.0, 52, "week", "weekly"),
    (27.0, 32.0, 12, "month", "monthly"),
    (85.0, 95.0, 4, "quarter", "quarterly"),
    (360.0, 370.0, 1, "year", "yearly"),
)
_CALENDAR_STEP = {"month": "1mo", "quarter": "3mo", "year": "1y"}


@dataclass(frozen=True)
class Annualization:
    """How the engine annualises Sharpe and Sortino on a bar series (see the module docstring).

    ``periods_per_year`` (P): 252, 365, 52, 12, 4, 1 or 365.25 / spacing; ``period``: what one return
    spans (``"day"``, ``"week"``, ``"month"``, ``"quarter"``, ``"year"`` or ``"N days"``); ``basis``:
    the returns, in words; ``source``: what in the data decided it; ``returns``: how many period
    returns the series gives (periods with bars - 1)."""

    periods_per_year: float
    period: str
    basis: str
    source: str
    returns: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``periods_per_year`` an int when it is one (252, 365, 12 ...)."""
        p = float(self.periods_per_year)
        return {
            "periods_per_year": int(p) if p.is_integer() else round(p, 6),
            "period": self.period,
            "basis": self.basis,
            "source": self.source,
            "returns": self.returns,
        }


def _periods(ts: np.ndarray) -> tuple[Annualization, np.ndarray]:
    """The annualisation of bar start times ``ts`` (int64 µs, increasing) and ``period_end`` per bar
    (True at the last bar of each return period)."""
    n = ts.shape[0]
    spacing = float(np.median(np.diff(ts))) / _DAY_US if n > 1 else 0.0
    if spacing >= 2.0:  # coarser than a day: one return per bar
        ppy: float = 365.25 / spacing
        period, adjective = f"{spacing:.3g} days", f"{spacing:.3g}-day"
        for lo, hi, p, name, adj in _COARSE:
            if lo <= spacing <= hi:
                ppy, period, adjective = float(p), name, adj
                break
        end = np.ones(n, np.bool_)
        ann = Annualization(
            ppy,
            period,
            f"{adjective} returns of mark-to-market equity (one per bar)",
            f"{adjective} bars (median spacing {spacing:.3g} days)",
            n - 1,
        )
        return ann, end
    day = ts // _DAY_US
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    calendar = np.arange(int(day[0]), int(day[-1]) + 1)
    cal_weekday = (calendar + 3) % 7
    has_bars = np.zeros(calendar.shape[0], np.bool_)
    has_bars[day - day[0]] = True

    def share(mask: np.ndarray) -> float:  # of these calendar days, the fraction with bars (0 if none)
        return float(has_bars[mask].mean()) if mask.any() else 0.0

    weekdays, saturdays, sundays = share(cal_weekday < 5), share(cal_weekday == 5), share(cal_weekday == 6)
    weekend = min(saturdays, sundays)
    if weekend > 0 and weekend >= 0.5 * weekdays:
        ppy = 365.0
        session = day
        source = f"bars on {saturdays:.0%} of Saturdays and {sundays:.0%} of Sundays: a 24/7 market"
    else:
        ppy = 252.0
        # a market closed at weekends: Saturday bars belong to Friday's session, Sunday bars to Monday's
        session = day - (weekday == 5) + (weekday == 6)
        if saturdays == 0 and sundays == 0:
            source = "no weekend bars"
        else:
            source = (
                f"weekend bars on {saturdays:.0%} of Saturdays and {sundays:.0%} of Sundays: a market "
                "closed at weekends (Saturday bars count to Friday, Sunday bars to Monday)"
            )
    end = np.append(np.diff(session) != 0, True)
    ann = Annualization(
        ppy, "day", "daily returns of mark-to-market equity", source, int(np.count_nonzero(end)) - 1
    )
    return ann, end


def _close_times(ts: np.ndarray, period: str) -> np.ndarray:
    """Close time of each bar (int64 µs): ``ts`` + the bar period (calendar months/quarters/years for
    such bars, else the median spacing), or the next bar's ``ts`` when that is sooner."""
    step = _CALENDAR_STEP.get(period)
    if step is not None:
        nominal = pl.Series(ts).cast(pl.Datetime("us")).dt.offset_by(step).cast(pl.Int64).to_numpy()
    else:
        nominal = ts + (int(np.median(np.diff(ts))) if ts.shape[0] > 1 else 0)
    out = np.array(nominal, dtype=np.int64)
    out[:-1] = np.minimum(out[:-1], ts[1:])
    return out


@dataclass(frozen=True)
class _Bars:
    ts: np.ndarray  # int64 microseconds (bar starts)
    period_end: np.ndarray  # bool: the last bar of its return period (see _periods)
    ann: Annualization
    ohlc: OHLC
    scale: np.ndarray = field(default_factory=lambda: np.empty(0))  # SIZE_SCALE per bar, empty = off


BAR_COLUMNS = ("ts", "open", "high", "low", "close", "volume")
# A numeric bars column of this name scales every entry's units at its signal bar (0/NaN: no entry):
# confidence sizing of a model's signal, or a regime filter (0/1) for any strategy.
SIZE_SCALE = "size_scale"


def _extra(bars: pl.DataFrame) -> dict[str, np.ndarray]:
    """The bars' numeric columns beyond OHLCV (float64, nulls as NaN): per-bar series strategies read
    with the ``series`` indicator (e.g. a model's ``proba``), and ``size_scale``."""
    out = {}
    for name, dtype in bars.schema.items():
        if name not in BAR_COLUMNS and dtype.is_numeric():
            col = bars[name].cast(pl.Float64).fill_null(float("nan"))
            out[name] = np.ascontiguousarray(col.to_numpy(), dtype=np.float64)
    return out


def _timestamps(ts: pl.Series) -> np.ndarray:
    """Bar times as int64 µs of wall-clock time (the zone, if any, dropped), checked increasing."""
    ts = ts.dt.cast_time_unit("us").dt.replace_time_zone(None)
    if ts.null_count():
        raise DataError("null timestamp", where=f"bars.ts row {ts.is_null().arg_max()}")
    ts_i = ts.cast(pl.Int64).to_numpy()
    bad = np.flatnonzero(np.diff(ts_i) <= 0)
    if bad.size:
        raise DataError("timestamps are not strictly increasing", where=f"bars.ts row {bad[0] + 1}")
    return ts_i


# Prepared bars (and a sweep's indicator rows) are kept for the next call on the same bars: an optimiser's
# trials, a widget's re-runs and a walk-forward call sweep() again and again on one series, and at 5 000
# bars preparing them cost a quarter of a warm 1 605-combination sweep. Kept by content (row hashes), so
# an edited or rebuilt frame is never served stale values; at most _KEEP series, each at most _KEEP_BYTES.
_KEEP = 2
_KEEP_BYTES = 64 << 20


def keep_bytes(nbytes: int | None = None) -> int:
    """How big a series' kept preparation and indicator rows may be (default 64 MiB): returns the limit
    in force before the call, and sets ``nbytes`` when given. A process that only sweeps one big series
    again and again (an optimiser's trial worker) raises it: a million bars' rows are ~8 MB each, and
    computing them into fresh memory costs about as much as a chunk of the sweep itself. 0 keeps nothing
    (and drops what is kept)."""
    global _KEEP_BYTES
    previous = _KEEP_BYTES
    if nbytes is not None:
        _KEEP_BYTES = int(nbytes)
        if _KEEP_BYTES <= 0:
            with _kept_lock:
                _kept.clear()
    return previous


_kept: OrderedDict[tuple, _Kept] = OrderedDict()
_kept_lock = threading.Lock()


@dataclass
class _Kept:
    bars: _Bars
    rows: _RowCache | None = None  # the last sweep's indicator rows (when within _KEEP_BYTES)
    lock: threading.Lock = field(default_factory=threading.Lock)  # held by the sweep using ``rows``


def _bars_key(bars: pl.DataFrame) -> tuple:
    """The content of ``bars`` as a key: shape, schema and two folds of its row hashes."""
    h = bars.hash_rows(seed=0x5EED).to_numpy()
    return (
        bars.height,
        tuple(bars.schema.items()),
        int(np.bitwise_xor.reduce(h)),
        int(h.sum(dtype=np.uint64)),
    )


def _prepare_kept(bars: pl.DataFrame) -> _Kept:
    """The :class:`_Kept` entry of ``bars`` (prepared now if not kept)."""
    if not isinstance(bars, pl.DataFrame):
        raise DataError(f"bars must be a polars DataFrame, got {type(bars).__name__}", where="bars")
    key = _bars_key(bars)
    with _kept_lock:
        kept = _kept.get(key)
        if kept is not None:
            _kept.move_to_end(key)
            return kept
    kept = _Kept(_prepare(bars))
    if 48 * bars.height <= _KEEP_BYTES:  # OHLCV, times and flags: about 48 bytes a bar
        with _kept_lock:
            kept = _kept.setdefault(key, kept)
            while len(_kept) > _KEEP:
                _kept.popitem(last=False)
    return kept


def _prepare(bars: pl.DataFrame) -> _Bars:
    if not isinstance(bars, pl.DataFrame):
        raise DataError(f"bars must be a polars DataFrame, got {type(bars).__name__}", where="bars")
    missing = [c for c in ("ts", "open", "high", "low", "close") if c not in bars.columns]
    if missing:
        raise DataError(f"bars lack column(s) {', '.join(missing)}", where="bars")
    if bars.height < 2:
        raise DataError(f"bars need at least 2 rows, got {bars.height}", where="bars")
    if not isinstance(bars.schema["ts"], pl.Datetime):
        raise DataError(f"bars.ts must be a Datetime column, got {bars.schema['ts']}", where="bars.ts")
    ts_i = _timestamps(bars["ts"])
    cols = {}
    for name in ("open", "high", "low", "close", "volume"):
        if name == "volume" and name not in bars.columns:
            cols[name] = np.zeros(bars.height)
            continue
        arr = bars[name].cast(pl.Float64).to_numpy().astype(np.float64, copy=False)
        bad = np.flatnonzero(~np.isfinite(arr) | ((arr <= 0) if name != "volume" else False))
        if bad.size:
            raise DataError(
                f"{name} is missing, not finite or not positive", where=f"bars.{name} row {bad[0]}"
            )
        cols[name] = np.ascontiguousarray(arr)
    ann, period_end = _periods(ts_i)
    bars_per_year = ann.periods_per_year * bars.height / (ann.returns + 1)
    extra = _extra(bars)
    scale = extra.get(SIZE_SCALE, np.empty(0))
    return _Bars(ts_i, period_end, ann, OHLC(**cols, bars_per_year=bars_per_year, extra=extra), scale)


def annualization(frame: pl.DataFrame) -> Annualization:
    """How the engine annualises Sharpe and Sortino on a bar series: decided from the ``ts`` column
    alone, so ``frame`` may be the bars or an equity curve of them (``run(...).equity``)."""
    if not isinstance(frame, pl.DataFrame) or "ts" not in frame.columns:
        raise DataError("need a polars DataFrame with a ts column", where="ts")
    if not isinstance(frame.schema["ts"], pl.Datetime):
        raise DataError(f"ts must be a Datetime column, got {frame.schema['ts']}", where="ts")
    if frame.height < 2:
        raise DataError(f"need at least 2 rows, got {frame.height}", where="ts")
    return _periods(_timestamps(frame["ts"]))[0]


def period_returns(equity: pl.DataFrame) -> np.ndarray:
    """The returns behind ``sharpe``/``sortino``, out of an equity curve (``ts, equity``, e.g.
    ``run(...).equity``): equity at the last bar of each return period over the previous such equity,
    minus 1, while that previous equity is positive (a run gone bust stops counting)."""
    if equity.height < 2:
        return np.empty(0)
    _, end = _periods(_timestamps(equity["ts"]))
    at_end = equity["equity"].cast(pl.Float64).to_numpy()[end]
    prev, cur = at_end[:-1], at_end[1:]
    keep = prev > 0
    return cur[keep] / prev[keep] - 1.0


def bars_from_pandas(df: Any) -> pl.DataFrame:
    """A bars frame from a pandas OHLC frame with a DatetimeIndex (e.g. ``backtesting.test.EURUSD``)."""
    cols = {c.lower(): df[c].to_numpy(dtype=np.float64) for c in df.columns}
    missing = [c for c in ("open", "high", "low", "close") if c not in cols]
    if missing:
        raise DataError(f"frame lacks column(s) {', '.join(missing)}", where="columns")
    ts = np.asarray(df.index.to_numpy(), dtype="datetime64[us]")
    return pl.DataFrame(
        {
            "ts": pl.Series(ts).cast(pl.Datetime("us")),
            **{c: cols[c] for c in ("open", "high", "low", "close")},
            "volume": cols.get("volume", np.zeros(len(df))),
        }
    )


# -- grid and rules --------------------------------------------------------------------------------------


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["fast=5:50", "slow=10:200:5", "k=1.5,2", "signal=9"]`` -> lists (ranges include the stop); the
    stops are lists as written: ``"stop_loss=1%,2%,2atr"`` -> ``["1%", "2%", "2atr"]``."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        name = name.strip()
        if not sep or not name or not spec.strip():
            raise ConfigError(f"grid item {item!r}: expected name=start:stop[:step] or name=a,b,c")
        try:
            if name in STOP_NAMES:
                values: list[Any] = [v.strip() for v in spec.split(",")]
                for v in values:
                    parse_stop(name, v)  # one line naming the flag and the forms
            elif ":" in spec:
                parts = [_number(p) for p in spec.split(":")]
                if len(parts) not in (2, 3):
                    raise ValueError
                start, stop = parts[0], parts[1]
                step = parts[2] if len(parts) == 3 else 1
                if not step > 0 or stop < start:
                    raise ConfigError(f"grid item {item!r}: need start <= stop and step > 0")
                count = int(math.floor((stop - start) / step + 1e-9)) + 1
                if all(isinstance(p, int) for p in parts) or (len(parts) == 2 and isinstance(start, int)):
                    values = [int(start + i * step) for i in range(count)]
                else:
                    values = [round(start + i * step, 12) for i in range(count)]
            else:
                values = [_number(p) for p in spec.split(",")]
        except ValueError:
            raise ConfigError(f"grid item {item!r}: not a number range") from None
        if name in grid:
            raise ConfigError(f"grid item {item!r}: {name!r} given twice")
        grid[name] = values
    return grid


def _number(text: str) -> int | float:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return float(text)


def _combos_frame(spec: StrategySpec, combos: pl.DataFrame) -> pl.DataFrame:
    """Explicit combinations (one row each, in order): known columns, missing params at their defaults,
    the strategy's dtypes; every row must satisfy its constraint."""
    for name in combos.columns:
        if name not in ENGINE_PARAMS:
            spec.param(name)  # raises, naming the known parameters
    if combos.height == 0:
        raise StrategyError("no combination to evaluate")
    cols = [
        (pl.col(p.name) if p.name in combos.columns else pl.lit(p.default))
        .cast(pl.Int64 if p.type is int else pl.Float64)
        .alias(p.name)
        for p in spec.params
    ]
    cols += [_engine_column(n, combos[n].to_list()) for n in ENGINE_PARAMS if n in combos.columns]
    frame = combos.select(cols)
    bad = frame.height - int(valid_mask(spec, frame).sum())
    if bad:
        raise StrategyError(
            f"{bad} of {frame.height} combinations break {spec.name!r}'s constraint {spec.constraint!r}"
        )
    return frame


_GRIDS: OrderedDict[tuple, pl.DataFrame] = (
    OrderedDict()
)  # the last few grids' combinations (frames are immutable)


def _grid_frame(spec: StrategySpec, grid: Mapping[str, Sequence[Any]] | pl.DataFrame) -> pl.DataFrame:
    if isinstance(grid, pl.DataFrame):
        return _combos_frame(spec, grid)
    try:
        key: tuple | None = (spec, *((k, _typed(v)) for k, v in grid.items()))
        hash(key)
    except TypeError:  # unhashable values (and so no key): built every time
        key = None
    if key is not None:
        with _kept_lock:  # another thread may evict between a membership test and the lookup
            frame = _GRIDS.get(key)
        if frame is not None:
            return frame
    frame = _build_grid_frame(spec, grid)
    if key is not None:
        with _kept_lock:
            _GRIDS[key] = frame
            while len(_GRIDS) > 8:
                _GRIDS.popitem(last=False)
    return frame


def _typed(values: Any) -> tuple:
    """``values`` as a hashable key that tells 1, 1.0, True and "1" apart."""
    items = values.tolist() if isinstance(values, np.ndarray) else values
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise TypeError("not a list of values")
    return tuple((type(x), x) for x in items)


def _build_grid_frame(spec: StrategySpec, grid: Mapping[str, Sequence[Any]]) -> pl.DataFrame:
    known = {p.name for p in spec.params} | set(ENGINE_PARAMS)
    for name in grid:
        if name not in known:
            spec.param(name)  # raises, naming the known parameters
    columns: list[pl.DataFrame] = []
    for p in spec.params:
        raw = grid.get(p.name, [p.default])
        if isinstance(raw, str | bytes) or not isinstance(raw, Sequence | np.ndarray) or len(raw) == 0:
            raise StrategyError(f"grid[{p.name!r}] must be a non-empty list of values")
        vals = list(dict.fromkeys(p.coerce(v) for v in raw))
        columns.append(
            pl.DataFrame({p.name: pl.Series(vals, dtype=pl.Int64 if p.type is int else pl.Float64)})
        )
    for name in ENGINE_PARAMS:
        if name in grid:
            raw = grid[name]
            if isinstance(raw, str | bytes) or not isinstance(raw, Sequence | np.ndarray) or len(raw) == 0:
                raise StrategyError(f"grid[{name!r}] must be a non-empty list of values")
            series = _engine_column(name, list(raw))
            columns.append(pl.DataFrame(series.unique(maintain_order=True)))
    frame = columns[0]
    for col in columns[1:]:
        frame = frame.join(col, how="cross")
    return frame.filter(valid_mask(spec, frame))


def _engine_column(name: str, values: Sequence[Any]) -> pl.Series:
    """An engine grid key's values, checked: ``sl``/``tp`` fractions (Float64), the stops as written
    (Utf8, ``"0"`` = off; :func:`workbench.backtest.settings.parse_stop`)."""
    if name in LEGACY_STOPS:
        return pl.Series(name, [_fraction(name, v) for v in values], dtype=pl.Float64)
    return pl.Series(name, [str(parse_stop(name, v) or 0) for v in values], dtype=pl.Utf8)


def _fraction(name: str, v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise StrategyError(f"{name}: {v!r} is not a number") from None
    if not 0 <= f < 10 or math.isnan(f):
        raise StrategyError(f"{name}: {v!r} must be a fraction of the entry price >= 0 (0 = off)")
    return f


class _Compiled:
    """The rules of many combinations as arrays, with indicator keys numbered in first-use order."""

    def __init__(self) -> None:
        self.keys: dict[Ind, int] = {}

    def key(self, ind: Ind) -> int:
        kid = self.keys.get(ind)
        if kid is None:
            INDICATORS.get(ind.name)  # an unknown name raises, with a suggestion
            kid = self.keys[ind] = len(self.keys)
        return kid

    def compile(self, spec: StrategySpec, combos: list[dict[str, Any]]) -> _Rules:
        n = len(combos)
        ci: list[tuple[int, int, int, int]] = []
        cc: list[float] = []
        nc = np.zeros(n, np.int32)
        rb = np.full((n, 4), -1, np.int8)
        bits: list[list[int]] = []
        pad = (-1, -1, -1, 0)
        for k, params in enumerate(combos):
            comparisons: dict[tuple[int, int, int, int, float], int] = {}
            seen: dict[int, int] = {}  # id(cross) -> event bit (symmetric rules reuse one Cross)
            row = [-1, -1, -1, -1]
            for r, cross in enumerate(spec.rules(**params).resolved()):
                if cross is None:
                    continue
                bit = seen.get(id(cross))
                if bit is None:
                    cmp = self._comparison(spec, cross)
                    j = comparisons.setdefault(cmp, len(comparisons))
                    bit = seen[id(cross)] = 2 * j + (0 if cross.direction > 0 else 1)
                row[r] = bit
            if not comparisons:
                raise StrategyError(f"strategy {spec.name!r}: {params} produce no rule at all")
            nc[k] = len(comparisons)
            bits.append(row)
            for cmp in comparisons:
                ci.append(cmp[:4])
                cc.append(cmp[4])
            for _ in range(4 - len(comparisons)):
                ci.append(pad)
                cc.append(0.0)
        rb[:] = np.array(bits, dtype=np.int8).reshape(n, 4)
        return _Rules(
            np.array(ci, dtype=np.int32).reshape(n, 4, 4),
            np.array(cc, dtype=np.float64).reshape(n, 4),
            nc,
            rb,
        )

    def _comparison(self, spec: StrategySpec, cross: Cross) -> tuple[int, int, int, int, float]:
        """``(a1, a2, b, span, constant)`` of one crossover (see :mod:`workbench.backtest._kernel`)."""
        if not isinstance(cross, Cross) or cross.direction not in (1, -1):
            raise StrategyError(
                f"strategy {spec.name!r}: rules must be cross_above/cross_below, got {cross!r}"
            )
        a = cross.a
        if isinstance(a, Ind):
            a1, a2 = self.key(a), -1
        elif isinstance(a, Diff):
            a1, a2 = self.key(a.left), self.key(a.right)
        else:
            raise StrategyError(f"strategy {spec.name!r}: the crossing line must be an indicator, got {a!r}")
        b = cross.b
        if isinstance(b, Ind):
            return a1, a2, self.key(b), 0, 0.0
        if isinstance(b, Const):
            return a1, a2, -1, 0, float(b.value)
        if isinstance(b, Smooth) and b.line == a and b.span >= 1:
            return a1, a2, -1, b.span, 0.0
        raise StrategyError(
            f"strategy {spec.name!r}: the line crossed must be an indicator, a number or an EMA of "
            f"the crossing line, got {b!r}"
        )


_COMPILED: OrderedDict[tuple[Any, ...], tuple[StrategySpec, list[Ind], _Rules]] = OrderedDict()
_COMPILED_MAX = 8  # grids remembered (a 10,000-combination grid's rules take ~0.5 MB)
_COMPILED_LOCK = threading.Lock()


def _compile(spec: StrategySpec, params: pl.DataFrame) -> tuple[list[Ind], _Rules]:
    """The indicator keys and kernel rules of the combinations ``params`` (one row each). ``rules`` runs
    in Python once per combination (~15 µs each: 25 ms for 1,605), so the result is remembered for the
    last few grids, keyed by the strategy and the parameter columns' bytes: re-running a grid (other
    settings, other bars, a second look) skips it. The arrays are never written after compiling."""
    key = (
        id(spec),
        spec.name,
        tuple(params.columns),
        tuple(str(d) for d in params.dtypes),
        params.height,
        hashlib.blake2b(b"".join(params[c].to_numpy().tobytes() for c in params.columns)).digest(),
    )
    with _COMPILED_LOCK:
        hit = _COMPILED.get(key)
        if hit is not None and hit[0] is spec:
            _COMPILED.move_to_end(key)
            return hit[1], hit[2]
    compiled = _Compiled()
    rules = compiled.compile(spec, params.to_dicts())
    keys = list(compiled.keys)
    with _COMPILED_LOCK:
        _COMPILED[key] = (spec, keys, rules)
        while len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    return keys, rules


@dataclass(frozen=True)
class _Rules:
    """Compiled rules of many combinations (layout in :mod:`workbench.backtest._kernel`)."""

    ci: np.ndarray
    cc: np.ndarray
    nc: np.ndarray
    rb: np.ndarray

    def rows(self) -> np.ndarray:
        return self.ci[:, :, :3]

    def chunk(self, start: int, stop: int, lookup: np.ndarray) -> tuple[np.ndarray, ...]:
        """The arrays of combinations ``start:stop`` with key ids replaced by matrix slots."""
        ci = self.ci[start:stop].copy()
        for j in range(3):
            col = ci[:, :, j]
            mask = col >= 0
            col[mask] = lookup[col[mask]]
        return ci, self.cc[start:stop], self.nc[start:stop], self.rb[start:stop]


class _RowCache:
    """Indicator rows in one preallocated matrix; least-recently-used rows are overwritten. Rows are kept
    by indicator (name and arguments), so a later sweep on the same bars finds those it shares."""

    def __init__(self, ohlc: OHLC, capacity: int) -> None:
        self.ohlc = ohlc
        self.matrix = np.empty((max(capacity, 1), ohlc.close.shape[0]))
        self.slots: OrderedDict[Ind, int] = OrderedDict()  # indicator -> slot, in use order

    def grow(self, capacity: int) -> None:
        """Room for ``capacity`` rows, the rows held kept in their slots."""
        if capacity > self.matrix.shape[0]:
            matrix = np.empty((capacity, self.matrix.shape[1]))
            matrix[: self.matrix.shape[0]] = self.matrix
            self.matrix = matrix

    def slots_for(self, ids: np.ndarray, keys: list[Ind]) -> np.ndarray:
        """Slot of every key id (an index into ``keys``) in ``ids``, computing missing rows; returns a
        key id -> slot lookup."""
        need = [keys[int(x)] for x in np.unique(ids) if x >= 0]
        if len(need) > self.matrix.shape[0]:
            self.matrix = np.empty((len(need), self.matrix.shape[1]))
            self.slots.clear()
        free = sorted(set(range(self.matrix.shape[0])) - set(self.slots.values()))
        needed = set(need)
        for ind in need:
            if ind in self.slots:
                self.slots.move_to_end(ind)
                continue
            if free:
                slot = free.pop(0)
            else:
                victim = next(k for k in self.slots if k not in needed)
                slot = self.slots.pop(victim)
            values = np.asarray(INDICATORS.get(ind.name)(self.ohlc, *ind.args), dtype=np.float64)
            if values.shape != (self.matrix.shape[1],):
                raise StrategyError(f"indicator {ind.name}{ind.args} returned shape {values.shape}")
            self.matrix[slot] = values
            self.slots[ind] = slot
        return np.array([self.slots.get(ind, -1) for ind in keys], np.int32)


def _symbol(bars: pl.DataFrame) -> str | None:
    """The bars' symbol (their ``symbol`` column's first value), for the default contract."""
    if "symbol" in bars.columns and bars.height and bars.schema["symbol"] == pl.Utf8:
        value = bars["symbol"][0]
        return str(value) if value else None
    return None


def _engine_settings(bars: pl.DataFrame, sl: float, tp: float, **kw: Any) -> EngineSettings:
    """The settings of one call (``kw``: the keywords of :func:`run`), parsed and checked; the legacy
    ``sl``/``tp`` fractions become ``stop_loss``/``take_profit`` percents."""
    for old, value in (("sl", sl), ("tp", tp)):
        if value:
            new = LEGACY_STOPS[old]
            if kw.get(new) not in (None, "", 0):
                raise ConfigError(f"{old} and {new} are the same setting; give {new} only")
            kw[new] = Amount(_fraction(old, value) * 100.0, "%")
    return EngineSettings.build(symbol=_symbol(bars), **kw)


def _kernel_args(settings: EngineSettings) -> tuple[Any, ...]:
    r = settings.resolve()
    long_ok, short_ok = DIRECTIONS[settings.direction]
    return (
        float(settings.cash),
        np.array(r.costs, dtype=np.float64),
        r.size_mode,
        float(r.size_value),
        bool(r.whole),
        float(r.max_leverage),
        FILLS[settings.fill],
        long_ok,
        short_ok,
    )


def _stops(b: _Bars, settings: EngineSettings, frame: pl.DataFrame) -> tuple[np.ndarray, ...]:
    """``stop_v``, ``stop_k`` (one row per combination of ``frame``: stop-loss, take-profit, trailing
    stop) and ``stop_u`` (the ATR per bar of each ATR stop) for the kernel; a stop comes from its grid
    column (``stop_loss`` or the legacy ``sl`` fraction) or the settings, never from both."""
    n = frame.height
    values = np.zeros((n, 3))
    kinds = np.zeros((n, 3), np.int64)
    windows: list[int] = [0, 0, 0]
    for s, name in enumerate(STOP_NAMES):
        old = next((k for k, v in LEGACY_STOPS.items() if v == name), None)
        sources = [c for c in (name, old) if c is not None and c in frame.columns]
        if settings.stop(name) is not None:
            sources.append(f"--{name.replace('_', '-')} {settings.stop(name)}")
        if len(sources) > 1:
            raise ConfigError(
                f"--{name.replace('_', '-')} is given twice ({' and '.join(sources)}); give it once, "
                "as a setting or as a grid key"
            )
        if old is not None and old in frame.columns:
            values[:, s] = frame[old].to_numpy()
            kinds[:, s] = STOP_FRACTION
            continue
        if name in frame.columns:
            codes = {v: settings.stop_code(name, parse_stop(name, v)) for v in frame[name].unique().to_list()}
            col = frame[name].to_list()
            values[:, s] = [(codes[v] or (0, 0.0, 0))[1] for v in col]
            kinds[:, s] = [(codes[v] or (0, 0.0, 0))[0] for v in col]
            atr_windows = {c[2] for c in codes.values() if c is not None and c[0] == STOP_ATR}
        else:
            code = settings.stop_code(name, settings.stop(name))
            if code is None:
                continue
            kinds[:, s], values[:, s] = code[0], code[1]
            atr_windows = {code[2]} if code[0] == STOP_ATR else set()
        if len(atr_windows) > 1:
            raise ConfigError(
                f"--{name.replace('_', '-')}: one ATR window per sweep, got {sorted(atr_windows)} "
                "(e.g. 1atr14, 2atr14)"
            )
        windows[s] = atr_windows.pop() if atr_windows else 0
    unit = np.zeros((3, b.ohlc.close.shape[0] if any(windows) else 1))
    for s, w in enumerate(windows):
        if w:
            unit[s] = atr(b.ohlc.high, b.ohlc.low, b.ohlc.close, w)
    if settings.size.mode == "risk" and not (values[:, 0] > 0).any() and not (values[:, 2] > 0).any():
        raise ConfigError(
            f"--size {settings.size}: risk sizing needs a stop to measure the risk to; add --stop-loss "
            "(e.g. 2atr, 0.5%, 0.0020) or --trailing-stop"
        )
    return values, kinds, unit


def _vol(b: _Bars, size: Size) -> np.ndarray:
    if size.mode != "vol_target":
        return np.zeros(b.ohlc.close.shape[0])
    return returns_vol(b.ohlc.close, size.window, b.ohlc.bars_per_year)


def _ohlc_args(b: _Bars) -> tuple[np.ndarray, ...]:
    o = b.ohlc
    return o.open, o.high, o.low, o.close, b.period_end


# -- running the kernel: every core, progress while it runs ---------------------------------------------

Progress = Callable[[int, int], None]  # progress(done, total): combinations of a sweep, bars of a run
POLL_S = 0.1  # how often a running kernel's progress is read and reported


def _chunk_size(n_combos: int, threads: int) -> int:
    """Combinations per scheduling chunk: the threads take chunks as they finish the previous one, so
    uneven combinations (a fast SMA trades far more than a slow one) or a core taken by another process
    leave no thread idle; 16+ chunks per thread, at most 64 combinations (a few ms) each."""
    return max(1, min(64, n_combos // (16 * max(1, threads))))


def _call_kernel(
    args: tuple[Any, ...],
    n_combos: int,
    report: Callable[[], None] | None = None,
) -> np.ndarray:
    """``sweep_kernel(*args)`` on all of Numba's threads (of the calling thread's setting) in dynamic
    chunks. With ``report``, the kernel (which holds no GIL) runs in a worker thread and ``report()`` is
    called from this thread every ``POLL_S`` seconds until it ends."""
    import numba

    threads = numba.get_num_threads()  # per thread: a worker thread must be told the caller's choice

    def call() -> np.ndarray:
        numba.set_num_threads(threads)
        with numba.parallel_chunksize(_chunk_size(n_combos, threads)):
            return K.sweep_kernel(*args)

    if report is None:
        return call()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["out"] = call()
        except BaseException as e:  # noqa: BLE001 - re-raised in the calling thread
            box["error"] = e

    worker = threading.Thread(target=work, name="workbench-kernel", daemon=True)
    worker.start()
    while True:
        worker.join(POLL_S)
        if not worker.is_alive():
            break
        report()
    if "error" in box:
        raise box["error"]
    return box["out"]


def warm_up(*, background: bool = True) -> threading.Thread | None:
    """Load the compiled kernels (the sweep kernel, the SMA) from Numba's cache now - or compile them
    when there is no cache yet - so that the first real sweep does not wait for it. The first Numba
    function of a process costs ~0.5 s (Numba's type registries, scipy.linalg for its BLAS check) and
    each cached kernel tens of ms; in a background thread (the default) that overlaps the caller's
    other start-up work (imports, reading the store): ``workbench backtest`` starts it before it opens
    the workspace. Nothing is executed in parallel: the kernel is only loaded, for the argument types
    a real sweep passes (a 4-bar, 1-combination sweep's, built by the same code). Errors are left for
    the real call to raise. Returns the background thread (one per process: None once it has finished,
    and None with ``background=False``); a fork or the interpreter's exit waits for it.
    ``import workbench.backtest`` starts it; ``WORKBENCH_WARM_UP=0`` turns background loading off."""

    def load() -> None:
        try:
            ts = pl.datetime_range(pl.datetime(2000, 1, 3), pl.datetime(2000, 1, 3, 3), "1h", eager=True)
            price = pl.Series([1.0, 1.1, 1.2, 1.1])
            bars = pl.DataFrame({"ts": ts, "open": price, "high": price, "low": price, "close": price})
            spec = get_strategy("sma_cross")
            b = _prepare(bars)
            settings = _engine_settings(bars, 0.0, 0.0)
            frame = _grid_frame(spec, {"fast": [2], "slow": [3]})
            keys, rules = _compile(spec, frame.select([p.name for p in spec.params]))
            cache = _RowCache(b.ohlc, len(keys))
            stop_v, stop_k, stop_u = _stops(b, settings, frame)
            args = (
                *_ohlc_args(b), cache.matrix, *rules.chunk(0, 1, cache.slots_for(rules.rows(), keys)), stop_v,
                stop_k, stop_u, _vol(b, settings.size), *_kernel_args(settings), np.empty(0),
                np.empty((0, len(K.TRADE_FIELDS))), _day_blocks(b, 0), 0, b.ann.periods_per_year,
                np.empty(0, np.uint8), b.scale,
            )  # fmt: skip
            import numba

            K.sweep_kernel.compile(tuple(numba.typeof(a) for a in args))
        except Exception:  # noqa: BLE001 - a warm-up: the real call reports any problem
            pass

    global _WARM
    if not background:
        load()
        return None
    if os.environ.get("WORKBENCH_WARM_UP", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    with _WARM_LOCK:
        if _WARM is not None:  # one warm-up per process: the kernels stay loaded
            return _WARM if _WARM.is_alive() else None
        _WARM = threading.Thread(target=load, name="workbench-warm-up", daemon=True)
        _WARM.start()
    return _WARM


_WARM: threading.Thread | None = None
_WARM_LOCK = threading.Lock()


def precompile() -> list[str]:
    """Compile (or load from the cache) every kernel the engine uses: the sweep kernel, each registered
    strategy's indicators (and the ATR and volatility of the stops and sizing), the signals kernel.
    For image builds and CI: with ``NUMBA_CACHE_DIR`` pointing at a folder the users can write, run it
    once at build time and no process of the image compiles (``infra/docker/Dockerfile``); a machine
    with another CPU compiles again into that folder. Returns the strategies warmed."""
    import workbench.backtest.strategies  # noqa: F401  (registers the library)
    from workbench.backtest.spec import STRATEGIES

    n = 400
    step = np.sin(np.arange(n) / 7.0) * 0.004 + np.cos(np.arange(n) / 23.0) * 0.003
    close = 1.1 * np.exp(np.cumsum(step))
    bars = pl.DataFrame(
        {
            "ts": pl.datetime_range(
                pl.datetime(2000, 1, 3), pl.datetime(2000, 1, 3) + pl.duration(hours=n - 1), "1h", eager=True
            ),
            "open": np.concatenate([[close[0]], close[:-1]]),
            "high": close * 1.001,
            "low": close * 0.999,
            "close": close,
            "volume": np.ones(n),
            "proba": 0.5 + 0.45 * np.sin(np.arange(n) / 11.0),  # the series the `model` strategy reads
        }
    )
    names = STRATEGIES.names()
    for name in names:
        sweep(bars, name, {}, direction="both")
        signals(bars, name)
    sweep(bars, "sma_cross", {}, stop_loss="2atr14", size="1%risk", trailing_stop="1atr14")
    sweep(bars, "sma_cross", {}, size=Size.vol_target(0.1))
    run(bars, "sma_cross", {})
    return list(names)


def _join_warm_up(timeout: float = 60.0) -> None:
    """Wait for a running warm-up: before a fork (a child must not inherit Numba's or LLVM's locks held
    by a thread that does not exist there) and, briefly, at exit (a cache load is done in well under a
    second; a first-ever compile is left to die with the process rather than delay its exit)."""
    thread = _WARM
    if thread is not None and thread.is_alive() and thread is not threading.current_thread():
        thread.join(timeout)


os.register_at_fork(before=_join_warm_up)
atexit.register(_join_warm_up, 1.0)


# -- sweep -----------------------------------------------------------------------------------------------


def iter_sweep(
    bars: pl.DataFrame,
    strategy: str | StrategySpec,
    grid: Mapping[str, Sequence[Any]] | pl.DataFrame,
    *,
    fill: str = "next_open",
    direction: str = "long",
    cash: float = 10_000,
    commission: Commission | Setting = 0.0,
    spread: Amount | Setting = 0.0,
    slippage: Amount | Setting = 0.0,
    size: Size | Setting = "100%",
    stop_loss: Amount | Setting = None,
    take_profit: Amount | Setting = None,
    trailing_stop: Amount | Setting = None,
    contract: Contract | str | Mapping[str, Any] | None = None,
    sl: float = 0.0,
    tp: float = 0.0,
    chunk_size: int | None = None,
    max_indicator_bytes: int = DEFAULT_INDICATOR_BYTES,
    blocks: int = 0,
    progress: Progress | None = None,
) -> Iterator[pl.DataFrame]:
    """Yield the rows of :func:`sweep` in chunks of ``chunk_size`` combinations (default 10 000).

    Memory is the bars, the indicator rows (at most ``max_indicator_bytes``, unless one chunk needs more)
    and one chunk of results: 1M bars × 1000 SMA pairs stays around 1 GiB. ``blocks=S`` (>= 2, at most
    half the number of period returns) adds the ``block_moments`` column (see the module docstring).
    ``progress(done, total)`` is called with the combinations finished so far, as they finish (read
    every ``POLL_S`` seconds while the kernel runs) and after each chunk.
    """
    spec = get_strategy(strategy)
    settings = _engine_settings(
        bars,
        sl,
        tp,
        fill=fill,
        direction=direction,
        cash=cash,
        commission=commission,
        spread=spread,
        slippage=slippage,
        size=size,
        stop_loss=stop_loss,
        take_profit=take_profit,
        trailing_stop=trailing_stop,
        contract=contract,
    )
    kept = _prepare_kept(bars)
    b = kept.bars
    day_block = _day_blocks(b, blocks)
    n_blocks = int(blocks) if day_block.size else 0
    frame = _grid_frame(spec, grid)
    if frame.height == 0:
        raise StrategyError(
            f"no combination of the grid satisfies {spec.name!r}'s constraint {spec.constraint!r}"
        )
    chunk = int(chunk_size) if chunk_size else 10_000
    if chunk < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size!r}")
    names = [p.name for p in spec.params]
    keys, rules = _compile(spec, frame.select(names))
    n = b.ohlc.close.shape[0]
    rows = rules.rows()
    per_chunk = max(
        len(np.unique(rows[s : s + chunk][rows[s : s + chunk] >= 0])) for s in range(0, len(rows), chunk)
    )
    capacity = min(len(keys), max(per_chunk, max_indicator_bytes // (8 * n)))
    # The kept indicator rows of these bars, unless another sweep is using them (then rows of its own).
    mine = kept.lock.acquire(blocking=False)
    try:
        cache = kept.rows if mine and kept.rows is not None else None
        if cache is None:
            cache = _RowCache(b.ohlc, capacity)
            if mine and cache.matrix.nbytes <= _KEEP_BYTES:
                kept.rows = cache
        elif cache.matrix.shape[0] < capacity:
            if (capacity * cache.matrix.shape[1] * 8) <= _KEEP_BYTES:
                cache.grow(capacity)  # the rows it has stay in their slots
            else:
                cache = _RowCache(b.ohlc, capacity)
        yield from _sweep_chunks(
            b, frame, keys, rules, rows, cache, settings, chunk, day_block, n_blocks, progress
        )
    finally:
        if mine:
            kept.lock.release()


def _sweep_chunks(
    b: _Bars,
    frame: pl.DataFrame,
    keys: list[Ind],
    rules: _Rules,
    rows: np.ndarray,
    cache: _RowCache,
    settings: EngineSettings,
    chunk: int,
    day_block: np.ndarray,
    n_blocks: int,
    progress: Progress | None,
) -> Iterator[pl.DataFrame]:
    """The result frames of :func:`iter_sweep`, chunk by chunk, with the indicator rows in ``cache``."""
    stop_v, stop_k, stop_u = _stops(b, settings, frame)
    vol = _vol(b, settings.size)
    args = _kernel_args(settings)
    no_equity, no_trades = np.empty(0), np.empty((0, len(K.TRADE_FIELDS)))
    total = frame.height
    for start in range(0, frame.height, chunk):
        stop = min(start + chunk, frame.height)
        lookup = cache.slots_for(rows[start:stop], keys)
        done = np.zeros(stop - start if progress else 0, np.uint8)
        kernel_args = (
            *_ohlc_args(b),
            cache.matrix,
            *rules.chunk(start, stop, lookup),
            np.ascontiguousarray(stop_v[start:stop]),
            np.ascontiguousarray(stop_k[start:stop]),
            stop_u,
            vol,
            *args,
            no_equity,
            no_trades,
            day_block,
            n_blocks,
            b.ann.periods_per_year,
            done,
            b.scale,
        )
        report = None
        if progress is not None:
            report = functools.partial(_report_combos, progress, done, start, total)
        out = _call_kernel(kernel_args, stop - start, report)
        if progress is not None:
            progress(stop, total)
        result = _metrics_frame(frame.slice(start, stop - start), out)
        if n_blocks:
            moments = np.ascontiguousarray(out[:, K.N_METRICS :])
            result = result.with_columns(
                pl.Series("block_moments", moments).cast(pl.Array(pl.Float64, 3 * n_blocks))
            )
        yield result


def _day_blocks(b: _Bars, blocks: int) -> np.ndarray:
    """Per bar, the block of the period return completed there (-1 elsewhere); empty when ``blocks=0``."""
    if isinstance(blocks, bool) or not isinstance(blocks, int | np.integer):
        raise ConfigError(f"blocks must be an integer, got {blocks!r}")
    if blocks == 0:
        return np.empty(0, np.int64)
    ends = np.flatnonzero(b.period_end)
    n_returns = ends.size - 1
    if blocks < 2 or n_returns < 2 * blocks:
        raise ConfigError(
            f"blocks={blocks}: need 2 <= blocks <= period returns / 2 (the bars give {n_returns} "
            f"{b.ann.period} returns)"
        )
    day_block = np.full(b.period_end.shape[0], -1, np.int64)
    size, extra = divmod(n_returns, blocks)  # the first ``extra`` blocks get one return more
    day_block[ends[1:]] = np.repeat(
        np.arange(blocks, dtype=np.int64), [size + 1] * extra + [size] * (blocks - extra)
    )
    return day_block


def sweep(
    bars: pl.DataFrame,
    strategy: str | StrategySpec,
    grid: Mapping[str, Sequence[Any]] | pl.DataFrame,
    *,
    fill: str = "next_open",
    direction: str = "long",
    cash: float = 10_000,
    commission: Commission | Setting = 0.0,
    spread: Amount | Setting = 0.0,
    slippage: Amount | Setting = 0.0,
    size: Size | Setting = "100%",
    stop_loss: Amount | Setting = None,
    take_profit: Amount | Setting = None,
    trailing_stop: Amount | Setting = None,
    contract: Contract | str | Mapping[str, Any] | None = None,
    sl: float = 0.0,
    tp: float = 0.0,
    chunk_size: int | None = None,
    blocks: int = 0,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """Backtest every valid combination of ``grid`` (param -> list of values; missing params use their
    defaults; the stops may be swept too: ``stop_loss``, ``take_profit``, ``trailing_stop`` as written,
    ``sl``/``tp`` as fractions), or exactly the rows of a DataFrame ``grid`` (explicit combinations, in
    their order, each satisfying the strategy's constraint: one kernel pass, no cross product). One row
    per combination: params then ``METRICS``. The settings (``commission="7/lot"``, ``size="1%risk"``,
    ``stop_loss="2atr"`` ...) are those of :func:`run` (module docstring).

    ``blocks=S`` adds one column ``block_moments`` (``pl.Array(pl.Float64, 3 * S)``): the period returns
    behind ``sharpe`` (:func:`annualization`) cut into ``S`` contiguous, nearly equal time blocks, and per
    block ``count, sum r, sum r²`` (row-major (S, 3)); the input of
    :func:`workbench.optimize.overfit.pbo_cscv`. ``ConfigError`` when ``S < 2`` or the bars give fewer
    than ``2 * S`` period returns.

    The combinations run on all of Numba's threads (``numba.set_num_threads``; handed out in small
    chunks as threads come free), with the same results as on one thread. ``progress(done, total)`` is
    called with the combinations finished so far while they run (see :func:`iter_sweep`).
    """
    chunks = list(
        iter_sweep(
            bars,
            strategy,
            grid,
            fill=fill,
            direction=direction,
            cash=cash,
            commission=commission,
            spread=spread,
            slippage=slippage,
            size=size,
            stop_loss=stop_loss,
            take_profit=take_profit,
            trailing_stop=trailing_stop,
            contract=contract,
            sl=sl,
            tp=tp,
            chunk_size=chunk_size or sys.maxsize,
            blocks=blocks,
            progress=progress,
        )
    )
    return pl.concat(chunks) if len(chunks) > 1 else chunks[0]


def _report_combos(progress: Progress, done: np.ndarray, offset: int, total: int) -> None:
    progress(offset + int(np.count_nonzero(done)), total)


def _metrics_frame(params: pl.DataFrame, out: np.ndarray) -> pl.DataFrame:
    """``params`` with the metric columns; undefined metrics (NaN) become nulls, ``trades`` Int64."""
    cols = [
        pl.Series(name, out[:, j].astype(np.int64))
        if name == "trades"
        else pl.Series(name, np.ascontiguousarray(out[:, j]), nan_to_null=True)
        for j, name in enumerate(METRICS)
    ]
    return params.hstack(cols)


# -- one deep backtest -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestResult:
    """One backtest: ``metrics`` (``METRICS`` names; null-like NaN as ``None``), the equity curve
    (``ts, equity, drawdown_pct``), the closed trades (times = fill times) and the ``annualization``
    of ``sharpe``/``sortino`` (``annualization.to_dict()`` states it in JSON); ``settings``: every
    setting it ran with, in the flags' syntax (:meth:`EngineSettings.to_dict`)."""

    strategy: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    equity: pl.DataFrame
    trades: pl.DataFrame
    annualization: Annualization
    settings: dict[str, Any] = field(default_factory=dict)

    def returns(self) -> np.ndarray:
        """The period returns ``sharpe`` and ``sortino`` are computed from (:func:`period_returns`)."""
        return period_returns(self.equity)

    def to_trades(self, symbol: str = "") -> pl.DataFrame:
        """The trades in the ingest ``TRADES_SCHEMA`` (for :mod:`workbench.analytics` and the store)."""
        from workbench.ingest.records import TRADES_SCHEMA, conform

        t = self.trades
        frame = t.select(
            pl.col("trade_id").cast(pl.Utf8),
            pl.col("entry_time").alias("open_time"),
            pl.col("exit_time").alias("close_time"),
            pl.lit(symbol).alias("symbol"),
            "direction",
            pl.col("size").alias("volume"),
            "entry_price",
            "exit_price",
            (-pl.col("commission")).alias("commission"),
            pl.lit(0.0).alias("swap"),
            (pl.col("pnl") + pl.col("commission")).alias("profit"),
            _pips(t, self.settings).alias("pips"),
            pl.col("pnl").alias("net_profit"),
            pl.col("exit_reason").alias("comment"),
        )
        return conform(frame, TRADES_SCHEMA)


def _pips(trades: pl.DataFrame, settings: Mapping[str, Any]) -> pl.Expr:
    """Each trade's move in pips (the contract's pip size; null when unknown)."""
    pip = (settings.get("contract") or {}).get("pip_size")
    if not pip:
        return pl.lit(None, dtype=pl.Float64)
    sign = pl.when(pl.col("direction") == "long").then(1.0).otherwise(-1.0)
    return (pl.col("exit_price") - pl.col("entry_price")) * sign / float(pip)


def _single(
    spec: StrategySpec, b: _Bars, params: Mapping[str, Any]
) -> tuple[dict[str, Any], np.ndarray, tuple[np.ndarray, ...]]:
    """Checked params, the indicator matrix and the kernel rule arrays of one combination."""
    checked = spec.check({k: v for k, v in params.items() if k not in ENGINE_PARAMS})
    compiled = _Compiled()
    rules = compiled.compile(spec, [checked])
    cache = _RowCache(b.ohlc, len(compiled.keys))
    lookup = cache.slots_for(rules.rows(), list(compiled.keys))
    return checked, cache.matrix, rules.chunk(0, 1, lookup)


def run(
    bars: pl.DataFrame,
    strategy: str | StrategySpec,
    params: Mapping[str, Any] | None = None,
    *,
    fill: str = "next_open",
    direction: str = "long",
    cash: float = 10_000,
    commission: Commission | Setting = 0.0,
    spread: Amount | Setting = 0.0,
    slippage: Amount | Setting = 0.0,
    size: Size | Setting = "100%",
    stop_loss: Amount | Setting = None,
    take_profit: Amount | Setting = None,
    trailing_stop: Amount | Setting = None,
    contract: Contract | str | Mapping[str, Any] | None = None,
    sl: float = 0.0,
    tp: float = 0.0,
    progress: Progress | None = None,
) -> BacktestResult:
    """One backtest of ``strategy`` with ``params`` (defaults for the missing ones; ``params`` may also
    carry the engine's grid keys: ``stop_loss``, ``take_profit``, ``trailing_stop``, ``sl``, ``tp``).

    The settings are written as on the command line (module docstring and
    :mod:`workbench.backtest.settings`): ``direction="both"``, ``commission="7/lot"`` or ``0.0002``,
    ``spread="1.5pips"``, ``slippage="0.01%"``, ``size="1%risk"`` or a :class:`Size`,
    ``stop_loss="2atr"``, ``take_profit="0.5%"``, ``trailing_stop="0.0020"``, ``contract="pip=0.0001"``
    (default: the bars' symbol's). ``BacktestResult.settings`` echoes every setting in that syntax.
    ``progress(bars_done, bars)`` is called every ``POLL_S`` seconds while it runs (long series)."""
    spec = get_strategy(strategy)
    settings = _engine_settings(
        bars,
        sl,
        tp,
        fill=fill,
        direction=direction,
        cash=cash,
        commission=commission,
        spread=spread,
        slippage=slippage,
        size=size,
        stop_loss=stop_loss,
        take_profit=take_profit,
        trailing_stop=trailing_stop,
        contract=contract,
    )
    b = _prepare(bars)
    params = dict(params or {})
    engine = {k: params.pop(k) for k in ENGINE_PARAMS if k in params}
    checked, matrix, arrays = _single(spec, b, params)
    row = pl.DataFrame([_engine_column(k, [v]) for k, v in engine.items()]) if engine else pl.DataFrame()
    stop_v, stop_k, stop_u = _stops(b, settings, row if engine else pl.DataFrame({"_": [0]}))
    n = b.ohlc.close.shape[0]
    eq = np.full(n, np.nan) if progress else np.empty(n)  # filled bar by bar: NaN = not reached yet
    tr = np.empty((n + 2, len(K.TRADE_FIELDS)))
    kernel_args = (
        *_ohlc_args(b), matrix, *arrays, stop_v, stop_k, stop_u, _vol(b, settings.size),
        *_kernel_args(settings), eq, tr, np.empty(0, np.int64), 0, b.ann.periods_per_year,
        np.empty(0, np.uint8), b.scale,
    )  # fmt: skip
    report = functools.partial(_report_bars, progress, eq) if progress is not None else None
    out = _call_kernel(kernel_args, 1, report)[0]
    if progress is not None:
        progress(n, n)
    tr = tr[: int(out[METRICS.index("trades")])]
    ts = pl.Series("ts", b.ts).cast(pl.Datetime("us"))
    equity = pl.DataFrame({"ts": ts, "equity": eq}).with_columns(
        drawdown_pct=(1.0 - pl.col("equity") / pl.col("equity").cum_max()) * 100.0
    )
    entry_bar = tr[:, 0].astype(np.int64)
    exit_bar = tr[:, 1].astype(np.int64)
    entry_us, exit_us = _fill_times(b, FILLS[settings.fill], entry_bar, exit_bar, tr[:, 5], tr[:, 8])
    trades = pl.DataFrame(
        {
            "trade_id": np.arange(1, tr.shape[0] + 1, dtype=np.int64),
            "direction": np.where(tr[:, 2] > 0, "long", "short"),
            "size": tr[:, 3],
            "entry_bar": entry_bar,
            "exit_bar": exit_bar,
            "entry_time": pl.Series(entry_us, dtype=pl.Int64).cast(pl.Datetime("us")),
            "exit_time": pl.Series(exit_us, dtype=pl.Int64).cast(pl.Datetime("us")),
            "entry_price": tr[:, 4],
            "exit_price": tr[:, 5],
            "commission": tr[:, 6],
            "pnl": tr[:, 7],
            "exit_reason": np.array(K.EXIT_REASONS, dtype=object)[tr[:, 8].astype(np.int64)].astype(str),
        },
        schema_overrides={"direction": pl.Utf8, "exit_reason": pl.Utf8},
    ).with_columns(return_pct=pl.col("pnl") / (pl.col("size") * pl.col("entry_price")) * 100.0)
    metrics = {
        name: (int(v) if name == "trades" else (None if math.isnan(v) else float(v)))
        for name, v in zip(METRICS, out.tolist(), strict=True)
    }
    return BacktestResult(
        strategy=spec.name,
        params={**checked, **(row.row(0, named=True) if engine else {})},
        metrics=metrics,
        equity=equity,
        trades=trades,
        annualization=b.ann,
        settings=settings.to_dict(),
    )


def _report_bars(progress: Progress, eq: np.ndarray) -> None:
    """Bars done so far of a running single backtest: the kernel writes the equity bar by bar into the
    NaN-filled ``eq`` (equity is never NaN), so the first NaN is where it is."""
    progress(int(np.searchsorted(np.isnan(eq), True)), eq.shape[0])


def _fill_times(
    b: _Bars,
    fill_close: bool,
    entry_bar: np.ndarray,
    exit_bar: np.ndarray,
    exit_price: np.ndarray,
    reason: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit fill times (int64 µs): a fill at a bar's open at its ``ts``, at its close at its
    close time (stops and take-profits filled inside a bar included; see the module docstring)."""
    if entry_bar.shape[0] == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    close = _close_times(b.ts, b.ann.period)
    entry = close[entry_bar] if fill_close else b.ts[entry_bar]
    code = reason.astype(np.int64)
    stop = (code == 1) | (code == 2) | (code == 4)  # stop-loss, take-profit, trailing stop
    at_open = ((code == 0) & (not fill_close)) | (stop & (exit_price == b.ohlc.open[exit_bar]))
    return entry, np.where(at_open, b.ts[exit_bar], close[exit_bar])


def signals(
    bars: pl.DataFrame, strategy: str | StrategySpec, params: Mapping[str, Any] | None = None
) -> pl.DataFrame:
    """``ts, long_entry, long_exit, short_entry, short_exit``: the rule flags at each bar's close."""
    spec = get_strategy(strategy)
    b = _prepare(bars)
    _, matrix, arrays = _single(spec, b, dict(params or {}))
    flags = K.signals_kernel(matrix, *arrays)
    return pl.DataFrame(
        {
            "ts": pl.Series(b.ts).cast(pl.Datetime("us")),
            "long_entry": flags[0],
            "long_exit": flags[1],
            "short_entry": flags[2],
            "short_exit": flags[3],
        }
    )


def portfolio(
    bars: pl.DataFrame,
    strategy: str | StrategySpec,
    params: Mapping[str, Any] | None = None,
    *,
    fill: str = "next_open",
    direction: str = "long",
    cash: float = 10_000,
    commission: float | str = 0.0,
    freq: str | None = None,
) -> Any:
    """A vectorbt ``Portfolio`` of the same signals (all cash per entry, fractional units) for rich
    analysis. vectorbt's own conventions apply to the simulation (its ``fees`` = our ``commission``);
    ``next_open`` is modelled by shifting the signals one bar and filling at the open."""
    try:
        import pandas as pd
        import vectorbt as vbt
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise MissingDependencyError("vectorbt", "backtest") from None
    settings = EngineSettings.build(fill=fill, direction=direction, cash=cash, commission=commission)
    if any(t.unit.startswith("/") for t in settings.commission.terms):
        raise ConfigError(
            f"--commission {settings.commission}: portfolio() (vectorbt) takes a fraction of notional only "
            "(e.g. 0.0002 or 0.02%); use run() for money per lot or per trade"
        )
    commission = settings.commission.fraction
    sig = signals(bars, strategy, params)
    b = _prepare(bars)
    index = pd.DatetimeIndex(b.ts.astype("datetime64[us]"))
    flags = {c: sig[c].to_numpy() for c in ("long_entry", "long_exit", "short_entry", "short_exit")}
    long_ok, short_ok = DIRECTIONS[direction]
    if not long_ok:
        flags["long_entry"] = np.zeros_like(flags["long_entry"])
    if not short_ok:
        flags["long_exit"] = flags["long_exit"] | flags["short_entry"]
        flags["short_entry"] = np.zeros_like(flags["short_entry"])
    price = b.ohlc.close
    if not FILLS[fill]:
        flags = {k: np.concatenate([[False], v[:-1]]) for k, v in flags.items()}
        price = b.ohlc.open
    s = {k: pd.Series(v, index=index) for k, v in flags.items()}
    return vbt.Portfolio.from_signals(
        pd.Series(b.ohlc.close, index=index),
        entries=s["long_entry"],
        exits=s["long_exit"],
        short_entries=s["short_entry"],
        short_exits=s["short_exit"],
        price=pd.Series(price, index=index),
        init_cash=cash,
        fees=commission,
        freq=freq or _freq(b),
    )


def _freq(b: _Bars) -> str:
    step = int(np.median(np.diff(b.ts[: min(len(b.ts), 1000)])))
    return f"{step}us"
