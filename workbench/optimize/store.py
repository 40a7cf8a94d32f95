"""Writing optimisation runs to the workspace store: the ``optimizations`` row, one
``optimization_results`` row per trial/combination, and engine backtests (origin ``sweep``).

All writers take an open connection so a caller can put a whole run in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb
import polars as pl

from workbench.backtest.store import clean, store_backtest
from workbench.ingest.load import _json
from workbench.store import Q, utcnow

__all__ = ["clean", "insert_optimization", "insert_results", "results_frame", "store_backtest"]


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
