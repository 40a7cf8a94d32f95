"""RAG benchmarks: fact accuracy, retrieval recall@10, embedding throughput, query and answer latency.

    python benchmarks/rag.py                    # all 20 real fixtures, 50,000-chunk index
    python benchmarks/rag.py --home /tmp/ragws  # reuse an ingested (and indexed) workspace
    python benchmarks/rag.py --big 10000        # a quicker run

Printed tables, not a test: nothing here asserts a time. Expected answers are computed here with plain
polars over ``ws.trades(id)``, independently of workbench.rag's SQL.

* Fact accuracy: >= 30 questions (losing weekdays, longest losing streak, worst drawdown, best trade,
  per backtest and over all, most trades on a weekday) answered by ``ask(..., use_llm=False)``.
* Retrieval recall@10: queries written from a sample of day and trade chunks (their date, weekday,
  symbol, backtest name, net); a hit is the chunk itself in the top 10. Measured for the fp32 model and
  the torch dynamic-int8 model (brute-force cosine over the same chunks, so only the model differs).
* Embedding throughput on 2 threads, fp32 vs int8, and int8's mean cosine to fp32.
* A 50,000-chunk Chroma collection (real chunk vectors plus small noise, 50 backtests): query p50/p95
  with and without a ``backtest_id`` filter; and ``ask`` latency without an LLM on the real index.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WORKBENCH_EMBED_THREADS", "2")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "fixtures" / "real"
sys.path.insert(0, str(ROOT))

import workbench as wb  # noqa: E402
from workbench.rag import ask, index_backtests  # noqa: E402
from workbench.rag.chunks import WEEKDAYS, chunks_for  # noqa: E402
from workbench.rag.embed import Embedder, embedder  # noqa: E402
from workbench.rag.index import open_index  # noqa: E402

ORDER = ["close_time", "open_time", "trade_id"]


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n## {title}")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)))


# -- expected answers (plain polars) ------------------------------------------------------------------
def exp_losing_weekdays(t: pl.DataFrame) -> list[str]:
    by = t.group_by(pl.col("close_time").dt.weekday().alias("d")).agg(pl.col("net_profit").sum())
    return sorted(WEEKDAYS[d - 1] for d, v in by.iter_rows() if round(v, 2) < 0)


def exp_losing_streak(t: pl.DataFrame) -> int:
    runs = t.sort(ORDER)["net_profit"].sign().rle().struct.unnest()
    return int(runs.filter(pl.col("value") == -1)["len"].max() or 0)


def exp_drawdown(t: pl.DataFrame) -> float:
    peak = worst = 0.0
    for x in t.sort(ORDER)["net_profit"].cum_sum():
        peak = max(peak, x)
        worst = max(worst, peak - x)
    return round(worst, 2)


def fact(a, name: str):
    return next((f.value for f in a.facts if f.name == name), None)


def accuracy(ws) -> list[list]:
    ids = [int(i) for i in ws.backtests()["id"]]
    trades = {i: ws.trades(i) for i in ids}
    alltr = pl.concat([t.with_columns(pl.lit(i).alias("bt")) for i, t in trades.items()])
    cases = []  # (label, question, backtest, check)
    cases.append(("losing weekdays, all", "Which weekdays lose money?", None,
                  lambda a: sorted(fact(a, "losing_weekdays")) == exp_losing_weekdays(alltr)))  # fmt: skip
    for i, t in trades.items():
        cases.append((f"losing weekdays #{i}", "Which weekdays lose money?", i,
                      lambda a, t=t: sorted(fact(a, "losing_weekdays")) == exp_losing_weekdays(t)))  # fmt: skip
        cases.append((f"longest losing streak #{i}", "What was my longest losing streak?", i,
                      lambda a, t=t: (fact(a, "longest_losing_streak") or {"length": 0})["length"] == exp_losing_streak(t)))  # fmt: skip
        cases.append((f"worst drawdown #{i}", "What happened in my worst drawdown?", i,
                      lambda a, t=t: abs(((fact(a, "worst_drawdown") or {}).get("drawdown") or 0.0) - exp_drawdown(t)) < 0.011))  # fmt: skip
        cases.append((f"best trade #{i}", "What were my best and worst trades?", i,
                      lambda a, t=t: abs(fact(a, "best_trades")[0]["net_profit"] - round(t["net_profit"].max(), 2)) < 0.011))  # fmt: skip
    for d, day in ((1, "Mondays"), (5, "Fridays")):
        counts = alltr.filter(pl.col("close_time").dt.weekday() == d).group_by("bt").len()
        top = counts.sort(["len", "bt"], descending=[True, False]).row(0)
        cases.append((f"most trades on {day}", f"Which parameter sets traded most on {day}?", None,
                      lambda a, top=top, day=day: (fact(a, f"most_trades_on_{day[:-1].lower()}")["backtest_id"],
                                                    fact(a, f"most_trades_on_{day[:-1].lower()}")["trades"]) == top))  # fmt: skip
    worst_bt = max(ids, key=lambda i: exp_drawdown(trades[i]) / 1)  # informative only
    del worst_bt
    results = []
    for label, q, bid, check in cases:
        a = ask(ws, q, bid, use_llm=False)
        try:
            ok = bool(check(a))
        except (TypeError, KeyError, IndexError):
            ok = False
        results.append([label, "ok" if ok else "WRONG"])
    return results


# -- retrieval ----------------------------------------------------------------------------------------
def recall_queries(ws, n: int = 60, seed: int = 7) -> tuple[list, list[tuple[str, str, int]]]:
    chunks = [c for i in ws.backtests()["id"] for c in chunks_for(ws, int(i))]
    names = dict(ws.backtests().select("id", "name").iter_rows())
    rng = random.Random(seed)
    days = [c for c in chunks if c.kind == "day"]
    trades = [c for c in chunks if c.kind == "trade"]
    qs = []
    for c in rng.sample(days, n // 2):
        m = c.metadata
        qs.append(
            (
                f"What happened on {m['date']:%Y-%m-%d}, a {m['weekday']}, in {names[c.backtest_id]}?",
                c.id,
                c.backtest_id,
            )
        )
    for c in rng.sample(trades, n // 2):
        m = c.metadata
        qs.append((f"{m['symbol'] or ''} {m['direction']} trade closed {m['weekday']} {m['date']:%Y-%m-%d} "
                   f"net {m['net_profit']:+.2f} in {names[c.backtest_id]}", c.id, c.backtest_id))  # fmt: skip
    return chunks, qs


def recall_at(vectors: np.ndarray, ids: list[str], qvecs: np.ndarray, qs, k: int = 10) -> float:
    sims = qvecs @ vectors.T
    top = np.argsort(-sims, axis=1)[:, :k]
    return float(np.mean([qs[i][1] in {ids[j] for j in top[i]} for i in range(len(qs))]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", help="workspace to use (default: a temp one with the real fixtures)")
    ap.add_argument("--big", type=int, default=50_000, help="chunks in the latency index")
    args = ap.parse_args()
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="ragbench-")) / "lake"
    ws = wb.open(home)
    if ws.backtests().height == 0:
        ws.ingest([REAL])
    t0 = time.perf_counter()
    emb = embedder()
    load_s = time.perf_counter() - t0
    rep = index_backtests(ws)
    d = rep.to_dict()
    table("Index of the real fixtures", ["backtests", "chunks", "embedded", "seconds", "chunks/s", "model load s"],
          [[len(d["backtests"]), d["chunks"], d["embedded"], d["seconds"], d["chunks_per_second"], round(load_s, 1)]])  # fmt: skip

    acc = accuracy(ws)
    good = sum(r[1] == "ok" for r in acc)
    table(f"Fact accuracy: {good}/{len(acc)} = {good / len(acc):.3f}", ["question", "result"],
          [r for r in acc if r[1] != "ok"] or [["(all correct)", "ok"]])  # fmt: skip

    chunks, qs = recall_queries(ws)
    texts, ids = [c.text for c in chunks], [c.id for c in chunks]
    q8 = Embedder(quantized=True, threads=2)
    fp = emb.encode(texts)
    int8 = q8.encode(texts)
    rf = recall_at(fp, ids, emb.encode([q for q, _, _ in qs]), qs)
    ri = recall_at(int8, ids, q8.encode([q for q, _, _ in qs]), qs)
    # the same through Chroma (fp32, the product path)
    index = open_index(ws)
    hits = [
        qid in {h.id for h in index.query(v, 10)}
        for (q, qid, _), v in zip(qs, emb.encode([q for q, _, _ in qs]), strict=True)
    ]
    table("Retrieval recall@10", ["model", "queries", "recall@10"],
          [["fp32 (Chroma, product path)", len(qs), f"{np.mean(hits):.3f}"],
           ["fp32 (brute force)", len(qs), f"{rf:.3f}"], ["int8 dynamic (brute force)", len(qs), f"{ri:.3f}"]])  # fmt: skip

    sample = [c.text for c in chunks if c.kind == "trade"][:512]
    rows = []
    for name, model in (("fp32", emb), ("int8 dynamic", q8)):
        model.encode(sample[:32])
        t = time.perf_counter()
        model.encode(sample)
        rows.append([name, len(sample), f"{len(sample) / (time.perf_counter() - t):.0f}"])
    cos = float(np.mean(np.sum(fp * int8, axis=1)))
    rows[1].append(f"{cos:.3f}")
    rows[0].append("1.000")
    table(
        "Embedding throughput (2 torch threads, trade chunks)",
        ["model", "chunks", "chunks/s", "mean cos to fp32"],
        rows,
    )

    # -- a big index ------------------------------------------------------------------------------------
    import chromadb
    from chromadb.config import Settings

    rng = np.random.default_rng(0)
    base = fp[rng.integers(0, len(fp), args.big)]
    big = base + rng.normal(0, 0.02, base.shape).astype(np.float32)
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    bts = rng.integers(1, 51, args.big)
    client = chromadb.PersistentClient(
        path=tempfile.mkdtemp(prefix="ragbig-"), settings=Settings(anonymized_telemetry=False)
    )
    col = client.create_collection(
        "big", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
    )
    t = time.perf_counter()
    for i in range(0, args.big, 5000):
        col.add(ids=[f"c{j}" for j in range(i, min(i + 5000, args.big))], embeddings=big[i : i + 5000],
                metadatas=[{"backtest_id": int(b), "kind": "trade"} for b in bts[i : i + 5000]],
                documents=[texts[j % len(texts)] for j in range(i, min(i + 5000, args.big))])  # fmt: skip
    build_s = time.perf_counter() - t
    queries = emb.encode([q for q, _, _ in qs] * 4)
    lat = {"no filter": [], "backtest_id filter": []}
    for n, v in enumerate(queries):
        for key, where in (
            ("no filter", None),
            ("backtest_id filter", {"backtest_id": int(bts[n % len(bts)])}),
        ):
            t = time.perf_counter()
            col.query(
                query_embeddings=[v],
                n_results=10,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
            lat[key].append((time.perf_counter() - t) * 1000)
    table(f"Chroma query latency, {args.big:,} chunks (built in {build_s:.0f} s), {len(queries)} queries",
          ["query", "p50 ms", "p95 ms"],
          [[k, f"{pct(v, 50):.1f}", f"{pct(v, 95):.1f}"] for k, v in lat.items()])  # fmt: skip

    questions = ["Which weekdays lose money?", "What happened in my worst drawdown?",
                 "Which parameter sets traded most on Mondays?", "What was my longest losing streak?",
                 "What were my best and worst trades?"]  # fmt: skip
    ask(ws, questions[0], use_llm=False)
    times = []
    for _ in range(6):
        for q in questions:
            t = time.perf_counter()
            ask(ws, q, use_llm=False)
            times.append((time.perf_counter() - t) * 1000)
    bid = int(ws.backtests()["id"][0])
    times_f = []
    for _ in range(6):
        for q in questions:
            t = time.perf_counter()
            ask(ws, q, bid, use_llm=False)
            times_f.append((time.perf_counter() - t) * 1000)
    table("ask() latency without an LLM (real index)", ["scope", "answers", "p50 ms", "p95 ms"],
          [["all backtests", len(times), f"{pct(times, 50):.0f}", f"{pct(times, 95):.0f}"],
           [f"backtest {bid}", len(times_f), f"{pct(times_f, 50):.0f}", f"{pct(times_f, 95):.0f}"]])  # fmt: skip
    print(f"\n(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; other processes share them)")
    _ = statistics  # kept for ad-hoc medians


if __name__ == "__main__":
    main()
