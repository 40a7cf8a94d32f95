"""Time zones: every stored timestamp is UTC, and each backtest records where its times came from.

Parsers keep times as the file prints them and put what the file says about their zone in
``meta["timezone"]``: ``"UTC"`` (cTrader epoch milliseconds), ``"UTC+3"`` (a cTrader history header
``Entry Time (UTC+3)``), an IANA name (a trades CSV's ``# timezone: Europe/London``), or nothing
(MetaTrader prints broker server time and never says which zone that is). :func:`to_utc` converts
the trades and cash flows to UTC and rewrites ``meta["timezone"]`` to say what was done:

* ``"UTC"``                                   the file's times were UTC already;
* ``"UTC (from UTC+3)"``                      shifted by a fixed offset the file states;
* ``"UTC (from Europe/Athens)"``              converted from a zone (DST-aware), given by the file or
  by the user (``--tz`` / ``WORKBENCH_SERVER_TZ``) — ``meta["assumed"]["timezone"]`` says which;
* ``"server time, offset unknown"``           MetaTrader without ``--tz``: kept as printed, and
  weekday/hour breakdowns say so;
* ``"not stated"``                            any other file that does not say.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from workbench.errors import ConfigError, DataError
from workbench.ingest.records import Parsed

__all__ = ["to_utc", "parse_zone", "UNKNOWN_SERVER_TIME", "NOT_STATED", "SERVER_TIME_PLATFORMS"]

UNKNOWN_SERVER_TIME = "server time, offset unknown"
NOT_STATED = "not stated"
SERVER_TIME_PLATFORMS = {"mt4", "mt5"}  # platforms that print broker server time

_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.I)
_UTC = {"utc", "gmt", "z", "utc+0", "utc-0", "gmt+0", "utc+00:00", "+00:00", "etc/utc"}


def parse_zone(text: str) -> timedelta | str | None:
    """``"UTC+3"``/``"+03:00"``/``"GMT-5"`` -> a fixed offset; an IANA name -> the name; UTC -> None.

    Raises :class:`ValueError` for text that is neither.
    """
    s = " ".join(text.split())
    if s.lower() in _UTC:
        return None
    m = _OFFSET.match(s)
    if m:
        sign, hours, minutes = m.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        return -delta if sign == "-" else delta
    try:
        ZoneInfo(s)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {text!r} (use an IANA name such as Europe/Athens, or UTC+2)"
        ) from None
    return s


def _convert(frame: pl.DataFrame | None, cols: tuple[str, ...], zone: timedelta | str) -> pl.DataFrame | None:
    if frame is None or frame.height == 0:
        return frame
    present = [c for c in cols if c in frame.columns]
    if isinstance(zone, timedelta):
        return frame.with_columns(pl.col(c) - zone for c in present)
    # A wall-clock time repeated by a DST change takes its earlier instant; one skipped by it is an error.
    exprs = [
        pl.col(c)
        .dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
        .alias(c)
        for c in present
    ]
    out = frame.with_columns(exprs)
    for c in present:
        bad = out[c].is_null() & frame[c].is_not_null()
        if bad.any():
            when = frame.filter(bad)[c][0]
            raise DataError(f"{c} {when} does not exist in {zone} (skipped by a DST change)", where=c)
    return out


def to_utc(parsed: Parsed, *, server_tz: str | None = None) -> Parsed:
    """``parsed`` with trades and cash flows in UTC and ``meta["timezone"]`` saying what was done.

    ``server_tz`` is the user's zone for files that state none (MetaTrader server time)."""
    if parsed.kind != "backtest":
        return parsed
    stated = parsed.meta.get("timezone")
    meta: dict[str, Any] = dict(parsed.meta)
    source = stated if stated not in (None, "", UNKNOWN_SERVER_TIME, NOT_STATED) else None
    if source is None and server_tz:
        source = server_tz
        meta["assumed"] = {**meta.get("assumed", {}), "timezone": f"{server_tz} (--tz; the file states none)"}
    if source is None:
        meta["timezone"] = UNKNOWN_SERVER_TIME if parsed.platform in SERVER_TIME_PLATFORMS else NOT_STATED
        return replace(parsed, meta=meta)
    try:
        zone = parse_zone(str(source))
    except ValueError as e:
        if source == server_tz:
            raise ConfigError(f"--tz: {e}") from None
        raise DataError(str(e), where="timezone") from None
    if zone is None:
        meta["timezone"] = "UTC"
        return replace(parsed, meta=meta)
    meta["timezone"] = f"UTC (from {source})"
    meta["source_timezone"] = str(source)
    return replace(
        parsed,
        trades=_convert(parsed.trades, ("open_time", "close_time"), zone),
        cash_flows=_convert(parsed.cash_flows, ("time",), zone),
        start=_shift(parsed.start, zone),
        end=_shift(parsed.end, zone),
        meta=meta,
    )


def _shift(value: Any, zone: timedelta | str) -> Any:
    if value is None:
        return None
    if isinstance(zone, timedelta):
        return value - zone
    return value.replace(tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
