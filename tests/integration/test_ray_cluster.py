"""A two-node Ray cluster on loopback (head + one worker, 1 CPU each): `workbench optimize --address`
runs its grid chunks on both nodes. Each node is a `ray start --block` process group that the test
stops itself (instead of `ray stop --force`, which would stop every Ray on a shared machine).

Ray 2.60 enables token authentication by default; every process here (both `ray start`s and the
optimize subprocess) shares one generated token through RAY_AUTH_MODE=token / RAY_AUTH_TOKEN, see
docs/optimize.md.

The helpers (`ray_cluster`, `shared_cluster`, `store_series`, `optimize_cmd`) are shared with
test_tune_resume.py and test_ray_dashboard.py, which load this file by path.

**Start-up on a busy machine.** A node's start has two hard windows in Ray 2.60 that no setting
widens: the raylet waits 15 s for its Python dashboard agent to write its port files (else it aborts:
"Timed out waiting for file .../dashboard_agent_listen_port_..."), and `ray start` waits 30 s for the
raylet to register ("The current node timed out during startup ... GCS has become overloaded"); with
2 cores and a load of 4-8 a cold agent import misses them. So:

* a node is ready when its `ray start` prints "Ray runtime started." (the node is registered): polled
  from its log, nothing else is started meanwhile (a polling `ray.init` in a subprocess costs seconds
  of CPU exactly when the agent needs them);
* a start that fails is retried (fresh ports, up to ``START_ATTEMPTS``) until ``START_TIMEOUT_S``;
* where the OS allows it (root, CAP_SYS_NICE) a node *starts* at a higher priority (nice ``START_NICE``)
  and is put back to normal once it is registered, with everything it started by then (prestarted
  workers included): the agents' imports win those 15 s against other load; the tests' work itself
  runs at normal priority;
* no autoscaler monitor (`--no-monitor`: a fixed test cluster), one Python process fewer at start-up;
* the Ray processes (and the drivers given ``Cluster.env``) import ray without building the RFC 3987
  grammar of ``rfc3987_syntax`` (~2 s of CPU each; ``ray_env/rfc3987_syntax`` says why);
* Ray's own timeouts that *are* settings are raised for every process (``RAY_TIMEOUTS``), so a node,
  a worker process or a trial actor that is slow under load is not declared dead;
* a module shares one head (``shared_cluster``) where its tests allow it; each test gets its own
  workspace (``Cluster.using``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.xdist_group("ray")]

RAY = Path(sys.executable).with_name("ray")
RAY_ENV = Path(__file__).with_name("ray_env")  # PYTHONPATH for the test clusters' processes
START_ATTEMPTS = 4
START_TIMEOUT_S = 420  # all attempts of all nodes of one cluster
START_NICE = -10  # during a node's start only, where allowed (see the module doc)
READY = "Ray runtime started."
# Ray's own timeouts (RayConfig, read from RAY_<name> by every Ray process), raised for a loaded machine
RAY_TIMEOUTS = {
    "RAY_gcs_rpc_server_reconnect_timeout_s": "180",  # 60: a raylet/worker gives up on a slow GCS
    "RAY_gcs_server_request_timeout_seconds": "180",  # 60: Python-side GCS requests
    "RAY_py_gcs_connect_timeout_s": "180",  # 30: ray.init / ray start connecting to the GCS
    "RAY_worker_register_timeout_seconds": "300",  # 60: a Python worker (a Tune trial actor) registering
    "RAY_health_check_initial_delay_ms": "30000",  # 5 000
    "RAY_health_check_timeout_ms": "30000",  # 10 000
    "RAY_health_check_period_ms": "5000",  # 3 000
    "RAY_health_check_failure_threshold": "12",  # 5: a node answers no check for ~1-2 min before it is dead
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raise_priority() -> None:  # in the child, before exec: inherited by everything the node starts
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, START_NICE)


def _normal_priority(proc: subprocess.Popen) -> None:
    """Back to nice 0: the node's processes, including those in their own process groups (workers)."""
    import psutil

    with contextlib.suppress(psutil.Error):
        root = psutil.Process(proc.pid)
        for p in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                if p.nice() < 0:
                    p.nice(0)


def _start(args: list[str], env: dict[str, str], log: Path, cpus: str | None = None) -> subprocess.Popen:
    """`ray start ... --block` in its own process group: stopping that group stops exactly this node
    (never `ray stop`, which would also stop other Ray sessions on the machine). Output goes to ``log``.
    ``cpus``: run the node (everything it starts) on these CPUs only (``taskset -c``)."""
    pin = ["taskset", "-c", cpus] if cpus else []
    with log.open("ab") as out:
        return subprocess.Popen([*pin, str(RAY), "start", *args, "--block"], env=env, start_new_session=True,
                                stdout=out, stderr=subprocess.STDOUT, preexec_fn=_raise_priority)  # fmt: skip


def _tail(log: Path, start: int = 0) -> str:
    return log.read_bytes()[start:].decode(errors="replace")[-3000:] if log.exists() else ""


def _stop(proc: subprocess.Popen, grace_s: float = 5) -> None:
    """SIGTERM to the node's group (the raylet unregisters the node), then SIGKILL what is left after
    ``grace_s`` (`ray start --block` itself can take 30 s to wind down on a busy machine; its workers
    exit with their raylet)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):  # the group's leftovers (gcs_server, agents)
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


def _agent_ports() -> list[str]:
    """Free ports for a node's agents: the defaults (e.g. the dashboard agent's 52365) collide with any other
    Ray on the machine (a notebook's local Ray in the other test worker), and the job agent then never
    registers ("No available agent to submit job")."""
    return [f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
            f"--metrics-export-port={free_port()}", f"--runtime-env-agent-port={free_port()}"]  # fmt: skip


def start_node(
    args, env: dict[str, str], log: Path, deadline: float, cpus: str | None = None
) -> subprocess.Popen:
    """Start a node (``args()`` gives a fresh argument list per attempt: new ports) and return once it
    printed READY; a start that exits first is retried. Fails with the log of the last attempt."""
    for attempt in range(1, START_ATTEMPTS + 1):
        offset = log.stat().st_size if log.exists() else 0
        proc = _start(args(), env, log, cpus)
        while READY not in _tail(log, offset):
            if proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        else:
            _normal_priority(proc)
            return proc
        timed_out = time.monotonic() > deadline
        _stop(proc)
        if timed_out or attempt == START_ATTEMPTS:
            what = "timed out" if timed_out else f"failed {attempt} times"
            pytest.fail(f"ray start {what}; last attempt's log ({log}):\n{_tail(log, offset)}")
        time.sleep(2 * attempt)  # let the machine breathe before the next attempt
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Cluster:
    address: str
    env: dict[str, str]  # WORKBENCH_HOME, the shared token and RAY_TIMEOUTS: give it to every process
    home: Path
    token: str
    dashboard: str | None  # http://127.0.0.1:PORT when started with one

    def using(self, home: Path) -> Cluster:
        """The same cluster with another workspace (one per test on a shared head)."""
        return replace(self, home=home, env={**self.env, "WORKBENCH_HOME": str(home)})


def _dashboard_ready(url: str, token: str, deadline: float) -> None:
    req = urllib.request.Request(f"{url}/api/version", headers={"Authorization": f"Bearer {token}"})
    while True:
        with contextlib.suppress(urllib.error.URLError, OSError):
            with urllib.request.urlopen(req, timeout=10) as r:
                if r.status == 200:
                    return
        assert time.monotonic() < deadline, f"the dashboard at {url} never answered"
        time.sleep(0.5)


@contextlib.contextmanager
def ray_cluster(
    tmp_path: Path,
    *,
    workers: int = 0,
    dashboard: bool = False,
    cpus: list[str] | None = None,
    token: str | None = None,
    num_cpus: int = 1,
) -> Iterator[Cluster]:
    """A head (+ ``workers`` worker nodes), ``num_cpus`` Ray CPUs each, on loopback with token
    authentication (a fresh token unless given). ``cpus``: per node (head first), the CPUs it runs on
    (``taskset -c`` lists; benchmarks/optimize.py)."""
    if not RAY.exists():
        pytest.skip(f"{RAY} not found")
    home = tmp_path / "lake"
    temp = tempfile.mkdtemp(prefix="wbray", dir="/tmp")  # short: Ray's socket paths must stay < 108 chars
    token = token or secrets.token_hex(32)
    env = {**os.environ, **RAY_TIMEOUTS, "WORKBENCH_HOME": str(home), "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}  # fmt: skip
    env.pop("RAY_ADDRESS", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(RAY_ENV), os.environ.get("PYTHONPATH")) if p)
    # The dashboard's own metrics server listens on a fixed port (44227) unless told otherwise: two clusters
    # of two test workers at once clashed on it ("Address already in use") and one dashboard went away.
    env["DASHBOARD_METRIC_PORT"] = str(free_port())
    port = free_port()
    address = f"127.0.0.1:{port}"
    url = f"http://127.0.0.1:{free_port()}" if dashboard else None

    def head() -> list[str]:
        args = ["--head", f"--port={port}", "--node-ip-address=127.0.0.1", f"--num-cpus={num_cpus}", "--no-monitor",
                "--disable-usage-stats", f"--temp-dir={temp}", f"--ray-client-server-port={free_port()}",
                *_agent_ports()]  # fmt: skip
        if url:
            return [*args, "--include-dashboard=true", "--dashboard-host=127.0.0.1",
                    f"--dashboard-port={url.rpartition(':')[2]}"]  # fmt: skip
        return [*args, "--include-dashboard=false"]

    def worker() -> list[str]:
        return [
            f"--address={address}",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={num_cpus}",
            *_agent_ports(),
        ]

    nodes: list[subprocess.Popen] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        pinned = cpus or [None] * (workers + 1)
        nodes.append(start_node(head, env, tmp_path / "ray-head.log", deadline, pinned[0]))
        for i in range(workers):
            nodes.append(
                start_node(worker, env, tmp_path / f"ray-worker{i + 1}.log", deadline, pinned[i + 1])
            )
        if url:
            _dashboard_ready(url, token, deadline)
        yield Cluster(address, env, home, token, url)
    finally:
        for proc in reversed(nodes):
            _stop(proc)
        shutil.rmtree(temp, ignore_errors=True)


@contextlib.contextmanager
def shared_cluster(tmp_path_factory: pytest.TempPathFactory, **kw) -> Iterator[Cluster]:
    """:func:`ray_cluster` for a module-scoped fixture (each test then takes ``cluster.using(tmp_path)``)."""
    with ray_cluster(tmp_path_factory.mktemp("ray"), **kw) as c:
        yield c


@contextlib.contextmanager
def connected(tmp_path_factory: pytest.TempPathFactory, **kw) -> Iterator[Cluster]:
    """:func:`shared_cluster` with this process connected to it as a Ray driver (``ray.init``), for
    tests that call ``run_optimize`` in-process; disconnects and stops it at the end."""
    import ray
    from ray._raylet import AuthenticationTokenLoader, Config

    def reload() -> None:  # this process read RAY_AUTH_MODE / the token / RAY_<config> when ray was imported
        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()

    with shared_cluster(tmp_path_factory, **kw) as c:
        try:
            with pytest.MonkeyPatch.context() as mp:
                for key, value in c.env.items():
                    if key.startswith("RAY_"):
                        mp.setenv(key, value)
                mp.delenv("RAY_ADDRESS", raising=False)
                reload()
                ray.init(address=c.address, log_to_driver=False, logging_level="ERROR")
                try:
                    yield c
                finally:
                    ray.shutdown()
        finally:
            reload()  # the environment as it was


def store_series(home: Path, key: str, n: int, seed: int = 1) -> None:
    """A synthetic ``n``-bar hourly random walk stored as bars ``key`` (``SYMBOL:TF``) in ``home``."""
    import numpy as np
    import polars as pl

    from workbench.ingest.load import write_bars
    from workbench.ingest.records import BARS_SCHEMA, conform
    from workbench.workspace import open_workspace

    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    spread = np.abs(rng.normal(0, 0.001, n)) * close
    open_ = np.concatenate([[close[0]], close[:-1]])
    symbol, _, tf = key.partition(":")
    start = pl.datetime(2000, 1, 1)
    frame = pl.DataFrame(
        {
            "symbol": [symbol] * n,
            "timeframe": [tf] * n,
            "ts": pl.datetime_range(start, start + pl.duration(hours=n - 1), "1h", eager=True),
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": np.ones(n),
        }
    )
    ws = open_workspace(home)
    with ws.store.transaction() as con:
        write_bars(con, conform(frame, BARS_SCHEMA))


def optimize_cmd(address: str, data: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "workbench", "optimize", "--strategy", "sma_cross", "--data", data,
            "--address", address, "--json", *args]  # fmt: skip


def test_optimize_on_two_nodes(tmp_path):
    with ray_cluster(tmp_path, workers=1) as c:
        # 600k bars x 1 605 pairs / 8 chunks: a chunk is ~1 s of kernel work (one pass per chunk), longer
        # than a cold trial actor takes to start on the worker node, so both nodes get chunks
        store_series(c.home, "SYN:1h", 600_000)
        p = subprocess.run(
            optimize_cmd(c.address, "SYN:1h", "--param", "fast=5:50", "--param", "slow=10:200:5",
                         "--objective", "sharpe:max", "--algo", "grid"),
            env=c.env, capture_output=True, text=True, timeout=400,
        )  # fmt: skip
        assert p.returncode == 0, p.stderr[-3000:]
        out = json.loads(p.stdout)
        assert out["trials"] == 1605  # every fast < slow pair once
        assert len(out["nodes"]) == 2, out["nodes"]
