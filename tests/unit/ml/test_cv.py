"""Purged CV against brute force: no training label overlaps a test block, nothing is purged that does not
overlap (or is not embargoed), CPCV covers every sample the right number of times."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.errors import ConfigError, DataError
from workbench.ml import CV_SCHEMES, CombinatorialPurgedCV, KFold, PurgedKFold, WalkForward, make_cv, purge


def _labels(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Irregular times and label lengths from 0 to 40 'hours' (so a fixed row count cannot purge right)."""
    rng = np.random.default_rng(seed)
    t0 = np.cumsum(rng.integers(1, 4, n))  # gaps of 1-3
    t1 = t0 + rng.integers(0, 41, n)
    return t0, t1


def _blocks(test: np.ndarray) -> list[np.ndarray]:
    return np.split(test, np.flatnonzero(np.diff(test) != 1) + 1)


def _check_purged(t0, t1, train, test, embargo):
    n = t0.size
    m = math.ceil(embargo * n)
    assert np.intersect1d(train, test).size == 0
    spans = [(t0[b[0]], t1[b].max()) for b in _blocks(test)]
    excluded = set(test.tolist())
    for start, end in spans:
        overlap = [i for i in range(n) if t0[i] <= end and t1[i] >= start]
        after = [i for i in range(n) if t0[i] > end][:m]
        excluded |= set(overlap) | set(after)
    # brute force: train is exactly every sample neither tested, overlapping, nor embargoed
    assert set(train.tolist()) == set(range(n)) - excluded
    for start, end in spans:
        assert not np.any((t0[train] <= end) & (t1[train] >= start))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("embargo", [0.0, 0.02])
def test_purged_kfold_brute_force(seed, embargo):
    t0, t1 = _labels(300, seed)
    splits = list(PurgedKFold(n_splits=5, embargo=embargo).split(t0, t1))
    assert len(splits) == 5
    tests = np.concatenate([te for _, te in splits])
    assert np.array_equal(np.sort(tests), np.arange(300))  # every sample tested once
    for train, test in splits:
        assert np.array_equal(test, np.arange(test[0], test[-1] + 1))  # contiguous
        _check_purged(t0, t1, train, test, embargo)


def test_purging_uses_label_end_times_not_a_row_count():
    # sample 0's label ends after sample 9 starts: a test block at 9.. must purge it, far beyond any
    # fixed count of rows, while sample 1 (a short label) stays
    t0 = np.arange(20)
    t1 = t0.copy()
    t1[0] = 12
    train, test = list(PurgedKFold(n_splits=2, embargo=0.0).split(t0, t1))[1]
    assert test.tolist() == list(range(10, 20))
    assert 0 not in train and 1 in train and train.tolist() == list(range(1, 10))
    # the embargo drops ceil(0.1 * 20) = 2 samples after the first test block's span
    train, test = list(PurgedKFold(n_splits=2, embargo=0.1).split(t0, t1))[0]
    assert test.tolist() == list(range(10))
    # block 0..9 spans [0, 12]: 10..12 overlap it, 13 and 14 are embargoed
    assert train.tolist() == list(range(15, 20))


def test_cpcv_counts_and_purging():
    t0, t1 = _labels(240, 3)
    cv = CombinatorialPurgedCV(n_groups=6, n_test_groups=2, embargo=0.01)
    splits = list(cv.split(t0, t1))
    assert len(splits) == cv.n_splits == math.comb(6, 2) == 15
    assert cv.paths == 5
    counts = np.zeros(240, dtype=int)
    for train, test in splits:
        counts[test] += 1
        _check_purged(t0, t1, train, test, 0.01)
    assert (counts == math.comb(5, 1)).all()  # each sample is tested in C(N-1, k-1) splits


def test_walk_forward_trains_only_on_the_past():
    t0, t1 = _labels(300, 4)
    splits = list(WalkForward(n_splits=4).split(t0, t1))
    assert len(splits) == 4
    for train, test in splits:
        assert train.size and (t1[train] < t0[test[0]]).all()  # every training label ended before the test
        assert train.max() < test[0]
    capped = list(WalkForward(n_splits=4, max_train=50).split(t0, t1))
    assert all(tr.size <= 50 for tr, _ in capped)


def test_naive_kfold_shuffles_and_does_not_purge():
    t0, t1 = _labels(100, 5)
    splits = list(KFold(n_splits=5, seed=1).split(t0, t1))
    tests = np.concatenate([te for _, te in splits])
    assert np.array_equal(np.sort(tests), np.arange(100))
    train, test = splits[0]
    assert train.size + test.size == 100  # nothing purged
    assert not np.array_equal(test, np.arange(test[0], test[0] + test.size))  # shuffled, not a block


def test_registry_and_errors():
    assert set(CV_SCHEMES.names()) == {"purged", "cpcv", "walk_forward", "naive"}
    assert make_cv("purged", n_splits=3) == PurgedKFold(3)
    with pytest.raises(ConfigError, match="no parameter"):
        make_cv("purged", groups=3)
    with pytest.raises(Exception, match="did you mean 'purged'"):
        make_cv("purge")
    with pytest.raises(DataError, match="time order"):
        list(PurgedKFold().split(np.array([3, 2, 1]), np.array([3, 2, 1])))
    with pytest.raises(ConfigError):
        CombinatorialPurgedCV(n_groups=3, n_test_groups=3)
    assert purge(np.arange(10), np.arange(10), np.array([4, 5])).tolist() == [0, 1, 2, 3, 6, 7, 8, 9]


def test_datetimes_are_accepted(eurusd):
    import polars as pl

    ts = eurusd["ts"].slice(0, 100)
    t1 = ts.shift(-3).fill_null(ts[-1])
    a = list(PurgedKFold(4, 0.0).split(ts, t1))
    b = list(PurgedKFold(4, 0.0).split(ts.to_numpy(), t1.to_numpy()))
    c = list(PurgedKFold(4, 0.0).split(np.arange(100), np.minimum(np.arange(100) + 3, 99)))
    for (x, y), (u, v), (p, q) in zip(a, b, c, strict=True):
        assert np.array_equal(x, u) and np.array_equal(y, v) and np.array_equal(x, p) and np.array_equal(y, q)
    assert isinstance(ts, pl.Series)
