"""InferWidget driven from code on a workspace holding a "bot": an engine backtest stored by run_sweep.

Oracles: the bot's known strategy and parameters, the stored replay (its id, strategy, trades), and the
files the code generator wrote (the widget shows exactly their source and compile result)."""

from __future__ import annotations

import base64
import shutil

import holoviews as hv
import pytest

from workbench.optimize import run_sweep
from workbench.ui import InferWidget
from workbench.workspace import open_workspace


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    ws = open_workspace(tmp_path_factory.mktemp("lake"))
    ws.load_samples()
    out = run_sweep(ws, "sma_cross", "EURUSD:1h", {"fast": [12], "slow": [55]}, direction="both",
                    commission=0.0002, take_profit="0.8%")  # fmt: skip
    return ws, out.backtest_ids[0]


def test_widget_infers_charts_and_generates(bot, tmp_path):
    ws, bid = bot
    w = InferWidget(ws, out_dir=tmp_path / "bots")
    assert bid in [v for _, v in w.backtest.options]
    assert w.summary().startswith("no inference yet")
    w.backtest.value = bid
    res = w.infer()
    assert res is not None and w.error.value == ""
    assert res.strategy == "sma_cross" and res.params == {"fast": 12, "slow": 55}
    assert res.agreement.entry_f1 >= 0.95 and w.progress.value == 100
    assert f"backtest #{bid} -> sma_cross fast=12 slow=55" in w.summary()
    replay = ws.backtest(res.backtest_id)
    assert replay.info["strategy"] == "sma_cross" and replay.trades.height == res.agreement.candidate
    assert isinstance(w.chart, hv.Overlay)
    labels = {el.label for el in w.chart}
    assert {"real long entries", "inferred short entries"} <= labels
    assert "entry_f1" in w.agreement.value and "crosses above" in w.rules.value
    assert not w.generate_button.disabled
    code = w.generate()
    assert code is not None
    cs = next(f for f in code.files if f.endswith(".cs"))
    assert w.source == open(cs, encoding="utf-8").read() and "Robot" in w.source
    href = w.download.split('href="data:text/plain;base64,')[1].split('"')[0]
    assert base64.b64decode(href).decode("utf-8") == w.source
    expected = True if shutil.which("mcs") else None
    assert code.compiled is expected
    assert ("compiles" if expected else "not compiled") in w.code_status.value

    # bars that do not cover the trades: one red line, nothing to generate
    w.data.value = "GOOG:1d"  # daily GOOG 2004-2013 vs 2017 EURUSD trades
    assert w.infer() is None
    assert w.error.value.count("error:") == 1 and "none of its" in w.error.value
    assert w.generate_button.disabled
