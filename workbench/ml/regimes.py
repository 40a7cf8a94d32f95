"""Regimes: a Gaussian HMM with FORWARD-FILTERED state probabilities, and change points (ruptures).

**HMM.** Observations per bar: the 1-bar log return and the log of its rolling standard deviation over
``vol_window`` bars (both causal), standardised with the mean/std of the fitting rows. A
``GaussianHMM`` (hmmlearn, full covariances, ``random_state=seed``) is fitted on the rows up to
``fit_until``; its states are then ordered by their mean volatility (regime 0 = the calmest), so the
labels are stable across fits and seeds. The probabilities are the **forward filter**
``P(state_t | obs_1..t)``, computed here from the fitted ``startprob_``, ``transmat_`` and Gaussian
emission densities — never hmmlearn's ``predict``/``predict_proba``, which run forward-backward (or
Viterbi) and so condition on the whole series, the future included (hmmlearn issue #579). ``regime`` is
the most probable state at ``t`` given bars ``<= t``.

Fitting the parameters is a look-ahead too: with ``fit_until=None`` (the default of
:func:`hmm_regimes`) they are fitted on the whole series — fine for describing the past (a regime
breakdown of a finished backtest), not for a feature or a filter a strategy trades on. There, pass
``fit_until`` (a row count, a fraction of the rows, or a timestamp): parameters from that prefix only,
filtered forward after it, so a regime at ``t >= fit_until`` never depends on a later bar (the
look-ahead test checks it). :func:`fit_hmm` + :meth:`RegimeModel.filter` do the same in two steps
(fit once, filter new bars).

**Change points** (:func:`change_points`): PELT (ruptures) on the standardised log volatility — an
**ex-post** segmentation (each segment's boundaries use the whole series): for describing history only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
from numba import njit

from workbench.errors import ConfigError, DataError
from workbench.ml.features import bar_arrays

__all__ = ["RegimeModel", "fit_hmm", "hmm_regimes", "change_points", "regime_observations"]


def regime_observations(bars: pl.DataFrame, vol_window: int = 24) -> np.ndarray:
    """``(n, 2)``: the 1-bar log return and ``ln`` of its rolling population std over ``vol_window`` bars
    (NaN rows in the warm-up)."""
    from workbench.backtest.indicators import rolling_std

    c = bar_arrays(bars)["close"]
    r = np.full(c.shape[0], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        r[1:] = np.log(c[1:] / c[:-1])
        lv = np.log(rolling_std(r, vol_window))
    obs = np.column_stack([r, lv])
    obs[~np.isfinite(obs)] = np.nan
    return obs


def _gauss_loglik(x: np.ndarray, means: np.ndarray, covars: np.ndarray) -> np.ndarray:
    """``(n, k)`` log densities of full-covariance Gaussians; NaN rows give NaN."""
    n, d = x.shape
    out = np.empty((n, means.shape[0]))
    for s in range(means.shape[0]):
        chol = np.linalg.cholesky(covars[s])
        diff = (x - means[s]).T
        z = np.linalg.solve(chol, np.nan_to_num(diff))
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        out[:, s] = -0.5 * (d * math.log(2 * math.pi) + logdet + (z * z).sum(axis=0))
    out[np.isnan(x).any(axis=1)] = np.nan
    return out


@njit(cache=True)
def _forward(log_start, log_trans, logb):  # pragma: no cover - compiled
    n, k = logb.shape
    out = np.full((n, k), np.nan)
    prev = np.empty(k)
    cur = np.empty(k)
    started = False
    for t in range(n):
        valid = True
        for j in range(k):
            if logb[t, j] != logb[t, j]:
                valid = False
        if not started:
            if not valid:
                continue
            for j in range(k):
                cur[j] = log_start[j] + logb[t, j]
            started = True
        else:
            for j in range(k):
                m = -np.inf
                for i in range(k):
                    v = prev[i] + log_trans[i, j]
                    if v > m:
                        m = v
                acc = 0.0
                for i in range(k):
                    acc += math.exp(prev[i] + log_trans[i, j] - m)
                cur[j] = m + math.log(acc) + (logb[t, j] if valid else 0.0)
        m = -np.inf
        for j in range(k):
            if cur[j] > m:
                m = cur[j]
        acc = 0.0
        for j in range(k):
            acc += math.exp(cur[j] - m)
        norm = m + math.log(acc)
        for j in range(k):
            prev[j] = cur[j] - norm
            out[t, j] = math.exp(prev[j])
    return out


@dataclass(frozen=True)
class RegimeModel:
    """A fitted Gaussian HMM with states ordered by volatility (0 = calmest), and its observation scaling."""

    n_states: int
    vol_window: int
    startprob: np.ndarray = field(repr=False)
    transmat: np.ndarray = field(repr=False)
    means: np.ndarray = field(repr=False)
    covars: np.ndarray = field(repr=False)
    center: np.ndarray = field(repr=False)
    scale: np.ndarray = field(repr=False)
    fit_rows: int = 0
    fitted_until: datetime | None = None
    seed: int = 0

    def filter(self, bars: pl.DataFrame) -> pl.DataFrame:
        """``ts, regime, p_0..p_{k-1}``: forward-filtered state probabilities (bars ``<= t`` only)."""
        obs = (regime_observations(bars, self.vol_window) - self.center) / self.scale
        logb = _gauss_loglik(obs, self.means, self.covars)
        with np.errstate(divide="ignore"):
            probs = _forward(np.log(self.startprob), np.log(self.transmat), logb)
        ok = ~np.isnan(probs).any(axis=1)
        regime = np.where(ok, np.argmax(np.nan_to_num(probs, nan=-1.0), axis=1), -1)
        cols = {
            "ts": bars["ts"],
            "regime": pl.Series(regime, dtype=pl.Int8).set(pl.Series(~ok), None),
        }
        for j in range(self.n_states):
            cols[f"p_{j}"] = pl.Series(probs[:, j], dtype=pl.Float64, nan_to_null=True)
        return pl.DataFrame(cols)

    def describe(self) -> pl.DataFrame:
        """One row per regime: its mean return and volatility (unscaled: per bar) and persistence."""
        mean = self.means * self.scale + self.center
        return pl.DataFrame(
            {
                "regime": list(range(self.n_states)),
                "mean_return": mean[:, 0],
                "volatility": np.exp(mean[:, 1]),
                "stay_probability": np.diag(self.transmat),
            }
        )


def _prefix_rows(bars: pl.DataFrame, fit_until: Any) -> int:
    n = bars.height
    if fit_until is None:
        return n
    if isinstance(fit_until, bool):
        raise ConfigError("fit_until: a row count, a fraction in (0, 1) or a timestamp")
    if isinstance(fit_until, float) and 0 < fit_until < 1:
        return int(n * fit_until)
    if isinstance(fit_until, int | np.integer):
        return int(min(max(fit_until, 0), n))
    if isinstance(fit_until, str):
        try:
            fit_until = datetime.fromisoformat(fit_until)
        except ValueError:
            raise ConfigError(
                f"fit_until {fit_until!r}: expected an ISO timestamp such as 2017-10-01T00:00"
            ) from None
    ts = pl.Series([fit_until]).cast(pl.Datetime("us"))[0]
    return int(bars["ts"].search_sorted(ts, side="right"))


def fit_hmm(
    bars: pl.DataFrame,
    n_states: int = 3,
    *,
    seed: int = 0,
    fit_until: Any = None,
    vol_window: int = 24,
    n_iter: int = 100,
) -> RegimeModel:
    """Fit the HMM on the rows before ``fit_until`` (all rows when None); see the module docs."""
    from hmmlearn.hmm import GaussianHMM
    from threadpoolctl import threadpool_limits

    if n_states < 1:
        raise ConfigError(f"n_states must be >= 1, got {n_states}")
    rows = _prefix_rows(bars, fit_until)
    obs = regime_observations(bars.slice(0, rows), vol_window)
    train = obs[~np.isnan(obs).any(axis=1)]
    if train.shape[0] < 10 * n_states:
        raise DataError(
            f"{train.shape[0]} usable bars to fit a {n_states}-state HMM; fit on more bars (fit_until)",
            file="bars",
            where="regimes",
        )
    center, scale = train.mean(axis=0), train.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    z = (train - center) / scale
    hmm = GaussianHMM(
        n_components=n_states, covariance_type="full", n_iter=n_iter, random_state=seed, tol=1e-4
    )
    # tiny matrices: BLAS/OpenMP threads only contend (10x slower on a busy machine)
    with threadpool_limits(1):
        hmm.fit(z)
    order = np.argsort(hmm.means_[:, 1], kind="stable")  # by volatility: 0 = calmest
    ts_last = bars["ts"][rows - 1] if rows else None
    return RegimeModel(
        n_states=n_states,
        vol_window=vol_window,
        startprob=np.asarray(hmm.startprob_)[order],
        transmat=np.asarray(hmm.transmat_)[np.ix_(order, order)],
        means=np.asarray(hmm.means_)[order],
        covars=np.asarray(hmm.covars_)[order],
        center=center,
        scale=scale,
        fit_rows=rows,
        fitted_until=ts_last,
        seed=seed,
    )


def hmm_regimes(
    bars: pl.DataFrame,
    n_states: int = 3,
    *,
    seed: int = 0,
    fit_until: Any = None,
    vol_window: int = 24,
    n_iter: int = 100,
) -> pl.DataFrame:
    """``ts, regime, p_0..p_{n_states-1}``: :func:`fit_hmm` then :meth:`RegimeModel.filter` on all bars.
    The default ``fit_until=None`` fits on the whole series (descriptive); pass a prefix for trading."""
    model = fit_hmm(bars, n_states, seed=seed, fit_until=fit_until, vol_window=vol_window, n_iter=n_iter)
    return model.filter(bars)


def change_points(
    bars: pl.DataFrame,
    *,
    penalty: float | None = None,
    min_size: int = 24,
    vol_window: int = 24,
    jump: int = 5,
) -> pl.DataFrame:
    """``ts, segment, change`` — PELT (ruptures, least-squares cost) on the standardised log volatility;
    ``change`` marks the first bar of each new segment. ``penalty`` default ``3·ln(n)``. EX-POST: a
    boundary uses bars on both sides of it; describe history with it, do not trade on it."""
    import ruptures as rpt

    lv = regime_observations(bars, vol_window)[:, 1]
    ok = ~np.isnan(lv)
    first = int(np.argmax(ok)) if ok.any() else bars.height
    sig = lv[first:]
    sig = np.where(np.isnan(sig), np.nanmean(sig) if sig.size else 0.0, sig)
    segment = np.zeros(bars.height, dtype=np.int32)
    if sig.size >= 2 * min_size:
        z = (sig - sig.mean()) / (sig.std() or 1.0)
        pen = penalty if penalty is not None else 3.0 * math.log(z.size)
        ends = rpt.Pelt(model="l2", min_size=min_size, jump=jump).fit(z.reshape(-1, 1)).predict(pen=pen)
        for b in ends[:-1]:
            segment[first + b :] += 1
    change = np.zeros(bars.height, dtype=bool)
    change[1:] = segment[1:] != segment[:-1]
    return pl.DataFrame({"ts": bars["ts"], "segment": segment, "change": change})
