"""Indicators against pandas (the reference the module docstring promises)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.backtest import indicators as ind


@pytest.fixture(scope="module")
def series(pandas_data) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    walk = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 20_000)))
    flat = np.repeat([1.0, 2.0, 2.0, 1.5, 1.5, 1.5], 7)  # runs of equal values
    return {
        "EURUSD": pandas_data["EURUSD"].Close.to_numpy(float),
        "GOOG": pandas_data["GOOG"].Close.to_numpy(float),
        "walk": walk,
        "flat": flat,
    }


WINDOWS = [1, 2, 3, 5, 10, 20, 50, 200]


def test_sma_is_pandas_rolling_mean_bit_for_bit(series):
    for x in series.values():
        for n in WINDOWS:
            np.testing.assert_array_equal(ind.sma(x, n), pd.Series(x).rolling(n).mean().to_numpy())


def test_ema_is_pandas_ewm_bit_for_bit(series):
    for x in series.values():
        for n in WINDOWS:
            expected = pd.Series(x).ewm(span=n, adjust=False, min_periods=n).mean().to_numpy()
            np.testing.assert_array_equal(ind.ema(x, n), expected)


def test_rma_and_rsi(series):
    x = series["GOOG"]
    for n in (2, 14, 30):
        np.testing.assert_array_equal(
            ind.rma(x, n), pd.Series(x).ewm(alpha=1 / n, adjust=False, min_periods=n).mean().to_numpy()
        )
        d = pd.Series(x).diff()
        g = d.clip(lower=0).ewm(alpha=1 / n, adjust=False, min_periods=n).mean()
        lo = (-d).clip(lower=0).ewm(alpha=1 / n, adjust=False, min_periods=n).mean()
        expected = (100 - 100 / (1 + g / lo)).to_numpy()
        np.testing.assert_allclose(ind.rsi(x, n), expected, rtol=1e-12, equal_nan=True)
        assert np.isnan(ind.rsi(x, n)[n - 1]) and not np.isnan(ind.rsi(x, n)[n])
    up = np.arange(1.0, 40.0)
    assert ind.rsi(up, 14)[-1] == 100.0  # no losses
    assert ind.rsi(np.full(30, 5.0), 14)[-1] == 50.0  # no change at all


def test_rolling_std_and_zscore(series):
    for name, x in series.items():
        for n in (2, 5, 20, 100):
            expected = pd.Series(x).rolling(n).std(ddof=0).to_numpy()
            got = ind.rolling_std(x, n)
            assert np.array_equal(np.isnan(got), np.isnan(expected))
            # pandas leaves ~1e-9 rounding noise where a window is flat; we return exactly 0 there
            np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-8 * np.nanmax(x), err_msg=name)
    x = series["GOOG"]
    z = ind.zscore(x, 20)
    mid = pd.Series(x).rolling(20).mean()
    sd = pd.Series(x).rolling(20).std(ddof=0)
    np.testing.assert_allclose(z, ((pd.Series(x) - mid) / sd).to_numpy(), rtol=1e-6, equal_nan=True)
    flat = series["flat"]
    assert np.isnan(ind.zscore(flat, 5)[6])  # a flat window has no z-score (std 0)


def test_highest_lowest_exclude_the_current_bar(pandas_data):
    df = pandas_data["EURUSD"]
    for n in (1, 10, 55):
        np.testing.assert_array_equal(
            ind.highest(df.High.to_numpy(float), n), df.High.rolling(n).max().shift(1).to_numpy()
        )
        np.testing.assert_array_equal(
            ind.lowest(df.Low.to_numpy(float), n), df.Low.rolling(n).min().shift(1).to_numpy()
        )


def test_returns_vol_and_macd(series):
    x = series["walk"]
    expected = pd.Series(x).pct_change().rolling(20).std(ddof=1).to_numpy() * np.sqrt(252)
    np.testing.assert_allclose(ind.returns_vol(x, 20, 252.0), expected, rtol=1e-7, equal_nan=True)
    line, sig, hist = ind.macd(x, 12, 26, 9)
    s = pd.Series(x)
    pline = (
        s.ewm(span=12, adjust=False, min_periods=12).mean()
        - s.ewm(span=26, adjust=False, min_periods=26).mean()
    )
    psig = pline.ewm(span=9, adjust=False, min_periods=9).mean()
    np.testing.assert_array_equal(line, pline.to_numpy())
    np.testing.assert_array_equal(sig, psig.to_numpy())
    np.testing.assert_array_equal(hist, (pline - psig).to_numpy())
