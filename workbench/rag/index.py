"""The vector index: Chroma collections of chunk embeddings, kept in step with ``embeddings_metadata``.

* **Where.** An embedded ``chromadb.PersistentClient`` under ``<workspace>/chroma`` by default;
  ``CHROMA_HOST`` (``http://host:port`` or ``host:port``) selects a Chroma server instead.
* **Incremental.** A chunk is embedded only when its id is not yet in the catalog table
  ``embeddings_metadata`` with the same text hash and model, or is missing from Chroma (a new
  server, a deleted folder). Indexing a new backtest embeds only its chunks; re-indexing embeds
  nothing twice. Chunks a backtest no longer produces are deleted from both.
* **Batched.** Texts are embedded ``batch`` at a time, each batch written to Chroma and then to the
  catalog in one transaction, so an interrupted run keeps what it finished.
* **One model per index.** Each collection records in its metadata (``embed_model``) which model and
  backend made its vectors (``all-MiniLM-L6-v2@onnx-int8``); opening it with another backend refuses
  to query or add (:class:`~workbench.errors.ConfigError` naming the fix) until it is re-embedded
  (``workbench index --reembed`` / ``index_backtests(ws, reembed=True)``). Collections written before
  this was recorded were made by ``@torch``.
* **Search in memory.** With the embedded store, queries (filtered or not) run on an in-memory copy of
  the collection (:class:`workbench.rag.exact.Mirror`): exact, and 5-10x faster than Chroma's own
  filtered search at 50,000 chunks. The copy is loaded on the first query and dropped when the index
  changes: every write through this class replaces the stamp file
  ``<workspace>/chroma/workbench-writes.stamp`` (a fresh random token), which other processes' copies
  check (one ``stat`` per query). Collections above ``WORKBENCH_RAG_EXACT_MAX`` chunks, and Chroma
  servers, are searched by Chroma.
* **Copies on disk.** Each copy is also written to ``<workspace>/chroma/workbench-mirror/`` (vectors
  as ``.npy``, memory-mapped when read; ids, texts and metadata as parquet), tagged with the stamp
  token it was made at and the model; ``index_backtests`` refreshes them after writing. A fresh process
  (``workbench ask``) whose copies carry the current token answers without importing Chroma at all
  (1.5-3.5 s of imports); the Chroma client is opened on first need.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np
import polars as pl

from workbench.config import settings
from workbench.errors import ConfigError, MissingDependencyError
from workbench.rag.chunks import COLLECTIONS, Chunk, chunks_for
from workbench.rag.exact import Mirror
from workbench.store import Q, utcnow

if TYPE_CHECKING:
    from workbench.workspace import Workspace

__all__ = ["VectorIndex", "Hit", "IndexReport", "index_backtests", "open_index"]

COLLECTION_NAMES = tuple(dict.fromkeys(COLLECTIONS.values()))
_GET_BATCH = 2000
LEGACY_MODEL = "all-MiniLM-L6-v2@torch"  # what made collections that do not record their model
STAMP = "workbench-writes.stamp"  # replaced on every write: in-memory copies of older content are stale
SNAPSHOTS = "workbench-mirror"  # the in-memory copies on disk, tagged with the stamp they were made at


def _chroma() -> tuple[Any, Any]:
    """``chromadb`` and its client settings (imported on first use: 1.5-3.5 s in a fresh process)."""
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError:
        raise MissingDependencyError("chromadb", "rag") from None
    return chromadb, ChromaSettings(anonymized_telemetry=False)


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    collection: str
    text: str
    metadata: dict[str, Any]
    score: float  # cosine similarity, 1 = same direction

    @property
    def kind(self) -> str:
        return str(self.metadata.get("kind", ""))

    @property
    def backtest_id(self) -> int | None:
        v = self.metadata.get("backtest_id")
        return None if v is None else int(v)


def _parse_host(host: str) -> tuple[str, int, bool]:
    url = urlparse(host if "://" in host else f"http://{host}")
    if not url.hostname:
        raise ConfigError(f"CHROMA_HOST must look like http://host:port, got {host!r}")
    ssl = url.scheme == "https"
    return url.hostname, url.port or (443 if ssl else 8000), ssl


class VectorIndex:
    """The three collections of one workspace (or of a Chroma server), with our embedding function."""

    def __init__(self, home: str | Path, host: str | None = None, *, backend: str | None = None) -> None:
        from workbench.rag.embed import model_id

        self.host = host
        self.legacy_server = False
        self.stamp_file: Path | None = None  # embedded store only: servers filter in Chroma
        self.snapshots: Path | None = None  # embedded store only: the in-memory copies on disk
        self._mirrors: dict[str, tuple[Any, Mirror | None]] = {}
        self._client: Any = None
        self._ef: Any = None
        self.backend = backend or settings().embed_backend
        self.model = model_id(self.backend)
        if host:
            chromadb, cs = _chroma()
            h, port, ssl = _parse_host(host)
            token = settings().chroma_auth_token
            headers = {"Authorization": f"Bearer {token}"} if token else None
            try:
                self._client = chromadb.HttpClient(host=h, port=port, ssl=ssl, headers=headers, settings=cs)
                self.client.heartbeat()
                self.client.count_collections()  # the heartbeat is public; token auth refuses the rest
            except Exception as e:  # noqa: BLE001 - any transport error means the same to the user
                if "auth" in type(e).__name__.lower() or "forbidden" in str(e).lower():
                    raise ConfigError(
                        f"CHROMA_HOST={host}: the Chroma server refused the request ({type(e).__name__}); "
                        + (
                            "CHROMA_AUTH_TOKEN is not the server's token"
                            if token
                            else "set CHROMA_AUTH_TOKEN"
                        )
                        + " (the cluster keeps it in Secret chromadb-auth, key token)"
                    ) from None
                raise ConfigError(
                    f"CHROMA_HOST={host}: no Chroma server answers ({type(e).__name__}); start one with "
                    "`chroma run --path DIR --port PORT` or unset CHROMA_HOST for the embedded store"
                ) from None
            self.where = host
            # The cluster runs the Python server line (0.6, for its token auth; infra/helm/chromadb): it
            # takes 1.x clients' data calls but not their collection configuration (vectors are always
            # computed here and passed explicitly, so no server-side embedding function is needed).
            self.legacy_server = str(self.client.get_version()).split(".")[0] == "0"
        else:
            path = Path(home) / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            self.path = path
            self.where = str(path)
            self.stamp_file = path / STAMP
            self.snapshots = path / SNAPSHOTS
        self._cols: dict[str, Any] = {}
        self._counts: dict[str, int] | None = None

    @property
    def client(self) -> Any:
        """The Chroma client, opened on first use: a query answered from the copies on disk
        (:meth:`mirror`) never imports Chroma (about 1.5-3.5 s in a fresh process)."""
        if self._client is None:
            chromadb, cs = _chroma()
            self._client = chromadb.PersistentClient(path=str(self.path), settings=cs)
        return self._client

    @property
    def ef(self) -> Any:
        """Our embedding function, registered with Chroma (made on first use)."""
        if self._ef is None:
            from workbench.rag.embed import embedding_function

            self._ef = embedding_function(self.backend)
        return self._ef

    def __repr__(self) -> str:
        return f"VectorIndex({self.where!r}, model={self.model!r})"

    def collection(self, name: str) -> Any:
        """The collection ``name``, checked to hold vectors of this index's model (or none yet)."""
        if name not in self._cols:
            if self.legacy_server:  # 0.x rejects 1.x collection configurations: the metadata form
                col = self.client.get_or_create_collection(
                    name, embedding_function=None, metadata={"hnsw:space": "cosine"}
                )
            else:
                col = self.client.get_or_create_collection(
                    name, embedding_function=self.ef, configuration={"hnsw": {"space": "cosine"}}
                )
            recorded = (col.metadata or {}).get("embed_model")
            if recorded is None and col.count() == 0:
                kept = {k: v for k, v in (col.metadata or {}).items() if not k.startswith("hnsw:")}
                col.modify(metadata={**kept, "embed_model": self.model})  # hnsw:* is fixed at creation
            elif (recorded or LEGACY_MODEL) != self.model:
                raise ConfigError(
                    f"Chroma collection {name} at {self.where} holds vectors of {recorded or LEGACY_MODEL}, "
                    f"not {self.model}: re-embed with `workbench index --reembed` or set "
                    f"WORKBENCH_EMBED_BACKEND={(recorded or LEGACY_MODEL).split('@')[-1]}"
                )
            self._cols[name] = col
        return self._cols[name]

    def recorded_models(self) -> dict[str, str | None]:
        """collection -> the model recorded on it (None: empty or not created), without checking."""
        out: dict[str, str | None] = {}
        existing = {getattr(c, "name", c) for c in self.client.list_collections()}
        for name in COLLECTION_NAMES:
            if name not in existing:
                out[name] = None
                continue
            col = self.client.get_collection(name, embedding_function=None if self.legacy_server else self.ef)
            out[name] = (col.metadata or {}).get("embed_model") or (LEGACY_MODEL if col.count() else None)
        return out

    def reset(self) -> None:
        """Drop the three collections (their vectors); the next use creates them for this model."""
        existing = {getattr(c, "name", c) for c in self.client.list_collections()}
        for name in COLLECTION_NAMES:
            if name in existing:
                self.client.delete_collection(name)
        self._cols.clear()
        self._written()

    def count(self) -> dict[str, int]:
        return {name: self.collection(name).count() for name in COLLECTION_NAMES}

    def counts(self) -> dict[str, int]:
        """:meth:`count`, remembered until this object next writes (cheap on the ``ask`` path: read from
        the copies on disk when they are current)."""
        if self._counts is None:
            heads = {name: self._snapshot_head(name) for name in COLLECTION_NAMES}
            if all(h is not None for h in heads.values()):
                self._counts = {name: int(h["count"]) for name, h in heads.items() if h is not None}
            else:
                self._counts = self.count()
        return self._counts

    def never_written(self) -> bool:
        """True for an embedded store this class has never written (no stamp file): empty, unless it
        was filled before stamps were kept (the caller checks the catalog for that)."""
        return self.stamp_file is not None and not self.stamp_file.exists()

    def present(self, name: str, ids: Sequence[str]) -> set[str]:
        col, out = self.collection(name), set()
        for i in range(0, len(ids), _GET_BATCH):
            out.update(col.get(ids=list(ids[i : i + _GET_BATCH]), include=[])["ids"])
        return out

    def _written(self) -> None:
        """After any write: forget counts and in-memory copies, and tell other processes so."""
        self._counts = None
        self._mirrors.clear()
        if self.stamp_file is not None:
            tmp = self.stamp_file.with_name(f"{STAMP}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(uuid.uuid4().hex)
            os.replace(tmp, self.stamp_file)  # a new inode: (inode, mtime) differs from every reader's

    def _stamp(self) -> Any:
        try:
            st = os.stat(self.stamp_file)  # type: ignore[arg-type]
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _stamp_text(self) -> str | None:
        """The content of the stamp file (a fresh random token per write), or None."""
        try:
            return self.stamp_file.read_text() if self.stamp_file is not None else None
        except OSError:
            return None

    def _snapshot_head(self, name: str) -> dict[str, Any] | None:
        """The head of the copy of ``name`` on disk when it is current: made from the content this
        stamp names, by this index's model, within ``WORKBENCH_RAG_EXACT_MAX``."""
        limit = settings().rag_exact_max
        if self.snapshots is None or limit <= 0:
            return None
        tag = self._stamp_text()
        head = Mirror.head(self.snapshots, name) if tag else None
        if head is None or head.get("stamp") != tag or head.get("model") != self.model:
            return None
        return head if int(head.get("count", limit + 1)) <= limit else None

    def mirror(self, name: str) -> Mirror | None:
        """The in-memory copy of collection ``name``; None for a Chroma server or a collection above
        ``WORKBENCH_RAG_EXACT_MAX`` chunks. Loaded when missing or stale: from the copy on disk when
        that is current (no Chroma import), else from Chroma, and then written to disk for the next
        process (``<workspace>/chroma/workbench-mirror/``)."""
        limit = settings().rag_exact_max
        if self.stamp_file is None or limit <= 0:
            return None
        stamp = self._stamp()
        held = self._mirrors.get(name)
        if held is not None and held[0] == stamp:
            return held[1]
        head = self._snapshot_head(name)
        m = Mirror.open(self.snapshots, head) if head is not None and self.snapshots is not None else None
        if m is None:
            tag = self._stamp_text()  # read before the content: a write meanwhile makes the copy stale
            col = self.collection(name)
            from workbench.rag.embed import DIM

            m = Mirror.load(col, DIM) if col.count() <= limit else None
            if m is not None and tag and self.snapshots is not None:
                try:
                    m.save(self.snapshots, name, {"stamp": tag, "model": self.model, "collection": name})
                except OSError:  # a read-only workspace: the next process loads from Chroma again
                    pass
        self._mirrors[name] = (stamp, m)
        return m

    def save_snapshots(self) -> None:
        """Make the copies on disk current for every collection (after indexing), so the next ``ask``
        in a fresh process answers without opening Chroma."""
        for name in COLLECTION_NAMES:
            if self._snapshot_head(name) is None:
                self.mirror(name)

    def _exact(self, name: str, vector: np.ndarray, k: int, where: dict[str, Any] | None) -> list[Hit] | None:
        """The query on the in-memory copy; None where Chroma must answer it."""
        m = self.mirror(name)
        found = None if m is None else m.search(vector, k, where)
        if m is None or found is None:
            return None
        return [Hit(m.ids[i], name, m.documents[i], dict(m.metadatas[i]), round(s, 4)) for i, s in found]

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        by: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(chunks):
            by[c.collection].append(i)
        for name, rows in by.items():
            self.collection(name).upsert(
                ids=[chunks[i].id for i in rows],
                documents=[chunks[i].text for i in rows],
                metadatas=[chunks[i].chroma_metadata() for i in rows],
                embeddings=vectors[rows],
            )
        self._written()

    def delete(self, name: str, ids: Sequence[str]) -> None:
        if ids:
            self.collection(name).delete(ids=list(ids))
            self._written()

    def query(
        self,
        vector: np.ndarray,
        k: int = 10,
        *,
        where: dict[str, Any] | None = None,
        collections: Iterable[str] = COLLECTION_NAMES,
    ) -> list[Hit]:
        """The ``k`` nearest chunks over ``collections`` (best first), optionally filtered by metadata
        (Chroma's ``where``). Exact and in memory for the embedded store (:meth:`mirror`), filtered or
        not; Chroma answers for a server and for collections above ``WORKBENCH_RAG_EXACT_MAX``."""
        hits: list[Hit] = []
        for name in collections:
            exact = self._exact(name, vector, k, where or None)
            if exact is not None:
                hits += exact
                continue
            res = self.collection(name).query(
                query_embeddings=[vector],
                n_results=k,
                where=where or None,
                include=["documents", "metadatas", "distances"],
            )
            for cid, doc, meta, dist in zip(
                res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
            ):
                hits.append(Hit(cid, name, doc or "", dict(meta or {}), round(1.0 - float(dist), 4)))
        return sorted(hits, key=lambda h: -h.score)[:k]

    def get(self, ids: Sequence[str]) -> dict[str, Hit]:
        """Stored chunks by id (any collection); ids not indexed are left out."""
        by: dict[str, list[str]] = defaultdict(list)
        for cid in dict.fromkeys(ids):
            kind = cid.split(":", 1)[0]
            if kind in COLLECTIONS:
                by[COLLECTIONS[kind]].append(cid)
        out: dict[str, Hit] = {}
        for name, wanted in by.items():
            m = self.mirror(name)
            if m is not None:
                row = {cid: i for i, cid in enumerate(m.ids)}
                for cid in wanted:
                    if cid in row:
                        i = row[cid]
                        out[cid] = Hit(cid, name, m.documents[i], dict(m.metadatas[i]), 1.0)
                continue
            res = self.collection(name).get(ids=wanted, include=["documents", "metadatas"])
            for cid, doc, meta in zip(res["ids"], res["documents"], res["metadatas"], strict=True):
                out[cid] = Hit(cid, name, doc or "", dict(meta or {}), 1.0)
        return out


def open_index(ws: Workspace, *, backend: str | None = None) -> VectorIndex:
    """The index of ``ws``: embedded under ``<home>/chroma``, or the server named by ``CHROMA_HOST``;
    vectors made by ``backend`` (default ``WORKBENCH_EMBED_BACKEND``)."""
    return VectorIndex(ws.home, settings().chroma_host, backend=backend)


@dataclass(frozen=True, slots=True)
class IndexReport:
    backtests: tuple[int, ...]
    chunks: int  # chunks the backtests produce
    embedded: int  # newly embedded now
    skipped: int  # already in the index with the same text and model
    removed: int  # stale chunks deleted
    by_kind: dict[str, int]
    seconds: float
    where: str
    model: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "backtests": list(self.backtests),
            "chunks": self.chunks,
            "embedded": self.embedded,
            "skipped": self.skipped,
            "removed": self.removed,
            "by_kind": self.by_kind,
            "seconds": round(self.seconds, 3),
            "chunks_per_second": round(self.embedded / self.seconds, 1) if self.seconds > 0 else None,
            "where": self.where,
            "model": self.model,
        }


def _catalog_rows(chunks: Sequence[Chunk], model: str) -> pl.DataFrame:
    now = utcnow()
    return pl.DataFrame(
        {
            "chunk_id": [c.id for c in chunks],
            "collection": [c.collection for c in chunks],
            "kind": [c.kind for c in chunks],
            "backtest_id": [c.backtest_id for c in chunks],
            "text_sha256": [c.sha256 for c in chunks],
            "model": [model] * len(chunks),
            "metadata": [json.dumps(c.chroma_metadata()) for c in chunks],
            "created_at": [now] * len(chunks),
        },
        schema={
            "chunk_id": pl.Utf8,
            "collection": pl.Utf8,
            "kind": pl.Utf8,
            "backtest_id": pl.Int64,
            "text_sha256": pl.Utf8,
            "model": pl.Utf8,
            "metadata": pl.Utf8,
            "created_at": pl.Datetime("us"),
        },
    )


def index_backtests(
    ws: Workspace,
    ids: Iterable[int] | None = None,
    *,
    progress: bool = False,
    index: VectorIndex | None = None,
    max_trades: int | None = None,
    batch: int = 256,
    reembed: bool = False,
) -> IndexReport:
    """Embed the chunks of backtests ``ids`` (default: every backtest with trades) that are not indexed yet.

    Call it after ingesting (``index_backtests(ws, [new ids])``) or from ``workbench index``.
    ``reembed`` drops the vectors (all backtests') and their catalog rows first: needed after changing
    ``WORKBENCH_EMBED_BACKEND``, since an index never mixes vectors of two models."""
    from workbench.rag.embed import embedder

    t0 = time.perf_counter()
    cfg = settings()
    max_trades = cfg.rag_max_trades if max_trades is None else max_trades
    wanted = (
        [int(i) for i in ids]
        if ids is not None
        else ws.store.frame(Q.rag_backtests_with_trades)["id"].to_list()
    )
    index = index or open_index(ws)
    if reembed:
        index.reset()
        with ws.store.transaction() as con:
            con.execute("DELETE FROM embeddings_metadata")
    for name in COLLECTION_NAMES:
        index.collection(name)  # refuses an index made by another model before any work
    chunks = [c for bid in wanted for c in chunks_for(ws, bid, max_trades=max_trades)]
    known = dict(ws.store.frame(Q.rag_embedded_chunks, [index.model, wanted]).iter_rows())
    by_col: dict[str, list[str]] = defaultdict(list)
    for c in chunks:
        by_col[c.collection].append(c.id)
    present = {cid for name, cids in by_col.items() for cid in index.present(name, cids)}
    todo = [c for c in chunks if known.get(c.id) != c.sha256 or c.id not in present]
    current = {c.id for c in chunks}
    stale = [cid for cid in known if cid not in current]
    for cid in stale:
        kind = cid.split(":", 1)[0]
        index.delete(COLLECTIONS.get(kind, COLLECTION_NAMES[0]), [cid])
    if stale:
        with ws.store.transaction() as con:
            con.execute(Q.rag_delete_embeddings_metadata, [stale])

    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="index", unit="chunk")
    emb = embedder(index.backend) if todo else None
    for i in range(0, len(todo), batch):
        part = todo[i : i + batch]
        vectors = emb.encode([c.text for c in part])
        index.upsert(part, vectors)
        frame = _catalog_rows(part, index.model)
        with ws.store.transaction() as con:
            con.register("frame", frame)
            con.execute(Q.rag_upsert_embeddings_metadata)
            con.unregister("frame")
        if bar is not None:
            bar.update(len(part))
    if bar is not None:
        bar.close()
    index.save_snapshots()  # the next `ask` in a fresh process reads these instead of opening Chroma
    kinds: dict[str, int] = defaultdict(int)
    for c in chunks:
        kinds[c.kind] += 1
    return IndexReport(
        backtests=tuple(wanted),
        chunks=len(chunks),
        embedded=len(todo),
        skipped=len(chunks) - len(todo),
        removed=len(stale),
        by_kind=dict(kinds),
        seconds=time.perf_counter() - t0,
        where=index.where,
        model=index.model,
    )
