"""A two-node Ray cluster on loopback (head + one worker, 1 CPU each): `workbench optimize --address`
runs trials on both nodes. Each node is a `ray start --block` process group that the test stops
itself (instead of `ray stop --force`, which would stop every Ray on a shared machine).

Ray 2.60 enables token authentication by default; every process here (both `ray start`s and the
optimize subprocess) shares one generated token through RAY_AUTH_MODE=token / RAY_AUTH_TOKEN, see
docs/optimize.md.
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
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.xdist_group("ray")]

RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """`ray start ... --block` in its own process group: stopping that group stops exactly this node
    (never `ray stop`, which would also stop other Ray sessions on the machine)."""
    return subprocess.Popen([str(RAY), "start", *args, "--block"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def _stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _alive_nodes(address: str, env: dict[str, str]) -> int:
    code = f"import ray; ray.init(address={address!r}, logging_level='ERROR'); "
    code += "print(sum(n['Alive'] for n in ray.nodes()))"
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    return int(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 and p.stdout.strip() else 0


def test_optimize_on_two_nodes(tmp_path):
    if not RAY.exists():
        pytest.skip(f"{RAY} not found")
    home = tmp_path / "lake"
    temp = tempfile.mkdtemp(prefix="wbray", dir="/tmp")  # short: Ray's socket paths must stay < 108 chars
    env = {**os.environ, "WORKBENCH_HOME": str(home), "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0"}  # fmt: skip
    env.pop("RAY_ADDRESS", None)
    port = _free_port()
    address = f"127.0.0.1:{port}"
    subprocess.run([sys.executable, "-m", "workbench", "data", "samples"], env=env, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    nodes: list[subprocess.Popen] = []
    try:
        nodes.append(_start(["--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
                             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"], env))  # fmt: skip
        deadline = time.monotonic() + 120
        while _alive_nodes(address, env) < 1:
            assert time.monotonic() < deadline and nodes[0].poll() is None, "the head node did not start"
            time.sleep(2)
        nodes.append(_start([f"--address={address}", "--node-ip-address=127.0.0.1", "--num-cpus=1"], env))
        while _alive_nodes(address, env) < 2:
            assert time.monotonic() < deadline and nodes[1].poll() is None, "the worker node did not join"
            time.sleep(2)
        p = subprocess.run(
            [sys.executable, "-m", "workbench", "optimize", "--strategy", "sma_cross", "--data", "EURUSD:1h",
             "--param", "fast=5:30", "--param", "slow=40:120:5", "--objective", "sharpe:max",
             "--algo", "random", "--trials", "40", "--address", address, "--json"],
            env=env, capture_output=True, text=True, timeout=400,
        )  # fmt: skip
        assert p.returncode == 0, p.stderr[-3000:]
        out = json.loads(p.stdout)
        assert out["trials"] == 40  # enough trials that the second node's actor is up before the first ends
        assert len(out["nodes"]) == 2, out["nodes"]
    finally:
        for proc in reversed(nodes):
            _stop(proc)
        shutil.rmtree(temp, ignore_errors=True)
