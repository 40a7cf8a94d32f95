"""Real market data shipped with the ``backtesting`` package, as ``BARS_SCHEMA`` frames.

``backtesting.test`` carries three CSV files (``Open,High,Low,Close,Volume`` indexed by time):
EURUSD hourly (2017-04 .. 2018-02), GOOG daily (2004 .. 2013) and BTCUSD monthly
(2012 .. 2024). They are read straight from the package folder with polars (importing
``backtesting`` itself would pull in its plotting stack); the bar size is the most common
spacing between bars (weekend gaps and month lengths aside): ``"EURUSD:1h"``, ``"GOOG:1d"``,
``"BTCUSD:1mo"``.
"""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from functools import cache
from pathlib import Path

import polars as pl

from workbench.errors import MissingDependencyError
from workbench.ingest.records import BARS_SCHEMA, conform

__all__ = ["sample_frames", "sample_dir"]


def sample_dir() -> Path:
    """The folder holding ``backtesting``'s test CSVs."""
    spec = importlib.util.find_spec("backtesting")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("backtesting", "backtest")
    return Path(next(iter(spec.submodule_search_locations))) / "test"


def _timeframe(ts: pl.Series) -> str:
    step = ts.diff().drop_nulls().mode().sort()[0]
    if step >= timedelta(days=28):
        return "1mo"
    if step == timedelta(weeks=1):
        return "1w"
    if step % timedelta(days=1) == timedelta(0):
        return f"{step // timedelta(days=1)}d"
    if step % timedelta(hours=1) == timedelta(0):
        return f"{step // timedelta(hours=1)}h"
    return f"{max(1, step // timedelta(minutes=1))}m"


@cache
def _load() -> dict[str, pl.DataFrame]:
    out: dict[str, pl.DataFrame] = {}
    for path in sorted(sample_dir().glob("*.csv")):
        raw = pl.read_csv(path, try_parse_dates=False)
        time_col = raw.columns[0]  # the unnamed pandas index column
        ts = raw[time_col].str.to_datetime(strict=True, time_unit="us")
        tf = _timeframe(ts)
        frame = raw.select(
            pl.lit(path.stem).alias("symbol"),
            pl.lit(tf).alias("timeframe"),
            ts.alias("ts"),
            *(pl.col(c.capitalize()).alias(c) for c in ("open", "high", "low", "close", "volume")),
        )
        out[f"{path.stem}:{tf}"] = conform(frame, BARS_SCHEMA)
    return out


def sample_frames() -> dict[str, pl.DataFrame]:
    """``{"SYMBOL:TF": bars}`` for every data set in ``backtesting.test`` (fresh dict; frames are immutable)."""
    return dict(_load())
