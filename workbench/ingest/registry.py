"""The parser registry. A new format is one new file in ``ingest/parsers/`` that calls
:func:`parser` once; nothing else changes.

Example::

    from workbench.ingest.registry import parser
    from workbench.ingest.records import Parsed

    def _detect(head: bytes, name: str) -> bool:
        return head.startswith(b"MYFMT")

    @parser("my_format", detect=_detect, priority=50)
    def parse(data: bytes, name: str) -> Parsed:
        ...
"""

from __future__ import annotations

import importlib
import logging
import mmap
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench._registry import Registry
from workbench.errors import DataError
from workbench.ingest.records import Parsed

__all__ = ["Parser", "PARSERS", "parser", "detect", "HEAD_BYTES", "MappedFile"]

log = logging.getLogger(__name__)

HEAD_BYTES = 64 * 1024  # detectors see at most this much of the file


@dataclass(frozen=True, slots=True)
class Parser:
    name: str
    detect: Callable[[bytes, str], bool]  # (first HEAD_BYTES bytes, file name) -> is it mine?
    parse: Callable[[bytes, str], Parsed]  # (whole file, file name) -> Parsed; raises DataError
    priority: int = 50  # lower runs first: specific formats before generic ones (CSV)
    description: str = ""
    accepts_buffer: bool = False  # parse() also takes a MappedFile (else it always gets bytes)


class MappedFile(mmap.mmap):
    """A whole file mapped read-only, given instead of ``bytes`` to parsers registered with
    ``accepts_buffer=True`` (big files: no copy in memory). Slicing, ``find``, ``len`` and the
    buffer protocol work as on ``bytes`` (``startswith`` does not); ``path`` names the file, so
    a parser may let a reader stream it from disk, and ``stat`` is the file's ``os.stat`` when
    it was mapped (see :meth:`unchanged`)."""

    path: Path
    stat: os.stat_result

    @classmethod
    def open(cls, path: str | Path) -> MappedFile:
        with open(path, "rb") as fh:  # the mapping keeps its own handle
            stat = os.fstat(fh.fileno())
            mapped = cls(fh.fileno(), 0, access=mmap.ACCESS_READ)
        mapped.path = Path(path)
        mapped.stat = stat
        return mapped

    def unchanged(self) -> bool:
        """The file at ``path`` is still the one mapped (same inode, size and modification time)."""
        try:
            now = os.stat(self.path)
        except OSError:
            return False
        keys = ("st_dev", "st_ino", "st_size", "st_mtime_ns")
        return all(getattr(self.stat, k) == getattr(now, k) for k in keys)


PARSERS: Registry[Parser] = Registry("format")


def parser(
    name: str,
    *,
    detect: Callable[[bytes, str], bool],
    priority: int = 50,
    description: str = "",
    accepts_buffer: bool = False,
) -> Callable[[Callable[[bytes, str], Parsed]], Callable[[bytes, str], Parsed]]:
    def deco(fn: Callable[[bytes, str], Parsed]) -> Callable[[bytes, str], Parsed]:
        doc = (fn.__doc__ or "").strip().splitlines()
        desc = description or (doc[0] if doc else "")
        PARSERS.add(name, Parser(name, detect, fn, priority, desc, accepts_buffer=accepts_buffer))
        return fn

    return deco


_loaded = False


def load_all() -> None:
    """Import every module in ``workbench.ingest.parsers`` (each registers itself)."""
    global _loaded
    if _loaded:
        return
    from workbench.ingest import parsers

    for mod in sorted(pkgutil.iter_modules(parsers.__path__), key=lambda m: m.name):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{parsers.__name__}.{mod.name}")
    _loaded = True


def detect(data: bytes, name: str, *, fmt: str | None = None) -> Parser:
    """The parser for ``data``: ``fmt`` if given, else the first detector that says yes."""
    load_all()
    if fmt:
        return PARSERS.get(fmt)
    head = data[:HEAD_BYTES]
    for _, p in sorted(PARSERS.items(), key=lambda kv: (kv[1].priority, kv[0])):
        try:
            if p.detect(head, name):
                return p
        except Exception:  # a detector must never break detection of other formats, but it is a bug
            log.warning("detector of %s failed on %s (skipped; a workbench bug)", p.name, name, exc_info=True)
            continue
    raise DataError(
        f"unrecognised format (known: {', '.join(PARSERS.names())}); pass --format NAME to force one",
        where="1",
    )
