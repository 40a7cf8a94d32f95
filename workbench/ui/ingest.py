"""The ingest widget: upload or name exports, see what was stored, look at one backtest.

A thin skin over :class:`~workbench.workspace.Workspace`: files go through ``ws.ingest``, figures come
from ``ws.metrics`` and ``ws.equity``; this module only lays them out. Notebooks and tests drive it
without clicking:

>>> w = IngestWidget(ws)
>>> report = w.ingest_paths(["exports/"])   # what the "Ingest" button does
>>> w.select(report.files[0].backtest_id)    # what picking from the dropdown does
>>> w.chart                                  # the HoloViews layout shown (equity over drawdown)
"""

from __future__ import annotations

import html
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench.errors import MissingDependencyError, WorkbenchError
from workbench.ui.formatting import metric_label

try:
    import ipywidgets as widgets
    from IPython.display import display
except ImportError:  # pragma: no cover - exercised only without the notebook extra
    raise MissingDependencyError("ipywidgets", "notebook") from None

if TYPE_CHECKING:
    from workbench.ingest.load import FileResult, IngestReport
    from workbench.workspace import Workspace

__all__ = ["IngestWidget", "equity_chart"]

STATUS_COLOURS: dict[str, str] = {
    "ingested": "#1a7f37",
    "duplicate": "#9a6700",
    "rejected": "#cf222e",
}

_STYLE = (
    "<style>table.wb-table{border-collapse:collapse}"
    ".wb-table th,.wb-table td{padding:2px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #ddd}"
    ".wb-table caption{text-align:left;caption-side:top}</style>"
)
_MISSING = "—"


def _plotting() -> Any:
    """HoloViews with hvplot's ``DataFrame.hvplot`` accessor registered on polars frames (and, in a
    notebook, the Bokeh extension loaded from the installed packages: :func:`workbench.ui.notebook.load`)."""
    from workbench.ui import notebook

    try:
        import holoviews as hv
    except ImportError:
        raise MissingDependencyError("hvplot", "notebook") from None
    notebook.load()
    notebook.register_hvplot()
    return hv


def equity_chart(equity: pl.DataFrame, *, title: str = "") -> Any:
    """Balance line over an underwater (drawdown %) area, sharing the time axis.

    ``equity`` is :meth:`Workspace.equity`'s frame (``time``, ``balance``, ``drawdown_pct``, ...).
    Returns a one-column :class:`holoviews.Layout` of a ``Curve`` and an ``Area``.
    """
    _plotting()
    frame = equity.select("time", "balance", (-pl.col("drawdown_pct")).alias("drawdown_pct"))
    line = frame.hvplot.line(
        x="time", y="balance", ylabel="Balance", xlabel="", title=title, height=280, responsive=True
    )
    area = frame.hvplot.area(
        x="time",
        y="drawdown_pct",
        ylabel="Drawdown (%)",
        xlabel="Time",
        height=160,
        responsive=True,
        color=STATUS_COLOURS["rejected"],
        alpha=0.4,
    )
    return (line + area).cols(1).opts(shared_axes=True)


# -- HTML tables -----------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Iterable[str], caption: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    cap = f"<caption>{caption}</caption>" if caption else ""
    body = "".join(rows)
    return f'{_STYLE}<table class="wb-table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def status_html(results: Sequence[tuple[str, FileResult]]) -> str:
    """One row per file: shown path, format, status (coloured), rows, error."""
    counts = {s: sum(r.status == s for _, r in results) for s in STATUS_COLOURS}
    summary = ", ".join(f'<span style="color:{STATUS_COLOURS[s]}">{n} {s}</span>' for s, n in counts.items())
    rows = []
    for shown, r in results:
        colour = STATUS_COLOURS.get(r.status, "inherit")
        cells = (
            html.escape(shown),
            html.escape(r.format or _MISSING),
            f'<b style="color:{colour}">{html.escape(r.status)}</b>',
            f"{r.rows:,}",
            html.escape(r.error or ""),
        )
        tds = "".join(f"<td>{c}</td>" for c in cells)
        rows.append(f'<tr data-status="{html.escape(r.status)}">{tds}</tr>')
    return _table(("path", "format", "status", "rows", "error"), rows, summary)


# How a metric is written, by the end of its name; the first match wins.
_FORMATS: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("_rate", lambda v: f"{100 * v:.2f} %"),  # fractions 0..1
    ("_pct", lambda v: f"{v:.2f} %"),  # already percent
    ("_seconds", lambda v: str(timedelta(seconds=round(v)))),
)


def format_metric(key: str, value: Any) -> str:
    if value is None:
        return _MISSING
    for suffix, fmt in _FORMATS:
        if key.endswith(suffix) and isinstance(value, int | float):
            return fmt(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def metrics_html(metrics: Mapping[str, Any], *, per_row: int = 3) -> str:
    """Metric name/value pairs, ``per_row`` pairs a row; each value cell carries ``data-key``."""
    pairs = [
        f"<th>{html.escape(metric_label(k))}</th>"
        f'<td data-key="{html.escape(k)}">{html.escape(format_metric(k, v))}</td>'
        for k, v in metrics.items()
    ]
    rows = ["<tr>" + "".join(pairs[i : i + per_row]) + "</tr>" for i in range(0, len(pairs), per_row)]
    return _table(("metric", "value") * per_row, rows)


def _label(row: Mapping[str, Any]) -> str:
    """Dropdown text of one ``ws.backtests()`` row."""
    name = row.get("name") or "(unnamed)"
    parts = [f"#{row['id']}", name]
    market = " ".join(
        str(row[k]) for k in ("symbol", "timeframe") if row.get(k) and str(row[k]).lower() not in name.lower()
    )
    if market:
        parts.append(f"· {market}")
    if row.get("format"):
        parts.append(f"· {row['format']}")
    return " ".join(parts)


def _error_html(err: Exception) -> str:
    return f'<span style="color:{STATUS_COLOURS["rejected"]}">error: {html.escape(str(err))}</span>'


# -- the widget ------------------------------------------------------------------------------------


class IngestWidget:
    """Upload or name exports, see each file's outcome, pick a backtest, see its metrics and curve.

    ``view`` is the top-level ipywidget; displaying the object displays it.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.report: IngestReport | None = None
        self.chart: Any = None  # the HoloViews layout of the selected backtest
        self._quiet = False  # True while the dropdown is changed from code

        self.upload = widgets.FileUpload(description="Upload", multiple=True)
        self.path = widgets.Text(
            placeholder="file or folder (several: separate with ;)",
            description="Path",
            layout=widgets.Layout(width="60%"),
        )
        self.ingest_button = widgets.Button(description="Ingest", button_style="primary", icon="upload")
        self.status_table = widgets.HTML()
        self.backtest_picker = widgets.Dropdown(
            description="Backtest", options=[], layout=widgets.Layout(width="80%")
        )
        self.metrics_table = widgets.HTML()
        self.chart_output = widgets.Output()
        self.view = widgets.VBox(
            [
                widgets.HBox([self.upload, self.path, self.ingest_button]),
                self.status_table,
                self.backtest_picker,
                self.metrics_table,
                self.chart_output,
            ]
        )
        self.upload.observe(self._on_upload, names="value")
        self.ingest_button.on_click(self._on_click)
        self.backtest_picker.observe(self._on_pick, names="value")
        self.refresh()
        if self.backtest_picker.value is not None:
            self._show_safely(self.backtest_picker.value)

    def _ipython_display_(self) -> None:
        display(self.view)

    # -- driving it from code ---------------------------------------------------------------------
    def ingest_paths(self, paths: str | Path | Iterable[str | Path]) -> IngestReport:
        """Ingest files/folders (what the "Ingest" button does) and show the first stored backtest."""
        return self._ingest(paths)

    def select(self, backtest_id: int) -> None:
        """Show one backtest's metrics and chart (what picking it in the dropdown does)."""
        bid = int(backtest_id)
        if bid not in self._ids():
            self.refresh()
        if bid not in self._ids():
            self.ws.backtest(bid)  # raises a DataError naming the known ids
        self._set_picker(bid)
        self._show(bid)

    def refresh(self) -> None:
        """Reload the dropdown from ``ws.backtests()``, keeping the selection when it still exists."""
        current = self.backtest_picker.value
        options = [(_label(r), int(r["id"])) for r in self.ws.backtests().iter_rows(named=True)]
        self._quiet = True
        try:
            self.backtest_picker.options = options
            ids = [v for _, v in options]
            self.backtest_picker.value = current if current in ids else (ids[0] if ids else None)
        finally:
            self._quiet = False
        if not options:
            self.metrics_table.value = "<i>no backtests in this workspace yet</i>"
            self.chart_output.clear_output()
            self.chart = None

    # -- internals ----------------------------------------------------------------------------------
    def _ids(self) -> list[int]:
        return [v for _, v in self.backtest_picker.options]

    def _set_picker(self, bid: int) -> None:
        self._quiet = True
        try:
            self.backtest_picker.value = bid
        finally:
            self._quiet = False

    def _ingest(self, paths: str | Path | Iterable[str | Path], *, root: Path | None = None) -> IngestReport:
        report = self.ws.ingest(paths)
        self.report = report
        shown = [(_shown_path(r.path, root), r) for r in report.files]
        self.status_table.value = status_html(shown)
        self.refresh()
        stored = [
            r.backtest_id
            for r in report.files
            if r.kind == "backtest" and r.status != "rejected" and r.backtest_id is not None
        ]
        if stored:
            self._set_picker(stored[0])
            self._show_safely(stored[0])
        return report

    def _show(self, bid: int) -> None:
        self.metrics_table.value = metrics_html(self.ws.metrics(bid).to_dict())
        self.chart_output.clear_output()
        self.chart = None
        label = {v: k for k, v in self.backtest_picker.options}.get(bid, f"#{bid}")
        self.chart = equity_chart(self.ws.equity(bid), title=label)
        with self.chart_output:
            display(self.chart)

    def _show_safely(self, bid: int) -> None:
        try:
            self._show(bid)
        except WorkbenchError as e:
            with self.chart_output:
                display(widgets.HTML(_error_html(e)))

    def _on_pick(self, change: Mapping[str, Any]) -> None:
        if not self._quiet and change["new"] is not None:
            self._show_safely(change["new"])

    def _on_click(self, _button: Any) -> None:
        paths = [Path(p.strip().strip("'\"")).expanduser() for p in self.path.value.split(";") if p.strip()]
        if not paths:
            self.status_table.value = _error_html(ValueError("type a file or folder path first"))
            return
        try:
            self._ingest(paths)
        except WorkbenchError as e:
            self.status_table.value = _error_html(e)

    def _on_upload(self, change: Mapping[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        try:
            with tempfile.TemporaryDirectory(prefix="workbench-upload-") as tmp:
                self._ingest(_write_uploads(files, Path(tmp)), root=Path(tmp))
        except WorkbenchError as e:
            self.status_table.value = _error_html(e)
        finally:
            self.upload.value = ()  # ready for the next upload (re-enters with no files)


def _write_uploads(files: Sequence[Mapping[str, Any]], folder: Path) -> list[Path]:
    """Write uploaded files under ``folder`` with their original names (a repeated name gets a subfolder)."""
    out: list[Path] = []
    for i, f in enumerate(files):
        name = Path(str(f.get("name") or "")).name or f"upload-{i}"
        target = folder / name
        if target.exists():
            target = folder / str(i) / name
            target.parent.mkdir()
        target.write_bytes(bytes(f["content"]))
        out.append(target)
    return out


def _shown_path(path: str, root: Path | None) -> str:
    """An uploaded file is shown by its original name, not the temporary folder it was written to."""
    if root is None:
        return path
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path
