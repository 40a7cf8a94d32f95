"""The LangChain/Ollama client against the FAKE Ollama server (tests/fake_ollama.py), and its failures."""

from __future__ import annotations

import socket
import time

from fake_ollama import MODEL, FakeOllama

from workbench.rag.llm import chat

MSGS = [("system", "rules"), ("human", "QUESTION: hi")]


def test_chat_through_langchain_ollama_streams_ndjson() -> None:
    with FakeOllama(reply=lambda req: "Fridays lose money.") as fake:
        reply = chat(MSGS, host=fake.url, model=MODEL, timeout=10)
        assert reply.error is None and reply.text == "Fridays lose money." and reply.model == MODEL
        body = fake.chats()[-1]
        assert body["model"] == MODEL and body["messages"][0] == {"role": "system", "content": "rules"}
        assert body["options"]["temperature"] == 0
        assert "tools" not in body or not body["tools"]  # the model gets no tools


def test_no_server_is_an_error_not_an_exception() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    reply = chat(MSGS, host=f"http://127.0.0.1:{port}", model=MODEL, timeout=2)
    assert reply.text is None and "no Ollama server" in reply.error


def test_unknown_model_is_an_error() -> None:
    with FakeOllama() as fake:
        reply = chat(MSGS, host=fake.url, model="nope:1b", timeout=5)
    assert reply.text is None and "nope:1b" in reply.error


def test_timeout_is_explicit_and_caught() -> None:
    def slow(req):
        time.sleep(3)
        return "late"

    with FakeOllama(reply=slow) as fake:
        t0 = time.perf_counter()
        reply = chat(MSGS, host=fake.url, model=MODEL, timeout=0.5)
        assert time.perf_counter() - t0 < 2.9
    assert reply.text is None and "failed" in reply.error


def test_fake_speaks_generate_and_embed() -> None:
    import httpx

    with FakeOllama(reply=lambda req: "abc") as fake:
        r = httpx.post(f"{fake.url}/api/generate", json={"model": MODEL, "prompt": "x"})
        lines = [__import__("json").loads(x) for x in r.text.splitlines()]
        assert "".join(x["response"] for x in lines) == "abc" and lines[-1]["done"] is True
        e = httpx.post(f"{fake.url}/api/embed", json={"model": MODEL, "input": ["a", "b"]}).json()
        assert len(e["embeddings"]) == 2
