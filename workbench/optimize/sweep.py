"""Grid sweeps stored in the workspace: every combination's metrics plus the best one as a backtest."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from workbench.backtest import METRICS, get_strategy, iter_sweep, run
from workbench.errors import ConfigError
from workbench.optimize.overfit import assess, cscv_blocks
from workbench.optimize.store import insert_optimization, insert_results, results_frame, store_backtest
from workbench.store import Q

__all__ = ["SweepOutcome", "run_sweep", "DIRECTIONS"]

# Sort direction of each metric when it ranks a sweep ("max" = larger is better).
DIRECTIONS: dict[str, str] = {
    "total_return_pct": "max",
    "sharpe": "max",
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimization_id": self.optimization_id,
            "backtest_ids": list(self.backtest_ids),
            "combos": self.combos,
            "best": {"params": self.best_params, "metrics": self.best_metrics},
            "seconds": round(self.seconds, 3),
            "overfitting": self.overfitting,
        }


def run_sweep(
    ws: Any,
    strategy: str,
    data: str,
    grid: Mapping[str, Sequence[Any]],
    *,
    fill: str = "next_open",
    commission: float = 0.0,
    cash: float = 10_000,
    rank_by: str = "total_return_pct",
    chunk_size: int = 10_000,
) -> SweepOutcome:
    """Sweep ``grid`` over the bars ``data`` (``SYMBOL:TF``) and store it in one transaction.

    Stores one ``optimizations`` row (origin ``sweep``, algo ``grid``), one ``optimization_results`` row
    per valid combination (streamed chunk by chunk from :func:`iter_sweep`; ``rank`` = position by
    ``rank_by``, nulls last, ties by combination order), and re-runs the best combination with
    :func:`workbench.backtest.run` to store it as a full backtest with its trades. The overfitting checks
    (:func:`workbench.optimize.overfit.assess`: deflated Sharpe ratio of the best combination, PBO by
    CSCV over every combination's block moments) go into the row's ``deflated_sharpe``/``pbo`` columns
    and ``meta.overfitting``.
    """
    if rank_by not in DIRECTIONS:
        raise ConfigError(f"--rank-by {rank_by!r} is unknown (known: {', '.join(DIRECTIONS)})")
    t0 = time.perf_counter()
    spec = get_strategy(strategy)
    bars = ws.bars(data)
    symbol, _, tf = data.partition(":")
    engine = {"fill": fill, "commission": commission, "cash": cash}
    blocks = cscv_blocks(bars)
    chunks = iter_sweep(bars, spec, grid, chunk_size=chunk_size, blocks=blocks, **engine)
    first = next(chunks)  # raises before anything is written when the grid or settings are bad
    params = [c for c in first.columns if c not in METRICS and c != "block_moments"]
    trials: list[pl.DataFrame] = []  # sharpe (+ block moments) of every combination, for the PBO
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
            meta={"grid": dict(grid), **engine},
        )
        combos = 0
        for chunk in itertools.chain([first], chunks):
            frame = results_frame(
                oid, chunk, params=params, objectives=[rank_by], metrics=list(METRICS), trial_offset=combos
            )
            combos += insert_results(con, frame)
            trials.append(chunk.select(c for c in ("sharpe", "block_moments") if c in chunk.columns))
        sign = 1.0 if DIRECTIONS[rank_by] == "max" else -1.0
        con.execute(Q.optimize_rank_results, [oid, f"$.{rank_by}", sign])
        row = con.execute(Q.optimize_best_result, [oid]).fetchall()[0]
        best_params = json.loads(row[1])
        best_metrics = json.loads(row[3])
        result = run(bars, spec, best_params, **engine)
        check = assess(pl.concat(trials), int(row[0]) - 1, result.equity)  # the run stored just below
        overfit = check.to_dict() if check else {}
        con.execute(
            Q.set_optimization_overfitting,
            [oid, overfit.get("deflated_sharpe"), overfit.get("pbo"), json.dumps({"overfitting": overfit})],
        )
        bid = store_backtest(
            con,
            result,
            name=f"{spec.name} {' '.join(f'{k}={v}' for k, v in best_params.items())} {data} (best of sweep)",
            symbol=symbol,
            timeframe=tf,
            meta={"optimization_id": oid, "trial": row[0]},
        )
    return SweepOutcome(
        oid, (bid,), combos, best_params, best_metrics, time.perf_counter() - t0, overfit or None
    )
