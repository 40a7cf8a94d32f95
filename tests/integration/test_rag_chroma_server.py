"""The client/server path: a real `chroma run` server on loopback, started here and stopped by PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import real

import workbench as wb
from workbench.rag import ask, index_backtests
from workbench.rag.index import COLLECTION_NAMES

CHROMA = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [CHROMA, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("chroma run did not start listening in 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def test_index_and_ask_through_a_chroma_server(chroma_server, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CHROMA_HOST", chroma_server)
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    ws = wb.open(tmp_path / "lake")
    ws.ingest([real("mt5_history_html/mihawk2016_MT5Trade5.html")])
    report = index_backtests(ws)
    assert report.where == chroma_server and report.embedded == report.chunks > 0
    assert not (tmp_path / "lake" / "chroma").exists()  # nothing embedded locally
    import chromadb

    host, port = chroma_server.rsplit(":", 1)
    client = chromadb.HttpClient(host=host.split("//")[1], port=int(port))
    assert sum(client.get_collection(n).count() for n in COLLECTION_NAMES) == report.chunks
    assert index_backtests(ws).embedded == 0
    a = ask(ws, "What were my best and worst trades?")
    assert a.llm is None and any(s.score is not None for s in a.sources)


def test_unreachable_chroma_host_is_one_line(tmp_path, monkeypatch):
    from workbench.errors import ConfigError

    monkeypatch.setenv("CHROMA_HOST", f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(ConfigError, match="no Chroma server answers"):
        index_backtests(wb.open(tmp_path / "lake"))
