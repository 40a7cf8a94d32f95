"""MetaTrader 5 Strategy Tester report saved by the terminal as Excel ("Save as Report (Excel)").

The workbook has one sheet laid out like the HTML report (see ``mt5_tester_html``): a title
row, the server/build row, then the sections "Settings", "Results", "Orders" and "Deals",
each starting with a row whose only text is its title. Labels sit in merged cells spanning
a few columns (``Expert:`` in A, its value in D), numbers are typed cells (drawdowns and
other two-part figures stay strings such as ``"2 780 636.00 (48.99%)"``), and the Deals
table ends with its totals row as in the HTML report.

Reader: python-calamine (maintained Rust reader), given an in-memory copy of the zip whose
XML parts are re-encoded from UTF-16 to UTF-8 (:func:`utf8_parts`). MT5 writes every part
as UTF-16LE with a BOM, and calamine (as fastexcel and polars' "calamine" engine) assumes
UTF-8 and fails on them ("Unexpected end of xml"). openpyxl does read the UTF-16 parts
directly, but it was not chosen: (1) in read-only mode it trusts the sheet's
``<dimension>``, which MT5 writes one row short (``A1:O10729`` for 10,730 rows), so the
Deals totals row silently disappears unless the dimensions are reset; (2) it parses the
1.1 MB sample in 0.6-1.1 s against calamine's 0.1 s (re-encoding included), which would
put the whole parse under the 1 MB/s target on a busy machine. The re-encoding leaves
the package otherwise unchanged (every part, same names) and calamine still does all
the reading of the workbook. The detector only peeks at the zip's first local entries
(it sees the head of the file alone).

The sheet's rows become cell-text rows (typed cells printed back as plain numbers) and go
through the same structure, label, deal and FIFO-pairing code as the HTML report
(:func:`._mt5_common.tester_report`, any interface language). A test may trade several symbols although the settings name one: trades
carry their own symbol, ``Parsed.symbol`` is ``None`` when there are several, and
``meta["symbols"]`` has each symbol's deal/trade counts and net profit.

Reconciliation: ``stated`` holds the figures the report prints (raw cells); MT5 computes
gross profit/loss, profit factor and the profit/loss trade counts per *deal* and counts
trades as exit deals, so ``platform_figures`` holds the same keys recomputed from the deals
under that convention (``convention="mt5 per deal"``).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import python_calamine

from workbench.errors import DataError
from workbench.ingest.parsers import _mt5_common as mt5
from workbench.ingest.records import Parsed
from workbench.ingest.registry import parser
from workbench.ingest.text import clean

__all__ = ["parse", "sheet_rows"]

_CORE_TITLE = re.compile(r"<dc:title>\s*MetaTrader 5\s*</dc:title>")
_LOCAL = struct.Struct("<IHHHHHIIIHH")  # zip local file header
_PEEK = 16 * 1024  # inflated bytes the detector looks at per part


# ----------------------------------------------------------------------------- detection


def _local_entries(head: bytes) -> Iterator[tuple[str, int, bytes]]:
    """``(name, method, compressed bytes present in head)`` for the zip's leading local entries."""
    pos = 0
    while pos + _LOCAL.size <= len(head) and head[pos : pos + 4] == b"PK\x03\x04":
        _, _, flags, method, _, _, _, csize, _, nlen, xlen = _LOCAL.unpack_from(head, pos)
        name = head[pos + _LOCAL.size : pos + _LOCAL.size + nlen].decode("utf-8", errors="replace")
        start = pos + _LOCAL.size + nlen + xlen
        if flags & 0x08:  # sizes follow the data: the next header cannot be found from here
            yield name, method, head[start:]
            return
        yield name, method, head[start : start + csize]
        pos = start + csize


def _peek(method: int, data: bytes) -> str:
    """The start of a zip part as text (it may be cut off in the head)."""
    if method == zipfile.ZIP_STORED:
        raw = data[:_PEEK]
    elif method == zipfile.ZIP_DEFLATED:
        try:
            raw = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, _PEEK)
        except zlib.error:
            return ""
    else:
        return ""
    return mt5.head_text(raw)


def _detect(head: bytes, name: str) -> bool:
    """A zip holding ``xl/`` parts whose core properties name MetaTrader 5 as the title, or whose
    shared strings start with the tester report's title (``parse`` checks the sections)."""
    if not head.startswith(b"PK\x03\x04"):
        return False
    spreadsheet = marker = False
    for part, method, data in _local_entries(head):
        spreadsheet |= part.startswith("xl/")
        if not marker and part in ("docProps/core.xml", "xl/sharedStrings.xml"):
            text = _peek(method, data)
            marker = bool(_CORE_TITLE.search(text)) or "Strategy Tester Report" in text
        if spreadsheet and marker:
            return True
    return False


# ----------------------------------------------------------------------------- reading


def _text(value: Any) -> str:
    """A cell as the report would print it: integral numbers without ``.0``, times as MT5 does."""
    if isinstance(value, str):
        return clean(value) if value else ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y.%m.%d %H:%M:%S")
    return str(value)


_UTF16 = ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_DECLARED = re.compile(rb"^(<\?xml[^>]*?encoding\s*=\s*[\"'])[^\"']*", re.I)
_MAX_UNPACKED = 1 << 30  # refuse zip bombs: MT5 reports unpack to ~13x their size


def utf8_parts(data: bytes) -> bytes:
    """``data`` itself when every XML part is UTF-8, else an in-memory copy of the zip whose
    UTF-16 parts (with a BOM, as MT5 writes them) are re-encoded as UTF-8, declaration included.

    calamine assumes UTF-8 XML; nothing else in the package changes (the copy is stored
    uncompressed: it lives only for the read)."""
    try:
        src = zipfile.ZipFile(io.BytesIO(data))
        infos = src.infolist()
        if sum(i.file_size for i in infos) > _MAX_UNPACKED:
            raise DataError("the workbook unpacks to more than 1 GiB; refusing to read it", where="1")
        parts = [(i, src.read(i)) for i in infos]
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
        raise DataError(
            f"not a readable XLSX (zip) file ({e}); it is truncated or damaged", where="1"
        ) from None
    if not any(part.startswith(bom) for _, part in parts for bom, _ in _UTF16):
        return data
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info, part in parts:
            for bom, encoding in _UTF16:
                if part.startswith(bom):
                    try:
                        text = part[len(bom) :].decode(encoding)
                    except UnicodeDecodeError as e:
                        raise DataError(
                            f"{info.filename}: not valid {encoding.upper()} ({e.reason})", where=info.filename
                        ) from None
                    part = _DECLARED.sub(rb"\1UTF-8", text.encode("utf-8"), count=1)
                    break
            dst.writestr(info.filename, part)
    return out.getvalue()


def sheet_rows(data: bytes) -> list[list[str]]:
    """The first worksheet of an XLSX file as rows of cell texts, each as wide as the sheet."""
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(utf8_parts(data)))
        if not book.sheet_names:
            raise DataError("the workbook has no worksheet", where="1")
        cells = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except python_calamine.CalamineError as e:
        raise DataError(f"unreadable XLSX workbook ({type(e).__name__}: {e})", where="1") from None
    return [[_text(v) for v in row] for row in cells]


def _compact_row(row: list[str]) -> list[str]:
    """A label/value row with the cells covered by merges dropped: ``Expert: | | | X`` ->
    ``Expert: | X``; a row that starts blank keeps one leading blank (``| Symbol1=XAUUSD``),
    as the HTML report's rows do."""
    texts = [c for c in row if c]
    if texts and row and not row[0]:
        texts.insert(0, "")
    return texts


# ----------------------------------------------------------------------------- parse


@parser("mt5_tester_xlsx", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """MetaTrader 5 Strategy Tester report saved as Excel (XLSX, UTF-16 parts, any interface language)."""
    return mt5.tester_report(
        sheet_rows(data),
        fmt="mt5_tester_xlsx",
        what="MT5 Strategy Tester report saved as Excel",
        compact=_compact_row,
        meta={"reader": "python-calamine"},
    )
