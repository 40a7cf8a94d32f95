"""MetaTrader 5 Strategy Tester report (HTML, UTF-16LE) in any interface language -> trades.

Both layouts are read: the 2016 one ("Broker:", times without seconds) and recent builds
("Company:", times with seconds), in whatever language the terminal printed them: the settings,
results and deals are found by structure and the labels read through MT5's translation tables
(see ``_mt5_common`` and ``_mt5_labels``). Trades are rebuilt from the Deals table; the first
``balance`` deal is the initial deposit.

Every Results total is stated; ``platform_figures`` recompute them per deal, MT5's convention
(entry-deal commissions are losing deals of their own; trades and wins/losses are exit deals),
so the printed Gross Profit/Loss, Profit Factor and counts are reproduced even when they differ
from the per-position figures of the trades. Times are the broker's server time (offset unknown).
"""

from __future__ import annotations

import re

from workbench.ingest.parsers import _mt5_common as mt5
from workbench.ingest.records import Parsed
from workbench.ingest.registry import parser

_TITLE = re.compile(r"<title>\s*Strategy Tester Report\s*</title>", re.I)
# The Settings' period cell, "<b>H1 (2024.12.30 - 2026.07.01)</b>", in every interface language
_PERIOD_CELL = re.compile(r"<b>\s*[A-Za-z]+\d*\s*\(\d{4}\.\d{2}\.\d{2}\s*-\s*\d{4}\.\d{2}\.\d{2}\)\s*</b>")


def _detect(head: bytes, name: str) -> bool:
    text = mt5.head_text(head)
    if _TITLE.search(text) and "Expert:" in text and "Initial Deposit:" in text:
        return True
    # another interface language: MT5's 13-column report table with a tester period cell
    return 'colspan="13"' in text and bool(_PERIOD_CELL.search(text))


@parser("mt5_tester_html", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """MetaTrader 5 Strategy Tester report (HTML, any interface language)."""
    rows = mt5.load_rows(data, "MT5 tester report")
    return mt5.tester_report(rows, fmt="mt5_tester_html", what="MT5 Strategy Tester report")
