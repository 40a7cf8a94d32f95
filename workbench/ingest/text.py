"""Text helpers shared by the parsers: decoding, numbers and dates as platforms print them."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from workbench.errors import DataError

__all__ = ["decode", "number", "optional_number", "timestamp", "clean"]

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
# <meta charset="...">, <meta http-equiv=... content="text/html; charset=...">, <?xml ... encoding="..."?>
_DECLARED = re.compile(rb"""(?:charset|encoding)\s*=\s*["']?([A-Za-z0-9_.:\-]+)""", re.I)
# What the platforms' files can be in: MetaTrader, cTrader and Excel run on Windows and write 8-bit
# text in the system's ANSI code page (cp125x, cp874, and the CJK double-byte pages), or UTF-8/UTF-16;
# a few tools write the ISO/KOI/EUC siblings. charset-normalizer chooses among these by evidence;
# outside this set it proposes code pages no trading platform writes (cp1006, hp_roman8, UTF-16
# without BOM for a four-byte word). Listed in the order that breaks a tie between encodings the
# evidence cannot tell apart (same bytes decode to the same text, or equal scores): the most used first.
_ENCODINGS = (
    "utf_8",
    "cp1252",
    "cp1251",
    "cp1250",
    "gb18030",
    "cp932",
    "cp949",
    "big5",
    "cp1254",
    "cp1253",
    "cp1257",
    "cp1255",
    "cp1256",
    "cp1258",
    "cp874",
    "shift_jis",
    "euc_jp",
    "euc_kr",
    "koi8_r",
    "koi8_u",
    "iso8859_2",
    "iso8859_5",
    "iso8859_7",
    "iso8859_9",
    "iso8859_15",
    "mac_roman",
)
_RANK = {enc: i for i, enc in enumerate(_ENCODINGS)}
_HIGH = re.compile(rb"[\x80-\xff]")
_TAG = re.compile(rb"<[^<>]*>")
_EVIDENCE_BYTES = (
    64 * 1024
)  # of non-ASCII lines: a few hundred labels tell the code page; more only costs time
_WINDOW = 512  # bytes either side of a non-ASCII byte when its line is longer (minified markup)


def decode(data: bytes, *, vocabulary: Iterable[str] = ()) -> str:
    """The text of an export, decoded strictly: a wrong guess fails rather than turning into '?'.

    In order of authority: a byte-order mark; the markup's own declaration (``<meta charset>``,
    ``<?xml encoding>``) when the bytes honour it; UTF-8 when the bytes are valid UTF-8; else
    charset-normalizer's reading of the non-ASCII lines (markup stripped, at most 64 KB, so a
    multi-megabyte report costs milliseconds), each candidate then checked on the whole file.
    MetaTrader 4 writes its terminal's 8-bit code page without declaring it (cp1252 French/Spanish,
    cp1251 Russian, GBK Chinese...); MetaTrader 5 UTF-16LE with BOM. ``vocabulary`` (a parser's labels in
    every language it knows) breaks ties between 8-bit readings: the one in which more of them appear
    wins. Raises :class:`DataError` naming the first byte no likely encoding accepts.
    """
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return _strict(data[len(bom) :], enc, offset=len(bom))
    if len(data) >= 4 and data[1:4:2] == b"\x00\x00" and data[0] and data[2]:
        return _strict(data, "utf-16-le", offset=0)  # UTF-16LE without BOM: "<\0h\0"
    if len(data) >= 4 and data[0:4:2] == b"\x00\x00" and data[1] and data[3]:
        return _strict(data, "utf-16-be", offset=0)  # UTF-16BE without BOM: "\0<\0h"
    declared = _declared(data[:4096])
    if declared:
        try:
            return data.decode(declared)
        except UnicodeDecodeError:
            pass  # the declaration is wrong: the bytes decide
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        first_error = e
    tried: list[str] = []
    candidates = _likely_encodings(data)
    if vocabulary and len(candidates) > 1:
        candidates = _by_vocabulary(data, candidates, vocabulary)
    for enc in candidates:
        try:
            return data.decode(enc)
        except UnicodeDecodeError as e:
            tried.append(f"{enc} (byte {e.start})")
    at = first_error.start
    raise DataError(
        f"not text in any likely encoding: byte 0x{data[at]:02x} at offset {at} is not UTF-8"
        + (f", and {', '.join(tried)} fail too" if tried else ", and no 8-bit code page fits the rest")
        + " — the file is damaged or not a text export",
        where=f"byte {at}",
    )


def _strict(data: bytes, encoding: str, *, offset: int) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        at = offset + e.start
        raise DataError(
            f"not valid {encoding} text: byte 0x{data[e.start]:02x} at offset {at} (the file begins as "
            f"{encoding}: its byte-order mark or zero bytes say so); the file is damaged",
            where=f"byte {at}",
        ) from None


def _declared(head: bytes) -> str | None:
    m = _DECLARED.search(head)
    if not m:
        return None
    try:
        return codecs.lookup(m.group(1).decode("ascii")).name
    except LookupError:
        return None


def _evidence(data: bytes) -> bytes:
    """The lines that carry non-ASCII bytes, markup stripped, up to ``_EVIDENCE_BYTES``."""
    lines: list[bytes] = []
    size = pos = 0
    n = len(data)
    while size < _EVIDENCE_BYTES:
        m = _HIGH.search(data, pos)
        if m is None:
            break
        at = m.start()
        start = max(data.rfind(b"\n", 0, at) + 1, at - _WINDOW)
        end = data.find(b"\n", at)
        end = min(n if end < 0 else end, at + _WINDOW)
        # a window cut inside a line must not split a multi-byte character: move both ends to ASCII
        while start < at and data[start] >= 0x80:
            start += 1
        while end > at + 1 and end < n and data[end - 1] >= 0x80:
            end -= 1
        line = b" ".join(_TAG.sub(b" ", data[start:end]).split())
        lines.append(line)
        size += len(line) + 1
        pos = max(end, at + 1)
    return b"\n".join(lines)


def _likely_encodings(data: bytes) -> list[str]:
    """Encodings charset-normalizer finds plausible for ``data``'s non-ASCII text, most likely first."""
    import charset_normalizer  # imported here: only 8-bit files need it

    sample = _evidence(data)
    if not sample:
        return []
    matches = charset_normalizer.from_bytes(sample, cp_isolation=list(_ENCODINGS))
    # charset-normalizer ranks by mess, then language coherence, then multi-byte use; where it sees no
    # difference (neither match ranks before the other), and among the encodings that decode the
    # sample to the very same text, the more widely used comes first.
    groups: list[list[Any]] = []
    for m in matches:  # already in charset-normalizer's order
        if groups and not (groups[-1][0] < m or m < groups[-1][0]):
            groups[-1].append(m)
        else:
            groups.append([m])
    out: list[str] = []
    for group in groups:
        encodings = {enc for m in group for enc in (m.encoding, *m.could_be_from_charset)}
        out += sorted(encodings - set(out), key=lambda enc: _RANK.get(enc, len(_RANK)))
    return out


def _by_vocabulary(data: bytes, encodings: list[str], vocabulary: Iterable[str]) -> list[str]:
    """``encodings`` reordered by how many of the format's own non-ASCII words each reading contains.

    charset-normalizer judges a few labels by letter statistics and can prefer a wrong code page that
    reads them as plausible text (Turkish cp1254 as Baltic cp1257: "Żlk yatżrżm"); a reading in which the
    report's own labels appear ("İlk yatırım") is the stronger evidence. Ties keep the library's order."""
    words = {w.lower() for w in vocabulary if not w.isascii()}
    if not words:
        return encodings
    sample = _evidence(data)

    def hits(enc: str) -> int:
        try:
            text = sample.decode(enc).lower()
        except (UnicodeDecodeError, LookupError):
            return -1
        return sum(w in text for w in words)

    scores = {enc: hits(enc) for enc in encodings}
    return sorted(encodings, key=lambda enc: -scores[enc])


_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")


def clean(text: str | None) -> str:
    """Collapse whitespace (including NBSP) to single spaces and strip."""
    return " ".join((text or "").replace("\u00a0", " ").split())


def optional_number(text: str | None) -> float | None:
    """``"100 000.00"``, ``"1\u00a0234,5"``, ``"-12.3"``, ``"−5"`` -> float; blank -> None."""
    if text is None:
        return None
    s = _SPACES.sub("", str(text)).replace("\u2212", "-")
    if not s or s in {"-", "—"}:
        return None
    if "," in s and "." not in s:
        s = s.replace(",", ".")  # decimal comma
    elif "," in s:
        s = s.replace(",", "")  # thousands comma
    try:
        return float(s)
    except ValueError:
        return None


def number(text: str | None, *, where: str = "-", what: str = "number") -> float:
    """Like :func:`optional_number` but a blank or bad value raises :class:`DataError`."""
    value = optional_number(text)
    if value is None:
        raise DataError(f"{what}: expected a number, got {text!r}", where=where)
    return value


_DATE_FORMATS = (
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y.%m.%d",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
)


def timestamp(text: str | None, *, where: str = "-", what: str = "time") -> datetime:
    """Parse the date/time layouts the platforms print (with or without seconds)."""
    s = clean(text)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(s, fmt)
        except ValueError:
            continue
    raise DataError(f"{what}: unrecognised date/time {text!r}", where=where)
