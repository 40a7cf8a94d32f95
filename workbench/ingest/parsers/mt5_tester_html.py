"""MetaTrader 5 Strategy Tester report (HTML, UTF-16LE): settings, inputs, results, deals -> trades.

Both layouts are read: the 2016 one ("Broker:", times without seconds) and recent builds
("Company:", times with seconds). Trades are rebuilt from the Deals table (see
``_mt5_common``); the first ``balance`` deal is the initial deposit.

Every Results total is stated; ``platform_figures`` recompute them per deal, MT5's convention
(entry-deal commissions are losing deals of their own; trades and wins/losses are exit deals),
so the printed Gross Profit/Loss, Profit Factor and counts are reproduced even when they differ
from the per-position figures of the trades. Times are the broker's server time (offset unknown).
"""

from __future__ import annotations

import re

from workbench.errors import DataError
from workbench.ingest.parsers import _mt5_common as mt5
from workbench.ingest.records import Parsed
from workbench.ingest.registry import parser
from workbench.ingest.text import number, timestamp

_TITLE = re.compile(r"<title>\s*Strategy Tester Report\s*</title>", re.I)
_PERIOD = re.compile(r"^(\w+)\s*\((\d{4}\.\d{2}\.\d{2})\s*-\s*(\d{4}\.\d{2}\.\d{2})\)")
_BUILD = re.compile(r"^(.*?)\s*\(Build (\d+)\)$")


def _detect(head: bytes, name: str) -> bool:
    text = mt5.head_text(head)
    return bool(_TITLE.search(text)) and "Expert:" in text and "Initial Deposit:" in text


@parser("mt5_tester_html", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """MetaTrader 5 Strategy Tester report (HTML)."""
    rows = mt5.load_rows(data, "MT5 tester report")
    sec = mt5.sections(rows, ("Settings", "Results", "Orders", "Deals"))
    for title in ("Settings", "Results", "Deals"):
        if title not in sec:
            raise DataError(f"no {title} section; not a complete MT5 tester report", where=title)
    settings = mt5.label_values(sec["Settings"])
    for label in ("Expert", "Symbol", "Period", "Initial Deposit"):
        if label not in settings:
            raise DataError(f"the settings have no {label!r}", where=f"Settings.{label}")
    period = _PERIOD.match(settings["Period"])
    if not period:
        raise DataError(f"unrecognised period {settings['Period']!r}", where="Settings.Period")
    deposit = number(settings["Initial Deposit"], where="Settings.Initial Deposit")
    results, results_text = mt5.results_numbers(mt5.label_values(sec["Results"]))

    deals = mt5.deals(sec["Deals"])
    ledger = mt5.build(deals, mt5.orders_sl_tp(sec.get("Orders", [])), absorb_deposit=True)
    if ledger.initial_deposit is None:
        raise DataError("the first deal is not the initial balance deal", where="Deals")
    stated, platform, warnings = mt5.platform_totals(ledger, results)
    stated["initial_balance"] = deposit  # "Initial Deposit:"
    platform["initial_balance"] = ledger.initial_deposit  # the first, balance, deal
    stated["final_balance"] = ledger.final_balance  # the Deals table's last Balance (and totals row)

    server, build = _server_build(rows)
    expert, symbol, tf = settings["Expert"], settings["Symbol"], period.group(1).lower()
    return Parsed(
        format="mt5_tester_html",
        kind="backtest",
        name=f"{expert} {symbol} {tf}",
        platform="mt5",
        strategy=expert,
        symbol=symbol,
        timeframe=tf,
        currency=settings.get("Currency") or None,
        initial_balance=ledger.initial_deposit,
        start=timestamp(period.group(2), where="Settings.Period"),
        end=timestamp(period.group(3), where="Settings.Period"),
        parameters=mt5.inputs(sec["Settings"]),
        trades=ledger.trades,
        cash_flows=ledger.cash_flows,
        stated=stated,
        platform_figures=platform,
        convention=mt5.CONVENTION,
        warnings=tuple(warnings),
        meta={
            "broker": settings.get("Company") or settings.get("Broker"),
            "server": server,
            "build": build,
            "leverage": settings.get("Leverage"),
            "volume_unit": "lots",
            "results": results,
            "results_text": results_text,
            "mt5_statistics": ledger.mt5,
            "timezone": mt5.TIMEZONE,
            "deals": len(deals),
            "open_positions": ledger.open_positions,
        },
    )


def _server_build(rows: list[list[str]]) -> tuple[str | None, int | None]:
    for row in rows[:5]:
        texts = [c for c in row if c]
        if len(texts) == 1:
            m = _BUILD.match(texts[0])
            if m:
                return m.group(1), int(m.group(2))
    return None, None
