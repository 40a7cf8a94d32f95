"""HoloViews charts shared by the HTML reports and the Panel dashboards (pure functions of frames).

Every function takes plain polars frames (the Workspace API's output) and returns a HoloViews
object; the reports embed it as static Bokeh (:mod:`workbench.reports.static`), the dashboards show
it in a ``pn.pane.HoloViews``. Nothing here reads the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from workbench.errors import MissingDependencyError

__all__ = [
    "equity_drawdown",
    "monthly_heatmap",
    "breakdown_bars",
    "compare_equity",
    "pareto_scatter",
    "sensitivity_chart",
    "parameter_heatmap",
    "COLOURS",
]

COLOURS: dict[str, str] = {
    "up": "#1a7f37",
    "down": "#cf222e",
    "line": "#0969da",
    "muted": "#8c959f",
    "front": "#d4a72c",
}
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def hv() -> Any:
    """HoloViews with the Bokeh backend loaded (without emitting notebook JavaScript)."""
    try:
        import holoviews
    except ImportError:
        raise MissingDependencyError("holoviews", "notebook") from None
    if holoviews.Store.current_backend != "bokeh" or "bokeh" not in holoviews.Store.renderers:
        import holoviews.plotting.bokeh  # noqa: F401 - registers the backend without display hooks

        holoviews.Store.set_current_backend("bokeh")
    return holoviews


def _empty(title: str, message: str) -> Any:
    h = hv()
    return h.Text(0, 0, message).opts(
        title=title, xaxis=None, yaxis=None, toolbar=None, height=120, responsive=True
    )


def equity_drawdown(equity: pl.DataFrame, *, title: str = "") -> Any:
    """Balance line over an underwater area (drawdown % of the running peak), sharing the time axis.

    ``equity`` is ``Workspace.equity``'s frame (``time``, ``balance``, ``drawdown_pct``, ...).
    """
    h = hv()
    if equity.height == 0:
        return _empty(title, "no trades")
    t = equity["time"].to_numpy()
    bal = equity["balance"].to_numpy()
    dd = -equity["drawdown_pct"].fill_null(0.0).to_numpy()
    line = h.Curve((t, bal), "time", "balance", label="balance").opts(
        title=title,
        color=COLOURS["line"],
        height=300,
        responsive=True,
        ylabel="Balance",
        xlabel="",
        tools=["hover"],
    )
    area = h.Area((t, dd), "time", "drawdown_pct", label="drawdown").opts(
        color=COLOURS["down"], alpha=0.4, height=170, responsive=True, ylabel="Drawdown (%)", xlabel="Time"
    )
    return (line + area).cols(1).opts(shared_axes=True)


def monthly_heatmap(monthly: pl.DataFrame, *, title: str = "Monthly returns (%)") -> Any:
    """Year × month grid of :func:`workbench.analytics.monthly_returns` (red losses, green gains)."""
    h = hv()
    frame = monthly.drop_nulls("return_pct")
    if frame.height == 0:
        return _empty(title, "no monthly returns")
    years = [str(y) for y in frame["year"].to_list()]
    months = [MONTH_NAMES[m - 1] for m in frame["month"].to_list()]
    values = frame["return_pct"].to_list()
    lim = max(abs(v) for v in values) or 1.0
    year_order = sorted(set(years), reverse=True)
    heat = h.HeatMap((months, years, values), ["month", "year"], "return_pct").opts(
        title=title,
        cmap="RdYlGn",
        clim=(-lim, lim),
        colorbar=True,
        tools=["hover"],
        height=max(140, 60 + 32 * len(year_order)),
        responsive=True,
        xlabel="",
        ylabel="",
    )
    heat = heat.redim.values(month=list(MONTH_NAMES), year=year_order)
    labels = h.Labels((months, years, [f"{v:.1f}" for v in values]), ["month", "year"], "text").opts(
        text_font_size="9pt"
    )
    return heat * labels


def breakdown_bars(
    frame: pl.DataFrame, *, by: str, value: str = "net_profit", title: str = "", colour: str | None = None
) -> Any:
    """Bars of one :func:`workbench.analytics.breakdown` column per key, coloured by sign (or ``colour``)."""
    h = hv()
    if frame.height == 0:
        return _empty(title or f"by {by}", "no trades")
    keys = [str(k) for k in frame["key"].to_list()]
    vals = frame[value].fill_null(0.0).to_list()
    colours = [colour or (COLOURS["up"] if v >= 0 else COLOURS["down"]) for v in vals]
    return h.Bars((keys, vals, colours), by, [value, "colour"]).opts(
        title=title or f"{value.replace('_', ' ')} by {by}",
        color="colour",
        tools=["hover"],
        height=260,
        responsive=True,
        xlabel="",
        ylabel=value.replace("_", " "),
    )


def compare_equity(daily: Mapping[str, pl.DataFrame], *, title: str = "Cumulative return (%)") -> Any:
    """Several backtests' compounded daily returns against days since each one's first day.

    ``daily`` maps a label to :meth:`Workspace.daily`'s frame. Compounding the daily returns (a
    time-weighted return) keeps deposits and withdrawals out, and elapsed days put backtests of
    different periods on one axis.
    """
    h = hv()
    lines = []
    for label, frame in daily.items():
        d = frame.drop_nulls("return_pct")
        if d.height == 0:
            continue
        days = (d["date"] - frame["date"].min()).dt.total_days().to_numpy()
        growth = 100.0 * (np.cumprod(1.0 + d["return_pct"].to_numpy() / 100.0) - 1.0)
        lines.append(h.Curve((days, growth), "days", "return_pct", label=label).opts(tools=["hover"]))
    if not lines:
        return _empty(title, "no daily returns")
    return h.Overlay(lines).opts(
        title=title,
        height=360,
        responsive=True,
        legend_position="top_left",
        xlabel="Days since the first day",
        ylabel="Return (%)",
    )


def pareto_scatter(
    frame: pl.DataFrame, x: str, y: str, *, front: str = "pareto_front", title: str = "Pareto front"
) -> Any:
    """All trials as grey points, the non-dominated ones highlighted and joined in ``x`` order."""
    h = hv()
    data = frame.drop_nulls([x, y])
    if data.height == 0:
        return _empty(title, f"no trial has both {x} and {y}")
    rest = data.filter(~pl.col(front))
    best = data.filter(pl.col(front)).sort(x)
    vdims = [y, "trial"]
    pts = h.Scatter(rest.select(x, y, "trial").to_pandas(), x, vdims, label="dominated").opts(
        color=COLOURS["muted"], alpha=0.5, size=5, tools=["hover"]
    )
    top = h.Scatter(best.select(x, y, "trial").to_pandas(), x, vdims, label="Pareto front").opts(
        color=COLOURS["front"], size=9, line_color="black", tools=["hover"]
    )
    step = h.Curve(best.select(x, y).to_pandas(), x, y).opts(color=COLOURS["front"], line_dash="dashed")
    return (pts * step * top).opts(title=title, height=380, responsive=True, legend_position="bottom_right")


def sensitivity_chart(table: pl.DataFrame, parameter: str, objective: str) -> Any:
    """Mean objective (line) with its min..max band per value of one parameter.

    ``table`` is :func:`workbench.reports.optimization.sensitivity`'s frame for ``parameter``.
    """
    h = hv()
    if table.height == 0:
        return _empty(parameter, "no values")
    if table["value"].dtype.is_numeric():
        xs: Sequence[Any] = table["value"].cast(pl.Float64).to_list()
    else:
        xs = [str(v) for v in table["value"].to_list()]
    mean = table["mean"].to_list()
    if table["value"].dtype.is_numeric():
        band = h.Area((xs, table["min"].to_list(), table["max"].to_list()), parameter, ["min", "max"]).opts(
            alpha=0.2, color=COLOURS["line"]
        )
        line = h.Curve((xs, mean), parameter, objective).opts(color=COLOURS["line"], tools=["hover"])
        dots = h.Scatter((xs, mean), parameter, objective).opts(color=COLOURS["line"], size=6)
        return (band * line * dots).opts(title=parameter, height=230, responsive=True, ylabel=objective)
    return h.Bars((xs, mean), parameter, objective).opts(
        title=parameter, height=230, responsive=True, color=COLOURS["line"], tools=["hover"]
    )


def parameter_heatmap(frame: pl.DataFrame, x: str, y: str, objective: str, *, agg: str = "max") -> Any:
    """Objective over a grid of two parameters (``agg`` of the trials in each cell: max or mean)."""
    h = hv()
    data = frame.drop_nulls([x, y, objective])
    if data.height == 0:
        return _empty(f"{y} × {x}", "no trials")
    how = {"max": pl.col(objective).max(), "mean": pl.col(objective).mean()}[agg]
    grid = data.group_by(x, y).agg(how.alias(objective)).sort(x, y)
    xs = [_tick(v) for v in grid[x].to_list()]
    ys = [_tick(v) for v in grid[y].to_list()]
    vals = grid[objective].to_list()
    finite = [v for v in vals if v is not None and np.isfinite(v)]
    heat = h.HeatMap((xs, ys, vals), [x, y], objective).opts(
        title=f"{agg} {objective}: {y} × {x}",
        cmap="viridis",
        clim=(min(finite), max(finite)) if finite else (0, 1),
        colorbar=True,
        tools=["hover"],
        height=300,
        responsive=True,
    )
    order_x = [_tick(v) for v in sorted(set(grid[x].to_list()), key=_sort_key)]
    order_y = [_tick(v) for v in sorted(set(grid[y].to_list()), key=_sort_key)]
    return heat.redim.values(**{x: order_x, y: order_y})


def _tick(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, int | float) and not isinstance(v, bool) else (1, str(v))
