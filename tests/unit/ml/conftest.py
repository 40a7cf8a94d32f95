"""Fixtures of the ML tests: the packaged EURUSD hourly bars (as the store returns them) and a synthetic
random walk whose labels carry no information at all."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from workbench.data.samples import sample_frames


@pytest.fixture(scope="session")
def eurusd() -> pl.DataFrame:
    return sample_frames()["EURUSD:1h"].select("ts", "open", "high", "low", "close", "volume")


def random_walk(n: int, seed: int = 0, vol: float = 0.001) -> pl.DataFrame:
    """Hourly OHLCV bars of a driftless Gaussian random walk: nothing about the future is predictable."""
    rng = np.random.default_rng(seed)
    close = 1.1 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    open_ = np.r_[1.1, close[:-1]]
    wick = np.abs(rng.normal(0.0, vol / 2, (2, n)))
    ts = [datetime(2020, 1, 1) + timedelta(hours=i) for i in range(n)]
    return pl.DataFrame(
        {
            "ts": pl.Series(ts, dtype=pl.Datetime("us")),
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wick[0]),
            "low": np.minimum(open_, close) * (1 - wick[1]),
            "close": close,
            "volume": rng.integers(100, 2000, n).astype(np.float64),
        }
    )


@pytest.fixture(scope="session")
def walk() -> pl.DataFrame:
    return random_walk(3000, seed=7)


def synthetic_signal(n: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """8 features; y depends on x0, x1, x2 only (known ground truth: logit 2·x0 - 1.5·x1 + x2); a few NaNs
    in a noise column."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    logit = 2.0 * X[:, 0] - 1.5 * X[:, 1] + 1.0 * X[:, 2]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    X[rng.random(n) < 0.02, 7] = np.nan
    return X, y


@pytest.fixture(scope="session")
def synthetic():
    return synthetic_signal
