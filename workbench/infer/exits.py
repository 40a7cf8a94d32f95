"""Why each real trade ended, and the stop-loss / take-profit / time-exit rules that explain it.

Every real exit is classified from prices and timing alone, relative to the entry rule found:

* ``signal`` — the inferred rule itself closes (or reverses) a position on the same side within ``tol``
  bars of the real exit;
* ``time`` — not a signal exit, and held for the same number of bars as most other such exits;
* ``stop_loss`` / ``take_profit`` — not a signal exit, ended with a loss / a profit (price move against
  / in favour of the trade);
* ``unknown`` — no price move to tell.

Each carries its distance from the entry in price, in % of the entry and in ATR(14) at the signal bar
(the bar before the entry, where the engine measures an ATR stop) and its bars held. The file's own
label (MetaTrader's ``s/l``/``t/p`` comments, the engine's exit reasons) is kept beside it as ``stated``
and never used to classify: how often the two agree is reported as a measurement.

A stop rule is estimated per unit (price, %, ATR) from the distances of the exits of its class (or from
the stated stop levels when the file has them): the unit whose distances vary least (interquartile range
over median) wins, its median is the first estimate, and the caller refines it by replaying.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.backtest.indicators import atr
from workbench.infer._kernel import match_pairs
from workbench.infer.trades import TradeBars

__all__ = ["ExitClass", "classify_exits", "estimate_stop", "format_stop", "STATED"]

# the file's own exit labels -> class (MetaTrader comments, the engine's exit reasons)
STATED = {
    "s/l": "stop_loss",
    "sl": "stop_loss",
    "stop_loss": "stop_loss",
    "stop loss": "stop_loss",
    "trailing_stop": "stop_loss",
    "t/p": "take_profit",
    "tp": "take_profit",
    "take_profit": "take_profit",
    "take profit": "take_profit",
    "signal": "signal",
}


def _stated(text: str) -> str | None:
    t = (text or "").strip().lower()
    for key, cls in STATED.items():
        if t == key or t.startswith(key + " ") or f"[{key}]" in t:
            return cls
    return None


@dataclass(frozen=True)
class ExitClass:
    """The classification of every real exit (arrays in the order of the real trades)."""

    kind: list[str]
    bars_held: np.ndarray
    move_price: np.ndarray  # exit - entry in the trade's favour (negative: a loss)
    move_pct: np.ndarray
    move_atr: np.ndarray
    stated: list[str | None]
    time_bars: int | None  # the time exit's holding period, when there is one

    def summary(self) -> dict[str, Any]:
        counts = Counter(self.kind)
        both = [(k, s) for k, s in zip(self.kind, self.stated, strict=True) if s is not None]
        agree = sum(k == s for k, s in both)
        return {
            "counts": {
                k: counts.get(k, 0) for k in ("signal", "stop_loss", "take_profit", "time", "unknown")
            },
            "time_exit_bars": self.time_bars,
            "stated_labels": len(both),
            "agree_with_stated": round(agree / len(both), 4) if both else None,
        }

    def rows(self) -> list[dict[str, Any]]:
        def r(x: float, d: int) -> float | None:
            return round(float(x), d) if np.isfinite(x) else None

        return [
            {
                "trade": i + 1,
                "exit": self.kind[i],
                "stated": self.stated[i],
                "bars_held": int(self.bars_held[i]),
                "move_price": r(self.move_price[i], 6),
                "move_pct": r(self.move_pct[i], 4),
                "move_atr": r(self.move_atr[i], 3),
            }
            for i in range(len(self.kind))
        ]


def signal_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int = 14) -> np.ndarray:
    return atr(high, low, close, window)


def classify_exits(
    real: TradeBars,
    signal_exits: TradeBars | None,
    atr_: np.ndarray,
    tol: int,
    open_: np.ndarray | None = None,
) -> ExitClass:
    """Classify every real exit (module docstring); ``signal_exits``: the replay of the entry rule
    without stops (its exits are the rule's own), None when there is no rule. With the bars' opens
    (``open_``), an exit timed like a signal exit but filled away from its bar's open (more than 0.1 ATR)
    is not taken for one: a stop hit inside the bar whose close also gave the signal."""
    n = real.n
    signal = np.zeros(n, bool)
    if signal_exits is not None and signal_exits.n:
        ro = np.argsort(real.exit_bar, kind="stable")
        co = np.argsort(signal_exits.exit_bar, kind="stable")
        pair = match_pairs(
            real.exit_bar[ro], real.side[ro], signal_exits.exit_bar[co], signal_exits.side[co], tol
        )
        signal[ro[pair >= 0]] = True
        if open_ is not None:
            u = atr_[np.clip(real.exit_bar - 1, 0, atr_.shape[0] - 1)]
            gap = np.abs(real.exit_price - open_[real.exit_bar])
            signal &= ~(gap > 0.1 * np.where(np.isfinite(u), u, np.inf))
    held = real.exit_bar - real.entry_bar
    move = real.side * (real.exit_price - real.entry_price)
    pct = move / real.entry_price * 100.0
    unit = atr_[np.clip(real.entry_bar - 1, 0, atr_.shape[0] - 1)]
    move_atr = np.where(unit > 0, move / np.where(unit > 0, unit, 1.0), np.nan)
    kind = ["signal" if s else "" for s in signal]
    rest = np.flatnonzero(~signal)
    time_bars = None
    if rest.size >= 3:
        value, count = Counter(held[rest].tolist()).most_common(1)[0]
        if count >= max(3, 0.6 * rest.size) and value > 0:
            time_bars = int(value)
    for i in rest:
        if time_bars is not None and held[i] == time_bars:
            kind[i] = "time"
        elif move[i] < 0:
            kind[i] = "stop_loss"
        elif move[i] > 0:
            kind[i] = "take_profit"
        else:
            kind[i] = "unknown"
    return ExitClass(kind, held, move, pct, move_atr, [_stated(s) for s in real.stated], time_bars)


def estimate_stop(
    real: TradeBars, exits: ExitClass, which: str, atr_: np.ndarray
) -> list[tuple[str, float, float]]:
    """Estimates of the ``which`` (``stop_loss`` or ``take_profit``) rule: ``(unit, value, spread)`` per
    unit (``price``, ``pct``, ``atr``), least dispersed first; empty when fewer than 2 exits of the
    class. Stated levels (the file's S/L or T/P column) are used where present."""
    level = real.stop_loss if which == "stop_loss" else real.take_profit
    stated = np.isfinite(level) & (level > 0)
    if stated.sum() >= 2:
        idx = np.flatnonzero(stated)
        dist = np.abs(level[idx] - real.entry_price[idx])
    else:
        idx = np.array([i for i, k in enumerate(exits.kind) if k == which], dtype=np.int64)
        if idx.size < 2:
            return []
        dist = np.abs(exits.move_price[idx])
    unit = atr_[np.clip(real.entry_bar[idx] - 1, 0, atr_.shape[0] - 1)]
    candidates = {
        "price": dist,
        "pct": dist / real.entry_price[idx] * 100.0,
        "atr": np.where(unit > 0, dist / np.where(unit > 0, unit, 1.0), np.nan),
    }
    out = []
    for name, vals in candidates.items():
        v = vals[np.isfinite(vals) & (vals > 0)]
        if v.size < 2:
            continue
        q1, med, q3 = np.percentile(v, [25, 50, 75])
        out.append((name, float(med), float((q3 - q1) / med) if med > 0 else float("inf")))
    return sorted(out, key=lambda t: t[2])


def format_stop(unit: str, value: float, pip: float | None = None) -> str:
    """A stop as the engine's settings write it: ``0.0021`` (price), ``0.35%``, ``1.75atr``."""
    if unit == "pct":
        return f"{round(value, 3):g}%"
    if unit == "atr":
        return f"{round(value, 2):g}atr"
    digits = 6
    if pip:
        digits = max(0, int(round(-np.log10(pip))) + 1)
    return f"{round(value, digits):.{digits}f}".rstrip("0").rstrip(".")
