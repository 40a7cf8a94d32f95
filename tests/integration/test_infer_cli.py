"""`workbench infer` through real subprocesses: a bot's stored trades back to its rules, the replay stored
for `workbench codegen`, the one-line refusal when no bars cover the trades, and a real MT4 report."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import real

from workbench.workspace import open_workspace

pytestmark = pytest.mark.xdist_group("cli")


def _cli(home, *args, check=True):
    env = {**os.environ, "WORKBENCH_HOME": str(home), "WORKBENCH_AUTO_INDEX": "0"}
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


def test_infer_recovers_a_stored_bot_and_stores_its_replay(home):
    # the "bot": an engine backtest with costs, both directions and an ATR stop, stored by `workbench backtest`
    out = json.loads(
        _cli(home, "backtest", "--strategy", "ema_cross", "--data", "EURUSD:1h", "--param", "fast=9",
             "--param", "slow=45", "--direction", "both", "--commission", "0.0002", "--spread", "1pips",
             "--stop-loss", "1.8atr", "--json").stdout
    )  # fmt: skip
    (bot,) = out["backtest_ids"]
    p = _cli(home, "infer", str(bot), "--json")
    res = json.loads(p.stdout)
    assert set(res) >= {
        "strategy",
        "params",
        "settings",
        "agreement",
        "rules",
        "candidates",
        "bars",
        "backtest_id",
    }
    assert res["bars"] == "EURUSD:1h"
    assert res["strategy"] == "ema_cross" and res["agreement"]["entry_f1"] >= 0.95
    assert set(res["agreement"]) >= {"entry_f1", "exit_f1", "precision", "recall", "pnl_correlation",
                                     "matched", "missed", "extra"}  # fmt: skip
    assert res["settings"]["direction"] == "both" and res["settings"]["stop_loss"].endswith("atr")
    assert 1 <= len(res["candidates"]) <= 5
    # the stored replay names strategy + params + settings, and its trades are the ones measured
    ws = open_workspace(home, read_only=True)
    replay = ws.backtest(res["backtest_id"])
    assert replay.info["strategy"] == "ema_cross"
    assert replay.info["parameters"] == res["params"]
    assert replay.info["meta"]["settings"]["stop_loss"] == res["settings"]["stop_loss"]
    assert replay.trades.height == res["agreement"]["inferred_trades"]


def test_real_mt4_reports_refusal_and_overlap(home):
    """Two real MT4 tester reports: JCSPatterns traded GBPJPY (no GBPJPY bars stored) -> a one-line
    refusal naming what is stored; qg0's RSI EA traded EURUSD on M1 in Sept-Oct 2017, inside the
    packaged hourly EURUSD -> the agreement is whatever it is (measured), series and timeframe said."""
    files = [real("mt4_tester_html/reuniware_jcspatterns_gbpjpy_fr.htm"),
             real("mt4_tester_html/qg0_rsi_momentum_eurusd_fr.htm")]  # fmt: skip
    ing = json.loads(_cli(home, "ingest", *map(str, files), "--json").stdout)
    gbpjpy, eurusd = (f["backtest_id"] for f in ing["files"])
    p = _cli(home, "infer", str(gbpjpy), "--json", check=False)
    assert p.returncode != 0 and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: backtest {gbpjpy}:bars: no stored bars of GBPJPY")
    assert "Traceback" not in p.stderr and sum(line.startswith("error:") for line in lines) == 1
    assert "--data" in lines[0] and "EURUSD:1h" in lines[0]
    res = json.loads(_cli(home, "infer", str(eurusd), "--no-store", "--json").stdout)
    assert res["bars"] == "EURUSD:1h" and res["backtest_id"] is None
    assert any("m1" in n and "EURUSD:1h" in n for n in res["notes"])
    ag = res["agreement"]
    assert 0.0 <= ag["entry_f1"] <= 1.0 and ag["matched"] + ag["missed"] == ag["real_trades"] == 36
