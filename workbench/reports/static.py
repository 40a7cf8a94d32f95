"""Static, self-contained HTML pieces for reports: inline BokehJS, embedded charts, tables.

A report notebook displays :func:`bokeh_resources` once (BokehJS inlined, nothing fetched from a
CDN), then each chart through :func:`embed` (a ``<div>`` plus a ``<script>`` that draws it with the
already loaded BokehJS). The same outputs work in a live notebook and in the HTML that
:func:`workbench.reports.render` writes, with the network cut off.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

__all__ = ["HTML", "bokeh_resources", "embed", "frame_table", "mapping_table", "note", "data_table"]

BOKEH_COMPONENTS = ("bokeh", "bokeh-widgets", "bokeh-tables")
MISSING = "—"

STYLE = """<style>
table.wb-table{border-collapse:collapse;font-size:13px;margin:4px 0 12px}
.wb-table th,.wb-table td{padding:3px 10px;text-align:right;border-bottom:1px solid #d0d7de}
.wb-table th{background:#f6f8fa;text-align:left}
.wb-table td.text{text-align:left}
.wb-table td.neg{color:#cf222e}
.wb-note{color:#57606a;font-style:italic;margin:4px 0 12px}
.wb-chart{width:100%;min-height:120px}
</style>"""


@dataclass(frozen=True, slots=True)
class HTML:
    """A displayable piece of HTML (``display(HTML(...))`` in a notebook)."""

    text: str

    def _repr_html_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text


def bokeh_resources() -> HTML:
    """BokehJS (core, widgets, tables) inlined as ``<script>`` tags, plus the report's table style."""
    from bokeh.resources import Resources

    res = Resources(mode="inline", components=list(BOKEH_COMPONENTS))
    return HTML(res.render_js() + STYLE)


def embed(obj: Any, *, height: int | None = None) -> HTML:
    """A HoloViews object or Bokeh model as a ``<div>`` + ``<script>`` using the page's BokehJS."""
    from bokeh.embed import components
    from bokeh.model import Model

    if not isinstance(obj, Model):
        from workbench.reports.charts import hv

        obj = hv().render(obj, backend="bokeh")
    if hasattr(obj, "sizing_mode") and getattr(obj, "sizing_mode", None) is None:
        obj.sizing_mode = "stretch_width"
    script, div = components(obj)
    style = f' style="min-height:{height}px"' if height else ""
    return HTML(f'<div class="wb-chart"{style}>{div}</div>{script}')


def note(text: str) -> HTML:
    """An italic remark ("no walk-forward folds stored")."""
    return HTML(f'<p class="wb-note">{html.escape(text)}</p>')


def fmt(value: Any, key: str = "") -> str:
    """A cell's text: thousands separators, 2 decimals, percentages and durations by the key's suffix."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    for suffix, f in _SUFFIX_FORMATS:
        if key.endswith(suffix) and isinstance(value, int | float):
            return f(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:.4g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_SUFFIX_FORMATS: tuple[tuple[str, Callable[[float], str]], ...] = (
    ("win_rate", lambda v: f"{100 * v:.2f} %"),  # fractions 0..1
    ("_pct", lambda v: f"{v:,.2f} %"),
    ("_seconds", lambda v: str(timedelta(seconds=round(v)))),
)


def _cell(value: Any, key: str = "") -> str:
    text = html.escape(fmt(value, key))
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    cls = ("neg" if numeric and value < 0 else "") if numeric else "text"
    return f'<td class="{cls}" data-key="{html.escape(key)}">{text}</td>' if cls else f"<td>{text}</td>"


def _table(header: Iterable[str], rows: Iterable[str], caption: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (
        f'<table class="wb-table">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def frame_table(frame: pl.DataFrame, *, max_rows: int = 200, caption: str = "") -> HTML:
    """A polars frame as an HTML table (the first ``max_rows`` rows, with a note when cut)."""
    rows = [
        "<tr>" + "".join(_cell(v, k) for k, v in row.items()) + "</tr>"
        for row in frame.head(max_rows).iter_rows(named=True)
    ]
    out = _table(frame.columns, rows, caption)
    if frame.height > max_rows:
        out += note(f"first {max_rows} of {frame.height:,} rows").text
    return HTML(out)


def mapping_table(
    values: Mapping[str, Any], *, per_row: int = 3, labels: Mapping[str, str] | None = None
) -> HTML:
    """Name/value pairs, ``per_row`` pairs a row (headline metrics, parameters)."""
    labels = labels or {}
    pairs = [f"<th>{html.escape(labels.get(k, _label(k)))}</th>" + _cell(v, k) for k, v in values.items()]
    if not pairs:
        return note("none")
    rows = ["<tr>" + "".join(pairs[i : i + per_row]) + "</tr>" for i in range(0, len(pairs), per_row)]
    return HTML(_table(("name", "value") * min(per_row, len(pairs)), rows))


def _label(key: str) -> str:
    """``max_drawdown_pct`` → ``Max drawdown %``; names with capitals (``TakeProfit``) stay as they are.

    A ``_seconds`` value is written as ``2:48:40`` by :func:`fmt`, so its name drops the unit
    (``avg_trade_duration_seconds`` → ``Avg trade duration``).
    """
    if key != key.lower():
        return key
    text = key.removesuffix("_seconds").replace("_pct", " %").replace("_", " ")
    return text[:1].upper() + text[1:]


def data_table(frame: pl.DataFrame, *, height: int = 360) -> Any:
    """A scrollable, sortable Bokeh ``DataTable`` of every row (for :func:`embed`)."""
    from bokeh.models import ColumnDataSource, DataTable, DateFormatter, NumberFormatter, TableColumn

    data: dict[str, list[Any]] = {}
    columns = []
    for name, dtype in frame.schema.items():
        values = frame[name]
        if dtype.is_temporal():
            data[name] = values.dt.epoch("ms").cast(pl.Float64).to_list()  # naive wall-clock as UTC
            formatter: Any = DateFormatter(format="%Y-%m-%d %H:%M:%S")
            width = 150
        elif dtype.is_numeric():
            data[name] = values.to_list()
            formatter = NumberFormatter(format="0,0.[00000]")
            width = 85
        else:
            data[name] = [None if v is None else str(v) for v in values.to_list()]
            formatter = None
            width = 110
        kwargs = {"formatter": formatter} if formatter is not None else {}
        columns.append(TableColumn(field=name, title=name.replace("_", " "), width=width, **kwargs))
    return DataTable(
        source=ColumnDataSource(data),
        columns=columns,
        height=height,
        sizing_mode="stretch_width",
        autosize_mode="none",
        index_position=None,
        reorderable=False,
    )
