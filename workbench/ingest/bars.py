"""Market data helpers: timeframe names and tick -> bar aggregation.

``normalise_timeframe`` turns the many ways platforms write a bar size ("M1", "H4", "D1",
"MN1", "15min", "Minute5", "Hour", "daily", "60m") into one canonical spelling that is also a
polars duration: ``"1m"``, ``"5m"``, ``"4h"``, ``"1d"``, ``"1w"``, ``"1mo"`` (and ``"30s"``).
Minutes that make whole hours become hours and hours that make whole days become days
(``"60m"`` -> ``"1h"``, ``"24h"`` -> ``"1d"``). ``m`` is always minutes (case-insensitive, as
in MetaTrader's ``M1``); months are ``mo``/``mn``/``month``.

``ticks_to_bars`` aggregates ticks to OHLCV bars of the mid (or traded) price.
"""

from __future__ import annotations

import re

import polars as pl

from workbench.errors import DataError
from workbench.ingest.records import BARS_SCHEMA, conform

__all__ = ["normalise_timeframe", "ticks_to_bars"]

_UNITS = {
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "t": "m",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "hourly": "h",
    "d": "d",
    "day": "d",
    "days": "d",
    "daily": "d",
    "w": "w",
    "wk": "w",
    "week": "w",
    "weeks": "w",
    "weekly": "w",
    "mo": "mo",
    "mn": "mo",
    "mon": "mo",
    "month": "mo",
    "months": "mo",
    "monthly": "mo",
}
_NUM_UNIT = re.compile(r"^(\d+)\s*([a-z]+)$")
_UNIT_NUM = re.compile(r"^([a-z]+)\s*(\d+)$")


def normalise_timeframe(text: str | None) -> str | None:
    """``"H1"``/``"1h"``/``"60min"``/``"Hour"`` -> ``"1h"``; None when ``text`` is not a bar size."""
    if text is None:
        return None
    s = str(text).strip().lower()
    if not s:
        return None
    n, unit = 1, None
    if m := _NUM_UNIT.match(s):
        n, unit = int(m.group(1)), _UNITS.get(m.group(2))
    elif m := _UNIT_NUM.match(s):
        n, unit = int(m.group(2)), _UNITS.get(m.group(1))
    else:
        unit = _UNITS.get(s)
    if unit is None or n <= 0:
        return None
    if unit == "s" and n % 60 == 0:
        n, unit = n // 60, "m"
    if unit == "m" and n % 60 == 0:
        n, unit = n // 60, "h"
    if unit == "h" and n % 24 == 0:
        n, unit = n // 24, "d"
    return f"{n}{unit}"


def ticks_to_bars(frame: pl.DataFrame, every: str = "1m", *, symbol: str | None = None) -> pl.DataFrame:
    """Aggregate ticks to OHLCV bars (``BARS_SCHEMA``), one bar per ``every`` period that has ticks.

    ``frame`` needs a ``ts`` column (Datetime) and either ``bid`` and ``ask`` (bars of the mid
    price, (bid + ask) / 2) or ``price``. ``volume`` is the sum of a ``volume`` column when there
    is one, else the number of ticks (tick volume). A ``symbol`` column groups several symbols;
    without one, ``symbol`` names them all. Bars are labelled by their opening time (left edge,
    left-closed intervals). Ticks without a price are ignored.
    """
    tf = normalise_timeframe(every)
    if tf is None:
        raise DataError(f"unknown bar size {every!r}; use e.g. 1m, 5m, 1h, 1d", where="every")
    cols = set(frame.columns)
    if "ts" not in cols:
        raise DataError("ticks need a ts column", where="ts")
    if {"bid", "ask"} <= cols:
        price = (pl.col("bid").cast(pl.Float64) + pl.col("ask").cast(pl.Float64)) / 2
    elif "price" in cols:
        price = pl.col("price").cast(pl.Float64)
    else:
        raise DataError("ticks need bid and ask columns, or a price column", where="columns")
    vol = pl.col("volume").cast(pl.Float64) if "volume" in cols else pl.lit(1.0)
    grouped = "symbol" in cols
    ticks = frame.lazy().select(
        *([pl.col("symbol").cast(pl.String)] if grouped else []),
        pl.col("ts"),  # aggregated in its own unit; bars are cast to microseconds by conform()
        price.alias("_p"),
        vol.alias("_v"),
    )
    ticks = ticks.filter(pl.col("_p").is_not_null() & pl.col("_p").is_not_nan() & pl.col("ts").is_not_null())
    if grouped:
        ticks = ticks.sort("symbol", "ts")
    elif not frame["ts"].is_sorted():  # one symbol, already in time order (the usual case): no sort
        ticks = ticks.sort("ts")
    else:
        ticks = ticks.set_sorted("ts")
    bars = (
        ticks.group_by_dynamic(
            "ts", every=tf, closed="left", label="left", group_by="symbol" if grouped else None
        )
        .agg(
            pl.col("_p").first().alias("open"),
            pl.col("_p").max().alias("high"),
            pl.col("_p").min().alias("low"),
            pl.col("_p").last().alias("close"),
            pl.col("_v").sum().alias("volume"),
        )
        .with_columns(pl.lit(tf).alias("timeframe"))
    )
    if not grouped:
        bars = bars.with_columns(pl.lit(symbol, dtype=pl.String).alias("symbol"))
    bars = bars.collect()
    return conform(bars, BARS_SCHEMA)
