"""Fixtures of the backtest tests: the real EURUSD (hourly) and GOOG (daily) bars of ``backtesting.test``."""

from __future__ import annotations

import warnings

import pandas as pd
import polars as pl
import pytest

from workbench.backtest import bars_from_pandas


@pytest.fixture(scope="session")
def pandas_data() -> dict[str, pd.DataFrame]:
    from backtesting.test import EURUSD, GOOG

    return {"EURUSD": EURUSD, "GOOG": GOOG}


@pytest.fixture(scope="session")
def bars(pandas_data) -> dict[str, pl.DataFrame]:
    return {k: bars_from_pandas(v) for k, v in pandas_data.items()}


@pytest.fixture(autouse=True)
def _quiet_backtesting():
    # backtesting.py warns about open trades at the end and prints progress bars; neither matters here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
