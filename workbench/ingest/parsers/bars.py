"""Market data: OHLCV bars or ticks, as CSV (``bars_csv``) or Parquet (``bars_parquet``).

Columns are matched case-insensitively, ignoring spaces, punctuation and MetaTrader's ``<>``:

==========  ==========================================================================
field       accepted headers
==========  ==========================================================================
ts          ts, time, date, datetime, timestamp, date_time, gmt time, local time, bar time
            or an unnamed first column (pandas' index); separate ``date`` + ``time`` are joined
open        open, o            high    high, h          low     low, l
close       close, c           volume  volume, vol, v, tickvol, tick_volume, real_volume
bid / ask   bid / ask (ticks; bars of the mid price)   price: price, last, mid (ticks)
symbol      symbol, ticker, instrument, pair        timeframe: timeframe, tf, period, interval
==========  ==========================================================================

Times: Unix epochs (s/ms/us/ns, unit from magnitude), ISO 8601 or ``YYYY.MM.DD HH:MM[:SS]``
(see ``_columns.to_datetime``); Parquet timestamps as stored (tz-aware ones converted to UTC).
Ticks (a time column with bid/ask or price and no open/high/low/close) are aggregated to
1-minute bars by :func:`workbench.ingest.bars.ticks_to_bars`.

Symbol and timeframe come from ``symbol``/``timeframe`` columns when present, else from the
file name ``SYMBOL_TF.csv`` / ``SYMBOL-TF.parquet`` (``EURUSD_1h.csv``, ``GOOG-D1.parquet``;
tick files: ``EURUSD_ticks.csv`` or ``EURUSD.csv``).
"""

from __future__ import annotations

import io
import re
from pathlib import PurePath

import polars as pl

from workbench.errors import DataError
from workbench.ingest.bars import normalise_timeframe, ticks_to_bars
from workbench.ingest.parsers._columns import (
    check_column,
    header_fields,
    header_key,
    map_columns,
    read_text_csv,
    split_preamble,
    to_datetime,
    to_float,
)
from workbench.ingest.records import BARS_SCHEMA, Parsed, conform
from workbench.ingest.registry import parser

__all__ = ["BAR_ALIASES", "TRADE_ONLY_KEYS"]

BAR_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        ["ts", "time", "datetime", "timestamp", "datetimeutc", "gmttime", "localtime", "bartime", "timeutc"],
        "ts",
    ),
    "": "ts",  # pandas' unnamed index column (DataFrame.to_csv)
    "date": "date",  # joined with "time" when both exist, else the time column itself
    **dict.fromkeys(["open", "o"], "open"),
    **dict.fromkeys(["high", "h"], "high"),
    **dict.fromkeys(["low", "l"], "low"),
    **dict.fromkeys(["close", "c"], "close"),
    **dict.fromkeys(["volume", "vol", "v"], "volume"),
    **dict.fromkeys(["tickvol", "tickvolume", "realvolume"], "tick_volume"),
    "bid": "bid",
    "ask": "ask",
    **dict.fromkeys(["price", "last", "mid"], "price"),
    **dict.fromkeys(["symbol", "ticker", "instrument", "pair"], "symbol"),
    **dict.fromkeys(["timeframe", "tf", "period", "interval"], "timeframe"),
}

# Headers that only a trade list has: a file with any of them is not market data.
TRADE_ONLY_KEYS = frozenset(
    {
        "opentime",
        "closetime",
        "entrytime",
        "exittime",
        "direction",
        "type",
        "side",
        "netprofit",
        "profit",
        "ticket",
        "positionid",
        "openprice",
        "closeprice",
        "entryprice",
        "exitprice",
    }
)
_OHLC = ("open", "high", "low", "close")
_MARKUP = re.compile(rb"\s*(\{|\[|<\?xml|<!|<html)", re.I)  # JSON / XML / HTML, never a CSV
_NAME = re.compile(r"^(?P<sym>[A-Za-z0-9.#!&]+?)(?:[_\- ](?P<tf>[A-Za-z]*\d*[A-Za-z]*))?$")


def _kind_of(headers: list[str]) -> str | None:
    """Return "bars", "ticks" or None, from the header names alone."""
    keys = {header_key(h) for h in headers}
    if keys & TRADE_ONLY_KEYS:
        return None
    fields = {BAR_ALIASES[k] for k in keys if k in BAR_ALIASES}
    if not fields & {"ts", "date"}:
        return None
    if set(_OHLC) <= fields:
        return "bars"
    if {"bid", "ask"} <= fields or "price" in fields:
        return "ticks"
    return None


def _detect_csv(head: bytes, name: str) -> bool:
    if head.startswith(b"PAR1") or _MARKUP.match(head):
        return False
    _, body, _ = split_preamble(head)
    fields = header_fields(body)
    return fields is not None and _kind_of(fields[0]) is not None


def _detect_parquet(head: bytes, name: str) -> bool:
    return head.startswith(b"PAR1")


def _from_name(name: str) -> tuple[str | None, str | None]:
    """``EURUSD_1h.csv`` -> ("EURUSD", "1h"); ``EURUSD_ticks.csv`` -> ("EURUSD", None)."""
    stem = PurePath(name).name
    for ext in (".csv", ".txt", ".parquet", ".pq", ".gz"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
    m = _NAME.match(stem)
    if not m:
        return None, None
    return m.group("sym"), normalise_timeframe(m.group("tf"))


def _frame_to_bars(frame: pl.DataFrame, name: str, *, first_line: int, fmt: str) -> Parsed:
    """A frame of raw columns (text from CSV or typed from Parquet) -> validated-ready Parsed."""
    cols = map_columns(frame.columns, BAR_ALIASES)
    kind = _kind_of(list(frame.columns))
    if kind is None:
        raise DataError(
            "no time column with open/high/low/close (bars) or bid/ask or price (ticks); "
            "expected headers like time,open,high,low,close,volume",
            where="header",
        )

    def where(row: int) -> str:
        return f"line {first_line + row}" if fmt == "csv" else f"row {row + 1}"

    # Time: ts, or date + time joined, or date alone.
    if "ts" in cols and "date" in cols and frame[cols["ts"]].dtype == pl.String:
        raw_ts = (frame[cols["date"]].str.strip_chars() + " " + frame[cols["ts"]].str.strip_chars()).rename(
            "ts"
        )
        ts_field = f"{cols['date']}+{cols['ts']}"
    else:
        key = "ts" if "ts" in cols else "date"
        raw_ts, ts_field = frame[cols[key]], cols[key]
    ts = to_datetime(raw_ts)
    check_column(raw_ts, ts, field=ts_field, what="unrecognised date/time", where=where)

    out: dict[str, pl.Series] = {"ts": ts}
    wanted = list(_OHLC) if kind == "bars" else ["bid", "ask", "price"]
    vol_key = "volume" if "volume" in cols else ("tick_volume" if "tick_volume" in cols else None)
    for field in [*wanted, *([vol_key] if vol_key else [])]:
        if field not in cols:
            continue
        raw = frame[cols[field]]
        values = to_float(raw)
        check_column(raw, values, field=cols[field], what="expected a number, got", where=where)
        out["volume" if field == vol_key else field] = values
    for field in ("symbol", "timeframe"):
        if field in cols:
            out[field] = frame[cols[field]].cast(pl.String).str.strip_chars()
    data = pl.DataFrame(out)

    name_sym, name_tf = _from_name(name)
    if "symbol" not in data.columns:
        if not name_sym:
            raise DataError(
                "no symbol: add a symbol column or name the file SYMBOL_TF.csv (e.g. EURUSD_1h.csv)",
                where="symbol",
            )
        data = data.with_columns(pl.lit(name_sym).alias("symbol"))

    if kind == "ticks":
        if "price" not in data.columns and not {"bid", "ask"} <= set(data.columns):
            raise DataError("ticks need both bid and ask, or a price column", where="header")
        bars = ticks_to_bars(data.drop([c for c in ("timeframe",) if c in data.columns]), "1m")
        meta = {"source": "ticks", "ticks": data.height, "aggregation": "1m bars of the mid price"}
    else:
        if "timeframe" in data.columns:
            names = {v: normalise_timeframe(v) for v in data["timeframe"].drop_nulls().unique()}
            tf = data["timeframe"].replace_strict(names, default=None, return_dtype=pl.String)
            bad = data["timeframe"].is_not_null() & tf.is_null()
            if bad.any():
                row = int(bad.arg_true()[0])
                raise DataError(
                    f"unknown timeframe {data['timeframe'][row]!r}; use e.g. 1m, 5m, 1h, 1d",
                    where=f"{where(row)}, column {cols['timeframe']}",
                )
            data = data.with_columns(tf.alias("timeframe"))
        elif name_tf:
            data = data.with_columns(pl.lit(name_tf).alias("timeframe"))
        else:
            raise DataError(
                "no timeframe: add a timeframe column or name the file SYMBOL_TF.csv (e.g. EURUSD_1h.csv)",
                where="timeframe",
            )
        bars = conform(data, BARS_SCHEMA).sort("symbol", "timeframe", "ts")
        meta = {"source": "bars"}

    symbols = bars["symbol"].unique().to_list()
    tfs = bars["timeframe"].unique().to_list()
    symbol = symbols[0] if len(symbols) == 1 else None
    tf = tfs[0] if len(tfs) == 1 else None
    return Parsed(
        format=f"bars_{fmt}",
        kind="bars",
        name=f"{symbol}:{tf}" if symbol and tf else PurePath(name).stem,
        platform=fmt,
        symbol=symbol,
        timeframe=tf,
        start=bars["ts"].min() if bars.height else None,  # type: ignore[arg-type]
        end=bars["ts"].max() if bars.height else None,  # type: ignore[arg-type]
        bars=bars,
        meta={**meta, "columns": cols, "symbols": sorted(s for s in symbols if s)},
    )


@parser("bars_csv", detect=_detect_csv, priority=85)
def parse_csv(data: bytes, name: str) -> Parsed:
    """OHLCV bars or ticks in a CSV file (comma, semicolon or tab separated, one header line)."""
    _, body, skipped = split_preamble(data)
    fields = header_fields(body)
    if fields is None:
        raise DataError("no header line with comma/semicolon/tab separated column names", where="1")
    frame = read_text_csv(body, fields[1], header_line=skipped + 1)
    if frame.height == 0:
        raise DataError("no data rows below the header", where=str(skipped + 2))
    return _frame_to_bars(frame, name, first_line=skipped + 2, fmt="csv")


@parser("bars_parquet", detect=_detect_parquet, priority=40)
def parse_parquet(data: bytes, name: str) -> Parsed:
    """OHLCV bars or ticks in a Parquet file."""
    if not data.endswith(b"PAR1"):
        raise DataError("truncated Parquet file (no closing PAR1 footer)", where="footer")
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except (pl.exceptions.PolarsError, OSError) as e:
        msg = " ".join(str(e).split())[:200]
        raise DataError(f"unreadable Parquet: {msg}", where="file") from None
    if frame.height == 0:
        raise DataError("no rows", where="1")
    return _frame_to_bars(frame, name, first_line=1, fmt="parquet")
