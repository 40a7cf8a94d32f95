"""A real `workbench api` (uvicorn) in a subprocess on loopback, for tests/integration/test_service_*.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "integration-" + "b" * 40
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Api:
    proc: subprocess.Popen
    url: str
    home: Path
    log: Path

    def stop(self, timeout: float = 30) -> tuple[int, str]:
        """SIGTERM (what Kubernetes sends), wait; returns (exit code, stdout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return self.proc.returncode, out


def start_api(home: Path, *args: str, env: dict[str, str] | None = None, wait_s: float = 90) -> Api:
    port = free_port()
    log = home.parent / f"api-{port}.log"
    full_env = {
        **os.environ,
        "WORKBENCH_HOME": str(home),
        "WORKBENCH_API_TOKEN": TOKEN,
        "OLLAMA_HOST": f"http://127.0.0.1:{free_port()}",  # no LLM: nothing listens there
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "api", "--port", str(port), "--json", *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"workbench api exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return Api(proc, url, home, log)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"workbench api did not answer /health in {wait_s} s: {log.read_text()[-2000:]}")
