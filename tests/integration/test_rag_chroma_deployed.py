"""The Chroma server line the cluster deploys (infra/helm/chromadb/values.yaml: 0.6.3, the last Python server,
for its token auth), started for real from its own venv (`make chroma-server`), with the workbench's 1.x client:
index + ask with CHROMA_AUTH_TOKEN, a one-line refusal without it or with a wrong one."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import real

import workbench as wb
from workbench.errors import ConfigError
from workbench.rag import ask, index_backtests

ROOT = Path(__file__).resolve().parents[2]


def _pinned_version() -> str:
    m = re.search(r"^CHROMA_SERVER_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert m, "Makefile lacks CHROMA_SERVER_VERSION"
    return m.group(1)


def test_the_tested_server_is_the_deployed_one():
    values = yaml.safe_load((ROOT / "infra/helm/chromadb/values.yaml").read_text())
    assert values["image"]["tag"] == _pinned_version()


@pytest.fixture(scope="module")
def deployed_server(tmp_path_factory):
    chroma = ROOT / f".chroma-server-{_pinned_version()}" / "bin" / "chroma"
    if not chroma.exists():
        pytest.fail(f"{chroma} is missing: run `make chroma-server` (make test does)")
    token = secrets.token_hex(16)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CHROMA_SERVER_AUTHN_PROVIDER": "chromadb.auth.token_authn.TokenAuthenticationServerProvider",
           "CHROMA_SERVER_AUTHN_CREDENTIALS": token, "ANONYMIZED_TELEMETRY": "False"}  # fmt: skip
    data = tmp_path_factory.mktemp("chroma063")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, "chroma 0.6.3 server exited at start"
                time.sleep(0.3)
        else:
            pytest.fail("chroma 0.6.3 server did not listen in 90 s")
        yield f"http://127.0.0.1:{port}", token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_index_and_ask_against_the_deployed_server_with_its_token(deployed_server, tmp_path, monkeypatch):
    url, token = deployed_server
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CHROMA_HOST", url)
    monkeypatch.setenv("CHROMA_AUTH_TOKEN", token)
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    ws = wb.open(tmp_path / "lake")
    ws.ingest([real("mt5_history_html/mihawk2016_MT5Trade5.html")])
    report = index_backtests(ws)
    assert report.where == url and report.embedded == report.chunks > 0
    assert not (tmp_path / "lake" / "chroma").exists()
    assert index_backtests(ws).embedded == 0  # incremental against the server too
    a = ask(ws, "What were my best and worst trades?")
    assert a.llm is None and a.sources and any(s.score is not None for s in a.sources)


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_a_missing_or_wrong_token_is_one_line(deployed_server, tmp_path, monkeypatch, token):
    url, _ = deployed_server
    monkeypatch.setenv("CHROMA_HOST", url)
    if token:
        monkeypatch.setenv("CHROMA_AUTH_TOKEN", token)
    else:
        monkeypatch.delenv("CHROMA_AUTH_TOKEN", raising=False)
    ws = wb.open(tmp_path / "lake")
    with pytest.raises(ConfigError, match="refused the request.*CHROMA_AUTH_TOKEN") as e:
        index_backtests(ws)
    assert "\n" not in str(e.value)
