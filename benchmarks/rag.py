"""RAG benchmarks: evaluation set (fact accuracy, retrieval recall@10 per embedding backend), embedding
throughput (trade texts and mixed chunk texts), filtered query latency at 50,000 chunks in the product's
three collections (Chroma's own filtering against the in-memory exact search, workbench.rag.exact, with
their top-10 agreement), ``retrieve`` latency on that index, and ``ask`` latency without an LLM.

    python benchmarks/rag.py                        # all real fixtures, 50,000-chunk index
    python benchmarks/rag.py --home /tmp/ragws      # reuse an ingested workspace
    python benchmarks/rag.py --big 10000 --backends onnx-int8   # a quicker run
    python benchmarks/rag.py --old-chunks OLD.py    # also "before": another chunks.py's texts, unfiltered
    python benchmarks/rag.py --profile              # cProfile of ask() (top 25 by cumulative time)

Printed tables, not a test: nothing here asserts a time.

**Evaluation set.** Questions over the real fixtures whose expected answers and relevant chunks are
computed here with plain polars over ``ws.trades(id)`` — independently of workbench.rag's SQL, chunk
annotations and retriever. Only the chunk id scheme (``trade:<bt>:<seq>``, ``day:<bt>:<date>``,
``pattern:<bt>:<name>``, ``backtest:<bt>``) is shared. Per backtest: the worst drawdown (relevant: its
drawdown chunk, the trades closed from the peak to the trough and their days), the longest losing
streak (the streak chunk and the trades of the longest losing run(s)), the best and worst trades (the
extremes chunk and the 3 best and 3 worst trades), the losing weekdays (the weekday breakdown); then
dates (that day's chunk and the trades closed on it), worst days, losing hours, and the backtest that
traded most on a weekday. recall@10 = |relevant ∩ top 10| / min(|relevant|, 10), averaged.
Retrieval is measured on the retriever alone (the chunks ask() retrieves, not those its facts cite).
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WORKBENCH_EMBED_THREADS", "2")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "fixtures" / "real"
sys.path.insert(0, str(ROOT))

import workbench as wb  # noqa: E402
from workbench.errors import ConfigError  # noqa: E402
from workbench.rag import ask, index_backtests  # noqa: E402
from workbench.rag.chunks import WEEKDAYS, chunks_for  # noqa: E402
from workbench.rag.embed import embedder  # noqa: E402
from workbench.rag.facts import route  # noqa: E402
from workbench.rag.index import COLLECTION_NAMES, VectorIndex, open_index  # noqa: E402
from workbench.rag.retrieve import DAYS, PATTERNS, TRADES, retrieve  # noqa: E402

ORDER = ["close_time", "open_time", "trade_id"]
BACKENDS = ("torch", "onnx", "onnx-int8")


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


def exp_losing_hours(t: pl.DataFrame) -> list[str]:
    by = t.group_by(pl.col("open_time").dt.hour().alias("h")).agg(pl.col("net_profit").sum())
    return sorted(f"{h:02d}h" for h, v in by.iter_rows() if round(v, 2) < 0)


def losing_runs(t: pl.DataFrame) -> list[list[int]]:
    """The seqs of every longest run of losing trades (close order)."""
    s = t.sort(ORDER).select("seq", pl.col("net_profit").sign().alias("s"))
    s = s.with_columns((pl.col("s") != pl.col("s").shift(1)).fill_null(True).cum_sum().alias("run"))
    runs = s.filter(pl.col("s") == -1).group_by("run").agg(pl.col("seq"))
    if runs.height == 0:
        return []
    longest = max(len(x) for x in runs["seq"])
    return [list(x) for x in runs["seq"] if len(x) == longest]


def exp_losing_streak(t: pl.DataFrame) -> int:
    runs = losing_runs(t)
    return len(runs[0]) if runs else 0


def drawdown_span(t: pl.DataFrame) -> tuple[float, pl.DataFrame]:
    """(deepest peak-to-trough fall of the cumulative net, the trades closed after the peak up to the
    trough) — by hand, in close order."""
    o = t.sort(ORDER)
    peak = worst = 0.0
    peak_i = best = (-1, -1)
    cur_peak_i = -1
    for i, x in enumerate(o["net_profit"].cum_sum()):
        if x > peak:
            peak, cur_peak_i = x, i
        if peak - x > worst:
            worst, best = peak - x, (cur_peak_i, i)
    del peak_i
    return round(worst, 2), o.slice(best[0] + 1, best[1] - best[0]) if worst > 0 else o.clear()


def daily_net(t: pl.DataFrame) -> pl.DataFrame:
    return t.group_by(pl.col("close_time").dt.date().alias("date")).agg(
        pl.col("net_profit").sum().alias("net")
    )


@dataclass
class Case:
    label: str
    question: str
    backtest: int | None
    relevant: set[str]  # chunk ids that answer it (empty: not a retrieval case)
    check: Callable | None = None  # answer -> bool (None: not a fact case)


def fact(a, name: str):
    return next((f.value for f in a.facts if f.name == name), None)


def evaluation_set(ws, seed: int = 7) -> list[Case]:
    ids = [int(i) for i in ws.backtests()["id"]]
    trades = {i: ws.trades(i) for i in ids}
    alltr = pl.concat([t.with_columns(pl.lit(i).alias("bt")) for i, t in trades.items()])
    rng = random.Random(seed)
    cases: list[Case] = [
        Case("losing weekdays, all", "Which weekdays lose money?", None, {f"pattern:{i}:weekday" for i in ids},
             lambda a: sorted(fact(a, "losing_weekdays")) == exp_losing_weekdays(alltr)),
    ]  # fmt: skip
    for i, t in trades.items():
        dd, span = drawdown_span(t)
        rel = {f"pattern:{i}:drawdown:1"} | {f"trade:{i}:{s}" for s in span["seq"]}
        rel |= {f"day:{i}:{d.isoformat()}" for d in span["close_time"].dt.date().unique()}
        cases.append(Case(f"worst drawdown #{i}", "What happened in my worst drawdown?", i, rel if dd > 0 else set(),
                          lambda a, dd=dd: abs(((fact(a, "worst_drawdown") or {}).get("drawdown") or 0.0) - dd) < 0.011))  # fmt: skip
        runs = losing_runs(t)
        streak = exp_losing_streak(t)
        rel = {f"pattern:{i}:streaks"} | {f"trade:{i}:{s}" for r in runs for s in r}
        cases.append(Case(f"longest losing streak #{i}", "What was my longest losing streak?", i, rel,
                          lambda a, n=streak: (fact(a, "longest_losing_streak") or {"length": 0})["length"] == n))  # fmt: skip
        third = min(2, t.height - 1)
        best3 = t.sort("net_profit", descending=True)["net_profit"][third]
        worst3 = t.sort("net_profit")["net_profit"][third]
        ext = t.filter((pl.col("net_profit") >= best3) | (pl.col("net_profit") <= worst3))["seq"]
        cases.append(Case(f"best/worst trades #{i}", "What were my best and worst trades?", i,
                          {f"pattern:{i}:extremes"} | {f"trade:{i}:{s}" for s in ext},
                          lambda a, t=t: abs(fact(a, "best_trades")[0]["net_profit"] - round(t["net_profit"].max(), 2)) < 0.011))  # fmt: skip
        cases.append(Case(f"losing weekdays #{i}", "Which weekdays lose money?", i, {f"pattern:{i}:weekday"},
                          lambda a, t=t: sorted(fact(a, "losing_weekdays")) == exp_losing_weekdays(t)))  # fmt: skip
    for i in rng.sample(ids, 6):
        t = trades[i]
        days = daily_net(t).sort(["net", "date"])
        worst = days["date"][0]
        on = t.filter(pl.col("close_time").dt.date() == worst)["seq"]
        cases.append(Case(f"worst day #{i}", "What was my worst day?", i,
                          {f"day:{i}:{worst.isoformat()}"} | {f"trade:{i}:{s}" for s in on},
                          lambda a, w=worst, n=days["net"][0]: fact(a, "worst_days")[0]["date"] == w.isoformat()
                          and abs(fact(a, "worst_days")[0]["net_profit"] - round(n, 2)) < 0.011))  # fmt: skip
        cases.append(Case(f"losing hours #{i}", "Which hours of the day lose money?", i, {f"pattern:{i}:hour"},
                          lambda a, t=t: sorted(fact(a, "losing_hours")) == exp_losing_hours(t)))  # fmt: skip
    for n in range(14):
        i = ids[n % len(ids)]
        t = trades[i]
        d = rng.choice(t["close_time"].dt.date().unique().sort().to_list())
        on = t.filter(pl.col("close_time").dt.date() == d)
        q = (
            f"What happened on {d:%Y-%m-%d}?"
            if n % 2 == 0
            else f"Show the {on['symbol'][0] or ''} {on['direction'][0]} trade closed on {d:%Y-%m-%d}".replace(
                "  ", " "
            )
        )
        rel = {f"day:{i}:{d.isoformat()}"} | {f"trade:{i}:{s}" for s in on["seq"]} if n % 2 == 0 else {
            f"trade:{i}:{s}" for s in on.filter((pl.col("direction") == on["direction"][0])
                                                & (pl.col("symbol").eq_missing(on["symbol"][0])))["seq"]}  # fmt: skip
        cases.append(Case(f"date {d} #{i}", q, i, rel))
    for d, day in ((1, "Mondays"), (5, "Fridays")):
        counts = alltr.filter(pl.col("close_time").dt.weekday() == d).group_by("bt").len()
        top = counts.sort(["len", "bt"], descending=[True, False]).row(0)
        name = f"most_trades_on_{day[:-1].lower()}"
        cases.append(Case(f"most trades on {day}", f"Which parameter sets traded most on {day}?", None,
                          {f"backtest:{top[0]}", f"pattern:{top[0]}:weekday"},
                          lambda a, top=top, name=name: (fact(a, name)["backtest_id"], fact(a, name)["trades"]) == top))  # fmt: skip
    return cases


def accuracy(ws, cases: list[Case]) -> list[list]:
    out = []
    for c in cases:
        if c.check is None:
            continue
        a = ask(ws, c.question, c.backtest, use_llm=False)
        try:
            ok = bool(c.check(a))
        except (TypeError, KeyError, IndexError):
            ok = False
        out.append([c.label, "ok" if ok else "WRONG"])
    return out


# -- retrieval ----------------------------------------------------------------------------------------
def recall(relevant: set[str], got: list[str], k: int = 10) -> float:
    return len(relevant & set(got[:k])) / min(len(relevant), k)


def build_index(chunks, backend: str) -> VectorIndex:
    idx = VectorIndex(tempfile.mkdtemp(prefix=f"ragidx-{backend}-"), backend=backend)
    vecs = embedder(backend).encode([c.text for c in chunks])
    for i in range(0, len(chunks), 2000):
        idx.upsert(chunks[i : i + 2000], vecs[i : i + 2000])
    return idx


def recall_of(idx: VectorIndex, cases: list[Case], symbols: set[str], planned: bool) -> float:
    emb = embedder(idx.backend)
    scores = []
    for c in cases:
        v = emb.encode([c.question])[0]
        if planned:
            hits = retrieve(idx, c.question, v, route(c.question, v), backtest_id=c.backtest, symbols=symbols)
        else:  # the previous product path: nearest over all collections, only the backtest filter
            where = {"backtest_id": c.backtest} if c.backtest is not None else None
            hits = idx.query(v, 10, where=where, collections=COLLECTION_NAMES)
        scores.append(recall(c.relevant, [h.id for h in hits]))
    return float(np.mean(scores))


def old_chunks(path: str, ws) -> list:
    spec = importlib.util.spec_from_file_location("old_chunks", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["old_chunks"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return [c for i in ws.backtests()["id"] for c in mod.chunks_for(ws, int(i))]


def big_index(chunks, emb, n: int) -> tuple[VectorIndex, float]:
    """``n`` chunks drawn from the real ones (kinds in their real proportions), each a noisy copy of a real
    vector, spread over 50 backtest ids, written through VectorIndex into the product's collections."""
    from dataclasses import replace

    fp = emb.encode([c.text for c in chunks])
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(chunks), n)
    vecs = fp[pick] + rng.normal(0, 0.02, (n, fp.shape[1])).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    bts = rng.integers(1, 51, n)
    big = [replace(chunks[p], id=f"{chunks[p].id}#{x}", backtest_id=int(bts[x])) for x, p in enumerate(pick)]
    idx = VectorIndex(tempfile.mkdtemp(prefix="ragbig-"), backend=emb.backend)
    t = time.perf_counter()
    for i in range(0, n, 5000):
        idx.upsert(big[i : i + 5000], vecs[i : i + 5000])
    return idx, time.perf_counter() - t


def big_probes() -> list[tuple[str, str, Callable[[int], dict]]]:
    """The filters retrieve() sends (workbench.rag.retrieve plans), with and without a backtest scope."""
    day = lambda n: WEEKDAYS[n % 5]  # noqa: E731
    bt = lambda n: n % 50 + 1  # noqa: E731
    return [
        ("backtest_id (scope alone)", TRADES, lambda n: {"backtest_id": bt(n)}),
        ("weekday", TRADES, lambda n: {"weekday": day(n)}),
        ("backtest_id + weekday", TRADES, lambda n: {"$and": [{"backtest_id": bt(n)}, {"weekday": day(n)}]}),
        ("backtest_id + drawdown=1", TRADES, lambda n: {"$and": [{"backtest_id": bt(n)}, {"drawdown": 1}]}),
        ("rank_worst <= 5", TRADES, lambda n: {"rank_worst": {"$lte": 5}}),
        ("backtest_id + weekday + direction", TRADES,
         lambda n: {"$and": [{"backtest_id": bt(n)}, {"weekday": day(n)}, {"direction": "long"}]}),
        ("weekday", DAYS, lambda n: {"weekday": day(n)}),
        ("backtest_id + drawdown=1", DAYS, lambda n: {"$and": [{"backtest_id": bt(n)}, {"drawdown": 1}]}),
        ("pattern=weekday", PATTERNS, lambda n: {"pattern": "weekday"}),
        ("backtest_id + pattern=drawdown + rank=1", PATTERNS,
         lambda n: {"$and": [{"backtest_id": bt(n)}, {"pattern": "drawdown"}, {"rank": 1}]}),
    ]  # fmt: skip


# -- throughput ---------------------------------------------------------------------------------------
def throughput(backend: str, texts: list[str], batch: int) -> float:
    emb = embedder(backend)
    emb.encode(texts[:32], batch_size=batch)
    rates = []
    for _ in range(3):
        t = time.perf_counter()
        emb.encode(texts, batch_size=batch)
        rates.append(len(texts) / (time.perf_counter() - t))
    return statistics.median(rates)


OLD_PROBE = r"""
import sys, time
t = time.perf_counter()
import httpx
from langchain_ollama import ChatOllama
from ollama import ResponseError
try:
    httpx.get(sys.argv[1] + "/api/tags", timeout=3.0).raise_for_status()
except (httpx.HTTPError, OSError):
    pass
print(time.perf_counter() - t)
"""

NEW_PROBE = r"""
import sys, time
from workbench.rag.llm import chat
t = time.perf_counter()
chat([("system", "x"), ("human", "y")], host=sys.argv[1], model="m", timeout=60)
print(time.perf_counter() - t)
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def startup(ws, runs: int = 5) -> None:
    """What a fresh process pays: ``workbench ask`` from the CLI (index copies on disk, the embedding
    model loaded beside the facts, no Chroma or LangChain import) and how fast an absent LLM is known
    (the product's stdlib probe vs importing LangChain/httpx first, as before; both in fresh processes,
    alternating), plus ``ask(use_llm=True)`` in-process with no server."""
    import subprocess

    host = f"http://127.0.0.1:{_free_port()}"  # nothing listens: a refused connection
    env = {**os.environ, "WORKBENCH_HOME": str(ws.home), "OLLAMA_HOST": host}
    bid = int(ws.backtests()["id"][0])
    cli, old, new = [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "workbench", "ask", "Which weekdays lose money?", "--backtest", str(bid),
             "--json"], env=env, capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip
        cli.append(time.perf_counter() - t)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-500:])
        for code, into in ((OLD_PROBE, old), (NEW_PROBE, new)):
            r = subprocess.run([sys.executable, "-c", code, host], env=env, capture_output=True, text=True)
            into.append(float(r.stdout.strip().splitlines()[-1]))
    inproc = []
    os.environ["OLLAMA_HOST"] = host
    try:
        ask(ws, "Which weekdays lose money?", bid)  # this process's first answer loads the model
        for _ in range(20):
            t = time.perf_counter()
            ask(ws, "Which weekdays lose money?", bid)  # use_llm=True: the probe finds no server
            inproc.append((time.perf_counter() - t) * 1000)
    finally:
        os.environ.pop("OLLAMA_HOST", None)
    table(
        f"Start-up without an LLM (fresh processes, median of {runs}; backtest {bid})",
        ["measure", "seconds", "peer / before"],
        [
            ["workbench ask 'Which weekdays lose money?' --backtest (CLI wall)", f"{statistics.median(cli):.2f}",
             "12.9-14.5 s at the start of issue 13 s.2 (benchmarks/startup.py measures both in one run)"],
            ["absent LLM known: chat() with nothing listening (fresh process)", f"{statistics.median(new):.3f}",
             f"LangChain + httpx imported, then probed (the old order): {statistics.median(old):.3f}"],
            ["ask(use_llm=True) in-process, no server: p50 / p95 ms",
             f"{pct(inproc, 50):.0f} / {pct(inproc, 95):.0f}", "goal: p95 <= 300 ms"],
        ],
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", help="workspace to use (default: a temp one with the real fixtures)")
    ap.add_argument("--big", type=int, default=50_000, help="chunks in the latency index")
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--old-chunks", help="a previous workbench/rag/chunks.py: 'before' recall with its texts")
    ap.add_argument("--profile", action="store_true", help="cProfile ask() and print the top 25")
    ap.add_argument(
        "--startup-only",
        action="store_true",
        help="index, then only the start-up table (cold CLI ask, no LLM)",
    )
    args = ap.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="ragbench-")) / "lake"
    ws = wb.open(home)
    if ws.backtests().height == 0:
        ws.ingest([REAL])
    t0 = time.perf_counter()
    default = embedder()
    load_s = time.perf_counter() - t0
    try:
        rep = index_backtests(ws)
    except ConfigError:  # made by another backend: start over with this one
        rep = index_backtests(ws, reembed=True)
    d = rep.to_dict()
    table("Index of the real fixtures (default backend)", ["backtests", "chunks", "embedded", "seconds", "chunks/s", "model", "load s"],
          [[len(d["backtests"]), d["chunks"], d["embedded"], d["seconds"], d["chunks_per_second"], d["model"], round(load_s, 1)]])  # fmt: skip

    if args.startup_only:
        startup(ws)
        print(
            f"\n(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; other processes share them)"
        )
        return

    cases = evaluation_set(ws)
    acc = accuracy(ws, cases)
    good = sum(r[1] == "ok" for r in acc)
    table(f"Fact accuracy: {good}/{len(acc)} = {good / len(acc):.3f}", ["question", "result"],
          [r for r in acc if r[1] != "ok"] or [["(all correct)", "ok"]])  # fmt: skip

    rcases = [c for c in cases if c.relevant]
    chunks = [c for i in ws.backtests()["id"] for c in chunks_for(ws, int(i))]
    symbols = {
        str(s) for s in pl.concat([ws.trades(int(i)) for i in ws.backtests()["id"]])["symbol"].unique() if s
    }
    rows = []
    if args.old_chunks:
        old = build_index(old_chunks(args.old_chunks, ws), "torch")
        rows.append(
            ["before: previous texts, unfiltered", "torch", f"{recall_of(old, rcases, symbols, False):.3f}"]
        )
    for b in backends:
        idx = open_index(ws) if b == default.backend else build_index(chunks, b)
        rows.append(["new texts, unfiltered", b, f"{recall_of(idx, rcases, symbols, False):.3f}"])
        rows.append(
            ["new texts + planned filters (product)", b, f"{recall_of(idx, rcases, symbols, True):.3f}"]
        )
    table(
        f"Retrieval recall@10, {len(rcases)} questions ({len(chunks)} chunks)",
        ["retriever", "backend", "recall@10"],
        rows,
    )

    # -- throughput ---------------------------------------------------------------------------------------
    rng = random.Random(3)
    samples = {
        "trade": [c.text for c in rng.sample([c for c in chunks if c.kind == "trade"], 256)],
        "mixed": [c.text for c in rng.sample(chunks, min(256, len(chunks)))],
    }
    tok = embedder("onnx-int8").tokenizer if "onnx-int8" in backends else None
    rows = []
    for what, sample in samples.items():
        ref = embedder("torch").encode(sample) if "torch" in backends else None
        tokens = (
            "" if tok is None else f"{statistics.median(len(e.ids) for e in tok.encode_batch(sample)):.0f}"
        )
        for b in backends:
            cos = (
                ""
                if ref is None
                else f"{float(np.mean(np.sum(embedder(b).encode(sample) * ref, axis=1))):.4f}"
            )
            for batch in (16, 64) if b == "torch" else (8, 64):
                rows.append([what, tokens, b, batch, f"{throughput(b, sample, batch):.0f}", cos])
    table(f"Embedding throughput ({os.environ['WORKBENCH_EMBED_THREADS']} threads, 256 real chunk texts each, median of 3; "
          "ONNX batches also capped at 1,024 padded tokens)",
          ["texts", "median tokens", "backend", "batch", "chunks/s", "mean cos to torch"], rows)  # fmt: skip

    # -- a big index: the product's three collections, 50 backtests ----------------------------------------
    big_idx, build_s = big_index(chunks, default, args.big)
    probes = big_probes()
    queries = default.encode([c.question for c in rcases] * 3)
    counts = big_idx.count()
    t = time.perf_counter()
    for name in COLLECTION_NAMES:
        big_idx.mirror(name)
    load_s = time.perf_counter() - t
    rows = []
    for label, collection, where in probes:
        lat: dict[str, list[float]] = {"chroma": [], "memory": []}
        overlap, got = [], {"chroma": [], "memory": []}
        for n, v in enumerate(queries):
            w = where(n)
            found = {}
            for how in ("chroma", "memory"):
                os.environ["WORKBENCH_RAG_EXACT_MAX"] = "0" if how == "chroma" else "1000000"
                t = time.perf_counter()
                found[how] = big_idx.query(v, 10, where=w, collections=[collection])
                lat[how].append((time.perf_counter() - t) * 1000)
            for how in got:
                got[how].append(len(found[how]))
            exact = {h.id for h in found["memory"]}
            chroma = {h.id for h in found["chroma"]}
            overlap.append(
                len(exact & chroma) / len(exact) if exact else float(not chroma)
            )  # both empty: agree
        rows.append([label, f"{collection} ({counts[collection]:,})", f"{pct(lat['chroma'], 50):.1f}", f"{pct(lat['chroma'], 95):.1f}",
                     f"{pct(lat['memory'], 50):.1f}", f"{pct(lat['memory'], 95):.1f}", f"{np.mean(overlap):.3f}",
                     f"{np.mean(got['chroma']):.1f} / {np.mean(got['memory']):.1f}"])  # fmt: skip
    os.environ.pop("WORKBENCH_RAG_EXACT_MAX", None)
    table(f"Filtered query latency, {sum(counts.values()):,} chunks in the product's 3 collections, 50 backtests "
          f"(built in {build_s:.0f} s; in-memory copies loaded in {load_s:.1f} s), {len(queries)} queries, k=10",
          ["filter", "collection (chunks)", "Chroma p50 ms", "Chroma p95 ms", "in memory p50 ms", "in memory p95 ms",
           "Chroma top-10 = exact", "hits Chroma / exact"], rows)  # fmt: skip
    times = []
    for n, c in enumerate(rcases * 2):
        v = queries[n % len(queries)]
        scope = int(n % 50) + 1 if n % 2 else None
        t = time.perf_counter()
        retrieve(big_idx, c.question, v, route(c.question, v), backtest_id=scope, symbols=symbols)
        times.append((time.perf_counter() - t) * 1000)
    table(f"retrieve() on the {sum(counts.values()):,}-chunk index (all probes of a question; half scoped to a backtest)",
          ["questions", "p50 ms", "p95 ms"], [[len(times), f"{pct(times, 50):.1f}", f"{pct(times, 95):.1f}"]])  # fmt: skip

    questions = ["Which weekdays lose money?", "What happened in my worst drawdown?",
                 "Which parameter sets traded most on Mondays?", "What was my longest losing streak?",
                 "What were my best and worst trades?"]  # fmt: skip
    ask(ws, questions[0], use_llm=False)
    bid = int(ws.backtests()["id"][0])
    rows = []
    for scope in (None, bid):
        times = []
        for _ in range(6):
            for q in questions:
                t = time.perf_counter()
                ask(ws, q, scope, use_llm=False)
                times.append((time.perf_counter() - t) * 1000)
        rows.append(["all backtests" if scope is None else f"backtest {scope}", len(times), f"{pct(times, 50):.0f}", f"{pct(times, 95):.0f}"])  # fmt: skip
    table(
        f"ask() latency without an LLM (real index, {default.name})",
        ["scope", "answers", "p50 ms", "p95 ms"],
        rows,
    )
    startup(ws)
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for q in questions * 2:
            ask(ws, q, use_llm=False)
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(25)
        print(s.getvalue())
    print(f"\n(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; other processes share them)")


if __name__ == "__main__":
    main()
