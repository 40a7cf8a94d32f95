"""Retrieval plans (what a question names -> Chroma filters), trade annotations, and the embedding-backend
setting and its one-model-per-index rule — no model is loaded here."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from workbench.config import settings
from workbench.errors import ConfigError
from workbench.rag.chunks import Chunk, annotate, size_words
from workbench.rag.retrieve import DAYS, PATTERNS, TRADES, entities, plan


def test_entities_named_in_a_question() -> None:
    e = entities("Show the XAUUSD short trade closed on 2020-03-02", symbols={"XAUUSD", "EURUSD"})
    assert (e.date, e.symbol, e.direction) == ("2020-03-02", "XAUUSD", "short")
    assert entities("How do Mondays perform?").weekday == "Monday"
    assert entities("What was my longest losing streak?").direction is None  # 'longest' is not 'long'
    assert entities("What was my longest losing streak?").outcome == "loss"
    assert entities("Which trades opened at 14:00 lose?").hour == 14
    assert entities("my second worst drawdown").rank == 2


def test_plans_filter_by_what_the_question_asks() -> None:
    dated = plan("What happened on 2021-06-11?", ["overview"])
    assert [(p.collection, p.where) for p in dated] == [
        (DAYS, {"date": "2021-06-11"}),
        (TRADES, {"date": "2021-06-11"}),
    ]
    dd = plan("What happened in my worst drawdown?", ["drawdown"])
    assert (TRADES, {"drawdown": 1}) in [(p.collection, p.where) for p in dd]
    assert any(
        p.collection == PATTERNS and p.where == {"$and": [{"pattern": "drawdown"}, {"rank": 1}]} for p in dd
    )
    monday = plan("How do Mondays perform?", ["weekday"])
    assert (DAYS, {"weekday": "Monday"}) in [(p.collection, p.where) for p in monday]
    streak = plan("What was my longest losing streak?", ["streak"])
    assert [p.where for p in streak if p.collection == TRADES] == [{"streak": "longest losing"}]
    worst = plan("Show my worst trades", ["extreme_trades"])
    assert [p.where for p in worst if p.collection == TRADES] == [{"rank_worst": {"$lte": 5}}]
    assert sum(p.share for p in worst) <= 10
    anything = plan("tell me something nice", [])
    assert {p.collection for p in anything} == {TRADES, DAYS, PATTERNS} and all(
        p.where is None for p in anything
    )


def _trades(nets: list[float]) -> pl.DataFrame:
    t0 = datetime(2024, 1, 1, 9)
    return pl.DataFrame(
        {
            "seq": list(range(1, len(nets) + 1)),
            "trade_id": [str(i) for i in range(1, len(nets) + 1)],
            "open_time": [t0 + timedelta(hours=i) for i in range(len(nets))],
            "close_time": [t0 + timedelta(hours=i, minutes=30) for i in range(len(nets))],
            "net_profit": nets,
        }
    )


def test_annotate_ranks_runs_streaks_and_drawdown() -> None:
    # wins and losses written by hand: the longest losing run is trades 3-5, the best trade is 6 (+50)
    nets = [10.0, 5.0, -1.0, -2.0, -3.0, 50.0, -4.0, 1.0]
    episodes = [{"trade_ids": ["3", "4", "5"]}, {"trade_ids": ["7"]}]
    a = annotate(_trades(nets), episodes)
    row = {r["seq"]: r for r in a.iter_rows(named=True)}
    assert row[6]["rank_best"] == 1 and row[7]["rank_worst"] == 1 and row[3]["rank_worst"] == 4
    assert [row[s]["run_pos"] for s in (3, 4, 5)] == [1, 2, 3] and row[4]["run_len"] == 3
    assert {s for s, r in row.items() if r["streak"] == "longest losing"} == {3, 4, 5}
    assert {s for s, r in row.items() if r["streak"] == "longest winning"} == {1, 2}
    assert [row[s]["drawdown"] for s in range(1, 9)] == [0, 0, 1, 1, 1, 0, 2, 0]
    assert row[6]["size"].startswith("largest win") and row[7]["size"].startswith("largest loss")


def test_size_words() -> None:
    assert size_words(1, 100, 100, 5.0, "trade").startswith("largest win")
    assert size_words(4, 97, 100, 5.0, "trade") == "big win (top 5% of trades)"
    assert size_words(50, 51, 100, 5.0, "trade") == "win"
    assert size_words(99, 2, 100, -5.0, "day") == "big loss (bottom 5% of days)"
    assert size_words(None, None, None, 0.0, "trade") == "break-even"


def test_embed_backend_setting() -> None:
    assert settings({}).embed_backend == "onnx-int8"
    assert settings({"WORKBENCH_EMBED_BACKEND": "Torch"}).embed_backend == "torch"
    with pytest.raises(ConfigError, match="WORKBENCH_EMBED_BACKEND"):
        settings({"WORKBENCH_EMBED_BACKEND": "tf"})
    with pytest.raises(ConfigError, match="WORKBENCH_EMBED_THREADS"):
        settings({"WORKBENCH_EMBED_THREADS": "-1"})
    assert settings({}).rag_exact_max == 200_000
    assert settings({"WORKBENCH_RAG_EXACT_MAX": "0"}).rag_exact_max == 0
    with pytest.raises(ConfigError, match="WORKBENCH_RAG_EXACT_MAX"):
        settings({"WORKBENCH_RAG_EXACT_MAX": "-5"})


def test_an_index_never_mixes_vectors_of_two_backends(tmp_path) -> None:
    pytest.importorskip("chromadb")
    from workbench.rag.index import VectorIndex

    chunk = Chunk("trade:1:1", "trade", 1, "EURUSD long win +5.00", {"weekday": "Monday"})
    vec = np.ones((1, 384), dtype=np.float32) / np.sqrt(384)
    made = VectorIndex(tmp_path, backend="onnx")
    made.upsert([chunk], vec)
    assert made.count()["trades_embeddings"] == 1
    other = VectorIndex(tmp_path, backend="onnx-int8")
    assert other.recorded_models()["trades_embeddings"] == "all-MiniLM-L6-v2@onnx"
    with pytest.raises(
        ConfigError, match=r"all-MiniLM-L6-v2@onnx, not all-MiniLM-L6-v2@onnx-int8: .*--reembed"
    ):
        other.query(vec[0], 5)
    other.reset()  # what `workbench index --reembed` does first
    other.upsert([chunk], vec)
    assert [h.id for h in other.query(vec[0], 5, where={"weekday": "Monday"})] == ["trade:1:1"]
    with pytest.raises(ConfigError, match="@onnx-int8"):
        VectorIndex(tmp_path, backend="onnx").count()


def test_token_batches_cap_padded_tokens_and_rows() -> None:
    from workbench.rag.embed import token_batches

    lengths = [10, 300, 50, 12, 60, 11, 55]
    groups = token_batches(lengths, batch_size=3, max_tokens=120)
    # shortest first: 10, 11, 12 (3 rows cap), then 50, 55 (2 x 55 = 110; a third at 60 would pad to 180)
    assert groups == [[0, 5, 3], [2, 6], [4], [1]]
    assert sorted(j for g in groups for j in g) == list(range(len(lengths)))
    for g in groups[:-1]:  # all but the over-long text alone stay within the budget
        assert len(g) * max(lengths[j] for j in g) <= 120
    assert token_batches([], 8, 100) == []
