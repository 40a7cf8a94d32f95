"""Ingest with indexing on embeds exactly the new backtest's chunks, once."""

from __future__ import annotations

import pytest
from conftest import REAL

import workbench as wb

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("rag")]


def test_ingest_with_index_embeds_only_the_new_backtest(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ws = wb.open(tmp_path / "lake")
    first = ws.ingest(REAL / "mt4_tester_html" / "reuniware_jcspatterns_gbpjpy_fr.htm", index=True)
    bid = first.files[0].backtest_id
    rows = ws.store.frame("SELECT backtest_id, count(*) AS n FROM embeddings_metadata GROUP BY ALL")
    assert rows["backtest_id"].to_list() == [bid] and rows["n"][0] > 14  # trades + days + patterns + summary
    ws.ingest(REAL / "mt4_tester_html" / "qg0_rsi_momentum_eurusd_fr.htm", index=False)
    assert ws.store.scalar("SELECT count(DISTINCT backtest_id) FROM embeddings_metadata") == 1
    before = ws.store.scalar("SELECT count(*) FROM embeddings_metadata")
    again = ws.ingest(REAL / "mt4_tester_html" / "reuniware_jcspatterns_gbpjpy_fr.htm", index=True)
    assert again.files[0].status == "duplicate"
    assert ws.store.scalar("SELECT count(*) FROM embeddings_metadata") == before
