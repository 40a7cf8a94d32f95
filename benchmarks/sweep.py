"""Sweep benchmark: the fused Numba sweep next to vectorbt, backtesting.py and backtrader, in one run.

    python benchmarks/sweep.py                      # the full table (a few minutes on 2 cores)
    python benchmarks/sweep.py --runs 3 --bt 20 --backtrader 2 --scale-bars 200000   # quicker
    python benchmarks/sweep.py --workbench-only --runs 31    # the warm workbench sweep alone (seconds)

Case: long-only SMA crossover on backtesting.py's 5 000 hourly EURUSD bars, grid fast 5..50, slow
10..200 step 5, fast < slow (1 605 combinations), 10 000 cash, no costs.

* workbench: ``sweep()`` (all metrics, next-open fills), timed between the backtesting.py runs (all
  threads, then one thread) so both see the same machine load; the median. A repeated sweep finds the
  bars' preparation and indicator rows kept from the previous call on the same bars (as an optimiser's
  trials do); a row "bars not kept" empties that cache before each call (unseen bars). The combinations are
  spread over Numba's threads in small chunks (same frame as one thread: tests/unit/backtest/
  test_parallel.py). Compile time is reported apart: the first call in a fresh process with an empty
  Numba cache (compiles), the first call in a fresh process with that cache filled (with
  ``WORKBENCH_WARM_UP=0``: the load on the first call; and by default: the kernels loading in the
  background since ``import workbench.backtest``, while the bars are read), and a warm call.
* vectorbt: ``MA.run_combs`` -> ``ma_crossed_above/below`` -> ``Portfolio.from_signals`` (close fills)
  -> total return, Sharpe, max drawdown, trades, win rate, profit factor; median of warm runs.
* backtesting.py and backtrader: one ``Backtest.run()`` / ``Cerebro.run()`` per combination, timed on
  a random **subset** of combinations and **extrapolated** linearly to 1 605 (said in the table).
* scaling: a 1 000 000-bar random walk x 1 000 combinations streamed with ``iter_sweep`` in a
  subprocess of its own, so its peak RSS (``ru_maxrss``) is its own.

Not a test: nothing here asserts a time. Timings on a shared machine are noisy; medians help.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAST = list(range(5, 51))
SLOW = list(range(10, 201, 5))
PAIRS = [(f, s) for f in FAST for s in SLOW if f < s]
CASH = 10_000


def rss_mib() -> float:
    """Peak RSS of this process (``ru_maxrss``; on Linux a child inherits its parent's peak at fork,
    so the scaling child is started while the parent is still small)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hwm_mib() -> float:
    """Peak RSS of this process image from /proc (VmHWM: reset at exec); NaN where unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def eurusd():
    from backtesting.test import EURUSD

    return EURUSD


def median_time(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


# -- engines ---------------------------------------------------------------------------------------------


def workbench_sweep():
    from workbench.backtest import bars_from_pandas, sweep

    bars = bars_from_pandas(eurusd())
    grid = {"fast": FAST, "slow": SLOW}
    return lambda: sweep(bars, "sma_cross", grid, cash=CASH)


def vectorbt_sweep():
    import numpy as np
    import vectorbt as vbt

    close = eurusd().Close
    windows = sorted(set(FAST) | set(SLOW))
    wanted = set(PAIRS)

    def go():
        fast, slow = vbt.MA.run_combs(close, window=windows, r=2, short_names=["fast", "slow"])
        entries = fast.ma_crossed_above(slow)
        exits = fast.ma_crossed_below(slow)
        keep = np.array([(f, s) in wanted for f, s in entries.columns])
        pf = vbt.Portfolio.from_signals(
            close, entries.loc[:, keep], exits.loc[:, keep], init_cash=CASH, freq="1h"
        )
        return {
            "total_return": pf.total_return(),
            "sharpe": pf.sharpe_ratio(),
            "max_drawdown": pf.max_drawdown(),
            "trades": pf.trades.count(),
            "win_rate": pf.trades.win_rate(),
            "profit_factor": pf.trades.profit_factor(),
        }

    return go


def backtesting_one(f: int, s: int):
    import backtesting.backtesting as core
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    core._tqdm = lambda seq, **_: seq  # no progress bar (it would only slow backtesting.py down)

    class SmaCross(Strategy):
        def init(self):
            self.a = self.I(SMA, self.data.Close, f)
            self.b = self.I(SMA, self.data.Close, s)

        def next(self):
            if crossover(self.a, self.b):
                self.buy()
            elif crossover(self.b, self.a):
                self.position.close()

    df = eurusd()
    return lambda: Backtest(df, SmaCross, cash=CASH).run()


def backtrader_one(f: int, s: int):
    import backtrader as bt

    df = eurusd()

    class SmaCross(bt.Strategy):
        def __init__(self):
            self.cross = bt.ind.CrossOver(bt.ind.SMA(period=f), bt.ind.SMA(period=s))

        def next(self):
            if self.cross > 0 and not self.position:
                self.order_target_percent(target=0.99)
            elif self.cross < 0 and self.position:
                self.close()

    def go():
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.adddata(bt.feeds.PandasData(dataname=df))
        cerebro.addstrategy(SmaCross)
        cerebro.broker.setcash(CASH)
        cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
        return cerebro.run()[0]

    return go


# -- subprocess cases ------------------------------------------------------------------------------------


def child_first_call() -> dict:
    """Time of the first sweep in this (fresh) process: import + JIT compile or cache load. Importing
    ``workbench.backtest`` starts loading the kernels in the background (``warm_up``) unless
    ``WORKBENCH_WARM_UP=0``, so they load while the bars are read."""
    t0 = time.perf_counter()
    import workbench.backtest as wb

    bars = wb.bars_from_pandas(eurusd())
    t1 = time.perf_counter()
    wb.sweep(bars, "sma_cross", {"fast": FAST, "slow": SLOW}, cash=CASH)
    t2 = time.perf_counter()
    wb.sweep(bars, "sma_cross", {"fast": FAST, "slow": SLOW}, cash=CASH)
    t3 = time.perf_counter()
    return {"import_s": t1 - t0, "first_call_s": t2 - t1, "second_call_s": t3 - t2}


def child_scale(n_bars: int, runs: int, chunk: int) -> dict:
    """1M-bar random walk x 1 000 SMA pairs streamed with iter_sweep; peak RSS of this process."""
    import numpy as np
    import polars as pl

    from workbench.backtest import iter_sweep

    rng = np.random.default_rng(1)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n_bars)))
    spread = np.abs(rng.normal(0, 0.001, n_bars)) * close
    open_ = np.concatenate([[close[0]], close[:-1]])
    bars = pl.DataFrame(
        {
            "ts": pl.datetime_range(
                pl.datetime(2000, 1, 1),
                pl.datetime(2000, 1, 1) + pl.duration(hours=n_bars - 1),
                "1h",
                eager=True,
            ),
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": np.ones(n_bars),
        }
    )
    grid = {"fast": list(range(5, 55, 5)), "slow": list(range(60, 560, 5))}  # 10 x 100 = 1 000 pairs
    base_rss = rss_mib()
    times, rows = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        rows = 0
        best = -np.inf
        for chunk_frame in iter_sweep(bars, "sma_cross", grid, cash=CASH, chunk_size=chunk):
            rows += chunk_frame.height  # a real caller would append the chunk to the store here
            best = max(best, chunk_frame["total_return_pct"].max())
        times.append(time.perf_counter() - t)
    return {
        "bars": n_bars,
        "combos": rows,
        "seconds": statistics.median(times),
        "runs": runs,
        "peak_rss_mib": rss_mib(),
        "vm_hwm_mib": hwm_mib(),
        "rss_before_sweep_mib": base_rss,
    }


def run_child(args: list[str], env: dict | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- main ------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="timed runs per vectorised engine (median)")
    ap.add_argument("--bt", type=int, default=40, help="backtesting.py: combinations timed (subset)")
    ap.add_argument("--backtrader", type=int, default=4, help="backtrader: combinations timed (subset)")
    ap.add_argument("--scale-bars", type=int, default=1_000_000)
    ap.add_argument("--scale-runs", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=250, help="iter_sweep chunk size of the scaling row")
    ap.add_argument(
        "--workbench-only",
        action="store_true",
        help="time the warm workbench sweep alone (no peers, no scaling)",
    )
    ap.add_argument("--child", choices=["first-call", "scale"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")

    if args.child == "first-call":
        print(json.dumps(child_first_call()))
        return
    if args.child == "scale":
        print(json.dumps(child_scale(args.scale_bars, args.scale_runs, args.chunk)))
        return

    n_bars, n_combos = len(eurusd()), len(PAIRS)
    print(f"SMA crossover, long only: {n_bars} hourly EURUSD bars x {n_combos} combinations", flush=True)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}\n")
    if args.workbench_only:
        wb = workbench_sweep()
        wb()  # warm (cache load)
        times = [median_time(wb, 1)[0] for _ in range(max(1, args.runs))]
        t = statistics.median(times)
        print(f"| workbench sweep, warm | median {t:.4f} s (min {min(times):.4f} s) of {len(times)} | "
              f"{n_combos / t:,.0f} combos/s | {n_combos * n_bars / t:,.0f} bar x combos/s |")  # fmt: skip
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        return

    # the scaling child first, while this process is small (its ru_maxrss starts from ours)
    scale = run_child(
        ["--child", "scale", "--scale-bars", str(args.scale_bars), "--scale-runs", str(args.scale_runs),
         "--chunk", str(args.chunk)]
    )  # fmt: skip
    # compile time: fresh processes with an empty, then a filled Numba cache
    with tempfile.TemporaryDirectory() as cache:
        cold = run_child(["--child", "first-call"], {"NUMBA_CACHE_DIR": cache, "WORKBENCH_WARM_UP": "0"})
        cached_runs, warm_runs = [], []
        for _ in range(3):  # fresh processes, alternating: medians
            cached_runs.append(
                run_child(["--child", "first-call"], {"NUMBA_CACHE_DIR": cache, "WORKBENCH_WARM_UP": "0"})
            )
            warm_runs.append(run_child(["--child", "first-call"], {"NUMBA_CACHE_DIR": cache}))
        cached = {k: statistics.median(r[k] for r in cached_runs) for k in cached_runs[0]}
        warmed = {k: statistics.median(r[k] for r in warm_runs) for k in warm_runs[0]}

    rows = []  # (engine, seconds for all combos, note)
    import numba

    wb = workbench_sweep()
    wb()  # warm (cache load)
    table = wb()
    wb_trades = table.filter(fast=10, slow=50)["trades"][0]

    # backtesting.py per combination, interleaved with workbench sweeps (all threads, then one thread) so
    # that both see the same machine load over the same minutes (the ratio is what matters)
    rnd = random.Random(0)
    subset = rnd.sample(PAIRS, min(args.bt, n_combos))
    per, wb_all, wb_one, wb_new = [], [], [], []
    threads = numba.get_num_threads()
    from workbench.backtest import engine as wb_engine

    def wb_new_bars():  # nothing kept: bars prepared and indicator rows computed, as on unseen bars
        with wb_engine._kept_lock:
            wb_engine._kept.clear()
            wb_engine._GRIDS.clear()
        return wb()

    for f, s in subset:
        per.append(median_time(backtesting_one(f, s), 1)[0])
        wb_all.append(median_time(wb, 1)[0])
        wb_new.append(median_time(wb_new_bars, 1)[0])
        numba.set_num_threads(1)
        wb_one.append(median_time(wb, 1)[0])
        numba.set_num_threads(threads)
    extra, _ = median_time(wb, max(0, args.runs))  # a few back-to-back runs as well
    t_wb = statistics.median(wb_all + ([extra] if args.runs else []))
    t_wb1 = statistics.median(wb_one)
    bt_stats = backtesting_one(10, 50)()
    t_bt = statistics.median(per) * n_combos
    rows.append(
        (
            f"workbench sweep (fused Numba, {threads} threads)",
            t_wb,
            f"median of {len(wb_all) + 1}, interleaved with backtesting.py; next-open fills, all metrics; "
            "the bars' preparation and indicator rows kept from the previous call on the same bars",
        )
    )
    rows.append(
        (
            f"workbench sweep, bars not kept ({threads} threads)",
            statistics.median(wb_new),
            f"median of {len(wb_new)}, interleaved; each call prepares the bars and computes its indicators",
        )
    )
    rows.append(("workbench sweep (1 thread)", t_wb1, f"median of {len(wb_one)}, interleaved"))

    vb = vectorbt_sweep()
    vb()  # vectorbt compiles its own kernels on first use
    t_vb, stats = median_time(vb, max(1, min(args.runs, 3)))
    rows.append(
        (
            "vectorbt (run_combs -> from_signals -> stats)",
            t_vb,
            f"median of {max(1, min(args.runs, 3))}; close fills",
        )
    )
    vb_trades = int(stats["trades"][(10, 50)])
    rows.append(
        ("backtesting.py 0.6.6", t_bt, f"subset of {len(subset)}, median per combo, extrapolated x{n_combos}")
    )

    subset_bt = rnd.sample(PAIRS, min(args.backtrader, n_combos))
    per = []
    for f, s in subset_bt:
        t, _ = median_time(backtrader_one(f, s), 1)
        per.append(t)
    strat = backtrader_one(10, 50)()
    btr_trades = strat.analyzers.trades.get_analysis().get("total", {}).get("closed", 0)
    t_btr = statistics.median(per) * n_combos
    rows.append(
        ("backtrader", t_btr, f"subset of {len(subset_bt)}, median per combo, extrapolated x{n_combos}")
    )

    print("| engine | time for 1 605 combos | combos/s | bar x combos/s | speed vs backtesting.py | how |")
    print("|---|---:|---:|---:|---:|---|")
    for name, secs, note in rows:
        cps = n_combos / secs
        print(f"| {name} | {secs:.3f} s | {cps:,.0f} | {cps * n_bars:,.0f} | {t_bt / secs:,.1f}x | {note} |")

    cps = scale["combos"] / scale["seconds"]
    print(
        f"| workbench iter_sweep, {scale['bars']:,} random-walk bars | {scale['seconds']:.2f} s "
        f"({scale['combos']:,} combos) | {cps:,.0f} | {cps * scale['bars']:,.0f} | - | "
        f"median of {scale['runs']}, chunks of {args.chunk}; peak RSS {scale['peak_rss_mib']:,.0f} MiB "
        f"(VmHWM {scale['vm_hwm_mib']:,.0f} MiB; before sweeping {scale['rss_before_sweep_mib']:,.0f} MiB) |"
    )

    print("\n| compile / first call (workbench) | seconds |")
    print("|---|---:|")
    print(f"| import workbench.backtest + bars (fresh process) | {cold['import_s']:.2f} |")
    print(f"| first sweep, empty Numba cache (JIT compile) | {cold['first_call_s']:.2f} |")
    print(f"| first sweep, Numba cache on disk, WORKBENCH_WARM_UP=0 (fresh process, median of 3) | "
          f"{cached['first_call_s']:.2f} |")  # fmt: skip
    print(f"| first sweep, Numba cache on disk, kernels loading since the import (default; median of 3) | "
          f"{warmed['first_call_s']:.2f} |")  # fmt: skip
    print(f"| warm sweep, same process (median above) | {t_wb:.3f} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")

    print("\nsanity, (10, 50) trades: workbench", wb_trades, "| backtesting.py", bt_stats["# Trades"],
          "| vectorbt", vb_trades, "(counts the open one; close fills) | backtrader", btr_trades)  # fmt: skip
    print(f"peak RSS of this process: {rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
