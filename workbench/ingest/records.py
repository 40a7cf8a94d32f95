"""The normalised records every parser produces: one frozen :class:`Parsed` per file.

A parser turns the bytes of one export into a ``Parsed``; it never touches the store.
Frames use the exact schemas below (``conform`` casts and orders columns), so the
loader, the validator and the analytics can rely on names, types and units:

* times are naive UTC-less wall-clock ``Datetime("us")`` as the platform printed them
  (the platform's timezone, when the file states one, is kept in ``meta["timezone"]``);
* money is in the account currency; ``net_profit = profit + commission + swap``;
* ``direction`` is ``"long"`` or ``"short"``; ``volume`` is in lots (MetaTrader) or units
  (cTrader), as printed — ``meta["volume_unit"]`` says which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import polars as pl

__all__ = [
    "TRADES_SCHEMA",
    "CASH_FLOWS_SCHEMA",
    "BARS_SCHEMA",
    "STATED_KEYS",
    "Kind",
    "Parsed",
    "conform",
    "empty",
]

Kind = Literal["backtest", "parameters", "optimization", "bars"]

TRADES_SCHEMA: dict[str, pl.DataType] = {
    "trade_id": pl.Utf8,  # the platform's ticket / position id, as text
    "open_time": pl.Datetime("us"),
    "close_time": pl.Datetime("us"),
    "symbol": pl.Utf8,
    "direction": pl.Utf8,  # "long" | "short"
    "volume": pl.Float64,
    "entry_price": pl.Float64,
    "exit_price": pl.Float64,
    "stop_loss": pl.Float64,
    "take_profit": pl.Float64,
    "commission": pl.Float64,
    "swap": pl.Float64,
    "profit": pl.Float64,  # gross: before commission and swap
    "net_profit": pl.Float64,  # profit + commission + swap
    "pips": pl.Float64,
    "comment": pl.Utf8,
}

# Deposits, withdrawals, balance adjustments, credit: money that is not trading result.
CASH_FLOWS_SCHEMA: dict[str, pl.DataType] = {
    "time": pl.Datetime("us"),
    "amount": pl.Float64,
    "kind": pl.Utf8,  # "deposit" | "withdrawal" | "adjustment" | "credit"
    "comment": pl.Utf8,
}

BARS_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.Utf8,
    "timeframe": pl.Utf8,
    "ts": pl.Datetime("us"),
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Float64,
}

# Totals a report states about itself; the validator checks the trades reproduce them.
STATED_KEYS = frozenset(
    {
        "net_profit",  # sum of net_profit over trades
        "gross_profit",  # sum of net_profit over winning trades
        "gross_loss",  # sum of net_profit over losing trades (negative)
        "total_trades",
        "winning_trades",
        "losing_trades",
        "profit_factor",
        "initial_balance",
        "final_balance",  # initial + cash flows + net profit (closed trades)
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Parsed:
    """Everything one file says, normalised. Only ``format``/``kind``/``name`` are required."""

    format: str  # registry name of the parser, e.g. "mt4_tester_html"
    kind: Kind
    name: str  # human name: strategy/EA + symbol + period, or the file stem
    platform: str = ""  # "mt4" | "mt5" | "ctrader" | "csv" | ...
    strategy: str | None = None  # EA / cBot name
    symbol: str | None = None  # main symbol (None for multi-symbol statements)
    timeframe: str | None = None  # as printed, normalised lower-case: "m5", "h1", "d1"
    currency: str | None = None
    initial_balance: float | None = None
    start: datetime | None = None
    end: datetime | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)  # inputs: name -> bool/int/float/str
    trades: pl.DataFrame | None = None  # TRADES_SCHEMA, closed trades only
    cash_flows: pl.DataFrame | None = None  # CASH_FLOWS_SCHEMA
    passes: pl.DataFrame | None = None  # optimisation: one row per pass, metrics + one column per input
    bars: pl.DataFrame | None = None  # BARS_SCHEMA
    stated: Mapping[str, float] = field(default_factory=dict)  # keys from STATED_KEYS
    meta: Mapping[str, Any] = field(default_factory=dict)  # broker, build, timezone, model, ...
    # What the platform itself would print, recomputed from the file's rows under its own convention
    # (e.g. MT5 gross profit per deal): keys from STATED_KEYS. Reconciliation compares ``stated`` with
    # these where present, else with the per-position totals of ``trades``.
    platform_figures: Mapping[str, float] = field(default_factory=dict)
    convention: str | None = None  # e.g. "mt5 per deal", "mt4 per order close"
    # Platform quirks worth telling the user (one line each); the file is still stored.
    warnings: tuple[str, ...] = ()
    # Rows the platform wrote that break an invariant: {"row": trade_id, "what": "..."}; kept, flagged,
    # left out of the statistics they would falsify (e.g. a trade closing before it opens: durations).
    anomalies: tuple[Mapping[str, Any], ...] = ()


def conform(frame: pl.DataFrame | list[dict[str, Any]], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """``frame`` with exactly ``schema``'s columns, in order and cast (missing ones null)."""
    if not isinstance(frame, pl.DataFrame):
        frame = pl.DataFrame(frame, infer_schema_length=None) if frame else pl.DataFrame()
    cols = []
    for name, dtype in schema.items():
        if name in frame.columns:
            cols.append(pl.col(name).cast(dtype, strict=True))
        else:
            cols.append(pl.lit(None, dtype=dtype).alias(name))
    if frame.width == 0:
        return empty(schema)
    return frame.select(cols)


def empty(schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(schema))
