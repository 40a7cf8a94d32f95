"""The workspace store: a DuckDB catalog, raw files kept byte for byte, Parquet for big tables.

Layout of a workspace folder::

    workbench.duckdb     the catalog (tables: see migrations/0001_initial.sql)
    raw/<sha256>.<ext>   every ingested file, named by content hash
    parquet/trades/backtest_id=<id>/part-0.parquet   the trades of a big backtest (see below)
    parquet/ chroma/ reports/ exports/

DuckDB allows one writing process per file, so connections are short-lived: each
operation opens, works and closes, retrying while another process holds the lock (up to
``WORKBENCH_LOCK_WAIT`` seconds). Each ingested file is one transaction.

Trade lists of ``trades_parquet_rows`` rows or more are written as one Parquet part per backtest
instead of rows of the catalog (DuckDB compresses 16M rows into its table in 3x the time polars
writes them as Parquet; ADR 0014). Readers see no difference: ``trades`` is a view over the
catalog's ``trade_rows`` and the parts recorded in ``trade_parts``, rebuilt in the transaction
that adds a part, with workspace-relative paths that every connection resolves through DuckDB's
``file_search_path`` (set to the workspace folder). A part is written to a temporary name, renamed
into place inside its ingest transaction and removed when that transaction does not commit; a
part left by a process killed between the rename and COMMIT is not listed in ``trade_parts`` (so
never seen) and is removed the next time the workspace is opened for writing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from workbench.errors import StoreError
from workbench.store.sql import Q

__all__ = ["Store", "Q", "utcnow", "TRADES_PARQUET_ROWS"]

CATALOG = "workbench.duckdb"
_OPENING = threading.Lock()
# Trade lists at least this long are stored as a Parquet part (ADR 0014).
TRADES_PARQUET_ROWS = 1_000_000
PARTS_DIR = "parquet/trades"
# Parts being written by a transaction of this process (not yet committed): never swept as orphans.
_PENDING: set[Path] = set()
_PENDING_LOCK = threading.Lock()
_MIGRATION = re.compile(r"^(\d{4})_[\w\-]+\.sql$")


def _same_version(before: os.stat_result, path: Path) -> bool:
    """``path`` is still the file ``before`` describes (device, inode, size, modification time)."""
    try:
        now = os.stat(path)
    except OSError:
        return False
    keys = ("st_dev", "st_ino", "st_size", "st_mtime_ns")
    return all(getattr(before, k) == getattr(now, k) for k in keys)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _migrations(folder: Path | None) -> list[tuple[int, str, str]]:
    if folder is None:
        root = resources.files("workbench.store").joinpath("migrations")
        files = [(f.name, f.read_text(encoding="utf-8")) for f in root.iterdir() if f.name.endswith(".sql")]
    else:
        files = [(f.name, f.read_text(encoding="utf-8")) for f in Path(folder).glob("*.sql")]
    out = []
    for name, text in files:
        m = _MIGRATION.match(name)
        if not m:
            raise StoreError(f"migration file {name!r} must be named NNNN_description.sql")
        out.append((int(m.group(1)), name, text))
    return sorted(out)


class Store:
    """One workspace folder. Cheap to create; nothing stays open between calls."""

    def __init__(
        self,
        home: str | Path,
        *,
        lock_wait_s: float = 30.0,
        read_only: bool = False,
        migrations: Path | None = None,
        trades_parquet_rows: int = TRADES_PARQUET_ROWS,
    ) -> None:
        self.home = Path(home)
        self.lock_wait_s = lock_wait_s
        self.read_only = read_only
        self.trades_parquet_rows = trades_parquet_rows
        self.catalog = self.home / CATALOG
        self.raw_dir = self.home / "raw"
        self._migrations = _migrations(migrations)
        if read_only:
            if not self.catalog.exists():
                raise StoreError(
                    f"{self.catalog}: no workspace here; create one with `workbench ingest` first"
                )
        else:
            for sub in ("raw", "parquet", "reports", "exports"):
                (self.home / sub).mkdir(parents=True, exist_ok=True)
        self.schema_version = self._migrate()

    # -- connections -------------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self, *, read_only: bool | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection; waits for another process's write lock to go away."""
        ro = self.read_only if read_only is None else read_only
        deadline = time.monotonic() + self.lock_wait_s
        delay = 0.02
        while True:
            try:
                # DuckDB's instance cache is not safe against two threads of one process opening the same
                # file at once ("Unique file handle conflict"): opening is serialised, using is not.
                with _OPENING:
                    con = duckdb.connect(str(self.catalog), read_only=ro)
                break
            except duckdb.IOException as e:
                if "lock" not in str(e).lower() or time.monotonic() >= deadline:
                    raise StoreError(
                        f"{self.catalog}: cannot open the catalog ({' '.join(str(e).split())[:160]}); "
                        f"another process holds it — retry, or raise WORKBENCH_LOCK_WAIT"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        try:
            # Parquet parts are listed relative to the workspace (a moved workspace still reads them).
            home = str(self.home.resolve()).replace("'", "''")
            con.execute(f"SET file_search_path = '{home}'")
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: commits on success, rolls back on any exception."""
        if self.read_only:
            raise StoreError(f"{self.home}: workspace opened read-only; open it without read_only to write")
        with self.connect() as con:
            con.begin()
            try:
                yield con
            except BaseException:
                con.rollback()
                raise
            con.commit()

    def frame(self, sql: str, params: list | tuple | None = None) -> pl.DataFrame:
        # Through pyarrow (.pl()): reading DuckDB's Arrow C stream directly (pl.DataFrame(relation)) would
        # spare its import, but DuckDB 2.0's stream export leaks binding objects that nanobind reports on
        # stderr at every exit. Paths that must not pay the import (ingest) use :meth:`rows`.
        with self.connect() as con:
            return con.sql(sql, params=list(params) if params else None).pl()

    def rows(self, sql: str, params: list | tuple | None = None) -> list[dict]:
        """A small result as dicts (no pyarrow, no polars conversion)."""
        with self.connect() as con:
            cur = con.execute(sql, list(params) if params else [])
            names = [d[0] for d in cur.description or []]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def scalar(self, sql: str, params: list | tuple | None = None):
        with self.connect() as con:
            rows = con.execute(sql, params or []).fetchall()  # drain: DuckDB 2 results stream
            return rows[0][0] if rows else None

    # -- schema ------------------------------------------------------------------------------
    def _migrate(self) -> int:
        known = self._migrations[-1][0] if self._migrations else 0
        if self.read_only:
            version = self._current_version()
        else:
            with self.connect() as con:
                con.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
                )
                version = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]
                if version > known:
                    raise StoreError(self._too_new(version, known))
                # By set, not by the highest number: a migration merged below one already applied (two
                # branches landing in either order) is still applied.
                applied = {r[0] for r in con.execute("SELECT version FROM schema_version").fetchall()}
                for number, name, text in self._migrations:
                    if number in applied:
                        continue
                    con.begin()
                    try:
                        con.execute(text)
                        con.execute(
                            "INSERT INTO schema_version VALUES ($1, $2, $3)", [number, name, utcnow()]
                        )
                    except duckdb.Error as e:
                        con.rollback()
                        raise StoreError(f"migration {name} failed: {' '.join(str(e).split())}") from None
                    con.commit()
                    version = max(version, number)
                self._sweep_parts(con)
        if version > known:
            raise StoreError(self._too_new(version, known))
        return version

    def _current_version(self) -> int:
        with self.connect(read_only=True) as con:
            return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]

    def _too_new(self, version: int, known: int) -> str:
        return (
            f"{self.catalog}: schema version {version} is newer than this workbench knows ({known}); "
            f"upgrade the workbench package"
        )

    # -- raw files -----------------------------------------------------------------------------
    def put_raw(
        self,
        data: bytes | memoryview,
        sha256: str,
        suffix: str,
        *,
        source: Path | None = None,
        source_stat: os.stat_result | None = None,
        prepared: Path | None = None,
    ) -> str:
        """Write ``data`` to raw/<sha256><suffix> atomically (temp file, fsync, rename).

        ``prepared``: a copy :meth:`copy_and_hash` already made (and fsynced) of ``source``; it is moved
        into place after the same checks, or removed when the file is there already.

        With ``source`` (the file ``data`` maps, for big files) the file is copied by the kernel
        instead of written from memory; ``source_stat`` is its ``os.stat`` when it was hashed, and
        a source that changed since (or a copy whose size is not ``len(data)``) is refused before
        the rename, so raw/<sha256> never holds other bytes.
        """
        suffix = suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix or "") else ".bin"
        rel = f"raw/{sha256}{suffix.lower()}"
        dest = self.home / rel
        if dest.exists() and dest.stat().st_size == len(data):
            if prepared is not None:
                self.discard_raw(prepared)
            return rel
        if prepared is not None:
            try:
                if not prepared.exists():
                    raise StoreError(
                        f"{source}: the copy made while parsing is gone from raw/; ingest it again"
                    )
                if prepared.stat().st_size != len(data) or (
                    source is not None and source_stat is not None and not _same_version(source_stat, source)
                ):
                    raise StoreError(f"{source}: the file changed while it was being stored; ingest it again")
                os.replace(prepared, dest)
            finally:
                self.discard_raw(prepared)
            return rel
        fd, tmp = tempfile.mkstemp(dir=self.raw_dir, prefix=".incoming-")
        try:
            if source is None:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            else:
                os.close(fd)
                _copy_direct(source, tmp, None)
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                    size = os.fstat(fh.fileno()).st_size
                if size != len(data) or (source_stat is not None and not _same_version(source_stat, source)):
                    raise StoreError(f"{source}: the file changed while it was being stored; ingest it again")
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return rel

    def copy_and_hash(self, source: Path) -> tuple[str, Path]:
        """(SHA-256, a temporary copy in raw/) of ``source``, from one read of it: the copy an ingest
        makes beside its parse and hands to :meth:`put_raw` as ``prepared`` (or to
        :meth:`discard_raw`). Left by a killed process, it is removed by the next writer."""
        self.raw_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.raw_dir, prefix=".incoming-")
        os.close(fd)
        tmp = Path(name)
        _pending(tmp, True)
        try:
            digest = hashlib.sha256()
            _copy_direct(source, name, digest)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        except BaseException:
            self.discard_raw(tmp)
            raise
        return digest.hexdigest(), tmp

    def discard_raw(self, tmp: Path) -> None:
        """Remove a temporary copy of :meth:`copy_and_hash` (gone already is fine)."""
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        _pending(tmp, False)

    def table_counts(self) -> dict[str, int]:
        """Rows of every table, and of the ``trades`` view (catalog rows and Parquet parts together)."""
        with self.connect() as con:
            names = [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM duckdb_tables() UNION "
                    "SELECT view_name FROM duckdb_views() WHERE NOT internal AND view_name = 'trades' ORDER BY 1"
                ).fetchall()
            ]
            return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0] for n in names}

    # -- trades as Parquet parts (ADR 0014) --------------------------------------------------------
    def trades_part(self, backtest_id: int) -> str:
        """Where the trades of ``backtest_id`` go as Parquet, relative to the workspace."""
        return f"{PARTS_DIR}/backtest_id={int(backtest_id)}/part-0.parquet"

    def write_trades_part(self, frame: pl.DataFrame) -> Path:
        """``frame`` written (LZ4, fsynced) to a temporary file beside the parts; pass it to
        :meth:`add_trades_part` inside the transaction that stores its backtest."""
        folder = self.home / PARTS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=".parquet")
        os.close(fd)
        tmp = Path(name)
        _pending(tmp, True)
        try:
            # LZ4 and no column statistics: 2-3x faster to write than zstd with them, and a part is read
            # whole (its backtest's rows) or scanned by a fact query, never searched by a value.
            frame.write_parquet(tmp, compression="lz4", statistics=False)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        except BaseException:
            self.discard_trades_part(tmp)
            raise
        return tmp

    def add_trades_part(self, con: duckdb.DuckDBPyConnection, backtest_id: int, tmp: Path, rows: int) -> str:
        """Move the part written by :meth:`write_trades_part` into place, record it and rebuild the
        ``trades`` view, all in ``con``'s open transaction. Whatever ends that transaction must then
        call :meth:`settle_trades_part` (committed or not)."""
        rel = self.trades_part(backtest_id)
        dest = self.home / rel
        _pending(dest, True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
        _pending(tmp, False)
        con.execute(Q.insert_trade_part, [int(backtest_id), rel, int(rows), dest.stat().st_size, utcnow()])
        self.refresh_trades_view(con)
        return rel

    def settle_trades_part(self, backtest_id: int, tmp: Path | None, *, committed: bool) -> None:
        """After the transaction of :meth:`add_trades_part`: keep the part if it committed, else remove it
        (and the temporary file, if it never moved)."""
        dest = self.home / self.trades_part(backtest_id)
        if not committed:
            self.discard_trades_part(dest)
            with contextlib.suppress(OSError):
                dest.parent.rmdir()
        _pending(dest, False)
        if tmp is not None:
            self.discard_trades_part(tmp)

    def discard_trades_part(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        _pending(path, False)

    def refresh_trades_view(self, con: duckdb.DuckDBPyConnection) -> None:
        """``trades`` = ``trade_rows`` UNION ALL the parts in ``trade_parts`` (as ``con`` sees them)."""
        paths = [p for _, p in con.execute(Q.trade_part_paths).fetchall()]
        listed = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
        parts = Q.trades_view_parts_template.replace("{paths}", listed) if paths else ""
        con.execute(Q.trades_view_template.replace("{parts}", parts))

    def _sweep_parts(self, con: duckdb.DuckDBPyConnection) -> None:
        """Remove parts no ``trade_parts`` row lists (left by a process killed before COMMIT) and stale
        temporary files. Runs holding the catalog's write lock, so no other process is mid-ingest; parts
        this process is writing are skipped."""
        # raw/ copies made beside a parse (copy_and_hash) are written before this lock is taken, so only
        # those a day old are taken for a killed process's leftovers
        stale = time.time() - RAW_TEMP_MAX_AGE_S
        for path in self.raw_dir.glob(".incoming-*") if self.raw_dir.is_dir() else ():
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < stale:
                    path.unlink()
        folder = self.home / PARTS_DIR
        if not folder.is_dir():
            return
        try:
            listed = {(self.home / p).resolve() for _, p in con.execute(Q.trade_part_paths).fetchall()}
        except duckdb.CatalogException:  # a catalog without migration 0006 (custom migrations)
            return
        with _PENDING_LOCK:
            busy = set(_PENDING)
        for path in [*folder.glob(".incoming-*"), *folder.glob("backtest_id=*/*.parquet")]:
            if path.resolve() not in listed and path.resolve() not in busy:
                with contextlib.suppress(OSError):
                    path.unlink()
                    if path.parent != folder:
                        path.parent.rmdir()


RAW_TEMP_MAX_AGE_S = 24 * 3600  # an unfinished raw/.incoming-* copy this old is a leftover
_DIRECT_BLOCK = 8 << 20  # bytes per read/write of _copy_direct (a multiple of every block size)


def _copy_direct(source: Path, dest: str, digest: Any) -> None:
    """Copy ``source`` to ``dest`` (feeding ``digest``, a hashlib object, when given), writing with
    ``O_DIRECT`` where the file system allows it: the copy of a 2 GB export then takes no page cache (no
    dirty gigabytes for the kernel to write back beside the ingest, half the system time of a kernel
    copy); elsewhere (tmpfs, other systems) through the page cache."""
    flag = getattr(os, "O_DIRECT", 0)
    if digest is None and not flag:
        shutil.copyfile(source, dest)  # sendfile on Linux: no pass through this process
        return
    out = -1
    if flag:
        with contextlib.suppress(OSError):
            out = os.open(dest, os.O_WRONLY | os.O_TRUNC | flag)
    direct = out >= 0
    if not direct:
        out = os.open(dest, os.O_WRONLY | os.O_TRUNC)
    buf = mmap.mmap(-1, _DIRECT_BLOCK)  # page-aligned, as O_DIRECT needs
    view = memoryview(buf)
    try:
        with open(source, "rb", buffering=0) as src:
            while n := src.readinto(buf):
                if digest is not None:
                    digest.update(view[:n])  # hashlib leaves the GIL for blocks this size
                if direct and n % 4096:  # the tail: not a whole block, written through the page cache
                    fcntl.fcntl(out, fcntl.F_SETFL, fcntl.fcntl(out, fcntl.F_GETFL) & ~flag)
                    direct = False
                written = 0
                while written < n:
                    try:
                        written += os.write(out, view[written:n])
                    except OSError:
                        if not direct:
                            raise
                        # O_DIRECT refused here (EINVAL on some file systems): on through the page cache
                        fcntl.fcntl(out, fcntl.F_SETFL, fcntl.fcntl(out, fcntl.F_GETFL) & ~flag)
                        direct = False
    finally:
        view.release()
        buf.close()
        os.close(out)


def _pending(path: Path, on: bool) -> None:
    path = path.resolve()
    with _PENDING_LOCK:
        (_PENDING.add if on else _PENDING.discard)(path)
