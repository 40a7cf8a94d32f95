"""What gets embedded: text chunks made from one stored backtest, with their metadata.

Kinds (registered in :data:`CHUNKERS`, one function each) and the Chroma collection they go to:

==========  ======================  ==============================================================
kind        collection              one chunk per
==========  ======================  ==============================================================
backtest    patterns_embeddings     backtest: headline metrics and parameters
pattern     patterns_embeddings     weekday / hour / symbol / direction breakdown, streaks, each of
                                    the 3 deepest drawdown episodes, best/worst trades
day         daily_summaries         day on which at least one trade closed (daily summary)
trade       trades_embeddings       trade — all of them up to ``max_trades`` per backtest
                                    (``WORKBENCH_RAG_MAX_TRADES``, default 5000); above that only
                                    notable ones: the 50 best, the 50 worst, and those closed in the
                                    deepest drawdown episode
==========  ======================  ==============================================================

Every figure comes from :mod:`workbench.analytics` (breakdowns, daily summary, equity curve,
metrics); nothing is recomputed here. Chunk ids are stable (``trade:<bt>:<seq>``, ``day:<bt>:<date>``,
``backtest:<bt>``, ``pattern:<bt>:<name>``), so re-indexing finds what is already embedded. Text
from the files (labels, comments, parameter names) is carried as data; the prompt keeps it inside
delimited data blocks (:mod:`workbench.rag.prompt`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from workbench._registry import Registry
from workbench.analytics import breakdown, compute_metrics, daily_summary, equity_curve

__all__ = [
    "Chunk",
    "CHUNKERS",
    "COLLECTIONS",
    "chunks_for",
    "drawdown_episodes",
    "trade_text",
    "trade_chunk_id",
    "day_chunk_id",
]

COLLECTIONS: dict[str, str] = {
    "trade": "trades_embeddings",
    "day": "daily_summaries",
    "backtest": "patterns_embeddings",
    "pattern": "patterns_embeddings",
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NOTABLE_TRADES = 50


@dataclass(frozen=True, slots=True)
class Chunk:
    id: str
    kind: str
    backtest_id: int
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def collection(self) -> str:
        return COLLECTIONS[self.kind]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def chroma_metadata(self) -> dict[str, str | int | float | bool]:
        """Metadata as Chroma stores it: no nulls, dates as ISO text."""
        out: dict[str, str | int | float | bool] = {"backtest_id": self.backtest_id, "kind": self.kind}
        for key, value in self.metadata.items():
            if value is None:
                continue
            if isinstance(value, datetime | date):
                value = value.isoformat()
            out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class Source:
    """Everything the chunkers of one backtest need, computed once. ``trades`` carries the context
    columns of :func:`annotate` (rank_best, rank_worst, size, run_pos, run_len, streak, drawdown)."""

    id: int
    info: dict[str, Any]
    trades: pl.DataFrame
    cash_flows: pl.DataFrame
    max_trades: int
    episodes: tuple[dict[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return f"{self.info.get('name') or ''} (backtest {self.id})"

    @property
    def currency(self) -> str:
        return str(self.info.get("currency") or "")


CHUNKERS: Registry[Callable[[Source], Iterator[Chunk]]] = Registry("chunker")


def _initial(info: dict[str, Any]) -> float | None:
    value = info.get("initial_balance")
    return None if value is None else float(value)


def _dd_pct(x: float | None) -> str:
    return "% unknown: no initial balance" if x is None else f"{x:.2f}%"


def _money(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+,.2f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def trade_chunk_id(backtest_id: int, seq: int) -> str:
    return f"trade:{backtest_id}:{seq}"


def day_chunk_id(backtest_id: int, day: date) -> str:
    return f"day:{backtest_id}:{day.isoformat()}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _drawdown_words(rank: int | None) -> str:
    if not rank:
        return ""
    return "in the deepest drawdown" if rank == 1 else f"in the {_ordinal(rank)} deepest drawdown"


def size_words(
    rank_best: int | None, rank_worst: int | None, n: int | None, net: float | None, what: str
) -> str:
    """How big a win/loss is relative to the backtest: 'largest loss of the backtest', 'big win (top 5% of
    trades)', 'loss'. Leads the chunk text, so "worst" and "best" questions can find it."""
    net = net or 0.0
    top = max(1, -(-(n or 0) * 5 // 100))
    if net > 0:
        if rank_best == 1:
            return f"largest win of the backtest, best {what}"
        return f"big win (top 5% of {what}s)" if rank_best and rank_best <= top else "win"
    if net < 0:
        if rank_worst == 1:
            return f"largest loss of the backtest, worst {what}"
        return f"big loss (bottom 5% of {what}s)" if rank_worst and rank_worst <= top else "loss"
    return "break-even"


def trade_text(row: dict[str, Any], label: str = "", currency: str = "") -> str:
    """One trade as a short sentence (used for the trade chunks and for cited trades). It leads with what
    tells trades apart (symbol, direction, outcome and its size relative to the backtest, close day and
    hour, streak and drawdown context) and is short on purpose: embedding time grows with tokens."""
    o, c = row.get("open_time"), row.get("close_time")
    net = row.get("net_profit")
    size = row.get("size") or size_words(None, None, None, net, "trade")
    head = f"{row.get('symbol') or ''} {row.get('direction') or ''}".strip()
    vol = f" {row['volume']:g} lots" if row.get("volume") is not None else ""
    ccy = f" {currency}" if currency else ""
    parts = [f"{head}{vol} {size} {_money(net)}{ccy}".strip()]
    if c:
        parts.append(f", closed {WEEKDAYS[c.weekday()]} {c:%Y-%m-%d %H:%M}")
    if o:
        parts.append(f", opened {o.hour:02d}h")
    run_len, run_pos = row.get("run_len") or 0, row.get("run_pos") or 0
    if run_len >= 3 and (net or 0) != 0:
        kind = "win" if (net or 0) > 0 else "loss"
        parts.append(
            f"; {_ordinal(run_pos)} of {run_len} {kind}es in a row"
            if kind == "loss"
            else f"; {_ordinal(run_pos)} of {run_len} wins in a row"
        )
    if row.get("streak"):
        parts.append(f", {row['streak']} streak")
    if row.get("drawdown"):
        parts.append(f"; {_drawdown_words(row['drawdown'])}")
    bt = label or f"backtest {row.get('backtest_id')}"
    parts.append(f". Trade {row.get('trade_id') or row.get('seq')}, {bt}.")
    if row.get("comment"):
        parts.append(f" Comment: {row['comment']}")
    return "".join(parts)


def annotate(trades: pl.DataFrame, episodes: Sequence[dict[str, Any]] = ()) -> pl.DataFrame:
    """``trades`` in close order with context columns: rank_best / rank_worst (1 = the best / worst
    trade of the backtest), size (words), run_pos / run_len (place in its run of wins or losses), streak
    ('longest losing' / 'longest winning' or null) and drawdown (rank of the episode it closed in, 0 if
    none, from ``episodes`` = :func:`drawdown_episodes`)."""
    t = _ordered(trades)
    n = t.height
    t = t.with_columns(
        pl.col("net_profit").rank("ordinal", descending=True).cast(pl.Int32).alias("rank_best"),
        pl.col("net_profit").rank("ordinal").cast(pl.Int32).alias("rank_worst"),
        pl.col("net_profit").sign().alias("_s"),
    ).with_columns((pl.col("_s") != pl.col("_s").shift(1)).fill_null(True).cum_sum().alias("_run"))
    t = t.with_columns(
        (pl.int_range(pl.len()).over("_run") + 1).cast(pl.Int32).alias("run_pos"),
        pl.len().over("_run").cast(pl.Int32).alias("run_len"),
    )
    streak = pl.lit(None, pl.Utf8)
    for sign, name in ((-1, "longest losing"), (1, "longest winning")):
        runs = t.filter(pl.col("_s") == sign)
        if runs.height:
            best = runs.group_by("_run").agg(pl.len().alias("n"), pl.col("net_profit").sum().alias("net"))
            best = best.sort(["n", "net", "_run"], descending=[True, sign < 0, False]).row(0, named=True)
            streak = pl.when(pl.col("_run") == best["_run"]).then(pl.lit(name)).otherwise(streak)
    dd = pl.lit(0, pl.Int32)
    for rank, e in reversed(list(enumerate(episodes, start=1))):
        ids = [str(x) for x in e["trade_ids"]]
        dd = pl.when(pl.col("trade_id").cast(pl.Utf8).is_in(ids)).then(pl.lit(rank, pl.Int32)).otherwise(dd)
    t = t.with_columns(streak.alias("streak"), dd.alias("drawdown")).drop("_s", "_run")
    sizes = [
        size_words(b, w, n, net, "trade")
        for b, w, net in zip(t["rank_best"], t["rank_worst"], t["net_profit"], strict=True)
    ]
    return t.with_columns(pl.Series("size", sizes, dtype=pl.Utf8))


@CHUNKERS.register("backtest")
def _backtest(src: Source) -> Iterator[Chunk]:
    m = compute_metrics(src.trades, _initial(src.info), src.cash_flows)
    params = src.info.get("parameters") or {}
    ptxt = ", ".join(f"{k}={v}" for k, v in list(params.items())[:40])
    text = (
        f"Backtest summary (overview, headline results) of {src.label} "
        f"({src.info.get('platform') or '?'} {src.info.get('format') or ''}), "
        f"strategy {src.info.get('strategy') or '?'} on {src.info.get('symbol') or 'several symbols'} "
        f"{src.info.get('timeframe') or ''}, {m.start:%Y-%m-%d} to {m.end:%Y-%m-%d}: {m.total_trades} trades, "
        f"net profit {_money(m.net_profit)} {src.currency}, win rate {_pct(m.win_rate)}, "
        f"profit factor {m.profit_factor if m.profit_factor is None else round(m.profit_factor, 2)}, "
        f"max drawdown {m.max_drawdown:,.2f} ({_dd_pct(m.max_drawdown_pct)}), "
        f"longest losing streak {m.max_consecutive_losses}, longest winning streak {m.max_consecutive_wins}."
        + (f" Parameters: {ptxt}." if ptxt else "")
    )
    yield Chunk(
        f"backtest:{src.id}",
        "backtest",
        src.id,
        text,
        {"symbol": src.info.get("symbol"), "start": m.start, "end": m.end, "pattern": "summary"},
    )


def _breakdown_chunk(src: Source, by: str, label: Callable[[Any], str]) -> Chunk:
    table = breakdown(src.trades, by)
    rows = [
        f"{label(r['key'])}: {r['trades']} trades, net {_money(r['net_profit'])}, win rate {_pct(r['win_rate'])}"
        for r in table.iter_rows(named=True)
    ]
    losing = [label(r["key"]) for r in table.iter_rows(named=True) if r["net_profit"] < 0]
    text = (
        f"{by.capitalize()} breakdown (which {by}s win or lose money) of {src.label}. "
        f"Losing {by}s: {', '.join(losing) if losing else 'none'}. " + "; ".join(rows) + "."
    )
    return Chunk(f"pattern:{src.id}:{by}", "pattern", src.id, text, {"pattern": by})


@CHUNKERS.register("breakdowns")
def _breakdowns(src: Source) -> Iterator[Chunk]:
    yield _breakdown_chunk(src, "weekday", str)
    yield _breakdown_chunk(src, "hour", lambda h: f"{h:02d}h")
    yield _breakdown_chunk(src, "symbol", lambda s: str(s or "?"))
    yield _breakdown_chunk(src, "direction", lambda s: str(s or "?"))


def _ordered(trades: pl.DataFrame) -> pl.DataFrame:
    return trades.sort(["close_time", "open_time", "trade_id"], maintain_order=True)


@CHUNKERS.register("streaks")
def _streaks(src: Source) -> Iterator[Chunk]:
    t = _ordered(src.trades).with_columns(pl.col("net_profit").sign().alias("s"))
    runs = (
        t.with_columns((pl.col("s") != pl.col("s").shift(1)).fill_null(True).cum_sum().alias("run"))
        .group_by("run", maintain_order=True)
        .agg(
            pl.col("s").first(),
            pl.len().alias("n"),
            pl.col("net_profit").sum().alias("net"),
            pl.col("close_time").min().alias("first"),
            pl.col("close_time").max().alias("last"),
        )
    )
    parts = []
    for sign, name in ((-1, "losing"), (1, "winning")):
        best = runs.filter(pl.col("s") == sign).sort(["n", "net"], descending=[True, sign < 0])
        if best.height:
            r = best.row(0, named=True)
            parts.append(
                f"longest {name} streak {r['n']} trades in a row from {r['first']:%Y-%m-%d %H:%M} to "
                f"{r['last']:%Y-%m-%d %H:%M}, net {_money(r['net'])}"
            )
    text = (
        f"Longest losing and winning streaks (trades in a row) of {src.label}: "
        + ("; ".join(parts) if parts else "no winning or losing trades")
        + "."
    )
    yield Chunk(f"pattern:{src.id}:streaks", "pattern", src.id, text, {"pattern": "streaks"})


def drawdown_episodes(curve: pl.DataFrame, top: int = 3) -> list[dict[str, Any]]:
    """The ``top`` deepest drawdown episodes of an :func:`~workbench.analytics.equity_curve`: each from
    a peak to the point where the balance is back at (or above) that peak (``recovered`` null if never).

    Keys: peak_time, peak_balance, trough_time, trough_balance, drawdown, drawdown_pct, recovered,
    trade_ids (closed after the peak up to the trough)."""
    if curve.height < 2:
        return []
    c = curve.with_row_index("i").with_columns((pl.col("drawdown") <= 1e-9).cum_sum().alias("episode"))
    out = []
    for _, g in c.group_by("episode", maintain_order=True):
        if g["drawdown"].max() <= 1e-9:
            continue
        trough = g.row(int(g["drawdown"].arg_max()), named=True)
        start = g.row(0, named=True)
        after = c.filter(pl.col("i") > g["i"].max()).head(1)
        trades = g.filter((pl.col("i") > start["i"]) & (pl.col("i") <= trough["i"]))["trade_id"]
        out.append(
            {
                "peak_time": start["time"],
                "peak_balance": round(start["peak"], 2),
                "trough_time": trough["time"],
                "trough_balance": round(trough["balance"], 2),
                "drawdown": round(trough["drawdown"], 2),
                "drawdown_pct": None if trough["drawdown_pct"] is None else round(trough["drawdown_pct"], 2),
                "recovered": after["time"][0] if after.height else None,
                "trade_ids": [x for x in trades.to_list() if x is not None],
            }
        )
    return sorted(out, key=lambda e: -e["drawdown"])[:top]


def episode_text(label: str, rank: int, e: dict[str, Any], currency: str = "") -> str:
    rec = f"recovered {e['recovered']:%Y-%m-%d %H:%M}" if e["recovered"] else "not recovered by the end"
    pct = "" if e["drawdown_pct"] is None else f" ({e['drawdown_pct']:.2f}% of the peak)"
    which = "Worst (deepest) drawdown" if rank == 1 else f"{_ordinal(rank)} deepest drawdown"
    return (
        f"{which}, episode #{rank} of {label}: from a peak balance {e['peak_balance']:,.2f} {currency} on "
        f"{e['peak_time']:%Y-%m-%d %H:%M} down {e['drawdown']:,.2f}{pct} to {e['trough_balance']:,.2f} on "
        f"{e['trough_time']:%Y-%m-%d %H:%M} over {len(e['trade_ids'])} closed trades; {rec}."
    )


@CHUNKERS.register("drawdowns")
def _drawdowns(src: Source) -> Iterator[Chunk]:
    for rank, e in enumerate(src.episodes, start=1):
        yield Chunk(
            f"pattern:{src.id}:drawdown:{rank}",
            "pattern",
            src.id,
            episode_text(src.label, rank, e, src.currency),
            {"pattern": "drawdown", "rank": rank, "start": e["peak_time"], "end": e["trough_time"]},
        )


@CHUNKERS.register("extremes")
def _extremes(src: Source) -> Iterator[Chunk]:
    t = src.trades.sort("rank_best")
    best = [
        trade_text({**r, "backtest_id": src.id}, src.label, src.currency)
        for r in t.head(3).iter_rows(named=True)
    ]
    worst = [
        trade_text({**r, "backtest_id": src.id}, src.label, src.currency)
        for r in t.reverse().head(3).iter_rows(named=True)
    ]
    text = (
        f"Best and worst trades (largest wins and losses) of {src.label}. Best: "
        + " | ".join(best)
        + " Worst: "
        + " | ".join(worst)
    )
    yield Chunk(f"pattern:{src.id}:extremes", "pattern", src.id, text, {"pattern": "best_worst"})


def _amount(x: float | None) -> str:
    """A balance, or ``n/a`` when it is unknown (an export without its opening balance)."""
    return "n/a" if x is None else f"{x:,.2f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}%"


@CHUNKERS.register("days")
def _days(src: Source) -> Iterator[Chunk]:
    daily = daily_summary(src.trades, _initial(src.info), src.cash_flows)
    daily = daily.filter(pl.col("trades") > 0).with_columns(
        pl.col("net_profit").rank("ordinal", descending=True).cast(pl.Int32).alias("rank_best"),
        pl.col("net_profit").rank("ordinal").cast(pl.Int32).alias("rank_worst"),
    )
    dd = (
        src.trades.filter(pl.col("drawdown") > 0)
        .group_by(pl.col("close_time").dt.date().alias("date"))
        .agg(pl.col("drawdown").min())
    )
    daily = daily.join(dd, on="date", how="left").with_columns(pl.col("drawdown").fill_null(0))
    for r in daily.iter_rows(named=True):
        d: date = r["date"]
        ret = "n/a" if r["return_pct"] is None else f"{r['return_pct']:+.2f}%"
        size = size_words(r["rank_best"], r["rank_worst"], daily.height, r["net_profit"], "day")
        size = size.replace("win", "winning day", 1) if r["net_profit"] > 0 and size == "win" else size
        size = size.replace("loss", "losing day", 1) if r["net_profit"] < 0 and size == "loss" else size
        dd_words = f"; {_drawdown_words(r['drawdown'])}" if r["drawdown"] else ""
        text = (
            f"{WEEKDAYS[d.weekday()]} {d:%Y-%m-%d}: {size} {_money(r['net_profit'])} {src.currency}".rstrip()
            + f", {r['trades']} trades closed ({r['wins']} wins, {r['losses']} losses){dd_words}; "
            f"end balance {_amount(r['end_balance'])}, daily return {ret}, drawdown {_pct(r['drawdown_pct'])}. "
            f"Daily summary of {src.label}."
        )
        yield Chunk(
            day_chunk_id(src.id, d),
            "day",
            src.id,
            text,
            {
                "date": d,
                "weekday": WEEKDAYS[d.weekday()],
                "symbol": src.info.get("symbol"),
                "outcome": _outcome(r["net_profit"]),
                "rank_best": r["rank_best"],
                "rank_worst": r["rank_worst"],
                "drawdown": r["drawdown"],
            },
        )


def _outcome(net: float | None) -> str:
    return "win" if (net or 0) > 0 else "loss" if (net or 0) < 0 else "flat"


def selected_trades(src: Source) -> pl.DataFrame:
    """All trades up to ``max_trades``; above that the notable ones (see the module docstring)."""
    if src.trades.height <= src.max_trades:
        return src.trades
    t = src.trades.sort("net_profit")
    keep = set(t.head(NOTABLE_TRADES)["seq"]) | set(t.tail(NOTABLE_TRADES)["seq"])
    keep |= set(src.trades.filter(pl.col("drawdown") == 1)["seq"].head(src.max_trades))
    return src.trades.filter(pl.col("seq").is_in(sorted(keep)))


@CHUNKERS.register("trades")
def _trades(src: Source) -> Iterator[Chunk]:
    for r in selected_trades(src).iter_rows(named=True):
        r = {**r, "backtest_id": src.id}
        o, c = r["open_time"], r["close_time"]
        yield Chunk(
            trade_chunk_id(src.id, r["seq"]),
            "trade",
            src.id,
            trade_text(r, src.label, src.currency),
            {
                "seq": int(r["seq"]),
                "symbol": r.get("symbol") or src.info.get("symbol"),
                "date": c.date() if c else None,
                "weekday": WEEKDAYS[c.weekday()] if c else None,
                "hour": o.hour if o else None,
                "direction": r.get("direction"),
                "net_profit": r.get("net_profit"),
                "outcome": _outcome(r.get("net_profit")),
                "rank_best": r["rank_best"],
                "rank_worst": r["rank_worst"],
                "streak": r["streak"],
                "drawdown": r["drawdown"],
            },
        )


def chunks_for(ws: Any, backtest_id: int, *, max_trades: int = 5000) -> list[Chunk]:
    """Every chunk of one stored backtest (see the table in the module docstring)."""
    bt = ws.backtest(backtest_id)
    if bt.trades.height == 0:
        return []
    initial = _initial(bt.info)
    episodes = tuple(drawdown_episodes(equity_curve(bt.trades, initial, bt.cash_flows)))
    trades = annotate(bt.trades, episodes)
    src = Source(int(backtest_id), bt.info, trades, bt.cash_flows, max_trades, episodes)
    return [chunk for _, fn in CHUNKERS.items() for chunk in fn(src)]
