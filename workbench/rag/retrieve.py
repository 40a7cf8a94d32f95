"""Retrieval: which chunks give context to a question, by intent-aware, metadata-filtered vector search.

Every chunk text about trades looks alike to a small sentence model ("EURUSD long ... net -12.30"), so
an unfiltered nearest-neighbour search over all chunks rarely finds the one a question is about. A
question is therefore turned into a few **probes** (collection + Chroma ``where`` filter + a share of
the ``k`` results) from

* what it names (:func:`entities`): a date (``2020-03-02``), a weekday, a symbol the store knows, a
  direction, an hour, "winning"/"losing", "2nd"/"third" (drawdown rank); and
* the intents it is routed to (:data:`workbench.rag.facts.INTENTS`), each with a plan in :data:`PLANS`:
  "worst drawdown" searches the drawdown pattern chunks and the trades/days annotated as closed in
  that episode, "longest losing streak" the streak chunk and the trades of that streak, "best/worst
  trades" the trades ranked best/worst in their backtest, "Mondays" the Monday days and trades, etc.

The annotations are made at index time from the stored trades (:func:`workbench.rag.chunks.annotate`);
nothing here looks at the facts. Each probe fills its share with its nearest hits; free slots go to the
next best hits of any probe. A question naming nothing known searches all collections unfiltered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._registry import Registry
from workbench.rag.chunks import WEEKDAYS

if TYPE_CHECKING:
    from workbench.rag.index import Hit, VectorIndex

__all__ = ["Entities", "Probe", "PLANS", "entities", "plan", "retrieve"]

TRADES, DAYS, PATTERNS = "trades_embeddings", "daily_summaries", "patterns_embeddings"
_DATE = re.compile(r"\b(\d{4})[-./](\d{2})[-./](\d{2})\b")
_HOUR = re.compile(r"\b(\d{1,2})(?::00\b|h\b| ?o'clock\b)")
_ORDINALS = {"second": 2, "2nd": 2, "third": 3, "3rd": 3}
_WORDS = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True, slots=True)
class Entities:
    """What a question names, as metadata values of the chunks."""

    date: str | None = None  # ISO date
    weekday: str | None = None
    hour: int | None = None
    symbol: str | None = None
    direction: str | None = None  # long / short
    outcome: str | None = None  # win / loss, from winning/best vs losing/worst
    rank: int = 1  # drawdown episode: 1 = the deepest


@dataclass(frozen=True, slots=True)
class Probe:
    collection: str
    where: dict[str, Any] | None
    share: int  # results of k this probe fills first


def entities(question: str, symbols: Collection[str] = ()) -> Entities:
    """The date, weekday, hour, symbol, direction, outcome and ordinal a question names."""
    low = question.lower()
    words = _WORDS.findall(low)
    m = _DATE.search(question)
    date = f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else None
    weekday = next((d for d in WEEKDAYS if d.lower() in words or d.lower() + "s" in words), None)
    h = _HOUR.search(low) if date is None else None
    hour = int(h.group(1)) if h and int(h.group(1)) < 24 else None
    upper = {s.upper(): s for s in symbols if s}
    symbol = next(
        (upper[w.upper()] for w in re.findall(r"[A-Za-z0-9.#_]+", question) if w.upper() in upper), None
    )
    direction = (
        "long"
        if {"long", "longs", "buy", "buys"} & set(words)
        else "short"
        if {"short", "shorts", "sell", "sells"} & set(words)
        else None
    )
    win = {"winning", "best", "profitable", "wins", "winners", "biggest win", "largest win"} & set(words)
    loss = {"losing", "worst", "losses", "losers", "loss", "lose"} & set(words)
    outcome = "win" if win and not loss else "loss" if loss and not win else None
    rank = next((r for w, r in _ORDINALS.items() if w in words), 1)
    return Entities(date, weekday, hour, symbol, direction, outcome, rank)


def _where(*conds: dict[str, Any] | None) -> dict[str, Any] | None:
    c = [x for x in conds if x]
    return None if not c else c[0] if len(c) == 1 else {"$and": c}


def _trade_filters(e: Entities) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if e.symbol:
        out.append({"symbol": e.symbol})
    if e.direction:
        out.append({"direction": e.direction})
    return out


PLANS: Registry[Callable[[Entities], list[Probe]]] = Registry("retrieval plan")


def _plan(*names: str) -> Callable[[Callable[[Entities], list[Probe]]], Callable[[Entities], list[Probe]]]:
    def deco(fn: Callable[[Entities], list[Probe]]) -> Callable[[Entities], list[Probe]]:
        for n in names:
            PLANS.add(n, fn)
        return fn

    return deco


def _named_day(e: Entities, pattern_share: int) -> list[Probe]:
    """A named weekday: the days and trades closed on it."""
    if not e.weekday:
        return []
    rest = 10 - pattern_share
    return [
        Probe(DAYS, {"weekday": e.weekday}, rest // 2),
        Probe(TRADES, _where({"weekday": e.weekday}, *_trade_filters(e)), rest - rest // 2),
    ]


@_plan("weekday")
def _weekday(e: Entities) -> list[Probe]:
    return [Probe(PATTERNS, {"pattern": "weekday"}, 2 if e.weekday else 10), *_named_day(e, 2)]


@_plan("hour")
def _hour(e: Entities) -> list[Probe]:
    probes = [Probe(PATTERNS, {"pattern": "hour"}, 10 if e.hour is None else 2)]
    if e.hour is not None:
        probes.append(Probe(TRADES, {"hour": e.hour}, 8))
    return probes


@_plan("symbol")
def _symbol(e: Entities) -> list[Probe]:
    probes = [Probe(PATTERNS, {"pattern": "symbol"}, 10 if e.symbol is None else 2)]
    if e.symbol:
        probes.append(Probe(TRADES, {"symbol": e.symbol}, 8))
    return probes


@_plan("direction")
def _direction(e: Entities) -> list[Probe]:
    probes = [Probe(PATTERNS, {"pattern": "direction"}, 10 if e.direction is None else 2)]
    if e.direction:
        probes.append(Probe(TRADES, {"direction": e.direction}, 8))
    return probes


@_plan("drawdown")
def _drawdown(e: Entities) -> list[Probe]:
    return [
        Probe(PATTERNS, _where({"pattern": "drawdown"}, {"rank": e.rank}), 1),
        Probe(TRADES, {"drawdown": e.rank}, 6),
        Probe(DAYS, {"drawdown": e.rank}, 3),
    ]


@_plan("streak")
def _streak(e: Entities) -> list[Probe]:
    kinds = {"win": ["longest winning"], "loss": ["longest losing"]}.get(
        e.outcome or "", ["longest losing", "longest winning"]
    )
    share = 9 // len(kinds)
    return [Probe(PATTERNS, {"pattern": "streaks"}, 1)] + [Probe(TRADES, {"streak": k}, share) for k in kinds]


def _extremes(collection: str, e: Entities, top: int, lead: list[Probe]) -> list[Probe]:
    sides = {"win": ["rank_best"], "loss": ["rank_worst"]}.get(e.outcome or "", ["rank_best", "rank_worst"])
    share = (10 - sum(p.share for p in lead)) // len(sides)
    return lead + [
        Probe(collection, _where({side: {"$lte": top}}, *_trade_filters(e)), share) for side in sides
    ]


@_plan("extreme_trades")
def _extreme_trades(e: Entities) -> list[Probe]:
    return _extremes(TRADES, e, 5, [Probe(PATTERNS, {"pattern": "best_worst"}, 2)])


@_plan("extreme_days")
def _extreme_days(e: Entities) -> list[Probe]:
    return _extremes(DAYS, e, 5, [])


@_plan("weekday_by_backtest")
def _weekday_by_backtest(e: Entities) -> list[Probe]:
    return [Probe(PATTERNS, {"kind": "backtest"}, 5), Probe(PATTERNS, {"pattern": "weekday"}, 5)]


@_plan("compare", "overview")
def _overview(e: Entities) -> list[Probe]:
    return [Probe(PATTERNS, {"kind": "backtest"}, 10)]


def _dated(e: Entities) -> list[Probe]:
    assert e.date is not None
    return [Probe(DAYS, {"date": e.date}, 2), Probe(TRADES, _where({"date": e.date}, *_trade_filters(e)), 8)]


def plan(question: str, intents: Sequence[str], symbols: Collection[str] = ()) -> list[Probe]:
    """The probes for ``question`` routed to ``intents``: a named date wins (that day and its trades);
    then the plans of the intents; none known: every collection, unfiltered."""
    e = entities(question, symbols)
    if e.date:
        return _dated(e)
    probes = [p for name in intents if name in PLANS for p in PLANS.get(name)(e)]
    if not probes and (e.weekday or e.symbol):
        probes = [
            *_named_day(e, 0),
            *([Probe(TRADES, {"symbol": e.symbol}, 10)] if e.symbol and not e.weekday else []),
        ]
    if not probes:
        probes = [Probe(name, None, 0) for name in (PATTERNS, DAYS, TRADES)]
    return probes


def retrieve(
    index: VectorIndex,
    question: str,
    vector: np.ndarray,
    intents: Sequence[str] = (),
    *,
    backtest_id: int | None = None,
    k: int = 10,
    symbols: Collection[str] = (),
) -> list[Hit]:
    """The ``k`` chunks of context for ``question`` (``vector`` is its embedding), probes' shares first."""
    scope = {"backtest_id": int(backtest_id)} if backtest_id is not None else None
    runs: list[tuple[Probe, list[Hit]]] = []
    for p in plan(question, intents, symbols):
        hits = index.query(vector, k, where=_where(scope, p.where), collections=[p.collection])
        runs.append((p, hits))
    out: list[Hit] = []
    seen: set[str] = set()
    for p, hits in runs:
        for h in [h for h in hits if h.id not in seen][: p.share]:
            if len(out) < k:
                out.append(h)
                seen.add(h.id)
    rest = sorted((h for _, hits in runs for h in hits if h.id not in seen), key=lambda h: -h.score)
    for h in rest:
        if len(out) >= k:
            break
        if h.id not in seen:
            out.append(h)
            seen.add(h.id)
    return out
