"""MetaTrader 4 Optimization Report (``OptimizationReport_*.htm``): one row per optimisation pass.

Layout (build 1340): ``<title>Strategy Tester: <EA></title>``, bold lines "Optimization Report",
the EA name and ``<server> (Build N)``; a summary table of label/value rows (Symbol, Period,
Model, Initial deposit, Spread); the optimisation graph; then the passes table: a header row
``Pass | Profit | Total trades | Profit factor | Expected Payoff | Drawdown $ | Drawdown %`` and
one row per pass whose first cell carries the pass's inputs in its ``title`` attribute only
(``title="window_open=25; window_close=30; IncreaseFactor=0.5; "``).

Everything is found by structure, so the report's interface language does not matter: the
passes table is the one whose rows have a ``title`` of ``name=value`` pairs and a pass number
(every other cell must then be a number); its header row is the row before the first pass. Column labels are mapped through
:data:`COLUMNS` (English from the real report; the shared terms of every language known to
``mt4_tester_html.LABELS``; Russian inferred from the MT4 Russian UI) and, for labels not
recognised, by position: MT4 always prints these seven columns in this order. The summary
labels go through ``mt4_tester_html.LABELS`` and fall back to the rows' fixed order, checked
by shape (a period holds a date range, a deposit is a number). Unrecognised labels are listed
in ``meta["unrecognised_labels"]``.

``passes``: ``pass``, ``profit``, ``trades``, ``profit_factor``, ``expected_payoff``,
``drawdown`` (money), ``drawdown_pct`` (names as ``mt5_optimizer_xml``'s where they overlap),
then one column per input, typed per column (bool / int / float / str); ``meta["inputs"]``
names those columns (an input named like a metric column becomes ``input_<name>``). A cut
file is refused: nothing else in the report would show that passes are missing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import lxml.html
import polars as pl
from lxml import etree

from workbench.errors import DataError
from workbench.ingest.parsers import _mt5_common as mtc
from workbench.ingest.parsers._mt_labels import vocabulary
from workbench.ingest.parsers.mt4_tester_html import LABELS
from workbench.ingest.records import Parsed
from workbench.ingest.registry import parser
from workbench.ingest.text import clean, decode, optional_number, timestamp

__all__ = ["COLUMNS", "ORDER", "parse"]

# The seven metric columns in the order MT4 prints them, with their dtypes.
ORDER: tuple[tuple[str, pl.DataType], ...] = (
    ("pass", pl.Int64),
    ("profit", pl.Float64),
    ("trades", pl.Int64),
    ("profit_factor", pl.Float64),
    ("expected_payoff", pl.Float64),
    ("drawdown", pl.Float64),
    ("drawdown_pct", pl.Float64),
)
_DTYPES = dict(ORDER)

# Printed column label -> column, per terminal language (matched after _norm).
COLUMNS: dict[str, dict[str, str]] = {
    "en": {
        "Pass": "pass",
        "Profit": "profit",
        "Total trades": "trades",
        "Profit factor": "profit_factor",
        "Expected Payoff": "expected_payoff",
        "Drawdown $": "drawdown",
        "Drawdown %": "drawdown_pct",
    },
    "ru": {
        "Проход": "pass",
        "Прибыль": "profit",
        "Всего сделок": "trades",
        "Прибыльность": "profit_factor",
        "Матожидание выигрыша": "expected_payoff",
        "Просадка $": "drawdown",
        "Просадка %": "drawdown_pct",
    },
}
_SHARED = {"total_trades": "trades", "profit_factor": "profit_factor", "expected_payoff": "expected_payoff"}
# summary field -> its place in the summary table (the fallback for an unknown language)
_SUMMARY_ORDER = ("symbol", "period", "model", "initial_deposit", "spread")

_PAIR = re.compile(r"""\s*([^=;\s][^=;]*?)\s*=\s*("[^"]*"|[^;]*?)\s*(?:;|$)""")
_TITLE_PAIRS = re.compile(r"""<td[^>]*\btitle\s*=\s*["'][^"'=;]+=[^"']*;""", re.I)
_TIMEFRAME = re.compile(r"\((M1|M5|M15|M30|H1|H4|D1|W1|MN1?)\)", re.I)
_RANGE = re.compile(r"(\d{4}\.\d\d\.\d\d(?: \d\d:\d\d)?)\s*-\s*(\d{4}\.\d\d\.\d\d(?: \d\d:\d\d)?)")
_BUILD = re.compile(r"^(.*?)\s*\(Build (\d+)\)$")
_INT = re.compile(r"[-+]?\d+")


def _norm(label: str) -> str:
    """Case, accents (any script), whitespace and a trailing ':' do not matter."""
    text = "".join(c for c in unicodedata.normalize("NFKD", label) if not unicodedata.combining(c))
    return " ".join(text.lower().replace("\u00a0", " ").split()).rstrip(":").strip()


_VOCABULARY = vocabulary(LABELS, COLUMNS)  # evidence for the code page (text.decode)
_COLUMN_LOOKUP: dict[str, str] = {
    _norm(label): field for table in COLUMNS.values() for label, field in table.items()
} | {
    _norm(label): _SHARED[field]
    for table in LABELS.values()
    for label, field in table.items()
    if field in _SHARED
}
_SUMMARY_LOOKUP: dict[str, str] = {
    _norm(label): field
    for table in LABELS.values()
    for label, field in table.items()
    if field in _SUMMARY_ORDER
}


def _detect(head: bytes, name: str) -> bool:
    text = mtc.head_text(head)
    low = text.lower()
    if "metaquotes" not in low and "optimization report" not in low:
        return False
    return "<table" in low and _TITLE_PAIRS.search(text) is not None


@parser("mt4_optimizer_html", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """MetaTrader 4 Optimization Report (HTML): one row per pass, inputs from each row's title."""
    try:
        text = decode(data, vocabulary=_VOCABULARY)
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError, UnicodeDecodeError) as e:
        raise DataError(f"unreadable HTML ({e})", where="1") from None
    if not text.rstrip().lower().endswith("</html>"):  # no totals to check: the end tag must be there
        raise DataError("the file does not end with </html>; it is truncated", where="end")
    tables = root.findall(".//table")
    found = next(((t, rows) for t in tables if (rows := _pass_rows(t))), None)
    if found is None:
        raise DataError(
            "no passes table (rows whose first cell has a title of name=value pairs)", where="passes"
        )
    table, pass_rows = found
    all_rows = [tr for tr in table.iter("tr")]
    first = all_rows.index(pass_rows[0][0])
    header = [clean(td.text_content()) for td in all_rows[first - 1].iter("td", "th")] if first else []
    width = len(pass_rows[0][1])
    columns, unknown = _columns(header, width)
    labels = [header[i] if i < len(header) else c for i, c in enumerate(columns)]

    inputs: list[str] = []
    params: list[dict[str, str]] = []
    for tr, cells, title in pass_rows:
        if len(cells) != width:
            raise DataError(
                f"pass row has {len(cells)} cells, expected {width}", where=f"line {tr.sourceline}"
            )
        pairs = {m.group(1): m.group(2).strip('"') for m in _PAIR.finditer(title)}
        inputs.extend(k for k in pairs if k not in inputs)
        params.append(pairs)
    series = [
        _metric(col, label, pass_rows, i) for i, (col, label) in enumerate(zip(columns, labels, strict=True))
    ]
    # an input named like a metric column keeps its values under "input_<name>"
    names = [f"input_{k}" if k in columns else k for k in inputs]
    series += [_input(n, [p.get(k) for p in params]) for n, k in zip(names, inputs, strict=True)]
    passes = pl.DataFrame(series)

    summary, summary_unknown = _summary(tables[: tables.index(table)])
    expert, server, build = _heading(root)
    symbol = (summary.get("symbol") or "").split(" ")[0] or None
    period = summary.get("period", "")
    tf = _TIMEFRAME.search(period)
    span = _RANGE.search(period)
    deposit = optional_number(summary.get("initial_deposit"))
    timeframe = tf.group(1).lower() if tf else None
    return Parsed(
        format="mt4_optimizer_html",
        kind="optimization",
        name=" ".join(x for x in (expert, symbol, timeframe) if x) or name,
        platform="mt4",
        strategy=expert,
        symbol=symbol,
        timeframe=timeframe,
        initial_balance=deposit,
        start=timestamp(span.group(1), where="summary.period") if span else None,
        end=timestamp(span.group(2), where="summary.period") if span else None,
        passes=passes,
        meta={
            "inputs": names,
            "columns": dict(zip(columns, header, strict=False)),
            "model": summary.get("model"),
            "spread": summary.get("spread"),
            "period": period or None,
            "symbol_description": summary.get("symbol"),
            "server": server,
            "build": build,
            "unrecognised_labels": unknown + summary_unknown,
        },
    )


def _pass_rows(table: Any) -> list[tuple[Any, list[str], str]]:
    """``(tr, cell texts, title)`` of the rows of ``table`` that are passes: the first cell's
    title holds ``name=value`` pairs and its text is the pass number. Nested tables are not
    looked into."""
    out = []
    for tr in table.iter("tr"):
        if tr.getparent() is not table and tr.getparent().getparent() is not table:
            continue  # a row of a nested table
        tds = [c for c in tr if c.tag in ("td", "th")]
        if not tds:
            continue
        title = tds[0].get("title") or ""
        if "=" not in title:
            continue
        cells = [clean(td.text_content()) for td in tds]
        if _INT.fullmatch(cells[0]):
            out.append((tr, cells, title))
    return out


def _columns(header: Sequence[str], width: int) -> tuple[list[str], list[str]]:
    """Column names for the passes table: by label where known, else by MT4's fixed order."""
    names: list[str] = []
    unknown: list[str] = []
    for i in range(width):
        label = header[i] if i < len(header) else ""
        known = _COLUMN_LOOKUP.get(_norm(label))
        if known is None:
            if label:
                unknown.append(label)
            known = ORDER[i][0] if i < len(ORDER) else f"column_{i + 1}"
        names.append(known)
    if len(set(names)) != len(names):  # labels and positions disagree: trust the fixed order
        names = [ORDER[i][0] if i < len(ORDER) else f"column_{i + 1}" for i in range(width)]
    return names, unknown


def _metric(col: str, label: str, rows: Sequence[tuple[Any, list[str], str]], i: int) -> pl.Series:
    """A metric column: Int64 where MT4 prints counts (pass, trades), else Float64."""
    values = [optional_number(cells[i]) for _, cells, _ in rows]
    bad = next((r for r, v in zip(rows, values, strict=True) if v is None), None)
    if bad is not None:
        raise DataError(f"{label}: expected a number, got {bad[1][i]!r}", where=f"pass {bad[1][0]}")
    if _DTYPES.get(col) == pl.Int64 and all(v is not None and float(v).is_integer() for v in values):
        return pl.Series(col, [int(v) for v in values if v is not None], dtype=pl.Int64)
    return pl.Series(col, values, dtype=pl.Float64)


def _input(name: str, values: list[str | None]) -> pl.Series:
    """One input's column, typed by all its values: bool, int, float, else str."""
    present = [v for v in values if v not in (None, "")]
    if present and all(v.lower() in ("true", "false") for v in present):
        return pl.Series(name, [None if not v else v.lower() == "true" for v in values], dtype=pl.Boolean)
    if present and all(_INT.fullmatch(v) for v in present):
        return pl.Series(name, [int(v) if v else None for v in values], dtype=pl.Int64)
    nums = [optional_number(v) if v else None for v in values]
    if present and all(n is not None for n, v in zip(nums, values, strict=True) if v):
        return pl.Series(name, nums, dtype=pl.Float64)
    return pl.Series(name, [v or None for v in values], dtype=pl.Utf8)


def _summary(tables: Sequence[Any]) -> tuple[dict[str, str], list[str]]:
    """The label/value rows before the passes table: fields by label, else by their fixed order."""
    rows: list[list[str]] = []
    for t in tables:
        for tr in t.iter("tr"):
            cells = [clean(c.text_content()) for c in tr if c.tag in ("td", "th")]
            if len(cells) == 2 and cells[0]:
                rows.append(cells)
    out: dict[str, str] = {}
    unknown: list[str] = []
    for i, (label, value) in enumerate(rows):
        field = _SUMMARY_LOOKUP.get(_norm(label))
        if field is None:
            unknown.append(label)
            field = _SUMMARY_ORDER[i] if i < len(_SUMMARY_ORDER) else None
            if field is None or not _fits(field, value):
                continue
        out.setdefault(field, value)
    return out, unknown


def _fits(field: str, value: str) -> bool:
    """A value found by position must look like its field."""
    if field == "period":
        return bool(_RANGE.search(value))
    if field == "initial_deposit":
        return optional_number(value) is not None
    if field == "symbol":
        return bool(value) and not _RANGE.search(value)
    return True


def _heading(root: Any) -> tuple[str | None, str | None, int | None]:
    """EA name, server and build from the bold lines above the tables (the line before
    ``<server> (Build N)`` is the EA), else from ``<title>...: <EA></title>``."""
    body = root.find("body")
    lines: list[str] = []
    for el in body.iter() if body is not None else ():
        if el.tag == "table":
            break
        if el.tag == "b":
            text = clean(el.text_content())
            if text:
                lines.append(text)
    for i, text in enumerate(lines):
        m = _BUILD.match(text)
        if m:
            return (lines[i - 1] if i else None), m.group(1), int(m.group(2))
    title = clean(root.findtext(".//title"))
    return (title.split(":", 1)[1].strip() or None) if ":" in title else None, None, None
