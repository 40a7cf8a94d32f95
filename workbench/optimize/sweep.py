"""Grid sweeps stored in the workspace: every combination's metrics plus the best one as a backtest."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from workbench.backtest import METRICS, EngineSettings, annualization, get_strategy, iter_sweep, run
from workbench.errors import ConfigError
from workbench.optimize.overfit import assess, cscv_blocks
from workbench.optimize.pareto import ranks_by
from workbench.optimize.store import clean, insert_optimization, insert_results, results_frame, store_backtest

__all__ = ["SweepOutcome", "run_sweep", "DIRECTIONS"]

# Sort direction of each metric when it ranks a sweep ("max" = larger is better).
DIRECTIONS: dict[str, str] = {
    "total_return_pct": "max",
    "sharpe": "max",
    "sortino": "max",
    "max_drawdown_pct": "min",
    "trades": "max",
    "win_rate": "max",
    "profit_factor": "max",
    "final_equity": "max",
}


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    optimization_id: int
    backtest_ids: tuple[int, ...]
    combos: int
    best_params: dict[str, Any]
    best_metrics: dict[str, Any]
    seconds: float
    overfitting: dict[str, Any] | None = None  # deflated Sharpe + PBO (workbench.optimize.overfit)
    annualization: dict[str, Any] | None = None  # how sharpe/sortino are annualised on these bars
    settings: dict[str, Any] | None = None  # every engine setting, as written (EngineSettings.to_dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimization_id": self.optimization_id,
            "backtest_ids": list(self.backtest_ids),
            "combos": self.combos,
            "best": {"params": self.best_params, "metrics": self.best_metrics},
            "seconds": round(self.seconds, 3),
            "overfitting": self.overfitting,
            "annualization": self.annualization,
            "settings": self.settings,
        }


def run_sweep(
    ws: Any,
    strategy: str,
    data: str,
    grid: Mapping[str, Sequence[Any]],
    *,
    fill: str = "next_open",
    direction: str = "long",
    commission: Any = 0.0,
    spread: Any = 0.0,
    slippage: Any = 0.0,
    size: Any = "100%",
    stop_loss: Any = None,
    take_profit: Any = None,
    trailing_stop: Any = None,
    contract: Any = None,
    cash: float = 10_000,
    rank_by: str = "total_return_pct",
    chunk_size: int = 10_000,
    progress: Callable[[int, int], None] | None = None,
    bars: pl.DataFrame | None = None,
) -> SweepOutcome:
    """Sweep ``grid`` over the bars ``data`` (``SYMBOL:TF``) and store it in one transaction.

    Stores one ``optimizations`` row (origin ``sweep``, algo ``grid``; ``meta.annualization`` states how
    ``sharpe``/``sortino`` are annualised on these bars), one ``optimization_results`` row per valid
    combination (evaluated chunk by chunk with :func:`iter_sweep`; ``rank`` = position by ``rank_by``
    with :func:`workbench.optimize.pareto.ranks_by`: ``+inf`` first when maximised, e.g. a profit factor
    without a losing trade, nulls last, ties by combination order), and re-runs the best combination
    with :func:`workbench.backtest.run` to store it as a full backtest with its trades. The ranking
    keeps every combination's parameters and metrics in memory (about 8 bytes per column per
    combination) until it is stored: the stored JSON has no infinity (``+inf`` is written as null), so
    the rank is computed from the engine's values before they are stored. The overfitting checks
    (:func:`workbench.optimize.overfit.assess`: deflated Sharpe ratio of the best combination, PBO by
    CSCV over every combination's block moments) go into the row's ``deflated_sharpe``/``pbo`` columns
    and ``meta.overfitting``.

    The engine settings (``direction``, ``commission``, ``spread``, ``slippage``, ``size``, ``stop_loss``,
    ``take_profit``, ``trailing_stop``, ``contract``, ``fill``, ``cash``) are written as on the command
    line (:mod:`workbench.backtest.settings`); the contract defaults to ``data``'s symbol's. They are
    checked before anything runs, echoed in the outcome's ``settings`` and stored in the optimisation's
    ``meta`` (top level, as before) and in the best backtest's ``meta.settings``.

    ``progress(done, total)`` is called with the combinations evaluated so far while the sweep runs
    (every 0.1 s and after each chunk: :func:`workbench.backtest.iter_sweep`); the best combination's
    run, the checks and the store follow (a small share of the time).

    ``bars``: the frame to sweep instead of the stored bars of ``data`` (which still names them): the
    stored bars with per-bar columns added, e.g. a model's predictions for the ``model`` strategy
    (:func:`workbench.ml.signal.signal_bars`).
    """
    if rank_by not in DIRECTIONS:
        raise ConfigError(f"--rank-by {rank_by!r} is unknown (known: {', '.join(DIRECTIONS)})")
    t0 = time.perf_counter()
    spec = get_strategy(strategy)
    bars = ws.bars(data) if bars is None else bars
    symbol, _, tf = data.partition(":")
    chosen = EngineSettings.build(
        fill=fill,
        direction=direction,
        commission=commission,
        spread=spread,
        slippage=slippage,
        size=size,
        stop_loss=stop_loss,
        take_profit=take_profit,
        trailing_stop=trailing_stop,
        contract=contract,
        cash=cash,
        symbol=symbol,
    )
    chosen.check_grid(grid)
    engine = chosen.to_dict()
    blocks = cscv_blocks(bars)
    chunks = iter_sweep(bars, spec, grid, chunk_size=chunk_size, blocks=blocks, progress=progress, **engine)
    first = next(chunks)  # raises before anything is written when the grid or settings are bad
    ann = annualization(bars).to_dict()
    params = [c for c in first.columns if c not in METRICS and c != "block_moments"]
    tables: list[pl.DataFrame] = []  # params + metrics of every combination, ranked before storing
    trials: list[pl.DataFrame] = []  # sharpe (+ block moments) of every combination, for the PBO
    for chunk in itertools.chain([first], chunks):
        tables.append(chunk.select(*params, *METRICS))
        trials.append(chunk.select(c for c in ("sharpe", "block_moments") if c in chunk.columns))
    table = pl.concat(tables)
    ranks = ranks_by(table[rank_by].cast(pl.Float64).fill_null(float("nan")).to_numpy(), DIRECTIONS[rank_by])
    best_i = int(ranks.argmin())
    best = table.row(best_i, named=True)
    best_params = {p: best[p] for p in params}
    best_metrics = clean({m: best[m] for m in METRICS})
    result = run(bars, spec, best_params, **engine)
    check = assess(pl.concat(trials), best_i, result.equity)  # the run stored just below
    overfit = check.to_dict() if check else {}
    with ws.store.transaction() as con:
        oid = insert_optimization(
            con,
            name=f"sweep {spec.name} {data}",
            source=f"sweep:{spec.name}",
            origin="sweep",
            strategy=spec.name,
            symbol=symbol,
            timeframe=tf,
            bars=bars,
            cash=cash,
            algo="grid",
            objectives={rank_by: DIRECTIONS[rank_by]},
            meta={"grid": dict(grid), **engine, "annualization": ann, "overfitting": overfit},
            deflated_sharpe=overfit.get("deflated_sharpe"),
            pbo=overfit.get("pbo"),
        )
        combos = 0
        for part in tables:
            frame = results_frame(
                oid,
                part,
                params=params,
                objectives=[rank_by],
                metrics=list(METRICS),
                trial_offset=combos,
                rank=pl.Series("rank", ranks[combos : combos + part.height]),
            )
            combos += insert_results(con, frame)
        bid = store_backtest(
            con,
            result,
            name=f"{spec.name} {' '.join(f'{k}={v}' for k, v in best_params.items())} {data} (best of sweep)",
            symbol=symbol,
            timeframe=tf,
            meta={"optimization_id": oid, "trial": best_i + 1},
        )
    return SweepOutcome(
        oid, (bid,), combos, best_params, best_metrics, time.perf_counter() - t0, overfit or None, ann, engine
    )
