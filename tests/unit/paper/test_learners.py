"""Online learners learn while they trade, checkpoint, and resume to the uninterrupted result."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from workbench.paper import PaperConfig, resume, start_session

SETTINGS = {"direction": "both", "commission": "0.0001"}


def test_river_learns_every_closed_bar_and_resumes_exactly(ws):
    params = {"checkpoint_every": 300}
    full = start_session(
        ws, PaperConfig(data="GOOG:1d", policy="river", params=params, settings=SETTINGS, name="rv-full")
    )
    full.run(max_bars=1200)
    model = full.policy.model["LogisticRegression"]
    assert full.policy.learned == 1200  # every closed bar was learned, once
    assert model.weights and any(abs(w) > 0 for w in model.weights.values())
    assert len(full.trades) > 5
    # the same learner in steps of 250 bars, interrupted after 700 (its last checkpoint at bar 500), resumed:
    # the checkpoint is loaded and bars 500-699 re-learned
    part = start_session(
        ws,
        PaperConfig(
            data="GOOG:1d", policy="river", params=params, settings=SETTINGS, name="rv-cut", step_bars=250
        ),
    )
    part.run(max_bars=700)
    again = resume(ws, "rv-cut")
    assert again.policy.learned == 700
    again.run(max_bars=500)
    assert again.policy.model["LogisticRegression"].weights == model.weights
    assert [t["pnl"] for t in again.trades] == [t["pnl"] for t in full.trades]
    cks = ws.store.frame("SELECT bar FROM paper_checkpoints WHERE session = 'rv-full' ORDER BY bar")
    assert cks["bar"].to_list() == [1024]  # at the end of a step once checkpoint_every bars have passed
    cks = ws.store.frame("SELECT bar FROM paper_checkpoints WHERE session = 'rv-cut' ORDER BY bar")
    assert cks["bar"].to_list()[0] == 500


def test_trading_env_is_the_brokers_fills_and_costs(ws):
    from gymnasium.utils.env_checker import check_env

    from workbench.backtest import EngineSettings
    from workbench.paper._learners import TradingEnv

    bars = ws.bars("GOOG:1d").head(400)
    cols = {c: bars[c].to_list() for c in ("open", "high", "low", "close", "volume")}
    cols["ts"] = bars["ts"].cast(int).to_list()
    settings = EngineSettings.build(symbol="GOOG", commission="0.001", spread="0.0005")
    env = TradingEnv(cols, settings, lags=4, episode_bars=50, seed=1)
    check_env(env, skip_render_check=True)
    env.reset()
    start, i0 = env.broker.equity, env.i
    total = 0.0
    for _ in range(10):
        _, r, done, _, _ = env.step(1)  # go long, stay long
        total += r
    # the order fills at the next open with the spread and commission, then marks at closes
    o, c = cols["open"][i0 + 1], cols["close"][i0 + 10]
    adj = o * (1 + 0.0005)
    units = (start * 1.0) / (adj + adj * 0.001 / 1.0 * 0 + o * 0.001)  # engine fraction sizing, 100 %
    expected = start - units * adj * 0.001 + units * (c - adj)
    assert env.broker.units == pytest.approx(units, rel=1e-12)
    assert math.exp(total) * start == pytest.approx(expected, rel=1e-9)


@pytest.mark.slow
def test_ppo_agent_updates_while_trading_and_checkpoints(ws):
    params = {"warmup": 150, "update_every": 200, "train_steps": 128, "buffer_bars": 300, "episode_bars": 64}
    s = start_session(
        ws, PaperConfig(data="GOOG:1d", policy="ppo", params=params, settings=SETTINGS, name="ppo-t")
    )
    s.run(max_bars=380)
    assert s.policy.updates == 2 and s.policy.steps == 256
    w1 = [p.detach().clone() for p in s.policy.model.policy.parameters()]
    cks = ws.store.frame("SELECT bar, path FROM paper_checkpoints WHERE session = 'ppo-t' ORDER BY bar")
    assert cks["bar"].to_list() == [149, 349] and all(Path(p).exists() for p in cks["path"])
    again = resume(ws, "ppo-t")
    assert again.policy.model is not None and again.policy.trained_at == 349
    w2 = [p.detach().clone() for p in again.policy.model.policy.parameters()]
    assert all(np.allclose(a.numpy(), b.numpy()) for a, b in zip(w1, w2, strict=True))  # the checkpoint
    again.run(max_bars=220)  # crosses the next update (bar 549)
    assert again.policy.updates == 3
    w3 = [p.detach() for p in again.policy.model.policy.parameters()]
    assert any(not np.allclose(a.numpy(), b.numpy()) for a, b in zip(w2, w3, strict=True))  # it learned
    assert again.decisions_total == 600
