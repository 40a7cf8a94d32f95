"""Exact, metadata-filtered nearest-neighbour search over an in-memory copy of one collection.

Why: the chat's probes all carry a ``where`` filter (a backtest, a weekday, a drawdown episode, the
best-ranked trades). Chroma evaluates such a filter in its SQLite metadata store before the vector
search, and at 50,000 chunks that step alone took 26-68 ms (two-condition filters 50-80 ms per
query, p95 up to 98 ms; benchmarks/rag.py). A :class:`Mirror` holds the collection's ids, vectors,
texts and metadata in memory; a filter becomes one polars mask over the metadata frame and the
search one matrix-vector product over the rows it keeps: a few milliseconds, and exact rather than
HNSW's approximation. Chroma stays the store (and the search for unfiltered queries); the mirror is
loaded on the first filtered query and dropped whenever the index is written (see
:class:`workbench.rag.index.VectorIndex`). Filters use Chroma's ``where`` language
(:func:`mask`); one this module cannot read exactly (an unknown operator, a type mismatch) makes
:meth:`Mirror.search` answer ``None`` and the caller asks Chroma instead.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
import polars as pl

__all__ = ["Mirror", "Unsupported", "mask"]

SNAPSHOT_VERSION = 1

_PAGE = 5000  # rows per Chroma get while loading (one get of everything overflows SQLite's variables)


class Unsupported(ValueError):
    """A ``where`` this module does not evaluate; Chroma should."""


def _missing(op: str) -> bool:
    """What a row without the field gives: Chroma matches it for the negative operators only."""
    return op in ("$ne", "$nin")


_OPS: dict[str, Callable[[pl.Expr, Any], pl.Expr]] = {
    "$eq": lambda c, v: c == v,
    "$ne": lambda c, v: c != v,
    "$gt": lambda c, v: c > v,
    "$gte": lambda c, v: c >= v,
    "$lt": lambda c, v: c < v,
    "$lte": lambda c, v: c <= v,
    "$in": lambda c, v: c.is_in(list(v)),
    "$nin": lambda c, v: ~c.is_in(list(v)),
}


def _const(value: bool) -> pl.Expr:
    return pl.repeat(value, pl.len())  # a column of the frame's height, not a scalar


def _kind(v: Any) -> type:
    return bool if isinstance(v, bool) else float if isinstance(v, int | float) else str


def _field(frame: pl.DataFrame, name: str, cond: Any, mixed: frozenset[str]) -> pl.Expr:
    if name in mixed:
        raise Unsupported(f"{name} holds values of more than one type")
    op, value = next(iter(cond.items())) if isinstance(cond, dict) and len(cond) == 1 else ("$eq", cond)
    if op not in _OPS:
        raise Unsupported(f"operator {op!r}")
    values = list(value) if op in ("$in", "$nin") else [value]
    if not values and op in ("$in", "$nin"):
        return _const(op == "$nin")
    if name not in frame.columns:
        return _const(_missing(op))
    dtype = frame.schema[name]
    col_kind = bool if dtype == pl.Boolean else float if dtype.is_numeric() else str
    if any(_kind(v) is not col_kind for v in values):
        raise Unsupported(f"{name}: {type(values[0]).__name__} compared with {dtype}")
    return _OPS[op](pl.col(name), value).fill_null(_missing(op))


def mask(frame: pl.DataFrame, where: dict[str, Any], mixed: frozenset[str] = frozenset()) -> pl.Expr:
    """A boolean polars expression over ``frame`` (one row per chunk, one column per metadata key)
    for Chroma's ``where``: fields with ``$eq $ne $gt $gte $lt $lte $in $nin`` (a bare value is
    ``$eq``), combined by ``$and`` / ``$or``. Raises :class:`Unsupported` for anything else, and for
    a field in ``mixed`` (values of two kinds, which Chroma compares by type)."""
    if not isinstance(where, dict) or not where:
        raise Unsupported(f"where {where!r}")
    parts: list[pl.Expr] = []
    for key, cond in where.items():
        if key in ("$and", "$or"):
            subs = [mask(frame, w, mixed) for w in cond]
            if not subs:
                raise Unsupported(f"empty {key}")
            parts.append(pl.all_horizontal(subs) if key == "$and" else pl.any_horizontal(subs))
        elif key.startswith("$"):
            raise Unsupported(f"operator {key!r}")
        else:
            parts.append(_field(frame, key, cond, mixed))
    return pl.all_horizontal(parts) if len(parts) > 1 else parts[0]


@dataclass(frozen=True, slots=True, eq=False)
class Mirror:
    """One collection in memory: row ``i`` is chunk ``ids[i]`` with unit vector ``vectors[i]``."""

    ids: list[str]
    vectors: np.ndarray  # (n, dim) float32, L2-normalised
    documents: list[str]
    metadatas: Sequence[dict[str, Any]]
    frame: pl.DataFrame  # the metadatas as columns (absent keys null)
    mixed: frozenset[str] = frozenset()  # keys holding values of two kinds: left to Chroma

    @classmethod
    def load(cls, collection: Any, dim: int) -> Mirror:
        """Everything in a Chroma ``collection``, read in pages."""
        ids: list[str] = []
        docs: list[str] = []
        metas: list[dict[str, Any]] = []
        blocks: list[np.ndarray] = []
        offset = 0
        while True:
            res = collection.get(include=["embeddings", "documents", "metadatas"], limit=_PAGE, offset=offset)
            if not res["ids"]:
                break
            ids += res["ids"]
            docs += [d or "" for d in res["documents"]]
            metas += [dict(m or {}) for m in res["metadatas"]]
            blocks.append(np.asarray(res["embeddings"], dtype=np.float32).reshape(len(res["ids"]), dim))
            offset += len(res["ids"])
        vectors = np.vstack(blocks) if blocks else np.zeros((0, dim), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms > 0, norms, 1.0)
        kinds: dict[str, set[type]] = {}
        for m in metas:
            for key, v in m.items():
                kinds.setdefault(key, set()).add(_kind(v))
        mixed = frozenset(key for key, ks in kinds.items() if len(ks) > 1)
        rows = [{k: v for k, v in m.items() if k not in mixed} for m in metas] if mixed else metas
        frame = pl.from_dicts(rows, infer_schema_length=None) if rows else pl.DataFrame()
        return cls(ids, vectors, docs, metas, frame, mixed)

    def __len__(self) -> int:
        return len(self.ids)

    # -- on disk: a cold process answers from these files without importing Chroma --------------------
    def save(self, folder: Path, name: str, info: dict[str, Any]) -> None:
        """Write this copy under ``folder`` as ``<name>.json`` (``info``, e.g. the index's write stamp and
        model, plus the file names) with the vectors (``.npy``) and the ids, documents, metadata and
        metadata frame (parquet) beside it. The data files get fresh names and the JSON is replaced
        last, so a reader sees the old copy or the new one, never half of one; files of older copies
        are removed."""
        folder.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:12]
        files: dict[str, str] = {}
        if len(self):
            files = {k: f"{name}.{token}.{k}" for k in ("vectors.npy", "rows.parquet", "frame.parquet")}
            np.save(folder / files["vectors.npy"], np.ascontiguousarray(self.vectors, dtype=np.float32))
            pl.DataFrame(
                {
                    "id": self.ids,
                    "document": self.documents,
                    "metadata": [json.dumps(m, separators=(",", ":")) for m in self.metadatas],
                },
                schema={"id": pl.Utf8, "document": pl.Utf8, "metadata": pl.Utf8},
            ).write_parquet(folder / files["rows.parquet"], compression="lz4")
            self.frame.write_parquet(folder / files["frame.parquet"], compression="lz4")
        head = {**info, "version": SNAPSHOT_VERSION, "count": len(self), "dim": int(self.vectors.shape[1]),
                "mixed": sorted(self.mixed), "files": files}  # fmt: skip
        tmp = folder / f"{name}.json.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(head))
        os.replace(tmp, folder / f"{name}.json")
        keep = set(files.values())
        for old in folder.glob(f"{name}.*.*"):
            if old.name not in keep and not old.name.endswith(".tmp"):
                old.unlink(missing_ok=True)

    @staticmethod
    def head(folder: Path, name: str) -> dict[str, Any] | None:
        """The ``info`` of the copy of ``name`` on disk (with ``count``, ``files``), or None."""
        try:
            head = json.loads((folder / f"{name}.json").read_text())
        except (OSError, ValueError):
            return None
        return head if isinstance(head, dict) and head.get("version") == SNAPSHOT_VERSION else None

    @classmethod
    def open(cls, folder: Path, head: dict[str, Any]) -> Mirror | None:
        """The copy :meth:`save` wrote (``head`` from :meth:`head`); vectors memory-mapped, metadata
        decoded row by row when read. None when its files are gone (a newer copy replaced them)."""
        dim = int(head["dim"])
        if not head["count"]:
            return cls([], np.zeros((0, dim), dtype=np.float32), [], [], pl.DataFrame(), frozenset())
        files = head["files"]
        try:
            vectors = np.load(folder / files["vectors.npy"], mmap_mode="r")
            rows = pl.read_parquet(folder / files["rows.parquet"])
            frame = pl.read_parquet(folder / files["frame.parquet"])
        except (OSError, ValueError, pl.exceptions.PolarsError):
            return None
        if vectors.shape != (head["count"], dim) or rows.height != head["count"]:
            return None
        return cls(
            rows["id"].to_list(),
            vectors,
            rows["document"].to_list(),
            _JsonRows(rows["metadata"].to_list()),
            frame,
            frozenset(head.get("mixed") or ()),
        )

    def search(
        self, vector: np.ndarray, k: int, where: dict[str, Any] | None
    ) -> list[tuple[int, float]] | None:
        """``[(row, cosine similarity)]`` of the ``k`` nearest rows passing ``where``, best first;
        ``None`` when ``where`` must be left to Chroma."""
        if len(self) == 0 or k <= 0:
            return []
        if where:
            try:
                keep = self.frame.select(mask(self.frame, where, self.mixed).alias("m"))["m"].to_numpy()
            except (Unsupported, pl.exceptions.PolarsError):
                return None
            if keep.shape != (len(self),):  # metadata without columns: cannot tell
                return None
            rows = np.flatnonzero(keep)
        else:
            rows = np.arange(len(self))
        if rows.size == 0:
            return []
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        q = q / (np.linalg.norm(q) or 1.0)
        scores = self.vectors[rows] @ q
        if rows.size > k:
            top = np.argpartition(-scores, k - 1)[:k]
        else:
            top = np.arange(rows.size)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(rows[i]), float(scores[i])) for i in top]


class _JsonRows(Sequence[dict[str, Any]]):
    """Metadata dicts kept as JSON text, decoded when a row is read (a search reads ``k`` of them)."""

    def __init__(self, texts: list[str]) -> None:
        self._texts = texts

    def __len__(self) -> int:
        return len(self._texts)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [json.loads(t) for t in self._texts[i]]
        return json.loads(self._texts[i])
