"""Trades on a bar series: each trade's entry and exit bar, side and price move, and the agreement of
two sets of trades (entries and exits matched within ``tol`` bars on the same side, F1, P/L correlation).

A time is placed in the bar that contains it (the last bar whose ``ts`` is not after it): a fill at a
bar's open (``ts``) is in that bar, a MetaTrader deal at 10:37 on hourly bars in the 10:00 bar. The real
trades and the replays go through the same placing, so their conventions cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench.infer._kernel import match_pairs

__all__ = ["TradeBars", "place", "agreement", "Agreement"]


@dataclass(frozen=True)
class TradeBars:
    """Trades placed on bars (arrays sorted by entry bar): ``side`` +1 long / -1 short, ``ret`` the
    price move in the trade's favour as a fraction of the entry price (sizing-free P/L)."""

    entry_bar: np.ndarray
    exit_bar: np.ndarray
    side: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    ret: np.ndarray
    stated: list[str]  # the file's own exit label per trade (comment), "" when none
    stop_loss: np.ndarray  # stated stop-loss level (NaN = none)
    take_profit: np.ndarray
    dropped: int  # trades outside the bars, left out

    @property
    def n(self) -> int:
        return int(self.entry_bar.shape[0])


def _bar_of(ts: np.ndarray, times: np.ndarray) -> np.ndarray:
    return np.searchsorted(ts, times, side="right") - 1


def _us(col: pl.Series) -> np.ndarray:
    return col.cast(pl.Datetime("us")).dt.replace_time_zone(None).cast(pl.Int64).to_numpy()


def place(trades: pl.DataFrame, ts: np.ndarray, *, period_us: int | None = None) -> TradeBars:
    """``trades`` (store columns ``open_time, close_time, direction, entry_price, exit_price``; or the
    engine's ``entry_time, exit_time``) placed on bars starting at ``ts`` (int64 µs). Trades entering
    before the first bar or after the last bar's end are dropped (counted in ``dropped``)."""
    open_c = "open_time" if "open_time" in trades.columns else "entry_time"
    close_c = "close_time" if "close_time" in trades.columns else "exit_time"
    t = trades.filter(pl.col(open_c).is_not_null() & pl.col("entry_price").is_not_null())
    step = period_us if period_us is not None else (int(np.median(np.diff(ts))) if ts.shape[0] > 1 else 0)
    end = ts[-1] + step
    o = _us(t[open_c])
    c = _us(t[close_c].fill_null(t[open_c]))
    keep = (o >= ts[0]) & (o < end)
    eb = _bar_of(ts, o)
    xb = np.maximum(_bar_of(ts, np.minimum(c, end - 1)), eb)
    side = np.where(t["direction"].str.to_lowercase().is_in(["short", "sell"]).to_numpy(), -1, 1)
    ep = t["entry_price"].cast(pl.Float64).to_numpy()
    xp = t["exit_price"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    stated = t["comment"].fill_null("").to_list() if "comment" in t.columns else [""] * t.height
    if "exit_reason" in t.columns:
        stated = t["exit_reason"].fill_null("").to_list()
    sl = (
        t["stop_loss"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
        if "stop_loss" in t.columns
        else None
    )
    tp = (
        t["take_profit"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
        if "take_profit" in t.columns
        else None
    )
    nan = np.full(t.height, np.nan)
    sl = nan if sl is None else sl
    tp = nan if tp is None else tp
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(eb[idx], kind="stable")]
    ret = side * (xp - ep) / ep
    return TradeBars(
        eb[idx].astype(np.int64),
        xb[idx].astype(np.int64),
        side[idx].astype(np.int64),
        ep[idx],
        xp[idx],
        ret[idx],
        [stated[i] for i in idx],
        sl[idx],
        tp[idx],
        int(t.height - idx.shape[0]) + (trades.height - t.height),
    )


@dataclass(frozen=True)
class Agreement:
    """How well candidate trades agree with the real ones (see :func:`agreement`)."""

    entry_f1: float
    exit_f1: float
    precision: float
    recall: float
    pnl_correlation: float | None
    matched: int
    missed: int
    extra: int
    exits_matched: int
    real: int
    candidate: int

    @property
    def score(self) -> tuple[float, float]:
        """Ranking key: mean of the entry and exit F1, P/L correlation as the tie-breaker."""
        corr = self.pnl_correlation if self.pnl_correlation is not None else -1.0
        return (round((self.entry_f1 + self.exit_f1) / 2, 6), corr)

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry_f1": round(self.entry_f1, 4),
            "exit_f1": round(self.exit_f1, 4),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "pnl_correlation": None if self.pnl_correlation is None else round(self.pnl_correlation, 4),
            "matched": self.matched,
            "missed": self.missed,
            "extra": self.extra,
            "exits_matched": self.exits_matched,
            "real_trades": self.real,
            "inferred_trades": self.candidate,
        }


def f1(tp: int, n_pred: int, n_real: int) -> float:
    return 2.0 * tp / (n_pred + n_real) if n_pred + n_real else 0.0


def window(real: TradeBars, tol: int) -> tuple[int, int]:
    """The bars over which candidate trades are counted: the real trades' span widened by ``tol``."""
    return int(real.entry_bar.min()) - tol, int(max(real.exit_bar.max(), real.entry_bar.max())) + tol


def agreement(real: TradeBars, cand: TradeBars, tol: int) -> tuple[Agreement, np.ndarray]:
    """Entries of ``cand`` matched to ``real`` within ``tol`` bars on the same side (greedy in time
    order, one-to-one), exits likewise (independently); only candidate trades entering inside the real
    trades' span (:func:`window`) count. ``pnl_correlation``: Pearson correlation of ``ret`` over the
    entry-matched pairs (None with fewer than 3 pairs or no variance). Also returns, per real trade,
    the index of the matched candidate trade (-1 = missed)."""
    lo, hi = window(real, tol)
    inside = (cand.entry_bar >= lo) & (cand.entry_bar <= hi)
    ce, cs = cand.entry_bar[inside], cand.side[inside]
    pair = match_pairs(real.entry_bar, real.side, ce, cs, tol)
    matched = int((pair >= 0).sum())
    ro = np.argsort(real.exit_bar, kind="stable")
    cx = cand.exit_bar[inside]
    co = np.argsort(cx, kind="stable")
    xpair = match_pairs(real.exit_bar[ro], real.side[ro], cx[co], cs[co], tol)
    xm = int((xpair >= 0).sum())
    n_c = int(inside.sum())
    corr = None
    ok = pair >= 0
    if ok.sum() >= 3:
        a = real.ret[ok]
        b = cand.ret[inside][pair[ok]]
        good = np.isfinite(a) & np.isfinite(b)
        if good.sum() >= 3 and np.std(a[good]) > 0 and np.std(b[good]) > 0:
            corr = float(np.corrcoef(a[good], b[good])[0, 1])
            corr = corr if math.isfinite(corr) else None
    full_pair = np.full(real.n, -1, np.int64)
    full_idx = np.flatnonzero(inside)
    full_pair[ok] = full_idx[pair[ok]]
    return (
        Agreement(
            entry_f1=f1(matched, n_c, real.n),
            exit_f1=f1(xm, n_c, real.n),
            precision=matched / n_c if n_c else 0.0,
            recall=matched / real.n if real.n else 0.0,
            pnl_correlation=corr,
            matched=matched,
            missed=real.n - matched,
            extra=n_c - matched,
            exits_matched=xm,
            real=real.n,
            candidate=n_c,
        ),
        full_pair,
    )
