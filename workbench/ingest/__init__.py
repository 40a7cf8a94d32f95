"""Ingestion: detect a file's format, parse it into :class:`Parsed`, validate, load.

Public surface: :func:`parse_file` (no store involved) and the registry ``PARSERS``;
storing goes through :meth:`workbench.Workspace.ingest`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from workbench.config import settings
from workbench.errors import DataError
from workbench.ingest.records import Parsed
from workbench.ingest.registry import PARSERS, MappedFile, detect, load_all
from workbench.ingest.validate import validate

__all__ = ["PARSERS", "Parsed", "parse_bytes", "parse_file", "formats"]

log = logging.getLogger(__name__)


def parse_bytes(
    data: bytes | MappedFile, name: str, *, fmt: str | None = None, strict: bool = False
) -> Parsed:
    """Detect, parse and validate ``data`` (named ``name`` in errors). Raises ``DataError``.

    ``data`` may be a :class:`MappedFile` (big files); parsers not registered with
    ``accepts_buffer=True`` then get a ``bytes`` copy of it. ``strict`` rejects what is otherwise a
    warning (platform conventions in secondary totals, anomalous rows the platform wrote).
    """
    p = None
    try:
        p = detect(data, name, fmt=fmt)
        if not (p.accepts_buffer or isinstance(data, bytes)):
            data = bytes(data)
        return validate(p.parse(data, name), strict=strict)
    except DataError as e:
        raise e.located(name) from None
    except (MemoryError, RecursionError, KeyboardInterrupt):
        raise
    except UnicodeDecodeError as e:
        raise DataError(
            f"not valid {e.encoding} text (byte 0x{e.object[e.start]:02x}); the file is damaged or in another "
            f"encoding — re-export it or pass --format",
            file=name,
            where=f"byte {e.start}",
        ) from None
    except Exception as e:  # noqa: BLE001 - the user boundary: a parser met something it did not expect
        # Not the file's fault until proven: a parser that raises anything but DataError has a bug (or a
        # case it does not handle). Say so, keep the cause, and show the traceback on request.
        if settings().debug:
            raise
        where = _where(e)
        msg = " ".join(f"{type(e).__name__}: {e}".split())[:300]
        parser_name = p.name if p is not None else "detection"
        log.debug("parser %s failed on %s", parser_name, name, exc_info=True)
        raise DataError(
            f"parser {parser_name} failed{where}: {msg} — a workbench bug or an unsupported variant, not "
            "necessarily a damaged file; WORKBENCH_DEBUG=1 shows the traceback (please report it)",
            file=name,
            where="-",
        ) from e


def _where(e: BaseException) -> str:
    """`` at <module>:<line>`` of the innermost workbench frame of ``e``'s traceback."""
    tb = e.__traceback__
    spot = ""
    while tb is not None:
        code = tb.tb_frame.f_code
        if "workbench" in code.co_filename:
            spot = f" at {Path(code.co_filename).stem}:{tb.tb_lineno}"
        tb = tb.tb_next
    return spot


def parse_file(path: str | Path, *, fmt: str | None = None, strict: bool = False) -> Parsed:
    path = Path(path)
    return parse_bytes(path.read_bytes(), str(path), fmt=fmt, strict=strict)


def formats() -> list[str]:
    load_all()
    return PARSERS.names()
