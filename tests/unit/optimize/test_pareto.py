"""Pareto ranks, walk-forward folds and objective parsing (no Ray needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.errors import ConfigError
from workbench.optimize import pareto_ranks, parse_objectives
from workbench.optimize.pareto import ranks_by
from workbench.optimize.tune import _ranked, fold_bounds


def _dominates(a, b, modes) -> bool:
    """Brute force, written independently: a is no worse everywhere and better somewhere."""
    better = worse = False
    for x, y, m in zip(a, b, modes, strict=True):
        x = -math.inf if math.isnan(x) else (x if m == "max" else -x)
        y = -math.inf if math.isnan(y) else (y if m == "max" else -y)
        better |= x > y
        worse |= x < y
    return better and not worse


@pytest.mark.parametrize("seed", range(5))
def test_ranks_match_brute_force_layers(seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 6, size=(40, 3)).astype(float)  # small ints: many ties and duplicates
    values[rng.random(values.shape) < 0.05] = np.nan
    modes = ["max", "min", "max"]
    ranks = pareto_ranks(values, modes)
    left = set(range(len(values)))
    layer = 0
    while left:
        layer += 1
        front = {i for i in left if not any(_dominates(values[j], values[i], modes) for j in left)}
        assert {i for i in left if ranks[i] == layer} == front
        left -= front


def test_min_mode_and_single_point():
    assert pareto_ranks(np.array([[1.0, 5.0], [2.0, 4.0], [3.0, 6.0]]), ["min", "min"]).tolist() == [1, 1, 2]
    assert pareto_ranks(np.array([[7.0]]), ["max"]).tolist() == [1]
    assert pareto_ranks(np.empty((0, 2)), ["max", "min"]).tolist() == []


def test_fold_bounds_are_time_ordered_and_rolling():
    folds = fold_bounds(1000, 3)
    assert len(folds) == 3
    for (tr, te), nxt in zip(folds, folds[1:] + [None], strict=True):
        assert tr[0] < tr[1] == te[0] < te[1]
        if nxt:
            assert nxt[0] == te  # the next fold trains on this fold's test block
    assert folds[0][0][0] == 0 and folds[-1][1][1] == 1000
    with pytest.raises(ConfigError):
        fold_bounds(3, 5)
    with pytest.raises(ConfigError):
        fold_bounds(100, 0)


def test_parse_objectives():
    objs = parse_objectives(["sharpe:max", "max_drawdown_pct:min"])
    assert [(o.metric, o.mode) for o in objs] == [("sharpe", "max"), ("max_drawdown_pct", "min")]
    assert [(o.metric, o.mode) for o in parse_objectives([])] == [("total_return_pct", "max")]
    for bad in (["nope:max"], ["sharpe:up"], ["sharpe:max", "sharpe:min"]):
        with pytest.raises(ConfigError):
            parse_objectives(bad)


def test_profit_factor_without_a_losing_trade_ranks_first():
    """+inf (no losing trade) is the best profit factor; NaN (no trade: undefined) the worst."""
    pf = np.array([1.5, np.inf, np.nan, 0.5, np.inf])
    assert ranks_by(pf, "max").tolist() == [3, 1, 5, 4, 2]  # ties by position
    assert ranks_by(pf, "min").tolist() == [2, 3, 5, 1, 4]  # minimised, +inf is worst (with NaN)
    rows = [{"profit_factor": v, "valid": 1} for v in pf] + [{"profit_factor": 9.0, "valid": 0}]
    assert _ranked(rows, parse_objectives(["profit_factor:max"])).tolist() == [3, 1, 5, 4, 2, 0]
    # Pareto ranks too: +inf dominates any finite profit factor with the same drawdown
    both = np.array([[np.inf, 1.0], [5.0, 1.0], [np.nan, 0.5]])
    assert pareto_ranks(both, ["max", "min"]).tolist() == [1, 2, 1]
