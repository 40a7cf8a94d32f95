""":func:`ask`: a question about one's own trades -> an :class:`Answer` with facts, sources and prose.

1. The question is embedded once (local MiniLM), when needed: to route a question its keywords do not
   route, and for retrieval. The model loads in a background thread while the facts are computed; with
   nothing indexed yet it is not loaded at all for a keyword-routed question.
2. Facts: it is routed to intents and fact functions (:mod:`workbench.rag.facts`) that run DuckDB
   queries over the stored trades; their values write the answer's figures.
3. Retrieval (:mod:`workbench.rag.retrieve`): the nearest chunks (the index's copies on disk, else
   Chroma; :mod:`workbench.rag.index`) under metadata filters made
   from the question's intents and what it names (optionally only of one backtest) are the context
   and sources, together with the trades/days/patterns the facts cite.
4. The LLM (Ollama via LangChain) may add an explanation; if it is unreachable, or its reply states
   figures that are not in the facts or the data, the answer is the facts alone and ``llm`` is None.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.config import settings
from workbench.errors import DataError
from workbench.rag.facts import Fact, find_facts, keyword_scores, route
from workbench.rag.retrieve import retrieve

if TYPE_CHECKING:
    from workbench.rag.index import Hit, VectorIndex
    from workbench.workspace import Workspace

__all__ = ["ask", "Answer", "Source"]

_INDEXES: dict[tuple[str, str | None], VectorIndex] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    kind: str
    backtest_id: int | None
    text: str
    score: float | None  # cosine similarity of retrieved chunks; None for cited chunks not retrieved
    cited: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "backtest_id": self.backtest_id,
            "text": self.text,
            "score": self.score,
            "cited": self.cited,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    answer: str
    sources: tuple[Source, ...]
    facts: tuple[Fact, ...]
    llm: str | None  # the model whose text is in the answer; None: no model was used
    intents: tuple[str, ...] = ()
    note: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "sources": [s.to_dict() for s in self.sources],
            "facts": [f.to_dict() for f in self.facts],
            "llm": self.llm,
            "intents": list(self.intents),
            "note": self.note,
            "timings_ms": self.timings_ms,
        }


def _index(ws: Workspace) -> VectorIndex:
    from workbench.rag.index import open_index

    key = (str(ws.home.resolve()), settings().chroma_host)
    with _LOCK:
        if key not in _INDEXES:
            _INDEXES[key] = open_index(ws)
        return _INDEXES[key]


# inline, not in queries.sql (owned elsewhere): the symbols traded, remembered per workspace until a
# backtest is added or removed
_SYMBOLS_SQL = "SELECT DISTINCT symbol FROM trades WHERE symbol IS NOT NULL"
_STAMP_SQL = "SELECT count(*), max(id) FROM backtests"
_SYMBOLS: dict[str, tuple[Any, frozenset[str]]] = {}


def _symbols(ws: Workspace) -> frozenset[str]:
    """The symbols of the stored trades (to recognise "EURUSD" in a question as a filter)."""
    key = str(ws.home)
    stamp = ws.store.frame(_STAMP_SQL).row(0)
    hit = _SYMBOLS.get(key)
    if hit is None or hit[0] != stamp:
        frame = ws.store.frame(_SYMBOLS_SQL)
        hit = (stamp, frozenset(str(x) for x in frame["symbol"].to_list() if x))
        _SYMBOLS[key] = hit
    return hit[1]


def _empty(ws: Workspace, index: VectorIndex) -> bool:
    """True when nothing was ever indexed: an embedded store never written (no stamp) and no chunk in
    the catalog. Then neither the embedding model nor Chroma is loaded for a question that its keywords
    route (the answer is the facts and what they cite)."""
    return index.never_written() and not ws.store.scalar("SELECT count(*) FROM embeddings_metadata")


def _kind(chunk_id: str) -> str:
    return chunk_id.split(":", 1)[0]


def _bt(chunk_id: str) -> int | None:
    parts = chunk_id.split(":")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def ask(
    ws: Workspace,
    question: str,
    backtest_id: int | None = None,
    *,
    k: int = 10,
    use_llm: bool = True,
    index: VectorIndex | None = None,
) -> Answer:
    """Answer ``question`` about the trades in ``ws`` (only backtest ``backtest_id`` if given)."""
    from workbench.rag.embed import embedder, preload
    from workbench.rag.llm import build_messages, chat, unsupported_numbers

    question = " ".join(str(question).split())
    if not question:
        raise DataError("the question is empty; ask e.g. 'Which weekdays lose money?'", where="question")
    times: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        times[name] = round((now - t) * 1000, 2)
        t = now

    index = index or _index(ws)
    empty = _empty(ws, index)
    if not empty:
        preload(index.backend)  # the model loads in the background while the facts are computed
    keyword = max(keyword_scores(question).values(), default=0) > 0
    vector = None if keyword else embedder(index.backend).encode([question])[0]  # routes by examples
    lap("embed")
    intents = route(question, vector)
    findings = find_facts(ws, question, backtest_id, vector, intents)
    lap("facts")
    cites = [c for f in findings for c in f.cites]
    hits: list[Hit] = []
    stored: dict[str, Hit] = {}
    if not empty:  # retrieval: the model (loaded meanwhile) embeds the question; the copies on disk answer
        if vector is None:
            vector = embedder(index.backend).encode([question])[0]
        hits = retrieve(index, question, vector, intents, backtest_id=backtest_id, k=k, symbols=_symbols(ws))
        missing = [cid for cid, text in cites if not text]
        stored = index.get(missing) if missing else {}
    lap("retrieve")

    sources: list[Source] = []
    seen: set[str] = set()
    found = {h.id: h.score for h in hits}  # a cited chunk the retriever also found keeps its score
    for cid, text in cites:
        text = text or (stored[cid].text if cid in stored else "")
        if cid in seen or not text:
            continue
        seen.add(cid)
        sources.append(Source(cid, _kind(cid), _bt(cid), text, found.get(cid), cited=True))
    for h in hits:
        if h.id not in seen:
            seen.add(h.id)
            sources.append(Source(h.id, h.kind, h.backtest_id, h.text, h.score))

    facts = tuple(f for fs in findings for f in fs.facts)
    lines = [line for fs in findings for line in fs.lines]
    if not findings:
        lines = ["The workspace has no trades yet: ingest some exports first (`workbench ingest PATH`)."]
    note = ""
    if (empty or index.counts().get("patterns_embeddings", 0) == 0) and findings:
        note = "the vector index is empty (run `workbench index`); sources come from the facts only. "
    model = None
    extra = ""
    if use_llm and findings:
        cfg = settings()
        context = [(s.id, s.text) for s in sources]
        messages = build_messages(question, [f.to_dict() for f in facts], lines, context)
        reply = chat(messages, host=cfg.ollama_host, model=cfg.ollama_model, timeout=cfg.ollama_timeout_s)
        if reply.text:
            allowed = [question, *lines, *(repr(f.value) for f in facts), *(s.text for s in sources)]
            bad = unsupported_numbers(reply.text, *allowed)
            if bad:
                note += f"the model's reply was discarded: it stated figures not in the facts ({', '.join(bad[:5])}). "
            else:
                model, extra = reply.model, reply.text
        else:
            note += f"{reply.error}. "
        lap("llm")
    if model is None:
        note += "No language model was used: the answer is computed from the stored trades."
    cited = [s.id for s in sources if s.cited][:8] or [s.id for s in sources][:5]
    text = "\n".join(lines)
    if extra:
        text += f"\n\n{extra}"
    if cited:
        text += "\n\nSources: " + ", ".join(cited)
    if model is None:
        text += "\n(No language model was used.)"
    return Answer(
        question=question,
        answer=text,
        sources=tuple(sources),
        facts=facts,
        llm=model,
        intents=tuple(f.intent for f in findings),
        note=note.strip(),
        timings_ms=times,
    )
