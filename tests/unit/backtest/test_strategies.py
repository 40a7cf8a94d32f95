"""The strategy library: every registered strategy runs, trades, and respects its constraint."""

from __future__ import annotations

import itertools

import polars as pl
import pytest

from workbench.backtest import METRICS, STRATEGIES, get_strategy, run, signals, sweep
from workbench.errors import StrategyError

LIBRARY = ["sma_cross", "ema_cross", "rsi_reversion", "bollinger_breakout", "donchian_breakout", "macd"]

# Small grids that include combinations violating each constraint (checked below by plain Python).
GRIDS = {
    "sma_cross": ({"fast": [5, 20, 60], "slow": [10, 50]}, lambda p: p["fast"] < p["slow"]),
    "ema_cross": ({"fast": [5, 20, 60], "slow": [10, 50]}, lambda p: p["fast"] < p["slow"]),
    "macd": ({"fast": [8, 26, 30], "slow": [26], "signal": [9]}, lambda p: p["fast"] < p["slow"]),
    "rsi_reversion": (
        {"window": [14], "lower": [30.0, 75.0], "upper": [70.0, 50.0]},
        lambda p: p["lower"] < p["upper"],
    ),
    "bollinger_breakout": ({"window": [10, 20], "k": [1.0, 2.0]}, lambda p: True),
    "donchian_breakout": ({"entry": [10, 20], "exit": [5, 10, 30]}, lambda p: p["exit"] < p["entry"]),
}


def test_the_library_is_registered():
    get_strategy("sma_cross")
    # + "model": trades a per-bar probability column, tested in test_model_strategy.py
    assert sorted([*LIBRARY, "model"]) == STRATEGIES.names()
    for name in [*LIBRARY, "model"]:
        spec = get_strategy(name)
        assert spec.description and spec.params
        for p in spec.params:
            assert p.type in (int, float) and p.range[0] <= p.default <= p.range[1]


@pytest.mark.parametrize("name", LIBRARY)
def test_strategy_runs_and_respects_its_constraint(bars, name):
    grid, ok = GRIDS[name]
    table = sweep(bars["GOOG"], name, grid, direction="both")
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    valid = [c for c in combos if ok(c)]
    assert len(valid) < len(combos) or name == "bollinger_breakout"
    assert table.height == len(valid)
    got = sorted(tuple(r[k] for k in grid) for r in table.iter_rows(named=True))
    assert got == sorted(tuple(c[k] for k in grid) for c in valid)
    assert table.columns == list(grid) + list(METRICS)
    assert (table["trades"] > 0).all()
    # defaults run, and a combination breaking the constraint is refused by run()
    res = run(bars["EURUSD"], name)
    assert res.metrics["trades"] > 0
    bad = [c for c in combos if not ok(c)]
    if bad:
        with pytest.raises(StrategyError, match="violates its constraint"):
            run(bars["GOOG"], name, bad[0])


@pytest.mark.parametrize("name", LIBRARY)
def test_signals_frame(bars, name):
    frame = signals(bars["GOOG"], name)
    assert frame.columns == ["ts", "long_entry", "long_exit", "short_entry", "short_exit"]
    assert frame.schema["long_entry"] == pl.Boolean
    assert frame["long_entry"].sum() > 0 and frame["long_exit"].sum() > 0
    # an entry and an exit never fire on the same bar for these strategies
    assert not (frame["long_entry"] & frame["long_exit"]).any()


def test_the_docs_example_strategy_works(bars, monkeypatch):
    """The "Add a strategy" example of docs/strategies.md, executed as written (in a scratch registry)."""
    import re
    from pathlib import Path

    from workbench._registry import Registry
    from workbench.backtest import spec as spec_module

    doc = (Path(__file__).resolve().parents[3] / "docs" / "strategies.md").read_text()
    code = next(block for block in re.findall(r"```python\n(.*?)```", doc, re.S) if "@strategy(" in block)
    monkeypatch.setattr(spec_module, "STRATEGIES", Registry("strategy"))
    namespace: dict = {}
    exec(compile(code, "docs/strategies.md", "exec"), namespace)
    name = re.search(r'@strategy\("(\w+)"\)', code).group(1)
    spec = spec_module.STRATEGIES.get(name)
    table = sweep(bars["GOOG"], spec, {"fast": [5, 30], "medium": [20, 30], "slow": [50, 100]})
    assert table.height == 4  # fast=30 breaks "fast < medium"
    assert (table["trades"] > 0).all()
