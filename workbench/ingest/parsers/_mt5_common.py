"""Shared by the MetaTrader 5 report parsers (tester report as HTML or Excel, trade history report).

The reports are one table whose rows fall into titled blocks ("Settings", "Results", "Orders",
"Deals", ...) in the terminal's interface language. Nothing here depends on that language:

* **Tables by structure** (:func:`layout`): a run of rows whose first cell is an MT5 time
  (``2024.12.30 10:52:08``) and second an integer ticket is a table; its kind follows from its cells:
  the Deals table has the deal type (``buy``/``sell``/``balance``...) and direction (``in``/``out``/
  ``in/out``/``out by``) words, which MT5 never translates; Orders print the volume as
  ``0.20 / 0.20`` and a fill time; open positions neither. Columns are taken by their place in MT5's
  fixed column order (the header row's cells only say where each column starts, which matters in
  the Excel layout's merged cells); the Deals' money columns are the numeric ones between Order and
  Comment, the last the running balance, and :func:`_check_deals` proves them by arithmetic (each
  balance = previous balance + the row's other money).
* **Blocks by structure**: title rows are rows of one text cell that is not a ``label:``; the tester's
  Settings block is the one whose values include ``H1 (2024.12.30 - 2026.07.01)``, Results the next
  block of ``label: value`` pairs; a history report's Results are its last block of pairs, the account
  summary the pairs between the last table and it.
* **Figures by label, checked by position**: a label is looked up in MT5's translation tables
  (:mod:`._mt5_labels`); independently every pair gets the name its place in MT5's fixed layout
  gives it (:data:`_TESTER_RESULTS`, with the shapes of the values as anchors: ``967.94 (8.09%)``
  after net profit...). Where they disagree the place wins; a label no table knows is read by its
  place, and all such labels are named in one warning, as are those left out.

The ``Deals`` section is the ledger: MT5 never prints which position a deal belongs to, so closed
trades are rebuilt here by FIFO matching of ``in`` deals against ``out`` / ``in/out`` / ``out by``
deals per symbol and side (a ``sell out`` closes longs, a ``buy out`` closes shorts; this works for
netting and hedging accounts alike). One trade per exit deal; a partial exit takes its share of each
entry's commission/swap pro rata by volume, the last share taking the remainder so nothing is lost to
rounding.

MT5 computes its printed statistics per *deal* (``convention = "mt5 per deal"``), as every
report in the test suite's real-export fixtures confirms (four tester reports, two history reports):

* Gross Profit/Loss are the sums of the positive/negative ``profit + commission + swap`` over
  all buy/sell deals, entry deals included: an entry deal's commission is a losing deal of its
  own, even when its position won (zhijucen 250013: 336.42 / -313.36 per deal, 335.87 / -312.81
  per position);
* Total Trades counts the exit deals (``out``, ``in/out``, ``out by``): a partial close counts;
* Profit/Loss Trades count the exit deals by the sign of the exit deal's own
  ``profit + swap + commission``: the swap counts (the moving-average report has an exit deal
  with profit 0.00 and a negative swap, counted a loss: 104 printed, 103 by profit alone); the
  entry deal's commission does not (zhijucen 246753: 137/209 printed; by position net 133/212);
  no fixture has a commission on an exit deal, so its inclusion follows MT5's deal result;
* Total Net Profit is the sum over all buy/sell deals, so it includes the entry costs of
  positions still open at the end of a history report.

:func:`platform_totals` puts every printed total in ``stated`` and this recomputation in
``platform_figures``; per-position totals of the trades differ exactly when entry deals carry
money, and a warning then names both. :func:`tester_report` is the whole tester parse, shared by the
HTML and Excel parsers.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from lxml import etree
from lxml import html as lxml_html

from workbench.errors import DataError
from workbench.ingest.parsers._mt5_labels import index as _labels
from workbench.ingest.parsers._numbers import NumberFormat, detect_format
from workbench.ingest.records import CASH_FLOWS_SCHEMA, TRADES_SCHEMA, Parsed, conform, empty
from workbench.ingest.text import clean, decode, timestamp

Row = list[str]
Pairs = list[tuple[str, str]]  # one row's ``label: value`` pairs, label without its colon

_EPS = 1e-9  # volumes are printed with at most a few decimals
MONEY_TOL = 0.011  # MT5 prints cents


# ----------------------------------------------------------------------------- reading


def head_text(head: bytes) -> str:
    """Lenient decoding of a detector's head (it may end in the middle of a character)."""
    if head.startswith(b"\xff\xfe"):
        return head[2:].decode("utf-16-le", errors="ignore")
    if head.startswith(b"\xfe\xff"):
        return head[2:].decode("utf-16-be", errors="ignore")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if len(head) >= 4 and head[1:4:2] == b"\x00\x00" and head[0] and head[2]:
        return head.decode("utf-16-le", errors="ignore")
    return head.decode("utf-8", errors="ignore")


def load_rows(data: bytes, what: str) -> list[Row]:
    """Every ``<tr>`` of an MT5 HTML report as its cleaned cell texts."""
    text = decode(data)  # a byte-order mark or zero bytes say UTF-16; strict: errors name the offset
    if not text.rstrip().lower().endswith("</html>"):
        raise DataError(f"{what}: the file does not end with </html>; it is truncated", where="end")
    try:
        doc = lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError) as e:
        raise DataError(f"{what}: unreadable HTML ({e})", where="1") from None
    return [[clean(c.text_content()) for c in tr if c.tag in ("td", "th")] for tr in doc.iter("tr")]


def sections(rows: Sequence[Row], titles: Iterable[str]) -> dict[str, list[Row]]:
    """Rows grouped under the given (English) section titles; rows before the first are under ``""``."""
    wanted = set(titles)
    out: dict[str, list[Row]] = {"": []}
    current = ""
    for row in rows:
        texts = [c for c in row if c]
        if len(texts) == 1 and texts[0] in wanted and texts[0] not in out:
            current = texts[0]
            out[current] = []
            continue
        out[current].append(row)
    return out


def _is_label(cell: str) -> bool:
    return len(cell) > 1 and cell.endswith((":", "："))


def row_pairs(row: Row) -> Pairs:
    """``[("Total Net Profit", "1 665.38"), ...]`` from a row of ``Label: | value`` cells."""
    return [
        (row[i][:-1].strip(), row[i + 1])
        for i in range(len(row) - 1)
        if _is_label(row[i]) and not _is_label(row[i + 1])
    ]


def label_values(rows: Iterable[Row]) -> dict[str, str]:
    """``{"Total Net Profit": "1 665.38", ...}`` from rows of ``Label: | value`` pairs (first wins)."""
    pairs: dict[str, str] = {}
    for row in rows:
        for label, value in row_pairs(row):
            pairs.setdefault(label, value)
    return pairs


_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def typed(value: str) -> bool | int | float | str:
    """An input value as MT5 prints it -> bool / int / float / str."""
    v = value.strip()
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    if _INT.fullmatch(v):
        return int(v)
    if _FLOAT.fullmatch(v):
        return float(v)
    return v


def inputs(rows: Sequence[Row]) -> dict[str, Any]:
    """The inputs of the settings: from the first ``label: name=value`` row after the Period
    (``Inputs:`` in English, ``Eingaben:``, ``Girdiler:``... elsewhere) while the rows below leave the label blank;
    one ``name=value`` per row, group separators (``=== GENERAL ====``, a bare ``=``) skipped."""
    out: dict[str, Any] = {}
    state = (
        -1
    )  # -1 before the Period row (an expert's name may hold a '='), 0 before the block, 1 in, 2 after
    for row in rows:
        if not row:
            continue
        if state == -1 and len(row) > 1 and PERIOD.match(row[1]):
            state = 0
        elif state == 0 and len(row) > 1 and _is_label(row[0]) and "=" in row[1]:
            state = 1
        elif state == 1 and row[0]:
            state = 2
        if state != 1 or len(row) < 2:
            continue
        name, eq, value = row[1].partition("=")
        name = name.strip()
        if not eq or not name or name.startswith("="):
            continue  # "=== GENERAL ====" and the like
        out[name] = typed(value)
    return out


_PAIR = re.compile(r"^(-?[\d.]+)\s*(%)?\s*(?:\((-?[\d.]+)\s*(%)?\))?")
_DURATION = re.compile(r"^(\d+):(\d{2}):(\d{2})$")


_ANNOTATION = re.compile(r"\((?:[^)]*%[^)]*|\$|count)\)")  # "(won %)", "(% of total)", "($)", "(count)"


def snake(label: str) -> str:
    """``"Correlation (Profits,MFE)"`` -> ``correlation_profits_mfe``; unit annotations dropped."""
    label = _ANNOTATION.sub("", label).replace("%", " pct ")
    return "_".join(re.findall(r"[a-z0-9]+", label.lower()))


_TOKEN = re.compile(r"[+\-\u2212]?\d+(?:[ \u00a0\u202f\u2009',.]\d+)*")


def plain_numbers(text: str, fmt: NumberFormat) -> str:
    """``"2 780 636,00 (48,99%)"`` -> ``"2780636.0 (48.99%)"``: every number of a printed value
    rewritten as Python prints it, under the document's number format (durations are left alone)."""
    if _DURATION.match(text):
        return text

    def one(m: re.Match[str]) -> str:
        value = fmt.parse(m.group(0))
        return m.group(0) if value is None else repr(value)

    return _TOKEN.sub(one, text)


def results_numbers(
    pairs: Mapping[str, str], fmt: NumberFormat | None = None
) -> tuple[dict[str, float], dict[str, str]]:
    """Printed statistics as numbers under snake_case keys, and the ones that are not numbers.

    ``"967.94 (8.09%)"`` -> ``x=967.94, x_pct=8.09``; ``"8.09% (967.94)"`` -> the same keys;
    ``"75 (32.00%)"`` under ``(won %)`` -> ``x=75, x_won_pct=32``;
    ``"5 (359.12)"`` under a ``($)`` label -> ``x=5, x_money=359.12``; ``(count)`` -> ``x_count``;
    ``"0:40:44"`` -> ``x_s=2444``; ``"100% real ticks"`` -> ``x_pct=100``. Numbers are read under
    ``fmt`` (the document's number format; MetaTrader's own by default).
    """
    fmt = fmt or NumberFormat()
    nums: dict[str, float] = {}
    texts: dict[str, str] = {}
    for label, raw in pairs.items():
        key = snake(label)
        if not key:
            continue
        d = _DURATION.match(raw)
        if d:
            h, m, s = (int(x) for x in d.groups())
            nums[f"{key}_s"] = float(h * 3600 + m * 60 + s)
            continue
        value = plain_numbers(raw, fmt).replace(" ", "")
        m = _PAIR.match(value)
        if not m:
            texts[key] = raw
            continue
        first, first_pct, second, second_pct = m.groups()
        try:
            a = float(first)
            b = float(second) if second is not None else None
        except ValueError:
            texts[key] = raw
            continue
        if first_pct:
            nums[f"{key}_pct"] = a
        else:
            nums[key] = a
        if b is not None:
            if second_pct:
                nums[f"{key}_won_pct" if "won %" in label else f"{key}_pct"] = b
            elif key not in nums:
                nums[key] = b
            else:
                suffix = "_count" if "(count)" in label else "_money" if "($)" in label else "_2"
                nums[key + suffix] = b
    return nums, texts


# ----------------------------------------------------------------------------- structure

_TIME = re.compile(r"^\d{4}\.\d{2}\.\d{2} \d{1,2}:\d{2}(?::\d{2})?$")
_TICKET = re.compile(r"^\d+$")
_SPLIT_VOLUME = re.compile(r"^\d+(?:\.\d+)?\s*/\s*\d+(?:\.\d+)?$")
PERIOD = re.compile(r"^(\w+)\s*\((\d{4}\.\d{2}\.\d{2})\s*-\s*(\d{4}\.\d{2}\.\d{2})\)")
# ENUM_DEAL_TYPE as the reports print it; never translated (see _mt5_labels)
DEAL_TYPES = frozenset(
    {"buy", "sell", "balance", "credit", "charge", "correction", "bonus", "commission", "commission daily",
     "commission monthly", "agent commission daily", "agent commission monthly", "interest", "buy canceled",
     "sell canceled", "dividend", "dividend franked", "tax"}
)  # fmt: skip
DIRECTIONS = frozenset({"in", "out", "in/out", "out by"})
# MT5's column order, which no language changes (the names are the English report's)
DEAL_COLUMNS = ("Time", "Deal", "Symbol", "Type", "Direction", "Volume", "Price", "Order")  # money, Comment
ORDER_COLUMNS = ("Open Time", "Order", "Symbol", "Type", "Volume", "Price", "S / L", "T / P", "Time")
POSITION_COLUMNS = ("Time", "Position", "Symbol", "Type", "Volume", "Price", "S / L", "T / P", "Market Price",
                    "Swap", "Profit")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Table:
    """A run of data rows: ``rows[start:end]``, under the header row ``header`` (when there is one)."""

    kind: str  # deals | orders | working_orders | positions (closed) | open_positions
    header: int | None
    start: int
    end: int
    columns: tuple[int, ...]  # cell index of each printed column, in MT5's column order

    def cell(self, row: Row, column: int) -> str:
        i = self.columns[column] if column < len(self.columns) else -1
        return row[i] if 0 <= i < len(row) else ""


def _is_data_row(row: Row) -> bool:
    return len(row) >= 8 and bool(_TIME.match(row[0])) and bool(_TICKET.match(row[1]))


def _is_title(row: Row) -> bool:
    texts = [c for c in row if c]
    return len(texts) == 1 and row[0] == texts[0] and not _is_label(texts[0]) and not _TIME.match(texts[0])


def _columns(rows: Sequence[Row], header: int | None, start: int, end: int) -> tuple[int, ...]:
    """Where each column starts: the header row's filled cells, when every data cell falls on one."""
    if header is not None:
        cols = tuple(i for i, c in enumerate(rows[header]) if c)
        at = set(cols)
        if len(cols) >= 8 and all(i in at for r in rows[start:end] for i, c in enumerate(r) if c):
            return cols
    return tuple(range(max(len(r) for r in rows[start:end])))


def _kind(rows: Sequence[Row], cols: tuple[int, ...]) -> str:
    def cell(r: Row, k: int) -> str:
        return r[cols[k]].lower() if k < len(cols) and cols[k] < len(r) else ""

    directions = {cell(r, 4) for r in rows}
    if directions <= DIRECTIONS | {""} and (directions - {""} or any(cell(r, 3) in DEAL_TYPES for r in rows)):
        return "deals"
    later_time = any(_TIME.match(r[i]) for r in rows for i in cols[5:] if i < len(r))
    if all(_SPLIT_VOLUME.match(cell(r, 4)) for r in rows):
        return "orders" if later_time else "working_orders"
    return "positions" if later_time else "open_positions"


@dataclass(frozen=True, slots=True)
class Layout:
    """A report's rows, its tables and its titled blocks (``(title row or -1, first row, end)``)."""

    rows: list[Row]
    tables: list[Table]
    blocks: list[tuple[int, int, int]]
    in_table: frozenset[int]  # rows of tables: headers, data rows and the Deals totals row

    def table(self, kind: str) -> Table | None:
        return next((t for t in self.tables if t.kind == kind), None)

    def pair_rows(self, start: int, end: int, compact: Callable[[Row], Row]) -> list[tuple[int, Pairs]]:
        """``(row index, pairs)`` of the rows in ``[start, end)`` that print ``label: value`` pairs."""
        out = []
        for i in range(start, end):
            if i in self.in_table:
                continue
            pairs = row_pairs(compact(self.rows[i]))
            if pairs:
                out.append((i, pairs))
        return out


def layout(rows: list[Row]) -> Layout:
    """The tables (runs of data rows) and titled blocks of a report, found by structure alone."""
    tables: list[Table] = []
    taken: set[int] = set()
    i, n = 0, len(rows)
    while i < n:
        if not _is_data_row(rows[i]):
            i += 1
            continue
        j = i
        while j < n and _is_data_row(rows[j]):
            j += 1
        prev = rows[i - 1] if i else []
        header = i - 1 if i and sum(1 for c in prev if c) >= 8 and not _is_data_row(prev) else None
        cols = _columns(rows, header, i, j)
        table = Table(_kind(rows[i:j], cols), header, i, j, cols)
        tables.append(table)
        taken.update(range(i if header is None else header, j))
        if table.kind == "deals" and j < n and rows[j] and not rows[j][0]:
            taken.add(j)  # the totals row
        i = j
    titles = [k for k, row in enumerate(rows) if k not in taken and _is_title(row)]
    starts = [-1, *titles]
    blocks = [(t, t + 1, (starts[x + 1] if x + 1 < len(starts) else n)) for x, t in enumerate(starts)]
    return Layout(rows, tables, blocks, frozenset(taken))


def document_format(rows: Sequence[Row], tables: Iterable[Table], values: Iterable[str]) -> NumberFormat:
    """The number format of the whole report, from its tables' cells and its printed values."""
    samples: list[str] = list(values)
    for t in tables:
        for r in rows[t.start : t.end]:
            samples.extend(t.cell(r, k) for k in range(5, len(t.columns)))
    return detect_format(samples)


# ----------------------------------------------------------------------------- labels by place

_N = r"[+-]?\d+(?:\.\d+)?"
_SHAPES = {
    "num": re.compile(rf"^{_N}$"),
    "int": re.compile(r"^[+-]?\d+(?:\.0)?$"),
    "pct": re.compile(rf"^{_N}\s*%$"),
    "num_pct": re.compile(rf"^{_N}\s*\(\s*{_N}\s*%\s*\)$"),
    "int_pct": re.compile(rf"^[+-]?\d+(?:\.0)?\s*\(\s*{_N}\s*%\s*\)$"),
    "pct_num": re.compile(rf"^{_N}\s*%\s*\(\s*{_N}\s*\)$"),
    "num_num": re.compile(rf"^{_N}\s*\(\s*{_N}\s*\)$"),
    "dur": re.compile(r"^\d+:\d{2}:\d{2}$"),
    "any": re.compile(r"\S"),
}

Slot = tuple[str, str]  # (the English report's label, shape of its value)


@dataclass(frozen=True, slots=True)
class _Group:
    """Consecutive rows of pairs MT5 always prints together; the first ``needed`` rows must be there
    with exactly these pairs (they anchor the group), the others may end early or be missing."""

    needed: int
    rows: tuple[tuple[Slot, ...], ...]


_TRADE_TAIL: tuple[tuple[Slot, ...], ...] = (
    (("Largest profit trade", "num"), ("Largest loss trade", "num")),
    (("Average profit trade", "num"), ("Average loss trade", "num")),
    (("Maximum consecutive wins ($)", "num_num"), ("Maximum consecutive losses ($)", "num_num")),
    (("Maximal consecutive profit (count)", "num_num"), ("Maximal consecutive loss (count)", "num_num")),
    (("Average consecutive wins", "num"), ("Average consecutive losses", "num")),
)
_SHORT_LONG: tuple[Slot, ...] = (("Short Trades (won %)", "int_pct"), ("Long Trades (won %)", "int_pct"))
_WIN_LOSS: tuple[Slot, ...] = (
    ("Profit Trades (% of total)", "int_pct"),
    ("Loss Trades (% of total)", "int_pct"),
)
_CORRELATIONS = _Group(1, ((("Correlation (Profits,MFE)", "num"), ("Correlation (Profits,MAE)", "num"),
                            ("Correlation (MFE,MAE)", "num")),))  # fmt: skip
_HOLDING = _Group(1, ((("Minimal position holding time", "dur"), ("Maximal position holding time", "dur"),
                       ("Average position holding time", "dur")),))  # fmt: skip

# The tester's Results block (builds 1375-5833 in the fixtures; the Excel export of build 5570 puts
# the correlation and holding-time rows before the trades, hence independent groups).
_TESTER_RESULTS = (
    _Group(3, (
        (("Total Net Profit", "num"), ("Balance Drawdown Absolute", "num"), ("Equity Drawdown Absolute", "num")),
        (("Gross Profit", "num"), ("Balance Drawdown Maximal", "num_pct"), ("Equity Drawdown Maximal", "num_pct")),
        (("Gross Loss", "num"), ("Balance Drawdown Relative", "pct_num"), ("Equity Drawdown Relative", "pct_num")),
        (("Profit Factor", "num"), ("Expected Payoff", "num"), ("Margin Level", "pct")),
        (("Recovery Factor", "num"), ("Sharpe Ratio", "num"), ("Z-Score", "num_pct")),
        (("AHPR", "num_pct"), ("LR Correlation", "num"), ("OnTester result", "num")),
        (("GHPR", "num_pct"), ("LR Standard Error", "num")),
    )),
    _Group(2, ((("Total Trades", "int"), *_SHORT_LONG), (("Total Deals", "int"), *_WIN_LOSS), *_TRADE_TAIL)),
    _Group(2, ((("History Quality", "any"),), (("Bars", "int"), ("Ticks", "int"), ("Symbols", "int")))),
    _CORRELATIONS,
    _HOLDING,
)  # fmt: skip
# The history report's Results block
_HISTORY_RESULTS = (
    _Group(2, (
        (("Total Net Profit", "num"), ("Gross Profit", "num"), ("Gross Loss", "num")),
        (("Profit Factor", "num"), ("Expected Payoff", "num")),
        (("Recovery Factor", "num"), ("Sharpe Ratio", "num")),
    )),
    _Group(1, ((("Balance Drawdown Absolute", "num"), ("Balance Drawdown Maximal", "num_pct"),
                ("Balance Drawdown Relative", "pct_num")),)),
    _Group(2, ((("Total Trades", "int"), *_SHORT_LONG), _WIN_LOSS, *_TRADE_TAIL)),
    _CORRELATIONS,
    _HOLDING,
)  # fmt: skip
# A history report's account summary, between its last table and its Results
_ACCOUNT_SUMMARY = (
    _Group(1, (
        (("Balance", "num"), ("Free Margin", "num")),
        (("Credit Facility", "num"), ("Margin", "num")),
        (("Floating P/L", "num"), ("Margin Level", "pct")),
        (("Equity", "num"),),
    )),
)  # fmt: skip


def _fits(pairs: Pairs, slots: tuple[Slot, ...], exact: bool, fmt: NumberFormat) -> bool:
    if not pairs or len(pairs) > len(slots) or (exact and len(pairs) != len(slots)):
        return False
    return all(
        _SHAPES[shape].match(plain_numbers(v, fmt)) for (_, v), (_, shape) in zip(pairs, slots, strict=False)
    )


def places(prows: Sequence[Pairs], groups: Sequence[_Group], fmt: NumberFormat) -> dict[tuple[int, int], str]:
    """``(row, pair) -> English label`` for the pairs that stand where MT5's layout puts a figure."""
    used: set[int] = set()
    out: dict[tuple[int, int], str] = {}
    for g in groups:
        for start in range(len(prows)):
            k = 0
            while (
                k < len(g.rows)
                and start + k < len(prows)
                and start + k not in used
                and _fits(prows[start + k], g.rows[k], k < g.needed, fmt)
            ):
                k += 1
            if k >= g.needed:
                for r in range(start, start + k):
                    used.add(r)
                    for s in range(len(prows[r])):
                        out[(r, s)] = g.rows[r - start][s][0]
                break
    return out


@dataclass
class Reading:
    """What a block's labels were read as, and how."""

    values: dict[str, str] = field(default_factory=dict)  # English label -> printed value
    by_place: list[tuple[str, str]] = field(default_factory=list)  # (printed label, English) by position
    left_out: list[str] = field(default_factory=list)  # printed labels neither a table nor the layout knows
    overruled: list[tuple[str, str, str]] = field(default_factory=list)  # (printed, table says, place says)
    languages: Counter[str] = field(default_factory=Counter)

    def add(self, other: Reading) -> None:
        for k, v in other.values.items():
            self.values.setdefault(k, v)
        self.by_place += other.by_place
        self.left_out += other.left_out
        self.overruled += other.overruled
        self.languages.update(other.languages)


_SAME = {"Broker": "Company"}  # old builds print "Broker:" where new ones print "Company:"


def read_pairs(prows: Sequence[Pairs], placed: Mapping[tuple[int, int], str]) -> Reading:
    """Each pair's English label: the translation tables' reading, checked against its place."""
    out = Reading()
    for r, pairs in enumerate(prows):
        for s, (label, value) in enumerate(pairs):
            english = _labels.english(label)
            place = placed.get((r, s))
            if english is not None:
                out.languages.update(_labels.languages(label))
            if english is not None and place is not None and _SAME.get(english, english) != place:
                out.overruled.append((label, english, place))
                english = place
            elif english is None and place is not None:
                out.by_place.append((label, place))
                english = place
            if english is None:
                out.left_out.append(label)
                continue
            out.values.setdefault(english, value)
    return out


def language(reading: Reading) -> str | None:
    """The interface language most of the labels are in (English only when nothing else is)."""
    other = [(n, lang) for lang, n in reading.languages.items() if lang != "en"]
    if other:
        return max(other)[1]
    return "en" if reading.languages else None


def label_notes(reading: Reading) -> list[str]:
    """One warning naming the labels no translation table knows (and one for overruled labels)."""
    notes = []
    if reading.by_place or reading.left_out:
        parts = []
        if reading.by_place:
            shown = ", ".join(f"{label!r} = {english}" for label, english in reading.by_place)
            parts.append(f"read by their place in MT5's fixed layout: {shown}")
        if reading.left_out:
            parts.append(f"left out: {', '.join(repr(x) for x in reading.left_out)}")
        notes.append(
            f"{len(reading.by_place) + len(reading.left_out)} report label(s) are in no MT5 translation table "
            f"(an interface language not mapped yet); {'; '.join(parts)}"
        )
    if reading.overruled:
        notes.append(
            "label(s) whose translation disagrees with their place in MT5's layout, read by place: "
            + ", ".join(
                f"{label!r} ({said} by the table, {place} by place)"
                for label, said, place in reading.overruled
            )
        )
    return notes


# ----------------------------------------------------------------------------- orders


def orders_sl_tp(
    rows: Sequence[Row], table: Table | None, fmt: NumberFormat
) -> dict[str, tuple[float | None, float | None]]:
    """``order ticket -> (S/L, T/P)`` from the Orders table (MT5's column order)."""
    if table is None:
        return {}
    out: dict[str, tuple[float | None, float | None]] = {}
    for r in rows[table.start : table.end]:
        sl, tp = fmt.parse(table.cell(r, 6)), fmt.parse(table.cell(r, 7))
        out[table.cell(r, 1)] = (sl or None, tp or None)
    return out


def open_positions(rows: Sequence[Row], table: Table | None, fmt: NumberFormat) -> list[dict[str, object]]:
    """Open positions as printed (Time | Position | Symbol | Type | Volume | Price | ... | Profit)."""
    if table is None:
        return []
    return [
        {
            "position": table.cell(r, 1),
            "symbol": table.cell(r, 2) or None,
            "type": table.cell(r, 3) or None,
            "volume": fmt.parse(table.cell(r, 4)),
            "price": fmt.parse(table.cell(r, 5)),
            "profit": fmt.parse(table.cell(r, 10)),
        }
        for r in rows[table.start : table.end]
    ]


# ----------------------------------------------------------------------------- deals


@dataclass(slots=True)
class Deal:
    time: datetime
    ticket: str
    symbol: str
    type: str  # buy | sell | balance | credit | charge | ...
    entry: str  # in | out | in/out | out by | ""
    volume: float
    price: float | None
    order: str
    commission: float  # including the "Fee" column of newer builds
    swap: float
    profit: float
    balance: float
    comment: str

    @property
    def amount(self) -> float:
        return self.profit + self.commission + self.swap


# The money columns between Order and Comment, by their count (builds with a Fee column print five)
_MONEY_COLUMNS = {
    4: ("Commission", "Swap", "Profit", "Balance"),
    5: ("Commission", "Fee", "Swap", "Profit", "Balance"),
}


def deals(rows: Sequence[Row], table: Table | None, fmt: NumberFormat) -> list[Deal]:
    """The Deals table: one row per deal, then the totals row (checked against the deals)."""
    if table is None:
        raise DataError(
            "no Deals table (rows 'time | deal | symbol | buy/sell/balance | in/out | ...'); "
            "not a complete MT5 report",
            where="Deals",
        )
    n_money = len(table.columns) - len(DEAL_COLUMNS) - 1  # the last column is the comment
    money = _MONEY_COLUMNS.get(n_money)
    if money is None:
        raise DataError(
            f"the Deals table has {len(table.columns)} columns; MT5 prints 13 (or 14 with a Fee column)",
            where="Deals",
        )
    at = {name: len(DEAL_COLUMNS) + k for k, name in enumerate(money)}
    out: list[Deal] = []
    for r in rows[table.start : table.end]:
        ticket = table.cell(r, 1)
        where = f"deal {ticket}"
        kind, entry = table.cell(r, 3).lower(), table.cell(r, 4).lower()
        if entry and kind not in ("buy", "sell"):
            raise DataError(
                f"deal type {table.cell(r, 3)!r} with direction {entry!r}: not a type MT5 writes "
                "(it prints buy/sell in every interface language)",
                where=where,
            )
        vals = {c: fmt.number(table.cell(r, k), where=where, what=c) for c, k in at.items()}
        out.append(
            Deal(
                time=timestamp(table.cell(r, 0), where=where),
                ticket=ticket,
                symbol=table.cell(r, 2),
                type=kind,
                entry=entry,
                volume=fmt.parse(table.cell(r, 5)) or 0.0,
                price=fmt.parse(table.cell(r, 6)),
                order=table.cell(r, 7),
                commission=vals["Commission"] + vals.get("Fee", 0.0),
                swap=vals["Swap"],
                profit=vals["Profit"],
                balance=vals["Balance"],
                comment=table.cell(r, len(table.columns) - 1),
            )
        )
    totals = rows[table.end] if table.end < len(rows) else None
    if not totals or totals[0]:
        raise DataError("the Deals table has no closing totals row; the file is truncated", where="Deals")
    _check_deals(out, totals, money, fmt)
    return out


def _check_deals(ds: Sequence[Deal], totals: Row, money: Sequence[str], fmt: NumberFormat) -> None:
    """The running Balance column and the totals row must agree with the deals."""
    if ds:
        running = ds[0].balance - ds[0].amount
        for d in ds:
            running += d.amount
            if abs(running - d.balance) > MONEY_TOL:
                raise DataError(
                    f"balance {d.balance:,.2f} does not follow from the previous deals ({running:,.2f})",
                    where=f"deal {d.ticket}",
                )
            running = d.balance
    printed = [c for c in totals if c]
    if len(printed) != len(money):
        raise DataError(
            f"the Deals totals row has {len(printed)} figures, expected {len(money)}", where="Deals"
        )
    got = dict(zip(money, (fmt.number(v, where="Deals totals") for v in printed), strict=True))
    # The column totals leave deposits/withdrawals out; other non-trade deals are not seen in
    # the fixtures, so either reading is accepted for them.
    for counted in ({"buy", "sell"}, None):
        part = [d for d in ds if (d.type in counted if counted else d.type not in ("balance", "credit"))]
        sums = {
            "Commission": sum(d.commission for d in part) - got.get("Fee", 0.0),
            "Swap": sum(d.swap for d in part),
            "Profit": sum(d.profit for d in part),
            "Balance": ds[-1].balance if ds else 0.0,
        }
        bad = [c for c, v in sums.items() if abs(v - got[c]) > MONEY_TOL]
        if not bad:
            break
    if bad:
        c = bad[0]
        raise DataError(
            f"the Deals totals row prints {c} {got[c]:,.2f} but the deals add up to {sums[c]:,.2f}",
            where="Deals totals",
        )


# ----------------------------------------------------------------------------- trades


@dataclass(slots=True)
class _Lot:
    deal: Deal
    volume: float  # still open
    commission: float  # not yet allocated to a closing trade
    swap: float
    profit: float


_TRADE_TYPES = {"buy": "long", "sell": "short"}
_CLOSES = {"buy": "short", "sell": "long"}  # an exit deal of this type closes that side
_FLOW_KINDS = {"balance": None, "credit": "credit"}  # others: "adjustment"


@dataclass(frozen=True, slots=True)
class Ledger:
    trades: pl.DataFrame
    cash_flows: pl.DataFrame
    opening_balance: float  # balance before the first deal
    final_balance: float  # balance after the last deal
    initial_deposit: float | None  # the first balance deal when it opened an empty account (absorbed)
    entry_money: bool  # some entry deal carries commission/swap/profit
    open_positions: list[dict[str, Any]] = field(default_factory=list)
    open_money: float = 0.0  # entry money of positions still open (in MT5's totals, not in trades)
    mt5: dict[str, float | None] = field(default_factory=dict)  # statistics by MT5's per-deal definitions


def build(
    ds: Sequence[Deal], sl_tp: Mapping[str, tuple[float | None, float | None]], *, absorb_deposit: bool
) -> Ledger:
    """Closed trades (FIFO per symbol and side), cash flows and MT5-style statistics from the deals.

    ``absorb_deposit``: the first deal, a ``balance`` deal into an empty account, is the initial
    deposit (the tester's "Initial Deposit") rather than a cash flow.
    """
    books: dict[tuple[str, str], deque[_Lot]] = {}
    trades: list[dict[str, Any]] = []
    flows: list[dict[str, Any]] = []
    results: list[float] = []  # MT5: result of every buy/sell deal
    exits: list[float] = []  # MT5: result of every exit deal
    entry_money = False
    opening = ds[0].balance - ds[0].amount if ds else 0.0
    deposit: float | None = None
    for i, d in enumerate(ds):
        where = f"deal {d.ticket}"
        if d.type not in _TRADE_TYPES:
            if i == 0 and absorb_deposit and d.type == "balance" and abs(opening) < _EPS:
                deposit = d.amount
                continue
            kind = _FLOW_KINDS.get(d.type, "adjustment")
            if kind is None:
                kind = "deposit" if d.amount >= 0 else "withdrawal"
            flows.append({"time": d.time, "amount": d.amount, "kind": kind, "comment": d.comment or d.type})
            continue
        if not d.symbol or d.volume <= 0:
            raise DataError(f"{d.type} deal without symbol or volume", where=where)
        results.append(d.amount)
        if d.entry == "in":
            entry_money |= d.amount != 0
            books.setdefault((d.symbol, _TRADE_TYPES[d.type]), deque()).append(
                _Lot(d, d.volume, d.commission, d.swap, d.profit)
            )
            continue
        if d.entry not in ("out", "in/out", "out by"):
            raise DataError(f"unknown deal direction {d.entry!r}", where=where)
        exits.append(d.amount)
        side = _CLOSES[d.type]
        book = books.get((d.symbol, side), deque())
        open_volume = sum(lot.volume for lot in book)
        closing = min(d.volume, open_volume) if d.entry == "in/out" else d.volume
        if closing > open_volume + _EPS or closing <= _EPS:
            raise DataError(
                f"{d.type} {d.entry} of {d.volume:g} {d.symbol} but only {open_volume:g} {side} are open "
                "(the report starts after the position was opened, or is inconsistent)",
                where=where,
            )
        share = closing / d.volume  # of the exit deal's commission (< 1 only for in/out)
        trade = _close(book, d, closing, share, side, sl_tp)
        rest = d.commission - trade.pop("_c")
        trades.append(trade)
        if d.entry == "in/out" and d.volume - closing > _EPS:
            entry_money |= rest != 0
            books.setdefault((d.symbol, _TRADE_TYPES[d.type]), deque()).append(
                _Lot(d, d.volume - closing, rest, 0.0, 0.0)
            )
    still_open = [
        {
            "symbol": lot.deal.symbol,
            "direction": side,
            "volume": lot.volume,
            "open_time": lot.deal.time,
            "entry_price": lot.deal.price,
            "deal": lot.deal.ticket,
        }
        for (_, side), book in books.items()
        for lot in book
        if lot.volume > _EPS
    ]
    open_money = sum(lot.commission + lot.swap + lot.profit for book in books.values() for lot in book)
    gp = sum(r for r in results if r > 0)
    gl = sum(r for r in results if r < 0)
    mt5 = {
        "gross_profit": gp,
        "gross_loss": gl,
        "profit_factor": gp / -gl if gl < 0 else None,  # None: no losing deal (JSON has no inf)
        "total_trades": float(len(exits)),
        "winning_trades": float(sum(r > 0 for r in exits)),
        "losing_trades": float(sum(r < 0 for r in exits)),
        "net_profit": sum(results),
        "final_balance": opening + sum(d.amount for d in ds),  # the running balance, recomputed
    }
    return Ledger(
        trades=conform(trades, TRADES_SCHEMA) if trades else empty(TRADES_SCHEMA),
        cash_flows=conform(flows, CASH_FLOWS_SCHEMA) if flows else empty(CASH_FLOWS_SCHEMA),
        opening_balance=opening,
        final_balance=ds[-1].balance if ds else 0.0,
        initial_deposit=deposit,
        entry_money=entry_money,
        open_positions=still_open,
        open_money=open_money,
        mt5=mt5,
    )


def _close(
    book: deque[_Lot],
    d: Deal,
    volume: float,
    share: float,
    side: str,
    sl_tp: Mapping[str, tuple[float | None, float | None]],
) -> dict[str, Any]:
    """Take ``volume`` from the FIFO ``book`` for exit deal ``d``; the trade's row."""
    commission = d.commission * share  # an in/out deal's commission is split with the new position
    swap = d.swap
    profit = d.profit
    own_c = commission
    left = volume
    cost = 0.0
    prices: set[float | None] = set()
    first: _Lot | None = None
    while left > _EPS:
        lot = book[0]
        first = first or lot
        take = min(left, lot.volume)
        if take >= lot.volume - _EPS:  # the whole remaining lot: all its remaining money
            fc, fs, fp = lot.commission, lot.swap, lot.profit
            book.popleft()
        else:
            f = take / lot.volume
            fc, fs, fp = lot.commission * f, lot.swap * f, lot.profit * f
            lot.volume -= take
            lot.commission -= fc
            lot.swap -= fs
            lot.profit -= fp
        commission += fc
        swap += fs
        profit += fp
        cost += take * (lot.deal.price or 0.0)
        prices.add(lot.deal.price)
        left -= take
    assert first is not None
    sl, tp = sl_tp.get(first.deal.order, (None, None))
    return {
        "trade_id": d.ticket,
        "open_time": first.deal.time,
        "close_time": d.time,
        "symbol": d.symbol,
        "direction": side,
        "volume": volume,
        "entry_price": next(iter(prices)) if len(prices) == 1 else cost / volume,  # exact when one price
        "exit_price": d.price,
        "stop_loss": sl,
        "take_profit": tp,
        "commission": commission,
        "swap": swap,
        "profit": profit,
        "net_profit": profit + commission + swap,
        "pips": None,
        "comment": d.comment or None,
        "_c": own_c,
    }


# ----------------------------------------------------------------------------- totals

# printed label -> contract key
RESULT_KEYS = {
    "total_net_profit": "net_profit",
    "gross_profit": "gross_profit",
    "gross_loss": "gross_loss",
    "profit_factor": "profit_factor",
    "total_trades": "total_trades",
    "profit_trades": "winning_trades",
    "loss_trades": "losing_trades",
}
_PER_DEAL = ("gross_profit", "gross_loss", "profit_factor", "winning_trades", "losing_trades")


def _fmt(x: float | None) -> str:
    return "no losing deal" if x is None else f"{x:,.2f}"


CONVENTION = "mt5 per deal"
TIMEZONE = "server time, offset unknown"  # MT5 prints broker server time and never its offset


def printed_totals(results: Mapping[str, float]) -> dict[str, float]:
    """The Results figures under their contract keys (``Total Net Profit`` -> ``net_profit``...)."""
    return {key: float(results[label]) for label, key in RESULT_KEYS.items() if label in results}


def per_position(trades: pl.DataFrame) -> dict[str, float]:
    """Gross profit/loss and win/loss counts of the trades' per-position ``net_profit``."""
    net = trades["net_profit"]
    gp, gl = float(net.filter(net > 0).sum()), float(net.filter(net < 0).sum())
    return {
        "net_profit": float(net.sum()),
        "gross_profit": gp,
        "gross_loss": gl,
        "winning_trades": float((net > 0).sum()),
        "losing_trades": float((net < 0).sum()),
    }


def platform_totals(
    ledger: Ledger, results: Mapping[str, float]
) -> tuple[dict[str, float], dict[str, float], list[str]]:
    """``(stated, platform_figures, warnings)`` for a report's Results.

    ``stated``: every total the Results print (contract keys). ``platform_figures``: the same keys
    recomputed from the deals under MT5's per-deal convention, plus ``final_balance`` (the callers
    add what they print of the balances). The validator compares the two; nothing is checked here.
    ``warnings``: one line where MT5's convention and the per-position figures of the trades part.
    """
    stated = printed_totals(results)
    platform: dict[str, float] = {}
    for key in (*stated, "final_balance"):
        value = ledger.mt5.get(key)
        if value is not None:  # money to the cent (sums of printed cents; drops float noise)
            platform[key] = float(value) if key.endswith(("_trades", "_factor")) else round(float(value), 2)
    if "profit_factor" in stated and "profit_factor" not in platform and stated["profit_factor"] == 0:
        platform["profit_factor"] = 0.0  # no losing deal: MT5 prints 0.00
    notes: list[str] = []
    mine = per_position(ledger.trades) if ledger.trades.height else {}
    differs = [
        k
        for k in ("gross_profit", "gross_loss", "winning_trades", "losing_trades")
        if k in mine and ledger.mt5.get(k) is not None and abs(float(ledger.mt5[k] or 0.0) - mine[k]) > 0.005
    ]
    if differs:

        def show(k: str, v: float) -> str:
            return f"{v:.0f}" if k.endswith("_trades") else f"{v:,.2f}"

        notes.append(
            "MT5 counts per deal (an entry deal's commission is a losing deal of its own, a trade's result is "
            "its exit deal's): "
            + ", ".join(
                f"{k.replace('_', ' ')} {show(k, float(ledger.mt5[k] or 0.0))} per deal vs {show(k, mine[k])} "
                "per position"
                for k in differs
            )
        )
    if abs(ledger.open_money) > 0.005:
        notes.append(
            f"{len(ledger.open_positions)} position(s) still open: their entry costs "
            f"({ledger.open_money:,.2f}) are in MT5's net profit and balance but in no closed trade"
        )
    return stated, platform, notes


_BUILD = re.compile(r"^(.*?)\s*\([^\d()]*?(\d{3,5})\)$")  # "TradeMaxGlobal-Demo (Build 5833)"
_LEVERAGE = re.compile(r"^1\s*:\s*\d+(?:\.\d+)?$")
_CURRENCY = re.compile(r"^[A-Z]{3,4}$")
_ACCOUNT = re.compile(r"^\S+\s*\(.*\)$")  # "3873474 (USD, 1:100, MetaQuotes-Demo, demo)"


def server_build(rows: Sequence[Row]) -> tuple[str | None, int | None]:
    """``("TradeMaxGlobal-Demo", 5833)`` from the report's ``server (Build N)`` line."""
    for row in rows[:5]:
        texts = [c for c in row if c]
        if len(texts) == 1:
            m = _BUILD.match(texts[0])
            if m:
                return m.group(1), int(m.group(2))
    return None, None


def _settings_places(pairs: Sequence[tuple[str, str]], fmt: NumberFormat) -> dict[tuple[int, int], str]:
    """MT5's settings order: Expert, Symbol, Period (``H1 (2024.12.30 - 2026.07.01)``), Inputs,
    Company, Currency, Initial Deposit, Leverage (``1:100``)."""
    out: dict[tuple[int, int], str] = {}
    p = next((i for i, (_, v) in enumerate(pairs) if PERIOD.match(v)), None)
    if p is None:
        return out
    for k, name in ((p, "Period"), (p - 1, "Symbol"), (p - 2, "Expert")):
        if k >= 0:
            out[(k, 0)] = name
    if p + 1 < len(pairs) and "=" in pairs[p + 1][1]:
        out[(p + 1, 0)] = "Inputs"
    lev = next((i for i in range(len(pairs) - 1, p, -1) if _LEVERAGE.match(pairs[i][1])), None)
    if lev is not None:
        out[(lev, 0)] = "Leverage"
        checks: tuple[tuple[int, str, Callable[[str], object]], ...] = (
            (lev - 1, "Initial Deposit", fmt.parse),
            (lev - 2, "Currency", _CURRENCY.match),
            (lev - 3, "Company", bool),
        )
        for k, name, ok in checks:
            if k <= p or (k, 0) in out or not ok(pairs[k][1]):
                break
            out[(k, 0)] = name
    return out


def _symbols(ds: Sequence[Deal], trades: pl.DataFrame) -> dict[str, dict[str, float | int]]:
    """``{symbol: {"deals", "trades", "net_profit"}}`` in order of first appearance."""
    counts = Counter(d.symbol for d in ds if d.symbol and d.type in _TRADE_TYPES)
    by = {
        r["symbol"]: (r["trades"], r["net_profit"])
        for r in trades.group_by("symbol")
        .agg(pl.len().alias("trades"), pl.col("net_profit").sum())
        .to_dicts()
    }
    return {
        s: {
            "deals": n,
            "trades": int(by.get(s, (0, 0.0))[0]),
            "net_profit": round(float(by.get(s, (0, 0.0))[1]), 2),
        }
        for s, n in counts.items()
    }


def _identity(row: Row) -> Row:
    return row


NO_RESULTS = "no Results block: printed totals not reconciled"


def tester_report(
    rows: list[Row],
    *,
    fmt: str,
    what: str,
    compact: Callable[[Row], Row] = _identity,
    meta: Mapping[str, Any] | None = None,
) -> Parsed:
    """A Strategy Tester report (HTML rows, or the Excel sheet's rows with ``compact`` dropping the
    cells its merges leave empty) in any interface language -> :class:`Parsed`.

    Every Results total is stated; ``platform_figures`` recompute them per deal (MT5's convention),
    so the printed figures are reproduced even where they differ from the per-position figures of the
    trades. A test may trade several symbols although the settings name one: trades keep their own
    symbol, ``Parsed.symbol`` is then None and ``meta["symbols"]`` has each symbol's figures.
    """
    lay = layout(rows)
    blocks = [lay.pair_rows(start, end, compact) for _, start, end in lay.blocks]
    si = next((k for k, b in enumerate(blocks) if any(PERIOD.match(v) for _, ps in b for _, v in ps)), None)
    if si is None:
        raise DataError(
            f"no Settings block (no 'Period: H1 (yyyy.mm.dd - yyyy.mm.dd)' value); not an {what}",
            where="Settings",
        )
    # A report without its Results block (cut by hand, an odd build) still has its deals: they are
    # ingested, with a warning that no printed total could be reconciled.
    ri = next((k for k in range(si + 1, len(blocks)) if blocks[k]), None)
    values = [v for k in (si, ri) if k is not None for _, ps in blocks[k] for _, v in ps]
    num = document_format(rows, lay.tables, values)
    flat = [p for _, ps in blocks[si] for p in ps]
    reading = read_pairs([[p] for p in flat], _settings_places(flat, num))
    settings = dict(reading.values)
    res_rows = [ps for _, ps in blocks[ri]] if ri is not None else []
    results_read = read_pairs(res_rows, places(res_rows, _TESTER_RESULTS, num))
    reading.add(results_read)
    for label in ("Expert", "Symbol", "Period", "Initial Deposit"):
        if label not in settings:
            raise DataError(f"the settings have no {label!r}", where=f"Settings.{label}")
    period = PERIOD.match(settings["Period"])
    assert period is not None  # the block was chosen by it
    deposit = num.number(settings["Initial Deposit"], where="Settings.Initial Deposit")
    results, results_text = results_numbers(results_read.values, num)

    ds = deals(rows, lay.table("deals"), num)
    ledger = build(ds, orders_sl_tp(rows, lay.table("orders"), num), absorb_deposit=True)
    if ledger.initial_deposit is None:
        raise DataError("the first deal is not the initial balance deal", where="Deals")
    stated, platform, notes = platform_totals(ledger, results)
    if ri is None:
        notes.insert(0, NO_RESULTS)
    stated["initial_balance"] = deposit  # "Initial Deposit:"
    platform["initial_balance"] = ledger.initial_deposit  # the first, balance, deal
    stated["final_balance"] = ledger.final_balance  # the Deals table's last Balance (and totals row)

    header_symbol = settings["Symbol"]
    per_symbol = _symbols(ds, ledger.trades)
    symbols = list(per_symbol)
    if len(symbols) > 1 or (symbols and symbols != [header_symbol]):
        notes.append(
            f"the settings name the symbol {header_symbol} but the deals trade {', '.join(symbols)}; "
            "each trade keeps its own symbol"
        )
    printed_symbols = results.get("symbols")
    if printed_symbols is not None and int(printed_symbols) != len(symbols):
        notes.append(f"the report prints Symbols: {int(printed_symbols)} but the deals trade {len(symbols)}")
    if ledger.open_positions and abs(ledger.open_money) <= 0.005:
        notes.append(f"{len(ledger.open_positions)} position(s) still open at the end are not trades")
    notes += label_notes(reading)

    server, build_no = server_build(rows)
    expert, tf = settings["Expert"], period.group(1).lower()
    symbol = header_symbol if len(symbols) <= 1 else None
    return Parsed(
        format=fmt,
        kind="backtest",
        name=f"{expert} {symbol or '+'.join(symbols)} {tf}",
        platform="mt5",
        strategy=expert,
        symbol=symbol,
        timeframe=tf,
        currency=settings.get("Currency") or None,
        initial_balance=ledger.initial_deposit,
        start=timestamp(period.group(2), where="Settings.Period"),
        end=timestamp(period.group(3), where="Settings.Period"),
        parameters=inputs([compact(r) for r in rows[lay.blocks[si][1] : lay.blocks[si][2]]]),
        trades=ledger.trades,
        cash_flows=ledger.cash_flows,
        stated=stated,
        platform_figures=platform,
        convention=CONVENTION,
        warnings=tuple(notes),
        meta={
            "broker": settings.get("Company") or settings.get("Broker"),
            "server": server,
            "build": build_no,
            "leverage": settings.get("Leverage"),
            "volume_unit": "lots",
            "language": language(reading),
            "number_format": num.describe(),
            "header_symbol": header_symbol,
            "symbols": per_symbol,
            "results": results,
            "results_text": results_text,
            "mt5_statistics": ledger.mt5,
            "timezone": TIMEZONE,
            "deals": len(ds),
            "open_positions": ledger.open_positions,
            **(meta or {}),
        },
    )


@dataclass(frozen=True, slots=True)
class HistoryParts:
    """A trade history report's printed blocks, each keyed by the English report's labels."""

    layout: Layout
    header: dict[str, str]  # Name, Account, Company/Broker, Date
    summary: dict[str, str]  # Balance, Equity, Margin...
    results: dict[str, str]  # empty when the report has no Results block (see ``has_results``)
    reading: Reading
    fmt: NumberFormat
    has_results: bool = True


# A Results block prints twenty-odd figures; the account summary (Balance, Credit Facility, Floating P/L,
# Equity, Free Margin, Margin, Margin Level) seven. A titled block after the tables with fewer pairs than
# this is no Results block, whatever its labels say (an unknown language included).
_MIN_RESULTS_PAIRS = 10


def _header_places(pairs: Sequence[tuple[str, str]]) -> dict[tuple[int, int], str]:
    """MT5's header order: Name, Account (``login (USD, 1:100, server, demo)``), Company, Date."""
    out: dict[tuple[int, int], str] = {}
    a = next((i for i, (_, v) in enumerate(pairs) if _ACCOUNT.match(v)), None)
    if a is not None:
        out[(a, 0)] = "Account"
        if a >= 1:
            out[(a - 1, 0)] = "Name"
        if a + 1 < len(pairs) and not _TIME.match(pairs[a + 1][1]):
            out[(a + 1, 0)] = "Company"
    for i, (_, v) in enumerate(pairs):
        if _TIME.match(v) or re.match(r"^\d{4}\.\d{2}\.\d{2}$", v):
            out[(i, 0)] = "Date"
            break
    return out


def history_parts(rows: list[Row], what: str) -> HistoryParts:
    """The blocks of a trade history report in any interface language, found by structure."""
    lay = layout(rows)
    if not lay.tables:
        raise DataError(f"no Deals table; not a complete {what}", where="Deals")
    first = lay.tables[0]
    last_end = max(t.end for t in lay.tables)
    head = [p for _, ps in lay.pair_rows(0, first.header if first.header is not None else first.start, _identity)
            for p in ps]  # fmt: skip
    after = [(t, s, e) for t, s, e in lay.blocks if t >= last_end]

    def pairs(start: int, end: int) -> int:
        return sum(len(ps) for _, ps in lay.pair_rows(start, end, _identity))

    # A report without its Results block (cut by hand, saved by an odd build) still has its deals and its
    # account summary: parsed, with a warning that no printed total is reconciled (the parser adds it).
    # The file's end is checked elsewhere (</html>, the Deals totals row), so a truncated file is not this.
    res = next((b for b in reversed(after) if pairs(b[1], b[2]) >= _MIN_RESULTS_PAIRS), None)
    summary_end = res[0] if res is not None else len(rows)
    summary_rows = [ps for _, ps in lay.pair_rows(last_end, summary_end, _identity)]
    result_rows = [ps for _, ps in lay.pair_rows(res[1], res[2], _identity)] if res is not None else []
    values = [v for ps in (*summary_rows, *result_rows) for _, v in ps] + [v for _, v in head]
    num = document_format(rows, lay.tables, values)
    header = read_pairs([[p] for p in head], _header_places(head))
    summary = read_pairs(summary_rows, places(summary_rows, _ACCOUNT_SUMMARY, num))
    results = read_pairs(result_rows, places(result_rows, _HISTORY_RESULTS, num))
    reading = Reading()
    for part in (header, summary, results):
        reading.add(part)
    return HistoryParts(
        lay, dict(header.values), dict(summary.values), dict(results.values), reading, num, res is not None
    )
