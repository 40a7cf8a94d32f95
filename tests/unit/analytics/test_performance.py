"""compute_metrics on a million unsorted trades: totals still exact (timing lives in benchmarks/, not here)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from workbench.analytics import compute_metrics
from workbench.ingest.records import TRADES_SCHEMA, conform


@pytest.mark.slow
def test_million_trades_are_summed_exactly() -> None:
    n = 1_000_000
    rng = np.random.default_rng(1)
    opens = np.datetime64("2015-01-01T00:00:00", "us") + rng.integers(0, 10 * 365 * 86_400, n).astype(
        "timedelta64[s]"
    )
    closes = opens + rng.integers(60, 3 * 86_400, n).astype("timedelta64[s]")
    trades = conform(
        pl.DataFrame(
            {
                "trade_id": np.arange(n).astype(str),
                "open_time": opens,
                "close_time": closes,
                "symbol": rng.choice(["EURUSD", "GBPUSD", "USDJPY"], n),
                "direction": rng.choice(["long", "short"], n),
                "commission": -rng.random(n),
                "swap": rng.random(n) - 0.5,
                "net_profit": rng.normal(1.0, 50.0, n).round(2),
            }
        ),
        TRADES_SCHEMA,
    )  # unsorted: the sort is part of the measured work
    m = compute_metrics(trades, 100_000.0)
    assert m.total_trades == n and m.trading_days > 3000
    net = trades["net_profit"]
    assert m.net_profit == pytest.approx(float(net.sum()), abs=1e-6)
    assert m.winning_trades == int((net > 0).sum()) and m.losing_trades == int((net < 0).sum())
    assert m.final_balance == pytest.approx(100_000.0 + float(net.sum()), abs=1e-6)
