"""Ask questions about one's own trades and backtests, on one's own machine.

>>> from workbench import rag
>>> rag.index_backtests(ws)                     # embed what is not indexed yet (Chroma under <home>/chroma)
>>> a = rag.ask(ws, "Which weekdays lose money?")
>>> a.answer, a.facts, a.sources, a.llm         # llm is None when no model was used

Facts come from DuckDB queries over the stored trades (:mod:`workbench.rag.facts`); retrieval
(:mod:`workbench.rag.index`, local MiniLM embeddings from :mod:`workbench.rag.embed`) supplies
context and sources; an Ollama model (:mod:`workbench.rag.llm`) may add prose. See docs/rag.md.
Needs the ``rag`` extra; the heavy modules are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ask", "Answer", "Source", "index_backtests", "IndexReport", "VectorIndex", "open_index"]

_WHERE = {
    "ask": "workbench.rag.answer",
    "Answer": "workbench.rag.answer",
    "Source": "workbench.rag.answer",
    "index_backtests": "workbench.rag.index",
    "IndexReport": "workbench.rag.index",
    "VectorIndex": "workbench.rag.index",
    "open_index": "workbench.rag.index",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.rag' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
