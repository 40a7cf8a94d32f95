"""A two-node Ray cluster on loopback (head + one worker, 1 CPU each): `workbench optimize --address`
runs its grid chunks on both nodes. Each node is a `ray start --block` process group that the test
stops itself (instead of `ray stop --force`, which would stop every Ray on a shared machine).

Ray 2.60 enables token authentication by default; every process here (both `ray start`s and the
optimize subprocess) shares one generated token through RAY_AUTH_MODE=token / RAY_AUTH_TOKEN, see
docs/optimize.md.

The helpers (`ray_cluster`, `store_series`, `optimize_cmd`) are shared with test_tune_resume.py and
test_ray_dashboard.py, which load this file by path.
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.xdist_group("ray")]

RAY = Path(sys.executable).with_name("ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """`ray start ... --block` in its own process group: stopping that group stops exactly this node
    (never `ray stop`, which would also stop other Ray sessions on the machine). Output goes to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen([str(RAY), "start", *args, "--block"], env=env, start_new_session=True,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""


def _stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):  # the group's leftovers (gcs_server, monitor)
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


def _alive_nodes(address: str, env: dict[str, str]) -> int:
    code = f"import ray; ray.init(address={address!r}, logging_level='ERROR', log_to_driver=False); "
    code += "print('ALIVE', sum(n['Alive'] for n in ray.nodes()))"
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    counts = [int(line.split()[1]) for line in p.stdout.splitlines() if line.startswith("ALIVE ")]
    return counts[-1] if p.returncode == 0 and counts else 0


@dataclass(frozen=True)
class Cluster:
    address: str
    env: dict[str, str]  # WORKBENCH_HOME and the shared token: give it to every process
    home: Path
    token: str
    dashboard: str | None  # http://127.0.0.1:PORT when started with one


def _agent_ports() -> list[str]:
    """Free ports for a node's agents: the defaults (e.g. the dashboard agent's 52365) collide with any other
    Ray on the machine (a notebook's local Ray in the other test worker), and the job agent then never
    registers ("No available agent to submit job")."""
    return [f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
            f"--metrics-export-port={free_port()}", f"--runtime-env-agent-port={free_port()}"]  # fmt: skip


@contextlib.contextmanager
def ray_cluster(tmp_path: Path, *, workers: int = 0, dashboard: bool = False) -> Iterator[Cluster]:
    """A head (+ ``workers`` worker nodes), 1 CPU each, on loopback with token authentication."""
    if not RAY.exists():
        pytest.skip(f"{RAY} not found")
    home = tmp_path / "lake"
    temp = tempfile.mkdtemp(prefix="wbray", dir="/tmp")  # short: Ray's socket paths must stay < 108 chars
    token = secrets.token_hex(32)
    env = {**os.environ, "WORKBENCH_HOME": str(home), "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}  # fmt: skip
    env.pop("RAY_ADDRESS", None)
    env.pop("WORKBENCH_FAULT", None)
    port = free_port()
    address = f"127.0.0.1:{port}"
    head = [f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats",
            f"--temp-dir={temp}", f"--ray-client-server-port={free_port()}"]  # fmt: skip
    url = None
    if dashboard:
        dport = free_port()
        head += ["--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dport}"]
        url = f"http://127.0.0.1:{dport}"
    else:
        head += ["--include-dashboard=false"]
    nodes: list[subprocess.Popen] = []
    try:
        log = tmp_path / "ray-head.log"
        nodes.append(_start(["--head", *head, *_agent_ports()], env, log))
        deadline = time.monotonic() + 180
        while _alive_nodes(address, env) < 1:
            assert time.monotonic() < deadline and nodes[0].poll() is None, f"no head node:\n{_tail(log)}"
            time.sleep(2)
        for i in range(workers):
            log = tmp_path / f"ray-worker{i + 1}.log"
            args = [f"--address={address}", "--node-ip-address=127.0.0.1", "--num-cpus=1", *_agent_ports()]
            nodes.append(_start(args, env, log))
            while _alive_nodes(address, env) < 2 + i:
                assert time.monotonic() < deadline and nodes[-1].poll() is None, f"no worker:\n{_tail(log)}"
                time.sleep(2)
        yield Cluster(address, env, home, token, url)
    finally:
        for proc in reversed(nodes):
            _stop(proc)
        shutil.rmtree(temp, ignore_errors=True)


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
