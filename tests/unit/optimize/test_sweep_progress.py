"""run_sweep reports the combinations evaluated as they finish (the widget's progress bar)."""

from __future__ import annotations

import pytest

from workbench.backtest import engine
from workbench.optimize import run_sweep
from workbench.workspace import open_workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = open_workspace(tmp_path_factory.mktemp("lake"))
    w.load_samples()
    return w


def test_run_sweep_progress_moves_with_the_combinations(ws, monkeypatch):
    monkeypatch.setattr(engine, "POLL_S", 0.001)
    seen: list[tuple[int, int]] = []
    grid = {"fast": list(range(5, 30)), "slow": list(range(10, 120, 5))}
    out = run_sweep(
        ws, "sma_cross", "EURUSD:1h", grid, chunk_size=40, progress=lambda d, t: seen.append((d, t))
    )
    done = [d for d, _ in seen]
    assert seen[-1] == (out.combos, out.combos) and all(t == out.combos for _, t in seen)
    assert done == sorted(done) and len(set(done)) >= out.combos // 40  # at least once per chunk
