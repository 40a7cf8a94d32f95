"""Market data parsers (bars_csv, bars_parquet), tick aggregation and timeframe names.

Bars are checked against the real data shipped in ``backtesting.test`` (read independently with
pandas) and tick aggregation against pandas' ``resample().ohlc()``.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from workbench.data.samples import sample_dir
from workbench.errors import DataError
from workbench.ingest import parse_bytes
from workbench.ingest.bars import normalise_timeframe, ticks_to_bars
from workbench.ingest.parsers import bars, trades_csv
from workbench.ingest.records import BARS_SCHEMA
from workbench.ingest.registry import HEAD_BYTES, detect

try:
    from conftest import REAL, REAL_FILES
except ImportError:  # pragma: no cover - run outside the tests/ rootdir
    REAL = (Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "real").resolve()
    REAL_FILES = sorted(p for p in REAL.rglob("*") if p.is_file() and p.name != "MANIFEST.md")


def _pandas(name: str) -> pd.DataFrame:
    return pd.read_csv(sample_dir() / f"{name}.csv", index_col=0, parse_dates=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("M1", "1m"),
        ("m4", "4m"),
        ("1min", "1m"),
        ("15m", "15m"),
        ("60m", "1h"),
        ("H1", "1h"),
        ("h4", "4h"),
        ("1H", "1h"),
        ("Hour4", "4h"),
        ("Minute5", "5m"),
        ("D1", "1d"),
        ("daily", "1d"),
        ("24h", "1d"),
        ("W1", "1w"),
        ("MN1", "1mo"),
        ("1mo", "1mo"),
        ("30s", "30s"),
        ("ticks", None),
        ("", None),
        ("x5y", None),
    ],
)
def test_normalise_timeframe(text: str, expected: str | None) -> None:
    assert normalise_timeframe(text) == expected


def test_pandas_style_csv_with_name_pattern() -> None:
    data = (sample_dir() / "EURUSD.csv").read_bytes()  # ",Open,High,Low,Close,Volume" (pandas index)
    p = parse_bytes(data, "EURUSD_1h.csv")
    ref = _pandas("EURUSD")
    assert p.format == "bars_csv" and p.kind == "bars"
    assert (p.symbol, p.timeframe, p.name) == ("EURUSD", "1h", "EURUSD:1h")
    b = p.bars
    assert b is not None and b.schema == pl.Schema(BARS_SCHEMA)
    assert b.height == len(ref)
    assert b["ts"][0] == ref.index[0].to_pydatetime() and b["ts"][-1] == ref.index[-1].to_pydatetime()
    assert b["close"].to_numpy() == pytest.approx(ref["Close"].to_numpy())
    assert b["volume"].sum() == pytest.approx(float(ref["Volume"].sum()))


def test_daily_csv_with_dash_name_and_mt_timeframe() -> None:
    p = parse_bytes((sample_dir() / "GOOG.csv").read_bytes(), "GOOG-D1.csv")
    assert (p.symbol, p.timeframe) == ("GOOG", "1d")
    assert p.bars is not None and p.bars.height == len(_pandas("GOOG"))


def test_epoch_seconds_and_milliseconds_and_case_insensitive_headers() -> None:
    # 1704189600 = 2024-01-02 10:00:00 UTC
    secs = b"Timestamp,OPEN,High,low,Close\n1704189600,1.0,1.2,0.9,1.1\n1704193200,1.1,1.3,1.0,1.2\n"
    millis = secs.replace(b"1704189600,", b"1704189600000,").replace(b"1704193200,", b"1704193200000,")
    for data in (secs, millis):
        p = parse_bytes(data, "EURUSD_H1.csv")
        assert p.bars is not None
        assert p.bars["ts"].to_list() == [datetime(2024, 1, 2, 10), datetime(2024, 1, 2, 11)]
        assert p.bars["volume"].null_count() == 2  # no volume column


def test_metatrader_tab_export_with_date_and_time_columns() -> None:
    data = (
        b"<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
        b"2024.01.02\t10:00:00\t1.10\t1.12\t1.09\t1.11\t120\t0\t5\n"
        b"2024.01.02\t10:05:00\t1.11\t1.13\t1.10\t1.12\t80\t0\t5\n"
    )
    p = parse_bytes(data, "EURUSD_M5.csv")
    assert (p.symbol, p.timeframe) == ("EURUSD", "5m")
    assert p.bars is not None and p.bars["ts"][1] == datetime(2024, 1, 2, 10, 5)
    assert p.bars["volume"].to_list() == [0.0, 0.0]  # <VOL> is "volume"; <TICKVOL> only without it


def test_symbol_and_timeframe_columns_win_over_name() -> None:
    data = b"symbol,timeframe,time,open,high,low,close\nXAUUSD,H4,2024-01-02 00:00,1,2,0.5,1.5\n"
    p = parse_bytes(data, "whatever_1d.csv")
    assert (p.symbol, p.timeframe) == ("XAUUSD", "4h")


def test_unknown_timeframe_value_names_line() -> None:
    data = b"symbol,tf,time,open,high,low,close\nX,H4,2024-01-02 00:00,1,2,0.5,1.5\nX,fortnight,2024-01-03 00:00,1,2,0.5,1.5\n"
    with pytest.raises(DataError) as err:
        parse_bytes(data, "x.csv")
    assert err.value.where == "line 3, column tf" and "'fortnight'" in err.value.what


def test_no_symbol_or_timeframe_names_the_fix() -> None:
    data = b"time,open,high,low,close\n2024-01-02 00:00,1,2,0.5,1.5\n"
    with pytest.raises(DataError, match="rename|name the file") as err:
        parse_bytes(data, "prices.csv")
    assert "timeframe" in str(err.value)
    with pytest.raises(DataError, match="symbol"):
        parse_bytes(data, "_.csv")


def test_bad_values_name_line_and_column() -> None:
    data = b"# source: test\ntime,open,high,low,close\n2024-01-02 00:00,1,2,0.5,1.5\n2024-01-02 01:00,1,x,0.5,1.5\n"
    with pytest.raises(DataError) as err:
        parse_bytes(data, "EURUSD_1h.csv")
    assert err.value.where == "line 4, column high" and "'x'" in err.value.what


def test_inconsistent_bar_rejected() -> None:
    data = b"time,open,high,low,close\n2024-01-02 00:00,1,2,0.5,1.5\n2024-01-02 01:00,1,1.2,0.5,1.5\n"
    with pytest.raises(DataError, match="do not bound"):
        parse_bytes(data, "EURUSD_1h.csv")


def test_parquet_round_trip_and_truncation() -> None:
    ref = _pandas("GOOG")
    frame = pl.from_pandas(ref.reset_index().rename(columns={"index": "Date"}))
    buf = io.BytesIO()
    frame.write_parquet(buf)
    data = buf.getvalue()
    p = parse_bytes(data, "GOOG_1d.parquet")
    assert p.format == "bars_parquet" and (p.symbol, p.timeframe) == ("GOOG", "1d")
    assert p.bars is not None and p.bars.height == len(ref)
    assert p.bars["open"][0] == ref["Open"].iloc[0] and p.bars["close"][-1] == ref["Close"].iloc[-1]
    with pytest.raises(DataError, match="Parquet"):
        parse_bytes(data[: len(data) // 2], "GOOG_1d.parquet")


def test_parquet_with_tz_aware_timestamps_becomes_utc() -> None:
    frame = pl.DataFrame(
        {
            "time": pl.Series([datetime(2024, 1, 2, 12), datetime(2024, 1, 2, 13)]).dt.replace_time_zone(
                "Europe/Berlin"
            ),
            "open": [1.0, 1.1],
            "high": [1.2, 1.3],
            "low": [0.9, 1.0],
            "close": [1.1, 1.2],
        }
    )
    buf = io.BytesIO()
    frame.write_parquet(buf)
    p = parse_bytes(buf.getvalue(), "DE40-1h.parquet")
    assert p.bars is not None and p.bars["ts"][0] == datetime(2024, 1, 2, 11)  # 12:00 CET = 11:00 UTC


# ---------------------------------------------------------------------------------------------- ticks


def _ticks(n: int = 5000, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    ts = np.datetime64("2024-01-02T10:00:00", "ms") + np.cumsum(rng.integers(1, 4000, n)).astype(
        "timedelta64[ms]"
    )
    bid = 1.1 + np.cumsum(rng.normal(0, 1e-5, n))
    ask = bid + rng.integers(1, 20, n) * 1e-5
    return pl.DataFrame({"ts": ts, "bid": bid, "ask": ask})


def test_ticks_to_bars_matches_pandas_resample() -> None:
    ticks = _ticks()
    got = ticks_to_bars(ticks, "1m", symbol="EURUSD")
    assert got.schema == pl.Schema(BARS_SCHEMA)
    mid = ticks.to_pandas().set_index("ts")
    mid = (mid["bid"] + mid["ask"]) / 2
    ref = mid.resample("1min", label="left", closed="left").ohlc().dropna()
    counts = mid.resample("1min").count()
    assert got.height == len(ref)
    assert got["ts"].to_list() == [t.to_pydatetime() for t in ref.index]
    for col in ("open", "high", "low", "close"):
        assert got[col].to_numpy() == pytest.approx(ref[col].to_numpy(), abs=1e-12)
    assert got["volume"].to_list() == [float(c) for c in counts[counts > 0]]  # tick counts
    assert set(got["symbol"]) == {"EURUSD"} and set(got["timeframe"]) == {"1m"}


def test_ticks_to_bars_by_hand() -> None:
    ticks = pl.DataFrame(
        {
            "symbol": ["A", "A", "A", "A", "B"],
            "ts": [
                datetime(2024, 1, 1, 0, 0, 5),
                datetime(2024, 1, 1, 0, 0, 50),
                datetime(2024, 1, 1, 0, 0, 30),  # out of order: sorted before aggregation
                datetime(2024, 1, 1, 0, 1, 0),  # exactly on the next minute: the next bar
                datetime(2024, 1, 1, 0, 0, 1),
            ],
            "price": [10.0, 12.0, 9.0, 11.0, 100.0],
            "volume": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    got = ticks_to_bars(ticks).sort("symbol", "ts")
    assert got.select("symbol", "ts", "open", "high", "low", "close", "volume").rows() == [
        ("A", datetime(2024, 1, 1, 0, 0), 10.0, 12.0, 9.0, 12.0, 6.0),
        ("A", datetime(2024, 1, 1, 0, 1), 11.0, 11.0, 11.0, 11.0, 4.0),
        ("B", datetime(2024, 1, 1, 0, 0), 100.0, 100.0, 100.0, 100.0, 5.0),
    ]
    five = ticks_to_bars(ticks.filter(pl.col("symbol") == "A"), "5min")
    assert five.rows() == [("A", "5m", datetime(2024, 1, 1), 10.0, 12.0, 9.0, 11.0, 10.0)]


def test_tick_csv_is_aggregated_to_minute_bars() -> None:
    ticks = _ticks(600)
    csv = ticks.select(pl.col("ts").dt.epoch("ms").alias("timestamp"), "bid", "ask").write_csv().encode()
    p = parse_bytes(csv, "EURUSD_ticks.csv")
    assert p.format == "bars_csv" and (p.symbol, p.timeframe) == ("EURUSD", "1m")
    assert p.meta["source"] == "ticks" and p.meta["ticks"] == 600
    assert p.bars is not None and p.bars.equals(ticks_to_bars(ticks, "1m", symbol="EURUSD"))


def test_ticks_need_prices() -> None:
    with pytest.raises(DataError, match="bid and ask"):
        ticks_to_bars(pl.DataFrame({"ts": [datetime(2024, 1, 1)], "bid": [1.0]}))
    with pytest.raises(DataError, match="unknown bar size"):
        ticks_to_bars(_ticks(10), "fortnight")


# ---------------------------------------------------------------------------------------------- detectors


def test_bar_detectors_ignore_every_real_fixture_and_trade_csvs() -> None:
    assert REAL_FILES
    for path in REAL_FILES:
        head = path.read_bytes()[:HEAD_BYTES]
        assert not bars._detect_csv(head, path.name), path.relative_to(REAL)
        assert not bars._detect_parquet(head, path.name), path.relative_to(REAL)
    trades = b"Ticket,Open Time,Type,Size,Item,Price,Close Time,Close,Profit\n1,2024.01.02 10:00,buy,1,X,1,2024.01.02 11:00,1,5\n"
    assert not bars._detect_csv(trades, "t.csv") and trades_csv._detect(trades, "t.csv")


def test_registry_routes_bar_files() -> None:
    data = (sample_dir() / "BTCUSD.csv").read_bytes()
    assert detect(data, "BTCUSD_1mo.csv").name == "bars_csv"
    buf = io.BytesIO()
    pl.DataFrame(
        {"ts": [datetime(2024, 1, 1)], "open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0]}
    ).write_parquet(buf)
    assert detect(buf.getvalue(), "X_1d.parquet").name == "bars_parquet"
