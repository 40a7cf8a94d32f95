"""Load files into a workspace store: hash, de-duplicate, parse, validate, store in one transaction.

The order of operations is what makes a crash harmless:

1. read the bytes and hash them; a hash already in ``raw_files`` is a duplicate (nothing stored);
2. parse and validate in memory (nothing written yet);
3. write raw/<sha256>.<ext> atomically (temp file + rename) — an orphan raw file left by a crash
   is rewritten identically by the rerun;
4. one DuckDB transaction inserts the object, its rows, the ``raw_files`` row and the
   ``ingest_log`` row. A kill -9 before COMMIT leaves none of them. (Step 3 runs in a thread
   beside step 4 and is waited for before the ``raw_files`` row, so it ends before COMMIT.)
   A backtest of ``Store.trades_parquet_rows`` trades or more has them written as a Parquet part
   (in a thread beside the metrics), moved into place inside the transaction and removed when it
   does not commit (``Store.add_trades_part``; ADR 0014).

A mapped file of a size no stored file has cannot be a duplicate: it is hashed in a thread beside
the parse instead of before it.

Files of ``MAP_MIN_BYTES`` or more are mapped, not read: hashed and copied from disk, and a
parser registered with ``accepts_buffer`` streams them (see ``MappedFile``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl

from workbench.errors import DataError, StoreError
from workbench.ingest import parse_bytes
from workbench.ingest.parsers.trades_csv import column_mapping
from workbench.ingest.records import TRADES_SCHEMA, Parsed
from workbench.ingest.registry import MappedFile
from workbench.ingest.timezones import to_utc
from workbench.store import Q, Store, utcnow

__all__ = ["FileResult", "IngestReport", "Options", "ingest_paths", "walk", "store_parsed"]

Status = Literal["ingested", "duplicate", "rejected"]

# Folder walking skips what is never an export.
_SKIP_NAMES = {"MANIFEST.md", "README.md", ".DS_Store", "Thumbs.db"}


# The key each kind's stored id goes under in ``FileResult.to_dict()`` (ingest --json).
ID_KEYS = {"backtest": "backtest_id", "parameters": "parameter_set_id", "optimization": "optimization_id"}


@dataclass(frozen=True, slots=True)
class FileResult:
    path: str
    format: str | None
    status: Status
    object_id: int | None = None  # id of the stored object (backtest, parameter set, optimisation)
    rows: int = 0
    error: str | None = None
    kind: str | None = None
    sha256: str | None = None
    warnings: tuple[str, ...] = ()  # platform quirks found while validating (the file was stored)
    anomalies: tuple[dict[str, Any], ...] = ()  # rows the platform wrote that break an invariant

    @property
    def backtest_id(self) -> int | None:
        return self.object_id if self.kind == "backtest" else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        object_id = out.pop("object_id")
        for kind, key in ID_KEYS.items():
            out[key] = object_id if self.kind == kind else None
        out["warnings"] = list(self.warnings)
        out["anomalies"] = list(self.anomalies)
        return out


@dataclass(frozen=True, slots=True)
class IngestReport:
    files: tuple[FileResult, ...] = field(default_factory=tuple)

    @property
    def ingested(self) -> int:
        return sum(f.status == "ingested" for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.status == "duplicate" for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.status == "rejected" for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [f.to_dict() for f in self.files],
            "ingested": self.ingested,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame([f.to_dict() for f in self.files]) if self.files else pl.DataFrame()


def walk(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus every file under named folders (sorted, hidden ones skipped)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and f.name not in _SKIP_NAMES
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        else:
            out.append(p)
    return out


@dataclass(frozen=True, slots=True)
class Options:
    """How files are read: a forced format, strictness, and what to assume where a file is silent."""

    fmt: str | None = None
    strict: bool = False  # platform quirks (secondary totals, anomalous rows) reject instead of warning
    initial_balance: float | None = None  # for files that state no balance (None: unknown)
    timezone: str | None = None  # server time zone for files that state none (MetaTrader)
    columns: dict[str, str] | None = None  # trades CSV: {field: header} before any alias (--columns)


def ingest_paths(
    store: Store,
    paths: Iterable[str | Path],
    *,
    fmt: str | None = None,
    progress: Callable[[Iterable[Path]], Iterator[Path]] | None = None,
    options: Options | None = None,
) -> IngestReport:
    opts = options or Options(fmt=fmt)
    if fmt and not opts.fmt:
        opts = replace(opts, fmt=fmt)
    files = walk(paths)
    it: Iterable[Path] = progress(files) if progress else files
    return IngestReport(tuple(ingest_one(store, f, options=opts) for f in it))


def ingest_one(
    store: Store, path: Path, *, fmt: str | None = None, options: Options | None = None
) -> FileResult:
    options = options or Options(fmt=fmt)
    fmt = options.fmt
    started = utcnow()
    name = str(path)
    try:
        data = _read(path)
    except (OSError, ValueError) as e:
        err = DataError(getattr(e, "strerror", None) or str(e), file=name, where="-")
        return _log(store, FileResult(name, fmt, "rejected", error=str(err)), started)
    try:
        return _ingest_data(store, path, data, options=options, started=started)
    finally:
        if isinstance(data, MappedFile):
            data.close()


# Files at least this big are mapped instead of read: hashed and copied to raw/ from disk, and
# parsers registered with ``accepts_buffer`` stream them (a 2 GB CSV is never held in memory).
MAP_MIN_BYTES = 32 * 1024 * 1024


def _read(path: Path) -> bytes | MappedFile:
    if path.stat().st_size >= MAP_MIN_BYTES:
        return MappedFile.open(path)
    return path.read_bytes()


def _sha256(data: bytes | MappedFile) -> str:
    if isinstance(data, MappedFile):  # read in small blocks: the mapping's pages stay on disk
        with open(data.path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    return hashlib.sha256(data).hexdigest()


def _ingest_data(
    store: Store, path: Path, data: bytes | MappedFile, *, options: Options, started: datetime
) -> FileResult:
    name = str(path)
    fmt = options.fmt
    prepared: Path | None = None  # the raw copy made beside the parse, until stored or discarded
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            copying = None
            if isinstance(data, MappedFile) and not store.scalar(Q.raw_files_of_size, [len(data)]):
                # No stored file has this size, so this one is no duplicate: hash it and copy it to raw/
                # beside the parse, from one read (hashlib and the writes leave the GIL), instead of
                # hashing before and copying after it.
                copying = pool.submit(store.copy_and_hash, data.path)
                sha = ""
            else:
                sha = _sha256(data)
                known = _known(store, name, sha, started)
                if known is not None:
                    return known
            try:
                with column_mapping(options.columns):
                    parsed = _assume(parse_bytes(data, name, fmt=fmt, strict=options.strict), options)
                if isinstance(data, MappedFile) and not data.unchanged():
                    raise DataError(
                        "the file changed while it was being read; ingest it again", file=name, where="-"
                    )
            except DataError as e:
                e = e if e.file != "<input>" else e.located(name)
                if copying is not None:
                    sha, prepared = copying.result()
                return _log(store, FileResult(name, fmt, "rejected", error=str(e), sha256=sha), started)
            if copying is not None:
                sha, prepared = copying.result()
                known = _known(store, name, sha, started)  # stored meanwhile by another process
                if known is not None:
                    return known
        try:
            object_id, rows = store_parsed(
                store, parsed, data=data, sha256=sha, path=path, started=started, prepared=prepared
            )
            prepared = None  # moved into raw/ (or removed) by put_raw
        except _Duplicate as d:
            res = FileResult(name, parsed.format, "duplicate", d.object_id, kind=parsed.kind, sha256=sha)
            return _log(store, res, started)
    finally:
        if prepared is not None:
            store.discard_raw(prepared)
    return FileResult(
        name,
        parsed.format,
        "ingested",
        object_id,
        rows,
        kind=parsed.kind,
        sha256=sha,
        warnings=tuple(parsed.warnings),
        anomalies=tuple(dict(a) for a in parsed.anomalies),
    )


def _known(store: Store, name: str, sha: str, started: datetime) -> FileResult | None:
    """The ``duplicate`` result (logged) when a file with this hash is stored, else None."""
    known = store.rows(Q.raw_file_by_sha, [sha])
    if not known:
        return None
    row = known[0]
    res = FileResult(name, row["format"], "duplicate", row["object_id"], kind=row["kind"], sha256=sha)
    return _log(store, res, started)


def _assume(parsed: Parsed, options: Options) -> Parsed:
    """Fill what the file does not state from the user's options (saying so in ``meta.assumed``), and
    bring every time to UTC (:func:`workbench.ingest.timezones.to_utc`)."""
    assumed: dict[str, Any] = {}
    changes: dict[str, Any] = {}
    if parsed.kind == "backtest" and parsed.initial_balance is None and options.initial_balance is not None:
        changes["initial_balance"] = float(options.initial_balance)
        assumed["initial_balance"] = f"{options.initial_balance} (--initial-balance; the file states none)"
    if assumed:
        changes["meta"] = {**parsed.meta, "assumed": {**parsed.meta.get("assumed", {}), **assumed}}
        parsed = replace(parsed, **changes)
    return to_utc(parsed, server_tz=options.timezone)


class _Duplicate(Exception):
    def __init__(self, object_id: int | None) -> None:
        self.object_id = object_id


def _log(store: Store, res: FileResult, started: datetime) -> FileResult:
    with store.connect() as con:
        _insert_log(con, res, started)
    return res


def _insert_log(con: duckdb.DuckDBPyConnection, res: FileResult, started: datetime) -> None:
    con.execute(
        Q.insert_ingest_log,
        [
            uuid.uuid4().hex,
            res.sha256,
            res.path,
            res.format,
            res.status,
            res.object_id,
            res.rows,
            res.error,
            started,
            utcnow(),
        ],
    )


def _json(value: Any) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, datetime | date):
            return o.isoformat()
        if isinstance(o, float) and o != o:
            return None
        return str(o)

    return json.dumps(value, default=default, allow_nan=False, sort_keys=False)


def _finite(x: float | None) -> float | None:
    return None if x is None or x != x or x in (float("inf"), float("-inf")) else float(x)


def _type_name(v: Any) -> str:
    return {bool: "bool", int: "int", float: "float"}.get(type(v), "str")


def store_parsed(
    store: Store,
    parsed: Parsed,
    *,
    data: bytes | MappedFile,
    sha256: str,
    path: Path,
    started: datetime | None = None,
    prepared: Path | None = None,
) -> tuple[int, int]:
    """Store one validated file: raw bytes and one transaction. Returns (object id, rows).

    ``prepared``: the raw copy :meth:`Store.copy_and_hash` made beside the parse (moved into raw/)."""
    started = started or utcnow()
    writer = _WRITERS[parsed.kind]
    object_id: int | None = None
    committed = False
    # The raw copy (disk-bound: a kernel copy and an fsync) runs beside the metrics and the inserts
    # and is waited for before the raw_files row, so it is complete before COMMIT.
    with ThreadPoolExecutor(max_workers=1) as pool:
        raw = pool.submit(_put_raw, store, data, sha256, path, prepared)
        try:
            with store.transaction() as con:
                object_id = con.execute(Q.next_object_id).fetchall()[0][0]
                if parsed.kind == "backtest":  # big trade lists become a Parquet part of the store
                    rows = write_backtest(con, object_id, parsed, str(path), sha256, store=store)
                else:
                    rows = writer(con, object_id, parsed, str(path), sha256)
                rel = raw.result()
                con.execute(
                    Q.insert_raw_file,
                    [sha256, rel, path.name, len(data), parsed.format, parsed.kind, object_id, utcnow()],
                )
                res = FileResult(
                    str(path), parsed.format, "ingested", object_id, rows, kind=parsed.kind, sha256=sha256
                )
                _insert_log(con, res, started)
            committed = True
        except duckdb.ConstraintException:
            # Another process stored the same bytes between our check and our commit.
            other = store.frame(Q.raw_file_by_sha, [sha256])
            raise _Duplicate(other["object_id"][0] if other.height else None) from None
        except duckdb.Error as e:
            raise StoreError(
                f"{path}: storing failed, nothing was written ({' '.join(str(e).split())[:200]})"
            ) from None
        finally:
            if parsed.kind == "backtest" and object_id is not None:  # a part stays only if committed
                store.settle_trades_part(object_id, None, committed=committed)
    return object_id, rows


def _put_raw(
    store: Store, data: bytes | MappedFile, sha256: str, path: Path, prepared: Path | None = None
) -> str:
    if isinstance(data, MappedFile):  # copied from disk, refused if the file changed since hashing
        return store.put_raw(
            data, sha256, path.suffix, source=data.path, source_stat=data.stat, prepared=prepared
        )
    return store.put_raw(data, sha256, path.suffix)


# -- one writer per kind -------------------------------------------------------------------------


def _write_parameters(con: duckdb.DuckDBPyConnection, set_id: int, owner: str, params: dict) -> None:
    if not params:
        return
    frame = pl.DataFrame(
        {
            "set_id": [set_id] * len(params),
            "owner": [owner] * len(params),
            "name": list(params),
            "value": [_json(v) for v in params.values()],
            "type": [_type_name(v) for v in params.values()],
        }
    )
    con.register("frame", frame)
    con.execute(Q.insert_parameters_from_frame)
    con.unregister("frame")


def write_backtest(
    con: duckdb.DuckDBPyConnection,
    bid: int,
    p: Parsed,
    source: str,
    sha: str | None,
    *,
    origin: str = "imported",
    store: Store | None = None,
) -> int:
    """Insert one backtest row (metrics recomputed from its trades), its trades, cash flows and parameters.

    Shared by ingestion (``origin="imported"``) and the sweep engine's stored backtests (``"sweep"``).
    With ``store`` (the store ``con`` belongs to), a trade list of ``store.trades_parquet_rows`` or more
    is written as a Parquet part instead (:meth:`Store.add_trades_part`); the caller then settles the
    part when the transaction ends (:meth:`Store.settle_trades_part`).
    """
    from workbench.analytics import compute_metrics

    trades = p.trades
    assert trades is not None  # validate() guarantees it
    if store is not None and trades.height >= store.trades_parquet_rows:
        # polars writes the part on its threads while computing the metrics on the others.
        with ThreadPoolExecutor(max_workers=1) as pool:
            written = pool.submit(store.write_trades_part, _part_frame(trades))
            try:
                m = compute_metrics(trades, p.initial_balance, p.cash_flows)
            except BaseException:
                with contextlib.suppress(BaseException):
                    store.discard_trades_part(written.result())
                raise
            tmp = written.result()
        try:
            store.add_trades_part(con, bid, tmp, trades.height)
        except BaseException:
            store.discard_trades_part(tmp)
            raise
    elif trades.height >= OVERLAP_ROWS:
        # DuckDB compresses the rows on one core while polars computes the metrics on the others; both
        # leave the GIL. Leaving the block waits for the insert, also when the metrics raise.
        with ThreadPoolExecutor(max_workers=1) as pool:
            inserted = pool.submit(_insert_trades, con, bid, trades)
            m = compute_metrics(trades, p.initial_balance, p.cash_flows)
            inserted.result()
    else:
        _insert_trades(con, bid, trades)
        m = compute_metrics(trades, p.initial_balance, p.cash_flows)
    start = p.start or (trades["open_time"].min() if trades.height else None)
    end = p.end or (trades["close_time"].max() if trades.height else None)
    con.execute(
        Q.insert_backtest,
        [
            bid,
            p.name,
            source,
            origin,
            p.format,
            p.platform,
            p.strategy,
            p.symbol,
            p.timeframe,
            p.currency,
            start,
            end,
            p.initial_balance,
            _finite(m.final_balance),
            _finite(m.net_profit),
            _finite(m.gross_profit),
            _finite(m.gross_loss),
            m.total_trades,
            m.winning_trades,
            m.losing_trades,
            _finite(m.win_rate),
            _finite(m.profit_factor),
            _finite(m.sharpe_ratio),
            _finite(m.sortino_ratio),
            _finite(m.max_drawdown),
            _finite(m.max_drawdown_pct),
            _json(dict(p.parameters)),
            _json(dict(p.stated)),
            _json(dict(p.meta)),
            sha,
            utcnow(),
            _json(list(p.warnings)),
            _json([dict(a) for a in p.anomalies]),
            _json(platform_record(p)),
            _json(list(m.assumptions)),
            p.meta.get("timezone"),
        ],
    )
    if p.cash_flows is not None and p.cash_flows.height:
        con.register("frame", p.cash_flows)
        con.execute(Q.insert_cash_flows_from_frame, [bid])
        con.unregister("frame")
    _write_parameters(con, bid, "backtest", dict(p.parameters))
    return trades.height


# Trade lists at least this long are inserted in a thread beside the metrics (see write_backtest).
OVERLAP_ROWS = 100_000


class _ArrowStream:
    """A polars frame seen by DuckDB only through the Arrow C stream interface (PyCapsule): no pyarrow
    table in between and no pyarrow import on this path (0.7 s the first time)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self.frame.__arrow_c_stream__(requested_schema)


# The stored columns of a trade (after backtest_id): file order as ``seq``, ``duration_seconds`` added.
ROW_SCHEMA: dict[str, pl.DataType] = {
    "seq": pl.Int32,
    **{c: t for c, t in TRADES_SCHEMA.items() if c != "comment"},
    "duration_seconds": pl.Float64,
    "comment": pl.Utf8,
}


def _with_seq(trades: pl.DataFrame) -> pl.DataFrame:
    return trades.with_row_index("seq", offset=1).with_columns(
        pl.col("seq").cast(pl.Int32),
        ((pl.col("close_time") - pl.col("open_time")).dt.total_microseconds() / 1e6).alias(
            "duration_seconds"
        ),
    )


# The columns of a Parquet part: those of a stored trade bar backtest_id (in the part's path), seq (the
# part's row number) and duration_seconds (computed from the times), which the ``trades`` view derives.
PART_SCHEMA: dict[str, pl.DataType] = {
    c: t for c, t in ROW_SCHEMA.items() if c not in ("seq", "duration_seconds")
}


def _part_frame(trades: pl.DataFrame) -> pl.DataFrame:
    """The rows of a Parquet part: every column of ``PART_SCHEMA`` with its type, a column the trades
    lack as nulls. No copy of the columns that are there."""
    return trades.select(
        pl.col(c).cast(t) if c in trades.columns else pl.lit(None, t).alias(c) for c, t in PART_SCHEMA.items()
    )


def _insert_trades(con: duckdb.DuckDBPyConnection, bid: int, trades: pl.DataFrame) -> None:
    """The ``trade_rows`` of backtest ``bid``: file order as ``seq`` (1..n), ``duration_seconds`` added.

    Columns that are null throughout (stop_loss, pips... of most files) are left to DuckDB's default
    NULL instead of being materialised and exported: the stored rows are the same.
    """
    frame = _with_seq(trades)
    names = ["seq", *[c for c in trades.columns if c != "comment"], "duration_seconds", "comment"]
    if frame.height:
        names = [c for c in names if c in frame.columns and frame[c].null_count() < frame.height]
    listed = ", ".join(f'"{c}"' for c in names)
    con.register("frame", _ArrowStream(frame.select(names)))
    con.execute(f"INSERT INTO trade_rows (backtest_id, {listed}) SELECT $1, {listed} FROM frame", [bid])
    con.unregister("frame")


def platform_record(p: Parsed) -> dict[str, Any]:
    """What the platform printed and what its rows give under its own convention (``platform`` column)."""
    if not p.stated and not p.platform_figures:
        return {}
    return {
        "convention": p.convention or (f"{p.platform} per position" if p.platform else None),
        "printed": dict(p.stated),
        "reproduced": dict(p.platform_figures),
    }


def _write_parameter_set(con: duckdb.DuckDBPyConnection, sid: int, p: Parsed, source: str, sha: str) -> int:
    con.execute(
        Q.insert_parameter_set,
        [
            sid,
            p.name,
            source,
            p.format,
            p.strategy,
            p.symbol,
            p.timeframe,
            _json(dict(p.meta)),
            sha,
            utcnow(),
        ],
    )
    _write_parameters(con, sid, "parameter_set", dict(p.parameters))
    return len(p.parameters)


# Columns of an optimiser export that are results, not inputs.
OPTIMIZATION_METRICS = (
    "pass",
    "result",
    "profit",
    "expected_payoff",
    "profit_factor",
    "recovery_factor",
    "sharpe_ratio",
    "custom",
    "equity_dd_pct",
    "trades",
)


def _write_optimization(con: duckdb.DuckDBPyConnection, oid: int, p: Parsed, source: str, sha: str) -> int:
    passes = p.passes
    assert passes is not None
    inputs = list(p.meta.get("inputs") or [c for c in passes.columns if c not in OPTIMIZATION_METRICS])
    metrics = [c for c in passes.columns if c not in inputs]
    objective = "result" if "result" in passes.columns else None
    con.execute(
        Q.insert_optimization,
        [
            oid,
            p.name,
            source,
            "imported",
            p.format,
            p.strategy,
            p.symbol,
            p.timeframe,
            p.start,
            p.end,
            p.initial_balance,
            p.currency,
            p.meta.get("algo"),
            _json({objective: "max"} if objective else {}),
            _json(dict(p.meta)),
            sha,
            utcnow(),
            None,  # deflated_sharpe / pbo: an imported optimisation has no per-pass returns
            None,
        ],
    )
    trial = pl.col("pass").cast(pl.Int64) if "pass" in passes.columns else pl.int_range(1, pl.len() + 1)
    rank = (
        pl.col(objective).rank("ordinal", descending=True).cast(pl.Int32)
        if objective
        else pl.lit(None, dtype=pl.Int32)
    )
    frame = passes.select(
        pl.lit(oid, dtype=pl.Int64).alias("optimization_id"),
        trial.alias("trial"),
        pl.struct(inputs).struct.json_encode().alias("parameters"),
        (pl.struct(objective).struct.json_encode() if objective else pl.lit("{}")).alias("objectives"),
        pl.struct(metrics).struct.json_encode().alias("metrics"),
        rank.alias("rank"),
        pl.lit(None, dtype=pl.Int32).alias("fold"),
    )
    con.register("frame", frame)
    con.execute(Q.insert_optimization_results_from_frame)
    con.unregister("frame")
    return passes.height


def _write_bars(con: duckdb.DuckDBPyConnection, _oid: int, p: Parsed, source: str, sha: str) -> int:
    return write_bars(con, p.bars)


def write_bars(con: duckdb.DuckDBPyConnection, bars: pl.DataFrame | None) -> int:
    """Replace the stored bars of each (symbol, timeframe) over the time range ``bars`` covers."""
    assert bars is not None
    spans = bars.group_by("symbol", "timeframe").agg(
        pl.col("ts").min().alias("a"), pl.col("ts").max().alias("b")
    )
    for sym, tf, a, b in spans.iter_rows():
        con.execute(Q.delete_bars_range, [sym, tf, a, b])
    con.register("frame", bars)
    con.execute(Q.insert_bars_from_frame)
    con.unregister("frame")
    return bars.height


_WRITERS: dict[str, Callable[[duckdb.DuckDBPyConnection, int, Parsed, str, str], int]] = {
    "backtest": write_backtest,
    "parameters": _write_parameter_set,
    "optimization": _write_optimization,
    "bars": _write_bars,
}
