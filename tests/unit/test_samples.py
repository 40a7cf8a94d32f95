"""workbench.data.samples: the backtesting package's real data sets as BARS_SCHEMA frames,
compared with the pandas frames the package itself builds (backtesting.test)."""

from __future__ import annotations

import polars as pl
import pytest

from workbench.data.samples import sample_frames
from workbench.ingest.records import BARS_SCHEMA

bt_test = pytest.importorskip("backtesting.test")

EXPECTED = {"EURUSD:1h": "EURUSD", "GOOG:1d": "GOOG", "BTCUSD:1mo": "BTCUSD"}


def test_keys() -> None:
    assert set(sample_frames()) == set(EXPECTED)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_frames_equal_pandas_originals(key: str) -> None:
    frame = sample_frames()[key]
    ref = getattr(bt_test, EXPECTED[key])
    symbol, tf = key.split(":")
    assert frame.schema == pl.Schema(BARS_SCHEMA)
    assert frame.height == len(ref)
    assert set(frame["symbol"]) == {symbol} and set(frame["timeframe"]) == {tf}
    for pos in (0, -1):
        row = frame.row(pos, named=True)
        assert row["ts"] == ref.index[pos].to_pydatetime()
        for col in ("open", "high", "low", "close", "volume"):
            assert row[col] == pytest.approx(float(ref[col.capitalize()].iloc[pos]), rel=1e-12)
    assert frame["close"].to_numpy() == pytest.approx(ref["Close"].to_numpy())
    assert frame["ts"].is_sorted()
