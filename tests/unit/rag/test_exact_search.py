"""The in-memory filtered search (workbench.rag.exact) against Chroma's own filtering as the oracle."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.rag.chunks import Chunk
from workbench.rag.exact import Mirror, Unsupported, mask

chromadb = pytest.importorskip("chromadb")

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
FILTERS = [
    {"weekday": "Monday"},
    {"weekday": {"$ne": "Monday"}},  # rows without a weekday match too (Chroma's rule)
    {"weekday": {"$in": ["Monday", "Friday"]}},
    {"weekday": {"$nin": ["Monday", "Friday"]}},
    {"backtest_id": 3},
    {"rank_worst": {"$lte": 5}},
    {"rank_worst": {"$gt": 37}},
    {"net": {"$lt": 0}},
    {"net": {"$gte": 0.0}},
    {"hour": {"$in": [9, 10]}},
    {"win": True},
    {"win": {"$ne": True}},
    {"$and": [{"backtest_id": 2}, {"drawdown": 1}]},
    {"$and": [{"weekday": "Tuesday"}, {"symbol": "EURUSD"}, {"direction": "long"}]},
    {"$or": [{"symbol": "GBPUSD"}, {"rank_best": {"$lte": 3}}]},
    {"$and": [{"$or": [{"hour": 9}, {"hour": 15}]}, {"net": {"$gt": 0}}]},
    {"missing_key": "x"},
    {"missing_key": {"$ne": "x"}},
]


def _collection(tmp_path, n: int = 400, seed: int = 1):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    metas = []
    for i in range(n):
        m: dict = {
            "backtest_id": int(rng.integers(1, 5)),
            "symbol": str(rng.choice(["EURUSD", "GBPUSD", "XAUUSD"])),
            "net": round(float(rng.normal(0, 10)), 2),
            "hour": int(rng.integers(0, 24)),
            "win": bool(rng.random() < 0.5),
        }
        if i % 7:  # some chunks (patterns) carry no weekday / direction / ranks
            m["weekday"] = WEEKDAYS[i % 5]
            m["direction"] = "long" if i % 2 else "short"
            m["rank_worst"] = i % 40 + 1
            m["rank_best"] = (i * 7) % 40 + 1
        if i % 11 == 0:
            m["drawdown"] = 1
        metas.append(m)
    client = chromadb.PersistentClient(path=str(tmp_path / "c"))
    col = client.create_collection(
        "oracle", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
    )
    col.add(ids=[f"c{i}" for i in range(n)], embeddings=vectors, documents=[f"doc {i}" for i in range(n)],
            metadatas=metas)  # fmt: skip
    return col, vectors


def test_filters_select_exactly_what_chroma_selects(tmp_path) -> None:
    col, _ = _collection(tmp_path)
    m = Mirror.load(col, 384)
    assert len(m) == 400 and m.vectors.shape == (400, 384)
    for where in FILTERS:
        want = set(col.get(where=where, include=[])["ids"])
        keep = m.frame.select(mask(m.frame, where).alias("m"))["m"].to_numpy()
        got = {m.ids[i] for i in np.flatnonzero(keep)}
        assert got == want, where
        assert 0 < len(want) < 400 or where in ({"missing_key": "x"}, {"missing_key": {"$ne": "x"}})


def test_search_is_the_exact_top_k_of_the_filtered_rows(tmp_path) -> None:
    col, vectors = _collection(tmp_path)
    m = Mirror.load(col, 384)
    rng = np.random.default_rng(5)
    for where in FILTERS[:12]:
        q = rng.normal(size=384).astype(np.float32)
        allowed = set(col.get(where=where, include=[])["ids"])
        rows = [i for i in range(400) if f"c{i}" in allowed]
        qn = q / np.linalg.norm(q)
        oracle = sorted(rows, key=lambda i: -float(vectors[i] @ qn))[:10]
        found = m.search(q, 10, where)
        assert found is not None
        assert [m.ids[i] for i, _ in found] == [f"c{i}" for i in oracle], where
        assert [s for _, s in found] == pytest.approx([float(vectors[i] @ qn) for i in oracle], abs=1e-5)
        chroma = col.query(query_embeddings=[q], n_results=10, where=where, include=["distances"])
        assert [1 - d for d in chroma["distances"][0]] == pytest.approx([s for _, s in found], abs=1e-4)
    assert m.search(rng.normal(size=384), 5, {"missing_key": "x"}) == []


def test_what_it_cannot_read_exactly_is_left_to_chroma(tmp_path) -> None:
    client = chromadb.PersistentClient(path=str(tmp_path / "c"))
    col = client.create_collection("mixed", embedding_function=None)
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], metadatas=[{"v": 1}, {"v": "1"}])
    m = Mirror.load(col, 2)
    assert m.mixed == {"v"}
    assert m.search(np.array([1.0, 0.0]), 2, {"v": "1"}) is None  # Chroma compares by type
    assert m.search(np.array([1.0, 0.0]), 2, {"v": {"$regex": "1"}}) is None
    with pytest.raises(Unsupported, match=r"\$contains"):
        mask(m.frame, {"w": {"$contains": "x"}})


def _chunk(i: int, weekday: str) -> Chunk:
    return Chunk(f"trade:1:{i}", "trade", 1, f"EURUSD long trade {i}", {"weekday": weekday})


def test_a_copy_in_memory_never_outlives_a_write_from_another_process(tmp_path, monkeypatch) -> None:
    from workbench.rag.index import VectorIndex

    rng = np.random.default_rng(2)
    vec = rng.normal(size=(3, 384)).astype(np.float32)
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    reader = VectorIndex(tmp_path, backend="onnx-int8")
    writer = VectorIndex(tmp_path, backend="onnx-int8")  # another process's index of the same store
    writer.upsert([_chunk(1, "Monday"), _chunk(2, "Tuesday")], vec[:2])
    assert [h.id for h in reader.query(vec[2], 5, where={"weekday": "Monday"})] == ["trade:1:1"]
    held = reader.mirror("trades_embeddings")
    assert held is not None and len(held) == 2
    assert reader.mirror("trades_embeddings") is held  # unchanged store: the same copy

    writer.upsert([_chunk(3, "Monday")], vec[2:3])
    hits = reader.query(vec[2], 5, where={"weekday": "Monday"})
    assert [h.id for h in hits] == ["trade:1:3", "trade:1:1"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert reader.mirror("trades_embeddings") is not held

    writer.delete("trades_embeddings", ["trade:1:1"])
    assert [h.id for h in reader.query(vec[2], 5, where={"weekday": "Monday"})] == ["trade:1:3"]

    monkeypatch.setenv("WORKBENCH_RAG_EXACT_MAX", "1")  # above the cap: Chroma filters, same answer
    writer.upsert([_chunk(4, "Monday")], vec[1:2])
    assert reader.mirror("trades_embeddings") is None
    assert [h.id for h in reader.query(vec[2], 5, where={"weekday": "Monday"})] == ["trade:1:3", "trade:1:4"]
