"""An export without its opening balance (cTrader history) still gives chunks: unknown figures read n/a."""

from __future__ import annotations

from pathlib import Path

import workbench as wb
from workbench.rag.chunks import chunks_for

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "samples" / "ctrader_history_xml"


def test_days_of_a_backtest_with_an_unknown_balance(tmp_path) -> None:
    ws = wb.open(tmp_path / "lake")
    files = [f for f in ws.ingest(sorted(SAMPLE.glob("*.xml"))).files if f.backtest_id]
    assert files
    days = [c for c in chunks_for(ws, files[0].backtest_id) if c.kind == "day"]
    assert days and all("drawdown n/a" in c.text for c in days)
