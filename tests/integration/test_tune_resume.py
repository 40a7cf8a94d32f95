"""`workbench optimize` killed mid-run (SIGKILL from tests/faults.py kill:after-trials:N) resumes
from its experiment directory: the trials that had finished are not evaluated again, and the stored
results equal those of an uninterrupted run. Real processes on a real one-node Ray (`ray start --head`
with token authentication, 1 CPU, see test_ray_cluster.py), one head shared by the module's tests, each
with its own workspace.

Evaluations are counted through WORKBENCH_TUNE_TRACE: every trial appends one JSON line (its Tune trial
id, the first combination of its chunk, the Ray job and pid that evaluated it) to that file. The
finished trials are read from Tune's own experiment-state file left by the killed run.
"""

from __future__ import annotations

import importlib.util
import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.backtest import METRICS, sweep
from workbench.workspace import open_workspace

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.xdist_group("ray")]

_spec = importlib.util.spec_from_file_location(
    "_wb_ray_cluster", Path(__file__).with_name("test_ray_cluster.py")
)
rc = sys.modules.get(_spec.name)
if rc is None:  # the shared cluster helpers
    rc = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(rc)

FAULTS = Path(__file__).resolve().parents[1] / "faults.py"


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    with rc.shared_cluster(tmp_path_factory) as c:
        yield c


GRID_ARGS = ["--param", "fast=5:30", "--param", "slow=40:120:5", "--objective", "sharpe:max"]


def _finished(tune_dir: Path) -> tuple[Path, set[str]]:
    """The one experiment directory under ``tune_dir`` and the ids of the trials its newest state file
    records as TERMINATED (Tune's format: trial_data = [[trial state JSON, run metadata JSON], ...])."""
    (exp,) = [p for p in tune_dir.iterdir() if p.is_dir()]
    state = json.loads(max(exp.glob("experiment_state-*.json")).read_text())
    trials = [json.loads(s) for s, _ in state["trial_data"]]
    return exp, {t["trial_id"] for t in trials if t["status"] == "TERMINATED"}


def _trace(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _kill_then_resume(c, tmp_path: Path, args: list[str], after: int) -> tuple[dict, set[str], list, list]:
    trace = tmp_path / "trace.jsonl"
    # the resumed run snapshots its state every 0.5 s (instead of 2 s); faults.py has the killed run write it
    # at every step of Tune's loop, so the kill lands right after the Nth trial however fast trials are
    env = {**c.env, "WORKBENCH_TUNE_TRACE": str(trace), "TUNE_GLOBAL_CHECKPOINT_S": "0.5"}
    cmd = rc.optimize_cmd(c.address, "SYN:1h", *args)
    assert cmd[1:4] == ["-m", "workbench", "optimize"]
    faulty = [sys.executable, str(FAULTS), f"kill:after-trials:{after}", "--", *cmd[3:]]
    killed = subprocess.run(faulty, env=env, capture_output=True, text=True, timeout=400)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    exp, finished = _finished(c.home / "tune")
    first = _trace(trace)
    assert len(finished) >= after  # the experiment directory holds the finished trials
    assert finished <= {t["trial_id"] for t in first}  # ... evaluated by the killed run
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    killed_jobs = {t["job_id"] for t in first}
    # the resumed run's evaluations (the killed run's worker may still have logged one after the kill)
    second = [t for t in _trace(trace) if t["job_id"] not in killed_jobs]
    assert second and len(killed_jobs) == 1
    # the trials that had finished were not evaluated again; every other one was, once
    assert {t["trial_id"] for t in second}.isdisjoint(finished)
    assert len({t["trial_id"] for t in second}) == len(second)
    assert not exp.exists()  # removed once the results are stored
    return json.loads(resumed.stdout), finished, first, second


def _stored(home: Path, oid: int) -> list[tuple]:
    rows = open_workspace(home).optimization_results(oid).sort("trial")
    return rows.select("trial", "parameters", "objectives", "metrics", "rank").rows()


def test_grid_resumes_after_kill(head, tmp_path):
    c = head.using(tmp_path / "lake")
    # 1 CPU: 4 chunks of 442 / 4 pairs, a few seconds each
    rc.store_series(c.home, "SYN:1h", 300_000)
    out, finished, first, second = _kill_then_resume(c, tmp_path, [*GRID_ARGS, "--algo", "grid"], 2)
    assert len(finished) < 4 and len(finished) + len(second) == 4
    assert out["trials"] == 26 * 17
    # the stored rows equal a direct sweep over the same bars (what an uninterrupted run stores)
    ws = open_workspace(c.home)
    direct = sweep(ws.bars("SYN:1h"), "sma_cross", {"fast": list(range(5, 31)),
                                                      "slow": list(range(40, 121, 5))})  # fmt: skip
    stored = ws.optimization_results(out["optimization_id"]).sort("trial")
    got = [(json.loads(p), json.loads(m)) for p, m in stored.select("parameters", "metrics").rows()]
    want = [
        ({"fast": r["fast"], "slow": r["slow"]},
         {m: None if isinstance(r[m], float) and not math.isfinite(r[m]) else r[m] for m in METRICS})
        for r in direct.iter_rows(named=True)
    ]  # fmt: skip
    assert got == want


def test_tpe_resumes_after_kill(head, tmp_path):
    # 20 one-combination trials (~0.3 s each): the kill lands well before the last one
    args = [*GRID_ARGS, "--algo", "tpe", "--trials", "20", "--seed", "3"]
    c = head.using(tmp_path / "lake")
    rc.store_series(c.home, "SYN:1h", 300_000)
    out, finished, first, second = _kill_then_resume(c, tmp_path, args, 3)
    assert out["trials"] == 20 and len(finished) < 20 and len(finished) + len(second) == 20
    clean = subprocess.run(rc.optimize_cmd(c.address, "SYN:1h", *args), env=c.env,
                           capture_output=True, text=True, timeout=400)  # fmt: skip
    assert clean.returncode == 0, clean.stderr[-3000:]
    again = json.loads(clean.stdout)
    # the same seeded, sequential (1 CPU) search: the resumed run stored what a clean run stores
    resumed_rows = [r[1:] for r in _stored(c.home, out["optimization_id"])]
    clean_rows = [r[1:] for r in _stored(c.home, again["optimization_id"])]
    assert resumed_rows == clean_rows
    assert out["pareto"] == again["pareto"]
