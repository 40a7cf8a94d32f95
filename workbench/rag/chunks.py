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
from collections.abc import Callable, Iterator
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
    """Everything the chunkers of one backtest need, computed once."""

    id: int
    info: dict[str, Any]
    trades: pl.DataFrame
    cash_flows: pl.DataFrame
    max_trades: int

    @property
    def label(self) -> str:
        return f"{self.info.get('name') or ''} (backtest {self.id})"

    @property
    def currency(self) -> str:
        return str(self.info.get("currency") or "")


CHUNKERS: Registry[Callable[[Source], Iterator[Chunk]]] = Registry("chunker")


def _money(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+,.2f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def trade_chunk_id(backtest_id: int, seq: int) -> str:
    return f"trade:{backtest_id}:{seq}"


def day_chunk_id(backtest_id: int, day: date) -> str:
    return f"day:{backtest_id}:{day.isoformat()}"


def trade_text(row: dict[str, Any], label: str = "", currency: str = "") -> str:
    """One trade as a short sentence (used for the trade chunks and for cited trades); short on purpose:
    embedding time grows with the number of tokens."""
    o, c = row.get("open_time"), row.get("close_time")
    net = row.get("net_profit")
    outcome = "win" if (net or 0) > 0 else "loss" if (net or 0) < 0 else "break-even"
    head = f"{row.get('symbol') or ''} {row.get('direction') or ''}".strip()
    vol = f" {row['volume']:g} lots" if row.get("volume") is not None else ""
    parts = [
        f"{head}{vol} trade {row.get('trade_id') or row.get('seq')} of {label or 'backtest ' + str(row.get('backtest_id'))}:",
        f"opened {WEEKDAYS[o.weekday()]} {o:%Y-%m-%d %H:%M}," if o else "",
        f"closed {WEEKDAYS[c.weekday()]} {c:%Y-%m-%d %H:%M}," if c else "",
        f"net {_money(net)}{' ' + currency if currency else ''} ({outcome}).",
    ]
    if row.get("comment"):
        parts.append(f"Comment: {row['comment']}")
    return " ".join(p for p in parts if p)


@CHUNKERS.register("backtest")
def _backtest(src: Source) -> Iterator[Chunk]:
    m = compute_metrics(src.trades, float(src.info.get("initial_balance") or 0.0), src.cash_flows)
    params = src.info.get("parameters") or {}
    ptxt = ", ".join(f"{k}={v}" for k, v in list(params.items())[:40])
    text = (
        f"Summary of {src.label} ({src.info.get('platform') or '?'} {src.info.get('format') or ''}), "
        f"strategy {src.info.get('strategy') or '?'} on {src.info.get('symbol') or 'several symbols'} "
        f"{src.info.get('timeframe') or ''}, {m.start:%Y-%m-%d} to {m.end:%Y-%m-%d}: {m.total_trades} trades, "
        f"net profit {_money(m.net_profit)} {src.currency}, win rate {_pct(m.win_rate)}, "
        f"profit factor {m.profit_factor if m.profit_factor is None else round(m.profit_factor, 2)}, "
        f"max drawdown {m.max_drawdown:,.2f} ({m.max_drawdown_pct:.2f}%), "
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
        f"{by.capitalize()} breakdown of {src.label}: "
        + "; ".join(rows)
        + f". Losing {by}s: {', '.join(losing) if losing else 'none'}."
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
    text = f"Streaks of {src.label}: " + ("; ".join(parts) if parts else "no winning or losing trades") + "."
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


def _curve(src: Source) -> pl.DataFrame:
    return equity_curve(src.trades, float(src.info.get("initial_balance") or 0.0), src.cash_flows)


def episode_text(label: str, rank: int, e: dict[str, Any], currency: str = "") -> str:
    rec = f"recovered {e['recovered']:%Y-%m-%d %H:%M}" if e["recovered"] else "not recovered by the end"
    pct = "" if e["drawdown_pct"] is None else f" ({e['drawdown_pct']:.2f}% of the peak)"
    return (
        f"Drawdown episode #{rank} of {label}: from a peak balance {e['peak_balance']:,.2f} {currency} on "
        f"{e['peak_time']:%Y-%m-%d %H:%M} down {e['drawdown']:,.2f}{pct} to {e['trough_balance']:,.2f} on "
        f"{e['trough_time']:%Y-%m-%d %H:%M} over {len(e['trade_ids'])} closed trades; {rec}."
    )


@CHUNKERS.register("drawdowns")
def _drawdowns(src: Source) -> Iterator[Chunk]:
    for rank, e in enumerate(drawdown_episodes(_curve(src)), start=1):
        yield Chunk(
            f"pattern:{src.id}:drawdown:{rank}",
            "pattern",
            src.id,
            episode_text(src.label, rank, e, src.currency),
            {"pattern": "drawdown", "start": e["peak_time"], "end": e["trough_time"]},
        )


@CHUNKERS.register("extremes")
def _extremes(src: Source) -> Iterator[Chunk]:
    t = src.trades.sort("net_profit", descending=True)
    best = [
        trade_text({**r, "backtest_id": src.id}, src.label, src.currency)
        for r in t.head(3).iter_rows(named=True)
    ]
    worst = [
        trade_text({**r, "backtest_id": src.id}, src.label, src.currency)
        for r in t.reverse().head(3).iter_rows(named=True)
    ]
    text = f"Best trades of {src.label}: " + " | ".join(best) + ". Worst trades: " + " | ".join(worst)
    yield Chunk(f"pattern:{src.id}:extremes", "pattern", src.id, text, {"pattern": "best_worst"})


@CHUNKERS.register("days")
def _days(src: Source) -> Iterator[Chunk]:
    daily = daily_summary(src.trades, float(src.info.get("initial_balance") or 0.0), src.cash_flows)
    for r in daily.filter(pl.col("trades") > 0).iter_rows(named=True):
        d: date = r["date"]
        ret = "n/a" if r["return_pct"] is None else f"{r['return_pct']:+.2f}%"
        text = (
            f"Day {d:%Y-%m-%d} ({WEEKDAYS[d.weekday()]}) of {src.label}: {r['trades']} trades closed, "
            f"{r['wins']} wins, {r['losses']} losses, net {_money(r['net_profit'])} {src.currency}, "
            f"end balance {r['end_balance']:,.2f}, daily return {ret}, drawdown {r['drawdown_pct']:.2f}%."
        )
        yield Chunk(
            day_chunk_id(src.id, d),
            "day",
            src.id,
            text,
            {"date": d, "weekday": WEEKDAYS[d.weekday()], "symbol": src.info.get("symbol")},
        )


def selected_trades(src: Source) -> pl.DataFrame:
    """All trades up to ``max_trades``; above that the notable ones (see the module docstring)."""
    if src.trades.height <= src.max_trades:
        return src.trades
    t = src.trades.sort("net_profit")
    keep = set(t.head(NOTABLE_TRADES)["seq"]) | set(t.tail(NOTABLE_TRADES)["seq"])
    episodes = drawdown_episodes(_curve(src), top=1)
    if episodes:
        ids = set(episodes[0]["trade_ids"][: src.max_trades])
        keep |= set(src.trades.filter(pl.col("trade_id").cast(pl.Utf8).is_in(ids))["seq"])
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
            },
        )


def chunks_for(ws: Any, backtest_id: int, *, max_trades: int = 5000) -> list[Chunk]:
    """Every chunk of one stored backtest (see the table in the module docstring)."""
    bt = ws.backtest(backtest_id)
    if bt.trades.height == 0:
        return []
    src = Source(int(backtest_id), bt.info, bt.trades, bt.cash_flows, max_trades)
    return [chunk for _, fn in CHUNKERS.items() for chunk in fn(src)]
