"""Regimes: the forward filter against hmmlearn itself (the smoothed posterior of the LAST observation is
the filtered one), the look-ahead test with parameters fitted on a fixed prefix, state order, change points."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from workbench.ml import change_points, fit_hmm, hmm_regimes
from workbench.ml.regimes import regime_observations

PREFIX = 1500


@pytest.fixture(scope="module")
def bars(eurusd) -> pl.DataFrame:
    return eurusd.slice(0, 2600)


@pytest.fixture(scope="module")
def model(bars):
    return fit_hmm(bars, 3, seed=0, fit_until=PREFIX, n_iter=30)


@pytest.fixture(scope="module")
def filtered(model, bars) -> pl.DataFrame:
    return model.filter(bars)


def _hmmlearn(model):
    from hmmlearn.hmm import GaussianHMM

    h = GaussianHMM(n_components=model.n_states, covariance_type="full")
    h.startprob_, h.transmat_, h.means_, h.covars_ = (
        model.startprob,
        model.transmat,
        model.means,
        model.covars,
    )
    h.n_features = model.means.shape[1]
    return h


def test_forward_filter_equals_hmmlearn_on_the_past_only(model, bars, filtered):
    z = (regime_observations(bars, model.vol_window) - model.center) / model.scale
    first = int(np.argmax(~np.isnan(z).any(axis=1)))
    ref = _hmmlearn(model)
    probs = filtered.select(pl.selectors.starts_with("p_")).to_numpy()
    for t in (first, first + 1, 500, PREFIX - 1, PREFIX, 2100, 2599):
        want = ref.predict_proba(z[first : t + 1])[-1]  # smoothed over obs <= t: its last row is filtered
        np.testing.assert_allclose(probs[t], want, rtol=1e-7, atol=1e-10)
    assert filtered["regime"][:first].null_count() == first
    np.testing.assert_allclose(probs[first:].sum(axis=1), 1.0)
    assert filtered["regime"].drop_nulls().to_numpy().tolist() == np.argmax(probs[first:], axis=1).tolist()


def _perturb_after(bars: pl.DataFrame, t: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    k = bars.height - t - 1
    scale = np.exp(np.cumsum(rng.normal(0, 0.01, k)))  # a much wilder future
    out = {c: bars[c].to_numpy().copy() for c in ("open", "high", "low", "close")}
    for c in out:
        out[c][t + 1 :] = out[c][t + 1 :] * scale
    return bars.with_columns(**{c: pl.Series(c, v) for c, v in out.items()})


def test_no_lookahead_with_parameters_fitted_on_a_prefix(bars, model, filtered):
    # the whole path once (hmm_regimes: fit on the prefix, filter everything) on a different future ...
    changed = _perturb_after(bars, PREFIX, 1)
    got = hmm_regimes(changed, 3, seed=0, fit_until=PREFIX, n_iter=30)
    assert_frame_equal(got.slice(0, PREFIX + 1), filtered.slice(0, PREFIX + 1), check_exact=True)
    assert not got.slice(PREFIX + 1).equals(filtered.slice(PREFIX + 1))  # the future did change something
    refit = fit_hmm(changed, 3, seed=0, fit_until=PREFIX, n_iter=30)
    np.testing.assert_array_equal(refit.transmat, model.transmat)  # the parameters saw the prefix only
    np.testing.assert_array_equal(refit.means, model.means)
    # ... and the filter for many t: a different future after t leaves every probability at <= t equal
    rng = np.random.default_rng(5)
    for t in (0, 100, PREFIX, 2300, *rng.integers(0, bars.height - 1, 6).tolist()):
        got = model.filter(_perturb_after(bars, int(t), int(t)))
        assert_frame_equal(got.slice(0, t + 1), filtered.slice(0, t + 1), check_exact=True)


def test_hmmlearn_smoothing_sees_the_future(model, bars):
    """Why the filter is hand-written (hmmlearn #579): predict_proba at t moves when bars after t move."""
    ref = _hmmlearn(model)
    t = 2300
    z = (regime_observations(bars, model.vol_window) - model.center) / model.scale
    z2 = (regime_observations(_perturb_after(bars, t, 1), model.vol_window) - model.center) / model.scale
    a, b = ref.predict_proba(z[30:])[: t - 30], ref.predict_proba(z2[30:])[: t - 30]
    assert np.abs(a - b).max() > 1e-3


def test_states_are_ordered_by_volatility_and_deterministic(bars, model):
    vol = model.describe()["volatility"].to_numpy()
    assert np.all(np.diff(vol) > 0)
    short = bars.slice(0, 800)
    other_seed = fit_hmm(short, 3, seed=1, n_iter=15).describe()["volatility"].to_numpy()
    assert np.all(np.diff(other_seed) > 0)  # labels mean the same thing whatever the seed found first
    whole = hmm_regimes(short, 2, n_iter=15)  # default: parameters from the whole series (descriptive)
    assert whole.columns == ["ts", "regime", "p_0", "p_1"] and whole.height == short.height
    assert_frame_equal(hmm_regimes(short, 2, n_iter=15), whole, check_exact=True)  # same seed, same regimes


def test_change_points_find_a_volatility_break():
    rng = np.random.default_rng(3)
    n = 1200
    vol = np.r_[np.full(600, 0.0005), np.full(600, 0.003)]
    close = 1.2 * np.exp(np.cumsum(rng.normal(0, 1, n) * vol))
    ts = pl.datetime_range(
        pl.datetime(2022, 1, 1), pl.datetime(2022, 1, 1) + pl.duration(hours=n - 1), "1h", eager=True
    )
    bars = pl.DataFrame({"ts": ts, "open": close, "high": close, "low": close, "close": close})
    out = change_points(bars, min_size=48)
    changes = out.filter(pl.col("change"))["ts"].to_list()
    idx = [ts.to_list().index(c) for c in changes]
    assert any(590 <= i <= 640 for i in idx), idx  # the break (+ the 24-bar vol window's lag)
    assert len(idx) <= 3
    assert out["segment"].is_sorted()


def test_fit_until_forms(bars):
    from workbench.ml.regimes import _prefix_rows

    ts = bars["ts"]
    assert _prefix_rows(bars, None) == bars.height
    assert _prefix_rows(bars, 0.5) == bars.height // 2
    assert _prefix_rows(bars, 700) == 700
    assert _prefix_rows(bars, ts[699]) == 700  # a timestamp: the bars up to and including it
    assert _prefix_rows(bars, ts[699].isoformat()) == 700
