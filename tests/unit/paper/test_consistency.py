"""A replay of stored bars trades exactly what workbench.backtest.run() trades on the same bars and
settings (the oracle: the engine's fused Numba kernel, a separate implementation): trade for trade, the
whole equity curve, several strategies, both directions, costs, stops; and stays so across a resume."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from workbench.backtest import get_strategy, run, signals
from workbench.paper import PaperConfig, resume, start_session

KEYS = ["direction", "entry_bar", "exit_bar", "size", "entry_price", "exit_price", "commission", "pnl",
        "exit_reason", "entry_time", "exit_time"]  # fmt: skip
_names = (f"s{i}" for i in itertools.count())

CASES = [
    ("sma_cross", {"fast": 10, "slow": 30}, {}),
    ("sma_cross", {"fast": 10, "slow": 30},
     {"direction": "both", "commission": "7/lot", "spread": "1.5pips", "slippage": "0.01%", "stop_loss": "2atr",
      "take_profit": "1%"}),
    ("rsi_reversion", {}, {"direction": "both", "trailing_stop": "0.5%", "size": "1%risk", "stop_loss": "0.3%"}),
    ("macd", {}, {"fill": "close", "direction": "both", "commission": "0.0002", "take_profit": "20pips"}),
    ("donchian_breakout", {}, {"direction": "short", "size": "10%vol", "spread": "2bp"}),
    ("bollinger_breakout", {}, {"direction": "both", "size": "1000,whole", "stop_loss": "20pips",
                                "commission": "2.5/trade+0.01%"}),
    ("ema_cross", {"fast": 5, "slow": 40}, {"size": "5000cash", "trailing_stop": "1atr20"}),
]  # fmt: skip


@pytest.mark.parametrize(("strategy", "params", "settings"), CASES)
def test_replay_equals_backtest(ws, eurusd, strategy, params, settings):
    session = start_session(
        ws,
        PaperConfig(data="EURUSD:1h", strategy=strategy, params=params, settings=settings, name=next(_names)),
    )
    out = session.run()
    bt = run(eurusd, strategy, params, contract="EURUSD", **settings)
    assert bt.trades.height > 10  # the case trades
    paper = session.trades_frame()
    assert paper.select(KEYS).equals(bt.trades.select(KEYS))
    assert out["final_equity"] == bt.metrics["final_equity"]
    stored = ws.store.frame("SELECT equity FROM paper_equity WHERE session = $1 ORDER BY bar", [session.name])
    assert np.array_equal(stored["equity"].to_numpy(), bt.equity["equity"].to_numpy())
    assert out["live_diff"]["identical"] and out["live_diff"]["matching"] == bt.trades.height
    assert out["decisions"] == eurusd.height and out["rejected"] == 0


def test_signals_are_causal(eurusd):
    """Every library strategy's flags at bar i depend on bars <= i only: computed on a prefix they are the
    full series' flags (what lets a session decide bar by bar with the engine's rules)."""
    from workbench.backtest.spec import STRATEGIES

    get_strategy("sma_cross")
    for name in STRATEGIES.names():
        if name == "model":
            continue
        full = signals(eurusd, name)
        for cut in (50, 777, 3001):
            prefix = signals(eurusd.head(cut), name)
            assert prefix.equals(full.head(cut)), (name, cut)


def test_resume_in_the_middle_changes_nothing(ws, eurusd):
    settings = {"direction": "both", "commission": "0.0001", "stop_loss": "1%", "slippage": "1pips"}
    name = next(_names)
    s = start_session(ws, PaperConfig(data="EURUSD:1h", strategy="sma_cross", settings=settings, name=name,
                                      step_bars=500))  # fmt: skip
    s.run(max_bars=1777)
    assert s.bars_processed == 1777
    again = resume(ws, name)
    assert again.bars_processed == 1777 and again.broker.snapshot() == s.broker.snapshot()
    out = again.run()
    bt = run(eurusd, "sma_cross", {}, contract="EURUSD", **settings)
    assert again.trades_frame().select(KEYS).equals(bt.trades.select(KEYS))
    assert out["final_equity"] == bt.metrics["final_equity"]
    fills = ws.store.frame("SELECT fill_id FROM paper_fills WHERE session = $1 ORDER BY fill_id", [name])
    assert fills["fill_id"].to_list() == list(range(1, fills.height + 1))
    entries_exits = 2 * bt.trades.height + (1 if again.broker.pos else 0)
    assert fills.height == entries_exits


def test_every_unfilled_order_has_a_reason(ws):
    name = next(_names)
    s = start_session(ws, PaperConfig(data="EURUSD:1h", strategy="sma_cross", name=name, settings={"direction": "both"},
                                      risk={"max_units": 0.0}))  # fmt: skip
    out = s.run(max_bars=1500)
    orders = ws.store.frame("SELECT * FROM paper_orders WHERE session = $1", [name])
    unfilled = orders.filter(~pl.col("status").is_in(["filled", "resized"]))
    assert unfilled.height > 0 and out["rejected"] > 0
    assert unfilled.filter(pl.col("status") != "pending")["rule"].null_count() == 0
    assert unfilled.filter(pl.col("status") != "pending")["reason"].null_count() == 0
    assert set(unfilled["rule"].drop_nulls()) == {"max_units"}
    assert out["trades"] == []  # nothing could open


def test_policy_flags_are_the_engines_signals(ws):
    """The policy evaluates the strategy's rules itself (cheap per bar); bar for bar they are the
    engine's ``signals()``, for every library strategy, in steps of uneven size."""
    from workbench.backtest.spec import STRATEGIES
    from workbench.paper import History, StrategyPolicy
    from workbench.paper._feeds import bars_to_tuples

    bars = ws.bars("GOOG:1d")
    rows = bars_to_tuples(bars)
    get_strategy("sma_cross")
    for name in STRATEGIES.names():
        if name == "model":
            continue
        policy = StrategyPolicy(name, {}, "both")
        assert policy._rules is not None  # the library's rules take the fast path
        hist, got = History(), []
        for a, b in ((0, 1), (1, 2), (2, 700), (700, 701), (701, len(rows))):
            hist.extend(rows[a:b])
            policy.prepare(hist, a, b)
            got.extend(policy.flags)
        sig = signals(bars, name)
        want = list(
            zip(
                *(sig[c].to_list() for c in ("long_entry", "long_exit", "short_entry", "short_exit")),
                strict=True,
            )
        )
        assert got == want, name


def test_two_writers_of_one_session_cannot_double_anything(ws):
    from workbench.errors import StoreError

    s = start_session(ws, PaperConfig(data="GOOG:1d", strategy="macd", name=next(_names)))
    s.run(max_bars=300)
    first, second = resume(ws, s.name), resume(ws, s.name)
    first.run(max_bars=200)
    with pytest.raises(StoreError, match="running in another process"):
        second.run(max_bars=200)  # its step would write the same orders and fills again: refused whole
    fills = ws.store.frame("SELECT fill_id FROM paper_fills WHERE session = $1 ORDER BY fill_id", [s.name])
    assert fills["fill_id"].to_list() == list(range(1, fills.height + 1))
    assert resume(ws, s.name).bars_processed == 500
