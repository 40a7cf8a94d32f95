"""Paper-trading benchmark: replay throughput and decision latency, with the engine's run() as the peer.

    python benchmarks/paper.py                   # 200,000 synthetic hourly bars, 3 runs (a few minutes)
    python benchmarks/paper.py --bars 1000000 --runs 3

Cases (sma_cross 10/30, direction both, commission 0.0002, stop-loss 1 %, slippage 1 pip, with risk
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

SETTINGS = {"direction": "both", "commission": "0.0002", "stop_loss": "1%", "slippage": "1pips"}
RISK = {"max_position": 1.5, "max_gross_exposure": 2.0, "daily_loss_pct": 5.0, "halt_drawdown_pct": 90.0}
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
        broker.process(hist, start, hist.n, policy.decide, nan, lambda s, j: nan[j])
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
    args = ap.parse_args()

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
    lat = np.array(s.latencies) * 1e3
    print(f"\nDecision latency, bar arrival -> order: {args.latency_bars} bars one per step after {args.history:,} "
          f"bars of history (signals on all bars seen + bar loop + risk check)")  # fmt: skip
    print(f"{'policy':16} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'step incl. commit ms':>22}")
    print(f"{'sma_cross':16} {np.percentile(lat, 50):8.3f} {np.percentile(lat, 99):8.3f} {lat.max():8.3f} "
          f"{wall / args.latency_bars * 1e3:22.1f}")  # fmt: skip
    print("tree model (ML `model` strategy): n/a - not landed when this ran")


if __name__ == "__main__":
    main()
