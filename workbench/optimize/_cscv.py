"""The CSCV kernel of :func:`workbench.optimize.overfit.pbo_cscv`, fused in Numba.

The NumPy formulation builds, for a chunk of splits, the (splits × trials) in-sample and out-of-sample
Sharpe matrices and ranks them; at 100,000 trials and S = 16 (12,870 splits) that streams ~10 GB through
memory. Here the splits are cut into parts (spread over the cores by ``prange``, handed out one at a
time) and each part walks the trials in cache-sized tiles, evaluating its splits on each tile, in two
passes:

1. per split, the in-sample best trial (first on a tie) and the out-of-sample best (for the mirrored
   split, whose halves are swapped), with the other half's Sharpe key at that trial;
2. per split, how many trials have an out-of-sample key below / equal to that value (and the mirrored
   counts), which gives the best trial's rank (the caller turns it into the logit with NumPy, as the
   NumPy version does).

Every Sharpe key is computed with the same floating-point operations, in the same order, as the NumPy
version (``_sharpe_key``: in-sample sums added block by block in split order, out-of-sample = total −
in-sample, ``nq − s²`` checked against ``1e-12 · nq``, ``s / √(nq − s²)`` and, for ragged counts,
``× √((n − 1) / n)``), so the ranks, hence the logits, are identical, not merely close.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_TILE = 512  # trials per tile: 16 blocks × (count, sum, sum of squares) × 512 × 8 B = 192 KiB (L2)


@njit(cache=True, inline="always", error_model="numpy")
def _key(n: float, s: float, q: float, common: bool, rtol: float) -> float:
    nq = q * n
    v = nq - s * s
    k = s / np.sqrt(v)
    if not common:
        k = k * np.sqrt((n - 1.0) / n)
    return k if v > rtol * nq and n >= 2.0 else -np.inf


@njit(cache=True, inline="always", error_model="numpy")
def _keys(
    cnt: np.ndarray,
    sm: np.ndarray,
    sq: np.ndarray,
    tot: np.ndarray,
    blocks: np.ndarray,
    lo: int,
    hi: int,
    common: bool,
    n_is_common: float,
    n_all: float,
    rtol: float,
    a_n: np.ndarray,
    a_s: np.ndarray,
    a_q: np.ndarray,
    k_is: np.ndarray,
    k_oos: np.ndarray,
) -> None:
    """Sharpe keys of trials ``[lo, hi)`` in-sample (``blocks``) and out-of-sample, into ``k_is`` and
    ``k_oos`` (rows are read as contiguous 1-D slices: those loops vectorise)."""
    width = hi - lo
    rs, rq = sm[blocks[0], lo:hi], sq[blocks[0], lo:hi]
    for t in range(width):
        a_s[t] = rs[t]
        a_q[t] = rq[t]
    if not common:
        rn = cnt[blocks[0], lo:hi]
        for t in range(width):
            a_n[t] = rn[t]
    for c in range(1, blocks.shape[0]):
        rs, rq = sm[blocks[c], lo:hi], sq[blocks[c], lo:hi]
        for t in range(width):
            a_s[t] += rs[t]
            a_q[t] += rq[t]
        if not common:
            rn = cnt[blocks[c], lo:hi]
            for t in range(width):
                a_n[t] += rn[t]
    tn, ts, tq = tot[0, lo:hi], tot[1, lo:hi], tot[2, lo:hi]
    if common:
        n_oos = n_all - n_is_common
        for t in range(width):
            k_is[t] = _key(n_is_common, a_s[t], a_q[t], True, rtol)
            k_oos[t] = _key(n_oos, ts[t] - a_s[t], tq[t] - a_q[t], True, rtol)
    else:
        for t in range(width):
            k_is[t] = _key(a_n[t], a_s[t], a_q[t], False, rtol)
            k_oos[t] = _key(tn[t] - a_n[t], ts[t] - a_s[t], tq[t] - a_q[t], False, rtol)


@njit(cache=True, parallel=True, error_model="numpy")
def cscv_ranks(
    cnt: np.ndarray,
    sm: np.ndarray,
    sq: np.ndarray,
    tot: np.ndarray,
    chosen: np.ndarray,
    common: bool,
    rtol: float,
    parts: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-sample rank of the in-sample best trial (1 = worst; ties share their average rank) for
    the half splits ``chosen`` (rows: in-sample blocks) and for their mirrors.

    ``cnt``, ``sm``, ``sq``: per block and trial (S, N) count, sum and sum of squares of the returns;
    ``tot``: (3, N) their totals over the blocks. The splits are cut into ``parts`` independent parts
    (each runs both passes over every tile on its own: no barrier between the passes), spread over
    the cores by ``prange``. Returns ``(ranks, mirrored)``, NaN where no trial is defined in the half
    the best one is chosen on."""
    n_trials = sm.shape[1]
    n_half = chosen.shape[0]
    n_blocks = cnt.shape[0]
    n_is = np.zeros(n_half)  # common counts: per split, from the first trial's
    n_all = 0.0
    if common:
        for b in range(n_blocks):
            n_all += cnt[b, 0]
        for j in range(n_half):
            for c in range(chosen.shape[1]):
                n_is[j] += cnt[chosen[j, c], 0]
    best_is = np.full(n_half, -np.inf)  # best in-sample key; its trial's out-of-sample key
    at_is = np.full(n_half, -np.inf)
    best_oos = np.full(n_half, -np.inf)  # mirrored: best out-of-sample key; its in-sample key
    at_oos = np.full(n_half, -np.inf)
    lt_is = np.zeros(n_half, dtype=np.int64)
    eq_is = np.zeros(n_half, dtype=np.int64)
    lt_oos = np.zeros(n_half, dtype=np.int64)
    eq_oos = np.zeros(n_half, dtype=np.int64)
    parts = max(1, min(parts, n_half))
    per = (n_half + parts - 1) // parts
    tile_n = _TILE
    for part in prange(parts):
        a_n, a_s, a_q = np.empty(tile_n), np.empty(tile_n), np.empty(tile_n)
        k_is, k_oos = np.empty(tile_n), np.empty(tile_n)
        j0, j1 = part * per, min(n_half, (part + 1) * per)
        # pass 0: the best trial of every split (first on a tie: tiles in order, strictly greater wins);
        # pass 1: how many trials rank below / equal to it in the other half
        for step in range(2):
            for lo in range(0, n_trials, tile_n):
                hi = min(lo + tile_n, n_trials)
                width = hi - lo
                for j in range(j0, j1):
                    _keys(cnt, sm, sq, tot, chosen[j], lo, hi, common, n_is[j], n_all, rtol,
                          a_n, a_s, a_q, k_is, k_oos)  # fmt: skip
                    if step == 0:
                        bi, ai, bo, ao = best_is[j], at_is[j], best_oos[j], at_oos[j]
                        for t in range(width):
                            if k_is[t] > bi:
                                bi = k_is[t]
                                ai = k_oos[t]
                            if k_oos[t] > bo:
                                bo = k_oos[t]
                                ao = k_is[t]
                        best_is[j], at_is[j], best_oos[j], at_oos[j] = bi, ai, bo, ao
                    else:
                        v, w = at_is[j], at_oos[j]
                        l1 = e1 = l2 = e2 = 0
                        for t in range(width):
                            l1 += k_oos[t] < v
                            e1 += k_oos[t] == v
                            l2 += k_is[t] < w
                            e2 += k_is[t] == w
                        lt_is[j] += l1
                        eq_is[j] += e1
                        lt_oos[j] += l2
                        eq_oos[j] += e2
    # ranks as in the NumPy version: below + (equal + 1) / 2; NaN where the best key is -inf (no trial
    # is defined in that half)
    ranks = np.empty(n_half)
    mirrored = np.empty(n_half)
    for j in range(n_half):
        ranks[j] = np.nan if best_is[j] == -np.inf else lt_is[j] + (eq_is[j] + 1) / 2.0
        mirrored[j] = np.nan if best_oos[j] == -np.inf else lt_oos[j] + (eq_oos[j] + 1) / 2.0
    return ranks, mirrored
