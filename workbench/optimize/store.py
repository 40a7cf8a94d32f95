"""Writing optimisation runs to the workspace store: the ``optimizations`` row, one
``optimization_results`` row per trial/combination, and engine backtests (origin ``sweep``).

All writers take an open connection so a caller can put a whole run in one transaction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import duckdb
import polars as pl

from workbench.backtest import BacktestResult
from workbench.ingest.load import _json, write_backtest
from workbench.ingest.records import Parsed
from workbench.store import Q, utcnow

__all__ = ["clean", "insert_optimization", "insert_results", "results_frame", "store_backtest"]


def clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become ``None`` (JSON has no inf/NaN), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return clean(value.item())
    return value


def insert_optimization(
    con: duckdb.DuckDBPyConnection,
    *,
    name: str,
    source: str,
    origin: str,
    strategy: str,
    symbol: str,
    timeframe: str,
    bars: pl.DataFrame,
    cash: float,
    algo: str,
    objectives: Mapping[str, str],
    meta: Mapping[str, Any],
    deflated_sharpe: float | None = None,
    pbo: float | None = None,
) -> int:
    """Insert the ``optimizations`` row; returns its id (from the shared object id sequence).
    ``deflated_sharpe``/``pbo``: the overfitting checks (:mod:`workbench.optimize.overfit`)."""
    oid = int(con.execute(Q.next_object_id).fetchall()[0][0])
    con.execute(
        Q.insert_optimization,
        [
            oid,
            name,
            source,
            origin,
            "workbench",
            strategy,
            symbol,
            timeframe,
            bars["ts"].min(),
            bars["ts"].max(),
            float(cash),
            None,
            algo,
            _json(dict(objectives)),
            _json(clean(dict(meta))),
            None,
            utcnow(),
            clean(deflated_sharpe),
            clean(pbo),
        ],
    )
    return oid


def _finite_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    return pl.when(col.is_finite()).then(col).otherwise(None).alias(name) if dtype.is_float() else col


def results_frame(
    oid: int,
    rows: pl.DataFrame,
    *,
    params: list[str],
    objectives: list[str],
    metrics: list[str],
    trial_offset: int,
    rank: pl.Series | None = None,
    fold: int | None = None,
) -> pl.DataFrame:
    """``rows`` (param columns + metric columns) as ``optimization_results`` rows; non-finite -> null."""
    safe = rows.with_columns(_finite_expr(c, rows.schema[c]) for c in rows.columns)
    return safe.select(
        pl.lit(oid, dtype=pl.Int64).alias("optimization_id"),
        (pl.int_range(1, pl.len() + 1, dtype=pl.Int64) + trial_offset).alias("trial"),
        pl.struct(params).struct.json_encode().alias("parameters"),
        pl.struct(objectives).struct.json_encode().alias("objectives"),
        pl.struct(metrics).struct.json_encode().alias("metrics"),
        (rank.cast(pl.Int32) if rank is not None else pl.lit(None, dtype=pl.Int32)).alias("rank"),
        pl.lit(fold, dtype=pl.Int32).alias("fold"),
    )


def insert_results(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> int:
    con.register("frame", frame)
    try:
        con.execute(Q.insert_optimization_results_from_frame)
    finally:
        con.unregister("frame")
    return frame.height


def store_backtest(
    con: duckdb.DuckDBPyConnection,
    result: BacktestResult,
    *,
    name: str,
    symbol: str,
    timeframe: str,
    meta: Mapping[str, Any] | None = None,
) -> int:
    """Store one engine backtest (origin ``sweep``) with its trades and parameters; returns its id.

    The summary columns are :func:`workbench.analytics.compute_metrics` of the stored trades, as for
    an ingested export, so ``workbench metrics ID`` reads back the same figures (its ``sharpe_ratio`` is
    the closed-trade-balance Sharpe of docs/analytics.md). The engine's own metrics (``sharpe`` and
    ``sortino`` of the marked-to-market equity) are kept in ``meta.engine_metrics`` with
    ``meta.annualization`` saying how they were annualised.
    """
    bid = int(con.execute(Q.next_object_id).fetchall()[0][0])
    settings = {k: (str(v) if k == "size" else v) for k, v in result.settings.items()}
    parsed = Parsed(
        format="workbench",
        kind="backtest",
        name=name,
        platform="workbench",
        strategy=result.strategy,
        symbol=symbol,
        timeframe=timeframe,
        initial_balance=float(result.settings["cash"]),
        start=result.equity["ts"].min(),
        end=result.equity["ts"].max(),
        parameters=clean(result.params),
        trades=result.to_trades(symbol=symbol),
        meta=clean(
            {
                "engine_metrics": result.metrics,
                "annualization": result.annualization.to_dict(),  # of engine_metrics' sharpe/sortino
                "settings": settings,
                **dict(meta or {}),
            }
        ),
    )
    write_backtest(con, bid, parsed, f"sweep:{result.strategy}", None, origin="sweep")
    return bid
