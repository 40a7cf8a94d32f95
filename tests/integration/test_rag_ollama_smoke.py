"""Smoke test against a REAL Ollama, when OLLAMA_HOST answers (the one allowed skip otherwise)."""

from __future__ import annotations

import os

import httpx
import pytest
from conftest import real

import workbench as wb
from workbench.config import settings
from workbench.rag import ask, index_backtests


def _ollama() -> str | None:
    host = settings().ollama_host
    try:
        tags = httpx.get(f"{host}/api/tags", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return None
    return host if any(m.get("name") == settings().ollama_model for m in tags.get("models", [])) else None


@pytest.mark.slow
@pytest.mark.skipif(
    _ollama() is None,
    reason=f"no real Ollama with model {settings().ollama_model} at OLLAMA_HOST={settings().ollama_host}",
)
def test_real_ollama_answers(tmp_path):
    os.environ["HF_HUB_OFFLINE"] = "1"
    ws = wb.open(tmp_path / "lake")
    ws.ingest([real("mt4_tester_html/reuniware_jcspatterns_gbpjpy_fr.htm")])
    index_backtests(ws)
    a = ask(ws, "Which weekdays lose money?")
    assert a.facts and ("Losing weekdays" in a.answer)
    assert a.llm == settings().ollama_model or "discarded" in a.note
