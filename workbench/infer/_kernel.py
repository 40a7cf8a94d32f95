"""Numba kernels of the search: every combination's entries and exits, matched against the real ones.

``score_kernel`` runs ``prange`` over the combinations of one strategy. For each it evaluates the
rules with the engine's own rule evaluator (:func:`workbench.backtest._kernel.signals_kernel`, the
four flags per bar, exactly what ``signals()`` returns), walks the position the way the engine's
simulation does without stops (an entry or reversal decided at a bar's close fills at the next bar's
open; an exit signal only closes; a signal on the last bar is never filled) and matches the entries
and exits it makes against the real ones on the fly: nothing per combination is kept but the counts.

Matching (``match_pairs`` and the kernel alike): events in time order, each candidate event takes the
earliest unmatched real event of the same side within ``tol`` bars (greedy, one-to-one). Only candidate
events inside ``[lo, hi]`` (the real trades' span, widened by ``tol``) are counted.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from workbench.backtest._kernel import signals_kernel

_NONE = 9  # no pending order


@njit(cache=True, inline="always")
def _take(bar, side, real_b, real_s, used, start, tol):
    """Index of the real event matched by a candidate event at ``bar`` on ``side`` (-1 = none) and the
    new scan start (the first real event not before ``bar - tol``)."""
    n = real_b.shape[0]
    while start < n and real_b[start] < bar - tol:
        start += 1
    j = start
    while j < n and real_b[j] <= bar + tol:
        if not used[j] and real_s[j] == side:
            used[j] = True
            return j, start
        j += 1
    return -1, start


@njit(cache=True, parallel=True)
def score_kernel(M, ci, cc, nc, rb, allow_long, allow_short, entry_b, entry_s, exit_b, exit_s, tol, lo, hi):
    """Per combination: (matched entries, candidate entries, matched exits, candidate exits)."""
    n_combos = ci.shape[0]
    n = M.shape[1]
    out = np.zeros((n_combos, 4), np.int64)
    for k in prange(n_combos):
        flags = signals_kernel(M, ci[k : k + 1], cc[k : k + 1], nc[k : k + 1], rb[k : k + 1])
        used_e = np.zeros(entry_b.shape[0], np.bool_)
        used_x = np.zeros(exit_b.shape[0], np.bool_)
        se_start = 0
        sx_start = 0
        tp_e = 0
        n_e = 0
        tp_x = 0
        n_x = 0
        pos = 0
        pending = _NONE
        for i in range(n):
            if pending != _NONE:
                tgt = pending
                pending = _NONE
                if pos != 0 and tgt != pos:
                    if lo <= i <= hi:
                        n_x += 1
                        j, sx_start = _take(i, pos, exit_b, exit_s, used_x, sx_start, tol)
                        if j >= 0:
                            tp_x += 1
                    pos = 0
                if tgt != 0 and pos == 0:
                    pos = tgt
                    if lo <= i <= hi:
                        n_e += 1
                        j, se_start = _take(i, pos, entry_b, entry_s, used_e, se_start, tol)
                        if j >= 0:
                            tp_e += 1
            le = flags[0, i]
            lx = flags[1, i]
            se = flags[2, i]
            sx = flags[3, i]
            tgt = pos
            if pos > 0 and (se or lx):
                tgt = 0
            elif pos < 0 and (le or sx):
                tgt = 0
            if le and allow_long and pos != 1:
                tgt = 1
            elif se and allow_short and pos != -1:
                tgt = -1
            if tgt != pos and i + 1 < n:
                pending = tgt
        out[k, 0] = tp_e
        out[k, 1] = n_e
        out[k, 2] = tp_x
        out[k, 3] = n_x
    return out


@njit(cache=True)
def match_pairs(real_b, real_s, cand_b, cand_s, tol):
    """For each real event (sorted by bar), the index of the candidate event matched to it (-1 = none).
    Candidates are taken in bar order (``cand_b`` sorted); see the module docstring."""
    used = np.zeros(real_b.shape[0], np.bool_)
    pair = np.full(real_b.shape[0], -1, np.int64)
    start = 0
    for c in range(cand_b.shape[0]):
        j, start = _take(cand_b[c], cand_s[c], real_b, real_s, used, start, tol)
        if j >= 0:
            pair[j] = c
    return pair
