"""Ingest benchmarks: the product next to its peers, measured in the same run.

    python benchmarks/ingest.py                 # 16M trades, 20M ticks, every real report
    python benchmarks/ingest.py --trades 2e6 --ticks 5e6    # a quicker run
    python benchmarks/ingest.py --only trades --trades 2e6 --no-pandas    # one section

Each case runs in its own subprocess so peak RSS (ru_maxrss) is its own; the cases of a table run
in turn, round after round, so the machine's load weighs on each alike. Prints tables with medians
and ratios against the peer, in wall time and in CPU seconds (all threads, user + system). Not a
test: nothing here asserts a time.

Cases
* trades CSV -> store: ``workbench`` (detect, parse, validate, reconcile, metrics, raw copy, one
  transaction; from 1M trades on the trades are a Parquet part behind the ``trades`` view, ADR 0014)
  vs DuckDB's own ``read_csv`` into a table (no validation) vs pandas ``read_csv`` +
  row-by-row INSERTs (measured on a 20k-row slice and extrapolated linearly — said in the table).
* ticks -> 1-minute OHLCV bars: ``workbench.ingest.bars.ticks_to_bars`` (with validation) vs a DuckDB
  ``GROUP BY time_bucket`` vs plain polars ``group_by_dynamic``.
* each real report in ../shared/fixtures/real: detect + parse + validate time (goal >= 1 MB/s).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
REAL = ROOT.parent / "shared" / "fixtures" / "real"


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU seconds of this process so far, all threads, user + system (the kernel's share of a copy too)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- data generation -------------------------------------------------------------------------------


def make_trades_csv(n: int) -> Path:
    import numpy as np
    import polars as pl

    path = WORK / f"trades_{n}.csv"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    start = np.datetime64("2015-01-01T00:00:00", "ms")
    opens = start + (np.sort(rng.integers(0, 10 * 365 * 86400, n)) * 1000).astype("timedelta64[ms]")
    closes = opens + (rng.integers(60, 3 * 86400, n) * 1000).astype("timedelta64[ms]")
    entry = 1.1 + rng.normal(0, 0.05, n).round(5)
    exit_ = (entry + rng.normal(0, 0.002, n)).round(5)
    direction = rng.choice(np.array(["buy", "sell"]), n)
    volume = rng.choice(np.array([0.01, 0.1, 0.5, 1.0]), n)
    sign = np.where(direction == "buy", 1.0, -1.0)
    profit = ((exit_ - entry) * sign * volume * 100_000).round(2)
    commission = (-volume * 7).round(2)
    swap = np.where(rng.random(n) < 0.2, -rng.random(n).round(2), 0.0)
    frame = pl.DataFrame(
        {
            "ticket": np.arange(1, n + 1),
            "open_time": opens,
            "close_time": closes,
            "symbol": rng.choice(np.array(["EURUSD", "GBPUSD", "USDJPY", "XAUUSD"]), n),
            "type": direction,
            "volume": volume,
            "entry_price": entry,
            "exit_price": exit_,
            "commission": commission,
            "swap": swap,
            "profit": profit,
            "net_profit": (profit + commission + swap).round(2),
        }
    )
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        fh.write("# initial_balance: 100000\n")
    with open(tmp, "a") as fh:
        frame.write_csv(fh, datetime_format="%Y-%m-%d %H:%M:%S")
    tmp.rename(path)
    return path


def make_ticks(n: int) -> Path:
    import numpy as np
    import polars as pl

    path = WORK / f"ticks_{n}.parquet"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    ts = np.datetime64("2024-01-01T00:00:00", "ms") + np.cumsum(rng.integers(1, 200, n)).astype(
        "timedelta64[ms]"
    )
    mid = 1.1 + np.cumsum(rng.normal(0, 1e-5, n))
    pl.DataFrame(
        {"time": ts, "bid": mid - 5e-6, "ask": mid + 5e-6, "volume": rng.integers(1, 10, n)}
    ).write_parquet(path)
    return path


# -- cases (each runs in a fresh subprocess) -----------------------------------------------------------


def case_workbench_trades(path: str) -> dict:
    import workbench as wb

    home = tempfile.mkdtemp(dir=WORK)
    t0, c0 = time.perf_counter(), cpu_s()
    report = wb.open(home).ingest([path])
    secs, cpu = time.perf_counter() - t0, cpu_s() - c0
    f = report.files[0]
    assert f.status == "ingested", f.error
    shutil.rmtree(home)
    return {"seconds": secs, "cpu": cpu, "rows": f.rows}


def case_duckdb_trades(path: str) -> dict:
    import duckdb

    home = tempfile.mkdtemp(dir=WORK)
    con = duckdb.connect(f"{home}/raw.duckdb")
    t0, c0 = time.perf_counter(), cpu_s()
    con.execute(f"CREATE TABLE trades AS SELECT * FROM read_csv('{path}', comment='#', header=true)")
    rows = con.execute("SELECT count(*) FROM trades").fetchall()[0][0]
    con.close()
    secs, cpu = time.perf_counter() - t0, cpu_s() - c0
    shutil.rmtree(home)
    return {"seconds": secs, "cpu": cpu, "rows": rows}


def case_pandas_rowwise(path: str, sample: int = 20_000) -> dict:
    import duckdb
    import pandas as pd

    total = sum(1 for _ in open(path, "rb")) - 2
    home = tempfile.mkdtemp(dir=WORK)
    con = duckdb.connect(f"{home}/rows.duckdb")
    t0 = time.perf_counter()
    df = pd.read_csv(path, comment="#", nrows=sample)
    con.execute("CREATE TABLE trades (" + ", ".join(f'"{c}" VARCHAR' for c in df.columns) + ")")
    sql = "INSERT INTO trades VALUES (" + ", ".join("?" for _ in df.columns) + ")"
    for row in df.itertuples(index=False):
        con.execute(sql, [str(v) for v in row])
    secs = time.perf_counter() - t0
    con.close()
    shutil.rmtree(home)
    return {
        "seconds": secs * total / sample,
        "rows": total,
        "note": f"{sample:,} rows measured, extrapolated",
    }


def case_ticks_workbench(path: str) -> dict:
    import polars as pl

    from workbench.ingest.bars import ticks_to_bars

    ticks = pl.read_parquet(path).rename({"time": "ts"})  # ticks_to_bars reads a ``ts`` column
    t0 = time.perf_counter()
    bars = ticks_to_bars(ticks, every="1m", symbol="EURUSD")
    return {"seconds": time.perf_counter() - t0, "rows": ticks.height, "bars": bars.height}


def case_ticks_duckdb(path: str) -> dict:
    import duckdb
    import polars as pl

    ticks = pl.read_parquet(path)
    con = duckdb.connect()
    con.register("ticks", ticks)
    t0 = time.perf_counter()
    bars = con.sql(
        "SELECT time_bucket(INTERVAL 1 minute, time) AS ts, arg_min((bid+ask)/2, time) AS open, "
        "max((bid+ask)/2) AS high, min((bid+ask)/2) AS low, arg_max((bid+ask)/2, time) AS close, "
        "sum(volume) AS volume FROM ticks GROUP BY 1 ORDER BY 1"
    ).pl()
    return {"seconds": time.perf_counter() - t0, "rows": ticks.height, "bars": bars.height}


def case_ticks_polars(path: str) -> dict:
    import polars as pl

    ticks = pl.read_parquet(path)
    t0 = time.perf_counter()
    mid = ((pl.col("bid") + pl.col("ask")) / 2).alias("mid")
    bars = (
        ticks.lazy()
        .with_columns(mid)
        .group_by_dynamic("time", every="1m")
        .agg(
            pl.col("mid").first().alias("open"),
            pl.col("mid").max().alias("high"),
            pl.col("mid").min().alias("low"),
            pl.col("mid").last().alias("close"),
            pl.col("volume").sum(),
        )
        .collect()
    )
    return {"seconds": time.perf_counter() - t0, "rows": ticks.height, "bars": bars.height}


CASES = {
    f.__name__.removeprefix("case_"): f
    for f in (
        case_workbench_trades,
        case_duckdb_trades,
        case_pandas_rowwise,
        case_ticks_workbench,
        case_ticks_duckdb,
        case_ticks_polars,
    )
}


def run_once(name: str, arg: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--case", name, arg],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if out.returncode != 0:
        raise SystemExit(f"case {name} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_case(name: str, arg: str, repeat: int) -> dict:
    return summarise([run_once(name, arg) for _ in range(repeat)])


def run_interleaved(names: tuple[str, ...], arg: str, repeat: int) -> list[tuple[str, dict]]:
    """Each round runs every case once, in turn: a change in the machine's load then weighs on all of
    them alike, instead of on whichever case happened to run during it."""
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for _ in range(repeat):
        for n in names:
            runs[n].append(run_once(n, arg))
    return [(n, summarise(runs[n])) for n in names]


def summarise(runs: list[dict]) -> dict:
    repeat = len(runs)
    best = dict(runs[0])
    best["seconds"] = statistics.median(r["seconds"] for r in runs)
    if all("cpu" in r for r in runs):
        best["cpu"] = statistics.median(r["cpu"] for r in runs)
    best["rss_mib"] = max(r["rss_mib"] for r in runs)
    best["runs"] = repeat
    return best


def table(title: str, rows: list[tuple[str, dict]], peer: str) -> None:
    """Wall time is what the goal is stated in; CPU seconds (all threads) say the same with less noise
    on a shared machine, where the wall time of a run depends on what else runs beside it."""
    base = dict(rows)[peer]
    print(f"\n{title}")
    print(
        f"{'case':22} {'median s':>9} {'rows/s':>14} {'peak RSS MiB':>13} {'x ' + peer:>16} "
        f"{'CPU s':>7} {'CPU x':>6}  note"
    )
    for name, r in rows:
        cpu = r.get("cpu")
        cpu_cols = f"{cpu:7.2f} {cpu / base['cpu']:6.2f}" if cpu and base.get("cpu") else f"{'':7} {'':6}"
        print(
            f"{name:22} {r['seconds']:9.2f} {r['rows'] / r['seconds']:14,.0f} {r['rss_mib']:13,.0f} "
            f"{r['seconds'] / base['seconds']:16.2f} {cpu_cols}  {r.get('note', '')}"
        )


def report_parse_times() -> None:
    """Goal: every report at >= 1 MB/s (<= 1 s per MB). Files under 64 KiB are marked but not held to
    it: their time is the fixed cost of detection (tens of ms), not a rate."""
    from workbench.errors import DataError
    from workbench.ingest import parse_bytes

    print("\nreal reports: detect + parse + validate (median of 5; goal >= 1 MB/s)")
    print(f"{'file':62} {'KiB':>7} {'ms':>8} {'MB/s':>7}  format / note")
    slow = []
    for path in sorted(p for p in REAL.rglob("*") if p.is_file() and p.name != "MANIFEST.md"):
        data = path.read_bytes()
        times, fmt = [], ""
        for _ in range(5):
            t0 = time.perf_counter()
            try:
                fmt = parse_bytes(data, path.name).format
            except DataError as e:
                fmt = f"rejected: {str(e)[:60]}"
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        rate = len(data) / 1e6 / med
        mark = ""
        if rate < 1.0:
            mark = "  < 1 MB/s" if len(data) >= 64 * 1024 else "  (small: fixed cost)"
            if len(data) >= 64 * 1024:
                slow.append(str(path.relative_to(REAL)))
        print(
            f"{path.relative_to(REAL)!s:62} {len(data) / 1024:7.0f} {med * 1e3:8.1f} {rate:7.2f}  {fmt}{mark}"
        )
    print(f"under 1 MB/s (64 KiB or more): {', '.join(slow) if slow else 'none'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case")
    ap.add_argument("arg", nargs="?")
    ap.add_argument("--trades", type=float, default=16e6)
    ap.add_argument("--ticks", type=float, default=20e6)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", help="comma-separated sections: trades,ticks,reports (default: all)")
    ap.add_argument("--no-pandas", action="store_true", help="skip the row-by-row pandas case")
    args = ap.parse_args()
    if args.case:
        result = CASES[args.case](args.arg)
        result["rss_mib"] = rss_mib()
        print(json.dumps(result))
        return
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; load average {load}")
    only = set(args.only.split(",")) if args.only else {"trades", "ticks", "reports"}
    if "trades" in only:
        csv = make_trades_csv(int(args.trades))
        print(f"trades CSV: {csv.name}, {csv.stat().st_size / 1e9:.2f} GB")
        rows = run_interleaved(("duckdb_trades", "workbench_trades"), str(csv), args.repeat)
        if not args.no_pandas:
            rows.append(("pandas_rowwise", run_case("pandas_rowwise", str(csv), 1)))
        table(f"trades CSV -> store ({int(args.trades):,} trades)", rows, "duckdb_trades")
    if "ticks" in only:
        ticks = make_ticks(int(args.ticks))
        names = ("ticks_duckdb", "ticks_polars", "ticks_workbench")
        rows = run_interleaved(names, str(ticks), args.repeat)
        table(
            f"ticks -> 1-minute bars ({int(args.ticks):,} ticks; parquet read not timed)",
            rows,
            "ticks_duckdb",
        )
    if "reports" in only:
        report_parse_times()
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
