"""Text helpers shared by the parsers: decoding, numbers and dates as platforms print them."""

from __future__ import annotations

import re
from datetime import datetime

from workbench.errors import DataError

__all__ = ["decode", "number", "optional_number", "timestamp", "clean"]

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.I)


def decode(data: bytes) -> str:
    """Decode an export: BOM first, then a declared charset, then UTF-8, then cp1252/cp1251.

    MetaTrader writes UTF-16LE with BOM (MT5) or the terminal's 8-bit code page without
    declaring it (MT4: cp1252 for French, cp1251 for Russian).
    """
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(enc, errors="strict")
    if len(data) >= 4 and data[1:4:2] == b"\x00\x00" and data[0] and data[2]:
        return data.decode("utf-16-le")  # UTF-16LE without BOM
    m = _CHARSET.search(data[:4096])
    if m:
        try:
            return data.decode(m.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Cyrillic letters live in 0xC0-0xFF in cp1251; French accents in cp1252 are sparse there.
    high = sum(1 for b in data if b >= 0xC0)
    if high > 0.3 * sum(1 for b in data if b >= 0x80) and _looks_cyrillic(data):
        return data.decode("cp1251", errors="replace")
    return data.decode("cp1252", errors="replace")


def _looks_cyrillic(data: bytes) -> bool:
    text = data.decode("cp1251", errors="replace")
    letters = re.findall(r"[А-Яа-я]{3,}", text)
    return len(letters) >= 3


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
