"""The optimisation widget: a Ray Tune search over a strategy's parameter ranges, its Pareto front and
walk-forward folds.

A thin ipywidgets skin over :func:`workbench.optimize.run_optimize`; the inputs are the backtest
widget's (:class:`~workbench.ui.backtest.SweepInputs`), the charts :mod:`workbench.reports.charts`
(as in :class:`~workbench.ui.dashboards.OptimizationDashboard`). Notebooks and tests drive it without
clicking:

>>> w = OptimizeWidget(ws)
>>> w.inputs.set_range("fast", 5, 30)
>>> w.set_objectives(["sharpe:max", "max_drawdown_pct:min"])
>>> w.algo.value, w.trials.value, w.walk_forward.value = "nsga2", 16, 0
>>> outcome = w.run()            # what "Run search" does -> OptimizeOutcome (None after an error)
>>> w.results                    # every stored trial, expanded (trial, rank, fold, params, objectives, ...)
>>> w.pareto_frame, w.pareto_chart, w.folds

Ray: by default (``keep_ray=True``) the widget connects once — to the address box, else ``RAY_ADDRESS``,
else a new local Ray, with a dashboard when ``WORKBENCH_RAY_DASHBOARD=1`` — and keeps the connection for
the next runs (and the dashboard link alive); :meth:`shutdown` ends a Ray it started. A Ray the notebook
started itself is used as it is. With ``keep_ray=False`` each run starts and stops its own Ray.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench.errors import ConfigError, MissingDependencyError, WorkbenchError

try:
    import ipywidgets as widgets
    from IPython.display import display
except ImportError:  # pragma: no cover - exercised only without the notebook extra
    raise MissingDependencyError("ipywidgets", "notebook") from None

from workbench.backtest import METRICS
from workbench.optimize.sweep import DIRECTIONS
from workbench.optimize.tune import ALGOS, Objective, parse_objectives
from workbench.reports import charts
from workbench.reports import optimization as opt
from workbench.reports.static import STYLE, frame_table, note
from workbench.ui.backtest import SweepInputs, error_html, load_charts

if TYPE_CHECKING:
    from workbench.optimize import OptimizeOutcome
    from workbench.workspace import Workspace

__all__ = ["OptimizeWidget", "dashboard_url", "folds_frame"]

NO_DASHBOARD = (
    "The local Ray was started without a dashboard. To get one, set WORKBENCH_RAY_DASHBOARD=1 "
    "(workbench/config.py) in the environment before the first run (restart the kernel if Ray is "
    "already up); it is then served at http://127.0.0.1:8265."
)


def dashboard_url(outcome: Any = None) -> str | None:
    """The Ray dashboard's URL: the outcome's ``dashboard_url`` when it has one, else the connected
    Ray's (``None`` when Ray is not running or was started without a dashboard)."""
    url = getattr(outcome, "dashboard_url", None)
    if not url:
        import ray

        if not ray.is_initialized():  # never start a Ray just to ask
            return None
        try:  # connected already: returns the running Ray's context without touching it
            url = getattr(ray.init(ignore_reinit_error=True, configure_logging=False), "dashboard_url", None)
        except Exception:  # a client (ray://) connection has no local node to ask
            return None
    if not url:
        return None
    return url if "://" in url else f"http://{url}"


def _ray_error(e: Exception) -> ConfigError:
    """A Ray/Tune exception as one line (its message's first line)."""
    first = next((line for line in str(e).splitlines() if line.strip()), "")
    return ConfigError(f"Ray: {type(e).__name__}: {first.strip()[:300]}")


def _span(span: Mapping[str, Any]) -> str:
    return f"{str(span['start'])[:16].replace('T', ' ')} → {str(span['end'])[:16].replace('T', ' ')}"


def folds_frame(folds: Sequence[Mapping[str, Any]], objectives: Sequence[Objective]) -> pl.DataFrame:
    """One row per walk-forward fold (``OptimizeOutcome.folds``): spans, chosen parameters, and each
    objective in-sample (``is_<metric>``) and out-of-sample (``oos_<metric>``), then trades."""
    names = [o.metric for o in objectives] + [
        m for m in ("trades",) if m not in {o.metric for o in objectives}
    ]
    rows = []
    for f in folds:
        row: dict[str, Any] = {
            "fold": f["fold"],
            "train": _span(f["train"]),
            "train_bars": f["train"]["bars"],
            "test": _span(f["test"]),
            "test_bars": f["test"]["bars"],
            "params": " ".join(f"{k}={v}" for k, v in f["params"].items()),
        }
        for m in names:
            row[f"is_{m}"] = f["in_sample"].get(m)
            row[f"oos_{m}"] = f["out_of_sample"].get(m)
        rows.append(row)
    schema = {f"{p}_{m}": pl.Float64 for m in names for p in ("is", "oos")}
    return pl.DataFrame(rows, schema_overrides=schema) if rows else pl.DataFrame()


class OptimizeWidget:
    """Sweep inputs + objectives, algorithm, trials, walk-forward K and Ray address → progress, Pareto
    scatter, walk-forward table and the Ray dashboard link. ``view`` is the top-level ipywidget."""

    def __init__(
        self,
        ws: Workspace,
        *,
        strategy: str | None = None,
        data: str | None = None,
        keep_ray: bool = True,
    ) -> None:
        from workbench.config import settings

        load_charts()
        self.ws = ws
        self.keep_ray = keep_ray
        self.inputs = SweepInputs(ws, strategy=strategy, data=data)
        self.outcome: OptimizeOutcome | None = None
        self.stored_trials: opt.Trials | None = None
        self.results: pl.DataFrame | None = None  # every stored trial, expanded
        self.pareto_frame: pl.DataFrame | None = None  # the scatter's rows (last fold) + pareto_front
        self.pareto_chart: Any = None
        self.folds: pl.DataFrame | None = None
        self.dashboard: str | None = None
        self._objectives: tuple[Objective, ...] = ()
        self._ray_started = False
        self._ray_dashboard: str | None = None  # reported by the Ray this widget started
        self._expected = 1
        self._quiet = False

        self.objectives = widgets.TagsInput(
            value=["total_return_pct:max"],
            allowed_tags=[f"{m}:{d}" for m in METRICS for d in ("max", "min")],
            allow_duplicates=False,
            layout=widgets.Layout(width="60%"),
        )
        self.algo = widgets.Dropdown(description="Algorithm", options=list(ALGOS), value="tpe")
        self.trials = widgets.BoundedIntText(description="Trials", value=20, min=1, max=1_000_000)
        self.walk_forward = widgets.BoundedIntText(description="Walk-fwd K", value=0, min=0, max=50)
        self.address = widgets.Text(
            description="Ray",
            value=settings().ray_address or "",
            placeholder="(empty: a local Ray)  ray://HOST:10001 or HOST:6379",
            layout=widgets.Layout(width="45%"),
        )
        self.run_button = widgets.Button(description="Run search", button_style="primary", icon="play")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="")
        self.status = widgets.HTML()
        self.error = widgets.HTML()
        self.dashboard_link = widgets.HTML()
        self.pareto_x = widgets.Dropdown(description="Pareto x", options=[])
        self.pareto_y = widgets.Dropdown(description="Pareto y", options=[])
        self.pareto_output = widgets.Output()
        self.folds_table = widgets.HTML()
        self.view = widgets.VBox(
            [
                self.inputs.box,
                widgets.HBox([widgets.HTML("<b>Objectives</b> (first = primary)"), self.objectives]),
                widgets.HBox([self.algo, self.trials, self.walk_forward]),
                widgets.HBox([self.address, self.run_button]),
                widgets.HBox([self.progress, self.status]),
                self.error,
                self.dashboard_link,
                widgets.HBox([self.pareto_x, self.pareto_y]),
                self.pareto_output,
                widgets.HTML("<b>Walk-forward folds</b> (is = in-sample, oos = out-of-sample)"),
                self.folds_table,
            ]
        )
        self.run_button.on_click(lambda _: self.run())
        self.pareto_x.observe(lambda _: self._redraw(), names="value")
        self.pareto_y.observe(lambda _: self._redraw(), names="value")

    def _ipython_display_(self) -> None:
        display(self.view)

    # -- driving it from code ---------------------------------------------------------------------
    def set_objectives(self, items: Sequence[str]) -> None:
        """``["sharpe:max", "max_drawdown_pct:min"]`` (what picking the objective tags does)."""
        self.objectives.value = list(items)

    def run(self) -> OptimizeOutcome | None:
        """Search and store (what "Run search" does); ``None`` after an error (shown in ``error``)."""
        from workbench.optimize import run_optimize

        self.error.value = ""
        self.progress.bar_style, self.progress.value, self.progress.description = "info", 0, "starting"
        try:
            objectives = parse_objectives(list(self.objectives.value))
            strategy, data = self.inputs.strategy.value, self.inputs.series()
            grid, engine = self.inputs.grid(), self.inputs.engine()
            address = self.address.value.strip() or None
            folds = int(self.walk_forward.value)
            self._expected = int(self.trials.value) * max(folds, 1)
            self.progress.max = self._expected
            if self.keep_ray:
                self._connect(address)
            outcome = run_optimize(
                self.ws,
                strategy,
                data,
                grid,
                objectives,
                algo=self.algo.value,
                trials=int(self.trials.value),
                walk_forward=folds,
                address=address,
                progress=self._on_progress,
                **engine,
            )
        except Exception as e:
            if not isinstance(e, WorkbenchError) and not type(e).__module__.startswith("ray."):
                raise  # a bug, not a bad input or a failing cluster: keep the traceback
            self.error.value = error_html(e if isinstance(e, WorkbenchError) else _ray_error(e))
            self.progress.bar_style, self.progress.description = "danger", "failed"
            return None
        self.outcome, self._objectives = outcome, objectives
        t = opt.trials(
            self.ws.optimization_results(outcome.optimization_id), {o.metric: o.mode for o in objectives}
        )
        self.stored_trials, self.results = t, t.frame
        nodes = ", ".join(n[:8] for n in outcome.nodes)
        self.status.value = html.escape(
            f"{outcome.trials:,} combinations evaluated in {outcome.seconds:.1f} s on "
            f"{len(outcome.nodes)} node(s) ({nodes}) · stored as optimisation #{outcome.optimization_id}"
        )
        self.progress.max = max(self.progress.max, outcome.trials)
        self.progress.value, self.progress.bar_style, self.progress.description = (
            self.progress.max,
            "success",
            "done",
        )
        self._show_dashboard(outcome)
        self._show_folds(outcome, objectives)
        names = [o.metric for o in objectives]
        axes = [*names, *(m for m in METRICS if m not in names)]
        y = names[0]
        x = names[1] if len(names) > 1 else ("max_drawdown_pct" if y != "max_drawdown_pct" else "sharpe")
        self._quiet = True
        try:
            self.pareto_x.options, self.pareto_y.options = axes, axes
            self.pareto_x.value, self.pareto_y.value = x, y
        finally:
            self._quiet = False
        self._redraw()
        return outcome

    def shutdown(self) -> None:
        """End the Ray this widget started (a Ray started elsewhere is left alone)."""
        if self._ray_started:
            import ray

            ray.shutdown()
            self._ray_started, self._ray_dashboard = False, None

    # -- internals ----------------------------------------------------------------------------------
    def _connect(self, address: str | None) -> None:
        import ray

        from workbench.raycluster import connect_ray

        if ray.is_initialized():
            return
        if address is None:
            from workbench.config import settings

            address = settings().ray_address
        self.progress.description = "starting Ray"
        try:
            started, self._ray_dashboard = connect_ray(address)
        except WorkbenchError:
            raise
        except Exception as e:  # noqa: BLE001 - ray.init raises bare Exception on a startup timeout
            raise ConfigError(f"Ray {address or '(local)'}: cannot start/connect ({e})") from None
        self._ray_started = started or self._ray_started

    def _on_progress(self, done: int, total: int | None) -> None:
        top = max(total or self._expected, done, 1)
        self.progress.max = top
        self.progress.value = done
        self.progress.description = f"{done}/{total if total else '?'}"

    def _show_dashboard(self, outcome: Any) -> None:
        import ray

        url = self._ray_dashboard or dashboard_url(outcome)
        self.dashboard = url
        if url:
            link = html.escape(url)
            gone = "" if ray.is_initialized() else " (closed: that Ray stopped at the end of the run)"
            self.dashboard_link.value = f'Ray dashboard: <a href="{link}" target="_blank">{link}</a>{gone}'
        elif self._ray_started or not ray.is_initialized():  # a local Ray started by the workbench
            self.dashboard_link.value = f"<i>{html.escape(NO_DASHBOARD)}</i>"
        else:
            self.dashboard_link.value = (
                "<i>The Ray this notebook started reports no dashboard (ray.init(include_dashboard=True) "
                "starts one).</i>"
            )

    def _show_folds(self, outcome: Any, objectives: Sequence[Objective]) -> None:
        if not outcome.folds:
            self.folds = None
            self.folds_table.value = (
                STYLE + note("no walk-forward (K = 0): one search over the whole period").text
            )
            return
        self.folds = folds_frame(outcome.folds, objectives)
        self.folds_table.value = STYLE + str(frame_table(self.folds))

    def _axis(self, name: str) -> opt.Objective:
        mode = next((o.mode for o in self._objectives if o.metric == name), DIRECTIONS.get(name, "max"))
        return opt.Objective(name, mode)  # type: ignore[arg-type]

    def _redraw(self) -> None:
        t = self.stored_trials
        if self._quiet or t is None:
            return
        x, y = self.pareto_x.value, self.pareto_y.value
        self.pareto_output.clear_output()
        if not x or not y or x == y:
            self.pareto_chart = None
            with self.pareto_output:
                display(widgets.HTML("<i>pick two different metrics for the Pareto scatter</i>"))
            return
        stored = {o.metric for o in self._objectives}
        if len(stored) == 2 and {x, y} == stored:
            front = t.frame.with_columns((pl.col("rank") == 1).fill_null(False).alias("pareto_front"))
            how = "stored Pareto rank 1"
        else:
            front = opt.with_front(t, [self._axis(y), self._axis(x)])
            how = "non-dominated in these two metrics"
        last = t.frame["fold"].max()
        self.pareto_frame = front.filter(pl.col("fold").is_null() if last is None else pl.col("fold") == last)
        where = "" if last is None else f", fold {last} (in-sample)"
        self.pareto_chart = charts.pareto_scatter(
            self.pareto_frame, x, y, title=f"{y} vs {x}{where}: front = {how}"
        )
        with self.pareto_output:
            display(self.pareto_chart)
