"""Prepared bars and indicator rows kept between calls (engine._kept): never stale, never shared unsafely.

The oracle is the same sweep with nothing kept (the cache emptied before it): every kept path must give
exactly its frame, after an edit of the bars (a copy or in place), with another grid sharing indicator
rows, and from two threads sweeping the same bars at once.
"""

from __future__ import annotations

import threading

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from workbench.backtest import engine, sweep

GRID = {"fast": [5, 10, 15, 20], "slow": [30, 40, 60]}


def _fresh(bars: pl.DataFrame, grid: dict) -> pl.DataFrame:
    with engine._kept_lock:
        engine._kept.clear()
        engine._GRIDS.clear()
    return sweep(bars, "sma_cross", grid)


def test_a_repeat_sweep_is_served_from_the_kept_rows_and_equals_a_fresh_one(bars) -> None:
    b = bars["EURUSD"]
    want = _fresh(b, GRID)
    kept = engine._prepare_kept(b)
    assert kept.rows is not None and len(kept.rows.slots) == 7  # 4 fast + 3 slow SMAs
    calls = []
    real = engine.INDICATORS.get("sma")
    try:
        engine.INDICATORS._items["sma"] = lambda *a: calls.append(a) or real(*a)  # type: ignore[attr-defined]
        assert_frame_equal(sweep(b, "sma_cross", GRID), want)
        assert calls == []  # nothing recomputed
        other = {"fast": [10, 12], "slow": [40, 50]}  # shares sma 10 and 40, needs 12 and 50
        got = sweep(b, "sma_cross", other)
        assert sorted(a[1] for a in calls) == [12, 50]
    finally:
        engine.INDICATORS._items["sma"] = real  # type: ignore[attr-defined]
    assert_frame_equal(got, _fresh(b, other))


def test_edited_bars_are_never_served_the_rows_of_the_original(bars) -> None:
    b = bars["EURUSD"]
    sweep(b, "sma_cross", GRID)  # keeps b's rows
    edited = b.with_columns(
        pl.when(pl.int_range(pl.len()) == 2500)
        .then(pl.col("close") * 1.01)
        .otherwise(pl.col("close"))
        .alias("close")
    )
    got = sweep(edited, "sma_cross", GRID)
    want = _fresh(edited, GRID)
    assert_frame_equal(got, want)
    assert not got.equals(_fresh(b, GRID))
    # in place: the same frame object with one value changed
    inplace = b.clone()
    sweep(inplace, "sma_cross", GRID)
    inplace[2500, "close"] = float(b["close"][2500]) * 1.01
    assert_frame_equal(sweep(inplace, "sma_cross", GRID), want)


def test_two_threads_sweeping_the_same_bars_get_the_results_of_one(bars) -> None:
    b = bars["GOOG"]
    grids = [GRID, {"fast": [7, 9], "slow": [30, 50, 70]}] * 3
    want = [_fresh(b, g) for g in grids]
    got: list[pl.DataFrame | None] = [None] * len(grids)

    def work(i: int) -> None:
        got[i] = sweep(b, "sma_cross", grids[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(grids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want, strict=True):
        assert g is not None
        assert_frame_equal(g, w)


@pytest.mark.parametrize("grid", [{"fast": [10], "slow": [30]}, {"fast": [10.0], "slow": [30]}])
def test_grids_that_read_the_same_share_a_frame_and_others_do_not(bars, grid) -> None:
    b = bars["GOOG"]
    assert_frame_equal(sweep(b, "sma_cross", grid), _fresh(b, grid))
    assert sweep(b, "sma_cross", {"fast": [11], "slow": [30]})["fast"].to_list() == [11]


def test_kept_rows_grow_for_a_bigger_grid_and_keep_bytes_zero_keeps_nothing(bars) -> None:
    b = bars["EURUSD"]
    _fresh(b, GRID)  # 7 rows kept
    kept = engine._prepare_kept(b)
    assert kept.rows is not None and kept.rows.matrix.shape[0] == 7
    bigger = {"fast": [5, 10, 15, 20, 25, 8], "slow": [30, 40, 60, 90, 120]}  # 11 SMAs, 7 of them kept
    calls = []
    real = engine.INDICATORS.get("sma")
    try:
        engine.INDICATORS._items["sma"] = lambda *a: calls.append(a) or real(*a)  # type: ignore[attr-defined]
        got = sweep(b, "sma_cross", bigger)
    finally:
        engine.INDICATORS._items["sma"] = real  # type: ignore[attr-defined]
    assert sorted(a[1] for a in calls) == [8, 25, 90, 120]  # only the new ones computed
    assert kept.rows.matrix.shape[0] >= 11
    assert_frame_equal(got, _fresh(b, bigger))
    previous = engine.keep_bytes(0)
    try:
        assert engine._kept == {} and previous == 64 << 20
        assert_frame_equal(sweep(b, "sma_cross", GRID), _fresh(b, GRID))
        assert engine._kept == {}
    finally:
        engine.keep_bytes(previous)
