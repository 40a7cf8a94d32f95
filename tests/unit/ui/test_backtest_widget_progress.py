"""The backtest widget's bar follows the sweep's combinations while it runs (not 0 -> 80 -> 100)."""

from __future__ import annotations

import pytest

from workbench.backtest import engine
from workbench.ui import BacktestWidget
from workbench.workspace import open_workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = open_workspace(tmp_path_factory.mktemp("lake"))
    w.load_samples()
    return w


def test_the_bar_moves_with_the_combinations(ws, monkeypatch):
    monkeypatch.setattr(engine, "POLL_S", 0.001)
    w = BacktestWidget(ws, data="EURUSD:1h", top=5)
    w.inputs.set_range("fast", 5, 40, 1)
    w.inputs.set_range("slow", 10, 200, 5)
    values: list[int] = []
    labels: list[str] = []
    w.progress.observe(lambda change: values.append(change["new"]), names="value")
    w.progress.observe(lambda change: labels.append(change["new"]), names="description")
    w.run_button.click()
    assert w.error.value == "", w.error.value
    total = w.outcome.combos
    assert f"{total:,}/{total:,} combinations" in labels  # the sweep's own reports reached the bar
    assert 75 in values and values[-1] == 100 and values == sorted(values)
