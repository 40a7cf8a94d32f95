"""MetaTrader 4 Strategy Tester reports (``StrategyTester.htm``), in any interface language.

Layout (builds 1090-1473 seen): a title ``Strategy Tester: <EA>``, a summary table of label/value
cells (symbol, period, model, parameters, then a fixed grid of totals) and an order table of rows
``# | Time | Type | Order | Size | Price | S / L | T / P | Profit | Balance``. Labels and column
headers follow the terminal's language and the file carries no charset (the terminal's code page):
both tables are therefore found by their structure, not by their words. The order table is the
table whose rows are ``<int> | YYYY.MM.DD HH:MM | <row type> | <int> | ...`` — the row types
(``buy``, ``sell stop``, ``t/p``, ``close at stop``, ``swap close``...) are English in every
language. The summary is read by position (MT4 prints its rows in one fixed order, see
:data:`~workbench.ingest.parsers._mt_labels.MT4_TESTER_GRID`) and cross-checked against the label
tables of :mod:`~workbench.ingest.parsers._mt_labels`; labels the tables do not know are named in a
warning. Numbers are read in the format the document itself shows (:mod:`._numbers`).

A trade is one close of an order: the open row (``buy``/``sell``, or a pending order that later
fills) paired with each row that closes (part of) it. The tester prints one ``Profit`` per close,
before swap and commission, and the running ``Balance``; ``net_profit`` is the balance change of the
closing row, ``profit`` the printed Profit, ``swap`` the difference (swap + commission, not printed
apart; ``commission`` is 0).

Brokers that charge swap by rollover make the tester close every open order at the rollover
(``swap close``, a trade of its own in MT4's count) and reopen it under a new order number at a
price that carries the swap (``swap open``, same time and size).

A report saved while its test was still running has a summary whose every value is blank (period
``1970.01.01``): its trades are ingested, its opening balance is inferred from the first closing
row, and nothing is reconciled but the balance the rows print.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree

from workbench.errors import DataError
from workbench.ingest.parsers._mt_labels import (
    MT4_TESTER_GRID,
    MT4_TESTER_HEADER,
    MT4_TESTER_LABELS,
    label_index,
    label_key,
    vocabulary,
)
from workbench.ingest.parsers._numbers import NumberFormat, detect_format
from workbench.ingest.records import CASH_FLOWS_SCHEMA, TRADES_SCHEMA, Parsed, conform, empty
from workbench.ingest.registry import parser
from workbench.ingest.text import clean, decode, timestamp

__all__ = ["LABELS", "parse"]

LABELS = MT4_TESTER_LABELS  # per language: printed label -> field (see _mt_labels for the sources)
_INDEX = label_index(MT4_TESTER_LABELS)
_VOCABULARY = vocabulary(MT4_TESTER_LABELS)

# Row types of the order table -> what they do to the order named in the row.
_OPEN = {"buy": "long", "sell": "short"}
_PENDING = {"buy limit": "long", "buy stop": "long", "sell limit": "short", "sell stop": "short"}
_CLOSE = {"t/p", "s/l", "close", "close at stop", "close by", "swap close"}
_SWAP_OPEN = "swap open"
_CANCEL = {"delete", "expiration"}
_IGNORE = {"modify"}
_KINDS = {*_OPEN, *_PENDING, *_CLOSE, _SWAP_OPEN, *_CANCEL, *_IGNORE}

_TIMEFRAME = re.compile(r"\((M1|M5|M15|M30|H1|H4|D1|W1|MN1?)\)", re.I)
_RANGE = re.compile(r"(\d{4}\.\d\d\.\d\d(?: \d\d:\d\d)?)\s*-\s*(\d{4}\.\d\d\.\d\d(?: \d\d:\d\d)?)")
_PARAM = re.compile(r"""\s*([^=;\s][^=;]*?)\s*=\s*("[^"]*"|[^;]*?)\s*(?:;|$)""")
_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_STAMP = re.compile(r"(\d{4})\.(\d\d)\.(\d\d) (\d\d):(\d\d)")
_WORD = re.compile(r"[a-z][a-z/ ]*")  # a row type: English words, 't/p', 's/l'
_DIGIT = re.compile(r"\d")
_SAMPLE_ROWS = 60  # rows looked at per table to tell the order table by its shape
_REQUIRED = ("initial_deposit", "net_profit", "total_trades")


def _detect(head: bytes, name: str) -> bool:
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head[:200]:
        # UTF-16 (a re-saved report; MetaTrader 5 writes UTF-16 too, but never this title)
        bom = head[:2] if head[:2] in (b"\xff\xfe", b"\xfe\xff") else b""
        le = bom == b"\xff\xfe" or (not bom and head[1:2] == b"\x00")
        text = head[len(bom) : len(head) // 2 * 2].decode("utf-16-le" if le else "utf-16-be", errors="ignore")
        low = text.lower().encode("ascii", errors="ignore")
    else:
        low = head.lower()
    return b"<title>strategy tester:" in low and b"strategy tester report" in low and b"msdate" in low


def _typed(value: str) -> bool | int | float | str:
    """An input value as MT4 prints it -> bool / int / float / str."""
    v = value.strip()
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    if _INT.fullmatch(v):
        return int(v)
    if _FLOAT.fullmatch(v):
        return float(v)
    if len(v) >= 2 and v[0] == v[-1] == '"':
        return v[1:-1]
    return v


def _parameters(text: str) -> dict[str, Any]:
    return {m.group(1): _typed(m.group(2)) for m in _PARAM.finditer(" ".join(text.split())) if m.group(1)}


def _time(text: str, where: str) -> datetime:
    """``2018.01.03 18:00`` (the tester's only layout) fast; anything else via ``timestamp``."""
    m = _STAMP.fullmatch(text)
    return datetime(*map(int, m.groups())) if m else timestamp(text, where=where)


def _text(element: Any) -> str:
    """An element's text, whitespace (NBSP, U+3000 included) collapsed; the common leaf cell fast."""
    text = element.text if not len(element) else "".join(element.itertext())
    return " ".join(text.split()) if text else ""


def _cells(row: Any) -> list[str]:
    return [_text(td) for td in row.iterchildren("td")]


def _is_order_row(cells: list[str]) -> bool:
    """``<int> | YYYY.MM.DD HH:MM | <row type> | <int> | ...`` with 9 or 10 cells."""
    return (
        9 <= len(cells) <= 10
        and cells[0].isdigit()
        and cells[3].isdigit()
        and _STAMP.fullmatch(cells[1]) is not None
        and _WORD.fullmatch(cells[2].lower()) is not None
    )


# --------------------------------------------------------------------------------------- tables


def _find_tables(root: Any) -> tuple[Any, Any | None]:
    """(summary table, order table or None), told apart by shape, never by their words."""
    orders = None
    best = 0
    header_only = None
    for table in root.iter("table"):
        rows = [_cells(r) for _, r in zip(range(_SAMPLE_ROWS), table.iter("tr"), strict=False)]
        hits = sum(1 for c in rows if _is_order_row(c))
        known = sum(1 for c in rows if _is_order_row(c) and c[2].lower() in _KINDS)
        if hits and hits * 2 >= len(rows) and known * 2 >= hits and hits > best:
            orders, best = table, hits
        elif (
            len(rows) == 1
            and 9 <= len(rows[0]) <= 10
            and not any(_DIGIT.search(c) for c in rows[0])
            and header_only is None
        ):
            header_only = table  # the column headers of an order table with no rows
    if orders is None:
        orders = header_only
    summary = None
    for table in root.iter("table"):
        if table is orders:
            continue
        pairs = sum(1 for r in table.iter("tr") if len(_cells(r)) in (2, 5, 6))
        if pairs >= 3:
            summary = table
            break
    if summary is None:
        raise DataError("no summary table (symbol, period, totals) in the report", where="summary")
    return summary, orders


@dataclass(slots=True)
class _Summary:
    values: dict[str, str] = field(default_factory=dict)  # field -> value text
    langs: list[frozenset[str]] = field(default_factory=list)  # languages of each recognised label
    unknown: list[str] = field(default_factory=list)  # labels no table knows
    conflicts: list[str] = field(default_factory=list)  # labels that name another field than their place
    by_position: bool = False  # the grid has MT4's fixed shape: figures read by their place
    blank: bool = False  # every value empty: saved while the test ran

    @property
    def language(self) -> str | None:
        """The languages only one table knows a seen label in; else the ones all seen labels share."""
        if not self.langs:
            return None
        unique = {next(iter(s)) for s in self.langs if len(s) == 1}
        langs = unique or frozenset.intersection(*self.langs)
        return "+".join(sorted(langs)) or None


def _read_summary(table: Any) -> _Summary:
    rows = [_cells(r) for r in table.iter("tr")]
    header = [c for c in rows if len(c) == 2]
    grid = [c for c in rows if len(c) in (5, 6)]
    out = _Summary()
    out.by_position = [len(c) for c in grid] == [len(r) * 2 if len(r) == 3 else 5 for r in MT4_TESTER_GRID]
    slots: list[tuple[str, str, str | None]] = []  # (label, value, field MT4 prints at that place)
    for i, (label, value) in enumerate(header):
        slots.append((label, value, MT4_TESTER_HEADER[i] if i < len(MT4_TESTER_HEADER) else None))
    for r, cells in enumerate(grid):
        place = MT4_TESTER_GRID[r] if out.by_position else (None,) * 3
        if len(cells) == 6:
            pairs = [(cells[k], cells[k + 1]) for k in (0, 2, 4)]
        else:  # a prefix cell ("Largest") then two pairs ("profit trade" | 484.75 | "loss trade" | -259.46)
            pairs = [(f"{cells[0]} {cells[k]}".strip(), cells[k + 1]) for k in (1, 3)]
        slots += [(label, value, place[k]) for k, (label, value) in enumerate(pairs)]
    for label, value, place in slots:
        if not label and not value:
            continue
        hit = _INDEX.get(label_key(label)) if label else None
        if hit is not None:
            out.langs.append(hit[1])
        elif label:
            out.unknown.append(label)
        name = hit[0] if hit is not None else None
        if place is not None:
            if name is not None and name != place:
                out.conflicts.append(f"{label!r} ({name}) sits where MT4 prints {place}")
            name = place
        if name is not None and name not in out.values:
            out.values[name] = value
    grid_values = [c for cells in grid for c in cells[1::2]] if grid else []
    out.blank = bool(grid) and not any(_DIGIT.search(v) for v in grid_values)
    return out


def _order_rows(table: Any) -> Iterator[tuple[int, list[str]]]:
    for i, row in enumerate(table.iter("tr")):
        cells = _cells(row)
        if _is_order_row(cells):
            yield int(cells[0]), cells
        elif cells and cells[0].isdigit() and i:
            raise DataError(
                f"order row has {len(cells)} cells ({' | '.join(cells[:4])}...), expected "
                "# | time | type | order | size | price | S/L | T/P [| profit | balance]",
                where=f"order row #{cells[0]}",
            )


# --------------------------------------------------------------------------------------- trades


@dataclass(slots=True)
class _Open:
    order: str
    direction: str
    time: datetime
    price: float
    volume: float  # still open
    pending: bool
    origin: str | None = None  # the order this one continues (partial close, swap rollover)
    closes: int = 0


def _trades(
    table: Any, symbol: str | None, initial: float | None, fmt: NumberFormat
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Pair open rows with closing rows. Net result of a close = the change of the Balance column.

    The printed Profit excludes swap and commission: in the MACD fixture every trade held over
    midnight moves the balance by one cent less than its Profit, and the stated net profit is
    the balance change, not the sum of the Profit column. So ``net_profit`` is the balance
    change and ``swap`` holds ``balance change - profit``: swap plus commission (the tester does
    not print them apart) plus the odd cent of rounding between the two printed columns.

    A partial close prints ``close <order> <closed lots>`` followed, at the same time, by a new
    order for the remaining lots at the original price; that remainder keeps the original open
    time and says ``from #<order>`` in its comment. A ``swap close`` is followed, at the same time,
    by a ``swap open`` of the same size under a new order number: a new trade in MT4's count,
    whose comment says ``swap from #<order>``.

    With ``initial`` None (a blank summary) the opening balance is the first closing row's balance
    less its printed profit, and returned as ``extra["initial"]``.
    """
    orders: dict[str, _Open] = {}
    remainders: dict[tuple[datetime, str, float, float], _Open] = {}
    swapped: dict[tuple[datetime, float], _Open] = {}
    trades: list[dict[str, Any]] = []
    balance = initial
    last_balance: float | None = None
    for n, cells in _order_rows(table):
        where = f"order row #{n}"
        kind, order = cells[2].lower(), cells[3]
        if kind in _IGNORE:
            continue
        time = _time(cells[1], where)
        if kind in _OPEN or kind in _PENDING or kind == _SWAP_OPEN:
            o = orders.get(order)
            if o is not None and not (o.pending and kind in _OPEN):
                raise DataError(f"order {order} is opened twice", where=where)
            price = fmt.number(cells[5], where=where, what="price")
            volume = fmt.number(cells[4], where=where, what="size")
            if kind == _SWAP_OPEN:
                before = swapped.pop((time, volume), None)
                if before is None:
                    raise DataError(
                        f"swap open of order {order} follows no swap close of its size", where=where
                    )
                new = _Open(
                    order, before.direction, time, price, volume, False, origin=f"swap from #{before.order}"
                )
                orders[order] = new
                continue
            direction = _OPEN.get(kind) or _PENDING[kind]
            new = _Open(order, direction, time, price, volume, kind in _PENDING)
            parent = remainders.pop((time, direction, price, volume), None) if kind in _OPEN else None
            if parent is not None:  # the rest of a partially closed order
                orders.pop(parent.order, None)
                new.time, new.origin = parent.time, f"from #{parent.order}"
            orders[order] = new
            continue
        if kind in _CANCEL:
            o = orders.pop(order, None)
            if o is None or not o.pending:
                raise DataError(f"{kind} of order {order}, which is not a pending order", where=where)
            continue
        if kind not in _CLOSE:
            raise DataError(f"unknown order row type {cells[2]!r}", where=where)
        o = orders.get(order)
        if o is None or o.pending:
            raise DataError(f"{kind} of order {order}, which is not open", where=where)
        if len(cells) < 10:
            raise DataError(f"closing row has {len(cells)} cells, expected 10", where=where)
        volume = fmt.number(cells[4], where=where, what="size")
        if volume > o.volume + 1e-9:
            raise DataError(
                f"{kind} of {volume:g} lots of order {order}, which has {o.volume:g} open: the size is damaged",
                where=where,
            )
        profit = fmt.number(cells[8], where=where, what="profit")
        row_balance = fmt.number(cells[9], where=where, what="balance")
        if balance is None:  # blank summary: the opening balance the first close implies
            balance = initial = round(row_balance - profit, 2)
        net = round(row_balance - balance, 2)
        balance = last_balance = row_balance
        o.closes += 1
        trades.append(
            {
                "trade_id": order if o.closes == 1 else f"{order}.{o.closes}",
                "open_time": o.time,
                "close_time": time,
                "symbol": symbol,
                "direction": o.direction,
                "volume": volume,
                "entry_price": o.price,
                "exit_price": fmt.number(cells[5], where=where, what="price"),
                "stop_loss": fmt.parse(cells[6]) or None,
                "take_profit": fmt.parse(cells[7]) or None,
                "commission": 0.0,
                "swap": round(net - profit, 2),
                "profit": profit,
                "net_profit": net,
                "comment": kind if o.origin is None else f"{kind} ({o.origin})",
            }
        )
        o.volume = round(o.volume - volume, 8)
        if o.volume <= 0:
            del orders[order]
            if kind == "swap close":
                swapped[(time, volume)] = o
        else:
            remainders[(time, o.direction, o.price, o.volume)] = o
    extra = {
        "open_positions": sorted((o.order for o in orders.values() if not o.pending), key=int),
        "pending_orders": sorted((o.order for o in orders.values() if o.pending), key=int),
        "final_balance": last_balance,
        "initial": initial,
    }
    return trades, extra


def _number_format(summary: _Summary, table: Any | None) -> NumberFormat:
    """Decimal and grouping characters from the document's own figures (summary money and order rows)."""
    samples = [
        summary.values.get(k, "") for k in ("initial_deposit", "net_profit", "gross_profit", "gross_loss")
    ]
    if table is not None:
        rows = (_cells(r) for _, r in zip(range(200), table.iter("tr"), strict=False))
        samples += [c for cells in rows if _is_order_row(cells) for c in cells[4:]]
    return detect_format(samples)


def _pair(fmt: NumberFormat, text: str, where: str) -> tuple[float, float | None]:
    """``"808.30 (6.34%)"`` / ``"6.93% (781.31)"`` / ``"62 (72.94%)"`` -> (first, second)."""
    first, _, rest = clean(text).partition("(")
    second = fmt.parse(rest.rstrip(")").rstrip("%")) if rest else None
    return fmt.number(first.strip().rstrip("%"), where=where), second


def _title(root: Any) -> tuple[str | None, str | None, str | None]:
    """EA name, server and build from the header lines."""
    bold = [_text(b) for b in root.iter("b")][:4]
    strategy = (bold[1] if len(bold) > 1 else None) or None
    server = build = None
    if len(bold) > 2:
        m = re.fullmatch(r"(.*?)\s*\(Build (\d+)\)", bold[2])
        if m:
            server, build = m.group(1) or None, m.group(2)
    return strategy, server, build


def _summary_warnings(s: _Summary) -> list[str]:
    out = []
    if s.unknown:
        how = (
            "their figures were read by their place in MT4's fixed summary layout"
            if s.by_position
            else "their figures are left out"
        )
        names = ", ".join(repr(x) for x in s.unknown)
        out.append(f"summary labels not recognised (language {s.language or 'unknown'}): {names}; {how}")
    if s.conflicts:
        out.append(f"summary labels out of place, read by position: {'; '.join(s.conflicts)}")
    return out


@parser("mt4_tester_html", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """MetaTrader 4 Strategy Tester report (HTML, any terminal language and code page)."""
    text = decode(data, vocabulary=_VOCABULARY)
    if "</html>" not in text[-2048:].lower():
        raise DataError("the report ends before </html>: the file is truncated", where="end of file")
    root = etree.HTML(text)
    summary_table, order_table = _find_tables(root)
    s = _read_summary(summary_table)
    if order_table is None:
        raise DataError(
            "no order table: no table has rows '# | time | type | order | size | price ...' "
            "(the report lists no orders)",
            where="orders",
        )
    found = s.values
    warnings = [] if s.blank else _summary_warnings(s)  # a blank summary has nothing to read labels for
    if not s.blank:
        missing = [k for k in _REQUIRED if not found.get(k)]
        if missing:
            unknown = (
                f" (labels not recognised: {', '.join(repr(x) for x in s.unknown)})" if s.unknown else ""
            )
            raise DataError(f"summary lacks {', '.join(missing)}{unknown}", where="summary")
    fmt = _number_format(s, order_table)

    symbol = found.get("symbol", "").split(" ")[0] or None
    period = found.get("period", "")
    tf = _TIMEFRAME.search(period)
    span = _RANGE.search(period)
    start = timestamp(span.group(1), where="period") if span else None
    end = timestamp(span.group(2), where="period") if span else None
    if start is not None and start.year == 1970 and start == end:
        start = end = None  # the blank period of a report saved before the test ran
    initial = None if s.blank else fmt.number(found["initial_deposit"], where="summary.initial_deposit")

    rows, extra = _trades(order_table, symbol, initial, fmt)
    trades = conform(rows, TRADES_SCHEMA) if rows else empty(TRADES_SCHEMA)
    zero = int((trades["net_profit"] == 0).sum())

    report: dict[str, Any] = {}
    stated: dict[str, float] = {}
    if s.blank:
        initial = extra["initial"]
        warnings.append(
            "the report's summary is blank (saved before the test finished): totals not reconciled"
        )
    else:
        assert initial is not None
        stated["initial_balance"] = initial
        stated["net_profit"] = fmt.number(found["net_profit"], where="summary.net_profit")
        stated["total_trades"] = fmt.number(found["total_trades"], where="summary.total_trades")
        for key in ("gross_profit", "gross_loss", "profit_factor"):
            if found.get(key):
                stated[key] = fmt.number(found[key], where=f"summary.{key}")
        # MT4 counts a trade printed 0.00 / -0.00 as a profit / loss trade by its unrounded sign; the
        # validator counts net > 0 / net < 0. The two agree only when no trade nets exactly zero.
        for key, label in {"winning_trades": "profit_trades", "losing_trades": "loss_trades"}.items():
            if found.get(label):
                value = _pair(fmt, found[label], f"summary.{label}")[0]
                (stated if zero == 0 else report)[key] = value
    if extra["final_balance"] is not None:
        stated["final_balance"] = extra["final_balance"]

    strategy, server, build = _title(root)
    for key in (
        "bars",
        "ticks",
        "mismatched_errors",
        "expected_payoff",
        "absolute_drawdown",
        "largest_profit_trade",
        "largest_loss_trade",
        "average_profit_trade",
        "average_loss_trade",
    ):
        if key in found:
            report[key] = fmt.parse(found[key])
    if "modelling_quality" in found:
        report["modelling_quality_pct"] = fmt.parse(found["modelling_quality"].rstrip("%"))
    if found.get("maximal_drawdown"):  # value (percent)
        report["maximal_drawdown"], report["maximal_drawdown_pct"] = _pair(
            fmt, found["maximal_drawdown"], "summary.maximal_drawdown"
        )
    if found.get("relative_drawdown"):  # percent (value)
        report["relative_drawdown_pct"], report["relative_drawdown"] = _pair(
            fmt, found["relative_drawdown"], "summary.relative_drawdown"
        )
    for key in ("short_positions", "long_positions"):
        if found.get(key):
            count, won_pct = _pair(fmt, found[key], f"summary.{key}")
            report[key] = int(count)
            report[f"{key}_won_pct"] = won_pct
    spread = found.get("spread", "")
    meta: dict[str, Any] = {
        "build": build,
        "server": server,
        "model": found.get("model") or None,
        "period": period or None,
        "spread": spread or None,
        "spread_points": int(m.group()) if (m := re.search(r"\d+", spread)) else None,
        "language": s.language,
        "summary_read_by": "position" if s.by_position else "label",
        "unrecognised_labels": s.unknown,
        "number_format": fmt.describe(),
        "volume_unit": "lots",
        "swap_holds_costs": True,  # swap = balance change - printed profit (swap + commission + rounding)
        "zero_trades": zero,
        "closed_at_end": int(trades["comment"].str.starts_with("close at stop").sum()),
        "partial_closes": int(trades["comment"].str.contains("(from #", literal=True).sum()),
        "swap_rollovers": int(trades["comment"].str.starts_with("swap close").sum()),
        "open_positions": extra["open_positions"],
        "pending_orders": extra["pending_orders"],
        "summary_blank": s.blank,
        "initial_balance_inferred": s.blank and initial is not None,
        "report": report,
    }
    timeframe = tf.group(1).lower() if tf else None
    return Parsed(
        format="mt4_tester_html",
        kind="backtest",
        name=" ".join(x for x in (strategy, symbol, timeframe and timeframe.upper()) if x) or name,
        platform="mt4",
        strategy=strategy,
        symbol=symbol,
        timeframe=timeframe,
        initial_balance=initial,
        start=start,
        end=end,
        parameters=_parameters(found.get("parameters", "")),
        trades=trades,
        cash_flows=empty(CASH_FLOWS_SCHEMA),
        stated=stated,
        meta=meta,
        convention="mt4 per order close",
        warnings=tuple(warnings),
    )
