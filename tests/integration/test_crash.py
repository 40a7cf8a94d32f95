"""kill -9 mid-ingest leaves the store consistent, and a rerun completes (real killed subprocesses)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REAL, REAL_FILES

from workbench.store import Store

pytestmark = pytest.mark.xdist_group("crash")


FAULTS = Path(__file__).resolve().parents[1] / "faults.py"


def _cli(
    home: Path, *args: str, env_extra: dict[str, str] | None = None, fault: str | None = None
) -> subprocess.Popen:
    env = {**os.environ, "WORKBENCH_HOME": str(home), **(env_extra or {})}
    launcher = [str(FAULTS), fault, "--"] if fault else ["-m", "workbench"]
    return subprocess.Popen(
        [sys.executable, *launcher, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_consistent(home: Path) -> dict[str, int]:
    """Every stored file is complete: raw bytes present, object row present, rows as logged."""
    store = Store(home)
    raw = store.frame("SELECT * FROM raw_files")
    for row in raw.iter_rows(named=True):
        assert (home / row["stored_as"]).exists(), row
        logged = store.frame(
            "SELECT rows FROM ingest_log WHERE file_sha256 = $1 AND status = 'ingested'", [row["sha256"]]
        )
        assert logged.height == 1, row["original_name"]
        if row["kind"] == "backtest":
            n = store.scalar("SELECT count(*) FROM trades WHERE backtest_id = $1", [row["object_id"]])
            assert n == logged["rows"][0], row["original_name"]
    # no object without its raw_files row (nothing half written)
    orphans = store.scalar(
        "SELECT count(*) FROM backtests b LEFT JOIN raw_files r ON r.object_id = b.id "
        "WHERE b.origin = 'imported' AND r.sha256 IS NULL"
    )
    assert orphans == 0
    orphan_trades = store.scalar(
        "SELECT count(*) FROM trades t LEFT JOIN backtests b ON b.id = t.backtest_id WHERE b.id IS NULL"
    )
    assert orphan_trades == 0
    return store.table_counts()


def test_kill_inside_the_open_transaction_stores_nothing_and_rerun_completes(tmp_path: Path) -> None:
    home = tmp_path / "lake"
    target = REAL / "mt4_tester_html" / "urinethrower_bastet_xagusd_h4.htm"
    proc = _cli(home, "ingest", str(target), "--json", fault="kill:before-commit")
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    counts = assert_consistent(home)
    assert counts["backtests"] == 0 and counts["trades"] == 0 and counts["raw_files"] == 0
    proc = _cli(home, "ingest", str(target), "--json")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out)["ingested"] == 1
    counts = assert_consistent(home)
    assert counts["backtests"] == 1 and counts["trades"] > 0


def test_kill_at_random_moments_of_a_batch_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    proc = _cli(clean, "ingest", str(REAL), "--json")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    expected = assert_consistent(clean)
    elapsed_reference = json.loads(out)

    rng = random.Random(7)
    home = tmp_path / "killed"
    for _ in range(4):
        proc = _cli(home, "ingest", str(REAL), "--json")
        time.sleep(rng.uniform(0.5, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        assert_consistent(home)
    proc = _cli(home, "ingest", str(REAL), "--json")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    got = assert_consistent(home)
    for table in (
        "backtests",
        "trades",
        "cash_flows",
        "parameter_sets",
        "parameters",
        "optimizations",
        "optimization_results",
        "raw_files",
    ):
        assert got[table] == expected[table], table
    assert elapsed_reference["ingested"] == len(REAL_FILES)
