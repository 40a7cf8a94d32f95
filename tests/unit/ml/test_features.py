"""Features: the look-ahead test (changing any bar after t never changes a feature at t), formulas against
pandas, the volume switch and features at trade entries."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from workbench.errors import DataError
from workbench.ml import FeatureSpec, build_features, feature_names, feature_set_id, features_at_entries

N = 1200  # > the default warm-up (200 bars) with room for several t after it


@pytest.fixture(scope="module")
def bars(eurusd) -> pl.DataFrame:
    return eurusd.slice(1000, N)


@pytest.fixture(scope="module")
def feats(bars) -> pl.DataFrame:
    return build_features(bars)


def _perturb_after(bars: pl.DataFrame, t: int, rng: np.random.Generator) -> pl.DataFrame:
    """A different future: every bar after row t gets new OHLCV (a consistent bar, new volume)."""
    k = bars.height - t - 1
    close = bars["close"].to_numpy().copy()
    f = np.exp(np.cumsum(rng.normal(0, 0.004, k)))
    new_close = close[t] * f
    new_open = np.r_[close[t], new_close[:-1]] * np.exp(rng.normal(0, 0.001, k))
    hi = np.maximum(new_open, new_close) * (1 + np.abs(rng.normal(0, 0.002, k)))
    lo = np.minimum(new_open, new_close) * (1 - np.abs(rng.normal(0, 0.002, k)))
    cols = {}
    for name, new in (("open", new_open), ("high", hi), ("low", lo), ("close", new_close)):
        a = bars[name].to_numpy().copy()
        a[t + 1 :] = new
        cols[name] = a
    v = bars["volume"].to_numpy().copy()
    v[t + 1 :] = rng.integers(0, 50_000, k)
    cols["volume"] = v
    return bars.with_columns(**{k2: pl.Series(k2, a) for k2, a in cols.items()})


def test_default_set_is_every_family(feats):
    names = feature_names()
    assert feats.columns == ["ts", *names]
    for family in ("ret_", "vol_cc_", "vol_pk_", "atr_", "rsi_", "zscore_", "dist_sma_", "dist_ema_", "donchian_",
                   "macd_hist", "hour", "weekday", "vratio_", "vz_"):  # fmt: skip
        assert any(n.startswith(family) for n in names), family
    # every feature is defined after the warm-up (the real EURUSD has volume)
    after = feats.slice(FeatureSpec().warm_up)
    assert after.null_count().row(0) == (0,) * len(feats.columns)


def test_no_lookahead_randomized(bars, feats):
    """For 12 random t (incl. in the warm-up): a different future leaves every feature at rows <= t equal,
    and so does cutting the series at t."""
    rng = np.random.default_rng(2024)
    ts = sorted({5, 150, 199, 200, N - 2, *rng.integers(0, N - 1, 7).tolist()})
    for t in ts:
        changed = build_features(_perturb_after(bars, t, rng))
        assert_frame_equal(changed.slice(0, t + 1), feats.slice(0, t + 1), check_exact=True)
        # the future really changed the features after t (the test is not vacuous)
        assert not changed.slice(t + 1).equals(feats.slice(t + 1))
        assert_frame_equal(build_features(bars.slice(0, t + 1)), feats.slice(0, t + 1), check_exact=True)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(t=st.integers(min_value=0, max_value=N - 2), seed=st.integers(0, 2**32 - 1))
def test_no_lookahead_property(bars, feats, t, seed):
    changed = build_features(_perturb_after(bars, t, np.random.default_rng(seed)))
    assert_frame_equal(changed.slice(0, t + 1), feats.slice(0, t + 1), check_exact=True)


def test_formulas_against_pandas(bars, feats):
    df = bars.to_pandas()
    c, h, lo, o = df["close"], df["high"], df["low"], df["open"]
    lr = np.log(c / c.shift(1))
    expect = {
        "ret_1": lr,
        "ret_24": np.log(c / c.shift(24)),
        "vol_cc_24": lr.rolling(24).std(ddof=0),
        "vol_pk_96": np.sqrt((np.log(h / lo) ** 2 / (4 * math.log(2))).rolling(96).mean()),
        "range": np.log(h / lo),
        "body": np.log(c / o),
        "dist_sma_50": c / c.rolling(50).mean() - 1,
        "dist_ema_12": c / c.ewm(span=12, adjust=False, min_periods=12).mean() - 1,
        "zscore_20": (c - c.rolling(20).mean()) / c.rolling(20).std(ddof=0),
        "donchian_20": (c - lo.rolling(20).min().shift(1)) / (h.rolling(20).max().shift(1) - lo.rolling(20).min().shift(1)) - 0.5,
        "vratio_24": df["volume"] / df["volume"].rolling(24).mean(),
        "hour": df["ts"].dt.hour.astype(float),
        "weekday": df["ts"].dt.weekday.astype(float),
    }  # fmt: skip
    for name, want in expect.items():
        got = feats[name].to_numpy()
        np.testing.assert_allclose(got, want.to_numpy(dtype=float), rtol=1e-7, atol=1e-12, err_msg=name)
    # RSI/ATR come from the engine's library (tested there against pandas); here: in range and scaled
    rsi = feats["rsi_14"].drop_nulls()
    assert rsi.min() >= 0 and rsi.max() <= 100
    tr = pd.concat([h - lo, (h - c.shift(1)).abs(), (lo - c.shift(1)).abs()], axis=1).max(axis=1)
    atr = tr.ewm(alpha=1 / 14, adjust=False, min_periods=14).mean() / c
    np.testing.assert_allclose(feats["atr_14"].to_numpy(), atr.to_numpy(), rtol=1e-9)


def test_volume_features_follow_the_schema(bars):
    without = build_features(bars.drop("volume"))
    assert without.columns == ["ts", *feature_names(volume=False)]
    assert not any(c.startswith(("vratio", "vz")) for c in without.columns)
    spec = FeatureSpec(returns=(1, 3), vol_windows=(10,), sma=(), ema=(), zscore=(), donchian=(), macd=None,
                       rsi=(), atr=(), calendar=False, bar_shape=False, volume=())  # fmt: skip
    assert build_features(bars, spec=spec).columns == ["ts", "ret_1", "ret_3", "vol_cc_10", "vol_pk_10"]
    assert feature_set_id(spec) != feature_set_id() and feature_set_id() == feature_set_id(FeatureSpec())
    assert FeatureSpec.from_dict(spec.to_dict()) == spec


def test_bad_bars_are_refused(bars):
    with pytest.raises(DataError, match="lack column"):
        build_features(bars.drop("close"))
    with pytest.raises(DataError, match="time order"):
        build_features(bars.reverse())


def test_features_at_entries_read_the_last_closed_bar(bars, feats):
    ts = bars["ts"]
    trades = pl.DataFrame(
        {
            "trade_id": ["a", "b", "c"],
            # at bar 300's open: bar 299 is the last closed; mid-bar 400: bar 399; before any bar closed
            "open_time": [ts[300], ts[400] + timedelta(minutes=30), ts[0]],
            "direction": ["long", "short", "long"],
        }
    )
    out = features_at_entries(bars, trades, features=feats)
    assert out["trade_id"].to_list() == ["a", "b", "c"]
    assert out["bar_ts"].to_list()[:2] == [ts[299], ts[399]]
    assert out["bar_ts"][2] is None
    row = feats.row(299, named=True)
    assert out.row(0, named=True)["dist_sma_20"] == row["dist_sma_20"]
    assert out.row(1, named=True)["ret_1"] == feats.row(399, named=True)["ret_1"]


def test_indicators_come_from_the_engine_library():
    """The features call the engine's indicator library (one library serves engine and ML)."""
    import inspect

    import workbench.ml.features as f

    src = inspect.getsource(f.build_features)
    for kernel in ("ind.rsi", "ind.atr", "ind.sma", "ind.ema", "ind.zscore", "ind.highest", "ind.macd"):
        assert kernel in src


def test_features_at_engine_trades(eurusd):
    """The engine's trades (entry_time = the open of the bar after the signal bar) read the signal bar."""
    from workbench.backtest import run

    result = run(eurusd, "sma_cross", {"fast": 10, "slow": 50})
    trades = result.trades
    out = features_at_entries(eurusd, trades)
    assert out.height == trades.height > 10
    signal_ts = eurusd["ts"].gather(trades["entry_bar"] - 1)
    assert out["bar_ts"].to_list() == signal_ts.to_list()
