"""Paper-trading benchmark: replay throughput and decision latency, with the engine's run() as the peer.

    python benchmarks/paper.py                   # 200,000 synthetic hourly bars, 3 runs (a few minutes)
    python benchmarks/paper.py --bars 1000000 --runs 3
    python benchmarks/paper.py --learners       # river / PPO vs buy-and-hold and the best library strategy

Cases (sma_cross 10/30, direction both, commission 0.2 bp, stop-loss 1 %, slippage 0.1 pip, with risk
checks on every entry: max_position 1, max_gross_exposure 2, daily_loss_pct 5, cool-down 3 losses /
24 bars, halt at 50 % drawdown - limits that are checked but rarely bind):

* **decide only**: the session's decision path without the store: the policy's signals on the bars
  seen (recomputed per step of 65,536 bars, as a max-speed replay does), the simulated broker's bar
  loop (fills, stops, risk checks, marking). Bars per second.
* **session, durable**: ``start_session(...).run()`` at ``speed="max"``: the above plus one DuckDB
  transaction per step (bars, orders, fills, trades, equity per bar, state). Bars per second.
* **peer**: ``workbench.backtest.run()`` on the same bars and settings (the fused Numba kernel, no risk
  manager, no store), bars per second; and whether the session's trades are identical to it.
* **decision latency**: a session that has seen ``--history`` bars takes ``--latency-bars`` more, one bar
  per step (a live feed): the time from a bar's arrival to the order (signals on all bars seen + the
  bar loop), p50 / p99 / max. The durable commit comes after the order and is timed apart.

Medians of ``--runs`` runs, timed in one process on the same machine load. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import polars as pl

SETTINGS = {"direction": "both", "commission": "0.00002", "stop_loss": "1%", "slippage": "0.1pips"}
RISK = {"max_position": 1.5, "max_gross_exposure": 2.0, "daily_loss_pct": 20.0, "halt_drawdown_pct": 99.0}
PARAMS = {"fast": 10, "slow": 30}


def synthetic(n: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 1.1 * np.exp(np.cumsum(rng.normal(0, 0.0015, n)))
    openp = np.concatenate([[close[0]], close[:-1]]) * (1 + rng.normal(0, 0.0002, n))
    high = np.maximum(openp, close) * (1 + np.abs(rng.normal(0, 0.0008, n)))
    low = np.minimum(openp, close) * (1 - np.abs(rng.normal(0, 0.0008, n)))
    ts = pl.datetime_range(pl.datetime(2000, 1, 3), pl.datetime(2000, 1, 3) + pl.duration(hours=n - 1), "1h",
                           eager=True)  # fmt: skip
    return pl.DataFrame(
        {"ts": ts, "open": openp, "high": high, "low": low, "close": close, "volume": np.ones(n)}
    )


def decide_only(bars: pl.DataFrame, step: int = 65_536) -> float:
    from workbench.backtest import EngineSettings
    from workbench.paper import History, SimBroker, StrategyPolicy
    from workbench.paper._feeds import bars_to_tuples
    from workbench.risk import RiskConfig, RiskManager

    rows = bars_to_tuples(bars)
    settings = EngineSettings.build(symbol="EURUSD", **SETTINGS)
    t0 = time.perf_counter()
    hist = History()
    policy = StrategyPolicy("sma_cross", PARAMS, "both")
    broker = SimBroker(settings, RiskManager(RiskConfig(**RISK)), "EURUSD")
    nan = [float("nan")] * len(rows)
    for k in range(0, len(rows), step):
        start = hist.n
        hist.extend(rows[k : k + step])
        policy.prepare(hist, start, hist.n)
        broker.process(hist, start, hist.n, policy.decide, nan, lambda s, j: nan[j], None, policy.quiet)
        broker.drain()
    return time.perf_counter() - t0


def store_bars(ws, bars: pl.DataFrame, symbol: str, timeframe: str = "1h") -> None:
    from workbench.ingest.load import write_bars

    frame = bars.with_columns(symbol=pl.lit(symbol), timeframe=pl.lit(timeframe))
    with ws.store.transaction() as con:
        write_bars(con, frame.select("symbol", "timeframe", "ts", "open", "high", "low", "close", "volume"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bars", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--history", type=int, default=5_000)
    ap.add_argument("--latency-bars", type=int, default=300)
    ap.add_argument("--learners", action="store_true", help="only the learners vs buy-and-hold table")
    args = ap.parse_args()
    if args.learners:
        learners()
        return

    from workbench.backtest import run
    from workbench.paper import PaperConfig, ReplayFeed, resume, start_session
    from workbench.workspace import open_workspace

    bars = synthetic(args.bars)
    home = tempfile.mkdtemp(prefix="wb-paper-bench-")
    ws = open_workspace(os.path.join(home, "lake"))
    store_bars(ws, bars, "EURUSD")
    run(bars.head(1000), "sma_cross", PARAMS, contract="EURUSD", **SETTINGS)  # compile / load the kernels
    decide_only(bars.head(2000))

    times: dict[str, list[float]] = {"decide only": [], "session, durable": [], "peer: backtest.run()": []}
    identical = []
    for r in range(args.runs):
        times["decide only"].append(decide_only(bars))
        t0 = time.perf_counter()
        bt = run(bars, "sma_cross", PARAMS, contract="EURUSD", **SETTINGS)
        times["peer: backtest.run()"].append(time.perf_counter() - t0)
        s = start_session(ws, PaperConfig(data="EURUSD:1h", strategy="sma_cross", params=PARAMS, settings=SETTINGS,
                                          risk=RISK, name=f"bench{r}", step_bars=65_536))  # fmt: skip
        t0 = time.perf_counter()
        s.run()
        times["session, durable"].append(time.perf_counter() - t0)
        keys = [
            "direction",
            "entry_bar",
            "exit_bar",
            "size",
            "entry_price",
            "exit_price",
            "pnl",
            "exit_reason",
        ]
        identical.append(s.trades_frame().select(keys).equals(bt.trades.select(keys)))
        trades = bt.trades.height

    print(f"\nReplay throughput: {args.bars:,} hourly bars, sma_cross 10/30 both ways, costs + 1% stop, "
          f"risk checks on every entry ({trades:,} trades); median of {args.runs}")  # fmt: skip
    print(f"{'path':28} {'seconds':>9} {'bars/s':>12}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:28} {med:9.3f} {args.bars / med:12,.0f}")
    print(f"session trades identical to backtest.run(): {all(identical)}")

    # decision latency: one bar per step after a history
    lat_bars = bars.head(args.history + args.latency_bars)
    store_bars(ws, lat_bars, "EURUSD", "lat")
    s = start_session(ws, PaperConfig(data="EURUSD:lat", strategy="sma_cross", params=PARAMS, settings=SETTINGS,
                                      risk=RISK, name="latency"))  # fmt: skip
    s.run(max_bars=args.history)
    s = resume(ws, "latency")
    s.latencies.clear()
    commits: list[float] = []
    s.listeners.append(lambda ev, d: commits.append(time.perf_counter()) if ev == "step" else None)
    feed = ReplayFeed(ws.bars("EURUSD:lat"), start=args.history, speed="max", step=1)
    t0 = time.perf_counter()
    s.run(feed=feed)
    wall = time.perf_counter() - t0
    rows = [("sma_cross", np.array(s.latencies) * 1e3, wall / args.latency_bars * 1e3)]
    model = tree_model(ws, lat_bars.head(args.history))
    if model:
        m = start_session(ws, PaperConfig(data="EURUSD:lat", model=model, params={"upper": 0.52, "lower": 0.48},
                                          settings=SETTINGS, risk=RISK, name="latency-model"))  # fmt: skip
        m.run(max_bars=args.history)
        m = resume(ws, "latency-model")
        m.latencies.clear()
        feed = ReplayFeed(ws.bars("EURUSD:lat"), start=args.history, speed="max", step=1)
        t0 = time.perf_counter()
        m.run(feed=feed)
        rows.append(
            (
                f"{model} (LightGBM)",
                np.array(m.latencies) * 1e3,
                (time.perf_counter() - t0) / args.latency_bars * 1e3,
            )
        )
    print(f"\nDecision latency, bar arrival -> order: {args.latency_bars} bars one per step after {args.history:,} "
          f"bars of history (strategy: indicators on all bars seen + bar loop + risk check; model: its features "
          f"on all bars seen + predict + the same)")  # fmt: skip
    print(f"{'policy':28} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'step incl. commit ms':>22}")
    for name, lat, step in rows:
        print(
            f"{name:28} {np.percentile(lat, 50):8.3f} {np.percentile(lat, 99):8.3f} {lat.max():8.3f} {step:22.1f}"
        )


LEARNER_SETTINGS = {"direction": "both", "commission": "0.0002"}
LEARNER_GRIDS = {
    "sma_cross": {"fast": list(range(5, 51, 5)), "slow": list(range(20, 201, 20))},
    "ema_cross": {"fast": list(range(5, 51, 5)), "slow": list(range(20, 201, 20))},
    "macd": {"fast": [8, 12, 16], "slow": [21, 26, 35], "signal": [5, 9, 12]},
    "rsi_reversion": {"window": [7, 14, 21], "lower": [20.0, 30.0], "upper": [70.0, 80.0]},
    "bollinger_breakout": {"window": [10, 20, 40], "k": [1.5, 2.0, 2.5]},
    "donchian_breakout": {"entry": [10, 20, 55], "exit": [5, 10]},
}


def learners() -> None:
    """The online learners on the sample bars against buy-and-hold and the best library strategy (the
    table in docs/paper.md)."""
    from workbench.backtest import sweep
    from workbench.paper import PaperConfig, start_session
    from workbench.workspace import open_workspace

    ws = open_workspace(os.path.join(tempfile.mkdtemp(prefix="wb-paper-learners-"), "lake"))
    ws.load_samples()
    print(f"{'series':10} {'buy&hold %':>10} {'best library (in-sample)':>36} {'river %':>9} {'trades':>6} "
          f"{'ppo %':>8} {'trades':>6}")  # fmt: skip
    for data in ("EURUSD:1h", "GOOG:1d"):
        bars = ws.bars(data)
        symbol = data.split(":")[0]
        best = max(
            ((name, sweep(bars, name, grid, contract=symbol, **LEARNER_SETTINGS).sort("total_return_pct").row(-1, named=True))
             for name, grid in LEARNER_GRIDS.items()),
            key=lambda x: x[1]["total_return_pct"],
        )  # fmt: skip
        out = {}
        for policy in ("river", "ppo"):
            s = start_session(ws, PaperConfig(data=data, policy=policy, settings=LEARNER_SETTINGS))
            r = s.run()
            out[policy] = ((r["final_equity"] / 10_000 - 1) * 100, len(r["trades"]))
        bh = (bars["close"][-1] / bars["open"][0] - 1) * 100
        label = f"{best[0]} {best[1]['total_return_pct']:+.1f}"
        print(f"{data:10} {bh:10.1f} {label:>36} {out['river'][0]:9.1f} {out['river'][1]:6d} {out['ppo'][0]:8.1f} "
              f"{out['ppo'][1]:6d}")  # fmt: skip


def tree_model(ws, bars: pl.DataFrame) -> str | None:
    """A LightGBM model trained on the history bars and registered in the benchmark's workspace."""
    try:
        from workbench.ml import registry, train
    except ImportError:
        return None
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    result = train(
        bars, model="lightgbm", label="fixed_horizon:horizon=4", cv="purged", importance=False, seed=1
    )
    registry.register(result, "bench_lgbm", ws=ws, data="EURUSD:lat")
    return "bench_lgbm"


if __name__ == "__main__":
    main()
