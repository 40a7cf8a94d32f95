"""The Ray dashboard of a token-authenticated head answers while `workbench optimize --address` runs a
sweep on it: with `Authorization: Bearer <token>` its API returns 200 and JSON describing this cluster
(version, one node, the running Tune trial actor); without the token, or with a wrong one, it refuses
(401/403). The optimize JSON names the dashboard (`dashboard_url`). Jobs go through the Jobs API:
`workbench optimize` itself and the KubeRay example job (infra/kuberay/jobs/sma_sweep.py), which runs
the product's optimisation. The module's tests share one head (with its dashboard), each with its own
workspace."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.xdist_group("ray")]

_spec = importlib.util.spec_from_file_location(
    "_wb_ray_cluster", Path(__file__).with_name("test_ray_cluster.py")
)
rc = sys.modules.get(_spec.name)
if rc is None:  # the shared cluster helpers
    rc = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(rc)


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    with rc.shared_cluster(tmp_path_factory, dashboard=True) as c:
        yield c


def _get(url: str, token: str | None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _json(url: str, token: str) -> dict:
    status, body = _get(url, token)
    assert status == 200, (url, status, body[:300])
    return json.loads(body)


def _trial_actors(c) -> list[dict]:
    data = _json(f"{c.dashboard}/api/v0/actors?limit=1000", c.token)
    actors = data["data"]["result"]["result"]
    return [a for a in actors if a["state"] == "ALIVE" and "ImplicitFunc" in (a.get("class_name") or "")]


def test_dashboard_answers_with_the_token_while_a_sweep_runs(head, tmp_path):
    import ray

    c = head.using(tmp_path / "lake")
    # 1 605 pairs on 500k bars with 1 CPU: ~6 s of kernel work on a quiet machine plus Tune's, a window
    # several times what the eight requests below take
    rc.store_series(c.home, "SYN:1h", 500_000)
    cmd = rc.optimize_cmd(c.address, "SYN:1h", "--param", "fast=5:50", "--param", "slow=10:200:5",
                          "--objective", "sharpe:max", "--algo", "grid")  # fmt: skip
    proc = subprocess.Popen(cmd, env=c.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not _trial_actors(c):  # the sweep's Tune trial actor is up: the sweep is running
            assert proc.poll() is None, f"optimize ended first: {proc.communicate()[1][-2000:]}"
            assert time.monotonic() < deadline, "no Tune trial actor appeared"
            time.sleep(0.5)
        version = _json(f"{c.dashboard}/api/version", c.token)
        assert version["ray_version"] == ray.__version__
        nodes = _json(f"{c.dashboard}/nodes?view=summary", c.token)
        assert nodes["result"] is True and len(nodes["data"]["summary"]) == 1  # the head alone
        tasks = _json(f"{c.dashboard}/api/v0/tasks?limit=100", c.token)
        assert tasks["result"] is True and tasks["data"]["result"]["total"] >= 1
        for path in ("/api/version", "/nodes?view=summary", "/api/v0/tasks?limit=5"):
            assert _get(c.dashboard + path, None)[0] in (401, 403), path
            assert _get(c.dashboard + path, "0" * 64)[0] in (401, 403), path
        assert proc.poll() is None  # every answer above came while the sweep was running
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    result = json.loads(out)
    assert result["trials"] == 1605 and result["dashboard_url"] == c.dashboard


def test_optimize_submitted_through_the_jobs_api(head, tmp_path):
    """The documented cluster route: `ray job submit --address http://HEAD:DASHBOARD -- workbench optimize`
    (token auth on); the job's driver finds the cluster itself and stores into the workspace it is given."""
    c = head.using(tmp_path / "lake")
    rc.store_series(c.home, "SYN:1h", 20_000)
    runtime_env = json.dumps({"env_vars": {"WORKBENCH_HOME": str(c.home), "HF_HUB_OFFLINE": "1"}})
    cmd = [str(rc.RAY), "job", "submit", "--address", c.dashboard, "--runtime-env-json", runtime_env, "--",
           sys.executable, "-m", "workbench", "optimize", "--strategy", "sma_cross", "--data", "SYN:1h",
           "--param", "fast=5:20:5", "--param", "slow=30:60:10", "--algo", "grid", "--json"]  # fmt: skip
    deadline = time.monotonic() + 120
    while True:  # right after `ray start` the head's job agent may not be registered yet
        p = subprocess.run(cmd, env=c.env, capture_output=True, text=True, timeout=400)
        if p.returncode == 0 or "No available agent" not in p.stdout + p.stderr:
            break
        assert time.monotonic() < deadline, "the head's job agent never came up"
        time.sleep(3)
    assert p.returncode == 0, (p.stdout[-3000:], p.stderr[-3000:])
    assert "succeeded" in p.stdout.lower()
    line = next(ln for ln in reversed(p.stdout.splitlines()) if ln.lstrip().startswith('{"optimization_id"'))
    result = json.loads(line)
    assert result["trials"] == 16 and len(result["nodes"]) == 1
    # stored in the workspace the job was given, readable from here
    from workbench.workspace import open_workspace

    rows = open_workspace(c.home).optimization_results(result["optimization_id"])
    assert rows.height == 16
    # without the token the Jobs API refuses the submission
    env = {k: v for k, v in c.env.items() if k != "RAY_AUTH_TOKEN"}
    denied = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert denied.returncode != 0


def _submit(c, entrypoint: list[str], runtime_env: dict, *extra: str) -> subprocess.CompletedProcess:
    cmd = [str(rc.RAY), "job", "submit", "--address", c.dashboard, "--runtime-env-json", json.dumps(runtime_env),
           *extra, "--", *entrypoint]  # fmt: skip
    deadline = time.monotonic() + 120
    while True:  # right after `ray start` the head's job agent may not be registered yet
        p = subprocess.run(cmd, env=c.env, capture_output=True, text=True, timeout=400)
        if p.returncode == 0 or "No available agent" not in p.stdout + p.stderr:
            return p
        assert time.monotonic() < deadline, "the head's job agent never came up"
        time.sleep(3)


def test_the_kuberay_example_job_runs_the_products_optimisation(head, tmp_path):
    """infra/kuberay/jobs/sma_sweep.py submitted as the docs and the RayJob do (Jobs API, its folder as the
    working directory): it stores the product's optimisation (run_optimize on the fused engine), whose
    rows equal a direct `workbench.backtest.sweep` of the same grid with the same engine settings."""
    from workbench.backtest import METRICS, sweep
    from workbench.workspace import open_workspace

    c = head.using(tmp_path / "sweeps")
    args = ["--workspace", str(c.home), "--data", "GOOG:1d", "--algo", "grid", "--param", "fast=5:20:5",
            "--param", "slow=30:60:10", "--objective", "sharpe:max", "--commission", "2bp", "--direction", "both"]  # fmt: skip
    p = _submit(c, [sys.executable, "sma_sweep.py", *args], {"env_vars": {"HF_HUB_OFFLINE": "1"}},
                "--working-dir", str(ROOT / "infra" / "kuberay" / "jobs"))  # fmt: skip
    assert p.returncode == 0 and "succeeded" in p.stdout.lower(), (p.stdout[-3000:], p.stderr[-3000:])
    out = json.loads(
        next(ln for ln in reversed(p.stdout.splitlines()) if ln.lstrip().startswith('{"optimization_id"'))
    )
    assert out["trials"] == 16 and out["nodes"] and out["workspace"] == str(c.home)
    assert out["settings"]["commission"] == "2bp" and out["settings"]["direction"] == "both"
    ws = open_workspace(c.home)
    grid = {"fast": [5, 10, 15, 20], "slow": [30, 40, 50, 60]}
    direct = sweep(ws.bars("GOOG:1d"), "sma_cross", grid, **out["settings"])  # every setting the job echoed
    stored = ws.optimization_results(out["optimization_id"]).sort("trial")
    got = [(json.loads(p), json.loads(m)) for p, m in stored.select("parameters", "metrics").rows()]
    want = [({"fast": r["fast"], "slow": r["slow"]},
             {m: None if isinstance(r[m], float) and not math.isfinite(r[m]) else r[m] for m in METRICS})
            for r in direct.iter_rows(named=True)]  # fmt: skip
    assert got == want
    assert out["best"] == out["pareto"][0]["params"]  # one objective: the front is the best trial
