"""Storing one engine backtest (origin ``sweep``) in the workspace: its row, trades and parameters.

Shared by every room that keeps an engine run — sweeps and optimisations (:mod:`workbench.optimize.store`),
inferred replays (:mod:`workbench.infer`), ML signal backtests — so all are stored and read back alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import duckdb

from workbench.backtest.engine import BacktestResult
from workbench.ingest.load import write_backtest
from workbench.ingest.records import Parsed
from workbench.store import Q

__all__ = ["clean", "store_backtest"]


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


def store_backtest(
    con: duckdb.DuckDBPyConnection,
    result: BacktestResult,
    *,
    name: str,
    symbol: str,
    timeframe: str,
    meta: Mapping[str, Any] | None = None,
    source: str | None = None,
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
    write_backtest(con, bid, parsed, source or f"sweep:{result.strategy}", None, origin="sweep")
    return bid
