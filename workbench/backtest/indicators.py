"""Technical indicators shared by the backtester, ML features and code generation.

Every function takes float64 numpy arrays and returns a float64 array of the same length, NaN where the
indicator is not defined yet (warm-up). They are Numba-compiled (``cache=True``) and also usable from
plain Python. The conventions follow pandas so results can be checked against it:

* ``sma(x, n)``          — ``pd.Series(x).rolling(n).mean()``, **bit for bit**: the same compensated
  (Kahan) running sum with separate add/remove compensation, and a run of identical values returns that
  value exactly. This matters for crossovers: two SMAs that pandas/backtesting.py consider exactly equal
  are exactly equal here too.
* ``ema(x, n)``          — ``pd.Series(x).ewm(span=n, adjust=False, min_periods=n).mean()``, bit for bit
  (same recurrence, including pandas' "skip the update when the value equals the average" rule).
* ``rma(x, n)``          — Wilder's smoothing: ``ewm(alpha=1/n, adjust=False, min_periods=n)``.
* ``rsi(x, n)``          — Wilder's RSI: ``100 - 100 / (1 + rma(gain) / rma(loss))`` of close-to-close
  changes (first change at index 1); 100 when the average loss is 0, 50 when both are 0.
* ``rolling_std(x, n)``  — population standard deviation (``rolling(n).std(ddof=0)``), online
  (Welford add/remove), equal to pandas within ~1e-12 relative.
* ``zscore(x, n)``       — ``(x - sma(x, n)) / rolling_std(x, n)``; NaN where the deviation is 0. The
  Bollinger bands ``sma ± k·std`` are crossed exactly when the z-score crosses ``±k``.
* ``highest(x, n)`` / ``lowest(x, n)`` — max / min of the **previous** ``n`` values, excluding the current
  one (``rolling(n).max().shift(1)``): the Donchian channel a breakout is measured against.
* ``returns_vol(x, n, periods)`` — sample std (ddof=1) of the last ``n`` simple returns × √periods.
* ``true_range(h, l, c)`` / ``atr(h, l, c, n)`` — Wilder's true range ``max(h - l, |h - c[i-1]|,
  |l - c[i-1]|)`` (``h - l`` on the first bar) and its ``rma`` over ``n`` bars (valid from bar ``n - 1``):
  the unit of the engine's ATR stops (``2atr``).

``INDICATORS`` maps the names strategies use (``sma``, ``ema``, ...) to builders ``f(ohlc, *args)``
where ``ohlc`` is a :class:`OHLC`; add a new indicator by writing the kernel here and registering a
builder (see docs/strategies.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from workbench._registry import Registry

__all__ = [
    "OHLC",
    "INDICATORS",
    "sma",
    "ema",
    "ema_step",
    "rma",
    "rsi",
    "rolling_std",
    "zscore",
    "highest",
    "lowest",
    "returns_vol",
    "true_range",
    "atr",
    "macd",
]


@njit(cache=True)
def sma(x: np.ndarray, n: int) -> np.ndarray:
    """Simple moving average, identical to pandas' ``rolling(n).mean()`` (min_periods = n)."""
    size = x.shape[0]
    out = np.full(size, np.nan)
    if n < 1:
        return out
    nobs = 0
    sum_x = 0.0
    neg_ct = 0
    comp_add = 0.0
    comp_rem = 0.0
    same = 0
    prev = np.nan
    for i in range(size):
        if i >= n:  # remove x[i - n] (pandas' remove_mean)
            v = x[i - n]
            if v == v:
                nobs -= 1
                y = -v - comp_rem
                t = sum_x + y
                comp_rem = t - sum_x - y
                sum_x = t
                if v < 0:
                    neg_ct -= 1
        v = x[i]  # add x[i] (pandas' add_mean)
        if v == v:
            nobs += 1
            y = v - comp_add
            t = sum_x + y
            comp_add = t - sum_x - y
            sum_x = t
            if v < 0:
                neg_ct += 1
            if v == prev:
                same += 1
            else:
                same = 1
            prev = v
        if nobs >= n and nobs > 0:
            r = sum_x / nobs
            if same >= nobs:
                r = prev
            elif neg_ct == 0 and r < 0:
                r = 0.0
            elif neg_ct == nobs and r > 0:
                r = 0.0
            out[i] = r
    return out


@njit(cache=True, inline="always")
def ema_step(avg: float, cur: float, alpha: float) -> float:
    """One step of pandas' ``ewm(adjust=False)`` average for a non-NaN ``cur`` after the first value.

    Written as pandas writes it (weights ``1-alpha`` and ``alpha`` re-normalised, no update when the value
    equals the average) so the result is bit-identical.
    """
    if avg != cur:
        old_wt = 1.0 - alpha
        avg = (old_wt * avg + alpha * cur) / (old_wt + alpha)
    return avg


@njit(cache=True)
def _ewm(x: np.ndarray, alpha: float, min_periods: int) -> np.ndarray:
    size = x.shape[0]
    out = np.full(size, np.nan)
    avg = np.nan
    nobs = 0
    for i in range(size):
        cur = x[i]
        if cur == cur:
            nobs += 1
            if avg == avg:
                avg = ema_step(avg, cur, alpha)
            else:
                avg = cur
        if nobs >= min_periods and avg == avg:
            out[i] = avg
    return out


@njit(cache=True)
def ema(x: np.ndarray, n: int) -> np.ndarray:
    """Exponential moving average with span ``n`` (alpha = 2/(n+1)), valid from the n-th value."""
    return _ewm(x, 2.0 / (n + 1.0), n)


@njit(cache=True)
def rma(x: np.ndarray, n: int) -> np.ndarray:
    """Wilder's moving average (alpha = 1/n), valid from the n-th value."""
    return _ewm(x, 1.0 / n, n)


@njit(cache=True)
def rsi(x: np.ndarray, n: int) -> np.ndarray:
    """Wilder's relative strength index (0..100) over ``n`` close-to-close changes."""
    size = x.shape[0]
    gain = np.full(size, np.nan)
    loss = np.full(size, np.nan)
    for i in range(1, size):
        d = x[i] - x[i - 1]
        gain[i] = d if d > 0 else 0.0
        loss[i] = -d if d < 0 else 0.0
    ag = rma(gain, n)
    al = rma(loss, n)
    out = np.full(size, np.nan)
    for i in range(size):
        g = ag[i]
        lo = al[i]
        if g == g and lo == lo:
            if lo == 0.0:
                out[i] = 50.0 if g == 0.0 else 100.0
            else:
                out[i] = 100.0 - 100.0 / (1.0 + g / lo)
    return out


@njit(cache=True)
def rolling_std(x: np.ndarray, n: int) -> np.ndarray:
    """Population standard deviation of the last ``n`` values (NaN inside the window gives NaN)."""
    size = x.shape[0]
    out = np.full(size, np.nan)
    mean = 0.0
    m2 = 0.0
    nobs = 0
    nan_ct = 0
    same = 0  # length of the run of identical values ending at i (a flat window has std exactly 0)
    prev = np.nan
    for i in range(size):
        v = x[i]
        if v == v:
            nobs += 1
            d = v - mean
            mean += d / nobs
            m2 += d * (v - mean)
            same = same + 1 if v == prev else 1
            prev = v
        else:
            nan_ct += 1
            same = 0
            prev = np.nan
        if i >= n:
            w = x[i - n]
            if w == w:
                nobs -= 1
                if nobs == 0:
                    mean = 0.0
                    m2 = 0.0
                else:
                    d = w - mean
                    mean -= d / nobs
                    m2 -= d * (w - mean)
            else:
                nan_ct -= 1
        if i >= n - 1 and nan_ct == 0 and nobs == n:
            out[i] = math.sqrt(m2 / n) if m2 > 0 and same < n else 0.0
    return out


@njit(cache=True)
def zscore(x: np.ndarray, n: int) -> np.ndarray:
    """``(x - sma(x, n)) / rolling_std(x, n)``; NaN where the deviation is 0 or undefined."""
    mean = sma(x, n)
    sd = rolling_std(x, n)
    out = np.full(x.shape[0], np.nan)
    for i in range(x.shape[0]):
        if sd[i] > 0:
            out[i] = (x[i] - mean[i]) / sd[i]
    return out


@njit(cache=True)
def highest(x: np.ndarray, n: int) -> np.ndarray:
    """Max of the previous ``n`` values (x[i-n..i-1]); the current value is excluded."""
    size = x.shape[0]
    out = np.full(size, np.nan)
    for i in range(n, size):
        m = -np.inf
        for j in range(i - n, i):
            if x[j] > m:
                m = x[j]
        out[i] = m
    return out


@njit(cache=True)
def lowest(x: np.ndarray, n: int) -> np.ndarray:
    """Min of the previous ``n`` values (x[i-n..i-1]); the current value is excluded."""
    size = x.shape[0]
    out = np.full(size, np.nan)
    for i in range(n, size):
        m = np.inf
        for j in range(i - n, i):
            if x[j] < m:
                m = x[j]
        out[i] = m
    return out


@njit(cache=True)
def returns_vol(x: np.ndarray, n: int, periods: float) -> np.ndarray:
    """Sample std (ddof=1) of the last ``n`` simple returns, annualised by √periods."""
    size = x.shape[0]
    r = np.full(size, np.nan)
    for i in range(1, size):
        r[i] = x[i] / x[i - 1] - 1.0
    sd = rolling_std(r, n)
    out = np.full(size, np.nan)
    if n < 2:
        return out
    scale = math.sqrt(n / (n - 1.0)) * math.sqrt(periods)
    for i in range(size):
        out[i] = sd[i] * scale
    return out


@njit(cache=True)
def true_range(h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Wilder's true range: ``max(h - l, |h - c[i-1]|, |l - c[i-1]|)``, ``h - l`` on the first bar."""
    size = c.shape[0]
    out = np.empty(size)
    for i in range(size):
        tr = h[i] - lo[i]
        if i > 0:
            tr = max(tr, abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1]))
        out[i] = tr
    return out


def atr(h: np.ndarray, lo: np.ndarray, c: np.ndarray, n: int) -> np.ndarray:
    """Average true range: Wilder's ``rma`` of :func:`true_range` over ``n`` bars (NaN before bar n-1)."""
    return rma(true_range(h, lo, c), n)


def macd(x: np.ndarray, fast: int, slow: int, signal: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MACD line ``ema(fast) - ema(slow)``, its signal line ``ema(macd, signal)`` and the histogram."""
    line = ema(x, fast) - ema(x, slow)
    sig = ema(line, signal)
    return line, sig, line - sig


# -- named builders used by strategies -------------------------------------------------------------


@dataclass(frozen=True)
class OHLC:
    """Bar arrays (float64) the indicator builders read; ``bars_per_year`` annualises bar returns: the
    engine's periods per year × bars per return period (:func:`workbench.backtest.engine.annualization`:
    e.g. 252 × bars per trading day, 365 × bars per day for a 24/7 market, 12 for monthly bars).
    ``extra``: the bars' other numeric columns by name (float64, NaN where null): per-bar series from
    outside the bars, e.g. a model's predicted probability ``proba`` or a ``regime`` (``series``)."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    bars_per_year: float
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)

    def series(self, name: str) -> np.ndarray:
        """The bars' column ``name`` (an ``extra`` series); StrategyError naming the columns there are."""
        try:
            return self.extra[name]
        except KeyError:
            from workbench.errors import StrategyError

            have = ", ".join(sorted(self.extra)) or "none"
            raise StrategyError(
                f"the bars have no {name!r} column (extra columns: {have}); add it to the bars frame "
                "(e.g. workbench.ml.signal.signal_bars for a model's predictions)"
            ) from None


Builder = Callable[..., np.ndarray]
INDICATORS: Registry[Builder] = Registry("indicator")

INDICATORS.add("close", lambda b: b.close)
INDICATORS.add("sma", lambda b, n: sma(b.close, n))
INDICATORS.add("ema", lambda b, n: ema(b.close, n))
INDICATORS.add("rsi", lambda b, n: rsi(b.close, n))
INDICATORS.add("zscore", lambda b, n: zscore(b.close, n))
INDICATORS.add("highest", lambda b, n: highest(b.high, n))
INDICATORS.add("lowest", lambda b, n: lowest(b.low, n))
INDICATORS.add("vol", lambda b, n: returns_vol(b.close, n, b.bars_per_year))
INDICATORS.add("atr", lambda b, n: atr(b.high, b.low, b.close, n))
INDICATORS.add("series", lambda b, name: b.series(name))
