"""Ranks of trials: by one objective (:func:`ranks_by`) or Pareto ranks over several (non-dominated
sorting, :func:`pareto_ranks`). Values are oriented so larger is better; NaN (undefined, e.g. a profit
factor without trades) is the worst, ``+inf`` (a profit factor without a losing trade) the best when
maximised."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["pareto_ranks", "oriented", "ranks_by"]


def oriented(values: np.ndarray, modes: Sequence[str]) -> np.ndarray:
    """``values`` (trials × objectives) turned so larger is better in every column; NaN -> -inf (worst)."""
    v = np.asarray(values, dtype=np.float64).reshape(len(values), len(modes)).copy()
    for j, mode in enumerate(modes):
        if mode not in ("max", "min"):
            raise ValueError(f"objective mode must be max or min, got {mode!r}")
        if mode == "min":
            v[:, j] = -v[:, j]
    v[np.isnan(v)] = -np.inf
    return v


def ranks_by(values: np.ndarray, mode: str) -> np.ndarray:
    """Rank (1 = best) of each value by one objective (``"max"``/``"min"``): ``+inf`` first when
    maximising (last when minimising), NaN last either way, ties by position (the combination order)."""
    raw = np.asarray(values, dtype=np.float64).ravel()
    v = oriented(raw.reshape(-1, 1), [mode])[:, 0]
    order = np.lexsort((np.arange(v.size), -v, np.isnan(raw)))  # defined first, best first, by position
    ranks = np.empty(v.size, dtype=np.int64)
    ranks[order] = np.arange(1, v.size + 1)
    return ranks


def pareto_ranks(values: np.ndarray, modes: Sequence[str]) -> np.ndarray:
    """Rank of each trial: 1 = non-dominated, 2 = non-dominated once rank 1 is removed, and so on.

    A trial dominates another when it is at least as good in every objective and better in one.
    """
    v = oriented(values, modes)
    n = v.shape[0]
    ranks = np.zeros(n, dtype=np.int64)
    if n == 0:
        return ranks
    ge = (v[:, None, :] >= v[None, :, :]).all(axis=2)
    gt = (v[:, None, :] > v[None, :, :]).any(axis=2)
    dominates = ge & gt  # dominates[i, j]: i dominates j
    left = np.ones(n, dtype=bool)
    rank = 0
    while left.any():
        rank += 1
        dominated = (dominates[left][:, left]).any(axis=0)
        idx = np.flatnonzero(left)[~dominated]
        ranks[idx] = rank
        left[idx] = False
    return ranks
