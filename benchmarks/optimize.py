"""Ray Tune grid benchmark: the chunked grid of ``run_optimize`` on one node and on two nodes.

    python benchmarks/optimize.py                          # 1M bars, median of 3 (several minutes)
    python benchmarks/optimize.py --bars 200000 --runs 1   # quicker
    python benchmarks/optimize.py --no-pin                 # nodes not pinned to CPUs

Case: long-only SMA crossover, grid fast 5..50, slow 10..200 step 5, fast < slow (1 605 combinations),
on an hourly random walk (as ``benchmarks/sweep.py`` builds its scaling series), ``run_optimize(algo=
"grid")`` (with the CSCV block moments and the overfitting checks, as always) against

* (a) a one-node loopback cluster: ``ray start --head --num-cpus=1``;
* (b) a head plus one worker node, ``--num-cpus=1`` each (4 × 2 = 8 chunks).

**Pinned nodes.** Where ``taskset`` exists and the machine has two CPUs, every node runs on a CPU of
its own (the head on CPU 0, the worker on CPU 1: the node's raylet, agents and trial workers), so (b)
is two one-core machines and (a) one of them; the driver (this process) is not pinned, as it would run
on a machine of its own. The runs alternate (a, b, a, b, ...) so both see the same drift of a shared
machine's load, and both clusters stay up meanwhile (an idle node costs well under 1 % of a core).

**Ceiling.** The same grid, split in two halves (as the chunks cut it), evaluated by
``workbench.tune.evaluate`` (= ``sweep``) in plain processes, no Ray: one process on CPU 0 doing both
halves, then two processes at once on CPU 0 and CPU 1, one half each (alternating, median of
``--runs``). Their ratio is what two cores of this machine give this kernel (memory bandwidth and cache shared; other users' load), the bound the
Ray ratio can approach.

**Driver.** From the progress callback: the time to the first trial result (Tune start, the trial
workers' cold start, the first chunk), the time after the last result (ranking, overfitting checks,
storing), and the driver's CPU seconds. The cluster processes use tests/integration's start-up
(retries, raised Ray timeouts, ``ray_env``: no RFC 3987 grammar build in every Ray process).

Not a test: nothing here asserts a time. Timings on a shared machine are noisy; the load average is
printed with the table.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRID = {"fast": list(range(5, 51)), "slow": list(range(10, 201, 5))}


def random_walk(n_bars: int):
    """The series of benchmarks/sweep.py's scaling case, with a symbol and timeframe."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(1)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n_bars)))
    spread = np.abs(rng.normal(0, 0.001, n_bars)) * close
    open_ = np.concatenate([[close[0]], close[:-1]])
    start = pl.datetime(2000, 1, 1)
    return pl.DataFrame(
        {
            "symbol": ["SYN"] * n_bars,
            "timeframe": ["1h"] * n_bars,
            "ts": pl.datetime_range(start, start + pl.duration(hours=n_bars - 1), "1h", eager=True),
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": np.ones(n_bars),
        }
    )


def cluster_helpers():
    """tests/integration/test_ray_cluster.py: the loopback cluster the tests use."""
    spec = importlib.util.spec_from_file_location(
        "_wb_ray_cluster", ROOT / "tests/integration/test_ray_cluster.py"
    )
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


# -- ceiling: the kernel alone on one core and on two ------------------------------------------------


def child_half(n_bars: int, half: int) -> dict:
    """In a fresh process (pinned by the parent): evaluate half ``half`` (0, 1; 2 = both) of the grid."""
    from workbench.backtest import get_strategy
    from workbench.backtest.engine import _grid_frame
    from workbench.optimize.overfit import cscv_blocks
    from workbench.optimize.tune import evaluate

    bars = random_walk(n_bars).select("ts", "open", "high", "low", "close", "volume")
    combos = _grid_frame(get_strategy("sma_cross"), GRID)
    mid = combos.height // 2
    part = {0: combos.slice(0, mid), 1: combos.slice(mid), 2: combos}[half]
    blocks = cscv_blocks(bars)
    evaluate(bars.head(1000), "sma_cross", part.head(2), blocks=blocks)  # Numba cache loaded, warm
    t = time.perf_counter()
    evaluate(bars, "sma_cross", part, blocks=blocks)
    return {"seconds": time.perf_counter() - t, "combinations": part.height}


def ceiling(n_bars: int, pin: bool, runs: int) -> tuple[float, float]:
    """(one process, both halves; two processes at once, one half each): median seconds over ``runs``
    alternating repetitions."""
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}

    def start(half: int, cpu: str) -> subprocess.Popen:
        cmd = [sys.executable, __file__, "--child-half", str(half), "--bars", str(n_bars)]
        return subprocess.Popen((["taskset", "-c", cpu] if pin else []) + cmd, env=env,
                                stdout=subprocess.PIPE, text=True)  # fmt: skip

    def wait(procs: list[subprocess.Popen]) -> float:  # the slowest evaluation (process start-up apart)
        return max(json.loads(p.communicate()[0].strip().splitlines()[-1])["seconds"] for p in procs)

    ones, twos = [], []
    for _ in range(runs):
        ones.append(wait([start(2, "0")]))
        twos.append(wait([start(0, "0"), start(1, "1")]))
    return statistics.median(ones), statistics.median(twos)


# -- Ray ----------------------------------------------------------------------------------------------


def timed_run(ws, address: str) -> dict:
    """One ``run_optimize`` with the driver-side timings."""
    from workbench.optimize import parse_objectives, run_optimize

    marks: list[float] = []
    t0, c0 = time.perf_counter(), time.process_time()
    out = run_optimize(ws, "sma_cross", "SYN:1h", GRID, parse_objectives(["sharpe:max"]), algo="grid",
                       address=address, progress=lambda done, total: marks.append(time.perf_counter()))  # fmt: skip
    t1, c1 = time.perf_counter(), time.process_time()
    return {"seconds": t1 - t0, "first": marks[0] - t0, "after_last": t1 - marks[-1], "driver_cpu": c1 - c0,
            "nodes": len(out.nodes), "combos": out.trials}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-pin", dest="pin", action="store_false", help="don't pin nodes to CPUs")
    ap.add_argument("--no-ceiling", dest="ceiling", action="store_false", help="skip the no-Ray ceiling")
    ap.add_argument("--child-half", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child_half is not None:
        print(json.dumps(child_half(args.bars, args.child_half)))
        return
    pin = args.pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    rc = cluster_helpers()
    # the driver (this process) joins both clusters: one token, Ray's timeouts as the nodes have them, set
    # before ray is imported (it reads them then); it imports ray as the clusters' processes do (ray_env)
    token = secrets.token_hex(32)
    os.environ.update(
        rc.RAY_TIMEOUTS, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token, RAY_USAGE_STATS_ENABLED="0"
    )
    os.environ.pop("RAY_ADDRESS", None)
    sys.path.insert(0, str(rc.RAY_ENV))
    import ray  # noqa: F401 - once, before any timed run

    from workbench.ingest.load import write_bars
    from workbench.workspace import open_workspace

    print(f"load average {loadavg()}; nodes pinned to CPUs: {pin}", flush=True)
    one_core = two_cores = None
    if args.ceiling:
        one_core, two_cores = ceiling(args.bars, pin, args.runs)
        print(f"ceiling (no Ray): one process {one_core:.1f} s, two processes {two_cores:.1f} s", flush=True)
    work = Path(tempfile.mkdtemp(prefix="wbopt", dir="/tmp"))  # short: Ray socket paths < 108 chars
    try:
        with contextlib.ExitStack() as stack:
            clusters = {}
            for label, workers, cpus in (
                ("one node, 1 CPU", 0, ["0"]),
                ("head + worker, 1 CPU each", 1, ["0", "1"]),
            ):
                (work / str(workers)).mkdir()
                clusters[label] = stack.enter_context(rc.ray_cluster(work / str(workers), workers=workers,
                                                                     cpus=cpus if pin else None, token=token))  # fmt: skip
            ws = open_workspace(work / "lake")
            with ws.store.transaction() as con:
                write_bars(con, random_walk(args.bars))
            runs: dict[str, list[dict]] = {label: [] for label in clusters}
            for i in range(args.runs):
                for label, c in clusters.items():
                    r = timed_run(ws, c.address)
                    runs[label].append(r)
                    print(f"run {i + 1} {label}: {r['seconds']:.1f} s (first result {r['first']:.1f} s, after the last "
                          f"{r['after_last']:.2f} s, driver CPU {r['driver_cpu']:.1f} s, nodes {r['nodes']})", flush=True)  # fmt: skip
        rows = []
        combos = runs["one node, 1 CPU"][0]["combos"]
        for label, rs in runs.items():
            med = statistics.median(r["seconds"] for r in rs)
            rows.append((label, med, combos / med, max(r["nodes"] for r in rs),
                         statistics.median(r["first"] for r in rs), statistics.median(r["after_last"] for r in rs),
                         statistics.median(r["driver_cpu"] for r in rs)))  # fmt: skip
        print(f"\nSMA-cross grid, {combos} combinations, {args.bars:,} bars, median of "
              f"{args.runs}; nodes pinned: {pin}; load average after: {loadavg()}\n")  # fmt: skip
        print(
            "| case | seconds | combos/s | nodes used | to first result s | after last result s | driver CPU s |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for label, med, rate, nodes, first, after, cpu in rows:
            print(f"| {label} | {med:.1f} | {rate:.1f} | {nodes} | {first:.1f} | {after:.2f} | {cpu:.1f} |")
        if one_core:
            print(
                f"| kernel alone (no Ray), one process | {one_core:.1f} | {combos / one_core:.1f} | - | | | |"
            )
            print(
                f"| kernel alone (no Ray), two processes | {two_cores:.1f} | {combos / two_cores:.1f} | - | | | |"
            )
        print(f"\ntwo nodes / one node = {rows[1][1] / rows[0][1]:.2f} (goal <= 0.55)")
        if one_core:
            print(f"ceiling: two cores / one core for the kernel alone = {two_cores / one_core:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
