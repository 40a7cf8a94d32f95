"""`workbench backtest` and `workbench optimize` through real subprocesses on a temp workspace."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import pytest

from workbench.backtest import run
from workbench.workspace import open_workspace

pytestmark = pytest.mark.xdist_group("cli")


def _cli(home, *args, check=True):
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    p = subprocess.run(
        [sys.executable, "-m", "workbench", *args], capture_output=True, text=True, env=env, timeout=300
    )
    if check:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    h = tmp_path_factory.mktemp("lake")
    _cli(h, "data", "samples", "--json")
    return h


def test_backtest_sweep_stores_grid_and_best(home):
    p = _cli(home, "backtest", "--strategy", "sma_cross", "--data", "EURUSD:1h",
             "--param", "fast=5:20:5", "--param", "slow=10:60:10", "--json")  # fmt: skip
    out = json.loads(p.stdout)
    assert set(out) >= {"backtest_ids", "combos", "best", "seconds"}
    # grid size after the sma_cross constraint fast < slow, counted independently
    expected = [(f, s) for f, s in itertools.product(range(5, 21, 5), range(10, 61, 10)) if f < s]
    assert out["combos"] == len(expected) == 20
    ws = open_workspace(home, read_only=True)
    opt = ws.optimizations().filter(origin="sweep").row(-1, named=True)
    rows = ws.optimization_results(opt["id"])
    assert rows.height == out["combos"]
    assert out["best"]["metrics"]["total_return_pct"] == max(
        json.loads(m)["total_return_pct"] for m in rows["metrics"]
    )
    (bid,) = out["backtest_ids"]
    metrics = json.loads(_cli(home, "metrics", str(bid), "--json").stdout)
    engine = run(ws.bars("EURUSD:1h"), "sma_cross", out["best"]["params"])
    assert metrics["net_profit"] == pytest.approx(float(engine.trades["pnl"].sum()), rel=1e-9)
    assert metrics["total_trades"] == engine.metrics["trades"]


def test_backtest_bad_input_is_one_line(home):
    p = _cli(
        home, "backtest", "--strategy", "sma_cross", "--data", "EURUSD:1h", "--param", "fast=5:x", check=False
    )
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and p.stderr.startswith("error: ")
    p = _cli(home, "backtest", "--strategy", "nope", "--data", "EURUSD:1h", check=False)
    assert p.returncode == 1 and p.stderr.startswith("error: ")


def test_optimize_jobs_address_is_refused(home):
    p = _cli(home, "optimize", "--strategy", "sma_cross", "--data", "EURUSD:1h", "--param", "fast=5:10",
             "--address", "http://127.0.0.1:8265", "--json", check=False)  # fmt: skip
    assert p.returncode == 1 and p.stderr.count("\n") == 1
    assert "Ray Jobs API" in p.stderr and "ray job submit" in p.stderr
