"""The ML widget: pick data, features, label, model and CV -> train (progress) -> the CV table (purged
vs naive vs chance), the importance chart, a regime-coloured price chart and the backtest of the signal.

A thin ipywidgets skin over :func:`workbench.ml.train`, :func:`workbench.ml.hmm_regimes`,
:mod:`workbench.ml.signal` (walk-forward predictions backtested through the engine's ``model``
strategy, thresholds swept, Sharpe deflated) and :mod:`workbench.ml.registry`. Notebooks and tests
drive it without clicking:

>>> w = MLWidget(ws, data="EURUSD:1h")
>>> w.model.value = "logreg"                 # what picking from the dropdowns does
>>> result = w.train()                       # what "Train" does -> TrainResult (None after an error)
>>> print(w.summary())                       # one line: CV vs chance vs naive, the signal's backtest
>>> w.cv_frame, w.importance_chart, w.regime_chart, w.equity_chart

The chart builders (:func:`cv_frame`, :func:`importance_chart`, :func:`regime_chart`) are plain
functions of frames, shared with notebooks/reports/ml_report.ipynb.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench.errors import MissingDependencyError, WorkbenchError

try:
    import ipywidgets as widgets
    from IPython.display import display
except ImportError:  # pragma: no cover - exercised only without the notebook extra
    raise MissingDependencyError("ipywidgets", "notebook") from None

from workbench.reports import charts
from workbench.reports.static import STYLE, frame_table
from workbench.ui.backtest import error_html, load_charts

if TYPE_CHECKING:
    from workbench.workspace import Workspace

__all__ = ["MLWidget", "FEATURE_GROUPS", "cv_frame", "importance_chart", "regime_chart", "feature_spec"]

# FeatureSpec fields a user can switch off, with what they hold
FEATURE_GROUPS: dict[str, str] = {
    "returns": "log returns over 1..72 bars",
    "vol_windows": "close-to-close and Parkinson volatility",
    "atr": "ATR / close",
    "rsi": "RSI",
    "zscore": "z-score of the close",
    "sma": "distance to SMAs",
    "ema": "distance to EMAs",
    "donchian": "position in the Donchian channel",
    "macd": "MACD histogram",
    "bar_shape": "range and body of the bar",
    "calendar": "hour and weekday",
    "volume": "volume ratio and z-score",
}
REGIME_COLOURS = ("#1a7f37", "#0969da", "#cf222e", "#d4a72c", "#8250df", "#8c959f")


def feature_spec(groups: list[str] | tuple[str, ...]) -> Any:
    """The default :class:`workbench.ml.FeatureSpec` with the groups not in ``groups`` switched off."""
    from dataclasses import replace

    from workbench.ml import FeatureSpec

    spec = FeatureSpec()
    off: dict[str, Any] = {}
    for name in FEATURE_GROUPS:
        if name in groups:
            continue
        value = getattr(spec, name)
        off[name] = False if isinstance(value, bool) else (None if name == "macd" else ())
    return replace(spec, **off)


def cv_frame(result: Any) -> pl.DataFrame:
    """The CV table: one row per fold of the chosen scheme, then its mean, the naive shuffled k-fold
    mean on the same data and model, and the chance baseline (a constant base-rate prediction)."""
    cv = result.cv
    rows = [{"split": f"{cv.scheme} fold {i + 1}", cv.metric: s} for i, s in enumerate(cv.scores)]
    rows.append({"split": f"{cv.scheme} mean", cv.metric: cv.mean})
    if result.naive_cv_mean is not None:
        rows.append({"split": "naive shuffled k-fold mean", cv.metric: result.naive_cv_mean})
    rows.append({"split": "chance (base rate)", cv.metric: cv.baseline})
    return pl.DataFrame(rows, schema={"split": pl.Utf8, cv.metric: pl.Float64})


def importance_chart(importance: pl.DataFrame, *, column: str | None = None, top: int = 15) -> Any:
    """Horizontal bars of the ``top`` features by ``column`` (mda when present, else mdi, else shap)."""
    h = charts.hv()
    col = column or next(
        (c for c in ("mda", "mdi", "shap") if c in importance.columns and importance[c].drop_nulls().len()),
        None,
    )
    if col is None:
        return charts._empty("Feature importance", "no importance computed")
    frame = importance.drop_nulls(col).sort(col, descending=True).head(top).reverse()
    vals = frame[col].to_list()
    colours = [charts.COLOURS["up"] if v >= 0 else charts.COLOURS["down"] for v in vals]
    return h.Bars((frame["feature"].to_list(), vals, colours), "feature", [col, "colour"]).opts(
        invert_axes=True,
        color="colour",
        title=f"Feature importance ({col})",
        tools=["hover"],
        height=max(220, 22 * frame.height + 60),
        responsive=True,
        xlabel="",
        ylabel=col,
    )


def regime_chart(bars: pl.DataFrame, regimes: pl.DataFrame, *, title: str = "") -> Any:
    """The close, one colour per regime (``regimes``: ``ts, regime``; bars without one in grey)."""
    h = charts.hv()
    joined = bars.select("ts", "close").join(regimes.select("ts", "regime"), on="ts", how="left")
    layers = []
    for r in sorted(joined["regime"].drop_nulls().unique().to_list()):
        part = joined.filter(pl.col("regime") == r)
        layers.append(
            h.Scatter(
                (part["ts"].to_numpy(), part["close"].to_numpy()), "ts", "close", label=f"regime {r}"
            ).opts(color=REGIME_COLOURS[int(r) % len(REGIME_COLOURS)], size=2)
        )
    rest = joined.filter(pl.col("regime").is_null())
    if rest.height:
        layers.append(
            h.Scatter((rest["ts"].to_numpy(), rest["close"].to_numpy()), "ts", "close", label="none").opts(
                color=charts.COLOURS["muted"], size=2
            )
        )
    if not layers:
        return charts._empty(title or "Regimes", "no regimes")
    return h.Overlay(layers).opts(
        title=title or "Close by regime",
        height=300,
        responsive=True,
        xlabel="",
        ylabel="close",
        legend_position="top_left",
    )


class MLWidget:
    """Train a model on stored bars and see whether its signal holds up (module docstring)."""

    def __init__(self, ws: Workspace, *, data: str | None = None, model: str = "lightgbm") -> None:
        from workbench.ml import CV_SCHEMES, LABELS, MODELS

        load_charts()
        self.ws = ws
        self.result: Any = None
        self.regimes: pl.DataFrame | None = None
        self.signal: Any = None
        self.registered: Any = None
        self.cv_frame: pl.DataFrame | None = None
        self.importance_chart: Any = None
        self.regime_chart: Any = None
        self.equity_chart: Any = None
        series = [f"{s}:{t}" for s, t in ws.bar_series().select("symbol", "timeframe").iter_rows()]
        self.data = widgets.Dropdown(
            description="Data", options=series, value=data if data in series else None
        )
        if self.data.value is None and series:
            self.data.value = series[0]
        self.features = widgets.SelectMultiple(
            description="Features",
            options=[(f"{k}: {v}", k) for k, v in FEATURE_GROUPS.items()],
            value=tuple(FEATURE_GROUPS),
            rows=6,
            layout=widgets.Layout(width="420px"),
        )
        labels = [k for k in LABELS.names() if k != "meta"]  # meta labels need a primary strategy
        self.label = widgets.Dropdown(description="Label", options=labels, value="triple_barrier")
        self.horizon = widgets.IntText(value=24, description="Horizon", layout=widgets.Layout(width="170px"))
        names = MODELS.names()
        self.model = widgets.Dropdown(
            description="Model", options=names, value=model if model in names else names[0]
        )
        schemes = [s for s in CV_SCHEMES.names() if s != "naive"]
        self.cv = widgets.Dropdown(description="CV", options=schemes, value="purged")
        self.seed = widgets.IntText(value=0, description="Seed", layout=widgets.Layout(width="170px"))
        self.mda = widgets.Checkbox(value=False, description="MDA (slower)")
        self.states = widgets.IntText(value=3, description="Regimes", layout=widgets.Layout(width="170px"))
        self.register = widgets.Checkbox(value=False, description="Register (MLflow)")
        self.name = widgets.Text(
            value="", placeholder="model name (default SYMBOL_TF_MODEL)", description="Name"
        )
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play")
        self.progress = widgets.IntProgress(value=0, min=0, max=100, description="", bar_style="info")
        self.status = widgets.HTML()
        self.error = widgets.HTML()
        self.table = widgets.HTML()
        self.importance_output = widgets.Output()
        self.regime_output = widgets.Output()
        self.equity_output = widgets.Output()
        self.view = widgets.VBox(
            [
                widgets.HBox([self.data, self.model, self.cv]),
                widgets.HBox([self.label, self.horizon, self.seed, self.states]),
                widgets.HBox([self.features, widgets.VBox([self.mda, self.register, self.name])]),
                widgets.HBox([self.train_button, self.progress, self.status]),
                self.error,
                self.table,
                self.importance_output,
                self.regime_output,
                self.equity_output,
            ]
        )
        self.train_button.on_click(lambda _: self.train())

    def _ipython_display_(self) -> None:
        display(self.view)

    # -- driving it from code ---------------------------------------------------------------------
    def train(self) -> Any:
        """Train, evaluate, chart regimes and backtest the signal (what "Train" does); ``None`` after an
        error (shown as one line in ``error``)."""
        from workbench.ml import hmm_regimes
        from workbench.ml import train as fit
        from workbench.ml.signal import backtest_signal, walk_forward_proba

        self.error.value = ""
        self._progress(0, "info", "features")
        try:
            key = self.data.value
            if not key:
                raise WorkbenchError(
                    "no bar series stored; run ws.load_samples() (or `workbench data samples`)"
                )
            bars = self.ws.bars(key)
            spec = feature_spec(list(self.features.value))
            label = f"{self.label.value}:horizon={int(self.horizon.value)}"
            result = fit(
                bars,
                model=self.model.value,
                label=label,
                cv=self.cv.value,
                seed=int(self.seed.value),
                spec=spec,
                mda=bool(self.mda.value),
                shap=False,
                progress=lambda stage, frac: self._progress(int(60 * frac), "info", stage),
            )
            self._progress(65, "info", "regimes")
            regimes = hmm_regimes(bars, int(self.states.value), seed=int(self.seed.value))
            self._progress(80, "info", "signal backtest")
            proba = walk_forward_proba(
                bars, model=result.model_name, label=result.label_spec, seed=result.seed, params=result.params,
                spec=spec,
            )  # fmt: skip
            signal = backtest_signal(bars, proba)
            if self.register.value:
                from workbench.ml.registry import register

                symbol, _, tf = key.partition(":")
                name = self.name.value.strip() or f"{symbol}_{tf}_{result.model_name}".lower()
                self.registered = register(result, name, ws=self.ws, data=key, backtest=signal.metrics)
        except WorkbenchError as e:
            self._fail(e)
            return None
        self.result, self.regimes, self.signal = result, regimes, signal
        self._show(bars, key)
        self._progress(100, "success", "done")
        self.status.value = self.summary()
        return result

    def summary(self) -> str:
        """One line: the CV score against chance and naive k-fold, and the signal's backtest."""
        r = self.result
        if r is None:
            return "no model yet: pick the inputs and click Train (or call .train())"
        cv = r.cv
        naive = "" if r.naive_cv_mean is None else f", naive k-fold {r.naive_cv_mean:.4f}"
        line = (
            f"{r.model_name} on {self.data.value}: {cv.scheme} CV {cv.metric} {cv.mean:.4f} "
            f"(chance {cv.baseline:.4f}{naive})"
        )
        s = self.signal
        if s is not None:
            sharpe = s.metrics.get("sharpe")
            dsr = getattr(s.overfit, "deflated_sharpe", None)
            line += (
                f"; walk-forward signal: {s.metrics['trades']} trades, Sharpe "
                f"{'n/a' if sharpe is None else f'{sharpe:.2f}'}, deflated Sharpe "
                f"{'n/a' if dsr is None or not math.isfinite(dsr) else f'{dsr:.2f}'} over {s.table.height} thresholds"
            )
        if self.registered is not None:
            line += f"; registered {self.registered.name} v{self.registered.version}"
        return line

    # -- internals ----------------------------------------------------------------------------------
    def _show(self, bars: pl.DataFrame, key: str) -> None:
        r = self.result
        self.cv_frame = cv_frame(r)
        self.table.value = STYLE + str(
            frame_table(
                self.cv_frame,
                caption=f"{r.cv.metric}: lower is better" if not r.cv.higher_is_better else r.cv.metric,
            )
        )
        self.importance_chart = importance_chart(r.importance)
        self.regime_chart = regime_chart(
            bars, self.regimes, title=f"{key}: close by HMM regime (forward-filtered)"
        )
        eq = self.signal.result.equity.select(
            pl.col("ts").alias("time"), pl.col("equity").alias("balance"), "drawdown_pct"
        )
        p = self.signal.params
        self.equity_chart = charts.equity_drawdown(
            eq,
            title=f"model signal {key} · upper {p['upper']:g} lower {p['lower']:g} (walk-forward predictions)",
        )
        for out, chart in (
            (self.importance_output, self.importance_chart),
            (self.regime_output, self.regime_chart),
            (self.equity_output, self.equity_chart),
        ):
            out.clear_output()
            with out:
                display(chart)

    def _progress(self, value: int, style: str, text: str) -> None:
        self.progress.value, self.progress.bar_style, self.progress.description = value, style, text

    def _fail(self, err: Exception) -> None:
        self.error.value = error_html(err)
        self._progress(self.progress.value, "danger", "failed")
