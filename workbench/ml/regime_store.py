"""Regimes stored per bar (the catalog's ``regimes`` table) and the regime of each trade's entry.

* :func:`store_regimes` — replace the stored regimes of a bar series (``SYMBOL:TF``) for one method
  (``hmm``: :func:`workbench.ml.hmm_regimes`, forward-filtered, with the regime's probability;
  ``changepoint``: :func:`workbench.ml.change_points`' segment number, ex-post).
* :func:`stored_regimes` — ``ts, regime, probability`` of a stored series.
* :func:`trades_with_regime` — a stored backtest's trades with the regime at each entry: the stored
  regime of the last bar whose ``ts`` is at or before the trade's open time (null before the first
  regime bar). ``ws.breakdown(id, "regime")`` groups by it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from workbench.errors import DataError

__all__ = ["METHODS", "store_regimes", "stored_regimes", "regime_series", "trades_with_regime"]

METHODS = ("hmm", "changepoint")


def _key(data: str) -> tuple[str, str]:
    symbol, sep, tf = str(data).partition(":")
    if not sep or not symbol or not tf:
        raise DataError(
            f"expected SYMBOL:TIMEFRAME such as EURUSD:1h, got {data!r}", file="--data", where="-"
        )
    return symbol, tf


def _method(method: str) -> str:
    if method not in METHODS:
        raise DataError(f"unknown regime method {method!r} (known: {', '.join(METHODS)})", where="method")
    return method


def store_regimes(ws: Any, data: str, regimes: pl.DataFrame, *, method: str = "hmm") -> int:
    """Store ``regimes`` (``ts, regime`` and, for ``hmm``, ``p_0..p_{K-1}``; or ``ts, segment`` from
    :func:`workbench.ml.change_points`) as the ``method`` regimes of ``data``; returns the rows."""
    from workbench.store import Q

    symbol, tf = _key(data)
    _method(method)
    col = "regime" if "regime" in regimes.columns else "segment"
    if col not in regimes.columns or "ts" not in regimes.columns:
        raise DataError(
            f"regimes need ts and regime (or segment) columns, got {regimes.columns}", where="regimes"
        )
    probs = [c for c in regimes.columns if c.startswith("p_")]
    reg = regimes[col].cast(pl.Int64)
    if probs:
        p = regimes.select(probs).to_numpy()
        idx = reg.fill_null(0).to_numpy()
        chosen = p[np.arange(p.shape[0]), np.clip(idx, 0, p.shape[1] - 1)]
        prob = pl.Series("probability", np.where(reg.is_null().to_numpy(), np.nan, chosen), nan_to_null=True)
    else:
        prob = pl.Series("probability", [None] * regimes.height, dtype=pl.Float64)
    frame = pl.DataFrame(
        {
            "symbol": [symbol] * regimes.height,
            "timeframe": [tf] * regimes.height,
            "method": [method] * regimes.height,
            "ts": regimes["ts"].cast(pl.Datetime("us")).dt.replace_time_zone(None),
            "regime": reg.cast(pl.Int32),
            "probability": prob,
        }
    )
    with ws.store.transaction() as con:
        con.execute(Q.ml_delete_regimes, [symbol, tf, method])
        con.register("regime_frame", frame.to_arrow())
        con.execute("INSERT INTO regimes SELECT * FROM regime_frame")
        con.unregister("regime_frame")
    return frame.height


def stored_regimes(ws: Any, data: str, *, method: str = "hmm") -> pl.DataFrame:
    """``ts, regime, probability`` stored for ``data`` by ``method`` (empty when none)."""
    from workbench.store import Q

    symbol, tf = _key(data)
    return ws.store.frame(Q.ml_regimes_of, [symbol, tf, _method(method)])


def regime_series(ws: Any, backtest: Any, data: str | None = None, method: str = "hmm") -> str:
    """The stored regime series a backtest's trades are matched to: ``data`` when given, else its own
    ``symbol:timeframe``, else the only series with stored regimes for its symbol."""
    if data:
        return data
    symbol, tf = backtest.info.get("symbol"), backtest.info.get("timeframe")
    if symbol and tf:
        return f"{symbol}:{tf}"
    stored = ws.store.frame(
        "SELECT DISTINCT symbol, timeframe FROM regimes WHERE method = $1 ORDER BY ALL", [_method(method)]
    )
    same = stored.filter(pl.col("symbol") == symbol) if symbol else stored.clear()
    if same.height == 1:
        return f"{same['symbol'][0]}:{same['timeframe'][0]}"
    have = ", ".join(f"{s}:{t}" for s, t in stored.iter_rows()) or "none"
    raise DataError(
        f"backtest {backtest.id} names no bar series (symbol {symbol!r}, timeframe {tf!r}); pass the one its "
        f"trades ran on, e.g. regimes='EURUSD:1h' (series with {method} regimes: {have})",
        where="regime",
    )


def trades_with_regime(
    ws: Any, backtest: Any, *, data: str | None = None, method: str = "hmm"
) -> pl.DataFrame:
    """``backtest.trades`` with a ``regime`` column: the stored regime at each trade's entry."""
    from workbench.store import Q

    series = regime_series(ws, backtest, data, method)
    symbol, tf = _key(series)
    n = ws.store.scalar(
        "SELECT count(*) FROM regimes WHERE symbol = $1 AND timeframe = $2 AND method = $3",
        [symbol, tf, method],
    )
    if not n:
        raise DataError(
            f"no {method} regimes stored for {series}; run `workbench ml regimes --data {series}` first",
            where="regime",
        )
    per_trade = ws.store.frame(Q.ml_trade_regimes, [int(backtest.id), symbol, tf, method])
    trades = backtest.trades
    if "seq" not in trades.columns:
        raise DataError("stored trades lack their seq column", where="trades.seq")
    out = trades.join(per_trade.select("seq", pl.col("regime").cast(pl.Int64)), on="seq", how="left")
    # the ASOF join carries the last regime forward forever: a trade opened after the series' last bar
    # (plus one bar) has no regime
    span = stored_regimes(ws, series, method=method)["ts"]
    step = span.diff().median() if span.len() > 1 else None
    end = span.max() + step if step is not None else span.max()
    out = out.with_columns(
        pl.when(pl.col("open_time") <= end).then(pl.col("regime")).otherwise(None).alias("regime")
    )
    if out.height and out["regime"].null_count() == out.height:
        first, last = trades["open_time"].min(), trades["open_time"].max()
        raise DataError(
            f"none of backtest {backtest.id}'s trades ({first:%Y-%m-%d}..{last:%Y-%m-%d}) opens inside the "
            f"stored {method} regimes of {series} ({span.min():%Y-%m-%d}..{span.max():%Y-%m-%d}); store "
            "regimes of bars that cover them",
            where="regime",
        )
    return out
