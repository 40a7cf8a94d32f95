"""The paper widget and dashboard are skins over the session: what they show is its status."""

from __future__ import annotations

from workbench.paper import PaperConfig, start_session
from workbench.ui.paper import PaperDashboard, PaperWidget, status_html


def test_widget_runs_controls_and_summarises(ws):
    w = PaperWidget(ws)
    w.start(data="EURUSD:1h", strategy="sma_cross", params={"fast": 10, "slow": 30}, speed="max",
            settings={"direction": "both"}, risk={"halt_drawdown_pct": 3.0}, wait=True)  # fmt: skip
    st = w.session.status()
    assert st["bars_processed"] == ws.bars("EURUSD:1h").height
    assert "HALTED" in w.status_box.value and f"{st['equity']:,.2f}" in w.status_box.value
    assert w.summary().startswith(f"paper {w.session.name}: 5000 bars, {len(w.session.trades)} trades")
    assert "kill switch HALTED" in w.summary()
    assert w.resume_switch(force=True) == "ACTIVE" and w.kill("again") == "HALTED"


def test_dashboard_live_and_from_the_store(ws):
    s = start_session(ws, PaperConfig(data="GOOG:1d", strategy="macd", name="dash"))
    s.run(max_bars=700)
    live = PaperDashboard(session=s)
    st = live.refresh()
    assert live.error is None and st["bars_processed"] == 700 and live.equity.height == 700
    stored = PaperDashboard.open(ws.home, session="dash")
    assert stored.error is None and stored.status["equity"] == st["equity"]
    assert stored.equity["equity"].to_list() == live.equity["equity"].to_list()
    assert status_html(st).count("<tr>") == 7 and live.chart.object is not None


def test_dashboard_empty_workspace(tmp_path):
    from workbench.workspace import open_workspace

    open_workspace(tmp_path / "lake")
    d = PaperDashboard.open(tmp_path / "lake")
    assert d.error is None and "workbench paper run" in d.empty
