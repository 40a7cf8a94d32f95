"""MetaTrader 4 Strategy Tester reports (``StrategyTester.htm``).

Layout (all builds seen, 1090-1440): a title ``Strategy Tester: <EA>``, a first table of
label/value cells (symbol, period, model, parameters, then the totals block) and a second
table of order rows ``# | Time | Type | Order | Size | Price | S / L | T / P | Profit | Balance``.
Labels follow the terminal language (English, French, ...) and the file carries no charset
(the terminal's code page); the row types (``buy``, ``t/p``, ``close at stop``...) are English
in every language. A trade is one close of an order: the open row (``buy``/``sell``, or a
pending order that later fills) paired with each row that closes (part of) it.

The tester prints one ``Profit`` per close, before swap and commission, and the running
``Balance``; ``net_profit`` is the balance change of the closing row, ``profit`` the printed
Profit, ``swap`` the difference (swap + commission, not printed apart; ``commission`` is 0).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import lxml.html

from workbench.errors import DataError
from workbench.ingest.records import CASH_FLOWS_SCHEMA, TRADES_SCHEMA, Parsed, conform, empty
from workbench.ingest.registry import parser
from workbench.ingest.text import clean, decode, number, optional_number, timestamp

__all__ = ["LABELS", "parse"]

# One dict per terminal language: printed label -> field. Adding a language is one dict.
# Labels are matched after :func:`_norm` (case, accents, whitespace and trailing ':' ignored).
# Russian is inferred from the MT4 Russian UI, not checked against a real report.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "Symbol": "symbol",
        "Period": "period",
        "Model": "model",
        "Parameters": "parameters",
        "Bars in test": "bars",
        "Ticks modelled": "ticks",
        "Modelling quality": "modelling_quality",
        "Mismatched charts errors": "mismatched_errors",
        "Initial deposit": "initial_deposit",
        "Spread": "spread",
        "Total net profit": "net_profit",
        "Gross profit": "gross_profit",
        "Gross loss": "gross_loss",
        "Profit factor": "profit_factor",
        "Expected payoff": "expected_payoff",
        "Absolute drawdown": "absolute_drawdown",
        "Maximal drawdown": "maximal_drawdown",
        "Relative drawdown": "relative_drawdown",
        "Total trades": "total_trades",
        "Short positions (won %)": "short_positions",
        "Long positions (won %)": "long_positions",
        "Profit trades (% of total)": "profit_trades",
        "Loss trades (% of total)": "loss_trades",
    },
    "fr": {
        "Symbole": "symbol",
        "Période": "period",
        "Modele": "model",
        "Modèle": "model",
        "Parametres": "parameters",
        "Paramètres": "parameters",
        "Barres en test": "bars",
        "Ticks modelés": "ticks",
        "Qualité du modelage": "modelling_quality",
        "Erreurs des graphiques désaccordés": "mismatched_errors",
        "Dépot initial": "initial_deposit",
        "Ecart": "spread",
        "Profit total net": "net_profit",
        "Profit brut": "gross_profit",
        "Perte brute": "gross_loss",
        "Facteur de profit": "profit_factor",
        "Rémunération espérée": "expected_payoff",
        "Chute absolue": "absolute_drawdown",
        "Chute maximale": "maximal_drawdown",
        "Enfoncement relatif": "relative_drawdown",
        "Total des Trades": "total_trades",
        "Positions SHORT (vente) gagnées %": "short_positions",
        "Positions LONG (achat) gagnées %": "long_positions",
        "Profits des Trades (% du total)": "profit_trades",
        "Pertes des Trades (% du total)": "loss_trades",
    },
    "ru": {
        "Символ": "symbol",
        "Период": "period",
        "Модель": "model",
        "Параметры": "parameters",
        "Баров в истории": "bars",
        "Смоделировано тиков": "ticks",
        "Качество моделирования": "modelling_quality",
        "Ошибки рассогласования графиков": "mismatched_errors",
        "Начальный депозит": "initial_deposit",
        "Спред": "spread",
        "Чистая прибыль": "net_profit",
        "Общая прибыль": "gross_profit",
        "Общий убыток": "gross_loss",
        "Прибыльность": "profit_factor",
        "Матожидание выигрыша": "expected_payoff",
        "Абсолютная просадка": "absolute_drawdown",
        "Максимальная просадка": "maximal_drawdown",
        "Относительная просадка": "relative_drawdown",
        "Всего сделок": "total_trades",
        "Короткие позиции (% выигравших)": "short_positions",
        "Длинные позиции (% выигравших)": "long_positions",
        "Прибыльные сделки (% от всех)": "profit_trades",
        "Убыточные сделки (% от всех)": "loss_trades",
    },
}


def _norm(label: str) -> str:
    """Case, accents (any script), whitespace and a trailing ':' do not matter."""
    text = "".join(c for c in unicodedata.normalize("NFKD", label) if not unicodedata.combining(c))
    return " ".join(text.lower().replace("\u00a0", " ").split()).rstrip(":").strip()


_LOOKUP: dict[str, tuple[str, str]] = {
    _norm(label): (field, lang) for lang, table in LABELS.items() for label, field in table.items()
}

# Row types of the order table -> what they do to the order named in the row.
_OPEN = {"buy": "long", "sell": "short"}
_PENDING = {"buy limit": "long", "buy stop": "long", "sell limit": "short", "sell stop": "short"}
_CLOSE = {"t/p", "s/l", "close", "close at stop", "close by"}
_CANCEL = {"delete", "expiration"}
_IGNORE = {"modify"}

_TIMEFRAME = re.compile(r"\((M1|M5|M15|M30|H1|H4|D1|W1|MN1?)\)", re.I)
_RANGE = re.compile(r"(\d{4}\.\d\d\.\d\d(?: \d\d:\d\d)?)\s*-\s*(\d{4}\.\d\d\.\d\d(?: \d\d:\d\d)?)")
_PARAM = re.compile(r"""\s*([^=;\s][^=;]*?)\s*=\s*("[^"]*"|[^;]*?)\s*(?:;|$)""")
_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _detect(head: bytes, name: str) -> bool:
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head[:200]:
        return False  # UTF-16: MetaTrader 5
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


def _pair(text: str, where: str) -> tuple[float, float | None]:
    """``"808.30 (6.34%)"`` / ``"6.93% (781.31)"`` / ``"62 (72.94%)"`` -> (first, second)."""
    first, _, rest = clean(text).partition("(")
    second = optional_number(rest.rstrip(")").rstrip("%")) if rest else None
    return number(first.strip().rstrip("%"), where=where), second


_STAMP = re.compile(r"(\d{4})\.(\d\d)\.(\d\d) (\d\d):(\d\d)")


def _time(text: str, where: str) -> datetime:
    """``2018.01.03 18:00`` (the tester's only layout) fast; anything else via ``timestamp``."""
    m = _STAMP.fullmatch(text)
    return datetime(*map(int, m.groups())) if m else timestamp(text, where=where)


def _cells(row: Any) -> list[str]:
    return [clean(td.text_content()) for td in row.iterchildren("td")]


@dataclass(slots=True)
class _Open:
    order: str
    direction: str
    time: datetime
    price: float
    volume: float  # still open
    pending: bool
    origin: str | None = None  # the order this one is the remainder of (partial close)
    closes: int = 0


def _summary(table: Any) -> tuple[dict[str, str], set[str]]:
    """Label -> value text of the first table, plus the languages whose labels were seen."""
    found: dict[str, str] = {}
    langs: set[str] = set()
    for row in table.iter("tr"):
        cells = _cells(row)
        for i, text in enumerate(cells[:-1]):
            hit = _LOOKUP.get(_norm(text)) if text else None
            if hit and hit[0] not in found:
                found[hit[0]] = cells[i + 1]
                langs.add(hit[1])
    return found, langs


def _order_rows(table: Any) -> Iterator[tuple[int, list[str]]]:
    for row in table.iter("tr"):
        cells = _cells(row)
        if cells and cells[0].isdigit():
            yield int(cells[0]), cells


def _trades(table: Any, symbol: str | None, initial: float) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Pair open rows with closing rows. Net result of a close = the change of the Balance column.

    The printed Profit excludes swap and commission: in the MACD fixture every trade held over
    midnight moves the balance by one cent less than its Profit, and the stated net profit is
    the balance change, not the sum of the Profit column. So ``net_profit`` is the balance
    change and ``swap`` holds ``balance change - profit``: swap plus commission (the tester does
    not print them apart) plus the odd cent of rounding between the two printed columns.

    A partial close prints ``close <order> <closed lots>`` followed, at the same time, by a new
    order for the remaining lots at the original price; that remainder keeps the original open
    time and says ``from #<order>`` in its comment.
    """
    orders: dict[str, _Open] = {}
    remainders: dict[tuple[datetime, str, float, float], _Open] = {}
    trades: list[dict[str, Any]] = []
    balance: float = initial
    last_balance: float | None = None
    for n, cells in _order_rows(table):
        where = f"order row #{n}"
        if len(cells) < 8:
            raise DataError(f"order row has {len(cells)} cells, expected 9 or 10", where=where)
        kind, order = cells[2].lower(), cells[3]
        if kind in _IGNORE:
            continue
        time = _time(cells[1], where)
        if kind in _OPEN or kind in _PENDING:
            o = orders.get(order)
            if o is not None and not (o.pending and kind in _OPEN):
                raise DataError(f"order {order} is opened twice", where=where)
            price = number(cells[5], where=where, what="price")
            volume = number(cells[4], where=where, what="size")
            direction = _OPEN.get(kind) or _PENDING[kind]
            new = _Open(order, direction, time, price, volume, kind in _PENDING)
            parent = remainders.pop((time, direction, price, volume), None) if kind in _OPEN else None
            if parent is not None:  # the rest of a partially closed order
                orders.pop(parent.order, None)
                new.time, new.origin = parent.time, parent.order
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
        volume = number(cells[4], where=where, what="size")
        profit = number(cells[8], where=where, what="profit")
        row_balance = number(cells[9], where=where, what="balance")
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
                "exit_price": number(cells[5], where=where, what="price"),
                "stop_loss": optional_number(cells[6]) or None,
                "take_profit": optional_number(cells[7]) or None,
                "commission": 0.0,
                "swap": round(net - profit, 2),
                "profit": profit,
                "net_profit": net,
                "comment": kind if o.origin is None else f"{kind} (from #{o.origin})",
            }
        )
        o.volume = round(o.volume - volume, 8)
        if o.volume <= 0:
            del orders[order]
        else:
            remainders[(time, o.direction, o.price, o.volume)] = o
    extra = {
        "open_positions": sorted(o.order for o in orders.values() if not o.pending),
        "pending_orders": sorted(o.order for o in orders.values() if o.pending),
        "final_balance": last_balance,
    }
    return trades, extra


def _find_tables(root: Any) -> tuple[Any, Any]:
    summary = trades = None
    for table in root.iter("table"):
        first = next(table.iter("tr"), None)
        head = _cells(first) if first is not None else []
        if head and head[0] == "#":
            trades = table
        elif summary is None:
            summary = table
    if summary is None:
        raise DataError("no summary table (symbol, period, totals)", where="summary")
    if trades is None:
        raise DataError("no order table (# | Time | Type | Order ...); the file is truncated", where="orders")
    return summary, trades


def _title(root: Any) -> tuple[str | None, str | None, str | None]:
    """EA name, server and build from the header lines."""
    bold = [clean(b.text_content()) for b in root.iter("b")][:4]
    strategy = bold[1] if len(bold) > 1 else None
    server = build = None
    if len(bold) > 2:
        m = re.fullmatch(r"(.*?)\s*\(Build (\d+)\)", bold[2])
        if m:
            server, build = m.group(1) or None, m.group(2)
    return strategy, server, build


@parser("mt4_tester_html", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """MetaTrader 4 Strategy Tester report (HTML, any terminal language)."""
    text = decode(data)
    if "</html>" not in text[-2048:].lower():
        raise DataError("the report ends before </html>: the file is truncated", where="end of file")
    root = lxml.html.document_fromstring(text)
    summary_table, order_table = _find_tables(root)
    found, langs = _summary(summary_table)
    missing = [k for k in ("symbol", "initial_deposit", "net_profit", "total_trades") if k not in found]
    if missing:
        raise DataError(f"summary lacks {', '.join(missing)} (label not recognised)", where="summary")

    symbol = found["symbol"].split(" ")[0] or None
    period = found.get("period", "")
    tf = _TIMEFRAME.search(period)
    span = _RANGE.search(period)
    start = timestamp(span.group(1), where="period") if span else None
    end = timestamp(span.group(2), where="period") if span else None
    initial = number(found["initial_deposit"], where="summary.initial_deposit")

    rows, extra = _trades(order_table, symbol, initial)
    trades = conform(rows, TRADES_SCHEMA) if rows else empty(TRADES_SCHEMA)

    report: dict[str, Any] = {}
    stated: dict[str, float] = {"initial_balance": initial}
    stated["net_profit"] = number(found["net_profit"], where="summary.net_profit")
    stated["total_trades"] = number(found["total_trades"], where="summary.total_trades")
    for key in ("gross_profit", "gross_loss", "profit_factor"):
        if key in found:
            stated[key] = number(found[key], where=f"summary.{key}")
    # MT4 counts a trade printed 0.00 / -0.00 as a profit / loss trade by its unrounded sign; the
    # validator counts net > 0 / net < 0. The two agree only when no trade nets exactly zero.
    counts = {"winning_trades": "profit_trades", "losing_trades": "loss_trades"}
    zero = int((trades["net_profit"] == 0).sum())
    for key, label in counts.items():
        if label in found:
            value = _pair(found[label], f"summary.{label}")[0]
            stated_or_meta = stated if zero == 0 else report
            stated_or_meta[key] = value
    if extra["final_balance"] is not None:
        stated["final_balance"] = extra["final_balance"]

    strategy, server, build = _title(root)
    for key in ("bars", "ticks", "mismatched_errors", "expected_payoff", "absolute_drawdown"):
        if key in found:
            report[key] = optional_number(found[key])
    if "modelling_quality" in found:
        report["modelling_quality_pct"] = optional_number(found["modelling_quality"].rstrip("%"))
    if "maximal_drawdown" in found:  # value (percent)
        report["maximal_drawdown"], report["maximal_drawdown_pct"] = _pair(
            found["maximal_drawdown"], "summary.maximal_drawdown"
        )
    if "relative_drawdown" in found:  # percent (value)
        report["relative_drawdown_pct"], report["relative_drawdown"] = _pair(
            found["relative_drawdown"], "summary.relative_drawdown"
        )
    for key in ("short_positions", "long_positions"):
        if key in found:
            count, won_pct = _pair(found[key], f"summary.{key}")
            report[key] = int(count)
            report[f"{key}_won_pct"] = won_pct
    spread = found.get("spread", "")
    meta: dict[str, Any] = {
        "build": build,
        "server": server,
        "model": found.get("model"),
        "period": period or None,
        "spread": spread or None,
        "spread_points": int(m.group()) if (m := re.search(r"\d+", spread)) else None,
        "language": "+".join(sorted(langs)),
        "volume_unit": "lots",
        "swap_holds_costs": True,  # swap = balance change - printed profit (swap + commission + rounding)
        "zero_trades": zero,
        "closed_at_end": int(trades["comment"].str.starts_with("close at stop").sum()),
        "partial_closes": int(trades["comment"].str.contains("(from #", literal=True).sum()),
        "open_positions": extra["open_positions"],
        "pending_orders": extra["pending_orders"],
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
    )
