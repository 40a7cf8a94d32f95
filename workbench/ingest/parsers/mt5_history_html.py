"""MetaTrader 5 trade history report (HTML, UTF-16LE) in any interface language -> trades.

The header (Name, Account, Company, Date), the tables, the account summary and the Results are
found by structure and their labels read through MT5's translation tables (see ``_mt5_common``).
Trades are rebuilt from the Deals table; every ``balance``/``credit`` deal is a cash flow and the
initial balance is the balance before the first deal (the running Balance column says it). The
open-positions table ("Trade Positions") lists positions still open: they are not trades (kept in
meta); their entry costs are in MT5's net profit, which ``platform_figures`` recompute per deal
(MT5's convention) next to every printed Results total.
"""

from __future__ import annotations

import re

from workbench.errors import DataError
from workbench.ingest.parsers import _mt5_common as mt5
from workbench.ingest.records import Parsed
from workbench.ingest.registry import parser
from workbench.ingest.text import timestamp

_TITLE = re.compile(r"<title>[^<]*Trade History Report\s*</title>", re.I)
# The header's account cell, "<b>3873474&nbsp;(USD,&nbsp;1:100,&nbsp;MetaQuotes-Demo,&nbsp;demo)</b>"
_ACCOUNT_CELL = re.compile(r"<b>\s*\d+(?:&nbsp;|\s)*\((?:&nbsp;|\s)*[A-Z]{3,4}(?:&nbsp;|\s)*,")


def _detect(head: bytes, name: str) -> bool:
    text = mt5.head_text(head)
    # MT4 statements are titled "Statement: ..."; only MT5 writes "Trade History Report".
    if _TITLE.search(text) and ">Trade History Report<" in text and "Account:" in text:
        return True
    # another interface language: MT5's 13-column report table with its account cell
    return 'colspan="13"' in text and bool(_ACCOUNT_CELL.search(text))


@parser("mt5_history_html", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """MetaTrader 5 trade history report (HTML, any interface language)."""
    rows = mt5.load_rows(data, "MT5 history report")
    parts = mt5.history_parts(rows, "MT5 history report")
    lay, num = parts.layout, parts.fmt
    account = _account(parts.header.get("Account", ""))
    results, results_text = mt5.results_numbers(parts.results, num)
    summary, _ = mt5.results_numbers(parts.summary, num)

    deals = mt5.deals(rows, lay.table("deals"), num)
    if not deals:
        raise DataError("the Deals table is empty", where="Deals")
    ledger = mt5.build(deals, mt5.orders_sl_tp(rows, lay.table("orders"), num), absorb_deposit=False)
    stated, platform, warnings = mt5.platform_totals(ledger, results)
    # "Balance:" of the account summary, else the last deal's running balance
    stated["final_balance"] = summary.get("balance", ledger.final_balance)
    if not parts.has_results:
        warnings.insert(0, mt5.NO_RESULTS)
    warnings += mt5.label_notes(parts.reading)

    symbols = sorted(set(ledger.trades["symbol"].to_list()))
    login = account.get("login") or "?"
    date = parts.header.get("Date")
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
            "account_name": parts.header.get("Name"),
            "broker": parts.header.get("Company") or parts.header.get("Broker"),
            "report_date": timestamp(date, where="Date") if date else None,
            "volume_unit": "lots",
            "language": mt5.language(parts.reading),
            "number_format": num.describe(),
            "results": results,
            "results_text": results_text,
            "account_summary": summary,
            "mt5_statistics": ledger.mt5,
            "timezone": mt5.TIMEZONE,
            "deals": len(deals),
            "open_positions": ledger.open_positions,
            "open_positions_printed": mt5.open_positions(rows, lay.table("open_positions"), num),
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
