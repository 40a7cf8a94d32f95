"""``infer(ws, backtest_id)``: from a bot's trades and the bars it traded back to the rules.

1. **Bars.** ``data="SYMBOL:TF"``, else the stored series of the backtest's symbol that covers its
   trades (the backtest's own timeframe first). The series used is named in the result (``bars``) and
   any mismatch said in ``notes``; with none covering any trade, a one-line ``DataError`` names what is
   stored and how to add bars.
2. **Search** (:mod:`workbench.infer.search`): every library strategy's coarse grid, a finer grid around
   its best points and a local search, scored in bulk by the entry F1 of its trades against the real
   ones (entries within ``tol`` bars on the same side), exits as the tie-breaker.
3. **Replay** the best candidates exactly with :func:`workbench.backtest.run` and measure their
   agreement (:func:`workbench.infer.trades.agreement`): entry and exit F1, precision, recall, P/L
   correlation of the matched trades' price moves.
4. **Exits** (:mod:`workbench.infer.exits`): classify every real exit relative to the best rule, estimate
   stop-loss / take-profit distances (price, %, ATR), refine them by replaying, keep what improves the
   agreement; a time exit is reported (the engine has none to replay).
5. **Fallback**: with entry F1 below ``min_f1``, a decision tree over indicator features
   (:mod:`workbench.infer.learned`), replayed and scored the same way; the better of the two is the
   answer.
6. **Store** the replay of the answer as an engine backtest (``parameters`` = the strategy's params,
   ``meta.settings`` the engine settings, ``meta.inferred_from``), so ``workbench codegen ID`` can
   generate it, ``workbench metrics ID`` measure it.

Agreement is measured on the replay, never asserted; ``candidates`` shows the runners-up with theirs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from workbench.backtest import STRATEGIES, get_strategy, run
from workbench.backtest.settings import contract_for
from workbench.backtest.spec import Const, Cross, Diff, Ind, Smooth, StrategySpec
from workbench.errors import DataError, StrategyError, WorkbenchError
from workbench.infer.exits import classify_exits, estimate_stop, format_stop, signal_atr
from workbench.infer.learned import LEARNED_STRATEGY, learn_rules
from workbench.infer.search import Scorer, coarse_search, search_strategy
from workbench.infer.trades import Agreement, TradeBars, agreement, place

__all__ = ["InferResult", "infer", "infer_trades", "describe_rules", "choose_bars"]

Progress = Callable[[float, str], None]  # progress(fraction 0..1, what is being done)

_TF = {"m": "m", "h": "h", "d": "d", "w": "w"}


def _norm_tf(tf: str | None) -> str | None:
    """``h1``/``H1``/``1h`` -> ``1h``; ``m15`` -> ``15m``; ``d1`` -> ``1d``; ``mn1``/``1mo`` -> ``1mo``."""
    if not tf:
        return None
    t = tf.strip().lower()
    if t in ("mn", "mn1", "1mo", "mo1"):
        return "1mo"
    if t[:1] in _TF and t[1:].isdigit():
        return f"{int(t[1:])}{t[0]}"
    if t[-1:] in _TF and t[:-1].isdigit():
        return f"{int(t[:-1])}{t[-1]}"
    return t


def _base_symbol(symbol: str | None) -> str:
    """``EURUSD.r`` / ``eurusd-pro`` / ``EURUSDm`` -> ``EURUSD`` (six letters when it starts with a pair)."""
    s = "".join(ch for ch in (symbol or "").upper() if ch.isalnum())
    return s[:6] if len(s) > 6 and s[:6].isalpha() else s


@dataclass(frozen=True)
class InferResult:
    """What :func:`infer` found and how sure it is (``to_dict()``: the CLI's JSON)."""

    strategy: str
    params: dict[str, Any]
    settings: dict[str, Any]
    agreement: Agreement
    rules: list[str]
    candidates: list[dict[str, Any]]
    bars: str
    backtest_id: int | None
    source_backtest_id: int | None
    exits: dict[str, Any]
    exit_rows: list[dict[str, Any]]
    notes: list[str]
    learned: bool
    combinations: int
    seconds: float
    tolerance_bars: int
    real_trades: pl.DataFrame = field(repr=False, default_factory=pl.DataFrame)
    inferred_trades: pl.DataFrame = field(repr=False, default_factory=pl.DataFrame)
    bar_frame: pl.DataFrame = field(repr=False, default_factory=pl.DataFrame)

    def to_dict(self, *, exit_rows: bool = False) -> dict[str, Any]:
        out = {
            "strategy": self.strategy,
            "params": self.params,
            "settings": self.settings,
            "agreement": self.agreement.to_dict(),
            "rules": self.rules,
            "candidates": self.candidates,
            "bars": self.bars,
            "backtest_id": self.backtest_id,
            "source_backtest_id": self.source_backtest_id,
            "exits": self.exits,
            "learned": self.learned,
            "tolerance_bars": self.tolerance_bars,
            "combinations": self.combinations,
            "seconds": round(self.seconds, 3),
            "notes": self.notes,
        }
        if exit_rows:
            out["exit_rows"] = self.exit_rows
        return out


# -- readable rules ---------------------------------------------------------------------------------


def _line(x: Any) -> str:
    if isinstance(x, Ind):
        if x.name == "close":
            return "the close"
        if x.name == "highest":
            return f"the highest high of the previous {x.args[0]} bars"
        if x.name == "lowest":
            return f"the lowest low of the previous {x.args[0]} bars"
        if x.name == "zscore":
            return f"the z-score of the close over {x.args[0]} bars ((close - SMA) / std)"
        if x.name == "series":
            return f"the bars' {x.args[0]!r} column"
        return f"{x.name.upper()}({', '.join(str(a) for a in x.args)})"
    if isinstance(x, Diff):
        return f"{_line(x.left)} - {_line(x.right)}"
    if isinstance(x, Const):
        return f"{x.value:g}"
    if isinstance(x, Smooth):
        return f"its EMA({x.span})"
    return repr(x)


def _cross(c: Cross | None) -> str:
    if c is None:
        return "never"
    return f"{_line(c.a)} crosses {'above' if c.direction > 0 else 'below'} {_line(c.b)}"


def describe_rules(
    spec: StrategySpec, params: Mapping[str, Any], settings: Mapping[str, Any], time_bars: int | None = None
) -> list[str]:
    """The rules of ``spec`` with ``params`` and the engine ``settings`` as readable lines."""
    rules = spec.rules(**{p.name: params[p.name] for p in spec.params}).resolved()
    direction = settings.get("direction", "long")
    out = []
    names = ("long entry", "long exit", "short entry", "short exit")
    for name, cross in zip(names, rules, strict=True):
        if direction == "long" and name.startswith("short"):
            continue
        if direction == "short" and name.startswith("long"):
            continue
        out.append(f"{name}: {_cross(cross)} (at a bar's close, filled at the next open)")
    if direction == "both":
        out.append("an entry on the other side reverses the position")
    for key, what in (("stop_loss", "stop-loss"), ("take_profit", "take-profit")):
        value = settings.get(key)
        if value:
            out.append(f"{what} {value} from the entry fill{_unit_words(str(value))}")
    if time_bars:
        out.append(
            f"time exit after {time_bars} bars (seen in the real exits; the engine has no time exit, so "
            "the replay and the generated bot leave it out)"
        )
    return out


def _unit_words(v: str) -> str:
    if v.endswith("atr"):
        return " (x ATR(14) at the signal bar)"
    if v.endswith("%"):
        return " (% of the entry price)"
    return " (price distance)"


# -- bars ---------------------------------------------------------------------------------------------


def choose_bars(ws: Any, info: Mapping[str, Any], trades: pl.DataFrame, data: str | None):
    """``(key, bars, notes)``: the series ``data``, else the stored one of the backtest's symbol that
    covers most of its trades (its own timeframe first). DataError when none covers any trade."""
    notes: list[str] = []
    t0, t1 = trades["open_time"].min(), trades["close_time"].max()
    symbol = info.get("symbol") or (trades["symbol"].drop_nulls().mode().first() if trades.height else None)
    tf = _norm_tf(info.get("timeframe"))
    where = f"backtest {info.get('id')}"
    if data:
        bars = ws.bars(data)
        key = data
    else:
        series = ws.bar_series()
        want = _base_symbol(symbol)
        mine = (
            series.filter(pl.col("symbol").map_elements(_base_symbol, return_dtype=pl.Utf8) == want)
            if want
            else series.clear()
        )
        if t0 is not None:
            mine = mine.filter((pl.col("first") <= t1) & (pl.col("last") >= t0))
        if mine.height == 0:
            have = ", ".join(
                f"{s}:{t} {a:%Y-%m-%d}..{b:%Y-%m-%d}"
                for s, t, a, b in series.select("symbol", "timeframe", "first", "last").iter_rows()
            )
            raise DataError(
                f"no stored bars of {symbol or 'its symbol (not stated)'} cover its trades "
                f"({_span(t0, t1)}; stored: {have or 'none'}); ingest bars of that symbol and period "
                f"(`workbench ingest {want or 'SYMBOL'}_{tf or '1h'}.csv`) or name a series with --data SYMBOL:TF",
                file=where,
                where="bars",
            )
        mine = mine.with_columns(
            same=(pl.col("timeframe").map_elements(_norm_tf, return_dtype=pl.Utf8) == tf)
        )
        row = mine.sort(["same", "bars"], descending=True).row(0, named=True)
        key = f"{row['symbol']}:{row['timeframe']}"
        bars = ws.bars(key)
    if tf and _norm_tf(key.partition(":")[2]) != tf:
        notes.append(f"the backtest ran on {info.get('timeframe')} bars; inferred on {key}")
    if symbol and _base_symbol(key.partition(":")[0]) != _base_symbol(symbol):
        notes.append(f"the backtest traded {symbol}; inferred on {key} as asked")
    return key, bars, notes


def _span(a: Any, b: Any) -> str:
    if a is None:
        return "no trades"
    return f"trades {a:%Y-%m-%d %H:%M}..{b:%Y-%m-%d %H:%M}"


# -- the search -----------------------------------------------------------------------------------------


def _library(bars: pl.DataFrame, notes: list[str]) -> list[StrategySpec]:
    """The library strategies that can run on these bars (a model's strategy needs its columns)."""
    out = []
    probe = bars.head(min(bars.height, 64))
    for name in STRATEGIES.names():
        spec = get_strategy(name)
        try:
            from workbench.backtest import signals

            signals(probe, spec, spec.defaults())
        except WorkbenchError as exc:
            notes.append(f"{name} left out: {str(exc).split(';')[0]}")
            continue
        out.append(spec)
    return out


def _replay(
    bars: pl.DataFrame,
    spec: StrategySpec,
    params: Mapping[str, Any],
    settings: Mapping[str, Any],
    ts: np.ndarray,
):
    res = run(bars, spec, dict(params), **settings)
    return res, place(res.trades, ts)


def infer_trades(
    bars: pl.DataFrame,
    trades: pl.DataFrame,
    *,
    tol: int = 1,
    strategies: list[str] | None = None,
    min_f1: float = 0.6,
    cash: float = 10_000.0,
    progress: Progress | None = None,
    key: str = "",
    notes: list[str] | None = None,
) -> tuple[InferResult, Any]:
    """The search on plain frames (no store): ``trades`` (store or engine columns) against ``bars``.
    Returns the result (``backtest_id`` None) and the engine result of the answer's replay."""
    t_start = time.perf_counter()
    notes = list(notes or [])
    say = progress or (lambda f, s: None)
    if key and "symbol" not in bars.columns:  # the engine takes the contract (pip size) from it
        bars = bars.with_columns(pl.lit(key.partition(":")[0]).alias("symbol"))
    ts = bars["ts"].cast(pl.Datetime("us")).dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
    real = place(trades, ts)
    if real.n == 0:
        raise DataError(
            f"none of its {trades.height} trades falls inside the bars {key or ''} "
            f"({_span(bars['ts'].min(), bars['ts'].max())[7:]}); use bars that cover the trades",
            file="trades",
            where="bars",
        )
    if real.dropped:
        notes.append(
            f"{real.dropped} of {real.dropped + real.n} trades lie outside the bars and are left out"
        )
    sides = set(real.side.tolist())
    direction = "both" if sides == {1, -1} else ("short" if sides == {-1} else "long")
    specs = [get_strategy(s) for s in strategies] if strategies else _library(bars, notes)
    scorer = Scorer(bars, real, tol, direction)
    coarse = []
    for i, spec in enumerate(specs):
        say(0.05 + 0.3 * i / max(1, len(specs)), f"coarse grid of {spec.name}")
        try:
            coarse.append((spec, coarse_search(scorer, spec)))
        except StrategyError as exc:
            notes.append(f"{spec.name} left out: {exc}")
    # refine the strategies whose coarse best is within reach of the best one (at least the top 2)
    coarse.sort(key=lambda t: _top(t[1]), reverse=True)
    lead = _top(coarse[0][1])[0] if coarse else 0.0
    chosen = [t for i, t in enumerate(coarse) if i < 2 or _top(t[1])[0] >= 0.7 * lead]
    tables = []
    for i, (spec, table) in enumerate(chosen):
        say(0.35 + 0.3 * i / max(1, len(chosen)), f"refining {spec.name}")
        tables.append((spec, search_strategy(scorer, spec, coarse=table)))
    say(0.65, "replaying the best candidates")
    # the best few points of each strategy, best strategies first, replayed exactly
    pool = []
    for spec, table in tables:
        for row in table.head(2).iter_rows(named=True):
            pool.append((row["entry_f1"], row["exit_f1"], spec, {p.name: row[p.name] for p in spec.params}))
    pool.sort(key=lambda t: (t[0], t[1]), reverse=True)
    atr_ = signal_atr(*(bars[c].cast(pl.Float64).to_numpy() for c in ("high", "low", "close")))
    opens = bars["open"].cast(pl.Float64).to_numpy()
    contract = contract_for(key.partition(":")[0]) if key else None
    pip = getattr(contract, "pip_size", None) if contract else None
    base: dict[str, Any] = {"direction": direction, "cash": cash}
    spread = infer_spread(real, opens, pip)
    if spread is not None:
        base["spread"] = spread
    base.update(infer_costs(trades, lot=getattr(contract, "contract_size", None) if contract else None))
    replayed = []
    for _, _, spec, params in pool[:4]:
        res, cand = _replay(bars, spec, params, base, ts)
        ag, _ = agreement(real, cand, tol)
        replayed.append(
            {"spec": spec, "params": params, "settings": dict(base), "ag": ag, "res": res, "cand": cand}
        )
    replayed.sort(key=lambda r: r["ag"].score, reverse=True)
    # exits: classify against the best rules, infer and refine the stops for the top two
    say(0.8, "inferring the exits")
    time_bars = None
    for r in replayed[:2]:
        ex = classify_exits(real, r["cand"], atr_, tol, opens)
        r["exits"], r["classified_with"] = ex, dict(r["params"])
        _refine_stops(bars, real, r, ex, atr_, ts, tol, pip)
    replayed.sort(key=lambda r: r["ag"].score, reverse=True)
    if replayed:
        say(0.85, "polishing the best by exact replays")
        _polish(bars, real, replayed[0], ts, tol)
    best = replayed[0] if replayed else None
    learned = False
    rules_text: list[str] = []
    if best is None or best["ag"].entry_f1 < min_f1:
        say(0.9, "learning rules (no library strategy agrees well)")
        alt = _learned(bars, real, base, ts, tol, notes, atr_, pip)
        if alt is not None and (best is None or alt["ag"].score > best["ag"].score):
            best, learned = alt, True
            replayed.insert(0, alt)
        elif alt is not None:
            replayed.append(alt)
    if best is None:
        raise StrategyError("no strategy could be replayed on these bars")
    if learned:  # no rule of its own to tell signal exits apart
        ex = classify_exits(real, None, atr_, tol, opens)
    elif best.get("classified_with") == best["params"]:
        ex = best["exits"]
    else:  # the polish moved the parameters: classify against the final rule without stops
        plain = {k: v for k, v in best["settings"].items() if k not in ("stop_loss", "take_profit")}
        ex = classify_exits(real, _replay(bars, best["spec"], best["params"], plain, ts)[1], atr_, tol, opens)
    time_bars = ex.time_bars
    if learned:
        rules_text = [
            *best["rules"],
            *describe_rules(best["spec"], best["params"], best["settings"], time_bars)[-3:],
        ]
        rules_text = [r for r in rules_text if "crosses" not in r]
    else:
        rules_text = describe_rules(best["spec"], best["params"], best["settings"], time_bars)
    candidates = [
        {
            "strategy": r["spec"].name,
            "params": r["params"],
            "settings": {k: v for k, v in r["settings"].items() if k != "cash"},
            **{
                k: v
                for k, v in r["ag"].to_dict().items()
                if k in ("entry_f1", "exit_f1", "precision", "recall", "pnl_correlation")
            },
        }
        for r in replayed[:5]
    ]
    settings = {k: v for k, v in best["settings"].items() if k != "cash"}
    inferred = best["res"].to_trades(key.partition(":")[0])
    result = InferResult(
        strategy=best["spec"].name,
        params=dict(best["params"]),
        settings=settings,
        agreement=best["ag"],
        rules=rules_text,
        candidates=candidates,
        bars=key,
        backtest_id=None,
        source_backtest_id=None,
        exits=ex.summary(),
        exit_rows=ex.rows(),
        notes=notes,
        learned=learned,
        combinations=scorer.evaluated,
        seconds=time.perf_counter() - t_start,
        tolerance_bars=tol,
        real_trades=trades,
        inferred_trades=inferred,
        bar_frame=bars,
    )
    return result, best


def _steady(x: np.ndarray) -> float | None:
    """The median of ``x`` when its values agree (interquartile range within 2 % of it), else None."""
    x = x[np.isfinite(x)]
    if x.size < 3:
        return None
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return float(med) if med > 0 and (q3 - q1) <= 0.02 * med else None


def infer_costs(trades: pl.DataFrame, *, lot: float | None = None) -> dict[str, str]:
    """Commission and order size of the real trades, in the engine's settings syntax, when they are
    steady: commission per fill as a fraction of notional (``0.0002``), else per lot (``3.5/lot``, the
    volume in lots), else per order (``2.5/trade``); a constant volume as lots (``0.1lots``, with a known
    lot size and a volume under 1,000) or units. Neither moves entries or exits; they make the stored
    replay's money comparable with the bot's (``workbench metrics``)."""
    out: dict[str, str] = {}
    if "volume" not in trades.columns and "size" in trades.columns:  # the engine's own trades frame
        trades = trades.rename({"size": "volume"})
    if trades.height < 3 or not {"commission", "volume", "entry_price", "exit_price"} <= set(trades.columns):
        return out
    t = trades.filter(pl.col("volume").is_not_null() & (pl.col("volume") > 0))
    comm = t["commission"].cast(pl.Float64).fill_null(0.0).abs().to_numpy()
    vol = t["volume"].cast(pl.Float64).to_numpy()
    ep = t["entry_price"].cast(pl.Float64).to_numpy()
    xp = t["exit_price"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    lots = lot is not None and float(np.nanmax(vol)) < 1000
    if (comm > 0).mean() >= 0.9:
        frac = _steady(comm / (vol * (ep + xp)))
        per_lot = _steady(comm / vol / 2.0) if lots else None
        per_trade = _steady(comm / 2.0)
        if frac is not None and not lots:
            out["commission"] = f"{frac:.3g}"
        elif per_lot is not None:
            out["commission"] = f"{per_lot:.4g}/lot"
        elif per_trade is not None:
            out["commission"] = f"{per_trade:.4g}/trade"
        elif frac is not None:
            out["commission"] = f"{frac:.3g}"
    size = _steady(vol)
    if size is not None and float(np.nanmin(vol)) == float(np.nanmax(vol)):
        out["size"] = f"{size:g}lots" if lots else f"{size:g}"
    return out


def infer_spread(real: TradeBars, opens: np.ndarray, pip: float | None) -> str | None:
    """The spread a bot paid, when its entries are fills at a bar's open: longs above the open, shorts
    below it, by one consistent distance (interquartile range within 5 % of the median); ``"1.5pips"``
    with a known pip size, else a fraction of the price. None when entries are not at the open (e.g. a
    MetaTrader deal in the middle of the bar) or no spread shows. Stops are measured from the entry
    fill, so the spread moves when they are hit: a replay needs it to exit at the same bars."""
    if real.n < 3:
        return None
    d = real.side * (real.entry_price - opens[real.entry_bar])
    q1, med, q3 = np.percentile(d, [25, 50, 75])
    if not med > 0 or (q3 - q1) > 0.05 * med:
        return None
    if pip:
        return f"{round(med / pip, 2):g}pips"
    frac = float(np.median(d / opens[real.entry_bar]))
    return f"{frac:.3g}"


def _polish(bars, real: TradeBars, r: dict, ts, tol: int, rounds: int = 4) -> None:
    """Local search on exact replays with the inferred stops: the bulk scores walk the rules without
    stops, which blurs neighbours when stops cut trades short; one resolution step at a time."""
    from workbench.infer.space import neighbours

    spec = r["spec"]
    for _ in range(rounds):
        improved = False
        for row in neighbours(spec, r["params"], reach=1).iter_rows(named=True):
            params = {p.name: row[p.name] for p in spec.params}
            if params == r["params"]:
                continue
            try:
                res, cand = _replay(bars, spec, params, r["settings"], ts)
            except WorkbenchError:
                continue
            ag, _ = agreement(real, cand, tol)
            if ag.score > r["ag"].score:
                r.update(params=params, ag=ag, res=res, cand=cand)
                improved = True
        if not improved:
            return


def _top(table: pl.DataFrame) -> tuple[float, float]:
    if table.height == 0:
        return (0.0, 0.0)
    row = table.row(0, named=True)
    return (row["entry_f1"] or 0.0, row["exit_f1"] or 0.0)


def _refine_stops(bars, real: TradeBars, r: dict, ex, atr_, ts, tol: int, pip) -> None:
    """Try each stop estimate (and scaled neighbours) on the replay of ``r``; keep what improves it."""
    for which in ("stop_loss", "take_profit"):
        estimates = estimate_stop(real, ex, which, atr_)
        if not estimates:
            continue
        tried = []
        for rank, (unit, value, _) in enumerate(estimates[:2]):
            for f in (0.95, 1.0, 1.05) if rank == 0 else (1.0,):
                tried.append(format_stop(unit, value * f, pip))
        best_ag, best_v, best_res = r["ag"], None, None
        for v in dict.fromkeys(tried):
            settings = {**r["settings"], which: v}
            try:
                res, cand = _replay(bars, r["spec"], r["params"], settings, ts)
            except WorkbenchError:
                continue
            ag, _ = agreement(real, cand, tol)
            if ag.score > best_ag.score:
                best_ag, best_v, best_res = ag, v, (res, cand)
        if best_v is not None:
            r["settings"][which] = best_v
            r["ag"] = best_ag
            r["res"], r["cand"] = best_res


def _learned(bars, real: TradeBars, settings, ts, tol, notes, atr_, pip) -> dict | None:
    from workbench.backtest.indicators import INDICATORS

    try:
        INDICATORS.get("series")
    except WorkbenchError:
        notes.append("learned rules not replayed: this engine has no 'series' indicator")
        return None
    lr = learn_rules(bars, real)
    replay_bars = lr.bars(bars)
    params = {"depth": lr.depth}
    # the tree predicts entries only: exits are the opposite entry and stops, estimated here from every
    # real exit (no rule to tell signal exits apart), then refined by replaying like a library strategy's
    ex = classify_exits(real, None, atr_, tol)
    settings = dict(settings)
    for which in ("stop_loss", "take_profit"):
        est = estimate_stop(real, ex, which, atr_)
        if est and not settings.get(which):
            settings[which] = format_stop(est[0][0], est[0][1], pip)
    try:
        res, cand = _replay(replay_bars, LEARNED_STRATEGY, params, settings, ts)
    except WorkbenchError as exc:
        notes.append(f"learned rules not replayed: {exc}")
        return None
    ag, _ = agreement(real, cand, tol)
    r = {
        "spec": LEARNED_STRATEGY,
        "params": params,
        "settings": settings,
        "ag": ag,
        "res": res,
        "cand": cand,
        "rules": lr.rules or ["the tree predicts no entry anywhere"],
        "bars": replay_bars,
    }
    _refine_stops(replay_bars, real, r, ex, atr_, ts, tol, pip)
    return r


# -- the workspace entry point ------------------------------------------------------------------------


def infer(
    ws: Any,
    backtest_id: int,
    *,
    data: str | None = None,
    tol: int = 1,
    strategies: list[str] | None = None,
    min_f1: float = 0.6,
    shift_hours: float = 0.0,
    store: bool = True,
    progress: Progress | None = None,
) -> InferResult:
    """Infer the rules of stored backtest ``backtest_id`` (module docstring); ``data`` names the bars
    (``SYMBOL:TF``), ``tol`` the matching tolerance in bars, ``strategies`` limits the library,
    ``min_f1`` the entry F1 under which learned rules are tried; ``shift_hours`` is added to the trades'
    times before they are placed on the bars (a report on a broker's server clock, e.g. UTC+2, against
    UTC bars: ``-2``); ``store`` keeps the replay of the answer as a backtest (its id in
    ``backtest_id``)."""
    say = progress or (lambda f, s: None)
    say(0.0, "reading the backtest and its bars")
    bt = ws.backtest(backtest_id)
    trades = bt.trades
    if trades.height == 0:
        raise DataError("has no trades to infer rules from", file=f"backtest {backtest_id}", where="trades")
    shift_notes = []
    if shift_hours:
        us = int(round(float(shift_hours) * 3_600_000_000))
        trades = trades.with_columns(
            pl.col("open_time") + pl.duration(microseconds=us),
            pl.col("close_time") + pl.duration(microseconds=us),
        )
        shift_notes.append(f"trade times shifted by {shift_hours:+g} h before matching")
    info = {**bt.info, "id": backtest_id}
    key, bars, notes = choose_bars(ws, info, trades, data)
    notes = [*shift_notes, *notes]
    cash = float(bt.initial_balance or 10_000.0)
    result, best = infer_trades(
        bars,
        trades,
        tol=tol,
        strategies=strategies,
        min_f1=min_f1,
        cash=cash,
        progress=say,
        key=key,
        notes=notes,
    )
    bid = None
    if store:
        say(0.95, "storing the replay")
        bid = _store(ws, best, result, key, backtest_id)
    say(1.0, "done")
    return replace(result, backtest_id=bid, source_backtest_id=int(backtest_id))


def _store(ws: Any, best: dict, result: InferResult, key: str, source_id: int) -> int:
    from workbench.backtest.store import store_backtest

    res = best["res"]
    symbol, _, tf = key.partition(":")
    shown = " ".join(f"{k}={v}" for k, v in res.params.items())
    with ws.store.transaction() as con:
        return store_backtest(
            con,
            res,
            name=f"inferred {res.strategy} {shown} {key} (from backtest {source_id})",
            symbol=symbol,
            timeframe=tf,
            meta={"inferred_from": source_id, "agreement": result.agreement.to_dict(), "rules": result.rules},
            source=f"infer:{res.strategy}",
        )
