"""Kill -9 a real `workbench paper run` mid-session, resume it: nothing lost, nothing doubled, and the
result is exactly the uninterrupted backtest's (workbench.backtest.run on the same bars)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from workbench.backtest import run
from workbench.store import Store
from workbench.workspace import open_workspace

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ["--direction", "both", "--commission", "0.0001", "--stop-loss", "1%", "--slippage", "1pips"]


def _cli(home: Path, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "WORKBENCH_HOME": str(home), "WORKBENCH_LOCK_WAIT": "60"}
    return subprocess.Popen([sys.executable, "-m", "workbench", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)  # fmt: skip


def _progress(home: Path) -> tuple[int, str]:
    store = Store(home, read_only=True, lock_wait_s=60)
    with store.connect() as con:
        rows = con.execute("SELECT bars_processed, status FROM paper_sessions WHERE name = 'k9'").fetchall()
    return (rows[0][0], rows[0][1]) if rows else (0, "")


def test_kill9_then_resume_loses_and_doubles_nothing(tmp_path):
    home = tmp_path / "lake"
    ws = open_workspace(home)
    ws.load_samples()
    bars = ws.bars("EURUSD:1h")
    # 1,000 bars of an hour per second: ~5 s for the 5,000 bars, each bar a durable step or a few
    proc = _cli(home, "paper", "run", "--data", "EURUSD:1h", "--strategy", "sma_cross", "-p", "fast=10",
                "-p", "slow=30", *SETTINGS, "--speed", str(3600 * 1000), "--session", "k9", "--json")  # fmt: skip
    deadline = time.monotonic() + 120
    seen = 0
    while time.monotonic() < deadline:
        time.sleep(0.3)
        assert proc.poll() is None, proc.stderr.read()
        seen, status = _progress(home)
        if seen >= 600:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_at, status = _progress(home)
    assert status == "running" and 600 <= killed_at < bars.height  # killed mid-run, not after

    done = _cli(home, "paper", "resume", "k9", "--speed", "max", "--json")
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    result = json.loads(out)
    assert result["state"] == "finished" and result["bars"] == bars.height

    bt = run(bars, "sma_cross", {"fast": 10, "slow": 30}, contract="EURUSD", direction="both",
             commission="0.0001", stop_loss="1%", slippage="1pips")  # fmt: skip
    store = Store(home)
    trades = store.frame("SELECT * FROM paper_trades WHERE session = 'k9' ORDER BY trade_id")
    keys = ["direction", "entry_bar", "exit_bar", "size", "entry_price", "exit_price", "pnl", "exit_reason"]
    assert trades.select(keys).equals(bt.trades.select(keys))
    assert result["final_equity"] == bt.metrics["final_equity"]
    fills = store.frame("SELECT * FROM paper_fills WHERE session = 'k9' ORDER BY fill_id")
    assert fills["fill_id"].to_list() == list(range(1, fills.height + 1))  # none lost, none twice
    open_pos = 1 if result["live_diff"]["paper_trades"] and result["state"] and _open(store) else 0
    assert fills.height == 2 * bt.trades.height + open_pos
    assert fills.select("bar", "side", "what").is_duplicated().sum() == 0
    equity = store.frame("SELECT bar, equity FROM paper_equity WHERE session = 'k9' ORDER BY bar")
    assert equity["bar"].to_list() == list(range(bars.height))
    assert equity["equity"].to_list() == bt.equity["equity"].to_list()
    seen = store.frame("SELECT bar, ts FROM paper_equity WHERE session = 'k9' ORDER BY bar")
    assert seen["ts"].equals(bars["ts"].cast(pl.Datetime("us")))  # every stored bar, once, in order


def _open(store: Store) -> bool:
    row = store.frame("SELECT position FROM paper_equity WHERE session = 'k9' ORDER BY bar DESC LIMIT 1")
    return row["position"][0] != 0
