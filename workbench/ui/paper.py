"""Paper trading in notebooks: a widget that starts, watches and controls a session, and a live Panel
dashboard (equity, positions, decisions, risk state) that updates as bars arrive.

>>> w = PaperWidget(ws)                                   # data, strategy, params, speed, risk, buttons
>>> w.start(data="EURUSD:1h", strategy="sma_cross", params={"fast": 10}, speed="max", wait=True)
>>> print(w.summary())                                    # one line: bars, trades, equity, kill switch
>>> w.kill("manual"), w.resume_switch(), w.stop()         # what the buttons do
>>> d = PaperDashboard(session=w.session)                 # live, in this process
>>> d = PaperDashboard.open(session="NAME")               # or a session in the workspace (read-only)
>>> d.refresh(); d.view                                   # served: d.start(period_ms=1000)

Both are thin skins over :mod:`workbench.paper` (``Session.status()``, the ``paper_*`` tables).
"""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import Any

import polars as pl

from workbench.errors import MissingDependencyError, WorkbenchError
from workbench.reports import charts
from workbench.reports.static import STYLE, frame_table

try:
    import ipywidgets as widgets
    import panel as pn
except ImportError:  # pragma: no cover - exercised only without the notebook extra
    raise MissingDependencyError("panel", "notebook") from None

__all__ = ["PaperWidget", "PaperDashboard", "status_html"]

_RISK_COLOURS = {"ACTIVE": "#2e7d32", "REDUCING": "#ef6c00", "HALTED": "#c62828"}


def status_html(st: dict[str, Any]) -> str:
    """A session's status as a small HTML card (state, bars, equity, drawdown, position, kill switch)."""
    r = st.get("risk") or {}
    ks = r.get("kill_switch", "ACTIVE")
    pos = st.get("position") or {}
    c = st.get("counters") or {}
    lat = st.get("latency") or {}
    p99 = lat.get("p99_ms")
    rows = [
        ("session", f"{st.get('session')} ({st.get('state')})"),
        ("bars", f"{st.get('bars_processed', 0):,} (last {st.get('last_bar_ts') or '—'})"),
        ("equity", f"{st.get('equity', 0.0):,.2f} (drawdown {st.get('drawdown_pct', 0.0):.2f}%)"),
        ("position", f"{pos.get('direction', 'flat')} {pos.get('units', 0.0):,.2f}"),
        ("kill switch", f'<b style="color:{_RISK_COLOURS.get(ks, "#000")}">{ks}</b> {html.escape(r.get("reason") or "")}'),
        ("orders", f"{c.get('orders', 0)} ({c.get('rejected', 0)} rejected {c.get('rejected_by_rule') or ''})"),
        ("decision p99", "—" if p99 is None else f"{p99:.3f} ms"),
    ]  # fmt: skip
    body = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"{STYLE}<table class='wb'>{body}</table>"


def _equity_chart(equity: pl.DataFrame, title: str) -> Any:
    from workbench.ui import notebook

    notebook.load()  # HoloViews' Bokeh extension, local resources, once per kernel (nothing outside one)
    frame = equity.select(pl.col("ts").alias("time"), pl.col("equity").alias("balance"), "drawdown_pct")
    return charts.equity_drawdown(frame, title=title)


class PaperDashboard:
    """Equity and drawdown, positions, the last decisions and the risk state of one session, refreshed
    on demand (``refresh()``) or periodically once served (``start()``). Live from a :class:`Session` in
    this process, or read-only from the workspace (a session run elsewhere, e.g. ``workbench paper run``)."""

    def __init__(
        self, *, session: Any = None, home: str | Path | None = None, name: str | None = None
    ) -> None:
        self.session = session
        self.home = home
        self.name = name or (session.name if session is not None else None)
        self.error: str | None = None
        self.empty: str | None = None
        self.status: dict[str, Any] = {}
        self.equity = pl.DataFrame()
        self.header = pn.pane.HTML("", sizing_mode="stretch_width")
        self.chart = pn.pane.HoloViews(None, backend="bokeh", sizing_mode="stretch_width")
        self.decisions = pn.pane.HTML("", sizing_mode="stretch_width")
        self.risk = pn.pane.HTML("", sizing_mode="stretch_width")
        self.view = pn.Column(
            pn.pane.Markdown("## Paper trading"), self.header, self.chart,
            pn.Row(pn.Column("### Last decisions", self.decisions), pn.Column("### Risk", self.risk)),
            sizing_mode="stretch_width",
        )  # fmt: skip
        self._callback: Any = None

    @classmethod
    def open(cls, home: str | Path | None = None, session: str | None = None) -> PaperDashboard:
        """Watch ``session`` (default: the most recent) of the workspace at ``home`` (default
        ``$WORKBENCH_HOME``), read-only."""
        d = cls(home=home, name=session)
        d.refresh()
        return d

    def _store_status(self) -> None:
        from workbench.store import Q
        from workbench.workspace import open_workspace

        ws = open_workspace(self.home, read_only=True)
        sessions = ws.store.frame(Q.paper_sessions)
        if sessions.height == 0:
            self.empty = "no paper session yet: start one with `workbench paper run --data EURUSD:1h --strategy sma_cross`"
            return
        name = self.name or sessions["name"][-1]
        self.name = name
        from workbench.paper import resume

        self.status = resume(ws, name).status(diff=False)
        self.equity = ws.store.frame(Q.paper_equity_of, [name])
        self._orders = ws.store.frame(Q.paper_orders_of, [name]).tail(12)
        self._audit = ws.store.frame(Q.paper_risk_events_of, [name]).tail(8)

    def refresh(self) -> dict[str, Any]:
        """Re-read the session; returns its status."""
        self.error = self.empty = None
        try:
            if self.session is not None:
                self.status = self.session.status(diff=False)
                eq = self.session.store.frame(_EQ, [self.session.name])
                self.equity = eq
                self._orders = (
                    pl.DataFrame(list(self.session.last_decisions))
                    if self.session.last_decisions
                    else pl.DataFrame()
                )
                self._audit = (
                    pl.DataFrame([e.to_dict() for e in self.session.risk.audit[-8:]])
                    if self.session.risk.audit
                    else pl.DataFrame()
                )
            else:
                self._store_status()
        except WorkbenchError as e:
            self.error = str(e)
        if self.error or self.empty:
            self.header.object = f"<p>{html.escape(self.error or self.empty or '')}</p>"
            return self.status
        self.header.object = status_html(self.status)
        if self.equity.height:
            self.chart.object = _equity_chart(self.equity, f"{self.name}: equity")
        self.decisions.object = (
            STYLE + str(frame_table(self._orders)) if self._orders.height else "<p>none yet</p>"
        )
        r = self.status.get("risk") or {}
        risk_rows = pl.DataFrame({"": ["kill switch", "can resume", "blocked by", "rejected", "resized"],
                                  "value": [str(r.get("kill_switch")), str(r.get("can_resume")),
                                            str(r.get("resume_blocked_by") or "—"), str(r.get("rejected")),
                                            str(r.get("resized"))]})  # fmt: skip
        audit = STYLE + str(frame_table(self._audit)) if self._audit.height else ""
        self.risk.object = STYLE + str(frame_table(risk_rows)) + audit
        return self.status

    def start(self, period_ms: int = 1000) -> None:
        """Refresh every ``period_ms`` while served (Panel's periodic callback)."""
        if self._callback is None:
            self._callback = pn.state.add_periodic_callback(self.refresh, period=period_ms)

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return self.view._repr_mimebundle_(include, exclude)


_EQ = "SELECT ts, equity, drawdown_pct, position FROM paper_equity WHERE session = $1 ORDER BY bar"


class PaperWidget:
    """Start a paper session on stored bars, watch it and control it (stop, kill switch, resume)."""

    def __init__(self, ws: Any) -> None:
        from workbench.backtest import STRATEGIES, get_strategy

        get_strategy("sma_cross")
        self.ws = ws
        self.session: Any = None
        self.thread: threading.Thread | None = None
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        series = [f"{s}:{t}" for s, t in ws.bar_series().select("symbol", "timeframe").iter_rows()]
        self.data = widgets.Dropdown(options=series or ["EURUSD:1h"], description="data")
        self.strategy = widgets.Dropdown(options=[n for n in STRATEGIES.names() if n != "model"], value="sma_cross",
                                         description="strategy")  # fmt: skip
        self.params = widgets.Text(value="", description="params", placeholder="fast=10 slow=30")
        self.speed = widgets.Text(value="max", description="speed")
        self.risk_text = widgets.Text(
            value="", description="risk", placeholder="max_position=1 halt_drawdown_pct=10"
        )
        self.buttons = {k: widgets.Button(description=k) for k in ("Start", "Stop", "Kill", "Resume")}
        self.buttons["Start"].on_click(lambda _: self._guard(self.start))
        self.buttons["Stop"].on_click(lambda _: self._guard(self.stop))
        self.buttons["Kill"].on_click(lambda _: self._guard(lambda: self.kill("kill button")))
        self.buttons["Resume"].on_click(lambda _: self._guard(self.resume_switch))
        self.status_box = widgets.HTML("")
        self.box = widgets.VBox([widgets.HBox([self.data, self.strategy]), widgets.HBox([self.params, self.speed]),
                                 self.risk_text, widgets.HBox(list(self.buttons.values())), self.status_box])  # fmt: skip

    def _guard(self, fn: Any) -> None:
        try:
            fn()
            self.error = None
        except WorkbenchError as e:
            self.error = str(e)
        self.refresh()

    def start(self, *, data: str | None = None, strategy: str | None = None, params: dict[str, Any] | None = None,
              speed: float | str | None = None, risk: dict[str, Any] | None = None, settings: dict[str, Any] | None = None,
              wait: bool = False, max_bars: int | None = None) -> Any:  # fmt: skip
        """Start a session (the controls' values unless given) in a background thread; ``wait``: join it."""
        from workbench.cli.paper import _params
        from workbench.paper import PaperConfig, start_session
        from workbench.risk import RiskConfig

        config = PaperConfig(
            data=data or self.data.value, strategy=strategy or self.strategy.value,
            params=params if params is not None else _params(self.params.value.split()),
            speed=speed or self.speed.value, settings=settings or {},
            risk=RiskConfig(**risk) if risk is not None else RiskConfig.parse(self.risk_text.value.split()),
        )  # fmt: skip
        self.session = start_session(self.ws, config)

        def work() -> None:
            try:
                self.result = self.session.run(max_bars=max_bars)
            except WorkbenchError as e:
                self.error = str(e)
            self.refresh()

        self.session.listeners.append(lambda ev, d: self.refresh() if ev == "step" else None)
        self.thread = threading.Thread(target=work, name="workbench-paper-widget", daemon=True)
        self.thread.start()
        if wait:
            self.thread.join()
        return self.session

    def stop(self) -> None:
        if self.session is not None:
            self.session.stop()

    def kill(self, reason: str = "manual") -> str:
        return self.session.trip(reason, "widget")

    def resume_switch(self, *, force: bool = False) -> str:
        return self.session.resume_trading("widget", force=force)

    def refresh(self) -> None:
        if self.session is None:
            self.status_box.value = f"<p>{html.escape(self.error or 'not started')}</p>"
            return
        st = self.session.status(diff=False)
        err = f"<p style='color:#c62828'>error: {html.escape(self.error)}</p>" if self.error else ""
        self.status_box.value = status_html(st) + err

    def summary(self) -> str:
        """One line: bars, trades, final equity, kill switch, whether the trades equal the backtest."""
        if self.session is None:
            return "paper: not started"
        st = self.session.status()
        diff = st.get("live_diff") or {}
        same = f", identical to backtest: {diff.get('identical')}" if diff.get("available") else ""
        return (f"paper {st['session']}: {st['bars_processed']} bars, {len(self.session.trades)} trades, equity "
                f"{st['equity']:,.2f}, drawdown {st['drawdown_pct']:.2f}%, kill switch {st['risk']['kill_switch']}{same}")  # fmt: skip

    def _ipython_display_(self) -> None:
        from IPython.display import display

        self.refresh()
        display(self.box)
