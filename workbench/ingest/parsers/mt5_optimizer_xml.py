"""MetaTrader 5 optimisation results exported as Excel 2003 SpreadsheetML (XML).

``DocumentProperties`` carry the run (Title ``"<Expert> <SYMBOL>,<TF> <start>-<end>"``,
Deposit ``"1000 USD"``, Leverage, Server, Build); the worksheet "Tester Optimizator
Results" has one row per pass: the metric columns, then one column per optimised input.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl
from lxml import etree

from workbench.errors import DataError
from workbench.ingest.parsers import _mt5_common as mt5
from workbench.ingest.records import Parsed
from workbench.ingest.registry import parser
from workbench.ingest.text import optional_number, timestamp

_SS = "urn:schemas-microsoft-com:office:spreadsheet"
_O = "urn:schemas-microsoft-com:office:office"
_SHEET = "Tester Optimizator Results"
_TITLE = re.compile(
    r"^(?P<expert>.+?)\s+(?P<symbol>\S+),(?P<tf>[A-Za-z]+\d*)\s+"
    r"(?P<start>\d{4}\.\d{2}\.\d{2})\s*-\s*(?P<end>\d{4}\.\d{2}\.\d{2})$"
)
# printed metric column -> (column name, dtype); every other column is an input
_METRICS: dict[str, tuple[str, pl.DataType]] = {
    "Pass": ("pass", pl.Int64),
    "Result": ("result", pl.Float64),
    "Profit": ("profit", pl.Float64),
    "Expected Payoff": ("expected_payoff", pl.Float64),
    "Profit Factor": ("profit_factor", pl.Float64),
    "Recovery Factor": ("recovery_factor", pl.Float64),
    "Sharpe Ratio": ("sharpe_ratio", pl.Float64),
    "Custom": ("custom", pl.Float64),
    "Equity DD %": ("equity_dd_pct", pl.Float64),
    "Trades": ("trades", pl.Int64),
    "Forward Result": ("forward_result", pl.Float64),
    "Back Result": ("back_result", pl.Float64),
}


def _detect(head: bytes, name: str) -> bool:
    text = mt5.head_text(head)
    if _SS not in text:
        return False
    return f'ss:Name="{_SHEET}"' in text or ("<Author>MetaQuotes" in text and "<Deposit>" in text)


@parser("mt5_optimizer_xml", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """MetaTrader 5 optimisation results (SpreadsheetML XML)."""
    xml_parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, xml_parser)
    except etree.XMLSyntaxError as e:
        raise DataError(
            f"malformed XML ({e}); the file is truncated or damaged", where=str(e.lineno or 1)
        ) from None
    props = {
        etree.QName(el).localname: (el.text or "").strip()
        for el in root.iterfind(f"{{{_O}}}DocumentProperties/*")
    }
    sheet = next(
        (ws for ws in root.iterfind(f"{{{_SS}}}Worksheet") if ws.get(f"{{{_SS}}}Name") == _SHEET), None
    )
    if sheet is None:
        raise DataError(f"no worksheet named {_SHEET!r}", where="Worksheet")
    rows = [(r.sourceline, _cells(r)) for r in sheet.iterfind(f"{{{_SS}}}Table/{{{_SS}}}Row")]
    if len(rows) < 2:
        raise DataError("the results worksheet has no passes", where="Table")
    header = [str(v) for _, v in rows[0][1]]
    if not header or header[0] != "Pass":
        raise DataError(f"the first column is {header[:1]!r}, expected 'Pass'", where=f"{rows[0][0]}")
    columns: list[list[tuple[str, Any]]] = [[] for _ in header]
    for line, cells in rows[1:]:
        if len(cells) != len(header):
            raise DataError(f"pass row has {len(cells)} cells, expected {len(header)}", where=str(line))
        for i, cell in enumerate(cells):
            columns[i].append(cell)
    passes = pl.DataFrame([_column(h, col) for h, col in zip(header, columns, strict=True)])

    title = props.get("Title", "")
    m = _TITLE.match(title)
    deposit = (props.get("Deposit") or "").split()
    return Parsed(
        format="mt5_optimizer_xml",
        kind="optimization",
        name=title or name,
        platform="mt5",
        strategy=m["expert"] if m else None,
        symbol=m["symbol"] if m else None,
        timeframe=m["tf"].lower() if m else None,
        currency=deposit[1] if len(deposit) > 1 else None,
        initial_balance=optional_number(deposit[0]) if deposit else None,
        start=timestamp(m["start"], where="Title") if m else None,
        end=timestamp(m["end"], where="Title") if m else None,
        passes=passes,
        meta={
            "title": title,
            "server": props.get("Server"),
            "build": props.get("Build"),
            "leverage": props.get("Leverage"),
            "inputs": [h for h in header if h not in _METRICS],
        },
    )


def _cells(row: etree._Element) -> list[tuple[str, Any]]:
    """``(ss:Type, value)`` per column, honouring ``ss:Index`` gaps (missing cells are empty)."""
    out: list[tuple[str, Any]] = []
    for cell in row.iterfind(f"{{{_SS}}}Cell"):
        index = cell.get(f"{{{_SS}}}Index")
        if index is not None:
            out.extend([("", None)] * (int(index) - 1 - len(out)))
        data = cell.find(f"{{{_SS}}}Data")
        if data is None:
            out.append(("", None))
        else:
            out.append((data.get(f"{{{_SS}}}Type", "String"), (data.text or "").strip()))
    return out


def _column(header: str, cells: list[tuple[str, Any]]) -> pl.Series:
    """A typed column: metrics by their fixed dtype, inputs bool / int / float / str by their values."""
    if header in _METRICS:
        col, dtype = _METRICS[header]
        values = [optional_number(v) for _, v in cells]
        bad = next((v for (_, v), x in zip(cells, values, strict=True) if x is None and v), None)
        if bad is not None:
            raise DataError(f"{header}: expected a number, got {bad!r}", where=header)
        if dtype == pl.Int64:
            return pl.Series(col, [None if x is None else int(x) for x in values], dtype=pl.Int64)
        return pl.Series(col, values, dtype=pl.Float64)
    texts = [v for _, v in cells]
    kinds = {t for t, v in cells if v}
    if all((v or "").lower() in ("true", "false") for v in texts if v is not None) and any(texts):
        return pl.Series(header, [None if not v else v.lower() == "true" for v in texts], dtype=pl.Boolean)
    if kinds <= {"Number"} or all(isinstance(mt5.typed(v), int | float) for v in texts if v):
        nums = [optional_number(v) for v in texts]
        if all(x is None or float(x).is_integer() for x in nums) and all("." not in (v or "") for v in texts):
            return pl.Series(header, [None if x is None else int(x) for x in nums], dtype=pl.Int64)
        return pl.Series(header, nums, dtype=pl.Float64)
    return pl.Series(header, [v if v else None for v in texts], dtype=pl.Utf8)
