"""Optimisation analysis on stored rows: Pareto front, sensitivity, walk-forward, overfitting checks.

Oracles: a brute-force dominance check written here, hand calculations, a Monte Carlo estimate, and
the MT5 optimiser export's own rows (zhijucen_246753_ReportOptimizer.xml).
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import polars as pl
import pytest
from conftest import real

from workbench.reports import optimization as opt


def _rows(items: list[tuple[int, dict, dict, int | None]]) -> pl.DataFrame:
    """An ``optimization_results``-shaped frame (JSON text columns) from (trial, params, objectives, fold)."""
    return pl.DataFrame(
        {
            "trial": [t for t, *_ in items],
            "parameters": [json.dumps(p) for _, p, _, _ in items],
            "objectives": [json.dumps(o) for _, _, o, _ in items],
            "metrics": [json.dumps({}) for _ in items],
            "rank": [None] * len(items),
            "fold": [f for *_, f in items],
        },
        schema_overrides={"rank": pl.Int32, "fold": pl.Int32},
    )


def test_pareto_mask_hand_example() -> None:
    pts = np.array([[1, 5], [2, 4], [3, 3], [2, 2], [1, 5], [np.nan, 9], [3, 1]], dtype=float)
    # (2,2) is dominated by (2,4); (3,1) by (3,3); the NaN row is never on the front; equal rows stay
    assert opt.pareto_mask(pts).tolist() == [True, True, True, False, True, False, False]


def test_pareto_mask_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    pts = rng.integers(0, 6, size=(300, 3)).astype(float)  # many ties on purpose

    def dominated(i: int) -> bool:
        return any(all(pts[j] >= pts[i]) and any(pts[j] > pts[i]) for j in range(len(pts)) if j != i)

    expected = [not dominated(i) for i in range(len(pts))]
    assert opt.pareto_mask(pts).tolist() == expected


def test_front_respects_directions_and_folds() -> None:
    items = [
        (0, {"a": 1}, {"sharpe_ratio": 1.0, "max_drawdown_pct": 5.0}, None),
        (1, {"a": 2}, {"sharpe_ratio": 2.0, "max_drawdown_pct": 10.0}, None),
        (2, {"a": 3}, {"sharpe_ratio": 1.5, "max_drawdown_pct": 12.0}, None),  # worse than 1 on both
        (3, {"a": 1}, {"sharpe_ratio": 0.1, "max_drawdown_pct": 50.0}, 1),  # alone in fold 1
    ]
    t = opt.trials(_rows(items), {"sharpe_ratio": "max", "max_drawdown_pct": "min"})
    assert [o.direction for o in t.objectives] == ["max", "min"]
    front = opt.with_front(t, opt.pareto_axes(t))
    assert dict(zip(front["trial"], front["pareto_front"], strict=True)) == {
        0: True,
        1: True,
        2: False,
        3: True,
    }


def test_importance_eta_squared_by_hand() -> None:
    frame = pl.DataFrame({"a": [1, 1, 2, 2], "b": [1, 2, 1, 2], "y": [1.0, 2.0, 3.0, 4.0]})
    out = {r["parameter"]: r for r in opt.importance(frame, ["a", "b"], "y").iter_rows(named=True)}
    # grand mean 2.5, total SS 5; a's groups mean 1.5 and 3.5: between SS 2*1 + 2*1 = 4 -> 0.8
    assert out["a"]["eta_squared"] == pytest.approx(0.8)
    # b's groups mean 2 and 3: between SS 2*0.25 + 2*0.25 = 1 -> 0.2
    assert out["b"]["eta_squared"] == pytest.approx(0.2)
    assert out["a"]["spread"] == pytest.approx(2.0)
    sens = opt.sensitivity(frame, "a", "y")
    assert sens["mean"].to_list() == [1.5, 3.5] and sens["max"].to_list() == [2.0, 4.0]


def test_expected_max_sharpe_against_monte_carlo() -> None:
    rng = np.random.default_rng(11)
    n, std = 100, 0.7
    simulated = rng.normal(0.0, std, size=(20_000, n)).max(axis=1).mean()
    assert opt.expected_max_sharpe(n, std) == pytest.approx(simulated, rel=0.03)
    assert opt.expected_max_sharpe(1, std) == 0.0


def test_neighbours_on_a_grid() -> None:
    grid = [{"x": x, "y": y} for x, y in itertools.product([10, 20, 30], [1, 2, 3])]
    items = [(i, p, {"score": float(p["x"] + p["y"])}, None) for i, p in enumerate(grid)]
    t = opt.trials(_rows(items))
    centre = next(i for i, p in enumerate(grid) if p == {"x": 20, "y": 2})
    nb = opt.neighbours(t.frame, t.parameters, centre)
    assert sorted(zip(nb["x"], nb["y"], strict=True)) == [(10, 2), (20, 1), (20, 3), (30, 2)]


def test_walk_forward_table_and_checks() -> None:
    items = []
    for fold in (0, 1, 2):
        for trial, a in enumerate((1, 2, 3)):
            score = float(a if fold != 2 else 4 - a)  # fold 2 reverses the ranking
            items.append((trial, {"a": a}, {"sharpe_ratio": score}, fold))
    t = opt.trials(_rows(items), {"sharpe_ratio": "max"})
    wf = opt.walk_forward(t)
    assert wf is not None
    assert wf["fold"].to_list() == [0, 1, 2]
    assert wf["best_trial"].to_list() == [2, 2, 0]
    assert wf["trials"].to_list() == [3, 3, 3]
    checks = {r["check"]: r for r in opt.overfitting_checks(t).iter_rows(named=True)}
    # Spearman between folds 0-1 is 1, between 1-2 is -1: mean 0
    assert checks["fold rank correlation"]["value"] == pytest.approx(0.0)
    assert checks["best parameters changed"]["value"] == 1


def test_imported_mt5_optimisation(tmp_path) -> None:
    import workbench as wb

    ws = wb.open(tmp_path / "lake")
    ws.ingest([real("mt5_optimizer_xml/zhijucen_246753_ReportOptimizer.xml")])
    info = ws.optimizations().row(0, named=True)
    t = opt.trials(ws.optimization_results(info["id"]), info["objectives"])
    # the export has 432 passes (433 <Row>s less the header) and one objective, "Result" (maximised)
    assert t.frame.height == 432
    assert [(o.name, o.direction) for o in t.objectives] == [("result", "max")]
    assert set(t.parameters) == {
        "InpSLPips",
        "InpTPPips",
        "InpTrailingPips",
        "InpBEAfterPips",
        "InpUseNewsFilter",
    }
    # first data row of the XML: pass 330, Result 1.23, Profit 423.11, Sharpe 10.597013, Equity DD 24.1113 %,
    # InpSLPips 30, InpTPPips 180, InpTrailingPips 30, InpBEAfterPips 40, InpUseNewsFilter true
    row = t.frame.filter(pl.col("trial") == 330).row(0, named=True)
    assert row["result"] == 1.23 and row["profit"] == 423.11 and row["sharpe_ratio"] == 10.597013
    assert row["equity_dd_pct"] == 24.1113
    assert (row["InpSLPips"], row["InpTPPips"], row["InpTrailingPips"], row["InpBEAfterPips"]) == (
        30,
        180,
        30,
        40,
    )
    assert row["InpUseNewsFilter"] is True
    # one objective: the front pairs it with the drawdown metric, minimised
    axes = opt.pareto_axes(t)
    assert [(a.name, a.direction) for a in axes] == [("result", "max"), ("equity_dd_pct", "min")]
    front = opt.with_front(t, axes).filter(pl.col("pareto_front"))
    best_result = t.frame["result"].max()
    lowest_dd = t.frame["equity_dd_pct"].min()
    assert best_result in front["result"].to_list()  # the best objective is never dominated
    assert lowest_dd in front["equity_dd_pct"].to_list()
    assert opt.walk_forward(t) is None
    checks = {r["check"]: r for r in opt.overfitting_checks(t).iter_rows(named=True)}
    assert checks["walk-forward"]["detail"] == "no walk-forward folds stored"
    assert checks["trials"]["value"] == 432
    assert "expected max sharpe_ratio by luck" in checks
