"""Ray Tune grid benchmark: the chunked grid of ``run_optimize`` on one node and on two nodes.

    python benchmarks/optimize.py                    # 1M bars, median of 3 (several minutes on 2 cores)
    python benchmarks/optimize.py --bars 200000 --runs 1   # quicker

Case: long-only SMA crossover, grid fast 5..50, slow 10..200 step 5, fast < slow (1 605 combinations),
on a 1 000 000-bar hourly random walk (built as ``benchmarks/sweep.py`` builds its scaling series),
``run_optimize(algo="grid")`` against

* (a) a one-node loopback cluster: ``ray start --head --num-cpus=1``;
* (b) the same head plus one worker node, ``--num-cpus=1`` each (4 × 2 = 8 chunks).

Each node is a ``ray start --block`` process group stopped by the script itself (never ``ray stop``),
with token authentication (RAY_AUTH_MODE=token and one generated RAY_AUTH_TOKEN for all processes).
Reported: median seconds of ``run_optimize`` (connect, put the bars, Tune, store), combinations per
second, the distinct nodes that evaluated chunks, the two/one ratio, and the driver-side overhead
measured apart (``ray.init`` to the cluster, ``ray.put`` of the bars). Both nodes share this machine's
cores: on a machine with other load the two-node figure is noisy. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")
GRID = {"fast": list(range(5, 51)), "slow": list(range(10, 201, 5))}


def random_walk(n_bars: int):
    """The 1M-bar series of benchmarks/sweep.py's scaling case, with a symbol and timeframe."""
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_node(args: list[str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen([str(RAY), "start", *args, "--block"], start_new_session=True,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


def stop_node(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


def alive_nodes(address: str) -> int:
    code = f"import ray; ray.init(address={address!r}, logging_level='ERROR', log_to_driver=False); "
    code += "print('ALIVE', sum(n['Alive'] for n in ray.nodes()))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    counts = [int(x.split()[1]) for x in p.stdout.splitlines() if x.startswith("ALIVE ")]
    return counts[-1] if p.returncode == 0 and counts else 0


@contextlib.contextmanager
def cluster(workers: int, temp: Path):
    port = free_port()
    address = f"127.0.0.1:{port}"
    nodes = [start_node(["--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
                         "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}",
                         f"--ray-client-server-port={free_port()}"], temp.parent / "head.log")]  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        for want in range(1, workers + 2):
            if want > 1:
                nodes.append(start_node([f"--address={address}", "--node-ip-address=127.0.0.1",
                                         "--num-cpus=1"], temp.parent / f"worker{want - 1}.log"))  # fmt: skip
            while alive_nodes(address) < want:
                if time.monotonic() > deadline or nodes[-1].poll() is not None:
                    raise SystemExit(f"node {want} did not start (logs in {temp.parent})")
                time.sleep(2)
        yield address
    finally:
        for proc in reversed(nodes):
            stop_node(proc)


def overhead(address: str, bars) -> tuple[float, float]:
    """Seconds to connect the driver and to put the bars (as run_optimize ships them)."""
    import ray

    t0 = time.perf_counter()
    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    t1 = time.perf_counter()
    ref = ray.put(bars.select("ts", "open", "high", "low", "close", "volume"))
    t2 = time.perf_counter()
    del ref
    ray.shutdown()
    return t1 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    os.environ.update(
        RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32), RAY_USAGE_STATS_ENABLED="0"
    )
    os.environ.pop("RAY_ADDRESS", None)
    sys.path.insert(0, str(ROOT))
    from workbench.ingest.load import write_bars
    from workbench.optimize import parse_objectives, run_optimize
    from workbench.workspace import open_workspace

    work = Path(tempfile.mkdtemp(prefix="wbopt", dir="/tmp"))  # short: Ray socket paths < 108 chars
    try:
        ws = open_workspace(work / "lake")
        frame = random_walk(args.bars)
        with ws.store.transaction() as con:
            write_bars(con, frame)
        bars = ws.bars("SYN:1h")
        objectives = parse_objectives(["sharpe:max"])
        rows = []
        for label, workers in (("one node, 1 CPU", 0), ("head + worker, 1 CPU each", 1)):
            temp = work / f"r{workers}"
            temp.mkdir()
            with cluster(workers, temp) as address:
                connect_s, put_s = overhead(address, bars)
                times, nodes, combos = [], 0, 0
                for _ in range(args.runs):
                    t = time.perf_counter()
                    out = run_optimize(
                        ws, "sma_cross", "SYN:1h", GRID, objectives, algo="grid", address=address
                    )
                    times.append(time.perf_counter() - t)
                    nodes, combos = len(out.nodes), out.trials
            med = statistics.median(times)
            rows.append((label, med, combos / med, nodes, connect_s, put_s, times))
            print(f"{label}: {', '.join(f'{x:.1f}' for x in times)} s", flush=True)
        print(f"\nSMA-cross grid, {combos} combinations, {args.bars:,} bars, median of {args.runs}\n")
        print("| case | seconds | combos/s | nodes used | ray.init s | ray.put bars s |")
        print("|---|---:|---:|---:|---:|---:|")
        for label, med, rate, nodes, connect_s, put_s, _ in rows:
            print(f"| {label} | {med:.1f} | {rate:.1f} | {nodes} | {connect_s:.2f} | {put_s:.2f} |")
        print(f"\ntwo nodes / one node = {rows[1][1] / rows[0][1]:.2f} (goal <= 0.55)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
