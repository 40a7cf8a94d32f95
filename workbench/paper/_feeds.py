"""Feeds: where bars come from. A replay of stored bars (N x real time or as fast as possible) and
live-style feeds (a growing CSV/Parquet file tailed, bars streamed over a WebSocket), all behind one
small interface: ``poll(timeout)`` returns the bars that have arrived (maybe none), or ``None`` once
the feed has ended.

A bar is a tuple ``(ts_us, open, high, low, close, volume)`` (``ts`` = the bar's start, UTC, µs).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl

from workbench.errors import ConfigError, DataError

__all__ = ["Feed", "ReplayFeed", "FileTailFeed", "WebSocketFeed", "BarTuple", "bars_to_tuples", "open_feed"]

BarTuple = tuple[int, float, float, float, float, float]


class Feed(Protocol):
    """``poll(timeout_s)`` -> newly arrived bars (oldest first; [] when none yet) or None at the end;
    ``connected``: the source is reachable; ``close()``."""

    connected: bool

    def poll(self, timeout_s: float) -> list[BarTuple] | None: ...

    def close(self) -> None: ...


def bars_to_tuples(frame: pl.DataFrame) -> list[BarTuple]:
    """Rows of a bars frame (ts, open, high, low, close[, volume]) as bar tuples."""
    ts = frame["ts"].dt.cast_time_unit("us").dt.replace_time_zone(None).cast(pl.Int64).to_list()
    vol = frame["volume"].fill_null(0.0).to_list() if "volume" in frame.columns else [0.0] * frame.height
    cols = [frame[c].cast(pl.Float64).to_list() for c in ("open", "high", "low", "close")]
    return list(zip(ts, *cols, vol, strict=True))


class ReplayFeed:
    """Stored bars replayed from ``start``: at ``speed`` x real time (bar ``i`` is released when
    ``(ts_i - ts_start) / speed`` seconds have passed) or, with ``speed="max"``, in chunks of
    ``step`` bars (0: 1024, growing with the bars seen so the indicators' recomputation stays
    a small multiple of the bars)."""

    connected = True

    def __init__(
        self, frame: pl.DataFrame, *, start: int = 0, speed: float | str = "max", step: int = 0
    ) -> None:
        ts = frame["ts"].dt.cast_time_unit("us").dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
        vol = frame["volume"].fill_null(0.0) if "volume" in frame.columns else pl.Series([0.0] * frame.height)
        cols = [ts.astype(np.float64), *(frame[c].cast(pl.Float64).to_numpy() for c in ("open", "high", "low", "close")),
                vol.cast(pl.Float64).to_numpy()]  # fmt: skip
        self.rows = np.column_stack(cols)  # one row per bar; µs timestamps < 2**53 are exact in a double
        self.bars_per_year = _bars_per_year(frame)
        self.i = start
        self.speed = speed
        self.step = step
        self.t0 = time.monotonic()
        self.ts0 = float(self.rows[start, 0]) if start < len(self.rows) else 0.0

    def poll(self, timeout_s: float) -> np.ndarray | None:
        if self.i >= len(self.rows):
            return None
        if self.speed == "max":
            k = self.step or max(1024, min(65536, self.i // 2))
            out = self.rows[self.i : self.i + k]
            self.i += len(out)
            return out
        due = self.t0 + (self.rows[self.i][0] - self.ts0) / 1e6 / float(self.speed)
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, timeout_s))
            if wait > timeout_s:
                return []
        now = time.monotonic()
        j = self.i
        while j < len(self.rows) and self.t0 + (self.rows[j][0] - self.ts0) / 1e6 / float(self.speed) <= now:
            j += 1
        out = self.rows[self.i : max(j, self.i + 1)]
        self.i += len(out)
        return out

    def close(self) -> None:
        pass


def _bars_per_year(frame: pl.DataFrame) -> float | None:
    """The engine's bars per year of the whole stored series (from its timestamps only: the calendar,
    no prices), so ``%vol`` sizing annualises as :func:`workbench.backtest.run` on the same bars does."""
    if frame.height < 2:
        return None
    from workbench.backtest import annualization

    ann = annualization(frame)
    return ann.periods_per_year * frame.height / (ann.returns + 1)


def _parse_ts(value: Any) -> int:
    """µs since the epoch (UTC) of a number (µs) or an ISO 8601 text (naive = UTC)."""
    if isinstance(value, int | float):
        return int(value)
    dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return (dt - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def _row(values: Sequence[Any]) -> BarTuple:
    ts = _parse_ts(values[0])
    o, h, lo, c = (float(v) for v in values[1:5])
    v = float(values[5]) if len(values) > 5 and values[5] not in ("", None) else 0.0
    return ts, o, h, lo, c, v


class FileTailFeed:
    """Bars appended to a CSV (``ts,open,high,low,close[,volume]`` with a header line; ``ts`` ISO 8601
    UTC or µs) or rewritten Parquet file, read as they arrive (complete lines only). The feed ends after
    ``idle_exit_s`` seconds without a new bar (None: never) or at a line ``#end``."""

    def __init__(
        self, path: str | Path, *, idle_exit_s: float | None = None, after_ts: int | None = None
    ) -> None:
        self.path = Path(path)
        self.parquet = self.path.suffix.lower() == ".parquet"
        self.offset = 0
        self.rows_read = 0
        self.buffer = b""
        self.header = False
        self.idle_exit_s = idle_exit_s
        self.after_ts = after_ts
        self.last_new = time.monotonic()
        self.ended = False
        self.connected = self.path.exists()
        self.mtime = 0

    def _read(self) -> list[BarTuple]:
        if not self.path.exists():
            self.connected = False
            return []
        self.connected = True
        if self.parquet:
            st = self.path.stat().st_mtime_ns
            if st == self.mtime:
                return []
            self.mtime = st
            frame = pl.read_parquet(self.path)
            new = frame.slice(self.rows_read)
            self.rows_read = frame.height
            return bars_to_tuples(new) if new.height else []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read()
        self.offset += len(chunk)
        data = self.buffer + chunk
        lines = data.split(b"\n")
        self.buffer = lines.pop()
        out: list[BarTuple] = []
        for n, raw in enumerate(lines):
            line = raw.decode("utf-8").strip()
            if not line:
                continue
            if line.startswith("#end"):
                self.ended = True
                break
            if not self.header:
                self.header = True
                if not line[0].isdigit():
                    continue
            try:
                out.append(_row(line.split(",")))
            except (ValueError, IndexError):
                raise DataError(f"not a bar line ts,open,high,low,close[,volume]: {line[:80]!r}",
                                file=str(self.path), where=f"line {n + 1}") from None  # fmt: skip
        return out

    def poll(self, timeout_s: float) -> list[BarTuple] | None:
        deadline = time.monotonic() + timeout_s
        while True:
            rows = [r for r in self._read() if self.after_ts is None or r[0] > self.after_ts]
            if rows:
                self.last_new = time.monotonic()
                return rows
            if self.ended or (
                self.idle_exit_s is not None and time.monotonic() - self.last_new > self.idle_exit_s
            ):
                return None
            if time.monotonic() >= deadline:
                return []
            time.sleep(min(0.01, timeout_s))

    def close(self) -> None:
        pass


class WebSocketFeed:
    """Bars streamed by a WebSocket server (``websockets``): each text message is one bar as JSON
    ``{"ts": ISO or µs, "open", "high", "low", "close", "volume"}`` or a list of them; ``{"end": true}``
    ends the feed. A reader thread fills a queue; ``connected`` follows the socket."""

    def __init__(self, url: str, *, after_ts: int | None = None, open_timeout_s: float = 5.0) -> None:
        from websockets.sync.client import connect

        self.url = url
        self.after_ts = after_ts
        self.q: queue.Queue[BarTuple | None] = queue.Queue()
        try:
            self.ws = connect(url, open_timeout=open_timeout_s)
        except (OSError, TimeoutError) as e:
            raise ConfigError(f"--feed {url}: cannot connect ({e}); is the bar server running?") from None
        self.connected = True
        self.ended = False
        self.thread = threading.Thread(target=self._reader, name="workbench-ws-feed", daemon=True)
        self.thread.start()

    def _reader(self) -> None:
        try:
            for msg in self.ws:
                data = json.loads(msg)
                items = data if isinstance(data, list) else [data]
                for item in items:
                    if item.get("end"):
                        self.q.put(None)
                        return
                    self.q.put(_row([item["ts"], item["open"], item["high"], item["low"], item["close"],
                                     item.get("volume", 0.0)]))  # fmt: skip
        except Exception:  # noqa: BLE001 - a dropped connection ends the feed
            pass
        finally:
            self.connected = False
            self.q.put(None)

    def poll(self, timeout_s: float) -> list[BarTuple] | None:
        if self.ended:
            return None
        out: list[BarTuple] = []
        try:
            item = self.q.get(timeout=timeout_s)
        except queue.Empty:
            return []
        while True:
            if item is None:
                self.ended = True
                break
            if self.after_ts is None or item[0] > self.after_ts:
                out.append(item)
            try:
                item = self.q.get_nowait()
            except queue.Empty:
                break
        if not out and self.ended:
            return None
        return out

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass


def open_feed(spec: str, frame_loader: Any, *, start: int, speed: float | str, step: int,
              after_ts: int | None, idle_exit_s: float | None = None) -> Feed:  # fmt: skip
    """The feed named by ``spec``: ``replay`` (``frame_loader()`` gives the stored bars), ``csv:PATH``,
    ``parquet:PATH``, ``ws://HOST:PORT[/path]``."""
    if spec == "replay":
        return ReplayFeed(frame_loader(), start=start, speed=speed, step=step)
    if spec.startswith(("csv:", "parquet:", "file:")):
        return FileTailFeed(spec.partition(":")[2], idle_exit_s=idle_exit_s, after_ts=after_ts)
    if spec.startswith(("ws://", "wss://")):
        return WebSocketFeed(spec, after_ts=after_ts)
    raise ConfigError(f"--feed {spec!r}: expected replay, csv:PATH, parquet:PATH or ws://HOST:PORT")
