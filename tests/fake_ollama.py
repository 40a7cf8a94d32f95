"""FAKE Ollama server for tests — not Ollama. A tiny local HTTP server that speaks the shapes of Ollama's
documented REST API (https://github.com/ollama/ollama/blob/main/docs/api.md), so the LangChain/Ollama
client path can be tested on machines where no Ollama server can be installed:

* ``GET /api/tags``      -> ``{"models": [{"name", "model", "modified_at", "size", "digest", "details"}]}``
* ``POST /api/chat``     -> streamed NDJSON ``{"model","created_at","message":{"role","content"},"done":false}``
                            chunks, then a final ``{"done": true, "done_reason": "stop", ...counts}``
                            (one JSON object when ``"stream": false``)
* ``POST /api/generate`` -> the same with ``"response"`` instead of ``"message"``
* ``POST /api/embed``    -> ``{"model", "embeddings": [[...]]}`` (deterministic vectors)

Every request body is kept in ``server.requests``; ``reply`` (a function of the request) chooses the text.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "llama3.1:8b"
_NOW = "2026-01-01T00:00:00Z"


def _chunks(text: str, n: int = 3) -> list[str]:
    step = max(1, len(text) // n)
    return [text[i : i + step] for i in range(0, len(text), step)] or [""]


class FakeOllama:
    """``with FakeOllama(reply=fn) as fake: fake.url`` — a fake server on a free loopback port."""

    def __init__(
        self, reply: Callable[[dict[str, Any]], str] | None = None, models: tuple[str, ...] = (MODEL,)
    ):
        self.reply = reply or (lambda req: "The facts answer the question.")
        self.models = models
        self.requests: list[tuple[str, dict[str, Any]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/api/tags":
                    models = [
                        {
                            "name": m,
                            "model": m,
                            "modified_at": _NOW,
                            "size": 1,
                            "digest": hashlib.sha256(m.encode()).hexdigest(),
                            "details": {"format": "gguf", "family": "llama", "parameter_size": "8B"},
                        }
                        for m in fake.models
                    ]
                    self._send(200, json.dumps({"models": models}).encode())
                elif self.path in ("/", "/api/version"):
                    self._send(200, json.dumps({"version": "0.0.0-fake"}).encode())
                else:
                    self._send(404, b'{"error": "not found"}')

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.requests.append((self.path, body))
                model = body.get("model", "")
                if self.path in ("/api/chat", "/api/generate") and model not in fake.models:
                    self._send(404, json.dumps({"error": f"model '{model}' not found"}).encode())
                    return
                if self.path == "/api/embed":
                    inputs = body.get("input", [])
                    inputs = [inputs] if isinstance(inputs, str) else inputs
                    vecs = [[b / 255 for b in hashlib.sha256(t.encode()).digest()[:8]] for t in inputs]
                    self._send(200, json.dumps({"model": model, "embeddings": vecs}).encode())
                    return
                if self.path not in ("/api/chat", "/api/generate"):
                    self._send(404, b'{"error": "not found"}')
                    return
                text = fake.reply(body)
                key = "message" if self.path == "/api/chat" else "response"

                def part(t: str, done: bool) -> dict[str, Any]:
                    out: dict[str, Any] = {"model": model, "created_at": _NOW, "done": done}
                    out[key] = {"role": "assistant", "content": t} if key == "message" else t
                    if done:
                        out.update(
                            done_reason="stop", total_duration=1000, prompt_eval_count=10, eval_count=5
                        )
                    return out

                if body.get("stream", True):
                    lines = [part(c, False) for c in _chunks(text)] + [part("", True)]
                    data = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
                    self._send(200, data, "application/x-ndjson")
                else:
                    self._send(200, json.dumps(part(text, True)).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOllama:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def chats(self) -> list[dict[str, Any]]:
        return [body for path, body in self.requests if path == "/api/chat"]
