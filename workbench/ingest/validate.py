"""Validation and reconciliation of a :class:`Parsed` before anything is stored.

Structural checks (schemas, directions, times, finite numbers) and then reconciliation:
every total the file states about itself (``Parsed.stated``) must be reproduced by the
parsed trades, or the file is rejected with the difference named.
"""

from __future__ import annotations

import math
from dataclasses import replace

import polars as pl

from workbench.errors import DataError
from workbench.ingest.records import BARS_SCHEMA, CASH_FLOWS_SCHEMA, STATED_KEYS, TRADES_SCHEMA, Parsed

__all__ = ["validate", "computed_totals", "MONEY_TOL", "PRIMARY", "SECONDARY"]

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
    net = pl.col("net_profit")
    sums = t.select(  # one pass over the column
        net.sum().alias("net"),
        net.filter(net > 0).sum().alias("gp"),
        net.filter(net < 0).sum().alias("gl"),
        (net > 0).sum().alias("wins"),
        (net < 0).sum().alias("losses"),
    ).row(0, named=True)
    gp, gl = float(sums["gp"]), float(sums["gl"])
    out.update(
        net_profit=float(sums["net"]),
        gross_profit=gp,
        gross_loss=gl,
        total_trades=float(t.height),
        winning_trades=float(sums["wins"]),
        losing_trades=float(sums["losses"]),
        profit_factor=(gp / -gl) if gl < 0 else math.inf,
    )
    if parsed.initial_balance is not None:
        flows = 0.0 if parsed.cash_flows is None else float(parsed.cash_flows["amount"].sum())
        out["initial_balance"] = parsed.initial_balance
        out["final_balance"] = parsed.initial_balance + flows + out["net_profit"]
    return out


# What proves a file whole: a mismatch means rows are missing or altered, and the file is rejected.
PRIMARY = ("net_profit", "total_trades", "initial_balance", "final_balance")
# Statistics platforms count by their own rules (break-even trades, commission in or out, per deal or per
# position): a mismatch is a warning naming both figures and the likely convention (an error with strict).
SECONDARY = ("gross_profit", "gross_loss", "winning_trades", "losing_trades", "profit_factor")


def _agrees(key: str, value: float, stated: float) -> bool:
    if key.endswith("_trades"):
        return value == stated
    if key == "profit_factor":
        return (math.isinf(value) and stated == 0) or abs(value - stated) <= RATIO_TOL
    return abs(value - stated) <= max(MONEY_TOL, 1e-9 * abs(stated))


def _alternatives(t: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Secondary totals under the other conventions platforms use, to name the likely one."""
    out: dict[str, dict[str, float]] = {}
    if not t.height:
        return out
    gross = t["profit"].fill_null(t["net_profit"])
    net = t["net_profit"]
    for label, col in (("by profit before commission and swap", gross),):
        gp, gl = float(col.filter(col > 0).sum()), float(col.filter(col < 0).sum())
        out[label] = {
            "gross_profit": gp,
            "gross_loss": gl,
            "winning_trades": float((col > 0).sum()),
            "losing_trades": float((col < 0).sum()),
            "profit_factor": gp / -gl if gl < 0 else math.inf,
        }
    out["counting break-even trades as wins"] = {"winning_trades": float((net >= 0).sum())}
    out["counting break-even trades as losses"] = {"losing_trades": float((net <= 0).sum())}
    rounded = net.round(2)
    out["by the sign of the printed (rounded) result"] = {
        "winning_trades": float((rounded > 0).sum()),
        "losing_trades": float((rounded < 0).sum()),
    }
    return out


def _fmt(key: str, value: float) -> str:
    if key.endswith("_trades"):
        return f"{value:,.0f}"
    if math.isinf(value):
        return "inf"
    return f"{value:,.2f}"


def _reconcile(parsed: Parsed, *, strict: bool) -> list[str]:
    """Compare every stated total with what the rows give; returns the warnings (secondary mismatches)."""
    unknown = (set(parsed.stated) | set(parsed.platform_figures)) - STATED_KEYS
    if unknown:
        raise DataError(f"parser bug: unknown stated totals {sorted(unknown)}", where="totals")
    if not parsed.stated:
        return []
    per_position = computed_totals(parsed)
    platform = parsed.convention or f"{parsed.platform or 'platform'} convention"
    warnings: list[str] = []
    alternatives: dict[str, dict[str, float]] | None = None
    for key in (*PRIMARY, *SECONDARY):
        if key not in parsed.stated:
            continue
        stated = float(parsed.stated[key])
        if key in parsed.platform_figures:
            value, basis = float(parsed.platform_figures[key]), f"under the {platform}"
        elif key in per_position:
            value, basis = per_position[key], "per position"
        else:
            continue
        if _agrees(key, value, stated):
            continue
        diff = "" if key.endswith("_trades") or math.isinf(value) else f" (difference {value - stated:+,.2f})"
        if key in PRIMARY:
            raise DataError(
                f"the file prints {key} {_fmt(key, stated)} but its rows give {_fmt(key, value)} {basis}{diff}; "
                "rows are missing or were altered — re-export the report",
                where=f"totals.{key}",
            )
        if alternatives is None:
            alternatives = _alternatives(parsed.trades) if parsed.trades is not None else {}
        likely = [
            label for label, figs in alternatives.items() if key in figs and _agrees(key, figs[key], stated)
        ]
        hint = f"; it matches counting {likely[0].removeprefix('counting ')}" if likely else ""
        message = (
            f"{key}: the file prints {_fmt(key, stated)}, the rows give {_fmt(key, value)} {basis}{diff}"
            f"{hint} (a platform convention; net profit and trade count agree)"
        )
        if strict:
            raise DataError(message + "; rejected because of --strict", where=f"totals.{key}")
        warnings.append(message)
    return warnings


_NEED = ("trade_id", "open_time", "close_time", "direction", "net_profit")
_FLOATS = tuple(c for c, dtype in TRADES_SCHEMA.items() if dtype == pl.Float64)


def _check_trades(t: pl.DataFrame, *, strict: bool) -> list[dict]:
    """Structural checks; returns the anomalies (rows the platform wrote that break an invariant).

    Every check is first counted, all in one pass over the columns; the rows are looked up only for a
    check that fails (16M rows: one pass instead of a filtered copy per check)."""
    _check_schema(t, TRADES_SCHEMA, "trades")
    counts = t.select(
        *(pl.col(c).null_count().alias(f"null:{c}") for c in _NEED),
        (~pl.col("direction").is_in(["long", "short"])).sum().alias("direction"),
        (pl.col("close_time") < pl.col("open_time")).sum().alias("back"),
        *((pl.col(c).is_nan() | pl.col(c).is_infinite()).sum().alias(f"finite:{c}") for c in _FLOATS),
    ).row(0, named=True)
    for col in _NEED:
        if counts[f"null:{col}"]:
            row = t.filter(pl.col(col).is_null()).row(0, named=True)
            raise DataError(f"{col} is missing", where=f"trade {row['trade_id'] or '?'}")
    if counts["direction"]:
        r = t.filter(~pl.col("direction").is_in(["long", "short"])).row(0, named=True)
        raise DataError(
            f"direction must be long/short, got {r['direction']!r}", where=f"trade {r['trade_id']}"
        )
    anomalies: list[dict] = []
    if counts["back"]:
        back = t.with_row_index("row", offset=1).filter(pl.col("close_time") < pl.col("open_time"))
        for r in back.iter_rows(named=True):
            what = f"closes ({r['close_time']}) before it opens ({r['open_time']})"
            if strict:
                raise DataError(what + "; rejected because of --strict", where=f"trade {r['trade_id']}")
            anomalies.append({"row": r["row"], "trade_id": r["trade_id"], "what": what})
    for col in _FLOATS:
        if counts[f"finite:{col}"]:
            bad = t.filter(pl.col(col).is_nan() | pl.col(col).is_infinite())
            raise DataError(f"{col} is not a finite number", where=f"trade {bad['trade_id'][0]}")
    return anomalies


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


def validate(parsed: Parsed, *, strict: bool = False) -> Parsed:
    """``parsed`` with the warnings and anomalies validation found, or :class:`DataError` naming the problem.

    Corruption (a printed net profit, trade count or balance the rows do not reproduce, broken rows)
    is always an error. Platform quirks (secondary statistics counted by the platform's own rule, rows
    the platform wrote closing before they open) are warnings and ``anomalies`` — errors with ``strict``.
    """
    if parsed.kind == "backtest":
        if parsed.trades is None:
            raise DataError("parser bug: a backtest without a trades frame", where="trades")
        anomalies = _check_trades(parsed.trades, strict=strict)
        if parsed.cash_flows is not None:
            _check_schema(parsed.cash_flows, CASH_FLOWS_SCHEMA, "cash_flows")
        warnings = _reconcile(parsed, strict=strict)
        for a in anomalies:
            warnings.append(
                f"trade {a['trade_id']} (row {a['row']}) {a['what']}: kept as the platform wrote it, "
                "flagged as an anomaly and left out of duration statistics (--strict rejects instead)"
            )
        if warnings or anomalies:
            parsed = replace(
                parsed,
                warnings=(*parsed.warnings, *warnings),
                anomalies=(*parsed.anomalies, *anomalies),
            )
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
