"""Sharpe/Sortino of a 24/7 account are annualised by 365 over every calendar day; quantstats is the oracle."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import quantstats as qs

from workbench.analytics import compute_metrics
from workbench.analytics.curves import trading_days_per_year
from workbench.ingest.records import TRADES_SCHEMA, conform


def _trades(days: list[datetime], nets: np.ndarray):
    rows = [
        dict(
            trade_id=str(i),
            open_time=d,
            close_time=d + timedelta(hours=3),
            direction="long",
            net_profit=float(n),
        )
        for i, (d, n) in enumerate(zip(days, nets, strict=True))
    ]
    return conform(rows, TRADES_SCHEMA)


def _expected(nets: np.ndarray, initial: float) -> pd.Series:
    balance = initial + np.concatenate([[0.0], np.cumsum(nets)])
    return pd.Series(nets / balance[:-1])


def test_a_247_account_is_annualised_by_365_over_every_day() -> None:
    rng = np.random.default_rng(7)
    days = [datetime(2024, 1, 1, 8) + timedelta(days=i) for i in range(120)]  # every day, weekends too
    nets = rng.normal(5, 40, len(days)).round(2)
    t = _trades(days, nets)
    assert trading_days_per_year(t) == 365
    m = compute_metrics(t, 10_000.0)
    r = _expected(nets, 10_000.0)
    assert m.periods_per_year == 365
    assert m.sharpe_ratio == pytest.approx(qs.stats.sharpe(r, periods=365), rel=1e-9)
    assert m.sortino_ratio == pytest.approx(qs.stats.sortino(r, periods=365), rel=1e-9)


def test_an_fx_account_with_a_few_sunday_closes_stays_on_252() -> None:
    days = [datetime(2024, 1, 1, 8) + timedelta(days=i) for i in range(120)]
    weekdays = [d for d in days if d.weekday() < 5] + [d for d in days if d.weekday() == 6][:3]
    t = _trades(sorted(weekdays), np.full(len(weekdays), 10.0))
    assert trading_days_per_year(t) == 252
    assert compute_metrics(t, 10_000.0).periods_per_year == 252
