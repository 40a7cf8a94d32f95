"""MetaTrader 4 account statements (``Statement.htm``, "Save as Report" / "Save as Detailed Report").

One table: an ``Account | Name | Currency | Leverage | date`` row, then sections headed by a
one-cell bold row (``Closed Transactions:``, ``Open Trades:``, ``Working Orders:``, ``Summary:``,
``Details:``). Closed transactions have the columns ``Ticket | Open Time | Type | Size | Item |
Price | S / L | T / P | Close Time | Price | Commission | Taxes | Swap | Profit``; among them sit
``balance``/``credit`` rows (deposits, withdrawals, adjustments, interest: cash flows, not
trades), cancelled pending orders (skipped) and second-line rows carrying a ticket's comment
(skipped; the comment is also the ticket cell's ``title``). The section ends with a totals row
(Commission | Taxes | Swap | Profit sums, checked against the rows) and the ``Closed P/L`` line.

**Structure first.** Labels follow the terminal's language, the trade-type words (``buy``,
``sell``, ``balance``, ``buy limit``...) and the ``YYYY.MM.DD HH:MM:SS`` dates do not. Sections are
told apart by their shape: a 14-column table whose rows have close times (closed transactions)
or none (open trades), a table of pending orders (working orders), then two blocks of
``label | value`` pairs (Summary, Details). Labels in :data:`LABELS` name the figures; a label
in an unknown language is read by its position in MetaTrader's fixed layout (the Summary's
position reading is checked: Equity = Balance + Floating P/L + Credit) and named in
``meta["labels_unrecognised"]``.

**Numbers** are read with one format per document (:mod:`._numbers`): ``100 000.00``,
``52 423`` (a JPY account), ``1,234.56`` or ``1 234,56`` (re-saved through Excel).

**Rows in any order.** MetaTrader lists the history in whatever order the user sorted it
(newest first, by ticket...); trades and cash flows are returned in time order (close time,
open time, ticket), and ``meta["row_order"]`` says how they were listed.

**The platform's convention.** "Closed Trade P/L" (Summary), "Closed P/L" (after the rows) and
"Total Net Profit" (Details) are Commission + Taxes + Swap + Profit over the closed trades, i.e.
the trades' ``net_profit``; Details' Gross Profit/Loss, Profit Factor and trade counts are over
each closed ticket's net result (Gross Loss printed as a positive amount). ``platform_figures``
recompute every printed figure that way (``convention = "mt4 statement closed trade P/L"``); they
equal the per-position figures except ``final_balance``, which leaves credit out as MetaTrader
does. A statement that prints different P/L totals (re-saved or edited by hand) is reconciled
against the one its rows add up to, with a warning naming the other.

**Opening balance.** A statement prints no opening balance. When Balance = Deposit/Withdrawal +
Closed Trade P/L the rows explain the whole balance and the account started empty (0). When
Balance is larger, the statement covers a sub-period and the opening balance is *derived*
(Balance - Deposit/Withdrawal - Closed Trade P/L, assuming the period runs to the moment the
statement was saved; ``meta["initial_balance_source"]`` says so). When it is smaller, money left
the account outside the rows (typically a statement for a period that ends before it was saved:
Balance is the balance at saving time): the opening balance is unknown (``None``), never a
negative invention, and the printed Balance is not reconciled (a warning says why).

Taxes have no column of their own in the trades schema: they are added to ``commission``
(``meta["taxes"]`` keeps their total). Times are broker server time with an unknown offset.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import lxml.etree

from workbench.errors import DataError
from workbench.ingest.parsers._mt_labels import MT4_TESTER_LABELS, vocabulary
from workbench.ingest.parsers._numbers import NumberFormat, detect_format, first_token
from workbench.ingest.records import CASH_FLOWS_SCHEMA, TRADES_SCHEMA, Parsed, conform, empty
from workbench.ingest.registry import parser
from workbench.ingest.text import clean, decode, timestamp

__all__ = ["LABELS", "CONVENTION", "SUMMARY_ORDER", "DETAILS_ORDER", "parse"]

CONVENTION = "mt4 statement closed trade P/L"
TIMEZONE = "server time, offset unknown"

# Printed label -> field (``@`` = a section), one dict per interface language. English is read off
# the real statements in the test suite's real-export fixtures; labels of other languages are read by position.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "Closed Transactions:": "@closed",
        "Open Trades:": "@open",
        "Working Orders:": "@working",
        "Summary:": "@summary",
        "Details:": "@details",
        "Account:": "account",
        "Name:": "name",
        "Currency:": "currency",
        "Leverage:": "leverage",
        "Closed P/L:": "closed_pl_line",
        "Floating P/L:": "floating_pl",
        "Deposit/Withdrawal:": "deposit_withdrawal",
        "Credit Facility:": "credit_facility",
        "Closed Trade P/L:": "closed_trade_pl",
        "Margin:": "margin",
        "Balance:": "balance",
        "Equity:": "equity",
        "Free Margin:": "free_margin",
        "Gross Profit:": "gross_profit",
        "Gross Loss:": "gross_loss",
        "Total Net Profit:": "total_net_profit",
        "Profit Factor:": "profit_factor",
        "Expected Payoff:": "expected_payoff",
        "Absolute Drawdown:": "absolute_drawdown",
        "Maximal Drawdown:": "maximal_drawdown",
        "Relative Drawdown:": "relative_drawdown",
        "Total Trades:": "total_trades",
        "Short Positions (won %):": "short_positions",
        "Long Positions (won %):": "long_positions",
        "Profit Trades (% of total):": "profit_trades",
        "Loss trades (% of total):": "loss_trades",
        "Largest profit trade:": "largest_profit_trade",
        "Largest loss trade:": "largest_loss_trade",
        "Average profit trade:": "average_profit_trade",
        "Average loss trade:": "average_loss_trade",
        "Maximum consecutive wins ($):": "max_consecutive_wins",
        "Maximum consecutive losses ($):": "max_consecutive_losses",
        "Maximal consecutive profit (count):": "maximal_consecutive_profit",
        "Maximal consecutive loss (count):": "maximal_consecutive_loss",
        "Average consecutive wins:": "average_consecutive_wins",
        "Average consecutive losses:": "average_consecutive_losses",
    },
}

# MetaTrader's fixed layout: the order of the label/value pairs in each block.
HEADER_ORDER = ("account", "name", "currency", "leverage")
SUMMARY_ORDER = (
    "deposit_withdrawal",
    "credit_facility",
    "closed_trade_pl",
    "floating_pl",
    "margin",
    "balance",
    "equity",
    "free_margin",
)
DETAILS_ORDER = (
    "gross_profit",
    "gross_loss",
    "total_net_profit",
    "profit_factor",
    "expected_payoff",
    "absolute_drawdown",
    "maximal_drawdown",
    "relative_drawdown",
    "total_trades",
    "short_positions",
    "long_positions",
    "profit_trades",
    "loss_trades",
    "largest_profit_trade",
    "largest_loss_trade",
    "average_profit_trade",
    "average_loss_trade",
    "max_consecutive_wins",
    "max_consecutive_losses",
    "maximal_consecutive_profit",
    "maximal_consecutive_loss",
    "average_consecutive_wins",
    "average_consecutive_losses",
)


def _norm(label: str) -> str:
    """Case, accents, whitespace and a trailing ':' do not matter."""
    text = "".join(c for c in unicodedata.normalize("NFKD", label) if not unicodedata.combining(c))
    return " ".join(text.lower().split()).rstrip(":").strip()


_LOOKUP: dict[str, str] = {_norm(k): v for table in LABELS.values() for k, v in table.items()}
_VOCABULARY = vocabulary(LABELS, MT4_TESTER_LABELS)  # evidence for the code page (text.decode)

_DATE = re.compile(r"^\d{4}\.\d{2}\.\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?$")
_VALUE = re.compile(r"^[+\-\u2212]?\d")  # a value cell starts with a number; a label never does
_DIRECTION = {"buy": "long", "sell": "short"}
_FLOW_TYPES = ("balance", "credit")
_HEADER_CELL = re.compile(r"^([^\d:]+):\s*(.*)$")
_MONEY_COLUMNS = (10, 11, 12, 13)  # Commission | Taxes | Swap | Profit
_NUMERIC_COLUMNS = (3, 5, 6, 7, 9, *_MONEY_COLUMNS)  # Size, prices, money


# ----------------------------------------------------------------------------- detection

_ROW = re.compile(rb"<tr[^>]*>(.*?)(?:</tr>|(?=<tr))", re.I | re.S)
_TD = re.compile(rb"<td[^>]*>(.*?)(?:</td>|(?=<td)|$)", re.I | re.S)
_TAG = re.compile(rb"<[^>]*>")
_HEAD_DATE = re.compile(rb"^\d{4}\.\d\d\.\d\d \d\d:\d\d(?::\d\d)?$")
_HEAD_TYPES = (b"buy", b"sell", b"balance", b"credit", b"buy limit", b"sell limit", b"buy stop", b"sell stop")


def _detect(head: bytes, name: str) -> bool:
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head[:200]:
        return False  # UTF-16: MetaTrader 5
    low = head.lower()
    if b"<title>statement:" in low and b"closed transactions:" in low:
        return True
    # Any language: a closed-transaction row, ``ticket | date | type | ...`` with 14 cells and a
    # close time in the 9th, or a 5-cell balance row. Tester reports have 10-cell order rows.
    for row in _ROW.finditer(low):
        cells = [_head_cell(c) for c in _TD.findall(row.group(1))]
        if len(cells) < 5 or not cells[0].isdigit() or not _HEAD_DATE.match(cells[1]):
            continue
        if cells[2] not in _HEAD_TYPES:
            continue
        if len(cells) == 14 and _HEAD_DATE.match(cells[8]):
            return True  # a closed trade or cancelled order
        if len(cells) == 5 and cells[2] in (b"balance", b"credit"):
            return True  # a balance row
    return False


def _head_cell(raw: bytes) -> bytes:
    return b" ".join(_TAG.sub(b" ", raw).replace(b"&nbsp;", b" ").split())


# ----------------------------------------------------------------------------- reading


@dataclass(slots=True)
class _Row:
    cells: list[str]
    bold: bool
    title: str  # the first cell's title attribute (ticket comments)
    line: int


def _rows(root: Any) -> list[_Row]:
    out: list[_Row] = []
    for tr in root.iter("tr"):
        tds = [td for td in tr if td.tag in ("td", "th")]
        cells = [" ".join("".join(td.itertext()).replace("\u00a0", " ").split()) for td in tds]
        if not any(cells):
            continue
        bold = any(True for _ in tr.iter("b"))
        out.append(_Row(cells, bold, clean(tds[0].get("title")) if tds else "", tr.sourceline or 0))
    return out


_STAMP = re.compile(r"^(\d{4})\.(\d\d)\.(\d\d) (\d\d):(\d\d)(?::(\d\d))?$")


def _time(text: str, *, where: str, what: str = "time") -> datetime:
    """``YYYY.MM.DD HH:MM[:SS]`` fast (a statement has tens of thousands); anything else via ``timestamp``."""
    m = _STAMP.match(text)
    if m:
        y, mo, d, h, mi, sec = m.groups()
        try:
            return datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec or 0))
        except ValueError:
            pass
    return timestamp(text, where=where, what=what)


def _is_value(text: str) -> bool:
    return bool(_VALUE.match(text))


def _is_title(row: _Row) -> bool:
    return len(row.cells) == 1 and row.bold and not _is_value(row.cells[0])


def _is_record(row: _Row) -> bool:
    """A ticket row: ``ticket | YYYY.MM.DD HH:MM:SS | type | ...``."""
    c = row.cells
    return len(c) >= 3 and c[0].isdigit() and bool(_DATE.match(c[1]))


def _pairs(row: _Row) -> list[tuple[str, str]]:
    """``label | value`` pairs of a row; a leading label without a value prefixes the others
    (``Largest | profit trade: | 543 | loss trade: | -643``)."""
    texts = [c for c in row.cells if c]
    out: list[tuple[str, str]] = []
    prefix = ""
    for i, text in enumerate(texts):
        if _is_value(text):
            continue
        nxt = texts[i + 1] if i + 1 < len(texts) else ""
        if _is_value(nxt):
            out.append((f"{prefix} {text}".strip(), nxt))
        elif i == 0 and nxt:
            prefix = text
    return out


@dataclass(slots=True)
class _Section:
    kind: str  # closed | open | working | summary | details
    label: str
    rows: list[_Row]


def _sections(rows: Sequence[_Row]) -> tuple[list[_Row], list[_Section], list[str]]:
    """(rows before the first section, the sections, labels not recognised)."""
    starts = [i for i, r in enumerate(rows) if _is_title(r)]
    head = list(rows[: starts[0]]) if starts else list(rows)
    out: list[_Section] = []
    unknown: list[str] = []
    kinds: set[str] = set()
    for n, i in enumerate(starts):
        body = list(rows[i + 1 : starts[n + 1] if n + 1 < len(starts) else len(rows)])
        label = rows[i].cells[0]
        field = _LOOKUP.get(_norm(label), "")
        if field.startswith("@"):
            kind = field[1:]
        else:
            kind = _classify(body, kinds)
            unknown.append(label)
        kinds.add(kind)
        out.append(_Section(kind, label, body))
    return head, out, unknown


def _classify(body: Sequence[_Row], seen: set[str]) -> str:
    """What a section with an unrecognised title is, from its shape."""
    if any(len(r.cells) == 14 for r in body):  # the 14-column trade tables
        records = [r for r in body if _is_record(r)]
        if any(len(r.cells) == 14 and _DATE.match(r.cells[8]) for r in records):
            return "closed"
        if any(r.cells[2].lower() in _FLOW_TYPES for r in records):
            return "closed"
        if records:
            return "open"
        return "open" if "closed" in seen else "closed"
    if any(_pairs(r) for r in body if not _is_record(r)):
        return "details" if "summary" in seen else "summary"
    return "working"


def _fields(
    rows: Iterable[_Row], order: Sequence[str], unknown: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(field -> value text, printed label -> field) of a Summary/Details block.

    A label in :data:`LABELS` names its field; any other takes the field of its position in
    ``order`` (MetaTrader's fixed layout) and is added to ``unknown``.
    """
    pairs = [p for r in rows for p in _pairs(r)]
    out: dict[str, str] = {}
    labels: dict[str, str] = {}
    for i, (label, value) in enumerate(pairs):
        field = _LOOKUP.get(_norm(label))
        if field is None or field.startswith("@"):
            unknown.append(label)
            if i >= len(order):
                continue
            field = order[i]
        out.setdefault(field, value)
        labels[label] = field
    return out, labels


def _header(rows: Sequence[_Row], unknown: list[str]) -> tuple[dict[str, str], str]:
    """(account/name/currency/leverage, the statement's time as printed)."""
    out: dict[str, str] = {}
    printed_time = ""
    cells = [c for r in rows[-1:] for c in r.cells if c]  # the row right above the first section
    position = 0
    for cell in cells:
        m = _HEADER_CELL.match(cell)
        if not m:
            printed_time = printed_time or cell
            continue
        label, value = m.group(1).strip(), m.group(2).strip()
        field = _LOOKUP.get(_norm(label))
        if field not in HEADER_ORDER:
            unknown.append(f"{label}:")
            field = HEADER_ORDER[position] if position < len(HEADER_ORDER) else None
        position += 1
        if field:
            out.setdefault(field, value)
    return out, printed_time


def _statement_time(text: str) -> datetime | None:
    """``"2024 January 19, 14:48"`` (English month names only)."""
    for fmt in ("%Y %B %d, %H:%M", "%Y %b %d, %H:%M", "%Y.%m.%d %H:%M"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


# ----------------------------------------------------------------------------- parse


_ADJUSTMENT_WORDS = (
    "adjust",
    "interest",
    "financ",
    "rebate",
    "fee",
    "charge",
    "dividend",
    "bonus",
    "correct",
)


def _flow_kind(row_type: str, comment: str, amount: float) -> str:
    """credit | deposit | withdrawal | adjustment, from the row type, the comment, then the sign."""
    if row_type == "credit":
        return "credit"
    low = comment.lower()
    if "deposit" in low and amount > 0:
        return "deposit"
    if "withdraw" in low and amount < 0:
        return "withdrawal"
    if any(word in low for word in _ADJUSTMENT_WORDS):
        return "adjustment"  # ADJUSTMENT, Interest, Financing, rebates...
    return "deposit" if amount > 0 else "withdrawal"  # broker codes such as "D(DIN2020...)"


def _order(times: Sequence[datetime]) -> str:
    """How rows were listed, from the times as they appear."""
    up = sum(b > a for a, b in zip(times, times[1:], strict=False))
    down = sum(b < a for a, b in zip(times, times[1:], strict=False))
    if not up and not down:
        return "single time" if times else "no rows"
    if not down:
        return "oldest first"
    if not up:
        return "newest first"
    return "newest first (mostly)" if down > 3 * up else "oldest first (mostly)" if up > 3 * down else "mixed"


def _money(x: float) -> str:
    return f"{x:,.2f}".replace(",", " ")


@parser("mt4_statement_html", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """MetaTrader 4 account statement (detailed report, HTML), in any interface language."""
    text = decode(data, vocabulary=_VOCABULARY)
    if "</html>" not in text[-2048:].lower():
        raise DataError("the statement ends before </html>: the file is truncated", where="end of file")
    root = lxml.etree.fromstring(text, lxml.etree.HTMLParser(remove_comments=True))
    if root is None:
        raise DataError("no HTML in the file", where="1")
    rows = _rows(root)
    head, sections, unknown = _sections(rows)
    by_kind: dict[str, list[_Row]] = {}
    for s in sections:
        by_kind.setdefault(s.kind, []).extend(s.rows)
    if "closed" not in by_kind:
        raise DataError(
            "no closed-transactions table (Ticket | Open Time | Type | ... | Profit); not a complete statement",
            where="Closed Transactions",
        )
    if "summary" not in by_kind:
        raise DataError(
            "no Summary block (Deposit/Withdrawal, Closed Trade P/L, Balance): the statement is incomplete "
            "(cut short and closed, or edited)",
            where="Summary",
        )
    header, printed_time = _header(head, unknown)
    summary, summary_labels = _fields(by_kind["summary"], SUMMARY_ORDER, unknown)
    details, details_labels = _fields(by_kind.get("details", []), DETAILS_ORDER, unknown)

    # --- the closed-transactions table: rows by shape
    closed_rows = [r for r in by_kind["closed"] if _is_record(r)]
    totals_row: list[str] | None = None
    closed_line: tuple[str, str] | None = None
    for r in by_kind["closed"]:
        if _is_record(r):
            continue
        texts = [c for c in r.cells if c]
        if len(r.cells) == 5 and not r.cells[0] and all(_is_value(c) for c in r.cells[1:]):
            totals_row = totals_row or r.cells[1:]  # Commission | Taxes | Swap | Profit sums
        elif len(texts) == 2 and not _is_value(texts[0]) and _is_value(texts[1]):
            closed_line = closed_line or (texts[0], texts[1])
    open_rows = [r for r in by_kind.get("open", []) if _is_record(r)]
    working_rows = [r for r in by_kind.get("working", []) if _is_record(r)]

    # --- one number format for the whole document
    samples: list[str] = []
    for r in closed_rows + open_rows:
        if len(r.cells) == 14:
            samples += [r.cells[i] for i in _NUMERIC_COLUMNS]
        elif r.cells[2].lower() in _FLOW_TYPES:
            samples.append(r.cells[-1])
    samples += totals_row or []
    samples += [first_token(v) for v in (*summary.values(), *details.values())]
    if closed_line:
        samples.append(closed_line[1])
    fmt = detect_format(samples)

    trades: list[dict[str, Any]] = []
    flows: list[dict[str, Any]] = []
    cancelled = 0
    symbols: set[str] = set()
    listed = [_time(r.cells[1], where=f"ticket {r.cells[0]}") for r in closed_rows]  # as listed
    for r in closed_rows:
        c = r.cells
        ticket = c[0]
        where = f"ticket {ticket}"
        row_type = c[2].lower()
        if row_type in _FLOW_TYPES:
            comment = c[3] if len(c) > 4 else ""
            amount = fmt.number(c[-1], where=where, what="amount")
            flows.append(
                {
                    "time": _time(c[1], where=where),
                    "amount": amount,
                    "kind": _flow_kind(row_type, comment, amount),
                    "comment": comment or None,
                    "_ticket": int(ticket),
                }
            )
            continue
        if row_type not in _DIRECTION:
            cancelled += 1  # cancelled / expired / deleted pending order: no money moved
            continue
        if len(c) != 14:
            raise DataError(f"closed trade row has {len(c)} cells, expected 14", where=where)
        commission = fmt.number(c[10], where=where, what="commission")
        taxes = fmt.number(c[11], where=where, what="taxes")
        swap = fmt.number(c[12], where=where, what="swap")
        profit = fmt.number(c[13], where=where, what="profit")
        symbol = c[4].upper()  # MT4 prints items lower-case
        symbols.add(symbol)
        close_time = _time(c[8], where=where, what="close time")
        trades.append(
            {
                "trade_id": ticket,
                "open_time": _time(c[1], where=where, what="open time"),
                "close_time": close_time,
                "symbol": symbol,
                "direction": _DIRECTION[row_type],
                "volume": fmt.number(c[3], where=where, what="size"),
                "entry_price": fmt.number(c[5], where=where, what="open price"),
                "exit_price": fmt.number(c[9], where=where, what="close price"),
                "stop_loss": fmt.parse(c[6]) or None,
                "take_profit": fmt.parse(c[7]) or None,
                "commission": round(commission + taxes, 2),  # taxes folded into commission
                "taxes": taxes,
                "swap": swap,
                "profit": profit,
                "net_profit": round(profit + commission + taxes + swap, 2),
                "comment": r.title or None,
                "_ticket": int(ticket),
            }
        )

    # Listed newest first, by ticket or as sorted by the user: kept in time order (ticket breaks ties).
    trades.sort(key=lambda t: (t["close_time"], t["open_time"], t["_ticket"]))
    flows.sort(key=lambda f: (f["time"], f["_ticket"]))
    for item in (*trades, *flows):
        del item["_ticket"]
    taxes_total = round(sum(t.pop("taxes") for t in trades), 2)
    frame = conform(trades, TRADES_SCHEMA) if trades else empty(TRADES_SCHEMA)
    cash = conform(flows, CASH_FLOWS_SCHEMA) if flows else empty(CASH_FLOWS_SCHEMA)

    if totals_row is not None and len(totals_row) == 4:
        # The footer sums Commission | Taxes | Swap | Profit over the trades: rows altered if not.
        sums = {
            "commission": sum(t["commission"] for t in trades) - taxes_total,
            "taxes": taxes_total,
            "swap": sum(t["swap"] for t in trades),
            "profit": sum(t["profit"] for t in trades),
        }
        for (col, got), printed in zip(sums.items(), totals_row, strict=True):
            want = fmt.number(printed, where=f"totals.{col}")
            if abs(got - want) > 0.011 + 1e-9 * abs(want):
                raise DataError(
                    f"the {col} column sums to {got:,.2f} but the statement prints {want:,.2f}",
                    where=f"Closed Transactions totals.{col}",
                )

    warnings: list[str] = []

    def figure(fields: dict[str, str], key: str, where: str) -> float | None:
        if key not in fields:
            return None
        return fmt.number(first_token(fields[key]), where=where, what=key)

    for key in ("closed_trade_pl", "deposit_withdrawal", "balance"):
        if key not in summary:
            raise DataError(f"the Summary lacks {key.replace('_', ' ')}", where="Summary")
    dw = figure(summary, "deposit_withdrawal", "Summary.deposit_withdrawal")
    balance = figure(summary, "balance", "Summary.balance")
    assert dw is not None and balance is not None
    credit_total = float(round(sum(f["amount"] for f in flows if f["kind"] == "credit"), 2))
    flows_total = round(sum(f["amount"] for f in flows if f["kind"] != "credit"), 2)
    if abs(flows_total - dw) > 0.011 + 1e-9 * abs(dw):
        raise DataError(
            f"balance rows sum to {flows_total:,.2f} but Deposit/Withdrawal says {dw:,.2f}",
            where="Summary.deposit_withdrawal",
        )
    _check_positions(summary, fmt, summary_labels)

    # --- net profit: the printed P/L totals, reconciled against the one the rows add up to
    rows_net = round(sum(t["net_profit"] for t in trades), 2)
    printed_pl: list[tuple[str, float]] = []
    pl_summary = figure(summary, "closed_trade_pl", "Summary.closed_trade_pl")
    assert pl_summary is not None
    printed_pl.append((_label(summary_labels, "closed_trade_pl", "Closed Trade P/L"), pl_summary))
    if closed_line is not None:
        printed_pl.append((closed_line[0].rstrip(":"), fmt.number(closed_line[1], where="Closed P/L")))
    tnp = figure(details, "total_net_profit", "Details.total_net_profit")
    if tnp is not None:
        printed_pl.append((_label(details_labels, "total_net_profit", "Total Net Profit"), tnp))
    agree = [(label, v) for label, v in printed_pl if abs(v - rows_net) <= 0.011 + 1e-9 * abs(v)]
    net_label, net_printed = agree[0] if agree else printed_pl[0]
    others = sorted({(label, v) for label, v in printed_pl if abs(v - net_printed) > 0.005})
    if agree and others:
        warnings.append(
            f"the statement prints two different P/L totals: {net_label} {_money(net_printed)}, which the "
            "rows add up to (reconciled), and "
            + ", ".join(f"{label} {_money(v)}" for label, v in others)
            + " (not reconciled: the file was re-saved or edited)"
        )

    # --- opening balance: evidence in the file, else unknown
    statement_time = _statement_time(printed_time)
    last_row = max([t["close_time"] for t in trades] + [f["time"] for f in flows], default=None)
    derived = round(balance - dw - net_printed, 2)
    initial: float | None
    if abs(derived) < 0.005:
        initial = 0.0
        source = "Balance = Deposit/Withdrawal + Closed Trade P/L: the rows explain the whole balance"
    elif derived > 0:
        initial = derived
        source = (
            "initial balance derived from the printed balance (Balance - Deposit/Withdrawal - Closed Trade "
            "P/L): a statement of a sub-period, assumed to run to the time it was saved"
        )
        warnings.append(
            f"sub-period statement: no row gives the balance before the first one; "
            f"{_money(derived)} is derived from the printed Balance {_money(balance)}"
        )
    else:
        initial = None
        source = "unknown: the printed Balance is less than Deposit/Withdrawal + Closed Trade P/L"
        gap = ""
        if statement_time and last_row and (statement_time - last_row).days >= 1:
            gap = (
                f"; the rows end {last_row:%Y-%m-%d} but the statement was saved {statement_time:%Y-%m-%d}: "
                "its period ends before it was saved"
            )
        warnings.append(
            f"Balance {_money(balance)} is {_money(-derived)} less than Deposit/Withdrawal {_money(dw)} + "
            f"Closed Trade P/L {_money(net_printed)} = {_money(dw + net_printed)}: results or withdrawals "
            f"outside the statement's rows{gap}; the opening balance is unknown and the Balance not reconciled"
        )

    # --- what the file prints (stated) and the platform's recomputation (platform_figures)
    stated: dict[str, float] = {"net_profit": net_printed}
    if initial is not None:
        stated["final_balance"] = balance
    gp = figure(details, "gross_profit", "Details.gross_profit")
    if gp is not None:
        stated["gross_profit"] = gp
    gl = figure(details, "gross_loss", "Details.gross_loss")
    if gl is not None:
        stated["gross_loss"] = -abs(gl)  # MT4 prints it as a positive amount
    for key, field in (
        ("profit_factor", "profit_factor"),
        ("total_trades", "total_trades"),
        ("winning_trades", "profit_trades"),
        ("losing_trades", "loss_trades"),
    ):
        value = figure(details, field, f"Details.{field}")
        if value is not None:
            stated[key] = value

    nets = [t["net_profit"] for t in trades]
    p_gp = float(round(sum(x for x in nets if x > 0), 2))
    p_gl = float(round(sum(x for x in nets if x < 0), 2))
    computed: dict[str, float] = {
        "net_profit": rows_net,
        "gross_profit": p_gp,
        "gross_loss": p_gl,
        "total_trades": float(len(nets)),
        "winning_trades": float(sum(x > 0 for x in nets)),
        "losing_trades": float(sum(x < 0 for x in nets)),
    }
    if p_gl < 0:
        computed["profit_factor"] = p_gp / -p_gl
    elif stated.get("profit_factor") == 0:
        computed["profit_factor"] = 0.0  # MetaTrader prints 0.00 when nothing was lost
    if initial is not None:
        computed["final_balance"] = round(initial + flows_total + rows_net, 2)  # credit is not balance
    platform = {k: v for k, v in computed.items() if k in stated}

    report: dict[str, Any] = {}
    for key in ("floating_pl", "margin", "equity", "free_margin", "credit_facility", "balance"):
        if key in summary:
            report[key] = fmt.parse(first_token(summary[key]))
    for key, value in details.items():
        report[key] = value if "(" in value else fmt.parse(first_token(value))

    times: list[datetime] = [t["open_time"] for t in trades] + [f["time"] for f in flows]
    times += [t["close_time"] for t in trades]
    broker = next((clean("".join(b.itertext())) for b in root.iter("b")), None)
    account = header.get("account") or None
    meta: dict[str, Any] = {
        "source": "statement",
        "account": account,
        "account_name": header.get("name"),
        "broker": broker,
        "leverage": header.get("leverage") or None,
        "symbols": sorted(symbols),
        "volume_unit": "lots",
        "timezone": TIMEZONE,
        "statement_time": statement_time.isoformat(sep=" ") if statement_time else (printed_time or None),
        "taxes": taxes_total,  # included in the commission column
        "initial_balance_inferred": initial is not None and initial != 0.0,
        "initial_balance_derived": initial is not None and initial != 0.0,
        "initial_balance_source": source,
        "net_profit_printed_as": net_label,
        "number_format": fmt.describe(),
        "row_order": _order(listed),
        "cancelled_orders": cancelled,
        "open_trades": len(open_rows),
        "working_orders": len(working_rows),
        "credit": credit_total,
        "report": report,
    }
    if "gross_loss" in details:
        meta["gross_loss_printed"] = details["gross_loss"]
    if unknown:
        meta["labels_unrecognised"] = list(dict.fromkeys(unknown))
        warnings.append(
            "labels not recognised (read by their position in MetaTrader's layout): "
            + ", ".join(dict.fromkeys(unknown))
        )
    if "details" not in by_kind:
        meta["missing"] = ["Details (gross profit/loss, profit factor, trade counts are not printed)"]
    return Parsed(
        format="mt4_statement_html",
        kind="backtest",
        name=f"Statement {account}" + (f" ({broker})" if broker else "") if account else name,
        platform="mt4",
        symbol=next(iter(symbols)) if len(symbols) == 1 else None,
        currency=header.get("currency") or None,
        initial_balance=initial,
        start=min(times) if times else None,
        end=max(times) if times else None,
        trades=frame,
        cash_flows=cash,
        stated=stated,
        platform_figures=platform,
        convention=CONVENTION,
        warnings=tuple(warnings),
        meta=meta,
    )


def _label(labels: dict[str, str], field: str, default: str) -> str:
    """The label a figure was printed under (for messages)."""
    return next((lab.rstrip(":") for lab, f in labels.items() if f == field), default)


def _check_positions(summary: dict[str, str], fmt: NumberFormat, labels: dict[str, str]) -> None:
    """A Summary read by position must satisfy Equity = Balance + Floating P/L + Credit Facility."""
    if all(_norm(label) in _LOOKUP for label in labels):
        return
    keys = ("balance", "equity", "floating_pl", "credit_facility")
    got = {k: fmt.parse(first_token(summary.get(k, ""))) for k in keys}
    balance, equity, floating, credit = (got[k] for k in keys)
    if balance is None or equity is None or floating is None:
        return
    if abs(balance + floating + (credit or 0.0) - equity) > 0.011 + 1e-9 * abs(equity):
        raise DataError(
            f"the Summary's labels are not recognised and its figures do not fit MetaTrader's layout "
            f"(Balance {balance:,.2f} + Floating P/L {floating:,.2f} != Equity {equity:,.2f})",
            where="Summary",
        )
