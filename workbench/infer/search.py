"""The bulk search: every combination of a strategy's grid scored against the real trades in one
parallel kernel pass (:mod:`workbench.infer._kernel`), then refined around the best points.

The rules are compiled and their indicator rows computed by the engine's own machinery (the same
``_compile``/``_RowCache`` a sweep uses: one row per distinct indicator for the whole grid) and
evaluated by the engine's rule kernel (``signals_kernel``), so a combination's signals here are its
signals in a sweep. The sweep kernel itself returns metrics only; the trades the search needs come
from walking the position on those signals without stops (entries and reversals at the next open,
exactly the engine's order logic). Stops, sizing and costs are left to the exact replays of the few
best candidates (:func:`workbench.backtest.run`), which give every figure that is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from workbench.backtest import engine as _engine
from workbench.backtest import get_strategy
from workbench.backtest.settings import DIRECTIONS
from workbench.backtest.spec import StrategySpec
from workbench.infer._kernel import score_kernel
from workbench.infer.space import coarse_grid, neighbours, refine_grid
from workbench.infer.trades import TradeBars, f1, window

__all__ = ["Scorer", "coarse_search", "search_strategy"]

SCORE_COLUMNS = ("matched", "entries", "exits_matched", "exits", "entry_f1", "exit_f1")


@dataclass
class Scorer:
    """Scores grids of one bar series against one set of real trades (bulk, approximate: no stops)."""

    bars: pl.DataFrame
    real: TradeBars
    tol: int
    direction: str
    evaluated: int = 0

    def __post_init__(self) -> None:
        self.b = _engine._prepare(self.bars)
        self.lo, self.hi = window(self.real, self.tol)
        xo = np.argsort(self.real.exit_bar, kind="stable")
        self._exit_b = np.ascontiguousarray(self.real.exit_bar[xo])
        self._exit_s = np.ascontiguousarray(self.real.side[xo])

    def score(self, spec: StrategySpec, grid: pl.DataFrame) -> pl.DataFrame:
        """``grid`` (one row per combination) with ``SCORE_COLUMNS``."""
        if grid.height == 0:
            return grid.with_columns(*(pl.lit(None, dtype=pl.Float64).alias(c) for c in SCORE_COLUMNS))
        names = [p.name for p in spec.params]
        frame = grid.select(names)
        keys, rules = _engine._compile(spec, frame)
        cache = _engine._RowCache(self.b.ohlc, len(keys))
        lookup = cache.slots_for(rules.rows(), keys)
        ci, cc, nc, rb = rules.chunk(0, frame.height, lookup)
        long_ok, short_ok = DIRECTIONS[self.direction]
        out = score_kernel(
            cache.matrix, ci, cc, nc, rb, long_ok, short_ok,
            self.real.entry_bar, self.real.side, self._exit_b, self._exit_s,
            self.tol, self.lo, self.hi,
        )  # fmt: skip
        self.evaluated += frame.height
        n_real = self.real.n
        ef1 = [f1(int(a), int(b), n_real) for a, b in zip(out[:, 0], out[:, 1], strict=True)]
        xf1 = [f1(int(a), int(b), n_real) for a, b in zip(out[:, 2], out[:, 3], strict=True)]
        return frame.with_columns(
            pl.Series("matched", out[:, 0]),
            pl.Series("entries", out[:, 1]),
            pl.Series("exits_matched", out[:, 2]),
            pl.Series("exits", out[:, 3]),
            pl.Series("entry_f1", ef1, dtype=pl.Float64),
            pl.Series("exit_f1", xf1, dtype=pl.Float64),
        )


def _best(scored: pl.DataFrame, k: int) -> pl.DataFrame:
    return scored.sort(["entry_f1", "exit_f1"], descending=True).head(k)


def _params(row: dict, spec: StrategySpec) -> dict[str, float]:
    return {p.name: row[p.name] for p in spec.params}


def coarse_search(scorer: Scorer, strategy: str | StrategySpec) -> pl.DataFrame:
    """The strategy's coarse grid scored, best first."""
    spec = get_strategy(strategy)
    return _best(scorer.score(spec, coarse_grid(spec)), 10**9)


def search_strategy(
    scorer: Scorer,
    strategy: str | StrategySpec,
    *,
    refine: int = 2,
    local_steps: int = 12,
    coarse: pl.DataFrame | None = None,
    progress: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """Coarse grid (or the ``coarse`` table already scored), then a finer grid around its ``refine``
    best points, then a local search (one and two resolution steps at a time) from the best until
    nothing improves. Returns every combination scored (unique), best first."""
    spec = get_strategy(strategy)
    if coarse is None:
        coarse = scorer.score(spec, coarse_grid(spec))
    scored = [coarse]
    for row in _best(coarse, refine).iter_rows(named=True):
        if row["entry_f1"] <= 0:
            continue
        scored.append(scorer.score(spec, refine_grid(spec, _params(row, spec))))
    table = _unique(spec, pl.concat(scored, how="vertical_relaxed"))
    best = _best(table, 1).row(0, named=True)
    for _ in range(local_steps):
        near = scorer.score(spec, neighbours(spec, _params(best, spec)))
        table = _unique(spec, pl.concat([table, near], how="vertical_relaxed"))
        top = _best(table, 1).row(0, named=True)
        if (top["entry_f1"], top["exit_f1"]) <= (best["entry_f1"], best["exit_f1"]):
            break
        best = top
    if progress is not None:
        progress(spec.name)
    return _best(table, table.height)


def _unique(spec: StrategySpec, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.unique(subset=[p.name for p in spec.params], maintain_order=True)
