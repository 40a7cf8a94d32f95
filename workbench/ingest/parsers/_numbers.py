"""Number formats decided per document, from the document's own evidence.

A report prints every amount with one format: ``100 000.00`` (MetaTrader's own), ``1,234.56``
(re-saved through an English Excel), ``1 234,56`` / ``1.234,56`` (European), ``52 423`` (a JPY
account: no decimals at all). A single cell is often ambiguous (``1,234`` is 1.234 or 1234,
``112.901`` is a price or 112 901), the document as a whole rarely is: :func:`detect_format`
reads the evidence of every numeric cell and :class:`NumberFormat` parses all cells alike.

Evidence, strongest first:

* a cell with both ``,`` and ``.``: the last one is the decimal separator, the other groups;
* the same separator twice (``1,234,567``): it groups thousands;
* a separator not followed by exactly three digits (``0.10``, ``12,5``), or after more than three
  digits (``1234,567``) or after a lone ``0`` (``0,125``): it is the decimal separator;
* spaces (incl. NBSP, thin space) and apostrophes only ever group.

A single ``,``/``.`` followed by exactly three digits decides nothing on its own; it is read
with whatever the rest of the document proves (``.`` is the decimal separator when nothing
does: MetaTrader's default).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from workbench.errors import DataError

__all__ = ["NumberFormat", "detect_format", "first_token"]

_SPACES = "\u0020\u00a0\u202f\u2009\u3000'"  # group-only characters (GBK full-width space included)
_SPACE_RE = re.compile(f"[{_SPACES}]")
# One number: digits with single separators between them, an optional sign.
_NUMBER = re.compile(rf"^[+\-\u2212]?\d+(?:[{_SPACES},.]\d+)*$")
_PLAIN = re.compile(r"^[+\-]?\d+(?:\.\d+)?$")
_TOKEN = re.compile(rf"[+\-\u2212]?\d+(?:[{_SPACES},.]\d+)*")


def first_token(text: str) -> str:
    """The leading number of ``"33 160 (0.71%)"`` / ``"0.71% (33 160)"`` / ``"4970 (74.06%)"``."""
    m = _TOKEN.match(text.strip())
    return m.group(0) if m else ""


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """How one document prints numbers: ``decimal`` separator and ``group`` (thousands) separator."""

    decimal: str = "."
    group: str = ","  # besides spaces/apostrophes, which always group
    evidence: str = "no separator evidence; MetaTrader's default assumed"

    def describe(self) -> str:
        group = {",": "comma", ".": "dot"}.get(self.group, self.group)
        return f"decimal '{self.decimal}', thousands '{group}' or space ({self.evidence})"

    def parse(self, text: str | None) -> float | None:
        """A printed number as float; blank (or a dash) -> None; not a number -> None."""
        if text is None:
            return None
        s = text.strip().replace("\u2212", "-")
        if not s or s in {"-", "\u2014", "&nbsp;"}:
            return None
        if self.decimal == "." and _PLAIN.match(s):
            return float(s)  # the common case: no grouping at all
        if not _NUMBER.match(s):
            return None
        s = _SPACE_RE.sub("", s).replace(self.group, "")
        if self.decimal != ".":
            s = s.replace(self.decimal, ".")
        try:
            return float(s)
        except ValueError:
            return None

    def number(self, text: str | None, *, where: str, what: str = "number") -> float:
        value = self.parse(text)
        if value is None:
            raise DataError(f"{what}: expected a number, got {text!r}", where=where)
        return value


def _vote(token: str) -> tuple[set[str], set[str], bool]:
    """(decimal evidence, group evidence, ambiguous) of one number."""
    s = token.lstrip("+-\u2212")
    dec: set[str] = set()
    grp: set[str] = set()
    spaced = bool(_SPACE_RE.search(s))
    s = _SPACE_RE.sub(" ", s)
    seps = [c for c in s if c in ",."]
    if not seps:
        return dec, grp, False
    if "," in seps and "." in seps:
        last = seps[-1]
        dec.add(last)
        grp.add("," if last == "." else ".")
        return dec, grp, False
    sep = seps[0]
    if len(seps) > 1:
        grp.add(sep)
        return dec, grp, False
    head, _, tail = s.partition(sep)
    lead = head.replace(" ", "")
    if len(tail) != 3 or (len(lead) > 3 and not spaced) or lead in ("0", ""):
        dec.add(sep)
        return dec, grp, False
    if spaced:  # "1 234,567": spaces already group, so the separator is decimal
        dec.add(sep)
        return dec, grp, False
    return dec, grp, True


def detect_format(samples: Iterable[str | None]) -> NumberFormat:
    """The document's number format from all its numeric cells (see the module docstring).

    Raises :class:`DataError` when the cells contradict each other (``,`` both decimal and grouping).
    """
    decimal: dict[str, str] = {}
    group: dict[str, str] = {}
    ambiguous: dict[str, str] = {}
    for text in set(samples):
        if not text or ("," not in text and "." not in text):
            continue  # no separator, no evidence (spaces alone group)
        token = text.strip()
        if not _NUMBER.match(token):
            continue
        dec, grp, amb = _vote(token)
        for c in dec:
            decimal.setdefault(c, token)
        for c in grp:
            group.setdefault(c, token)
        if amb:
            ambiguous.setdefault(next(c for c in token if c in ",."), token)
    if len(decimal) > 1:
        raise DataError(
            f"numbers use both ',' and '.' as decimal separator ({decimal[',']!r}, {decimal['.']!r}); "
            "the document mixes number formats",
            where="numbers",
        )
    for c, example in group.items():
        if c in decimal:
            raise DataError(
                f"{c!r} separates decimals in {decimal[c]!r} but groups thousands in {example!r}; "
                "the document mixes number formats",
                where="numbers",
            )
    if decimal:
        ((d, example),) = decimal.items()
        return NumberFormat(decimal=d, group="," if d == "." else ".", evidence=f"as in {example!r}")
    if group:
        g, example = next(iter(group.items()))
        return NumberFormat(decimal="," if g == "." else ".", group=g, evidence=f"as in {example!r}")
    if ambiguous:
        return NumberFormat(evidence=f"only ambiguous numbers such as {next(iter(ambiguous.values()))!r}")
    return NumberFormat()
