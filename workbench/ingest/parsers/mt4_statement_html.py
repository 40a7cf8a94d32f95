"""MetaTrader 4 account statements (``Statement.htm``, "Save as Detailed Report").

One table: an ``Account | Name | Currency | Leverage | date`` row, then sections headed by a
bold cell (``Closed Transactions:``, ``Open Trades:``, ``Working Orders:``, ``Summary:``,
``Details:``). Closed transactions have the columns ``Ticket | Open Time | Type | Size | Item |
Price | S / L | T / P | Close Time | Price | Commission | Taxes | Swap | Profit``; among them sit
``balance``/``credit`` rows (deposits, withdrawals, adjustments, interest: cash flows, not
trades), cancelled pending orders (skipped) and second-line rows carrying a ticket's comment
(skipped; the comment is also the ticket cell's ``title``). Money uses a space thousands
separator (``100 000.00``).

Taxes have no column of their own in the trades schema: they are added to ``commission``
(``meta["taxes"]`` keeps their total), so ``net_profit = profit + commission + swap`` still
equals MT4's "Commission + Swap + Profit + Taxes" that the Closed P/L line sums.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import lxml.html

from workbench.errors import DataError
from workbench.ingest.records import CASH_FLOWS_SCHEMA, TRADES_SCHEMA, Parsed, conform, empty
from workbench.ingest.registry import parser
from workbench.ingest.text import clean, decode, number, optional_number, timestamp

__all__ = ["LABELS", "parse"]

# Printed label -> field, one dict per language (MT4 writes statements in English).
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "Closed Transactions:": "@closed",
        "Open Trades:": "@open",
        "Working Orders:": "@working",
        "Summary:": "@summary",
        "Details:": "@details",
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
    },
}


def _norm(label: str) -> str:
    return " ".join(label.lower().split()).rstrip(":").strip()


_LOOKUP: dict[str, str] = {_norm(k): v for table in LABELS.values() for k, v in table.items()}
_HEADER = re.compile(r"(Account|Name|Currency|Leverage):\s*(.*)")
_DIRECTION = {"buy": "long", "sell": "short"}
_FLOW_KINDS = {"credit": "credit"}


def _detect(head: bytes, name: str) -> bool:
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head[:200]:
        return False  # UTF-16: MetaTrader 5
    low = head.lower()
    return b"<title>statement:" in low and b"closed transactions:" in low


def _cells(row: Any) -> list[Any]:
    return list(row.iterchildren("td"))


def _text(td: Any) -> str:
    return clean(td.text_content())


def _flow_kind(row_type: str, comment: str, amount: float) -> str:
    if row_type in _FLOW_KINDS:
        return _FLOW_KINDS[row_type]
    low = comment.lower()
    if "deposit" in low and amount > 0:
        return "deposit"
    if "withdraw" in low and amount < 0:
        return "withdrawal"
    return "adjustment"  # ADJUSTMENT, Interest, Financing, transfers...


def _number_pair(text: str, where: str) -> float:
    """First number of ``"1 (100.00%)"`` / ``"0.90 (0.00%)"``."""
    return number(clean(text).partition("(")[0].rstrip("% "), where=where)


@parser("mt4_statement_html", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """MetaTrader 4 account statement (detailed report, HTML)."""
    text = decode(data)
    if "</html>" not in text[-2048:].lower():
        raise DataError("the statement ends before </html>: the file is truncated", where="end of file")
    root = lxml.html.document_fromstring(text)

    header: dict[str, str] = {}
    found: dict[str, str] = {}
    section = ""
    seen: set[str] = set()
    trades: list[dict[str, Any]] = []
    flows: list[dict[str, Any]] = []
    totals_row: list[str] | None = None
    open_trades = working = cancelled = 0
    symbols: set[str] = set()

    for row in root.iter("tr"):
        tds = _cells(row)
        texts = [_text(td) for td in tds]
        if not any(texts):
            continue
        if len(tds) == 1:
            field = _LOOKUP.get(_norm(texts[0]), "")
            if field.startswith("@"):
                section = field[1:]
                seen.add(section)
                continue
        for td_text in texts:
            m = _HEADER.match(td_text)
            if m and not section:
                header[m.group(1).lower()] = m.group(2).strip()
        # label/value pairs (Summary, Details, Closed P/L lines)
        for i, td_text in enumerate(texts[:-1]):
            field = _LOOKUP.get(_norm(td_text)) if td_text.endswith(":") else None
            if field and not field.startswith("@") and field not in found:
                found[field] = texts[i + 1]
        ticket = texts[0]
        if not ticket.isdigit():
            if section == "closed" and len(tds) == 5 and not texts[0] and totals_row is None:
                totals_row = texts[1:]  # Commission | Taxes | Swap | Profit sums
            continue
        where = f"ticket {ticket}"
        row_type = texts[2].lower() if len(texts) > 2 else ""
        if section == "open":
            open_trades += 1
            continue
        if section == "working":
            working += 1
            continue
        if section != "closed":
            continue
        if row_type in ("balance", "credit"):
            comment = texts[3] if len(texts) > 4 else ""
            amount = number(texts[-1], where=where, what="amount")
            flows.append(
                {
                    "time": timestamp(texts[1], where=where),
                    "amount": amount,
                    "kind": _flow_kind(row_type, comment, amount),
                    "comment": comment or None,
                }
            )
            continue
        if row_type not in _DIRECTION:
            cancelled += 1  # cancelled / expired pending order: no money moved
            continue
        if len(texts) != 14:
            raise DataError(f"closed trade row has {len(texts)} cells, expected 14", where=where)
        commission = number(texts[10], where=where, what="commission")
        taxes = number(texts[11], where=where, what="taxes")
        swap = number(texts[12], where=where, what="swap")
        profit = number(texts[13], where=where, what="profit")
        symbol = texts[4].upper()  # MT4 prints items lower-case
        symbols.add(symbol)
        trades.append(
            {
                "trade_id": ticket,
                "open_time": timestamp(texts[1], where=where, what="open time"),
                "close_time": timestamp(texts[8], where=where, what="close time"),
                "symbol": symbol,
                "direction": _DIRECTION[row_type],
                "volume": number(texts[3], where=where, what="size"),
                "entry_price": number(texts[5], where=where, what="open price"),
                "exit_price": number(texts[9], where=where, what="close price"),
                "stop_loss": optional_number(texts[6]) or None,
                "take_profit": optional_number(texts[7]) or None,
                "commission": round(commission + taxes, 2),  # taxes folded into commission
                "taxes": taxes,
                "swap": swap,
                "profit": profit,
                "net_profit": round(profit + commission + taxes + swap, 2),
                "comment": clean(tds[0].get("title")) or None,
            }
        )

    for needed in ("closed", "summary"):
        if needed not in seen:
            raise DataError(f"no '{needed}' section: the statement is truncated", where=needed)
    for key in ("closed_trade_pl", "deposit_withdrawal", "balance"):
        if key not in found:
            raise DataError(f"Summary lacks {key}", where="summary")

    # Statements list newest first (or by ticket); trades and flows are kept in time order.
    trades.sort(key=lambda t: (t["close_time"], t["open_time"]))
    flows.sort(key=lambda f: f["time"])
    frame = conform(trades, TRADES_SCHEMA) if trades else empty(TRADES_SCHEMA)
    taxes_total = round(sum(t["taxes"] for t in trades), 2)
    if totals_row is not None and len(totals_row) == 4:
        # The Closed Transactions footer sums Commission | Taxes | Swap | Profit over trades.
        sums = {
            "commission": sum(t["commission"] for t in trades) - taxes_total,
            "taxes": taxes_total,
            "swap": sum(t["swap"] for t in trades),
            "profit": sum(t["profit"] for t in trades),
        }
        for (col, got), printed in zip(sums.items(), totals_row, strict=True):
            want = number(printed, where=f"totals.{col}")
            if abs(got - want) > 0.011:
                raise DataError(
                    f"the {col} column sums to {got:,.2f} but the statement prints {want:,.2f}",
                    where=f"Closed Transactions totals.{col}",
                )
    cash = conform(flows, CASH_FLOWS_SCHEMA) if flows else empty(CASH_FLOWS_SCHEMA)
    flows_total = round(sum(f["amount"] for f in flows if f["kind"] != "credit"), 2)
    dw = number(found["deposit_withdrawal"], where="summary.deposit_withdrawal")
    if abs(flows_total - dw) > 0.011:
        raise DataError(
            f"balance rows sum to {flows_total:,.2f} but Deposit/Withdrawal says {dw:,.2f}",
            where="summary.deposit_withdrawal",
        )
    closed_pl = number(found["closed_trade_pl"], where="summary.closed_trade_pl")
    balance = number(found["balance"], where="summary.balance")
    # A statement of the whole history starts from 0; one saved for a period starts from the
    # balance before it, which the Summary implies: Balance - Deposit/Withdrawal - Closed P/L.
    initial = round(balance - dw - closed_pl, 2)
    if abs(initial) < 0.005:
        initial = 0.0

    # Closed Trade P/L is "Commission + Swap + Profit + Taxes" over closed trades (the Swissquote
    # fixture: swap 8 841.19 + profit 81 225.45 = 90 066.64), i.e. our net profit.
    stated: dict[str, float] = {"net_profit": closed_pl, "initial_balance": initial}
    if not any(f["kind"] == "credit" for f in flows):  # credit is not part of Balance
        stated["final_balance"] = balance
    for key in ("total_net_profit", "closed_pl_line"):  # the same figure printed twice more
        if key in found and abs(number(found[key], where=key) - closed_pl) > 0.011:
            raise DataError(f"{found[key]} differs from Closed Trade P/L {closed_pl:,.2f}", where=key)
    report: dict[str, Any] = {}
    if "gross_profit" in found:
        stated["gross_profit"] = number(found["gross_profit"], where="details.gross_profit")
    if "gross_loss" in found:  # printed as a positive amount
        stated["gross_loss"] = -abs(number(found["gross_loss"], where="details.gross_loss"))
    if "profit_factor" in found:
        stated["profit_factor"] = number(found["profit_factor"], where="details.profit_factor")
    if "total_trades" in found:
        stated["total_trades"] = number(found["total_trades"], where="details.total_trades")
    if "profit_trades" in found:
        stated["winning_trades"] = _number_pair(found["profit_trades"], "details.profit_trades")
    if "loss_trades" in found:
        stated["losing_trades"] = _number_pair(found["loss_trades"], "details.loss_trades")
    for key in ("floating_pl", "margin", "equity", "free_margin", "credit_facility", "expected_payoff"):
        if key in found:
            report[key] = optional_number(found[key].partition("(")[0])
    for key in ("absolute_drawdown", "maximal_drawdown", "relative_drawdown"):
        if key in found:
            report[key] = found[key]

    times: list[datetime] = [t["open_time"] for t in trades] + [f["time"] for f in flows]
    times += [t["close_time"] for t in trades]
    broker = next((clean(b.text_content()) for b in root.iter("b")), None)
    account = header.get("account")
    leverage = header.get("leverage") or None
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
        meta={
            "source": "statement",
            "account": account,
            "account_name": header.get("name"),
            "broker": broker,
            "leverage": leverage,
            "symbols": sorted(symbols),
            "volume_unit": "lots",
            "taxes": taxes_total,  # included in the commission column
            "initial_balance_inferred": initial != 0.0,
            "cancelled_orders": cancelled,
            "open_trades": open_trades,
            "working_orders": working,
            "report": report,
        },
    )
