"""The risk manager inside a session: rules fire on real bars, every intervention is stored with its
rule, the kill switch flattens and blocks entries, operator controls are applied and audited."""

from __future__ import annotations

import threading
import time

import polars as pl

from workbench.paper import PaperConfig, control, resume, start_session
from workbench.risk import HALTED

BOTH = {"direction": "both", "commission": "0.0002"}


def test_drawdown_halts_flattens_and_rejects(ws):
    s = start_session(ws, PaperConfig(data="EURUSD:1h", strategy="sma_cross", settings=BOTH, name="halt",
                                      risk={"halt_drawdown_pct": 2.0, "resume_after_bars": 10}))  # fmt: skip
    out = s.run()
    assert s.risk.switch.state == HALTED
    kill_exit = [t for t in out["trades"] if t["exit_reason"] == "kill_switch"]
    assert len(kill_exit) == 1  # the open position was flattened at the next open
    halted_bar = kill_exit[0]["exit_bar"] - 1
    eq = ws.store.frame(
        "SELECT bar, equity, drawdown_pct, position FROM paper_equity WHERE session = 'halt' ORDER BY bar"
    )
    first = eq.filter(pl.col("drawdown_pct") >= 2.0)["bar"][0]
    assert first == halted_bar  # tripped at the first close 2 % below the peak
    assert eq.filter(pl.col("bar") > halted_bar + 1)["position"].abs().max() == 0  # no entry after
    orders = ws.store.frame("SELECT * FROM paper_orders WHERE session = 'halt' AND bar > $1", [halted_bar])
    rejected = orders.filter(pl.col("status") == "rejected")
    assert rejected.height > 0 and set(rejected["rule"]) == {"kill_switch"}
    assert out["rejected"] == rejected.height == out["rejected_by_rule"]["kill_switch"]
    events = ws.store.frame("SELECT * FROM paper_risk_events WHERE session = 'halt' AND kind = 'transition'")
    assert events.select("from_state", "to_state", "actor", "bar").row(0) == (
        "ACTIVE",
        "HALTED",
        "risk",
        halted_bar,
    )


def test_limits_resize_and_cooldown_in_a_session(ws):
    s = start_session(ws, PaperConfig(data="EURUSD:1h", strategy="sma_cross", settings=BOTH, name="lim",
                                      risk={"max_position": 0.5, "cooldown_losses": 2, "cooldown_bars": 48}))  # fmt: skip
    out = s.run()
    orders = ws.store.frame("SELECT * FROM paper_orders WHERE session = 'lim'")
    resized = orders.filter(pl.col("status") == "resized")
    assert resized.height > 0 and set(resized["rule"]) == {"max_position"}
    fills = ws.store.frame("SELECT * FROM paper_fills WHERE session = 'lim' AND what = 'entry'")
    assert (
        fills["units"] * fills["price"]
    ).max() <= 0.5 * 10_000 * 1.2  # half of an equity that never doubled
    cool = orders.filter(pl.col("rule") == "cooldown")
    assert cool.height > 0 and cool["reason"].str.contains("losing trades").all()
    assert out["rejected_by_rule"]["cooldown"] == cool.height
    st = s.status()
    assert st["risk"]["resized"]["max_position"] == resized.height
    assert st["live_diff"]["risk_interventions"] > 0 and not st["live_diff"]["identical"]


def test_operator_kill_and_resume_while_running(ws):
    s = start_session(ws, PaperConfig(data="EURUSD:1h", strategy="sma_cross", settings=BOTH, name="op",
                                      speed=3600 * 500, risk={"resume_drawdown_pct": 50.0}))  # fmt: skip
    worker = threading.Thread(target=s.run, kwargs={"max_bars": 1500})
    worker.start()
    while s.bars_processed < 200:
        time.sleep(0.05)
    control(ws, "op", "kill", reason="manual test", by="alice")
    while s.risk.switch.state != HALTED and worker.is_alive():
        time.sleep(0.05)
    assert s.risk.switch.state == HALTED
    control(ws, "op", "resume", by="bob")
    control(ws, "op", "stop")
    worker.join(60)
    assert not worker.is_alive() and s.state == "stopped" and s.bars_processed < 1500
    controls = ws.store.frame(
        "SELECT action, actor, result FROM paper_controls WHERE session = 'op' ORDER BY seq"
    )
    assert controls.rows() == [
        ("kill", "alice", "HALTED"),
        ("resume", "bob", "REDUCING"),
        ("stop", "operator", "stopping"),
    ]
    trail = ws.store.frame("SELECT from_state, to_state, actor, reason FROM paper_risk_events WHERE session = 'op' "
                           "AND kind = 'transition' ORDER BY seq").rows()  # fmt: skip
    assert trail[:2] == [
        ("ACTIVE", "HALTED", "alice", "manual test"),
        ("HALTED", "REDUCING", "bob", "resumed"),
    ]
    assert resume(ws, "op").risk.switch.state == "REDUCING"


def test_backtest_with_risk_is_the_backtest_when_off(ws, eurusd):
    from workbench.backtest import run
    from workbench.paper import backtest_with_risk

    settings = {"direction": "both", "commission": "0.0001"}
    off = backtest_with_risk(ws, "EURUSD:1h", "macd", settings=settings)
    bt = run(eurusd, "macd", {}, contract="EURUSD", **settings)
    assert off.trades_frame()["pnl"].to_list() == bt.trades["pnl"].to_list()
    capped = backtest_with_risk(ws, "EURUSD:1h", "macd", settings=settings, risk={"max_units": 5000})
    assert capped.trades_frame()["size"].max() == 5000 and not capped.live_diff()["identical"]
