"""The backtest widget: sweep a strategy's parameter ranges over stored bars, rank, map and replay.

A thin ipywidgets skin over :func:`workbench.optimize.run_sweep` (the sweep, stored as an optimisation)
and :func:`workbench.backtest.run` (the equity of one combination); the charts are
:mod:`workbench.reports.charts`, the same as the reports' and the dashboards'. Notebooks and tests drive
it without clicking:

>>> w = BacktestWidget(ws)                         # strategy, data, one range row per parameter
>>> w.inputs.set_range("fast", 5, 30, 5)           # what typing start/stop/step does
>>> outcome = w.run()                              # what the "Run sweep" button does -> SweepOutcome
>>> print(w.summary())                             # one line: combinations, time, best, where stored
>>> w.results                                      # every stored combination (polars)
>>> w.select({"fast": 10, "slow": 60})             # equity/drawdown of one combination
>>> w.heatmap, w.equity_chart                      # the HoloViews objects shown

Errors (a bad range, no bars) are shown as one line in ``w.error`` and ``run`` returns ``None``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench.errors import ConfigError, DataError, MissingDependencyError, WorkbenchError

try:
    import ipywidgets as widgets
    from IPython.display import display
except ImportError:  # pragma: no cover - exercised only without the notebook extra
    raise MissingDependencyError("ipywidgets", "notebook") from None

from workbench.backtest import METRICS, STRATEGIES, BacktestResult, Param, get_strategy, parse_grid, run
from workbench.backtest.engine import FILLS
from workbench.backtest.settings import DIRECTIONS as ENGINE_DIRECTIONS
from workbench.backtest.settings import STOP_NAMES, contract_for
from workbench.optimize.sweep import DIRECTIONS
from workbench.reports import charts
from workbench.reports import optimization as opt
from workbench.reports.static import STYLE, frame_table

if TYPE_CHECKING:
    from workbench.optimize import SweepOutcome
    from workbench.workspace import Workspace

__all__ = [
    "BacktestWidget",
    "SweepInputs",
    "best_per_cell",
    "default_range",
    "error_html",
    "load_charts",
    "ranked",
    "strategy_names",
]

_SERIES_HINT = "no bar series stored; run ws.load_samples() (or `workbench data samples`) and refresh"


def strategy_names() -> list[str]:
    """Names of the registered strategies (the library in ``workbench/backtest/strategies``)."""
    get_strategy("sma_cross")  # imports the library, which registers every strategy
    return STRATEGIES.names()


def error_html(err: Exception) -> str:
    """One red line: ``error: <message>`` (the widgets never show a traceback)."""
    text = " ".join(str(err).split())
    return f'<span style="color:{charts.COLOURS["down"]}">error: {html.escape(text)}</span>'


def load_charts() -> None:
    """HoloViews' Bokeh extension in a live notebook, its JavaScript from the installed packages
    (:func:`workbench.ui.notebook.load`, once per kernel), and hvplot's ``.hvplot`` on polars frames,
    so the charts shown in the widgets' ``Output`` areas render with or without the internet."""
    from workbench.ui import notebook

    notebook.load()
    notebook.register_hvplot()


def _nice(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5, 10 × 10^n that is >= ``raw``."""
    base = 10.0 ** math.floor(math.log10(raw))
    return next(m * base for m in (1, 2, 2.5, 5, 10) if m * base >= raw - 1e-12)


def default_range(p: Param) -> tuple[int | float, int | float, int | float]:
    """(start, stop, step) offered for a parameter: half to twice its default, clipped to its range,
    in about six steps (whole steps for integers)."""
    lo, hi = p.range
    if p.type is int:
        start = max(int(lo), math.ceil(p.default / 2))
        stop = min(int(hi), int(p.default) * 2)
        return start, max(start, stop), max(1, round((stop - start) / 6))
    start, stop = max(float(lo), p.default / 2), min(float(hi), p.default * 2)
    return start, max(start, stop), _nice((stop - start) / 6) if stop > start else 1.0


_EMPTY = {"commission": "0", "spread": "0", "slippage": "0", "size": "100%"}  # an empty box; else None


def _setting(description: str, value: str, placeholder: str, width: str = "260px") -> widgets.Text:
    """A text box for one engine setting (the CLI flag's syntax)."""
    return widgets.Text(
        value=value, description=description, placeholder=placeholder, layout=widgets.Layout(width=width)
    )


def _number_box(p: Param, value: int | float, description: str) -> widgets.Widget:
    kind = widgets.IntText if p.type is int else widgets.FloatText
    return kind(value=value, description=description, layout=widgets.Layout(width="170px"))


class SweepInputs:
    """The inputs a sweep and a search share: strategy, bar series, one start/stop/step row per
    parameter, and the engine settings under the CLI's names and syntax (``fill``, ``direction``,
    ``commission``, ``spread``, ``slippage``, ``size``, ``stop_loss``, ``take_profit``,
    ``trailing_stop``, ``contract``, ``cash``: text boxes take ``7/lot``, ``1.5pips``, ``1%risk``,
    ``2atr`` ..., parsed by :mod:`workbench.backtest.settings`; an empty stop is off, an empty contract
    the symbol's). ``box`` is the ipywidget."""

    def __init__(self, ws: Workspace, *, strategy: str | None = None, data: str | None = None) -> None:
        self.ws = ws
        names = strategy_names()
        self.strategy = widgets.Dropdown(
            description="Strategy",
            options=names,
            value=strategy or ("sma_cross" if "sma_cross" in names else names[0]),
        )
        self.data = widgets.Dropdown(description="Data", options=[])
        self.fill = widgets.Dropdown(description="Fill", options=list(FILLS), value="next_open")
        self.direction = widgets.Dropdown(
            description="Direction", options=list(ENGINE_DIRECTIONS), value="long"
        )
        self.commission = _setting("Commission", "0", "0.0002, 0.01%, 7/lot, 2.5/trade")
        self.spread = _setting("Spread", "0", "0.0002, 0.02%, 1.5pips")
        self.slippage = _setting("Slippage", "0", "0.0002, 0.01%, 0.5pips")
        self.size = _setting("Size", "100%", "100%, 1000, 2lots, 5000cash, 10%vol, 1%risk")
        self.stop_loss = _setting("Stop-loss", "", "off; 0.0020, 0.5%, 20pips, 2atr")
        self.take_profit = _setting("Take-profit", "", "off; 0.0040, 1%, 40pips, 3atr")
        self.trailing_stop = _setting("Trailing", "", "off; 0.0020, 0.5%, 20pips, 2atr")
        self.contract = _setting("Contract", "", "pip=0.0001,lot=100000,quote=USD", width="420px")
        self.cash = widgets.BoundedFloatText(description="Cash", value=10_000.0, min=1.0, max=1e12)
        self.rows: dict[str, tuple[widgets.Widget, widgets.Widget, widgets.Widget]] = {}
        self.ranges = widgets.VBox()
        self.strategy.observe(lambda _: self._build_ranges(), names="value")
        self.data.observe(lambda _: self._show_contract(), names="value")
        self.refresh(data)
        self._build_ranges()
        self._show_contract()
        self.box = widgets.VBox(
            [
                widgets.HBox([self.strategy, self.data]),
                widgets.HTML("<b>Parameter ranges</b> (start, stop inclusive, step)"),
                self.ranges,
                widgets.HTML("<b>Engine</b> (the <code>workbench backtest</code> flags' syntax)"),
                widgets.HBox([self.fill, self.direction, self.cash]),
                widgets.HBox([self.commission, self.spread, self.slippage]),
                widgets.HBox([self.size, self.stop_loss, self.take_profit, self.trailing_stop]),
                self.contract,
            ]
        )

    def _show_contract(self) -> None:
        """The chosen series' default contract as the contract box's placeholder."""
        symbol = str(self.data.value or "").partition(":")[0]
        default = str(contract_for(symbol)) or "unknown: pip=...,lot=...,quote=..."
        self.contract.placeholder = f"{default} (the {symbol or 'symbol'} default)"

    def refresh(self, data: str | None = None) -> None:
        """Reload the bar series (``SYMBOL:TF``) from the workspace; keeps the choice while it exists."""
        series = [f"{s}:{t}" for s, t in self.ws.bar_series().select("symbol", "timeframe").iter_rows()]
        current = data or self.data.value
        self.data.options = series
        if series:
            self.data.value = current if current in series else series[0]

    def _build_ranges(self) -> None:
        spec = get_strategy(self.strategy.value)
        self.rows = {}
        boxes = []
        for p in spec.params:
            start, stop, step = default_range(p)
            row = (
                _number_box(p, start, "start"),
                _number_box(p, stop, "stop"),
                _number_box(p, step, "step"),
            )
            self.rows[p.name] = row
            label = widgets.HTML(f"<code>{html.escape(p.name)}</code> <small>{p.type.__name__}</small>")
            boxes.append(widgets.HBox([label, *row], layout=widgets.Layout(align_items="center")))
        self.ranges.children = tuple(boxes)

    # -- driving it from code ---------------------------------------------------------------------
    def set_range(self, name: str, start: float, stop: float, step: float = 1) -> None:
        """What typing into a parameter's start/stop/step boxes does."""
        if name not in self.rows:
            get_strategy(self.strategy.value).param(name)  # raises, naming the known parameters
        for box, value in zip(self.rows[name], (start, stop, step), strict=True):
            box.value = value

    def grid(self) -> dict[str, list[int | float]]:
        """``{param: values}`` from the range rows (``start:stop:step``, stop inclusive)."""
        items = [
            f"{name}={start.value}:{stop.value}:{step.value}"
            for name, (start, stop, step) in self.rows.items()
        ]
        return parse_grid(items)

    def engine(self) -> dict[str, Any]:
        """The engine keywords, as written (the names of ``run``/``sweep``/``run_sweep`` and the CLI
        flags): ``fill``, ``direction``, ``commission``, ``spread``, ``slippage``, ``size``,
        ``stop_loss``, ``take_profit``, ``trailing_stop``, ``contract`` (``None`` when empty), ``cash``."""
        text = {
            name: str(getattr(self, name).value).strip()
            for name in ("commission", "spread", "slippage", "size", *STOP_NAMES, "contract")
        }
        return {
            "fill": self.fill.value,
            "direction": self.direction.value,
            **{k: v or _EMPTY.get(k) for k, v in text.items()},
            "cash": float(self.cash.value),
        }

    def series(self) -> str:
        if not self.data.value:
            self.refresh()
        if not self.data.value:
            raise DataError(_SERIES_HINT, file=str(self.ws.home), where="bars")
        return str(self.data.value)


def _text(v: Any) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _label(row: Mapping[str, Any], params: tuple[str, ...], metric: str) -> str:
    shown = " ".join(f"{p}={_text(row[p])}" for p in params)
    value = row.get(metric)
    return f"#{row['trial']} {shown} · {metric} {'—' if value is None else f'{value:,.4g}'}"


def ranked(frame: pl.DataFrame, metric: str) -> pl.DataFrame:
    """``frame`` best first by ``metric`` (its direction in :data:`~workbench.optimize.sweep.DIRECTIONS`),
    nulls last, ties by trial."""
    return frame.sort(
        [metric, "trial"], descending=[DIRECTIONS.get(metric, "max") == "max", False], nulls_last=True
    )


def best_per_cell(frame: pl.DataFrame, x: str, y: str, metric: str) -> pl.DataFrame:
    """The best row of each ``(x, y)`` cell (other parameters free), so the heatmap shows the best
    ``metric`` reachable there whatever the metric's direction."""
    return ranked(frame.drop_nulls([x, y, metric]), metric).unique([x, y], keep="first", maintain_order=True)


class BacktestWidget:
    """Sweep inputs + Run → progress, top-N table, two-parameter heatmap, equity of one combination.

    ``view`` is the top-level ipywidget; displaying the object displays it.
    """

    def __init__(
        self, ws: Workspace, *, strategy: str | None = None, data: str | None = None, top: int = 20
    ) -> None:
        load_charts()
        self.ws = ws
        self.inputs = SweepInputs(ws, strategy=strategy, data=data)
        self.outcome: SweepOutcome | None = None
        self.results: pl.DataFrame | None = None  # every stored combination: trial, rank, params, METRICS
        self.parameters: tuple[str, ...] = ()
        self.selected: dict[str, Any] | None = None
        self.backtest: BacktestResult | None = None  # the selected combination's deep run
        self.heatmap: Any = None
        self.equity_chart: Any = None
        self._run: dict[str, Any] = {}  # strategy, data, engine and bars of the shown sweep
        self._quiet = False

        self.metric = widgets.Dropdown(
            description="Rank by", options=list(DIRECTIONS), value="total_return_pct"
        )
        self.top = widgets.BoundedIntText(description="Top", value=top, min=1, max=100_000)
        self.run_button = widgets.Button(description="Run sweep", button_style="primary", icon="play")
        self.progress = widgets.IntProgress(value=0, min=0, max=100, description="")
        self.status = widgets.HTML()
        self.error = widgets.HTML()
        self.table = widgets.HTML()
        self.combination = widgets.Dropdown(
            description="Show", options=[], layout=widgets.Layout(width="70%")
        )
        self.heat_x = widgets.Dropdown(description="Heatmap x", options=[])
        self.heat_y = widgets.Dropdown(description="Heatmap y", options=[])
        self.heatmap_output = widgets.Output()
        self.equity_output = widgets.Output()
        self.view = widgets.VBox(
            [
                self.inputs.box,
                widgets.HBox([self.metric, self.top, self.run_button]),
                widgets.HBox([self.progress, self.status]),
                self.error,
                self.table,
                widgets.HBox([self.heat_x, self.heat_y]),
                self.heatmap_output,
                self.combination,
                self.equity_output,
            ]
        )
        self.run_button.on_click(lambda _: self.run())
        self.metric.observe(lambda _: self._guard(self._show_results), names="value")
        self.top.observe(lambda _: self._guard(self._show_table), names="value")
        self.heat_x.observe(lambda _: self._guard(self._show_heatmap), names="value")
        self.heat_y.observe(lambda _: self._guard(self._show_heatmap), names="value")
        self.combination.observe(self._on_combination, names="value")

    def _ipython_display_(self) -> None:
        display(self.view)

    # -- driving it from code ---------------------------------------------------------------------
    def run(self) -> SweepOutcome | None:
        """Sweep the ranges and store it (what "Run sweep" does); ``None`` after an error (see ``error``)."""
        from workbench.optimize import run_sweep

        self.error.value = ""
        self._progress(0, "info", "sweeping")
        try:
            strategy, data = self.inputs.strategy.value, self.inputs.series()
            grid, engine = self.inputs.grid(), self.inputs.engine()
            outcome = run_sweep(
                self.ws,
                strategy,
                data,
                grid,
                rank_by=self.metric.value,
                progress=self._sweep_progress,
                **engine,
            )
            self._progress(80, "info", "reading")
            bars = self.ws.bars(data)
        except WorkbenchError as e:
            self._fail(e)
            return None
        self.outcome = outcome
        # the settings as run (the contract resolved from the series' symbol), for the deep runs of select()
        engine = outcome.settings or engine
        self._run = {"strategy": strategy, "data": data, "engine": engine, "bars": bars}
        metric = self.metric.value
        t = opt.trials(self.ws.optimization_results(outcome.optimization_id), {metric: DIRECTIONS[metric]})
        self.parameters = t.parameters
        self.results = t.frame.select("trial", "rank", *t.parameters, *METRICS)
        self.status.value = (
            f"{outcome.combos:,} combinations in {outcome.seconds:.2f} s · stored as optimisation "
            f"#{outcome.optimization_id}, best as backtest #{outcome.backtest_ids[0]}"
        )
        self._quiet = True
        try:
            varying = [p for p in t.parameters if self.results[p].n_unique() > 1] or list(t.parameters)
            self.heat_x.options, self.heat_y.options = t.parameters, t.parameters
            self.heat_x.value = varying[0]
            self.heat_y.value = varying[1] if len(varying) > 1 else varying[0]
        finally:
            self._quiet = False
        if not self._guard(self._show_results):
            return outcome
        self._progress(100, "success", "done")
        return outcome

    def summary(self) -> str:
        """One line about the shown sweep: combinations, time, the best combination by the ranking
        metric and where it was stored (what a notebook prints above the widget)."""
        if self.outcome is None or self.results is None:
            return "no sweep yet: set the ranges and click Run sweep (or call .run())"
        o, metric = self.outcome, self.metric.value
        best = ranked(self.results, metric).row(0, named=True) if self.results.height else None
        shown = f"best {_label(best, self.parameters, metric).split(' ', 1)[1]}" if best else "no result"
        stored = f"stored as optimisation #{o.optimization_id}" + (
            f", best as backtest #{o.backtest_ids[0]}" if o.backtest_ids else ""
        )
        return (
            f"{self._run.get('strategy')} on {self._run.get('data')}: {o.combos:,} combinations in "
            f"{o.seconds:.2f} s; {shown}; {stored}"
        )

    def top_rows(self) -> pl.DataFrame:
        """The table's rows: the best ``top`` combinations by the chosen metric."""
        if self.results is None:
            return pl.DataFrame()
        return ranked(self.results, self.metric.value).head(self.top.value)

    def select(self, params: Mapping[str, Any]) -> BacktestResult:
        """Run one combination of the shown sweep and chart its equity and drawdown."""
        if not self._run:
            raise ConfigError("run a sweep first (the Run sweep button or .run())")
        r = self._run
        result = run(r["bars"], r["strategy"], dict(params), **r["engine"])
        self.selected = {p: result.params[p] for p in self.parameters if p in result.params}
        self.backtest = result
        match = self._row_of(self.selected)
        title = _label(match, self.parameters, self.metric.value) if match else str(self.selected)
        equity = result.equity.select(
            pl.col("ts").alias("time"), pl.col("equity").alias("balance"), "drawdown_pct"
        )
        self.equity_chart = charts.equity_drawdown(equity, title=f"{r['strategy']} {r['data']} · {title}")
        if match is not None and match["trial"] in self._combination_ids():
            self._quiet = True
            try:
                self.combination.value = match["trial"]
            finally:
                self._quiet = False
        self.equity_output.clear_output()
        with self.equity_output:
            display(self.equity_chart)
        return result

    # -- internals ----------------------------------------------------------------------------------
    def _sweep_progress(self, done: int, total: int) -> None:
        """run_sweep's report while the kernel runs: the bar follows the combinations (0-75 %; the best
        run, the overfitting checks and storing fill the rest)."""
        self._progress(int(75 * done / max(total, 1)), "info", f"{done:,}/{total:,} combinations")

    def _progress(self, value: int, style: str, text: str) -> None:
        self.progress.value, self.progress.bar_style, self.progress.description = value, style, text

    def _fail(self, err: Exception) -> None:
        self.error.value = error_html(err)
        self._progress(self.progress.value, "danger", "failed")

    def _guard(self, step: Callable[[], None]) -> bool:
        """Run a redraw; a WorkbenchError becomes the one-line error label."""
        if self._quiet or self.results is None:
            return True
        try:
            step()
        except WorkbenchError as e:
            self._fail(e)
            return False
        return True

    def _row_of(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        assert self.results is not None
        hit = self.results.filter(*[pl.col(p) == v for p, v in params.items()])
        return hit.row(0, named=True) if hit.height else None

    def _combination_ids(self) -> list[int]:
        return [v for _, v in self.combination.options]

    def _show_results(self) -> None:
        self._show_table()
        self._show_heatmap()

    def _show_table(self) -> None:
        rows = self.top_rows()
        direction = DIRECTIONS.get(self.metric.value, "max")
        total = self.results.height if self.results is not None else 0
        caption = f"top {rows.height} of {total:,} by {self.metric.value} ({direction})"
        self.table.value = STYLE + str(frame_table(rows, caption=caption))
        options = [
            (_label(r, self.parameters, self.metric.value), int(r["trial"]))
            for r in rows.iter_rows(named=True)
        ]
        self._quiet = True
        try:
            self.combination.options = options
            self.combination.value = options[0][1] if options else None
        finally:
            self._quiet = False
        if options:
            best = rows.row(0, named=True)
            self.select({p: best[p] for p in self.parameters})

    def _show_heatmap(self) -> None:
        assert self.results is not None
        x, y, metric = self.heat_x.value, self.heat_y.value, self.metric.value
        self.heatmap_output.clear_output()
        if not x or not y or x == y:
            self.heatmap = None
            with self.heatmap_output:
                display(widgets.HTML("<i>pick two different parameters for the heatmap</i>"))
            return
        best = best_per_cell(self.results, x, y, metric)  # one row per cell: the aggregation is moot
        self.heatmap = charts.parameter_heatmap(best, x, y, metric).opts(title=f"best {metric}: {y} × {x}")
        with self.heatmap_output:
            display(self.heatmap)

    def _on_combination(self, change: Mapping[str, Any]) -> None:
        if self._quiet or change["new"] is None or self.results is None:
            return
        row = self.results.filter(pl.col("trial") == change["new"]).row(0, named=True)

        def show() -> None:
            self.select({p: row[p] for p in self.parameters})

        self._guard(show)
