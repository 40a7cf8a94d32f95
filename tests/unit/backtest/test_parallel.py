"""The sweep on every core gives exactly the one-thread frame; progress reports move with the work."""

from __future__ import annotations

import threading

import numba
import numpy as np
import polars as pl
import pytest

from workbench.backtest import engine as E
from workbench.backtest import iter_sweep, run, sweep

SMA = {"fast": list(range(5, 51, 3)), "slow": list(range(10, 201, 10))}

CASES = [
    ("sma_cross", SMA, {}),
    ("sma_cross", SMA, {"direction": "both", "commission": 0.001, "spread": 0.0002}),
    (
        "sma_cross",
        SMA,
        {"direction": "both", "stop_loss": "1%", "take_profit": "2%", "trailing_stop": "0.5%"},
    ),
    ("sma_cross", SMA, {"fill": "close", "size": "50%", "blocks": 8}),
    ("ema_cross", {"fast": [5, 8, 12], "slow": [20, 30, 50]}, {"direction": "both"}),
    ("macd", {"fast": [8, 12], "slow": [21, 26], "signal": [5, 9]}, {"direction": "both"}),
    ("donchian_breakout", {"entry": [10, 20, 40], "exit": [5, 10]}, {"direction": "both"}),
    ("rsi_reversion", {"window": [7, 14], "lower": [25.0, 30.0], "upper": [70.0, 75.0]}, {}),
    ("bollinger_breakout", {"window": [10, 20], "k": [1.5, 2.0]}, {"direction": "both"}),
]


def _on_threads(threads: int, fn):
    """``fn()`` with Numba's thread count set to ``threads`` (the setting is per calling thread)."""
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return fn()
    finally:
        numba.set_num_threads(before)


@pytest.mark.parametrize(("name", "grid", "kw"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_all_threads_give_the_one_thread_frame(bars, name, grid, kw):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one Numba thread on this machine")
    one = _on_threads(1, lambda: sweep(bars["EURUSD"], name, grid, **kw))
    many = _on_threads(numba.config.NUMBA_NUM_THREADS, lambda: sweep(bars["EURUSD"], name, grid, **kw))
    assert one.height > 1 and one.equals(many)
    # and in small chunks, scheduled one combination at a time (the dynamic chunk size's lower end)
    chunked = pl.concat(list(iter_sweep(bars["EURUSD"], name, grid, chunk_size=7, **kw)))
    assert one.equals(chunked)


def test_chunk_size_hands_out_small_chunks():
    assert E._chunk_size(1, 2) == 1
    assert E._chunk_size(1605, 2) == 50
    assert E._chunk_size(1_000_000, 2) == 64
    assert E._chunk_size(100, 0) == 6


def test_sweep_progress_moves_with_the_work(bars, monkeypatch):
    monkeypatch.setattr(E, "POLL_S", 0.001)  # report as often as possible
    seen: list[tuple[int, int]] = []
    frame = sweep(bars["EURUSD"], "sma_cross", SMA, progress=lambda d, t: seen.append((d, t)))
    total = frame.height
    assert seen[-1] == (total, total)
    done = [d for d, _ in seen]
    assert done == sorted(done) and all(t == total for _, t in seen)
    chunks: list[tuple[int, int]] = []
    rows = sum(
        part.height
        for part in iter_sweep(
            bars["EURUSD"], "sma_cross", SMA, chunk_size=50, progress=lambda d, t: chunks.append((d, t))
        )
    )
    ends = [d for d, _ in chunks]
    assert rows == total and ends == sorted(ends) and ends[-1] == total
    assert {50 * i for i in range(1, total // 50 + 1)} <= set(ends)  # at least after every chunk


def test_progress_reads_the_done_flags_while_the_kernel_runs(monkeypatch):
    """The kernel holds no GIL: another thread sees ``done`` filling up while it runs (here the report
    itself checks that it was called from the calling thread, with the kernel still running)."""
    calls: list[int] = []
    caller = threading.get_ident()

    def report() -> None:
        assert threading.get_ident() == caller
        calls.append(1)

    gate = threading.Event()

    def slow_kernel(*args):
        gate.wait(5)
        return np.zeros((1, 8))

    monkeypatch.setattr(E, "POLL_S", 0.001)
    monkeypatch.setattr(E.K, "sweep_kernel", slow_kernel)
    timer = threading.Timer(0.05, gate.set)
    timer.start()
    out = E._call_kernel((), 1, report)
    assert out.shape == (1, 8) and calls


def test_kernel_errors_reach_the_caller(monkeypatch):
    def broken(*args):
        raise ValueError("boom")

    monkeypatch.setattr(E.K, "sweep_kernel", broken)
    with pytest.raises(ValueError, match="boom"):
        E._call_kernel((), 1, lambda: None)


def test_run_progress_counts_bars_and_changes_nothing(bars, monkeypatch):
    monkeypatch.setattr(E, "POLL_S", 0.001)
    seen: list[tuple[int, int]] = []
    with_progress = run(
        bars["EURUSD"], "sma_cross", {"fast": 10, "slow": 50}, progress=lambda d, t: seen.append((d, t))
    )
    plain = run(bars["EURUSD"], "sma_cross", {"fast": 10, "slow": 50})
    n = bars["EURUSD"].height
    assert seen[-1] == (n, n) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert with_progress.metrics == plain.metrics
    assert with_progress.equity.equals(plain.equity) and with_progress.trades.equals(plain.trades)


def test_compiled_rules_are_reused_for_the_same_grid(bars):
    spec = E.get_strategy("sma_cross")
    params = E._grid_frame(spec, SMA).select("fast", "slow")
    keys, rules = E._compile(spec, params)
    again = E._compile(spec, params.clone())
    assert again[1] is rules and again[0] == keys
    other = E._compile(spec, params.head(5))
    assert other[1] is not rules and other[1].ci.shape[0] == 5
    assert sweep(bars["EURUSD"], "sma_cross", SMA).equals(sweep(bars["EURUSD"], "sma_cross", SMA))


def test_warm_up_loads_the_kernel_a_real_sweep_and_run_use(bars):
    from workbench.backtest import _kernel as K
    from workbench.backtest import warm_up

    assert warm_up(background=False) is None
    loaded = set(K.sweep_kernel.signatures)
    sweep(bars["EURUSD"], "sma_cross", SMA, direction="both", commission=0.001)
    run(bars["GOOG"], "sma_cross", {"fast": 10, "slow": 30})
    assert set(K.sweep_kernel.signatures) == loaded  # no other specialisation was compiled or loaded
    thread = warm_up()  # one background warm-up per process; later calls return it or None
    if thread is not None:
        thread.join(60)
    assert warm_up() is None


def test_precompile_warms_every_strategy_with_the_one_sweep_specialisation(bars):
    from workbench.backtest import STRATEGIES, precompile
    from workbench.backtest import _kernel as K

    sweep(bars["EURUSD"], "sma_cross", SMA)
    used = set(K.sweep_kernel.signatures)
    assert precompile() == STRATEGIES.names() and len(STRATEGIES.names()) >= 6
    assert set(K.sweep_kernel.signatures) == used  # every strategy, stop and sizing: the same kernel
