"""Panel dashboards over a read-only workspace: backtests overview and optimisations.

Served by ``workbench serve`` (notebooks/dashboards/*.ipynb end in ``.servable()``); each viewer's
session opens the workspace read-only and every read is a short-lived DuckDB connection, so many
viewers and one writing process can share a workspace.

>>> d = OverviewDashboard.open()      # $WORKBENCH_HOME, read-only (or OverviewDashboard(wb.open(read_only=True)))
>>> d.select(14)          # what picking a backtest does
>>> d.view                # the Panel layout (``d.view.servable()`` in a served notebook)

A workspace that does not exist or holds nothing to show gives an empty state that says how to ingest
(``d.empty``); one that cannot be opened (another process's lock, a newer schema) shows its one-line
error (``d.error``). Nothing is ever ingested on the viewer's behalf.

The charts are :mod:`workbench.reports.charts` (the same as the HTML reports).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench.errors import MissingDependencyError, StoreError, WorkbenchError
from workbench.reports import EmptyWorkspaceError, Holding, charts, report_workspace
from workbench.reports import optimization as opt
from workbench.reports.static import STYLE, frame_table, mapping_table, note
from workbench.ui.formatting import metric_labels, table_frame, tabulator_formatters, tabulator_titles

try:
    import panel as pn
except ImportError:  # pragma: no cover - exercised only without the notebook extra
    raise MissingDependencyError("panel", "notebook") from None

if TYPE_CHECKING:
    from workbench.workspace import Workspace

__all__ = ["OverviewDashboard", "OptimizationDashboard", "backtest_label"]

TABLE_COLUMNS = (
    "id",
    "name",
    "format",
    "symbol",
    "timeframe",
    "total_trades",
    "net_profit",
    "profit_factor",
    "max_drawdown_pct",
    "sharpe_ratio",
)


def backtest_label(row: Mapping[str, Any]) -> str:
    """``#14 · MACD Sample USDJPY M5`` (the picker's text and the chart's title)."""
    return f"#{row['id']} · {row.get('name') or '(unnamed)'}"


def _error(err: Exception) -> str:
    return f'<span style="color:{charts.COLOURS["down"]}">error: {html.escape(str(err))}</span>'


def _styled(piece: Any) -> str:
    """A :mod:`workbench.reports.static` table with the report's table style (each pane is its own DOM)."""
    return STYLE + str(piece)


def _hv_pane(obj: Any = None, **kw: Any) -> Any:
    return pn.pane.HoloViews(obj, backend="bokeh", sizing_mode="stretch_width", **kw)


def _open(home: str | Path | None, holding: Holding) -> tuple[Workspace | None, str | None, str | None]:
    """(workspace, empty state, error): exactly one of them is set."""
    try:
        return report_workspace(home, holding=holding), None, None
    except EmptyWorkspaceError as e:
        return None, str(e), None
    except StoreError as e:
        return None, None, str(e)


def _state_view(title: str, empty: str | None, error: str | None) -> Any:
    """What a dashboard shows instead of itself: how to ingest, or the error that kept it from opening."""
    if error is not None:
        body = f'<p class="wb-error">{_error(StoreError(error))}</p>'
    else:
        body = (
            f'<div class="wb-empty"><p><b>Nothing to show yet.</b> {html.escape(empty or "")}</p>'
            "<pre>workbench ingest PATH    # your exports: files or folders\n"
            "workbench demo           # or the sample exports in data/samples</pre>"
            "<p>Then reload this page.</p></div>"
        )
    return pn.Column(
        pn.pane.Markdown(f"## {title}"),
        pn.pane.HTML(body, sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
    )


class OverviewDashboard:
    """Backtests table with filters → the selected backtest's metrics, equity and breakdowns."""

    @classmethod
    def open(cls, home: str | Path | None = None) -> OverviewDashboard:
        """The dashboard over the workspace at ``home`` (default ``$WORKBENCH_HOME``), read-only."""
        ws, empty, error = _open(home, "backtests")
        return cls(ws, empty=empty, error=error)

    def __init__(self, ws: Workspace | None, *, empty: str | None = None, error: str | None = None) -> None:
        self.ws = ws
        self.selected: int | None = None
        self.error = error
        self.catalog = ws.backtests() if ws is not None else pl.DataFrame()
        if ws is not None and self.catalog.height == 0:
            empty = str(EmptyWorkspaceError(ws.home.resolve(), "backtests"))
        self.empty = empty if ws is None or self.catalog.height == 0 else None
        if self.empty is not None or self.error is not None:
            self.picker = pn.widgets.Select(name="Backtest", options={})
            self.view = _state_view("Backtests", self.empty, self.error)
            return
        formats = sorted({f for f in self.catalog["format"].to_list() if f})
        symbols = sorted({s for s in self.catalog["symbol"].to_list() if s})
        most = int(self.catalog["total_trades"].max() or 0) if self.catalog.height else 0
        self.search = pn.widgets.TextInput(name="Name contains", placeholder="e.g. EURUSD")
        self.formats = pn.widgets.MultiChoice(name="Formats", options=formats)
        self.symbols = pn.widgets.MultiChoice(name="Symbols", options=symbols)
        self.min_trades = pn.widgets.IntSlider(name="Min trades", start=0, end=max(most, 1), value=0)
        self.picker = pn.widgets.Select(name="Backtest", options={}, sizing_mode="stretch_width")
        columns = self.catalog.select([c for c in TABLE_COLUMNS if c in self.catalog.columns])
        self.table = pn.widgets.Tabulator(
            self._table_frame(self.catalog),
            formatters=tabulator_formatters(columns),  # numbers as the report writes them
            titles=tabulator_titles(columns.columns, {"id": "#"}),
            selectable=1,
            disabled=True,
            show_index=False,
            height=260,
            layout="fit_data_stretch",
            sizing_mode="stretch_width",
        )
        self.title = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.metrics = pn.pane.HTML("", sizing_mode="stretch_width")
        self.chart = _hv_pane()
        self.monthly = _hv_pane()
        self.weekday = _hv_pane()
        self.hour = _hv_pane()
        filters = pn.Row(
            self.search, self.formats, self.symbols, self.min_trades, sizing_mode="stretch_width"
        )
        self.view = pn.Column(
            pn.pane.Markdown("## Backtests"),
            filters,
            self.table,
            self.picker,
            self.title,
            self.metrics,
            self.chart,
            pn.Row(self.monthly, sizing_mode="stretch_width"),
            pn.Row(self.weekday, self.hour, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        for w in (self.search, self.formats, self.symbols, self.min_trades):
            w.param.watch(self._on_filter, "value")
        self.picker.param.watch(self._on_pick, "value")
        self.table.param.watch(self._on_table, "selection")
        self._apply_filters()

    # -- driving it from code ---------------------------------------------------------------------
    def ids(self) -> list[int]:
        """Ids of the backtests the filters let through, in table order."""
        return list(self.picker.options.values())

    def select(self, backtest_id: int) -> None:
        """What picking a backtest does: fill the metrics and charts."""
        bid = int(backtest_id)
        if self.ws is None or self.empty is not None:
            raise WorkbenchError(self.error or self.empty or "no workspace")
        if bid not in self.ids():
            self.ws.backtest(bid)  # raises a DataError naming the known ids
            raise WorkbenchError(f"backtest #{bid} is hidden by the filters; clear them first")
        if self.picker.value != bid:
            self.picker.value = bid  # the watcher shows it
        else:
            self._show(bid)

    def filtered(self) -> pl.DataFrame:
        c = self.catalog
        if self.search.value:
            c = c.filter(
                pl.col("name").str.to_lowercase().str.contains(self.search.value.lower(), literal=True)
            )
        if self.formats.value:
            c = c.filter(pl.col("format").is_in(self.formats.value))
        if self.symbols.value:
            c = c.filter(pl.col("symbol").is_in(self.symbols.value))
        if self.min_trades.value:
            c = c.filter(pl.col("total_trades") >= self.min_trades.value)
        return c

    # -- internals ----------------------------------------------------------------------------------
    @staticmethod
    def _table_frame(frame: pl.DataFrame) -> Any:
        return table_frame(frame.select([c for c in TABLE_COLUMNS if c in frame.columns]))

    def _apply_filters(self) -> None:
        frame = self.filtered()
        self.table.value = self._table_frame(frame)
        options = {backtest_label(r): int(r["id"]) for r in frame.iter_rows(named=True)}
        current = self.picker.value
        self.picker.options = options
        ids = list(options.values())
        if not ids:
            self.selected = None
            self.title.object = "*no backtest matches the filters*"
            self.metrics.object = ""
            for pane in (self.chart, self.monthly, self.weekday, self.hour):
                pane.object = None
            return
        target = current if current in ids else ids[0]
        if self.picker.value != target:
            self.picker.value = target
        elif self.selected != target:
            self._show(target)

    def _on_filter(self, _event: Any) -> None:
        self._apply_filters()

    def _on_pick(self, event: Any) -> None:
        if event.new is not None:
            self._show(int(event.new))

    def _on_table(self, event: Any) -> None:
        if event.new:
            row = self.table.value.iloc[event.new[0]]
            self.picker.value = int(row["id"])

    def _show(self, bid: int) -> None:
        from workbench.analytics import monthly_returns

        assert self.ws is not None  # only reached through the picker of a dashboard with backtests
        self.selected = bid
        try:
            bt = self.ws.backtest(bid)
            label = backtest_label(bt.info)
            self.title.object = f"### {html.escape(label)}"
            metrics = self.ws.metrics(bid).to_dict()
            self.metrics.object = _styled(mapping_table(metrics, per_row=4, labels=metric_labels(metrics)))
            self.chart.object = charts.equity_drawdown(self.ws.equity(bid), title=label)
            self.monthly.object = charts.monthly_heatmap(
                monthly_returns(bt.trades, bt.initial_balance, bt.cash_flows)
            )
            self.weekday.object = charts.breakdown_bars(self.ws.breakdown(bid, "weekday"), by="weekday")
            self.hour.object = charts.breakdown_bars(self.ws.breakdown(bid, "hour"), by="hour")
        except WorkbenchError as e:
            self.metrics.object = _error(e)


class OptimizationDashboard:
    """Pick an optimisation → Pareto scatter, a heatmap of two parameters, the fold table."""

    @classmethod
    def open(cls, home: str | Path | None = None) -> OptimizationDashboard:
        """The dashboard over the workspace at ``home`` (default ``$WORKBENCH_HOME``), read-only."""
        ws, empty, error = _open(home, "optimizations")
        return cls(ws, empty=empty, error=error)

    def __init__(self, ws: Workspace | None, *, empty: str | None = None, error: str | None = None) -> None:
        self.ws = ws
        self.selected: int | None = None
        self.trials: opt.Trials | None = None
        self.error = error
        self.catalog = ws.optimizations() if ws is not None else pl.DataFrame()
        if ws is not None and self.catalog.height == 0:
            empty = str(EmptyWorkspaceError(ws.home.resolve(), "optimizations"))
        self.empty = empty if ws is None or self.catalog.height == 0 else None
        if self.empty is not None or self.error is not None:
            self.picker = pn.widgets.Select(name="Optimisation", options={})
            self.view = _state_view("Optimisations", self.empty, self.error)
            return
        options = {f"#{r['id']} · {r['name']}": int(r["id"]) for r in self.catalog.iter_rows(named=True)}
        self.picker = pn.widgets.Select(name="Optimisation", options=options, sizing_mode="stretch_width")
        self.x_param = pn.widgets.Select(name="Heatmap x")
        self.y_param = pn.widgets.Select(name="Heatmap y")
        self.summary = pn.pane.HTML("", sizing_mode="stretch_width")
        self.pareto = _hv_pane()
        self.heatmap = _hv_pane()
        self.importance = pn.pane.HTML("", sizing_mode="stretch_width")
        self.folds = pn.pane.HTML("", sizing_mode="stretch_width")
        self.checks = pn.pane.HTML("", sizing_mode="stretch_width")
        self.view = pn.Column(
            pn.pane.Markdown("## Optimisations"),
            self.picker,
            self.summary,
            self.pareto,
            pn.pane.Markdown("### Parameters"),
            self.importance,
            pn.Row(self.x_param, self.y_param),
            self.heatmap,
            pn.pane.Markdown("### Walk-forward folds"),
            self.folds,
            pn.pane.Markdown("### Overfitting checks"),
            self.checks,
            sizing_mode="stretch_width",
        )
        self.picker.param.watch(lambda e: e.new is not None and self.select(e.new), "value")
        self.x_param.param.watch(self._on_axes, "value")
        self.y_param.param.watch(self._on_axes, "value")
        self.select(next(iter(options.values())))

    def ids(self) -> list[int]:
        return list(self.picker.options.values())

    def select(self, optimization_id: int) -> None:
        oid = int(optimization_id)
        if self.ws is None or self.empty is not None:
            raise WorkbenchError(self.error or self.empty or "no workspace")
        row = self.catalog.filter(pl.col("id") == oid)
        if row.height == 0:
            raise WorkbenchError(f"no optimisation with id {oid} (known: {self.ids()})")
        info = row.row(0, named=True)
        self.selected = oid
        if self.picker.value != oid:
            self.picker.value = oid
        t = opt.trials(self.ws.optimization_results(oid), info["objectives"])
        self.trials = t
        axes = opt.pareto_axes(t)
        self.summary.object = _styled(
            mapping_table(
                {
                    "trials": t.frame.height,
                    "objectives": ", ".join(f"{o.name} ({o.direction})" for o in t.objectives),
                    "parameters": ", ".join(t.parameters),
                    "origin": info.get("origin"),
                }
            )
        )
        if len(axes) == 2:
            front = opt.with_front(t, axes)
            self.pareto.object = charts.pareto_scatter(front, axes[1].name, axes[0].name)
        else:
            self.pareto.object = None
        varying = [p for p in t.parameters if t.frame[p].n_unique() > 1]
        if t.objectives and varying:
            ranked = opt.importance(t.frame, varying, t.primary.name)
            self.importance.object = _styled(frame_table(ranked))
            names = ranked["parameter"].to_list()
            self.x_param.options = names
            self.y_param.options = names
            self.x_param.value = names[0]
            self.y_param.value = names[1] if len(names) > 1 else names[0]
            self._on_axes(None)
        else:
            self.importance.object = note("no parameter varies across the stored trials").text
            self.heatmap.object = None
        wf = opt.walk_forward(t)
        self.folds.object = _styled(
            frame_table(wf) if wf is not None else note("no walk-forward folds stored")
        )
        self.checks.object = _styled(frame_table(opt.overfitting_checks(t)))

    def _on_axes(self, _event: Any) -> None:
        t = self.trials
        x, y = self.x_param.value, self.y_param.value
        if t is None or not t.objectives or not x or not y:
            return
        if x == y:
            self.heatmap.object = charts.sensitivity_chart(
                opt.sensitivity(t.frame, x, t.primary.name), x, t.primary.name
            )
        else:
            self.heatmap.object = charts.parameter_heatmap(t.frame, x, y, t.primary.name)
