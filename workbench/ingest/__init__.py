"""Ingestion: detect a file's format, parse it into :class:`Parsed`, validate, load.

Public surface: :func:`parse_file` (no store involved) and the registry ``PARSERS``;
storing goes through :meth:`workbench.Workspace.ingest`.
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import DataError
from workbench.ingest.records import Parsed
from workbench.ingest.registry import PARSERS, MappedFile, detect, load_all
from workbench.ingest.validate import validate

__all__ = ["PARSERS", "Parsed", "parse_bytes", "parse_file", "formats"]


def parse_bytes(data: bytes | MappedFile, name: str, *, fmt: str | None = None) -> Parsed:
    """Detect, parse and validate ``data`` (named ``name`` in errors). Raises ``DataError``.

    ``data`` may be a :class:`MappedFile` (big files); parsers not registered with
    ``accepts_buffer=True`` then get a ``bytes`` copy of it.
    """
    try:
        p = detect(data, name, fmt=fmt)
        if not (p.accepts_buffer or isinstance(data, bytes)):
            data = bytes(data)
        return validate(p.parse(data, name))
    except DataError as e:
        raise e.located(name) from None
    except (MemoryError, RecursionError):
        raise
    except UnicodeDecodeError as e:
        raise DataError(
            f"not valid {e.encoding} text (byte 0x{e.object[e.start]:02x}); the file is damaged or in another "
            f"encoding — re-export it or pass --format",
            file=name,
            where=f"byte {e.start}",
        ) from None
    except Exception as e:  # noqa: BLE001 - the user boundary: a parser met the unexpected
        # Malformed bytes surface as ValueError/KeyError/lxml/polars errors deep in a parser;
        # the user gets one line naming the file, never a traceback.
        msg = " ".join(str(e).split())[:200]
        raise DataError(f"cannot parse ({type(e).__name__}): {msg}", file=name) from None


def parse_file(path: str | Path, *, fmt: str | None = None) -> Parsed:
    path = Path(path)
    return parse_bytes(path.read_bytes(), str(path), fmt=fmt)


def formats() -> list[str]:
    load_all()
    return PARSERS.names()
