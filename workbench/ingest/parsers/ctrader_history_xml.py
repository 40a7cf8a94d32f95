"""cTrader / cAlgo (2015) backtest history exported as Excel 2003 SpreadsheetML (``ctrader_history_xml``).

One worksheet, a header row then one row per closed position::

    Closing Deal ID | Label | Entry Time (UTC+0) | Symbol | Volume | Type | Entry Price |
    Commissions | Close Price | Close Time (UTC+0) | Net EUR | Gross EUR

* the timezone is only in the time headers (``UTC+0`` -> ``meta["timezone"]``) and the account
  currency only in the money headers (``Net EUR`` -> ``currency``);
* ``Volume`` is text with the base asset: ``"EUR 6k"`` or ``"31k EUR"`` -> 6000 / 31000 units
  (``k`` = 1,000, ``m`` = 1,000,000; ``meta["volume_unit"] = "units"``);
* ``net_profit`` = Net, ``profit`` = Gross, ``commission`` = Commissions; a Swap column is used
  when present, else swap = Net - Gross - Commissions (zero in the known files). Rows whose
  Net differs from Gross + Commissions + Swap by more than a cent are rejected.
* ``Label`` (the cBot's order label) goes to the trades' ``comment``.

The file states no totals and no balance. cAlgo names the file
``<date> History - <cBot> (<SYMBOL>, <tf>, <param1>, <param2>, ...).xml``; when the name follows
that pattern the strategy, timeframe and the positional parameter values (``"1"``, ``"2"``, ...
as keys, the names are not in the file) are taken from it.

MetaTrader 5's optimiser report is SpreadsheetML too; the detector requires cTrader's
``Closing Deal ID``/``Entry Time`` headers, so it does not claim it.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import PurePath
from typing import Any

from lxml import etree

from workbench.errors import DataError
from workbench.ingest.records import TRADES_SCHEMA, Parsed, conform
from workbench.ingest.registry import parser
from workbench.ingest.text import clean, optional_number, timestamp

__all__: list[str] = []

_SS = "urn:schemas-microsoft-com:office:spreadsheet"
_NS = {"ss": _SS}
_INDEX = f"{{{_SS}}}Index"
_VOLUME = re.compile(
    r"^(?:(?P<a1>[A-Za-z]{3,})\s*)?(?P<n>[\d.,\s]+)\s*(?P<mult>[kKmM])?(?:\s*(?P<a2>[A-Za-z]{3,}))?$"
)
_FILE_NAME = re.compile(r"History - (?P<bot>[^(]+?)\s*\((?P<args>[^)]*)\)", re.I)
_TZ = re.compile(r"\((UTC[^)]*)\)")
# header text (lower-case, without the "(UTC+0)" / currency suffix) -> field
_COLUMNS = {
    "closing deal id": "trade_id",
    "closing position id": "trade_id",
    "position id": "trade_id",
    "id": "trade_id",
    "label": "comment",
    "entry time": "open_time",
    "symbol": "symbol",
    "volume": "volume",
    "type": "direction",
    "direction": "direction",
    "entry price": "entry_price",
    "commissions": "commission",
    "commission": "commission",
    "swap": "swap",
    "swaps": "swap",
    "close price": "exit_price",
    "closing price": "exit_price",
    "close time": "close_time",
    "closing time": "close_time",
    "net": "net_profit",
    "gross": "profit",
    "pips": "pips",
}
_DIRECTIONS = {"buy": "long", "sell": "short"}


def _detect(head: bytes, name: str) -> bool:
    return (
        b"urn:schemas-microsoft-com:office:spreadsheet" in head
        and b"Entry Time" in head
        and (b"Closing Deal ID" in head or b"Close Time" in head)
    )


def _field(header: str) -> tuple[str | None, str | None]:
    """(field, currency) for a header: ``"Net EUR"`` -> ("net_profit", "EUR")."""
    h = clean(_TZ.sub("", header)).lower()
    if h in _COLUMNS:
        return _COLUMNS[h], None
    head, _, tail = h.rpartition(" ")
    if head in ("net", "gross") and re.fullmatch(r"[a-z]{3}", tail):
        return _COLUMNS[head], tail.upper()
    return None, None


def _rows(root: Any) -> list[list[str | None]]:
    """Cell texts per row, honouring ``ss:Index`` (1-based column of a cell after skipped ones)."""
    table = root.find(".//ss:Worksheet/ss:Table", _NS)
    if table is None:
        raise DataError("no Worksheet/Table element", where="Workbook")
    out = []
    for row in table.iterfind("ss:Row", _NS):
        cells: list[str | None] = []
        for cell in row.iterfind("ss:Cell", _NS):
            idx = cell.get(_INDEX)
            if idx is not None:
                cells.extend([None] * (int(idx) - 1 - len(cells)))
            cells.append(cell.findtext("ss:Data", namespaces=_NS))
        out.append(cells)
    return out


def _volume(text: str | None, where: str) -> float:
    """``"EUR 6k"`` / ``"31k EUR"`` / ``"1.5m"`` / ``"10000"`` -> units."""
    m = _VOLUME.match(clean(text))
    value = optional_number(m.group("n")) if m else None
    if m is None or value is None:
        raise DataError(f"Volume: expected e.g. 'EUR 6k', got {text!r}", where=where)
    mult = {"k": 1e3, "m": 1e6}.get((m.group("mult") or "").lower(), 1.0)
    return value * mult


def _time(text: str | None, where: str, what: str) -> datetime:
    return timestamp((text or "").replace("T", " ").split(".")[0], where=where, what=what)


def _from_name(name: str) -> tuple[str | None, str | None, str | None, dict[str, Any]]:
    m = _FILE_NAME.search(PurePath(name).name)
    if not m:
        return None, None, None, {}
    args = [a.strip() for a in m.group("args").split(",")]
    symbol = args[0] if args else None
    tf = args[1].lower() if len(args) > 1 else None
    params: dict[str, Any] = {}
    for i, a in enumerate(args[2:], start=1):
        num = optional_number(a)
        params[str(i)] = (int(num) if num.is_integer() and "." not in a else num) if num is not None else a
    return clean(m.group("bot")), symbol, tf, params


@parser("ctrader_history_xml", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """cTrader/cAlgo backtest history (Excel 2003 SpreadsheetML: Closing Deal ID ... Net/Gross)."""
    xml_parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, recover=False)
    try:
        root = etree.fromstring(data, parser=xml_parser)
    except etree.XMLSyntaxError as e:
        raise DataError(f"invalid XML ({e.msg}; truncated file?)", where=f"line {e.lineno}") from None
    rows = _rows(root)
    if not rows:
        raise DataError("the worksheet has no rows", where="Table")
    header = [clean(h) for h in rows[0]]
    fields: dict[str, int] = {}
    currency = None
    timezone = None
    for i, h in enumerate(header):
        field, cur = _field(h)
        if field and field not in fields:
            fields[field] = i
        currency = currency or cur
        if tz := _TZ.search(h):
            timezone = timezone or tz.group(1)
    missing = [
        f for f in ("trade_id", "open_time", "close_time", "direction", "net_profit") if f not in fields
    ]
    if missing:
        raise DataError(f"header row lacks {', '.join(missing)} (found {header})", where="row 1")

    def cell(r: list[str | None], field: str) -> str | None:
        i = fields.get(field)
        return r[i] if i is not None and i < len(r) else None

    trades = []
    for no, r in enumerate(rows[1:], start=2):
        if not any(clean(c) for c in r):
            continue
        where = f"row {no}"
        tid = clean(cell(r, "trade_id"))
        if tid.endswith(".0"):
            tid = tid[:-2]
        direction = _DIRECTIONS.get(clean(cell(r, "direction")).lower())
        if direction is None:
            raise DataError(f"Type: expected Buy or Sell, got {cell(r, 'direction')!r}", where=where)
        net = optional_number(cell(r, "net_profit"))
        if net is None:
            raise DataError(f"Net: expected a number, got {cell(r, 'net_profit')!r}", where=where)
        gross = optional_number(cell(r, "profit"))
        commission = optional_number(cell(r, "commission"))
        swap = optional_number(cell(r, "swap"))
        if gross is not None:
            if swap is None:
                swap = round(net - gross - (commission or 0.0), 2)
            elif abs(gross + (commission or 0.0) + swap - net) > 0.0101:
                raise DataError(
                    f"Net {net} differs from Gross {gross} + Commissions {commission} + Swap {swap}",
                    where=where,
                )
        trades.append(
            {
                "trade_id": tid,
                "open_time": _time(cell(r, "open_time"), where, "Entry Time"),
                "close_time": _time(cell(r, "close_time"), where, "Close Time"),
                "symbol": clean(cell(r, "symbol")) or None,
                "direction": direction,
                "volume": _volume(cell(r, "volume"), where) if cell(r, "volume") else None,
                "entry_price": optional_number(cell(r, "entry_price")),
                "exit_price": optional_number(cell(r, "exit_price")),
                "commission": commission,
                "swap": swap,
                "profit": gross,
                "net_profit": net,
                "pips": optional_number(cell(r, "pips")),
                "comment": clean(cell(r, "comment")) or None,
            }
        )
    if not trades:
        raise DataError("no trade rows below the header", where="row 2")
    frame = conform(trades, TRADES_SCHEMA)
    bot, name_symbol, tf, params = _from_name(name)
    symbols = sorted(s for s in frame["symbol"].unique().to_list() if s)
    symbol = symbols[0] if len(symbols) == 1 else name_symbol
    title = f"{bot} {symbol} {tf}" if bot else PurePath(name).stem
    return Parsed(
        format="ctrader_history_xml",
        kind="backtest",
        name=title,
        platform="ctrader",
        strategy=bot,
        symbol=symbol,
        timeframe=tf,
        currency=currency,
        start=frame["open_time"].min(),  # type: ignore[arg-type]
        end=frame["close_time"].max(),  # type: ignore[arg-type]
        parameters=params,
        trades=frame,
        meta={
            "timezone": timezone,
            "volume_unit": "units",
            "worksheet": root.find(".//ss:Worksheet", _NS).get(f"{{{_SS}}}Name"),
            "parameters_positional": bool(params),
        },
    )
