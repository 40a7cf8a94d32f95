"""MetaTrader 5 trade history report (HTML, UTF-16LE): account header, deals -> trades, results.

Trades are rebuilt from the Deals table (see ``_mt5_common``); every ``balance``/``credit``
deal is a cash flow and the initial balance is the balance before the first deal (the running
Balance column says it). The "Trade Positions" table lists positions still open: they are not
trades (kept in meta); their entry costs are in MT5's net profit, which ``platform_figures``
recompute per deal (MT5's convention) next to every printed Results total.
"""

from __future__ import annotations

import re

from workbench.errors import DataError
from workbench.ingest.parsers import _mt5_common as mt5
from workbench.ingest.records import Parsed
from workbench.ingest.registry import parser
from workbench.ingest.text import optional_number, timestamp

_TITLE = re.compile(r"<title>[^<]*Trade History Report\s*</title>", re.I)
# "Positions" (closed positions, newer builds) is a section of its own so that its rows stay
# out of the others; the trades are rebuilt from the deals either way.
_SECTIONS = ("Positions", "Orders", "Deals", "Trade Positions", "Open Positions", "Working Orders", "Results")
_OPEN = ("Trade Positions", "Open Positions")


def _detect(head: bytes, name: str) -> bool:
    text = mt5.head_text(head)
    # MT4 statements are titled "Statement: ..."; only MT5 writes "Trade History Report".
    return bool(_TITLE.search(text)) and ">Trade History Report<" in text and "Account:" in text


@parser("mt5_history_html", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """MetaTrader 5 trade history report (HTML)."""
    rows = mt5.load_rows(data, "MT5 history report")
    sec = mt5.sections(rows, _SECTIONS)
    for title in ("Deals", "Results"):
        if title not in sec:
            raise DataError(f"no {title} section; not a complete MT5 history report", where=title)
    header = mt5.label_values(sec[""])
    account = _account(header.get("Account", ""))
    results, results_text = mt5.results_numbers(mt5.label_values(sec["Results"]))
    # The account summary (Balance/Equity/Margin) sits after the last table before Results.
    summary, _ = mt5.results_numbers(
        mt5.label_values(r for title in ("Working Orders", *_OPEN) for r in sec.get(title, []))
    )

    deals = mt5.deals(sec["Deals"])
    if not deals:
        raise DataError("the Deals table is empty", where="Deals")
    ledger = mt5.build(deals, mt5.orders_sl_tp(sec.get("Orders", [])), absorb_deposit=False)
    stated, platform, warnings = mt5.platform_totals(ledger, results)
    # "Balance:" of the account summary, else the last deal's running balance
    stated["final_balance"] = summary.get("balance", ledger.final_balance)

    symbols = sorted(set(ledger.trades["symbol"].to_list()))
    login = account.get("login") or "?"
    return Parsed(
        format="mt5_history_html",
        kind="backtest",
        name=f"MT5 history {login}",
        platform="mt5",
        symbol=symbols[0] if len(symbols) == 1 else None,
        currency=account.get("currency"),
        initial_balance=ledger.opening_balance,
        start=deals[0].time,
        end=deals[-1].time,
        trades=ledger.trades,
        cash_flows=ledger.cash_flows,
        stated=stated,
        platform_figures=platform,
        convention=mt5.CONVENTION,
        warnings=tuple(warnings),
        meta={
            **account,
            "account_name": header.get("Name"),
            "broker": header.get("Broker") or header.get("Company"),
            "report_date": timestamp(header["Date"], where="Date") if header.get("Date") else None,
            "volume_unit": "lots",
            "results": results,
            "results_text": results_text,
            "account_summary": summary,
            "mt5_statistics": ledger.mt5,
            "timezone": mt5.TIMEZONE,
            "deals": len(deals),
            "open_positions": ledger.open_positions,
            "open_positions_printed": _positions([r for title in _OPEN for r in sec.get(title, [])]),
        },
    )


def _account(text: str) -> dict[str, str]:
    """``"3873474 (USD, 1:100, MetaQuotes-Demo, demo)"`` -> login, currency, leverage, server, mode."""
    m = re.match(r"^\s*(\S+)\s*(?:\((.*)\))?", text)
    if not m:
        return {}
    out = {"login": m.group(1)}
    rest = []
    for part in (p.strip() for p in (m.group(2) or "").split(",")):
        if re.fullmatch(r"[A-Z]{3}", part) and "currency" not in out:
            out["currency"] = part
        elif re.fullmatch(r"1:\d+", part):
            out["leverage"] = part
        elif part.lower() in ("demo", "real", "contest"):
            out["account_type"] = part.lower()
        elif part.lower() in ("hedge", "hedging", "netting", "exchange"):
            out["margin_mode"] = part.lower()
        elif part:
            rest.append(part)
    if rest:
        out["server"] = ", ".join(rest)
    return out


def _positions(rows: list[list[str]]) -> list[dict[str, object]]:
    """Open positions as printed (Time | Position | Symbol | Type | Volume | Price | ... | Profit)."""
    header = next((r for r in rows if r[:2] == ["Time", "Position"]), None)
    if header is None:
        return []
    col = {n: i for i, n in enumerate(header)}
    out: list[dict[str, object]] = []
    for r in rows:
        if r is header or len(r) < len(header) or not r[0]:
            continue
        out.append(
            {
                "position": r[col["Position"]],
                "symbol": r[col["Symbol"]] if "Symbol" in col else None,
                "type": r[col["Type"]] if "Type" in col else None,
                "volume": optional_number(r[col["Volume"]]) if "Volume" in col else None,
                "price": optional_number(r[col["Price"]]) if "Price" in col else None,
                "profit": optional_number(r[col["Profit"]]) if "Profit" in col else None,
            }
        )
    return out
