"""The CLI contract of the design brief, exercised through real subprocesses on the real fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REAL, REAL_FILES

pytestmark = pytest.mark.xdist_group("cli")

METRIC_KEYS = {
    "net_profit",
    "gross_profit",
    "gross_loss",
    "profit_factor",
    "total_trades",
    "winning_trades",
    "losing_trades",
    "win_rate",
    "max_drawdown",
    "max_drawdown_pct",
    "recovery_factor",
    "sharpe_ratio",
    "sortino_ratio",
    "avg_trade_duration_seconds",
    "initial_balance",
    "final_balance",
}
TRADE_KEYS = {
    "open_time",
    "close_time",
    "symbol",
    "direction",
    "volume",
    "entry_price",
    "exit_price",
    "commission",
    "swap",
    "net_profit",
}


def run(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> tuple[Path, dict]:
    home = tmp_path_factory.mktemp("cli") / "lake"
    res = run(home, "ingest", str(REAL), "--json")
    assert res.returncode == 0, res.stderr
    return home, json.loads(res.stdout)


def test_every_real_fixture_ingests(lake) -> None:
    _, report = lake
    assert report["rejected"] == 0, [f for f in report["files"] if f["status"] != "ingested"]
    assert report["ingested"] == len(REAL_FILES) == 36
    assert {f["path"] for f in report["files"]} == {str(p) for p in REAL_FILES}
    for f in report["files"]:
        assert set(f) >= {"path", "format", "status", "backtest_id", "rows", "error", "warnings", "anomalies"}
        assert f["rows"] > 0, f
        # each kind's id under its own key, the others null
        ids = {k: f[k] for k in ("backtest_id", "parameter_set_id", "optimization_id")}
        key = {"backtest": "backtest_id", "parameters": "parameter_set_id", "optimization": "optimization_id"}
        assert [k for k, v in ids.items() if v is not None] == [key[f["kind"]]], f


def test_reingesting_adds_nothing(lake) -> None:
    home, first = lake
    before = run(home, "backtests", "--json")
    res = run(home, "ingest", str(REAL), "--json")
    assert res.returncode == 0
    again = json.loads(res.stdout)
    assert again["duplicates"] == len(REAL_FILES) and again["ingested"] == 0

    def ids(report: dict) -> set:
        return {(f["backtest_id"], f["parameter_set_id"], f["optimization_id"]) for f in report["files"]}

    assert ids(again) == ids(first)
    assert run(home, "backtests", "--json").stdout == before.stdout


def test_backtests_metrics_and_trades_json(lake) -> None:
    home, report = lake
    listed = json.loads(run(home, "backtests", "--json").stdout)["backtests"]
    backtests = [f for f in report["files"] if f["kind"] == "backtest"]
    assert len(listed) == len(backtests)
    for f in backtests:
        m = json.loads(run(home, "metrics", str(f["backtest_id"]), "--json").stdout)
        assert METRIC_KEYS <= set(m), METRIC_KEYS - set(m)
        assert m["total_trades"] == f["rows"]
    t = json.loads(run(home, "trades", str(backtests[0]["backtest_id"]), "--json").stdout)["trades"]
    assert len(t) == backtests[0]["rows"]
    assert TRADE_KEYS <= set(t[0])
    assert "T" in t[0]["open_time"] and t[0]["direction"] in {"long", "short"}


def test_unknown_backtest_is_a_one_line_error(lake) -> None:
    home, _ = lake
    res = run(home, "metrics", "999999", "--json")
    assert res.returncode != 0 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: ")
    assert "999999" in res.stderr


def test_a_broken_file_alone_is_rejected_with_file_where_what(tmp_path: Path) -> None:
    src = REAL / "mt4_tester_html" / "urinethrower_bastet_xagusd_h4.htm"
    broken = tmp_path / "cut.htm"
    broken.write_bytes(src.read_bytes()[: len(src.read_bytes()) * 2 // 3])
    res = run(tmp_path / "lake", "ingest", str(broken))
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {broken}:"), res.stderr
    assert "Traceback" not in res.stderr
    counts = run(tmp_path / "lake", "backtests", "--json")
    assert json.loads(counts.stdout)["backtests"] == []


def test_in_a_batch_good_files_land_and_bad_ones_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    good = REAL / "mt4_tester_html" / "reuniware_jcspatterns_gbpjpy_fr.htm"
    (folder / good.name).write_bytes(good.read_bytes())
    (folder / "garbage.htm").write_bytes(b"<html><body>not a report</body></html>")
    (folder / "empty.csv").write_bytes(b"")
    res = run(tmp_path / "lake", "ingest", str(folder), "--json")
    assert res.returncode == 1
    report = json.loads(res.stdout)
    status = {Path(f["path"]).name: f["status"] for f in report["files"]}
    assert status == {good.name: "ingested", "garbage.htm": "rejected", "empty.csv": "rejected"}
    assert all(f["error"] for f in report["files"] if f["status"] == "rejected")
    assert len(res.stderr.strip().splitlines()) == 2 and "Traceback" not in res.stderr


def test_data_samples_loads_the_backtesting_package_data(tmp_path: Path) -> None:
    res = run(tmp_path / "lake", "data", "samples", "--json")
    assert res.returncode == 0, res.stderr
    series = json.loads(res.stdout)["series"]
    from backtesting.test import EURUSD, GOOG

    assert series["EURUSD:1h"] == len(EURUSD) and series["GOOG:1d"] == len(GOOG)
    listed = json.loads(run(tmp_path / "lake", "data", "list", "--json").stdout)["series"]
    assert {f"{s['symbol']}:{s['timeframe']}" for s in listed} >= {"EURUSD:1h", "GOOG:1d"}


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    res = run(tmp_path / "lake", "metrics", "not-a-number")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert res.stderr.startswith("error: ")
