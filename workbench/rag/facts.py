"""Facts first: quantities are answered by DuckDB queries over the stored trades, never by the model.

A question is routed to fact functions through :data:`INTENTS`, a registry of :class:`Intent`
(keyword groups + example questions), not an if/elif chain: every keyword group of an intent must
match for it to score (``"worst"`` alone does not pick best/worst *trades* when the question is about a
*drawdown*); when no keyword matches, the question's embedding is compared with the intents'
examples (:func:`route`). Each fact function returns :class:`Findings`: the facts (name, value, the
SQL that produced it), the answer lines written from those values, and the chunk ids of the
trades/days/patterns behind them (cited as sources).

Conventions are those of :mod:`workbench.analytics.breakdowns`: weekday and date of the **close**
time, hour of the **open** time; a win has net_profit > 0. Sums over several backtests add up their
account currencies as they are (said in the answer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from workbench._registry import Registry
from workbench.rag.chunks import WEEKDAYS, day_chunk_id, drawdown_episodes, trade_chunk_id, trade_text
from workbench.store import Q

if TYPE_CHECKING:
    from workbench.workspace import Workspace

__all__ = ["Fact", "Findings", "Intent", "INTENTS", "route", "find_facts", "weekday_in"]


@dataclass(frozen=True, slots=True)
class Fact:
    name: str
    value: Any
    query: str  # the named SQL (workbench/store/sql/queries.sql) and its parameters

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "query": self.query}


@dataclass(frozen=True, slots=True)
class Findings:
    intent: str
    facts: tuple[Fact, ...]
    lines: tuple[str, ...]
    cites: tuple[tuple[str, str], ...] = ()  # (chunk id, text or "" when the index should supply it)


@dataclass(frozen=True, slots=True)
class Ctx:
    """What one fact function looks at: one backtest, or the backtests of one account currency.

    Money is never added across currencies: a question over all backtests is answered once per
    currency. Backtests the sweep engine stored (the in-sample best of a parameter sweep) are left out
    of cross-backtest answers unless the question asks about sweeps or optimisations."""

    ws: Workspace
    question: str
    backtest_id: int | None
    names: dict[int, str] = field(default_factory=dict)
    ids: tuple[int, ...] = ()  # the backtests in scope
    currency: str | None = None
    left_out: int = 0  # sweep backtests left out of this scope

    def scope(self) -> str:
        if self.backtest_id is not None:
            return f"{self.names.get(self.backtest_id, '')} (backtest {self.backtest_id})"
        money = f"in {self.currency}" if self.currency else "with no stated currency"
        out = f"the {len(self.ids)} backtest(s) {money}"
        if self.left_out:
            out += f"; {self.left_out} in-sample sweep result(s) left out (ask about sweeps to include them)"
        return out

    def label(self, bid: int) -> str:
        return f"{self.names.get(int(bid), '')} (backtest {bid})"

    def rows(self, name: str, *params: Any) -> tuple[list[dict[str, Any]], str]:
        frame = self.ws.store.frame(getattr(Q, name), [list(self.ids), *params])
        shown = ", ".join(
            repr(p) for p in (self.backtest_id if self.backtest_id is not None else "scope", *params)
        )
        return frame.to_dicts(), f"Q.{name}({shown})"


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    groups: tuple[tuple[str, ...], ...]  # each group must match one of its phrases
    examples: tuple[str, ...]
    run: Callable[[Ctx], Findings]
    exclude: tuple[str, ...] = ()  # any of these phrases rules the intent out


INTENTS: Registry[Intent] = Registry("intent")

_DAYS = tuple(d.lower() for d in WEEKDAYS)
_WEEKDAY_WORDS = ("weekday", "day of the week", "day of week", "which day", "what day", "days", *_DAYS)


def intent(name: str, groups: Sequence[Sequence[str]], examples: Sequence[str], exclude: Sequence[str] = ()):
    def deco(fn: Callable[[Ctx], Findings]) -> Callable[[Ctx], Findings]:
        INTENTS.add(name, Intent(name, tuple(tuple(g) for g in groups), tuple(examples), fn, tuple(exclude)))
        return fn

    return deco


# -- routing -------------------------------------------------------------------------------------
def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _tokens(text: str) -> list[str]:
    return [_stem(w) for w in re.findall(r"[a-z0-9']+", text.lower())]


def _has(tokens: list[str], phrase: str) -> bool:
    p = _tokens(phrase)
    n = len(p)
    return any(tokens[i : i + n] == p for i in range(len(tokens) - n + 1))


def keyword_scores(question: str) -> dict[str, int]:
    """intent -> score: 0 unless every group matches; then the number of groups plus matched phrases."""
    tokens = _tokens(question)
    out = {}
    for name, it in INTENTS.items():
        hits = [sum(_has(tokens, p) for p in g) for g in it.groups]
        excluded = any(_has(tokens, p) for p in it.exclude)
        out[name] = len(hits) * 10 + sum(hits) if all(hits) and not excluded else 0
    return out


@cache
def _example_vectors(model_key: int) -> tuple[list[str], np.ndarray]:
    from workbench.rag.embed import embedder

    names = [n for n, it in INTENTS.items() for _ in it.examples]
    texts = [e for _, it in INTENTS.items() for e in it.examples]
    return names, embedder().encode(texts)


def route(question: str, vector: np.ndarray | None = None, *, threshold: float = 0.45) -> list[str]:
    """The intents a question asks about, best first: by keywords, else by embedding similarity to the
    intents' examples (``vector`` is the question's embedding), else the ``overview``."""
    scores = keyword_scores(question)
    best = max(scores.values())
    if best > 0:
        return [n for n, s in sorted(scores.items(), key=lambda kv: -kv[1]) if s == best]
    if vector is not None:
        names, vecs = _example_vectors(0)
        sims = vecs @ vector
        i = int(np.argmax(sims))
        if sims[i] >= threshold:
            return [names[i]]
    return ["overview"]


def weekday_in(question: str) -> int | None:
    """ISO weekday (1 = Monday) named in the question, if any."""
    tokens = _tokens(question)
    for i, d in enumerate(_DAYS, start=1):
        if _stem(d) in tokens or d in tokens:
            return i
    return None


_SWEEP_WORDS = ("sweep", "optimis", "optimiz", "in-sample", "in sample", "engine")


def _scopes(ws: Workspace, question: str, backtest_id: int | None) -> tuple[dict[int, str], list[Ctx]]:
    frame = ws.store.frame(Q.rag_scope)
    names = {int(r["id"]): str(r["name"]) for r in frame.iter_rows(named=True)}
    if backtest_id is not None:
        if backtest_id not in names:
            return names, []
        return names, [
            Ctx(
                ws,
                question,
                backtest_id,
                names,
                (backtest_id,),
                frame.filter(pl.col("id") == backtest_id)["currency"][0],
            )
        ]
    wants_sweeps = any(w in question.lower() for w in _SWEEP_WORDS)
    sweeps = frame.filter(pl.col("origin") == "sweep")
    chosen = frame if wants_sweeps else frame.filter(pl.col("origin") != "sweep")
    left_out = 0 if wants_sweeps else sweeps.height
    if chosen.height == 0:  # only sweep results stored: they are all there is
        chosen, left_out = frame, 0
    ctxs = []
    for (currency,), group in chosen.group_by("currency", maintain_order=True):
        ids = tuple(int(i) for i in group["id"])
        ctxs.append(Ctx(ws, question, None, names, ids, currency, left_out))
    ctxs.sort(key=lambda c: -len(c.ids))
    return names, ctxs


def find_facts(
    ws: Workspace,
    question: str,
    backtest_id: int | None = None,
    vector: np.ndarray | None = None,
    intents: Sequence[str] | None = None,
) -> list[Findings]:
    """Run the fact functions of ``intents`` (default: where :func:`route` sends ``question``), once per
    scope: the one backtest asked about, else the backtests of each account currency."""
    names, ctxs = _scopes(ws, question, None if backtest_id is None else int(backtest_id))
    if not names:
        return []
    if backtest_id is not None and not ctxs:
        ws.backtest(int(backtest_id))  # raises the usual "no backtest with id" error
        return []
    chosen = intents or route(question, vector)
    out = [INTENTS.get(name).run(ctx) for name in chosen for ctx in ctxs]
    if len(ctxs) > 1:  # one answer per currency: each fact says which
        by_scope = [ctx for _ in chosen for ctx in ctxs]
        out = [
            replace(
                f, facts=tuple(replace(x, name=f"{x.name}[{c.currency or 'no currency'}]") for x in f.facts)
            )
            for f, c in zip(out, by_scope, strict=True)
        ]
    return out


# -- formatting ----------------------------------------------------------------------------------
def _m(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+,.2f}"


def _trade_cite(ctx: Ctx, r: dict[str, Any]) -> tuple[str, str]:
    bid = int(r["backtest_id"])
    return trade_chunk_id(bid, int(r["seq"])), trade_text(r, ctx.label(bid))


# -- breakdown intents ---------------------------------------------------------------------------
def _groups(ctx: Ctx, query: str, key: str, label: Callable[[Any], str], what: str, pattern: str) -> Findings:
    rows, q = ctx.rows(query)
    losing = [r for r in rows if r["net_profit"] < 0]
    winning = [r for r in rows if r["net_profit"] > 0]
    facts = (
        Fact(f"net_profit_by_{what}", {label(r[key]): r["net_profit"] for r in rows}, q),
        Fact(f"trades_by_{what}", {label(r[key]): r["trades"] for r in rows}, q),
        Fact(f"losing_{what}s", [label(r[key]) for r in losing], q),
        Fact(f"profitable_{what}s", [label(r[key]) for r in winning], q),
    )

    def fmt(rs: list[dict[str, Any]]) -> str:
        return (
            "; ".join(f"{label(r[key])} {_m(r['net_profit'])} over {r['trades']} trades" for r in rs)
            or "none"
        )

    zones, zq = ctx.rows("rag_fact_timezones")
    facts = (*facts, Fact("timezones", {z["timezone"]: z["backtests"] for z in zones}, zq))
    lines = (
        f"Losing {what}s in {ctx.scope()}: {fmt(sorted(losing, key=lambda r: r['net_profit']))}.",
        f"Profitable {what}s: {fmt(sorted(winning, key=lambda r: -r['net_profit']))}.",
        "Times: " + "; ".join(f"{z['timezone']} ({z['backtests']} backtest(s))" for z in zones) + ".",
    )
    bids = list(ctx.ids)
    cites = tuple((f"pattern:{b}:{pattern}", "") for b in bids[:13])
    return Findings(what, facts, lines, cites)


@intent(
    "weekday",
    [_WEEKDAY_WORDS],
    ["Which weekdays lose money?", "How do Mondays perform?", "What is the best day of the week?"],
    exclude=("hour", "drawdown", "streak"),
)
def weekday_fact(ctx: Ctx) -> Findings:
    f = _groups(ctx, "rag_fact_weekday", "weekday", str, "weekday", "weekday")
    # the days behind the losing weekdays: the worst days that fall on them
    losing = set(f.facts[2].value)
    days, _ = ctx.rows("rag_fact_extreme_days", -1, 50)
    worst = [d for d in days if WEEKDAYS[d["date"].weekday()] in losing and d["net_profit"] < 0][:5]
    return Findings(
        f.intent,
        f.facts,
        f.lines,
        f.cites + tuple((day_chunk_id(d["backtest_id"], d["date"]), "") for d in worst),
    )


@intent(
    "hour",
    [("hour", "time of day", "o'clock", "intraday", "session", "hourly")],
    ["Which hours of the day lose money?", "What time of day is best to trade?"],
)
def hour_fact(ctx: Ctx) -> Findings:
    return _groups(ctx, "rag_fact_hour", "hour", lambda h: f"{int(h):02d}h", "hour", "hour")


@intent(
    "symbol",
    [("symbol", "instrument", "pair", "market", "asset", "ticker", "currency pair")],
    ["Which symbols make money?", "What instrument loses the most?"],
)
def symbol_fact(ctx: Ctx) -> Findings:
    return _groups(ctx, "rag_fact_symbol", "symbol", str, "symbol", "symbol")


@intent(
    "direction",
    [("long", "short", "direction", "buy", "sell", "longs", "shorts")],
    ["Do longs or shorts make more money?", "How do buy trades compare with sell trades?"],
)
def direction_fact(ctx: Ctx) -> Findings:
    return _groups(ctx, "rag_fact_direction", "direction", str, "direction", "direction")


# -- episodes ------------------------------------------------------------------------------------
@intent(
    "drawdown",
    [("drawdown", "draw down", "dd", "peak to trough", "underwater", "decline")],
    ["What happened in my worst drawdown?", "How deep was the max drawdown and when did it recover?"],
)
def drawdown_fact(ctx: Ctx) -> Findings:
    from workbench.analytics import equity_curve

    rows, q0 = ctx.rows("rag_max_drawdown_backtest")
    if not rows:
        return Findings("drawdown", (), ("No backtest with trades in scope.",))
    bid = int(rows[0]["id"])
    bt = ctx.ws.backtest(bid)
    episodes = drawdown_episodes(equity_curve(bt.trades, bt.initial_balance, bt.cash_flows), top=1)
    q = f"{q0} -> workbench.analytics.equity_curve(Q.trades_of_backtest({bid}))"
    if not episodes:
        return Findings(
            "drawdown", (Fact("worst_drawdown", None, q),), (f"{ctx.label(bid)} never drew down.",)
        )
    e = episodes[0]
    in_dd = bt.trades.filter(bt.trades["trade_id"].cast(str).is_in(e["trade_ids"]))
    worst = in_dd.sort("net_profit").head(5).to_dicts()
    losses = float(in_dd.filter(in_dd["net_profit"] < 0)["net_profit"].sum())
    value = {
        "backtest_id": bid,
        "peak_time": e["peak_time"].isoformat(),
        "peak_balance": e["peak_balance"],
        "trough_time": e["trough_time"].isoformat(),
        "trough_balance": e["trough_balance"],
        "drawdown": e["drawdown"],
        "drawdown_pct": e["drawdown_pct"],
        "recovered": e["recovered"].isoformat() if e["recovered"] else None,
        "trades": len(e["trade_ids"]),
        "losing_trades": int((in_dd["net_profit"] < 0).sum()),
        "sum_of_losses": round(losses, 2),
    }
    rec = (
        f"it recovered on {e['recovered']:%Y-%m-%d %H:%M}"
        if e["recovered"]
        else "it had not recovered by the end"
    )
    pct = "" if e["drawdown_pct"] is None else f" ({e['drawdown_pct']:.2f}% of the peak)"
    scope = "" if ctx.backtest_id is not None else f" (deepest in % of {ctx.scope()})"
    lines = [
        f"Worst drawdown: {ctx.label(bid)}{scope} fell {e['drawdown']:,.2f}{pct} from a peak balance of "
        f"{e['peak_balance']:,.2f} on {e['peak_time']:%Y-%m-%d %H:%M} to {e['trough_balance']:,.2f} on "
        f"{e['trough_time']:%Y-%m-%d %H:%M}, over {value['trades']} closed trades of which "
        f"{value['losing_trades']} lost {value['sum_of_losses']:,.2f} in total; {rec}.",
    ]
    if worst:
        lines.append(
            "Largest losses in it: "
            + "; ".join(
                f"trade {r['trade_id']} on {r['close_time']:%Y-%m-%d} {_m(r['net_profit'])}" for r in worst
            )
            + "."
        )
    cites = [(f"pattern:{bid}:drawdown:1", "")]
    cites += [_trade_cite(ctx, {**r, "backtest_id": bid}) for r in worst]
    cites.append((day_chunk_id(bid, e["trough_time"].date()), ""))
    facts = (
        Fact("worst_drawdown", value, q),
        Fact(
            "largest_losses_in_drawdown",
            [{"trade_id": r["trade_id"], "net_profit": round(r["net_profit"], 2)} for r in worst],
            q,
        ),
    )
    return Findings("drawdown", facts, tuple(lines), tuple(cites))


@intent(
    "streak",
    [("streak", "in a row", "consecutive", "run of", "losing run", "winning run")],
    ["What was my longest losing streak?", "How many losses in a row did I have?"],
)
def streak_fact(ctx: Ctx) -> Findings:
    facts, lines, cites = [], [], []
    for sign, name in ((-1, "losing"), (1, "winning")):
        rows, q = ctx.rows("rag_fact_streaks", sign, 1)
        if not rows:
            continue
        r = rows[0]
        value = {
            "backtest_id": int(r["backtest_id"]),
            "length": int(r["length"]),
            "net_profit": r["net_profit"],
            "first_close": r["first_close"].isoformat(),
            "last_close": r["last_close"].isoformat(),
        }
        facts.append(Fact(f"longest_{name}_streak", value, q))
        lines.append(
            f"Longest {name} streak in {ctx.scope()}: {r['length']} trades in a row in {ctx.label(r['backtest_id'])}, "
            f"closed {r['first_close']:%Y-%m-%d %H:%M} to {r['last_close']:%Y-%m-%d %H:%M}, net {_m(r['net_profit'])}."
        )
        seqs = list(r["seqs"])[:10]
        trades = ctx.ws.store.frame(Q.rag_trades_by_seq, [int(r["backtest_id"]), seqs]).to_dicts()
        cites += [_trade_cite(ctx, t) for t in trades]
    return Findings("streak", tuple(facts), tuple(lines), tuple(cites))


# -- extremes ------------------------------------------------------------------------------------
_BEST = (
    "best",
    "worst",
    "biggest",
    "largest",
    "top",
    "most profitable",
    "least profitable",
    "highest",
    "lowest",
)


@intent(
    "extreme_trades",
    [_BEST, ("trade", "position", "win", "loss", "loser", "winner")],
    ["What were my best and worst trades?", "Show the biggest losing trade"],
    exclude=("drawdown", "streak", "weekday", "hour", "symbol", "backtest", "strategy", "parameter"),
)
def extreme_trades_fact(ctx: Ctx) -> Findings:
    facts, lines, cites = [], [], []
    for sign, name in ((1, "best"), (-1, "worst")):
        rows, q = ctx.rows("rag_fact_extreme_trades", sign, 3)
        facts.append(
            Fact(
                f"{name}_trades",
                [
                    {
                        "backtest_id": r["backtest_id"],
                        "trade_id": r["trade_id"],
                        "seq": r["seq"],
                        "net_profit": r["net_profit"],
                    }
                    for r in rows
                ],
                q,
            )
        )
        lines.append(
            f"{name.capitalize()} trades in {ctx.scope()}: "
            + "; ".join(
                f"trade {r['trade_id']} of {ctx.label(r['backtest_id'])} closed {r['close_time']:%Y-%m-%d %H:%M} {_m(r['net_profit'])}"
                for r in rows
            )
            + "."
        )
        cites += [_trade_cite(ctx, r) for r in rows]
    return Findings("extreme_trades", tuple(facts), tuple(lines), tuple(cites))


@intent(
    "extreme_days",
    [_BEST, ("day", "date", "session")],
    ["What was my worst day?", "Which dates made the most money?"],
    exclude=("week", "weekday", "drawdown", "streak", "hour", *_DAYS),
)
def extreme_days_fact(ctx: Ctx) -> Findings:
    facts, lines, cites = [], [], []
    for sign, name in ((1, "best"), (-1, "worst")):
        rows, q = ctx.rows("rag_fact_extreme_days", sign, 3)
        facts.append(
            Fact(
                f"{name}_days",
                [
                    {
                        "backtest_id": r["backtest_id"],
                        "date": r["date"].isoformat(),
                        "trades": r["trades"],
                        "net_profit": r["net_profit"],
                    }
                    for r in rows
                ],
                q,
            )
        )
        lines.append(
            f"{name.capitalize()} days in {ctx.scope()}: "
            + "; ".join(
                f"{r['date']:%Y-%m-%d} ({WEEKDAYS[r['date'].weekday()]}) in {ctx.label(r['backtest_id'])} {_m(r['net_profit'])} over {r['trades']} trades"
                for r in rows
            )
            + "."
        )
        cites += [(day_chunk_id(r["backtest_id"], r["date"]), "") for r in rows]
    return Findings("extreme_days", tuple(facts), tuple(lines), tuple(cites))


# -- across backtests ----------------------------------------------------------------------------
@intent(
    "weekday_by_backtest",
    [
        _DAYS,
        (
            "parameter",
            "parameter set",
            "backtest",
            "strategy",
            "set",
            "traded most",
            "most trade",
            "most active",
        ),
    ],
    ["Which parameter sets traded most on Mondays?", "Which backtest trades the most on Fridays?"],
)
def weekday_by_backtest_fact(ctx: Ctx) -> Findings:
    dow = weekday_in(ctx.question) or 1
    day = WEEKDAYS[dow - 1]
    rows, q = ctx.rows("rag_fact_weekday_by_backtest", dow)
    value = [
        {
            "backtest_id": r["backtest_id"],
            "name": r["name"],
            "trades": r["trades"],
            "net_profit": r["net_profit"],
        }
        for r in rows
    ]
    facts = [Fact(f"trades_on_{day.lower()}_by_backtest", value, q)]
    if not rows:
        return Findings(
            "weekday_by_backtest", tuple(facts), (f"No trades closed on a {day} in {ctx.scope()}.",)
        )
    top = rows[0]
    params = json.loads(top["parameters"]) if top["parameters"] else {}
    ptxt = ", ".join(f"{k}={v}" for k, v in list(params.items())[:8]) or "no parameters stored"
    facts.append(Fact(f"most_trades_on_{day.lower()}", value[0], q))
    lines = (
        f"Most trades closed on {day}s: {ctx.label(top['backtest_id'])} with {top['trades']} trades "
        f"(net {_m(top['net_profit'])}); its parameters: {ptxt}.",
        f"Ranking by {day} trades: "
        + "; ".join(f"{ctx.label(r['backtest_id'])} {r['trades']}" for r in rows[:8])
        + ".",
    )
    cites = tuple((f"backtest:{r['backtest_id']}", "") for r in rows[:3]) + tuple(
        (f"pattern:{r['backtest_id']}:weekday", "") for r in rows[:3]
    )
    return Findings("weekday_by_backtest", tuple(facts), lines, cites)


def _ranking(ctx: Ctx, name: str) -> Findings:
    rows, q = ctx.rows("rag_fact_backtests")
    facts = (Fact("backtests", rows, q),)
    if not rows:
        return Findings(name, facts, ("No trades stored.",))

    def one(r: dict[str, Any]) -> str:
        pf = "n/a" if r["profit_factor"] is None else f"{r['profit_factor']:.2f}"
        dd = "n/a (no initial balance)" if r["max_drawdown_pct"] is None else f"{r['max_drawdown_pct']:.2f}%"
        return (
            f"{ctx.label(r['backtest_id'])}: {r['trades']} trades, net {_m(r['net_profit'])} {r['currency'] or ''}".rstrip()
            + f", win rate {100 * r['win_rate']:.1f}%, profit factor {pf}, max drawdown {dd}"
        )

    lines = [f"By net profit ({ctx.scope()}):"] + [f"- {one(r)}" for r in rows[:15]]
    if len(rows) > 1:
        lines.append(
            f"Most profitable: {ctx.label(rows[0]['backtest_id'])} {_m(rows[0]['net_profit'])}; least profitable: "
            f"{ctx.label(rows[-1]['backtest_id'])} {_m(rows[-1]['net_profit'])} (each in its own account currency)."
        )
    facts += (
        Fact("most_profitable_backtest", rows[0]["backtest_id"], q),
        Fact("least_profitable_backtest", rows[-1]["backtest_id"], q),
    )
    cites = tuple((f"backtest:{r['backtest_id']}", "") for r in rows[:5])
    return Findings(name, facts, tuple(lines), cites)


@intent(
    "compare",
    [
        (
            "compare",
            "comparison",
            "versus",
            "vs",
            "better",
            "rank",
            "ranking",
            "which backtest",
            "which strategy",
            "most profitable backtest",
            "best backtest",
            "worst backtest",
            "best strategy",
            "worst strategy",
        )
    ],
    ["Compare my backtests", "Which backtest is the most profitable?", "Which strategy did better?"],
)
def compare_fact(ctx: Ctx) -> Findings:
    return _ranking(ctx, "compare")


@intent(
    "overview",
    [("overview", "summary", "summarise", "summarize", "how did i do", "performance")],
    ["Give me an overview of my results", "How did my trading go overall?"],
)
def overview_fact(ctx: Ctx) -> Findings:
    return _ranking(ctx, "overview")
