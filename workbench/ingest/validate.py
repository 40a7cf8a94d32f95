"""Validation and reconciliation of a :class:`Parsed` before anything is stored.

Structural checks (schemas, directions, times, finite numbers) and then reconciliation:
every total the file states about itself (``Parsed.stated``) must be reproduced by the
parsed trades, or the file is rejected with the difference named.
"""

from __future__ import annotations

import math

import polars as pl

from workbench.errors import DataError
from workbench.ingest.records import BARS_SCHEMA, CASH_FLOWS_SCHEMA, STATED_KEYS, TRADES_SCHEMA, Parsed

__all__ = ["validate", "computed_totals", "MONEY_TOL"]

MONEY_TOL = 0.011  # reports print cents; allow one cent plus float noise
RATIO_TOL = 0.0051  # profit factor printed with 2 decimals


def _check_schema(frame: pl.DataFrame, schema: dict, what: str) -> None:
    got = dict(frame.schema)
    if list(got) != list(schema) or any(got[k] != v for k, v in schema.items()):
        raise DataError(f"parser bug: {what} frame does not match its schema ({got})", where=what)


def computed_totals(parsed: Parsed) -> dict[str, float]:
    """The totals the trades imply, under the same names as ``STATED_KEYS``."""
    t = parsed.trades
    out: dict[str, float] = {}
    if t is None:
        return out
    net = t["net_profit"]
    gp = float(net.filter(net > 0).sum())
    gl = float(net.filter(net < 0).sum())
    out.update(
        net_profit=float(net.sum()),
        gross_profit=gp,
        gross_loss=gl,
        total_trades=float(t.height),
        winning_trades=float((net > 0).sum()),
        losing_trades=float((net < 0).sum()),
        profit_factor=(gp / -gl) if gl < 0 else math.inf,
    )
    if parsed.initial_balance is not None:
        flows = 0.0 if parsed.cash_flows is None else float(parsed.cash_flows["amount"].sum())
        out["initial_balance"] = parsed.initial_balance
        out["final_balance"] = parsed.initial_balance + flows + out["net_profit"]
    return out


def _reconcile(parsed: Parsed) -> None:
    unknown = set(parsed.stated) - STATED_KEYS
    if unknown:
        raise DataError(f"parser bug: unknown stated totals {sorted(unknown)}", where="totals")
    got = computed_totals(parsed)
    for key in sorted(parsed.stated):
        stated = float(parsed.stated[key])
        if key not in got:
            continue
        value = got[key]
        if key.endswith("_trades"):
            ok = value == stated
        elif key == "profit_factor":
            ok = (math.isinf(value) and stated == 0) or abs(value - stated) <= RATIO_TOL
        else:
            ok = abs(value - stated) <= max(MONEY_TOL, 1e-9 * abs(stated))
        if not ok:
            raise DataError(
                f"the report states {key} {stated:,.2f} but its trades give {value:,.2f} "
                f"(difference {value - stated:+,.2f}); the file is truncated or inconsistent",
                where=f"totals.{key}",
            )


def _check_trades(t: pl.DataFrame) -> None:
    _check_schema(t, TRADES_SCHEMA, "trades")
    for col in ("trade_id", "open_time", "close_time", "direction", "net_profit"):
        nulls = t.filter(pl.col(col).is_null())
        if nulls.height:
            row = nulls.row(0, named=True)
            raise DataError(f"{col} is missing", where=f"trade {row['trade_id'] or '?'}")
    bad = t.filter(~pl.col("direction").is_in(["long", "short"]))
    if bad.height:
        r = bad.row(0, named=True)
        raise DataError(
            f"direction must be long/short, got {r['direction']!r}", where=f"trade {r['trade_id']}"
        )
    back = t.filter(pl.col("close_time") < pl.col("open_time"))
    if back.height:
        r = back.row(0, named=True)
        raise DataError(
            f"closes ({r['close_time']}) before it opens ({r['open_time']})", where=f"trade {r['trade_id']}"
        )
    for col, dtype in TRADES_SCHEMA.items():
        if dtype == pl.Float64:
            bad = t.filter(pl.col(col).is_nan() | pl.col(col).is_infinite())
            if bad.height:
                raise DataError(f"{col} is not a finite number", where=f"trade {bad['trade_id'][0]}")


def _check_bars(b: pl.DataFrame) -> None:
    _check_schema(b, BARS_SCHEMA, "bars")
    for col in ("symbol", "timeframe", "ts", "open", "high", "low", "close"):
        n = b[col].null_count()
        if n:
            raise DataError(f"{n} bars have no {col}", where=col)
    bad = b.with_row_index("row").filter(
        (pl.col("high") < pl.max_horizontal("open", "close", "low"))
        | (pl.col("low") > pl.min_horizontal("open", "close", "high"))
    )
    if bad.height:
        r = bad.row(0, named=True)
        raise DataError(
            f"high {r['high']} / low {r['low']} do not bound open {r['open']} and close {r['close']}",
            where=f"bar {r['row'] + 1} ({r['ts']})",
        )
    dup = b.group_by("symbol", "timeframe", "ts").len().filter(pl.col("len") > 1)
    if dup.height:
        r = dup.row(0, named=True)
        raise DataError(f"duplicate bar time {r['ts']} for {r['symbol']}:{r['timeframe']}", where="ts")


def validate(parsed: Parsed) -> Parsed:
    """Return ``parsed`` unchanged or raise :class:`DataError` naming the problem."""
    if parsed.kind == "backtest":
        if parsed.trades is None:
            raise DataError("parser bug: a backtest without a trades frame", where="trades")
        _check_trades(parsed.trades)
        if parsed.cash_flows is not None:
            _check_schema(parsed.cash_flows, CASH_FLOWS_SCHEMA, "cash_flows")
        _reconcile(parsed)
    elif parsed.kind == "bars":
        if parsed.bars is None or parsed.bars.height == 0:
            raise DataError("no bars found", where="1")
        _check_bars(parsed.bars)
    elif parsed.kind == "optimization":
        if parsed.passes is None or parsed.passes.height == 0:
            raise DataError("no optimisation passes found", where="passes")
    elif parsed.kind == "parameters":
        if not parsed.parameters:
            raise DataError("no parameters found", where="parameters")
    return parsed
