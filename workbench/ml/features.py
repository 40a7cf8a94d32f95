"""Causal features from stored bars: every feature at row ``t`` is computed from bars ``<= t`` only.

The bars are the store's frame (``ws.bars("EURUSD:1h")``: ``ts, open, high, low, close, volume``, oldest
first; ``ts`` is the bar's open time, the bar's values are known at its close). Every feature is built
from the indicator library the engine uses (:mod:`workbench.backtest.indicators`: ``sma``, ``ema``,
``rsi``, ``zscore``, ``highest``/``lowest``, ``rolling_std``, ``atr``, ``macd``) or from plain backward
differences, so a rule means the same thing in the engine and in a model. Warm-up rows are null (not
zero): a model never sees a made-up value.

Feature names (``feature_names(spec)``, the default :class:`FeatureSpec`):

==================  ===========================================================================
``ret_{h}``          log return over ``h`` bars, ``ln(close_t / close_{t-h})``
``vol_cc_{w}``       close-to-close volatility: population std of the last ``w`` 1-bar log returns
``vol_pk_{w}``       Parkinson volatility: ``sqrt(mean_w(ln(high/low)^2) / (4 ln 2))``
``atr_{n}``          Wilder's ATR over ``n`` bars divided by the close (the engine's ``atr``)
``range``/``body``   ``ln(high/low)`` and ``ln(close/open)`` of the bar itself
``rsi_{n}``          Wilder's RSI (0..100)
``zscore_{n}``       ``(close - sma_n) / std_n``
``dist_sma_{n}``     ``close / sma_n - 1``; ``dist_ema_{n}`` the same with the EMA
``donchian_{n}``     position of the close in the channel of the previous ``n`` highs/lows, -0.5..0.5
                     (beyond on a breakout)
``macd_hist``        MACD histogram (12, 26, 9) divided by the close
``hour``/``weekday`` hour of day (0..23) and weekday (0 = Monday) of the bar's open time
``vratio_{n}``       ``volume / sma_n(volume)``; ``vz_{n}`` z-score of ``ln(1 + volume)`` over ``n`` bars
==================  ===========================================================================

Volume features are built when the frame has a ``volume`` column (the column set depends on the schema
only, never on values, so a later bar cannot change which features exist). ``FEATURE_SET_VERSION`` names
the formulas; :func:`feature_set_id` adds the spec's hash: a model refuses bars whose features differ.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from workbench.errors import DataError

__all__ = [
    "FEATURE_SET_VERSION",
    "FeatureSpec",
    "build_features",
    "feature_names",
    "feature_set_id",
    "features_at_entries",
    "decision_bars",
    "bar_arrays",
]

FEATURE_SET_VERSION = "1"
"""Version of the feature formulas: bump it whenever a formula changes (stored models then refuse to predict)."""

_OHLC = ("open", "high", "low", "close")


@dataclass(frozen=True)
class FeatureSpec:
    """Which features to build (windows in bars). The default suits hourly to daily bars."""

    returns: tuple[int, ...] = (1, 2, 4, 8, 24, 72)
    vol_windows: tuple[int, ...] = (24, 96)
    atr: tuple[int, ...] = (14,)
    rsi: tuple[int, ...] = (14,)
    zscore: tuple[int, ...] = (20, 100)
    sma: tuple[int, ...] = (20, 50, 200)
    ema: tuple[int, ...] = (12, 48)
    donchian: tuple[int, ...] = (20,)
    macd: tuple[int, int, int] | None = (12, 26, 9)
    bar_shape: bool = True
    calendar: bool = True
    volume: tuple[int, ...] = (24,)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> FeatureSpec:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    @property
    def warm_up(self) -> int:
        """Bars before every feature is defined (the longest window, + 1 for returns)."""
        longest = [
            *self.returns,
            *(w + 1 for w in self.vol_windows),
            *self.atr,
            *(n + 1 for n in self.rsi),
            *self.zscore,
            *self.sma,
            *self.ema,
            *(n + 1 for n in self.donchian),
            *self.volume,
        ]
        if self.macd:
            longest.append(self.macd[1] + self.macd[2])
        return max(longest, default=1)


def feature_names(spec: FeatureSpec | None = None, *, volume: bool = True) -> list[str]:
    """The columns :func:`build_features` returns after ``ts`` (``volume=False``: without the volume
    features, as for bars without a volume column)."""
    s = spec or FeatureSpec()
    names = [f"ret_{h}" for h in s.returns]
    for w in s.vol_windows:
        names += [f"vol_cc_{w}", f"vol_pk_{w}"]
    names += [f"atr_{n}" for n in s.atr]
    if s.bar_shape:
        names += ["range", "body"]
    names += [f"rsi_{n}" for n in s.rsi]
    names += [f"zscore_{n}" for n in s.zscore]
    names += [f"dist_sma_{n}" for n in s.sma]
    names += [f"dist_ema_{n}" for n in s.ema]
    names += [f"donchian_{n}" for n in s.donchian]
    if s.macd:
        names.append("macd_hist")
    if s.calendar:
        names += ["hour", "weekday"]
    if volume:
        for n in s.volume:
            names += [f"vratio_{n}", f"vz_{n}"]
    return names


def feature_set_id(spec: FeatureSpec | None = None) -> str:
    """``"<FEATURE_SET_VERSION>:<12 hex of the spec>"``: equal ids build equal features from equal bars."""
    payload = json.dumps((spec or FeatureSpec()).to_dict(), sort_keys=True)
    return f"{FEATURE_SET_VERSION}:{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


def bar_arrays(bars: pl.DataFrame) -> dict[str, np.ndarray]:
    """``open/high/low/close`` (and ``volume`` when present) as contiguous float64 arrays, nulls as NaN;
    checks the columns and the time order."""
    missing = [c for c in ("ts", *_OHLC) if c not in bars.columns]
    if missing:
        raise DataError(
            f"bars lack column(s) {', '.join(missing)}; pass ws.bars('SYMBOL:TF') (ts, open, high, low, close, volume)",
            file="bars",
            where="columns",
        )
    if bars.height > 1 and not bars["ts"].is_sorted():
        raise DataError("bars are not in time order; sort them by ts first", file="bars", where="ts")
    cols = [*_OHLC, "volume"] if "volume" in bars.columns else list(_OHLC)
    return {
        c: np.ascontiguousarray(bars[c].cast(pl.Float64).fill_null(float("nan")).to_numpy(), dtype=np.float64)
        for c in cols
    }


def _log_ret(c: np.ndarray, h: int) -> np.ndarray:
    out = np.full(c.shape[0], np.nan)
    if h < c.shape[0]:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[h:] = np.log(c[h:] / c[:-h])
    return out


def build_features(bars: pl.DataFrame, *, spec: FeatureSpec | None = None) -> pl.DataFrame:
    """``ts`` + one Float64 column per feature (:func:`feature_names`), one row per bar; a feature at row
    ``t`` reads bars ``<= t`` only (warm-up rows are null)."""
    from workbench.backtest import indicators as ind

    s = spec or FeatureSpec()
    a = bar_arrays(bars)
    o, h, lo, c = a["open"], a["high"], a["low"], a["close"]
    out: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in s.returns:
            out[f"ret_{k}"] = _log_ret(c, k)
        r1 = _log_ret(c, 1)
        hl2 = np.log(h / lo) ** 2 / (4.0 * math.log(2.0))
        for w in s.vol_windows:
            out[f"vol_cc_{w}"] = ind.rolling_std(r1, w)
            out[f"vol_pk_{w}"] = np.sqrt(ind.sma(hl2, w))
        for k in s.atr:
            out[f"atr_{k}"] = ind.atr(h, lo, c, k) / c
        if s.bar_shape:
            out["range"] = np.log(h / lo)
            out["body"] = np.log(c / o)
        for k in s.rsi:
            out[f"rsi_{k}"] = ind.rsi(c, k)
        for k in s.zscore:
            out[f"zscore_{k}"] = ind.zscore(c, k)
        for k in s.sma:
            out[f"dist_sma_{k}"] = c / ind.sma(c, k) - 1.0
        for k in s.ema:
            out[f"dist_ema_{k}"] = c / ind.ema(c, k) - 1.0
        for k in s.donchian:
            hi_k, lo_k = ind.highest(h, k), ind.lowest(lo, k)
            width = hi_k - lo_k
            out[f"donchian_{k}"] = np.where(width > 0, (c - lo_k) / width - 0.5, 0.0)
            out[f"donchian_{k}"][np.isnan(width)] = np.nan
        if s.macd:
            _, _, hist = ind.macd(c, *s.macd)
            out["macd_hist"] = hist / c
        if s.calendar:
            ts = bars["ts"]
            out["hour"] = ts.dt.hour().cast(pl.Float64).to_numpy()
            out["weekday"] = (ts.dt.weekday() - 1).cast(pl.Float64).to_numpy()
        if "volume" in a:
            v = a["volume"]
            lv = np.log1p(np.maximum(v, 0.0))
            for k in s.volume:
                mean_v = ind.sma(v, k)
                out[f"vratio_{k}"] = np.where(mean_v > 0, v / mean_v, np.nan)
                out[f"vz_{k}"] = ind.zscore(lv, k)
    names = feature_names(s, volume="volume" in a)
    cols = [bars["ts"]]
    for name in names:
        x = np.array(out[name], dtype=np.float64)  # a copy: polars' buffers are read-only
        x[~np.isfinite(x)] = np.nan
        cols.append(pl.Series(name, x, dtype=pl.Float64, nan_to_null=True))
    return pl.DataFrame(cols)


def _bar_ends(bars: pl.DataFrame) -> pl.Series:
    """When each bar closes: the next bar's open time (the last bar: + the most common spacing)."""
    ts = bars["ts"]
    step = ts.diff().drop_nulls()
    step = step.mode().sort()[0] if step.len() else None
    ends = ts.shift(-1)
    if step is not None:
        ends = ends.fill_null(ts[-1] + step)
    return ends.alias("bar_end")


def decision_bars(bars: pl.DataFrame, times: pl.Series) -> pl.Series:
    """``ts`` of the last bar closed at or before each of ``times`` (null before the first bar closed):
    the bar a decision taken at that time could have read."""
    keyed = pl.DataFrame({"bar_ts": bars["ts"], "bar_end": _bar_ends(bars)}).sort("bar_end")
    left = pl.DataFrame({"t": times.cast(pl.Datetime("us"))}).with_row_index("_row")
    joined = left.sort("t").join_asof(keyed, left_on="t", right_on="bar_end", strategy="backward")
    return joined.sort("_row")["bar_ts"]


def features_at_entries(
    bars: pl.DataFrame,
    trades: pl.DataFrame,
    *,
    spec: FeatureSpec | None = None,
    features: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The features of the last bar **closed at or before** each trade's entry (``open_time`` of stored
    trades, ``entry_time`` of the engine's, ``ts`` of an entries frame): a trade entered at a bar's open
    sees the previous bar; one entered mid-bar does not see that bar's close. Returns the trade columns (``trade_id``, ``open_time``/``ts``,
    ``direction``/``side`` where present), ``bar_ts`` (the bar read) and the features; trades before the
    first bar closed get nulls. ``features``: a frame from :func:`build_features` to reuse."""
    when = next((c for c in ("open_time", "entry_time", "ts") if c in trades.columns), None)
    if when is None:
        raise DataError(
            "trades need an open_time (stored trades), entry_time (engine trades) or ts (entries) column",
            file="trades",
            where="columns",
        )
    feats = features if features is not None else build_features(bars, spec=spec)
    keyed = feats.rename({"ts": "bar_ts"}).with_columns(_bar_ends(bars)).sort("bar_end")
    keep = [c for c in ("trade_id", when, "direction", "side", "symbol") if c in trades.columns]
    left = trades.select(keep).with_row_index("_row").with_columns(pl.col(when).cast(pl.Datetime("us")))
    joined = left.sort(when).join_asof(keyed, left_on=when, right_on="bar_end", strategy="backward")
    return joined.sort("_row").drop("_row", "bar_end")
