"""Where the search looks: a coarse grid per strategy, a finer grid around a point, its neighbours.

``SPACES`` holds, per library strategy, the span of each parameter a bot plausibly uses (narrower than
the parameter's legal range: an SMA of 2..400 bars, an RSI threshold of 5..95) and the resolution the
search ends at (1 bar, 1 RSI point, 0.05 band widths). A strategy added to the library later without an
entry here gets a span derived from its parameter's default (a quarter to four times it, clipped to
the legal range). The coarse grid is geometric for window lengths (as many short windows as long
ones) and linear for thresholds; the refinement fills in every value at the final resolution between
the coarse neighbours of a good point; the local search steps one resolution unit at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from workbench.backtest import get_strategy
from workbench.backtest.spec import Param, StrategySpec, valid_mask

__all__ = ["Span", "SPACES", "span_of", "coarse_grid", "refine_grid", "neighbours"]


@dataclass(frozen=True)
class Span:
    """Search span of one parameter: ``low..high``, ``coarse`` values in the coarse grid, ``step`` the
    final resolution, ``geometric`` spacing (windows) or linear (thresholds)."""

    low: float
    high: float
    coarse: int
    step: float
    geometric: bool


def _w(low: int, high: int, coarse: int = 14) -> Span:
    return Span(low, high, coarse, 1, True)


SPACES: dict[str, dict[str, Span]] = {
    "sma_cross": {"fast": _w(2, 100), "slow": _w(5, 400, 16)},
    "ema_cross": {"fast": _w(2, 100), "slow": _w(5, 400, 16)},
    "macd": {"fast": _w(2, 50, 10), "slow": _w(5, 150, 12), "signal": _w(2, 50, 9)},
    "rsi_reversion": {
        "window": _w(2, 50, 12),
        "lower": Span(5, 45, 9, 1, False),
        "upper": Span(55, 95, 9, 1, False),
    },
    "bollinger_breakout": {"window": _w(5, 200, 14), "k": Span(0.5, 4.0, 15, 0.05, False)},
    "donchian_breakout": {"entry": _w(5, 200, 14), "exit": _w(2, 100, 12)},
}


def span_of(spec: StrategySpec, p: Param) -> Span:
    """The search span of parameter ``p`` of ``spec`` (``SPACES``, else derived from its default)."""
    known = SPACES.get(spec.name, {}).get(p.name)
    if known is not None:
        return known
    lo, hi = p.range
    d = float(p.default)
    if p.type is int:
        if d < 2:  # not a window length: every value of a short range, else a linear one
            return Span(lo, min(hi, lo + 20), 12, 1, False)
        return Span(max(lo, math.floor(d / 4) or 1), min(hi, math.ceil(d * 4)), 12, 1, True)
    width = abs(d) if d else 1.0
    return Span(max(lo, d - width), min(hi, d + width), 11, width / 50, False)


def _values(span: Span, is_int: bool) -> list[float]:
    if span.geometric:
        raw = np.geomspace(max(span.low, 1e-9), span.high, span.coarse)
    else:
        raw = np.linspace(span.low, span.high, span.coarse)
    return sorted({_snap(v, span, is_int) for v in raw})


def _snap(v: float, span: Span, is_int: bool) -> float:
    """``v`` on the span's resolution grid, clipped into the span."""
    v = min(max(v, span.low), span.high)
    if is_int:
        return int(round(v))
    steps = round((v - span.low) / span.step)
    return round(span.low + steps * span.step, 10)


def _frame(spec: StrategySpec, columns: dict[str, list[float]]) -> pl.DataFrame:
    """The valid cross product of ``columns`` (the strategy's constraint applied, ranges respected)."""
    frame: pl.DataFrame | None = None
    for p in spec.params:
        vals = [v for v in columns[p.name] if p.range[0] <= v <= p.range[1]]
        col = pl.DataFrame({p.name: pl.Series(vals, dtype=pl.Int64 if p.type is int else pl.Float64)})
        frame = col if frame is None else frame.join(col, how="cross")
    assert frame is not None
    return frame.filter(valid_mask(spec, frame)) if frame.height else frame


def coarse_grid(strategy: str | StrategySpec) -> pl.DataFrame:
    """The coarse grid of ``strategy`` (one row per valid combination)."""
    spec = get_strategy(strategy)
    return _frame(spec, {p.name: _values(span_of(spec, p), p.type is int) for p in spec.params})


def refine_grid(
    strategy: str | StrategySpec, point: dict[str, float], *, cells: int = 1, budget: int = 1500
) -> pl.DataFrame:
    """Every value at the final resolution between the coarse-grid neighbours of ``point`` (``cells``
    coarse cells either side), thinned evenly so that the grid holds at most about ``budget``
    combinations (the local search then reaches the values thinned out)."""
    spec = get_strategy(strategy)
    per_param = max(3, int(budget ** (1 / len(spec.params))))
    columns: dict[str, list[float]] = {}
    for p in spec.params:
        span = span_of(spec, p)
        is_int = p.type is int
        coarse = _values(span, is_int)
        v = point[p.name]
        i = int(np.searchsorted(coarse, v))
        lo = coarse[max(0, i - cells)]
        hi = coarse[min(len(coarse) - 1, i + cells)]
        lo, hi = min(lo, v), max(hi, v)
        count = int(round((hi - lo) / span.step)) + 1
        if count > per_param:
            vals = [_snap(x, span, is_int) for x in np.linspace(lo, hi, per_param)]
        else:
            vals = [_snap(lo + s * span.step, span, is_int) for s in range(count)]
        columns[p.name] = sorted(set(vals) | {v})
    return _frame(spec, columns)


def neighbours(strategy: str | StrategySpec, point: dict[str, float], *, reach: int = 2) -> pl.DataFrame:
    """``point`` and every combination one to ``reach`` resolution steps away in one or two parameters."""
    spec = get_strategy(strategy)
    moves: list[dict[str, float]] = [dict(point)]
    names = [p.name for p in spec.params]
    steps = {p.name: span_of(spec, p).step for p in spec.params}
    deltas = [d for d in range(-reach, reach + 1) if d]
    for a_i, a in enumerate(names):
        for da in deltas:
            moves.append({**point, a: point[a] + da * steps[a]})
            for b in names[a_i + 1 :]:
                for db in (-1, 1):
                    moves.append({**point, a: point[a] + da * steps[a], b: point[b] + db * steps[b]})
    columns = {n: [m[n] for m in moves] for n in names}
    frame = pl.DataFrame(
        {
            p.name: pl.Series(
                [int(round(v)) if p.type is int else round(v, 10) for v in columns[p.name]],
                dtype=pl.Int64 if p.type is int else pl.Float64,
            )
            for p in spec.params
        }
    )
    ok = pl.lit(True)
    for p in spec.params:
        ok = ok & pl.col(p.name).is_between(p.range[0], p.range[1])
    frame = frame.filter(ok).unique(maintain_order=True)
    return frame.filter(valid_mask(spec, frame)) if frame.height else frame
