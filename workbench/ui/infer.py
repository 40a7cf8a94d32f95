"""The inference widget: pick a backtest -> infer its rules -> see how well they agree -> generate a bot.

A thin ipywidgets skin over :func:`workbench.infer.infer` (the search, the replay stored as a
backtest) and :func:`workbench.codegen.generate_from_backtest` (the cTrader cBot, compiled against the
cAlgo.API stub). Notebooks and tests drive it without clicking:

>>> w = InferWidget(ws)                    # a dropdown of the stored backtests, bars, tolerance
>>> w.backtest.value = 7                   # what picking one does
>>> result = w.infer()                     # what "Infer rules" does -> InferResult (progress shown)
>>> print(w.summary())                     # one line: strategy, params, agreement, series, stored id
>>> w.chart                                # price with the real and the inferred entries (HoloViews)
>>> code = w.generate()                    # what "Generate cBot" does -> CodegenResult
>>> w.source                               # the generated C#; w.download the link's HTML

Errors (no bars covering the trades, a strategy the target cannot express) are one line in ``w.error``;
``infer``/``generate`` then return ``None``.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench.errors import ConfigError, MissingDependencyError, WorkbenchError

try:
    import ipywidgets as widgets
    from IPython.display import display
except ImportError:  # pragma: no cover - exercised only without the notebook extra
    raise MissingDependencyError("ipywidgets", "notebook") from None

from workbench.reports import charts
from workbench.reports.static import STYLE, frame_table
from workbench.ui.backtest import error_html, load_charts

if TYPE_CHECKING:
    from workbench.codegen import CodegenResult
    from workbench.infer import InferResult
    from workbench.workspace import Workspace

__all__ = ["InferWidget", "trades_chart", "backtest_options"]


def backtest_options(ws: Workspace) -> list[tuple[str, int]]:
    """``("#id name (symbol timeframe, n trades)", id)`` for every stored backtest with trades, newest
    first."""
    frame = ws.backtests().filter(pl.col("total_trades") > 0).sort("id", descending=True)
    return [
        (
            f"#{r['id']} {r['name'][:60]} ({r['symbol'] or '?'} {r['timeframe'] or '?'}, "
            f"{r['total_trades']} trades)",
            int(r["id"]),
        )
        for r in frame.iter_rows(named=True)
    ]


def _entries(trades: pl.DataFrame, open_col: str, price_col: str = "entry_price") -> pl.DataFrame:
    if trades.height == 0:
        return pl.DataFrame({"time": [], "price": [], "direction": []})
    return trades.select(
        pl.col(open_col).alias("time"), pl.col(price_col).alias("price"), pl.col("direction")
    ).drop_nulls()


def trades_chart(result: InferResult, *, title: str = "") -> Any:
    """The close of the bars over the real trades' span, the real entries (filled triangles: up = long,
    down = short) and the inferred ones (open circles around them where they agree), one HoloViews
    overlay."""
    h = charts.hv()
    real = _entries(result.real_trades, "open_time")
    mine = _entries(result.inferred_trades, "open_time")
    bars = result.bar_frame
    if real.height == 0 or bars.height == 0:
        return h.Text(0, 0, "no trades").opts(title=title, height=120, responsive=True)
    t0, t1 = real["time"].min(), result.real_trades["close_time"].max() or real["time"].max()
    span = bars.filter(pl.col("ts").is_between(t0, t1))
    if span.height < 2:
        span = bars
    price = h.Curve((span["ts"].to_numpy(), span["close"].to_numpy()), "time", "price", label="close").opts(
        color=charts.COLOURS["muted"], line_width=1
    )
    layers = [price]
    for frame, name, long_marker, short_marker, size in (
        (real, "real", "triangle", "inverted_triangle", 7),
        (mine.filter(pl.col("time").is_between(t0, t1)), "inferred", "circle", "circle", 14),
    ):
        for side, marker, colour in (
            ("long", long_marker, charts.COLOURS["up"]),
            ("short", short_marker, charts.COLOURS["down"]),
        ):
            part = frame.filter(pl.col("direction") == side)
            layers.append(
                h.Scatter(
                    (part["time"].to_numpy(), part["price"].to_numpy()),
                    "time",
                    "price",
                    label=f"{name} {side} entries",
                ).opts(
                    marker=marker,
                    size=size,
                    color=colour,
                    fill_alpha=0.9 if name == "real" else 0.0,
                    line_color=colour,
                    line_width=1 if name == "real" else 1.5,
                    tools=["hover"],
                )
            )
    return h.Overlay(layers).opts(
        title=title, height=380, responsive=True, legend_position="top_left", xlabel="", ylabel="Price"
    )


class InferWidget:
    """Pick a backtest, infer its rules with progress, read the agreement, generate the cBot."""

    def __init__(self, ws: Workspace, *, out_dir: str | Path | None = None) -> None:
        load_charts()
        self.ws = ws
        self.out_dir = Path(out_dir) if out_dir else None
        self.result: InferResult | None = None
        self.code: CodegenResult | None = None
        self.chart: Any = None
        self.source = ""
        self.download = ""
        self.backtest = widgets.Dropdown(
            options=backtest_options(ws), description="Backtest", layout=widgets.Layout(width="640px")
        )
        self.data = widgets.Text(
            value="", description="Bars", placeholder="auto (SYMBOL:TF)", layout=widgets.Layout(width="260px")
        )
        self.tol = widgets.BoundedIntText(
            value=1, min=0, max=10, description="± bars", layout=widgets.Layout(width="150px")
        )
        self.refresh_button = widgets.Button(description="Refresh list", icon="refresh")
        self.infer_button = widgets.Button(description="Infer rules", button_style="primary", icon="search")
        self.generate_button = widgets.Button(
            description="Generate cBot", icon="code", disabled=True, button_style="success"
        )
        self.progress = widgets.IntProgress(value=0, min=0, max=100, description="idle")
        self.status = widgets.HTML()
        self.error = widgets.HTML()
        self.agreement = widgets.HTML()
        self.rules = widgets.HTML()
        self.candidates = widgets.HTML()
        self.chart_output = widgets.Output()
        self.code_status = widgets.HTML()
        self.code_view = widgets.HTML()
        self.view = widgets.VBox(
            [
                widgets.HBox([self.backtest, self.refresh_button]),
                widgets.HBox([self.data, self.tol, self.infer_button]),
                widgets.HBox([self.progress, self.status]),
                self.error,
                self.agreement,
                self.rules,
                self.candidates,
                self.chart_output,
                self.generate_button,
                self.code_status,
                self.code_view,
            ]
        )
        self.refresh_button.on_click(lambda _: self.refresh())
        self.infer_button.on_click(lambda _: self.infer())
        self.generate_button.on_click(lambda _: self.generate())

    def _ipython_display_(self) -> None:
        display(self.view)

    # -- driving it from code ---------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the stored backtests into the dropdown."""
        current = self.backtest.value
        self.backtest.options = backtest_options(self.ws)
        if current in [v for _, v in self.backtest.options]:
            self.backtest.value = current

    def infer(self) -> InferResult | None:
        """Infer the picked backtest's rules (what "Infer rules" does); ``None`` after an error."""
        from workbench.infer import infer

        self.error.value = ""
        self.generate_button.disabled = True
        self._progress(0, "info", "starting")
        try:
            if self.backtest.value is None:
                raise ConfigError(
                    "no backtest to infer from: ingest one or run a backtest, then Refresh list"
                )
            result = infer(
                self.ws,
                int(self.backtest.value),
                data=self.data.value.strip() or None,
                tol=int(self.tol.value),
                progress=self._infer_progress,
            )
        except WorkbenchError as e:
            self._fail(e)
            return None
        self.result = result
        self._show(result)
        self._progress(100, "success", "done")
        self.generate_button.disabled = result.learned or result.backtest_id is None
        if result.learned:
            self.code_status.value = (
                "<i>learned rules (a decision tree) have no cBot template: the generator covers the "
                "library strategies</i>"
            )
        return result

    def summary(self) -> str:
        """One line about the shown inference (what a notebook prints above the widget)."""
        r = self.result
        if r is None:
            return "no inference yet: pick a backtest and click Infer rules (or call .infer())"
        ag = r.agreement
        params = " ".join(f"{k}={v}" for k, v in r.params.items())
        stops = " ".join(f"{k}={v}" for k, v in r.settings.items())
        return (
            f"backtest #{r.source_backtest_id} -> {r.strategy} {params} ({stops}) on {r.bars}: entry F1 "
            f"{ag.entry_f1:.3f}, exit F1 {ag.exit_f1:.3f}, {ag.matched}/{ag.real} entries matched within "
            f"{r.tolerance_bars} bar; {r.combinations:,} combinations in {r.seconds:.1f} s; replay stored as "
            f"backtest #{r.backtest_id}"
        )

    def generate(self) -> CodegenResult | None:
        """Generate the cTrader cBot of the stored replay and compile it (what "Generate cBot" does)."""
        from workbench.codegen import generate_from_backtest

        if self.result is None or self.result.backtest_id is None:
            self.error.value = error_html(ConfigError("infer first (the Infer rules button or .infer())"))
            return None
        self.error.value = ""
        kw: dict[str, Any] = {"target": "ctrader", "check": True}
        if self.out_dir is not None:
            kw["out_dir"] = self.out_dir
        try:
            code = generate_from_backtest(self.ws, self.result.backtest_id, **kw)
        except WorkbenchError as e:
            self.error.value = error_html(e)
            return None
        self.code = code
        cs = next((Path(f) for f in code.files if f.endswith(".cs")), None)
        self.source = cs.read_text(encoding="utf-8") if cs else ""
        compiled = {True: "compiles", False: "does not compile", None: "not compiled"}[code.compiled]
        colour = charts.COLOURS["up"] if code.compiled else charts.COLOURS["down"]
        errors = "".join(f"<li>{html.escape(e)}</li>" for e in code.errors[:20])
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in code.notes)
        self.download = self._download_links(code.files)
        self.code_status.value = (
            f'<b style="color:{colour}">{compiled}</b> ({html.escape(code.compiler or "no compiler")}'
            f"{', against ' + html.escape(Path(code.stub).name) if code.stub else ''}) · "
            f"{self.download}"
            + (f"<ul>{errors}</ul>" if errors else "")
            + (f"<ul>{notes}</ul>" if notes else "")
        )
        self.code_view.value = (
            '<pre style="max-height:420px;overflow:auto;font-size:11px;border:1px solid #d0d7de;padding:6px">'
            + html.escape(self.source)
            + "</pre>"
        )
        return code

    # -- internals ----------------------------------------------------------------------------------
    @staticmethod
    def _download_links(files: list[str]) -> str:
        links = []
        for f in files:
            p = Path(f)
            if not p.is_file():
                continue
            data = base64.b64encode(p.read_bytes()).decode("ascii")
            links.append(
                f'<a download="{html.escape(p.name)}" href="data:text/plain;base64,{data}">'
                f"download {html.escape(p.name)}</a>"
            )
        return " · ".join(links)

    def _infer_progress(self, fraction: float, what: str) -> None:
        self._progress(int(100 * fraction), "info", what[:28])

    def _progress(self, value: int, style: str, text: str) -> None:
        self.progress.value, self.progress.bar_style, self.progress.description = value, style, text

    def _fail(self, err: Exception) -> None:
        self.error.value = error_html(err)
        self._progress(self.progress.value, "danger", "failed")

    def _show(self, r: InferResult) -> None:
        ag = r.agreement.to_dict()
        table = pl.DataFrame({"measure": list(ag), "value": [str(v) for v in ag.values()]})
        self.status.value = html.escape(self.summary())
        self.agreement.value = STYLE + str(
            frame_table(
                table, caption=f"agreement on {r.bars} (entries and exits within {r.tolerance_bars} bar)"
            )
        )
        notes = "".join(f"<li><i>{html.escape(n)}</i></li>" for n in r.notes)
        self.rules.value = (
            f"<b>{html.escape(r.strategy)}</b> {html.escape(str(r.params))} {html.escape(str(r.settings))}"
            + "<ul>"
            + "".join(f"<li>{html.escape(x)}</li>" for x in r.rules)
            + "</ul>"
            + f"exits: {html.escape(', '.join(f'{k} {v}' for k, v in r.exits['counts'].items()))}"
            + (f"<ul>{notes}</ul>" if notes else "")
        )
        cands = pl.DataFrame(
            [
                {
                    "strategy": c["strategy"],
                    "params": str(c["params"]),
                    "settings": str(c["settings"]),
                    "entry_f1": c["entry_f1"],
                    "exit_f1": c["exit_f1"],
                    "pnl_correlation": c["pnl_correlation"],
                }
                for c in r.candidates
            ]
        )
        self.candidates.value = STYLE + str(frame_table(cands, caption="candidates (best first)"))
        self.chart = trades_chart(r, title=f"backtest #{r.source_backtest_id}: real vs inferred entries")
        self.chart_output.clear_output()
        with self.chart_output:
            display(self.chart)
