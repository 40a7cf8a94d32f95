"""Overfitting checks of an optimisation: the deflated Sharpe ratio and the probability of backtest
overfitting (PBO) by combinatorially symmetric cross-validation (CSCV).

* :func:`deflated_sharpe` — Bailey & López de Prado (2014), "The Deflated Sharpe Ratio: Correcting for
  Selection Bias, Backtest Overfitting and Non-Normality": ``DSR = PSR(SR0*)``, the probability that the
  chosen trial's true Sharpe ratio exceeds the Sharpe ratio the best of ``N`` skill-less trials is
  expected to reach, ``SR0* = √V[SR_n] · ((1 − γ) Z⁻¹(1 − 1/N) + γ Z⁻¹(1 − 1/(N e)))`` (γ the
  Euler–Mascheroni constant), with ``PSR(SR*) = Z((SR − SR*) √(T − 1) / √(1 − γ3 SR + (γ4 − 1)/4 SR²))``.
* :func:`pbo_cscv` — Bailey, Borwein, López de Prado & Zhu (2015), "The Probability of Backtest
  Overfitting": the ``S`` time blocks are split every way into two halves (in-sample / out-of-sample);
  for each split the trial best in-sample is ranked out-of-sample; PBO is the share of splits where it
  ranks at or below the median (logit ``λ <= 0``).
* :func:`overfitting` — both for stored trial rows (``sharpe`` and ``block_moments`` columns of
  :func:`workbench.backtest.sweep` with ``blocks=S``), as an :class:`Overfit`.

Conventions:

* **Per period, not annualised.** :func:`deflated_sharpe` takes Sharpe ratios per return period:
  ``mean / std(ddof=1)`` of the engine's period returns (daily returns of the marked-to-market equity,
  or one per bar when the bars are coarser than a day: :func:`workbench.backtest.annualization`). The
  engine's ``sharpe`` column is annualised as ``mean / std × √P`` with ``P`` chosen from the bars (252,
  365, 52, 12 ...), so a per-period Sharpe is ``sharpe / √P``; :func:`overfitting` does that division
  with ``periods_per_year`` (:func:`assess` takes ``P`` from the chosen trial's equity curve, so monthly
  bars are deflated with √12, never √252) and reports its Sharpe ratios annualised again, like the
  engine.
* ``kurtosis`` is the plain (non-excess) kurtosis: 3 for normal returns. :func:`overfitting` estimates
  skew and kurtosis with the biased moment estimators (``scipy.stats.skew`` / ``kurtosis(fisher=False)``;
  the normal distribution's functions are the standard library's ``statistics.NormalDist``) from the chosen trial's period returns when it is given them (:func:`daily_returns` of
  ``workbench.backtest.run(...).equity``); without them it assumes normal returns (skew 0, kurtosis 3)
  and says so (``normal_assumed``). The block moments (count, sum, sum of squares) give the number of
  observations, the mean and the variance, but not the third and fourth moments.
* ``N`` (trials) = the trials with a finite Sharpe ratio; ``V[SR_n]`` = their sample variance
  (``ddof=1``). The null hypothesis is the paper's: all trials have a true Sharpe ratio of 0, so
  ``SR0*`` does not add the trials' mean Sharpe ratio (López de Prado's later variant does).
* CSCV performance = the Sharpe ratio (per period) of the period returns of the pooled blocks, from the
  pooled count / sum / sum of squares. A trial whose Sharpe ratio is undefined in a half (fewer than two
  returns, or zero variance) ranks last there (ties share their average rank); it is never the
  in-sample best unless every trial is undefined, and then the split is left out (``n_splits`` counts
  the splits used). The best in-sample trial is the first one on a tie. Relative rank
  ``ω = rank / (N + 1)`` with rank 1 = worst out-of-sample, ``λ = ln(ω / (1 − ω))``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl

from workbench.backtest import annualization, period_returns
from workbench.errors import ConfigError

__all__ = [
    "EULER_GAMMA",
    "PBO",
    "Overfit",
    "daily_returns",
    "deflated_sharpe",
    "expected_max_sharpe",
    "overfitting",
    "pbo_cscv",
    "assess",
    "cscv_blocks",
    "CSCV_BLOCKS",
]

EULER_GAMMA = 0.5772156649015329

_MAX_ELEMENTS = 1 << 16  # trials × splits per CSCV chunk (working arrays of 512 KiB: cache-sized)
_VAR_RTOL = 1e-12  # variance below this fraction of the mean square = zero variance (rounding)


_NORMAL = NormalDist()  # the standard normal's cdf / inverse cdf (no scipy: 0.5-2 s of imports)


def _skew_kurtosis(r: np.ndarray) -> tuple[float, float]:
    """The biased moment estimators ``m3 / m2^1.5`` and ``m4 / m2^2`` (``scipy.stats.skew`` and
    ``kurtosis(fisher=False)``, same arithmetic); NaN when the returns do not vary."""
    d = r - r.mean()
    d2 = d * d
    m2 = float(d2.mean())
    if not m2 > (np.finfo(np.float64).resolution * 10 * float(r.mean())) ** 2:  # scipy's "identical"
        return math.nan, math.nan
    return float((d2 * d).mean()) / m2**1.5, float((d2 * d2).mean()) / (m2 * m2)


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """``SR0*``: the expected maximum of ``n_trials`` Sharpe ratios drawn around 0 with ``variance``
    (same units as the Sharpe ratios: per period in :func:`deflated_sharpe`)."""
    if n_trials < 2:
        raise ConfigError(f"the expected maximum Sharpe needs at least 2 trials, got {n_trials}")
    if not variance >= 0:
        raise ConfigError(f"the variance of the trials' Sharpe ratios must be >= 0, got {variance!r}")
    z = (1.0 - EULER_GAMMA) * _NORMAL.inv_cdf(1.0 - 1.0 / n_trials) + EULER_GAMMA * _NORMAL.inv_cdf(
        1.0 - 1.0 / (n_trials * math.e)
    )
    return math.sqrt(variance) * float(z)


def deflated_sharpe(
    sharpe: float, trial_sharpes: np.ndarray, n_obs: int, skew: float, kurtosis: float
) -> float:
    """The deflated Sharpe ratio (a probability in [0, 1]) of a trial with ``sharpe`` chosen among
    ``trial_sharpes`` (all of them, the chosen one included; non-finite values are not trials).

    Every Sharpe ratio is **per period** (not annualised), estimated from ``n_obs`` returns whose skew
    and (non-excess, normal = 3) ``kurtosis`` are given. NaN when ``sharpe`` is not finite.
    """
    sr = np.asarray(trial_sharpes, dtype=np.float64).ravel()
    sr = sr[np.isfinite(sr)]
    if sr.size < 2:
        raise ConfigError(
            f"the deflated Sharpe ratio needs at least 2 trials with a Sharpe ratio, got {sr.size}"
        )
    if n_obs < 2:
        raise ConfigError(f"the deflated Sharpe ratio needs at least 2 returns, got n_obs={n_obs}")
    if not math.isfinite(sharpe):
        return math.nan
    sr0 = expected_max_sharpe(sr.size, float(np.var(sr, ddof=1)))
    denom = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if not (kurtosis >= 1.0 + skew * skew and denom > 0):  # every distribution has kurtosis >= 1 + skew²
        raise ConfigError(f"skew={skew!r}, kurtosis={kurtosis!r}: not moments of a distribution")
    return float(_NORMAL.cdf((sharpe - sr0) * math.sqrt(n_obs - 1) / math.sqrt(denom)))


@dataclass(frozen=True)
class PBO:
    """The outcome of :func:`pbo_cscv`: ``pbo`` = share of the ``n_splits`` splits with logit <= 0;
    ``logits[i]`` is split ``i``'s λ, the splits in ``itertools.combinations(range(blocks), blocks // 2)``
    order (the in-sample blocks; NaN for a split left out)."""

    pbo: float
    logits: np.ndarray = field(repr=False, compare=False)
    n_splits: int
    n_trials: int
    blocks: int


def _sharpe_key(n: np.ndarray, s: np.ndarray, q: np.ndarray, common: bool) -> np.ndarray:
    """Per-period Sharpe ratios from pooled (count, sum, sum of squares), ``-inf`` where undefined; with
    ``common`` (one count per row, ``n`` of shape (rows, 1)) only an order-keeping transform of them,
    ``s / √(n q − s²) = Sharpe × √(n / (n − 1))``, enough to rank the trials of a row."""
    with np.errstate(divide="ignore", invalid="ignore"):
        nq = q * n
        key = nq - s * s  # n × the sum of squared deviations
        bad = ~(key > _VAR_RTOL * nq)
        np.sqrt(key, out=key)
        np.divide(s, key, out=key)
        if not common:
            key *= np.sqrt((n - 1) / n)
    if (n < 2).any():
        bad |= n < 2
    key[bad] = -np.inf
    return key


def _relative_logits(sr_is: np.ndarray, sr_oos: np.ndarray) -> np.ndarray:
    """λ of each row (a split): the in-sample best trial's out-of-sample rank; NaN if none is defined."""
    rows = np.arange(sr_is.shape[0])
    best = np.argmax(sr_is, axis=1)
    v = sr_oos[rows, best][:, None]
    rank = np.count_nonzero(sr_oos < v, axis=1) + (np.count_nonzero(sr_oos == v, axis=1) + 1) / 2.0
    omega = rank / (sr_is.shape[1] + 1)
    logits = np.log(omega / (1.0 - omega))
    logits[sr_is[rows, best] == -np.inf] = np.nan
    return logits


def pbo_cscv(moments: np.ndarray, *, engine: str = "numba", max_elements: int = _MAX_ELEMENTS) -> PBO:
    """Probability of backtest overfitting by CSCV from per-block return moments.

    ``moments``: shape (N trials, S blocks, 3), per trial and time block ``(count, sum r, sum r²)`` of
    its period returns (:func:`workbench.backtest.sweep` with ``blocks=S``, column ``block_moments``
    reshaped). ``S`` must be even; all ``C(S, S/2)`` splits are used (S = 16: 12 870). A split and its
    complement share the same two Sharpe matrices, so half of them are computed.

    ``engine``: ``"numba"`` (default) = the fused, tiled kernel of :mod:`workbench.optimize._cscv` on
    every core (100,000 trials × 12,870 splits in a few seconds); ``"numpy"`` = the reference
    formulation, ``max_elements`` trials × splits at a time (memory stays around 10 such float64
    arrays; ~15 s for 100,000 trials). Both compute every Sharpe key with the same operations in the
    same order: the logits are equal.
    """
    if engine not in ("numba", "numpy"):
        raise ConfigError(f"pbo_cscv: engine must be 'numba' or 'numpy', got {engine!r}")
    m = np.asarray(moments, dtype=np.float64)
    if m.ndim != 3 or m.shape[2] != 3:
        raise ConfigError(f"moments must have shape (trials, blocks, 3), got {m.shape}")
    n_trials, n_blocks = m.shape[0], m.shape[1]
    if n_trials < 2:
        raise ConfigError(f"PBO needs at least 2 trials, got {n_trials}")
    if n_blocks < 2 or n_blocks % 2:
        raise ConfigError(f"PBO needs an even number of blocks >= 2, got {n_blocks}")
    if not np.isfinite(m).all():
        raise ConfigError("moments must be finite (a trial without returns has count 0, not NaN)")
    splits = list(itertools.combinations(range(n_blocks), n_blocks // 2))
    index = {c: i for i, c in enumerate(splits)}
    # the splits holding block 0 in-sample; their complements are the other half
    half = [i for i, c in enumerate(splits) if c[0] == 0]
    mirror = np.array([index[tuple(sorted(set(range(n_blocks)) - set(splits[i])))] for i in half])
    chosen = np.array([splits[i] for i in half], dtype=np.intp)  # (splits / 2, S / 2)
    per_block = [np.ascontiguousarray(m[:, :, j].T) for j in range(3)]  # count, sum, sumsq: (S, N)
    tot = m.sum(axis=1)  # (N, 3)
    # usually every trial has the same daily returns per block (only a run gone bust has fewer)
    common = bool((per_block[0] == per_block[0][:, :1]).all())
    logits = np.empty(len(splits))
    if engine == "numba":
        import numba

        from workbench.optimize._cscv import cscv_ranks

        cnt, sm, sq = per_block
        tot_t = np.ascontiguousarray(tot.T)
        parts = 8 * numba.get_num_threads()  # handed out one at a time: a busy core takes fewer
        with numba.parallel_chunksize(1):
            rank, mirrored = cscv_ranks(cnt, sm, sq, tot_t, chosen, common, _VAR_RTOL, parts)
        logits[half] = rank
        logits[mirror] = mirrored
        omega = logits / (n_trials + 1)
        logits = np.log(omega / (1.0 - omega))  # as _relative_logits; NaN stays NaN
    else:
        step = max(1, int(max_elements) // n_trials)
        for a in range(0, len(half), step):
            b = min(a + step, len(half))
            sel = chosen[a:b]
            pooled = []
            for j, x in enumerate(per_block):  # in-sample sums: S/2 gathered rows added (no BLAS threads)
                if j == 0 and common:
                    acc = x[:, 0][sel].sum(axis=1, keepdims=True)
                else:
                    acc = x[sel[:, 0]]
                    for col in range(1, sel.shape[1]):
                        acc += x[sel[:, col]]
                pooled.append((acc, (tot[0, 0] if common and j == 0 else tot[:, j]) - acc))
            (n_is, n_oos), (s_is, s_oos), (q_is, q_oos) = pooled
            sr_is = _sharpe_key(n_is, s_is, q_is, common)
            sr_oos = _sharpe_key(n_oos, s_oos, q_oos, common)
            logits[half[a:b]] = _relative_logits(sr_is, sr_oos)
            logits[mirror[a:b]] = _relative_logits(sr_oos, sr_is)
    used = ~np.isnan(logits)
    if not used.any():
        raise ConfigError("PBO: no trial has a defined Sharpe ratio in any half of the blocks")
    logits.setflags(write=False)
    return PBO(
        pbo=float(np.mean(logits[used] <= 0.0)),
        logits=logits,
        n_splits=int(used.sum()),
        n_trials=n_trials,
        blocks=n_blocks,
    )


def daily_returns(equity: pl.DataFrame) -> np.ndarray:
    """The returns the engine's ``sharpe`` is computed from, out of an equity curve (``ts, equity``, e.g.
    ``workbench.backtest.run(...).equity``): :func:`workbench.backtest.period_returns` (daily returns
    of the marked-to-market equity, or one per bar for bars coarser than a day; the name is kept)."""
    return period_returns(equity)


@dataclass(frozen=True)
class Overfit:
    """Overfitting checks of one chosen trial among ``n_trials`` (see the module docstring).

    ``sharpe`` and ``expected_max_sharpe`` (``SR0*``) are annualised like the engine's ``sharpe``
    (× √``periods_per_year``); ``deflated_sharpe`` is a probability; ``pbo`` a share of splits. A value
    that cannot be computed is None: the deflated Sharpe ratio without a chosen Sharpe ratio or with
    fewer than 2 trials, the PBO without ``block_moments`` (or when no trial has a Sharpe ratio).
    """

    deflated_sharpe: float | None
    pbo: float | None
    n_trials: int
    sharpe: float | None
    expected_max_sharpe: float | None
    n_obs: int
    skew: float
    kurtosis: float
    normal_assumed: bool
    blocks: int | None
    n_splits: int | None
    periods_per_year: float
    cscv: PBO | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (no logits), e.g. for an optimisation's ``meta``."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name == "cscv":
                continue
            v = getattr(self, name)
            out[name] = None if isinstance(v, float) and not math.isfinite(v) else v
        return out


def overfitting(
    rows: pl.DataFrame,
    best_index: int,
    *,
    returns: np.ndarray | None = None,
    periods_per_year: float = 252.0,
) -> Overfit:
    """Deflated Sharpe ratio of the trial in row ``best_index`` of ``rows`` and the PBO of the search.

    ``rows``: one row per trial, with the engine's annualised ``sharpe`` (null = undefined) and, for
    the PBO, ``block_moments`` (``sweep(..., blocks=S)``; null rows are left out). ``returns``: the
    chosen trial's period returns (:func:`daily_returns` of its ``run(...).equity``) for skew and
    kurtosis; without them normal returns are assumed. The number of returns comes from the chosen
    row's block moments, else from ``returns``; when both are there they must agree (else the returns
    are not that trial's). ``periods_per_year``: the engine's annualisation of ``sharpe`` on these
    bars (``workbench.backtest.annualization(bars).periods_per_year``; 252 for daily returns of a
    market closed at weekends, the default).
    """
    if "sharpe" not in rows.columns:
        raise ConfigError("overfitting: rows lack the 'sharpe' column")
    if not 0 <= best_index < rows.height:
        raise ConfigError(f"overfitting: best_index {best_index} is outside the {rows.height} rows")
    scale = math.sqrt(periods_per_year)
    trial_sr = rows["sharpe"].cast(pl.Float64).fill_null(math.nan).to_numpy() / scale
    finite = int(np.isfinite(trial_sr).sum())
    chosen = float(trial_sr[best_index])

    moments = None  # (rows with block moments, S, 3)
    n_obs = None
    if "block_moments" in rows.columns:
        col = rows["block_moments"]
        width = col.dtype.size if isinstance(col.dtype, pl.Array) else 0
        if not width or width % 3:
            raise ConfigError(f"overfitting: block_moments must be an Array of 3 × S floats, got {col.dtype}")
        present = ~col.is_null().to_numpy()
        moments = np.asarray(col.filter(present).to_numpy(), dtype=np.float64).reshape(-1, width // 3, 3)
        if present[best_index]:
            n_obs = int(round(moments[int(present[:best_index].sum()), :, 0].sum()))
    if returns is not None:
        r = np.asarray(returns, dtype=np.float64).ravel()
        if n_obs is not None and r.size != n_obs:
            raise ConfigError(
                f"overfitting: {r.size} returns given but the chosen trial's block moments count {n_obs}"
            )
        n_obs = r.size
        skew, kurt = _skew_kurtosis(r)
        if not (math.isfinite(skew) and math.isfinite(kurt)):
            raise ConfigError("overfitting: the returns have no skew/kurtosis (fewer than 2 distinct values)")
        normal = False
    else:
        skew, kurt, normal = 0.0, 3.0, True
    if n_obs is None:
        raise ConfigError("overfitting: the number of returns is unknown: give returns= or block_moments")

    dsr = sr0 = None
    if finite >= 2 and math.isfinite(chosen) and n_obs >= 2:
        dsr = deflated_sharpe(chosen, trial_sr, n_obs, skew, kurt)
        sr0 = expected_max_sharpe(finite, float(np.var(trial_sr[np.isfinite(trial_sr)], ddof=1))) * scale

    # no trial with a Sharpe ratio at all (e.g. none traded): nothing to rank, no PBO
    cscv = pbo_cscv(moments) if moments is not None and moments.shape[0] >= 2 and finite else None
    return Overfit(
        deflated_sharpe=dsr,
        pbo=cscv.pbo if cscv else None,
        n_trials=finite,
        sharpe=chosen * scale if math.isfinite(chosen) else None,
        expected_max_sharpe=sr0,
        n_obs=n_obs,
        skew=skew,
        kurtosis=kurt,
        normal_assumed=normal,
        blocks=cscv.blocks if cscv else None,
        n_splits=cscv.n_splits if cscv else None,
        periods_per_year=float(periods_per_year),
        cscv=cscv,
    )


# -- for the optimisers -------------------------------------------------------------------------------

CSCV_BLOCKS = 16  # S: C(16, 8) = 12,870 splits (Bailey et al. use S = 16)


def cscv_blocks(bars: pl.DataFrame, most: int = CSCV_BLOCKS) -> int:
    """The ``blocks=S`` a search over ``bars`` should ask the sweep for: ``most`` (16), fewer when the
    bars hold fewer than ``2 × most`` period returns (S even, at least 2), 0 (no PBO) under 4 returns.
    Period returns as the engine counts them (:func:`workbench.backtest.annualization`: periods with
    bars - 1)."""
    if bars.height < 2:
        return 0
    n_returns = annualization(bars).returns
    s = min(most, n_returns // 2)
    s -= s % 2
    return s if s >= 2 else 0


def assess(rows: pl.DataFrame, best_index: int, equity: pl.DataFrame) -> Overfit | None:
    """:func:`overfitting` of a search's trials ``rows`` (``sharpe``, optionally ``block_moments``) with
    the chosen trial's period returns from its ``equity`` curve (``workbench.backtest.run(...).equity``
    on the bars it was chosen on), de-annualised with the engine's ``periods_per_year`` for those bars.
    None when the chosen trial has no returns to judge (fewer than two periods), so the store keeps
    nulls rather than a guess."""
    returns = daily_returns(equity)
    if returns.size < 2 or np.unique(returns).size < 2:
        return None
    ppy = annualization(equity).periods_per_year
    return overfitting(rows, best_index, returns=returns, periods_per_year=ppy)
