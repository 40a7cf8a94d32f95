"""ask() on real fixtures: facts checked against plain polars written here, incremental indexing, CLI JSON,
and the LLM path against the FAKE Ollama server (tests/fake_ollama.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import polars as pl
import pytest
from conftest import real
from fake_ollama import MODEL, FakeOllama

import workbench as wb
from workbench.rag import ask, index_backtests

FILES = [
    "mt4_tester_html/qg0_rsi_momentum_eurusd_fr.htm",
    "mt4_tester_html/reuniware_jcspatterns_gbpjpy_fr.htm",
    "mt4_tester_html/urinethrower_bastet_xagusd_h4.htm",
    "mt5_history_html/mihawk2016_MT5Trade5.html",
]
EXTRA = "mt4_statement_html/alecortees22_oanda_statement.htm"
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    os.environ["HF_HUB_OFFLINE"] = "1"
    home = tmp_path_factory.mktemp("rag") / "lake"
    w = wb.open(home)
    w.ingest([real(f) for f in FILES])
    first = index_backtests(w)
    assert first.embedded == first.chunks > 0 and first.skipped == 0
    return w


def all_trades(ws) -> pl.DataFrame:
    return pl.concat([ws.trades(i).with_columns(pl.lit(i).alias("bt")) for i in ws.backtests()["id"]])


def by_currency(ws) -> dict[str, list[int]]:
    """Backtest ids per account currency: cross-backtest answers never add money across currencies."""
    out: dict[str, list[int]] = {}
    for r in ws.backtests().iter_rows(named=True):
        out.setdefault(r["currency"] or "no currency", []).append(r["id"])
    return out


def fact(a, name: str, currency: str, scopes: int):
    key = name if scopes == 1 else f"{name}[{currency}]"
    return next(f.value for f in a.facts if f.name == key)


def test_reindex_embeds_nothing_and_a_new_backtest_only_its_chunks(ws):
    again = index_backtests(ws)
    assert again.embedded == 0 and again.skipped == again.chunks
    report = ws.ingest([real(EXTRA)])
    new_id = report.files[0].backtest_id
    more = index_backtests(ws)
    from workbench.rag.chunks import chunks_for

    assert more.embedded == len(chunks_for(ws, new_id)) and more.skipped == again.chunks
    n = ws.store.scalar("SELECT count(*) FROM embeddings_metadata")
    assert n == more.chunks
    assert ws.store.scalar("SELECT count(DISTINCT model) FROM embeddings_metadata") == 1


def test_losing_weekdays_match_plain_polars_per_currency(ws):
    a = ask(ws, "Which weekdays lose money?", use_llm=False)
    groups = by_currency(ws)
    assert len(groups) == 2  # the MT4 testers state no currency; the MT5/MT4 statements are USD
    all_losing = []
    for currency, ids in groups.items():
        t = all_trades(ws).filter(pl.col("bt").is_in(ids))
        by = (
            t.group_by(pl.col("close_time").dt.weekday().alias("d"))
            .agg(pl.col("net_profit").sum().round(2).alias("net"))
            .sort("d")
        )
        expected = {DAYS[d - 1]: net for d, net in by.iter_rows()}
        assert fact(a, "net_profit_by_weekday", currency, len(groups)) == pytest.approx(expected, abs=0.01)
        losing = [d for d, v in expected.items() if v < 0]
        assert sorted(fact(a, "losing_weekdays", currency, len(groups))) == sorted(losing)
        all_losing += losing
    assert all_losing
    for day in all_losing:
        assert day in a.answer
    assert a.llm is None and "No language model was used" in a.answer
    assert any(s.cited and s.kind == "pattern" for s in a.sources)
    assert any(s.score is not None for s in a.sources)


def test_one_backtest_drawdown_matches_a_hand_computed_peak_to_trough(ws):
    bid = int(ws.backtests().filter(pl.col("name").str.contains("Bastet"))["id"][0])
    t = ws.trades(bid).sort(["close_time", "open_time", "trade_id"])
    cum = t["net_profit"].cum_sum().to_list()
    peak, worst = 0.0, 0.0
    for x in cum:
        peak = max(peak, x)
        worst = max(worst, peak - x)
    a = ask(ws, "What happened in my worst drawdown?", backtest_id=bid, use_llm=False)
    dd = next(f.value for f in a.facts if f.name == "worst_drawdown")
    assert dd["backtest_id"] == bid and dd["drawdown"] == pytest.approx(worst, abs=0.01)
    assert f"{worst:,.2f}" in a.answer
    assert all(s.backtest_id == bid for s in a.sources)
    assert any(s.kind == "trade" and s.cited for s in a.sources)


def test_longest_losing_streak_matches_polars_rle(ws):
    a = ask(ws, "What was my longest losing streak?", use_llm=False)
    groups = by_currency(ws)
    for currency, ids in groups.items():
        best = 0
        for i in ids:
            s = ws.trades(i).sort(["close_time", "open_time", "trade_id"])["net_profit"].sign()
            runs = s.rle().struct.unnest()
            losing = runs.filter(pl.col("value") == -1)["len"]
            best = max(best, int(losing.max() or 0))
        assert fact(a, "longest_losing_streak", currency, len(groups))["length"] == best


def test_parameter_sets_that_traded_most_on_mondays(ws):
    a = ask(ws, "Which parameter sets traded most on Mondays?", use_llm=False)
    groups = by_currency(ws)
    for currency, ids in groups.items():
        t = all_trades(ws).filter(pl.col("close_time").dt.weekday() == 1, pl.col("bt").is_in(ids))
        counts = t.group_by("bt").len().sort(["len", "bt"], descending=[True, False])
        top = fact(a, "most_trades_on_monday", currency, len(groups))
        assert (top["backtest_id"], top["trades"]) == tuple(counts.row(0))
    assert "parameters:" in a.answer


@pytest.mark.slow
def test_cli_ask_json(ws, monkeypatch):
    env = {**os.environ, "WORKBENCH_HOME": str(ws.home), "OLLAMA_HOST": "http://127.0.0.1:9"}
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "ask", "Which weekdays lose money?", "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) >= {"answer", "sources", "facts", "llm"} and data["llm"] is None
    assert {"id", "kind", "backtest_id", "text", "score"} <= set(data["sources"][0])
    assert {"name", "value", "query"} <= set(data["facts"][0])


def test_llm_path_with_the_fake_server(ws, monkeypatch):
    with FakeOllama(reply=lambda req: "Weekends are quiet; the losing weekdays are listed above.") as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.url)
        a = ask(ws, "Which weekdays lose money?")
        assert a.llm == MODEL and "Weekends are quiet" in a.answer
        user = fake.chats()[-1]["messages"][-1]["content"]
        assert (
            "<facts>" in user and "<data source=" in user and "QUESTION: Which weekdays lose money?" in user
        )


def test_llm_invented_numbers_are_dropped(ws, monkeypatch):
    with FakeOllama(reply=lambda req: "You made 987,654.32 on Mondays.") as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.url)
        a = ask(ws, "Which weekdays lose money?")
    assert a.llm is None and "987,654.32" not in a.answer and "discarded" in a.note


def _episode_seqs(t: pl.DataFrame) -> list[int]:
    """Trades closed after the peak up to the trough of the deepest fall of the cumulative net (by hand)."""
    t = t.sort(["close_time", "open_time", "trade_id"])
    peak = worst = 0.0
    peak_i, span = -1, (-1, -1)
    for i, x in enumerate(t["net_profit"].cum_sum().to_list()):
        if x > peak:
            peak, peak_i = x, i
        if peak - x > worst:
            worst, span = peak - x, (peak_i, i)
    return t["seq"].to_list()[span[0] + 1 : span[1] + 1]


def test_retrieval_filters_find_the_drawdown_trades_and_a_dated_day(ws):
    bid = int(ws.backtests().filter(pl.col("name").str.contains("Bastet"))["id"][0])
    wanted = {f"trade:{bid}:{s}" for s in _episode_seqs(ws.trades(bid))}
    a = ask(ws, "What happened in my worst drawdown?", backtest_id=bid, use_llm=False)
    retrieved = {s.id for s in a.sources if s.score is not None}  # by the retriever, not cited by a fact
    assert len(wanted & retrieved) >= min(5, len(wanted)), (wanted, retrieved)
    t = ws.trades(bid)
    day = t["close_time"].dt.date()[len(t) // 2]
    a = ask(ws, f"What happened on {day:%Y-%m-%d}?", backtest_id=bid, use_llm=False)
    got = [s.id for s in a.sources if s.score is not None]
    assert f"day:{bid}:{day.isoformat()}" in got
    on_day = t.filter(pl.col("close_time").dt.date() == day)["seq"].to_list()
    assert {f"trade:{bid}:{s}" for s in on_day} <= set(got)


@pytest.mark.slow
def test_onnx_backends_reproduce_sentence_transformers(ws, tmp_path):
    import numpy as np

    from workbench.rag.chunks import chunks_for
    from workbench.rag.embed import OnnxEmbedder, TorchEmbedder, onnx_files

    texts = [c.text for c in chunks_for(ws, int(ws.backtests()["id"][0]))][:40] + [
        "Which weekdays lose money?"
    ]
    files = onnx_files(tmp_path)  # exported here from the packaged weights, keyed by their hash
    assert files["onnx"].parent.name.startswith("all-MiniLM-L6-v2-") and files["onnx-int8"].exists()
    ref = TorchEmbedder(threads=2).encode(texts)
    fp32 = OnnxEmbedder("onnx", 2, cache=tmp_path).encode(texts, batch_size=16)
    int8 = OnnxEmbedder("onnx-int8", 2, cache=tmp_path).encode(texts, batch_size=16)
    assert np.allclose(np.linalg.norm(fp32, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(fp32 * ref, axis=1))) > 0.9999  # same network, same pooling
    assert float(np.mean(np.sum(int8 * ref, axis=1))) > 0.98  # int8 weights move vectors a little
