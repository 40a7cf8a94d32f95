"""A registered ML model paper-traded through the `model` strategy: its trades are the backtest's of the
same predictions (`workbench.ml.signal.signal_bars` + `backtest.run(..., "model")`), confidence sizing
included."""

from __future__ import annotations

import pytest

from workbench.backtest import run
from workbench.errors import WorkbenchError
from workbench.paper import PaperConfig, start_session

KEYS = ["direction", "entry_bar", "exit_bar", "size", "entry_price", "exit_price", "pnl", "exit_reason"]


@pytest.fixture(scope="module")
def registered(ws, eurusd):
    import os

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    from workbench.ml import registry, train

    result = train(eurusd.head(1600), model="logreg", label="fixed_horizon:horizon=4", cv="purged",
                   importance=False, seed=3)  # fmt: skip
    return registry.register(result, "paper_logreg", ws=ws, data="EURUSD:1h")


@pytest.mark.parametrize("confidence", [0, 1])
def test_model_policy_equals_the_signal_backtest(ws, eurusd, registered, confidence):
    from workbench.ml import registry
    from workbench.ml.signal import signal_bars

    params = {"upper": 0.52, "lower": 0.48, "confidence": confidence}
    settings = {"direction": "both", "commission": "0.0001"}
    s = start_session(ws, PaperConfig(data="EURUSD:1h", model="paper_logreg", params=params, settings=settings,
                                      name=f"ml{confidence}"))  # fmt: skip
    out = s.run(max_bars=2500)
    bars = eurusd.head(2500)
    model = registry.load("paper_logreg", ws=ws)
    sig = signal_bars(bars, model.predict(bars), confidence=bool(confidence))
    bt = run(sig, "model", {"upper": 0.52, "lower": 0.48}, contract="EURUSD", **settings)
    assert bt.trades.height > 10
    assert s.trades_frame().select(KEYS).equals(bt.trades.select(KEYS))
    assert out["live_diff"]["identical"] and out["final_equity"] == bt.metrics["final_equity"]
    if confidence:
        assert s.trades_frame()["size"].n_unique() > 5  # sized by |2p - 1|
        with pytest.raises(WorkbenchError) as e:  # an unknown model: one line naming what is registered
            start_session(ws, PaperConfig(data="EURUSD:1h", model="nope"))
        assert "no registered model 'nope'" in str(e.value) and "paper_logreg" in str(e.value)
