"""Deflated Sharpe ratio and PBO (CSCV) against independent computations: the formulas written out here
with scipy.stats.norm, a brute-force CSCV over explicit return matrices, the paper's numerical example."""

from __future__ import annotations

import itertools
import math
from datetime import datetime

import numpy as np
import polars as pl
import pytest
from scipy import stats

from workbench.backtest import bars_from_pandas, run, sweep
from workbench.errors import ConfigError
from workbench.optimize.overfit import (
    PBO,
    assess,
    cscv_blocks,
    daily_returns,
    deflated_sharpe,
    expected_max_sharpe,
    overfitting,
    pbo_cscv,
)

EULER_MASCHERONI = 0.5772156649015329


def dsr_oracle(sr: float, trials: np.ndarray, t: int, skew: float, kurt: float) -> float:
    """Bailey & López de Prado (2014), eqs. for SR0 and PSR, per-period Sharpe ratios, kurtosis non-excess."""
    trials = trials[np.isfinite(trials)]
    n = trials.size
    g = EULER_MASCHERONI
    sr0 = math.sqrt(np.var(trials, ddof=1)) * (
        (1 - g) * stats.norm.ppf(1 - 1 / n) + g * stats.norm.ppf(1 - 1 / (n * math.e))
    )
    return stats.norm.cdf((sr - sr0) * math.sqrt(t - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2))


def _with_variance(n: int, variance: float, seed: int = 0) -> np.ndarray:
    z = np.random.default_rng(seed).normal(size=n)
    return (z - z.mean()) / z.std(ddof=1) * math.sqrt(variance)


# -- deflated Sharpe ratio -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_deflated_sharpe_equals_the_formula(seed):
    rng = np.random.default_rng(seed)
    trials = rng.normal(0.02, 0.03, size=int(rng.integers(3, 400)))
    trials[rng.random(trials.size) < 0.1] = np.nan  # undefined Sharpe ratios are not trials
    sr = float(np.nanmax(trials))
    t, skew, kurt = int(rng.integers(100, 3000)), float(rng.normal(0, 0.5)), float(rng.uniform(3, 8))
    assert deflated_sharpe(sr, trials, t, skew, kurt) == pytest.approx(
        dsr_oracle(sr, trials, t, skew, kurt), rel=1e-12, abs=1e-15
    )


def test_paper_numerical_example():
    """Bailey & López de Prado (2014), numerical example: N = 100 trials, V[SR_n] = 1/2 annualised,
    T = 1250 daily returns (5 years of 250), skew -3, kurtosis 10, an annualised SR of 2.5; the paper
    prints SR0 = 0.1132 (per day) and DSR = 0.9004."""
    per_year = 250
    trials = _with_variance(100, 0.5 / per_year)
    assert expected_max_sharpe(100, 0.5 / per_year) == pytest.approx(0.1132, abs=5e-5)
    assert deflated_sharpe(2.5 / math.sqrt(per_year), trials, 1250, -3.0, 10.0) == pytest.approx(
        0.9004, abs=5e-5
    )


def test_more_trials_or_more_spread_deflate_more():
    sr, t = 0.12, 1000
    by_n = [deflated_sharpe(sr, _with_variance(n, 0.002), t, 0.0, 3.0) for n in (2, 10, 100, 1000, 10_000)]
    assert all(a > b for a, b in itertools.pairwise(by_n))
    by_v = [deflated_sharpe(sr, _with_variance(100, v), t, 0.0, 3.0) for v in (1e-5, 1e-4, 1e-3, 5e-3)]
    assert all(a > b for a, b in itertools.pairwise(by_v))
    # non-normality lowers it too (for a positive Sharpe ratio); a longer record raises it
    base = deflated_sharpe(sr, _with_variance(100, 0.001), t, 0.0, 3.0)
    assert deflated_sharpe(sr, _with_variance(100, 0.001), t, -1.0, 8.0) < base
    assert deflated_sharpe(sr, _with_variance(100, 0.001), 4 * t, 0.0, 3.0) > base


def test_deflated_sharpe_errors():
    with pytest.raises(ConfigError, match="at least 2 trials"):
        deflated_sharpe(0.1, np.array([0.1, np.nan]), 100, 0.0, 3.0)
    with pytest.raises(ConfigError, match="kurtosis"):
        deflated_sharpe(0.5, np.array([0.1, 0.2]), 100, 2.0, 1.5)
    assert math.isnan(deflated_sharpe(math.nan, np.array([0.1, 0.2]), 100, 0.0, 3.0))


# -- PBO by CSCV -----------------------------------------------------------------------------------------


def pbo_brute(returns: np.ndarray, s: int) -> tuple[float, np.ndarray]:
    """CSCV as in Bailey et al. (2015) from a T × N returns matrix (NaN = no return that day): S row
    blocks, every S/2 of them in-sample, Sharpe = mean / std(ddof=1), undefined -> ranked last."""
    blocks = np.array_split(np.arange(returns.shape[0]), s)
    n = returns.shape[1]

    def sharpe(rows: np.ndarray) -> np.ndarray:
        out = np.full(n, -np.inf)
        for j in range(n):
            r = returns[rows, j]
            r = r[~np.isnan(r)]
            if r.size >= 2 and np.std(r, ddof=1) > 1e-12 * np.sqrt(np.mean(r * r)):
                out[j] = np.mean(r) / np.std(r, ddof=1)
        return out

    logits = []
    for ins in itertools.combinations(range(s), s // 2):
        is_rows = np.concatenate([blocks[b] for b in ins])
        oos_rows = np.concatenate([blocks[b] for b in range(s) if b not in ins])
        sr_is, sr_oos = sharpe(is_rows), sharpe(oos_rows)
        best = int(np.argmax(sr_is))
        omega = stats.rankdata(sr_oos)[best] / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
    logits = np.array(logits)
    return float(np.mean(logits <= 0)), logits


def to_moments(returns: np.ndarray, s: int) -> np.ndarray:
    out = np.zeros((returns.shape[1], s, 3))
    for b, rows in enumerate(np.array_split(np.arange(returns.shape[0]), s)):
        r = returns[rows]
        ok = ~np.isnan(r)
        r0 = np.where(ok, r, 0.0)
        out[:, b] = np.stack([ok.sum(0), r0.sum(0), (r0 * r0).sum(0)], axis=1)
    return out


@pytest.mark.parametrize("engine", ["numba", "numpy"])
@pytest.mark.parametrize(("seed", "s", "ragged"), [(0, 8, False), (1, 6, False), (2, 8, True), (3, 4, True)])
def test_pbo_equals_brute_force(seed, s, ragged, engine):
    rng = np.random.default_rng(seed)
    t, n = 240, 12
    returns = rng.normal(0.0005, 0.01, size=(t, n)) + rng.normal(0, 0.0005, size=n)
    if ragged:
        returns[150:, 3] = np.nan  # a run gone bust: its returns stop (fewer in some blocks)
        returns[:, 5] = 0.0  # flat: undefined Sharpe ratio everywhere, ranks last
        returns[:, 7] += 0.003  # the best, tied with trial 8: ties share their average rank
        returns[:, 8] = returns[:, 7]
        returns[:120, 9] += 0.02  # best in the first half, flat in the second: undefined out of sample
        returns[120:, 9] = 0.0
    got = pbo_cscv(to_moments(returns, s), engine=engine)
    want, logits = pbo_brute(returns, s)
    assert isinstance(got, PBO)
    assert (got.n_splits, got.n_trials, got.blocks) == (math.comb(s, s // 2), n, s)
    np.testing.assert_allclose(got.logits, logits, rtol=1e-9, atol=1e-12)
    assert got.pbo == want


def test_pbo_of_noise_is_about_a_half_and_of_a_real_edge_zero():
    rng = np.random.default_rng(7)
    noise = rng.normal(0.0, 0.01, size=(2000, 50))
    p = pbo_cscv(to_moments(noise, 16))
    assert p.n_splits == 12_870
    assert 0.35 <= p.pbo <= 0.65
    edge = noise.copy()
    edge[:, 0] += 0.005  # a daily Sharpe ratio of ~0.5 in every block: always best, in and out of sample
    assert pbo_cscv(to_moments(edge, 16)).pbo == 0.0


def _many_trials(seed: int, n: int, s: int, ragged: bool) -> np.ndarray:
    """Block moments of ``n`` noisy trials (a few with an edge), ``s`` blocks of 60 returns."""
    rng = np.random.default_rng(seed)
    count = np.full((n, s), 60.0)
    mu = rng.normal(0.0, 0.0004, size=(n, 1))
    sums = rng.normal(mu * 60, 0.01 * math.sqrt(60), size=(n, s))
    sumsq = 60 * 1e-4 * rng.uniform(0.8, 1.2, size=(n, s)) + sums**2 / 60
    if ragged:
        count[7, s // 2 :] = sums[7, s // 2 :] = sumsq[7, s // 2 :] = 0.0  # gone bust half-way
        count[11, 1:3] = [1.0, 0.0]  # one return, then none: undefined there
        sums[11, 1:3] = sumsq[11, 1:3] = 0.0
        sums[20], sumsq[20] = 0.0, 0.0  # flat: undefined everywhere
    sums[n - 1], sumsq[n - 1] = sums[n // 2], sumsq[n // 2]  # exact ties across tiles
    return np.stack([count, sums, sumsq], axis=2)


@pytest.mark.parametrize(
    ("seed", "n", "s", "ragged"), [(0, 1500, 16, False), (1, 1201, 10, True), (2, 40, 16, True)]
)
def test_numba_kernel_equals_the_numpy_version(seed, n, s, ragged):
    """The fused kernel (trials in tiles of 512, splits over the cores) gives the NumPy formulation's
    logits exactly (same operations in the same order), hence the same PBO."""
    m = _many_trials(seed, n, s, ragged)
    fast, ref = pbo_cscv(m, engine="numba"), pbo_cscv(m, engine="numpy")
    np.testing.assert_array_equal(fast.logits, ref.logits)  # NaN where NaN, bit for bit elsewhere
    assert (fast.pbo, fast.n_splits, fast.n_trials) == (ref.pbo, ref.n_splits, ref.n_trials)
    assert 0.0 < fast.pbo < 1.0


def test_pbo_errors():
    m = np.ones((5, 4, 3))
    for bad, what in (
        (np.ones((5, 3, 3)), "even"),
        (np.ones((1, 4, 3)), "2 trials"),
        (np.ones((5, 4)), "shape"),
    ):
        with pytest.raises(ConfigError, match=what):
            pbo_cscv(bad)
    m[0, 0, 1] = np.nan
    with pytest.raises(ConfigError, match="finite"):
        pbo_cscv(m)
    with pytest.raises(ConfigError, match="engine"):
        pbo_cscv(np.ones((5, 4, 3)), engine="cuda")


# -- the convenience on sweep rows -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def goog() -> pl.DataFrame:
    from backtesting.test import GOOG  # backtesting.py's packaged daily GOOG bars

    return bars_from_pandas(GOOG)


def test_overfitting_of_a_sweep(goog):
    grid = {"fast": [5, 10, 20, 30], "slow": [40, 60, 100]}
    rows = sweep(goog, "sma_cross", grid, blocks=8)
    best = int(rows["sharpe"].arg_max())
    params = {k: rows[k][best] for k in grid}
    returns = daily_returns(run(goog, "sma_cross", params).equity)
    out = overfitting(rows, best, returns=returns)

    per_day = rows["sharpe"].to_numpy() / math.sqrt(252)
    skew, kurt = stats.skew(returns), stats.kurtosis(returns, fisher=False)
    assert (out.n_trials, out.n_obs, out.blocks, out.n_splits) == (12, goog.height - 1, 8, 70)
    assert out.deflated_sharpe == pytest.approx(dsr_oracle(per_day[best], per_day, returns.size, skew, kurt))
    moments = rows["block_moments"].to_numpy().reshape(12, 8, 3)
    assert out.pbo == pbo_cscv(moments).pbo
    assert out.sharpe == pytest.approx(rows["sharpe"][best], rel=1e-12)
    assert not out.normal_assumed and out.skew == pytest.approx(skew)
    meta = out.to_dict()
    assert meta["pbo"] == out.pbo and "cscv" not in meta

    # without the returns: normal moments assumed, the count taken from the block moments
    normal = overfitting(rows, best)
    assert normal.normal_assumed and (normal.skew, normal.kurtosis) == (0.0, 3.0)
    assert normal.deflated_sharpe == pytest.approx(dsr_oracle(per_day[best], per_day, returns.size, 0.0, 3.0))
    # returns whose length differs from the chosen trial's count (not its returns) are refused
    with pytest.raises(ConfigError, match="returns given"):
        overfitting(rows, best, returns=returns[:-1])


def test_overfitting_without_block_moments_or_trials():
    rows = pl.DataFrame({"sharpe": [1.0, None, 0.5]})
    with pytest.raises(ConfigError, match="number of returns"):
        overfitting(rows, 0)
    out = overfitting(rows, 0, returns=np.random.default_rng(0).normal(0.001, 0.01, 500))
    assert out.pbo is None and out.n_trials == 2 and out.deflated_sharpe is not None
    assert (
        overfitting(rows, 1, returns=np.ones(3) * [1, 2, 3]).deflated_sharpe is None
    )  # chosen has no Sharpe


def test_monthly_bars_are_deflated_per_month_not_per_day():
    """On monthly bars the engine's Sharpe is × √12, so the per-period Sharpe ratios the deflated Sharpe
    ratio needs are ``sharpe / √12``; assess takes P = 12 from the equity curve's timestamps."""
    rng = np.random.default_rng(3)
    ts = pl.date_range(datetime(2000, 1, 1), datetime(2019, 12, 1), "1mo", eager=True).cast(pl.Datetime("us"))
    close = 100 * np.exp(np.cumsum(rng.normal(0.004, 0.045, ts.len())))
    monthly = pl.DataFrame(
        {"ts": ts, "open": close, "high": close * 1.02, "low": close * 0.98, "close": close}
    )
    assert cscv_blocks(monthly) == 16 and ts.len() - 1 == 239  # one return per bar
    grid = {"fast": [2, 3, 4, 6], "slow": [8, 10, 12]}
    rows = sweep(monthly, "sma_cross", grid, blocks=16)
    best = int(rows["sharpe"].arg_max())
    chosen = run(monthly, "sma_cross", {k: rows[k][best] for k in grid})
    assert chosen.annualization.periods_per_year == 12
    out = assess(rows, best, chosen.equity)
    assert out is not None and out.periods_per_year == 12.0
    returns = chosen.returns()
    per_month = rows["sharpe"].to_numpy() / math.sqrt(12)
    assert per_month[best] == pytest.approx(returns.mean() / returns.std(ddof=1), rel=1e-9)
    skew, kurt = stats.skew(returns), stats.kurtosis(returns, fisher=False)
    expect = dsr_oracle(per_month[best], per_month, returns.size, skew, kurt)
    assert out.deflated_sharpe == pytest.approx(expect, rel=1e-9)
    # deflating with √252 (the old bar-count convention) would give another answer
    wrong = rows["sharpe"].to_numpy() / math.sqrt(252)
    assert abs(dsr_oracle(wrong[best], wrong, returns.size, skew, kurt) - expect) > 1e-3
    assert out.sharpe == pytest.approx(rows["sharpe"][best], rel=1e-12)
