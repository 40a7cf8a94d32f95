"""Vectorised helpers shared by the tabular parsers (``trades_csv``, ``bars_csv``, ``bars_parquet``).

Not a parser (the leading underscore keeps the registry from importing it as one). Everything
here works on whole polars columns: a 16M-row file is never walked row by row; the row of a
bad value is looked up only after a vectorised check has failed.
"""

from __future__ import annotations

import csv
import mmap
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl

from workbench.errors import DataError

__all__ = [
    "header_key",
    "map_columns",
    "split_preamble",
    "scan_preamble",
    "sniff_separator",
    "read_text_csv",
    "read_typed_csv",
    "sniff_time_format",
    "header_fields",
    "to_float",
    "to_datetime",
    "first_failure",
    "check_column",
    "TIME_FORMATS",
]

_KEY = re.compile(r"[\W_]+")


def header_key(name: str) -> str:
    """``"Open Time"`` -> ``"opentime"``, ``"<TICKVOL>"`` -> ``"tickvol"``, ``"S / L"`` -> ``"sl"``,
    ``"Eröffnungszeit"`` -> ``"eröffnungszeit"``, ``"开仓 时间"`` -> ``"开仓时间"`` (letters and digits of any
    script kept, case folded; spaces, punctuation and markup dropped)."""
    return _KEY.sub("", name.casefold())


def map_columns(columns: list[str], aliases: Mapping[str, str]) -> dict[str, str]:
    """``{canonical: header}`` for the headers whose key is in ``aliases`` (key -> canonical).

    Two headers naming the same field is an error (which one would win is a guess).
    """
    out: dict[str, str] = {}
    for col in columns:
        canonical = aliases.get(header_key(col))
        if canonical is None:
            continue
        if canonical in out:
            raise DataError(
                f"columns {out[canonical]!r} and {col!r} both mean {canonical}; rename or drop one",
                where="header",
            )
        out[canonical] = col
    return out


def split_preamble(data: bytes) -> tuple[list[str], bytes, int]:
    """Leading ``#`` comment lines and blank lines: (their text without ``#``, the rest, how many lines)."""
    comments, offset, lines = scan_preamble(data)
    return comments, data[offset:], lines


def scan_preamble(data: bytes | mmap.mmap) -> tuple[list[str], int, int]:
    """Like :func:`split_preamble` but returns the byte offset of the rest instead of a copy of it.

    ``data`` may be any sliceable buffer with ``find`` (``bytes``, ``mmap``): only the preamble
    lines are copied, so a 2 GB file costs no second 2 GB here.
    """
    pos = 3 if data[:3] == b"\xef\xbb\xbf" else 0
    comments: list[str] = []
    lines = 0
    size = len(data)
    while pos < size:
        end = data.find(b"\n", pos)
        end = size if end < 0 else end + 1
        line = data[pos:end].strip()
        if line and not line.startswith(b"#"):
            break
        if line:
            comments.append(line[1:].decode("utf-8", errors="replace").strip())
        lines += 1
        pos = end
    return comments, pos, lines


def header_fields(body: bytes) -> tuple[list[str], str] | None:
    """The first line of ``body`` split on its separator (``,`` ``;`` or tab), or None if it has none."""
    end = body.find(b"\n")
    line = (body if end < 0 else body[:end]).decode("utf-8", errors="replace").strip()
    sep = sniff_separator(line)
    if sep is None:
        return None
    return [f.strip().strip('"').strip() for f in line.split(sep)], sep


def sniff_separator(line: str) -> str | None:
    counts = {sep: line.count(sep) for sep in (",", ";", "\t")}
    sep, n = max(counts.items(), key=lambda kv: kv[1])
    return sep if n else None


def read_text_csv(body: bytes, sep: str, *, header_line: int = 1) -> pl.DataFrame:
    """Every column as text (types are decided afterwards, column by column, vectorised).

    ``header_line`` is the file line of the header, so a malformed row is reported by its line.
    """
    try:
        frame = pl.read_csv(
            body,
            separator=sep,
            infer_schema=False,
            encoding="utf8-lossy",
            raise_if_empty=False,
        )
    except (pl.exceptions.PolarsError, OSError) as e:
        where, what = _ragged_line(body, sep, header_line)
        msg = what or " ".join(str(e).split())[:160]
        raise DataError(f"malformed CSV: {msg}", where=where) from None
    return frame.rename({c: c.strip().strip('"').strip() for c in frame.columns})


def read_typed_csv(
    source: bytes | str | Path,
    sep: str,
    *,
    skip_lines: int,
    kinds: Callable[[list[str]], Mapping[str, str]],
) -> pl.DataFrame | None:
    """The fast path of :func:`read_text_csv` + :func:`to_float` + :func:`to_datetime`, or None.

    ``kinds`` maps the (cleaned) header names to ``"number"`` or ``"time"``. Numbers are parsed
    as Float64 by the CSV reader itself; times are converted in the same streaming pass with the
    layout :func:`sniff_time_format` picks from the first rows, so a 2 GB file never exists as a
    frame of strings. ``source`` is the file's path (read straight from disk) or its bytes, and
    ``skip_lines`` the lines before the header.

    Returns None whenever anything is unusual — a value the reader rejects, a time that is blank
    or not in the sniffed layout, decimal commas, epochs, odd headers, no rows. The caller then
    takes the text path, which gives the same frame or names the line and column of the bad value;
    when this returns a frame it is the one the text path would have produced.
    """
    opts: dict = {
        "separator": sep,
        "encoding": "utf8-lossy",
        "skip_lines": skip_lines,
        "infer_schema": False,
        "glob": False,
    }
    try:
        head = pl.read_csv(source, n_rows=_SAMPLE, raise_if_empty=False, **opts)
    except (pl.exceptions.PolarsError, OSError):
        return None
    names = {c: c.strip().strip('"').strip() for c in head.columns}
    if head.height == 0 or len(set(names.values())) != len(names):
        return None
    wanted = kinds(list(names.values()))
    overrides: dict[str, pl.DataType] = {}
    times: dict[str, str] = {}
    for raw_name, clean_name in names.items():
        kind = wanted.get(clean_name)
        col = head[raw_name]
        if kind == "number":
            if first_failure(col, col.cast(pl.Float64, strict=False)) is not None:
                return None  # spaces, decimal commas...: the text path knows them
            overrides[raw_name] = pl.Float64
        elif kind == "time":
            sample = col.str.strip_chars()
            fmt = None if sample.null_count() else sniff_time_format(sample)
            if fmt is None or _with_format(sample, fmt).null_count():
                return None
            times[raw_name] = fmt
    try:
        frame = (
            pl.scan_csv(source, schema_overrides=overrides, **opts)
            .with_columns(_format_expr(c, fmt) for c, fmt in times.items())
            .collect(engine="streaming")
        )
    except (pl.exceptions.PolarsError, OSError):
        return None
    if frame.columns != head.columns or any(frame[c].null_count() for c in times):
        return None
    # One chunk per column (the streaming reader leaves hundreds), made column by column so the
    # file is never held twice: later steps then neither re-align nor copy the whole frame. Two
    # columns at a time (polars leaves the GIL): a third less wall time on two cores.
    # The streaming reader's chunks (hundreds) are kept: every later step works chunk by chunk, and
    # only the columns put into trade order are made contiguous (analytics.in_trade_order). A rechunk
    # here wrote the whole file's frame a second time (16M rows: 1.8 GB of fresh memory, 0.6 s).
    return frame.rename(names)


def _ragged_line(body: bytes, sep: str, header_line: int) -> tuple[str, str]:
    """(``"line N"``, what) for the first row whose field count differs from the header's (error path)."""
    text = body.decode("utf-8", errors="replace").splitlines()
    rows = csv.reader(text, delimiter=sep)
    try:
        width = len(next(rows))
        for i, row in enumerate(rows, start=1):
            if row and len(row) != width:
                return f"line {header_line + i}", f"{len(row)} fields where the header has {width}"
    except csv.Error:
        pass
    return f"line {header_line}", ""


_NUM_NOISE = r"[\s\u00a0\u202f']"
_THOUSANDS = r"^[-+]?\d{1,3}(,\d{3})+(\.\d*)?$"


def to_float(raw: pl.Series) -> pl.Series:
    """Text -> Float64 (nulls where unparsable): spaces/NBSP as thousands separators, decimal comma,
    ``1,234.5`` thousands commas, ``\u2212`` minus. Already numeric columns are cast directly."""
    if raw.dtype != pl.String:
        return raw.cast(pl.Float64, strict=False)
    fast = raw.cast(pl.Float64, strict=False)  # plain "123.45": the common case, 7x cheaper
    if first_failure(raw, fast) is None:
        return fast
    s = raw.str.replace_all(_NUM_NOISE, "").str.replace_all("\u2212", "-", literal=True)
    if s.str.contains(",", literal=True).any():
        s = (
            pl.select(
                pl.when(s.str.contains(_THOUSANDS))
                .then(s.str.replace_all(",", "", literal=True))
                .otherwise(s.str.replace(",", ".", literal=True))
            )
            .to_series()
            .rename(raw.name)
        )
    return s.cast(pl.Float64, strict=False)


# Tried in order on a sample; the first that reads the whole sample is applied to the column.
# Day-first/month-first slash dates (01/02/2024) are ambiguous and deliberately not guessed.
# Layouts without a fraction come first: they parse about 4x faster than their "%.f" twins.
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M:%S%.f",
    "%Y.%m.%d %H:%M",
    "%Y.%m.%d",
    "%Y/%m/%d %H:%M:%S%.f",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d %H%M%S",
    "%d.%m.%Y %H:%M:%S%.f",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
)
_SAMPLE = 500
_EPOCH = re.compile(r"^[-+]?\d+(\.\d+)?$")


def _epoch_unit(values: pl.Series) -> str:
    """Seconds, milliseconds, microseconds or nanoseconds, from the magnitude of the largest value."""
    top = float(values.abs().max() or 0)
    if top < 1e11:
        return "s"  # up to year 5138 in seconds
    if top < 1e14:
        return "ms"
    if top < 1e17:
        return "us"
    return "ns"


def _from_epoch(values: pl.Series) -> pl.Series:
    unit = _epoch_unit(values)
    scale = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}[unit]
    us = (values.cast(pl.Float64) * scale).round(0).cast(pl.Int64)
    return pl.from_epoch(us, time_unit="us")


def to_datetime(raw: pl.Series) -> pl.Series:
    """Text, numbers or temporal values -> naive ``Datetime("us")`` (nulls where unparsable).

    Numbers are Unix epochs (unit from magnitude: s / ms / us / ns); text is ISO 8601 (with or
    without ``T``, fraction, ``Z``/offset -> converted to UTC) or ``YYYY.MM.DD HH:MM[:SS]``.
    """
    name = raw.name
    if raw.dtype == pl.Date:
        return raw.cast(pl.Datetime("us")).rename(name)
    if isinstance(raw.dtype, pl.Datetime):
        s = raw
        if raw.dtype.time_zone is not None:
            s = s.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return s.cast(pl.Datetime("us")).rename(name)
    if raw.dtype.is_numeric():
        return _from_epoch(raw).rename(name)
    s = raw.cast(pl.String).str.strip_chars()
    sample = s.drop_nulls().head(_SAMPLE)
    if sample.len() == 0:
        return pl.Series(name, [None] * s.len(), dtype=pl.Datetime("us"))
    best = sniff_time_format(sample)
    if best is None:
        nums = s.cast(pl.Float64, strict=False)
        return _from_epoch(nums).rename(name)
    out = _with_format(s, best)
    failed = s.is_not_null() & out.is_null()
    if failed.any():  # mixed layouts in one column: fill the gaps with the other formats
        rest = s.filter(failed)
        for fmt in TIME_FORMATS:
            if fmt != best and _with_format(rest, fmt).is_not_null().any():
                out = pl.select(pl.coalesce(out, _with_format(s, fmt))).to_series()
    return out.rename(name)


def sniff_time_format(sample: pl.Series) -> str | None:
    """The entry of ``TIME_FORMATS`` that reads most of ``sample`` (stripped, non-null text; the
    first that reads all of it wins), or None when the sample is all Unix epoch numbers."""
    if sample.str.contains(_EPOCH.pattern).all():
        return None
    best, best_ok = TIME_FORMATS[0], -1
    for fmt in TIME_FORMATS:
        ok = _with_format(sample, fmt).is_not_null().sum()
        if ok > best_ok:
            best, best_ok = fmt, ok
        if ok == sample.len():
            break
    return best


def _format_expr(column: str, fmt: str) -> pl.Expr:
    """:func:`_with_format` as an expression (for the streaming reader)."""
    out = pl.col(column).str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True, cache=False)
    if "%#z" in fmt or "%z" in fmt:
        out = out.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return out


def _with_format(s: pl.Series, fmt: str) -> pl.Series:
    out = s.str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True, cache=False)
    if out.dtype.time_zone is not None:  # type: ignore[union-attr]
        out = out.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return out


def first_failure(raw: pl.Series, parsed: pl.Series) -> int | None:
    """Index of the first row where ``raw`` has a (non-blank) value but ``parsed`` is null, else None."""
    if parsed.null_count() == raw.null_count():  # O(1): nothing failed (the usual case)
        return None
    idx = (raw.is_not_null() & parsed.is_null()).arg_true()
    if raw.dtype == pl.String and idx.len():
        idx = idx.filter(raw.gather(idx).str.strip_chars() != "")
    return int(idx[0]) if idx.len() else None


def check_column(
    raw: pl.Series,
    parsed: pl.Series,
    *,
    field: str,
    what: str,
    where: Callable[[int], str],
) -> None:
    """Raise ``DataError(f"{what} {value!r}", where=where(row))`` at the first value that did not convert."""
    row = first_failure(raw, parsed)
    if row is not None:
        raise DataError(f"{what} {raw[row]!r}", where=f"{where(row)}, column {field}")
