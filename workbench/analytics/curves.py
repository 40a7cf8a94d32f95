"""Balance/drawdown curve, daily summary and monthly returns (conventions: :mod:`workbench.analytics`).

* :func:`equity_curve` — one point at the start, then one per cash flow and per trade close.
* :func:`daily_summary` — one row per day of the trading calendar, with end balance, daily return
  (trading P/L over the previous day's end balance) and the drawdown at the end of the day.
* :func:`monthly_returns` — the daily returns compounded per calendar month.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from workbench.analytics._frame import events, prepare_flows, prepare_trades

__all__ = ["equity_curve", "daily_summary", "monthly_returns", "daily_table", "trading_days_per_year"]

_NET = pl.col("net_profit")

DAILY_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date,
    "trades": pl.Int64,
    "wins": pl.Int64,
    "losses": pl.Int64,
    "net_profit": pl.Float64,
    "gross_profit": pl.Float64,
    "gross_loss": pl.Float64,
    "end_balance": pl.Float64,
    "return_pct": pl.Float64,
    "drawdown_pct": pl.Float64,
}
_COUNTS = ("trades", "wins", "losses")
_MONEY = ("net_profit", "gross_profit", "gross_loss")


def daily_table(
    trades: pl.DataFrame,
    flows: pl.DataFrame,
    initial_balance: float,
    curve: pl.DataFrame,
    *,
    first_open: datetime | None = None,
) -> pl.DataFrame:
    """The daily summary of prepared inputs, plus ``ret`` (the daily return as a fraction).

    ``first_open``: the first open time, for ``trades`` without an ``open_time`` column."""
    if trades.height == 0:
        return pl.DataFrame(schema={**DAILY_SCHEMA, "ret": pl.Float64})
    opened = first_open if "open_time" not in trades.columns else trades["open_time"].min()
    first = opened.date()  # type: ignore[union-attr]
    last = trades["close_time"].max().date()
    # Trades come in close-time order (prepare_trades / in_trade_order), so their dates are sorted too:
    # grouping then runs over consecutive rows instead of a hash table of 16M keys.
    date = pl.col("close_time").dt.date()
    if trades["close_time"].is_sorted():
        date = date.set_sorted()
    closed = trades.group_by(date.alias("date"), maintain_order=True).agg(
        pl.len().alias("trades"),
        (_NET > 0).sum().alias("wins"),
        (_NET < 0).sum().alias("losses"),
        _NET.sum().alias("net_profit"),
        _NET.filter(_NET > 0).sum().alias("gross_profit"),
        _NET.filter(_NET < 0).sum().alias("gross_loss"),
    )
    weekdays = pl.date_range(first, last, "1d", eager=True).alias("date").to_frame()
    if trading_days_per_year(trades) == 252:  # markets closed at weekends: Mon-Fri (+ days with a close)
        weekdays = weekdays.filter(pl.col("date").dt.weekday() <= 5)
    days = pl.concat([weekdays, closed.select("date")]).unique().sort("date")
    flow_days = (
        flows.group_by(pl.col("time").dt.date().alias("date"))
        .agg(pl.col("amount").sum())
        .sort("date")
        .select("date", pl.col("amount").cum_sum().alias("flows_to_date"))
    )
    flows_before = float(flows.filter(pl.col("time").dt.date() < first)["amount"].sum())
    dd_days = (  # the last row of each date, in curve order
        curve.select(pl.col("time").dt.date().alias("date"), "drawdown_pct")
        .group_by("date", maintain_order=True)
        .last()
        .sort("date")
    )
    table = (
        days.join(closed, on="date", how="left")
        .with_columns(pl.col(*_COUNTS).fill_null(0).cast(pl.Int64), pl.col(*_MONEY).fill_null(0.0))
        .join_asof(flow_days, on="date", strategy="backward")
        .join_asof(dd_days, on="date", strategy="backward")
        .with_columns(
            (initial_balance + pl.col("flows_to_date").fill_null(0.0) + _NET.cum_sum()).alias("end_balance")
        )
    )
    prev = pl.col("end_balance").shift(1, fill_value=initial_balance + flows_before)
    ret = pl.when(prev > 0).then(_NET / prev)
    return table.with_columns(
        (ret * 100.0).alias("return_pct"), ret.alias("ret"), pl.col("drawdown_pct").fill_null(0.0)
    ).select(*DAILY_SCHEMA, "ret")


def trading_days_per_year(trades: pl.DataFrame) -> int:
    """365 for an account that trades every day of the week, else 252 — chosen from the data.

    24/7 markets (crypto) close trades on Saturdays and Sundays as often as on weekdays; FX and stock
    accounts close few or none (a Sunday-evening open, a broker's Saturday server date). The rule: each of
    Saturday and Sunday carries closes on at least half as many dates as an average weekday.
    """
    if trades.height == 0:
        return 252
    date = pl.col("close_time").dt.date()
    if trades["close_time"].is_sorted():  # trade order: distinct dates in one linear pass, no hash table
        date = date.set_sorted()
    dow = trades.select(date.unique().dt.weekday().alias("d"))["d"]
    per_weekday = int((dow <= 5).sum()) / 5
    weekend = (int((dow == 6).sum()), int((dow == 7).sum()))
    return 365 if per_weekday > 0 and min(weekend) >= 0.5 * per_weekday else 252


def _prepared(
    trades: pl.DataFrame, initial_balance: float | None, cash_flows: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    t = prepare_trades(trades)
    f = prepare_flows(cash_flows)
    curve = events(t, f, float(initial_balance or 0.0))
    if initial_balance is None:  # unknown base: money is P/L since the start, percentages are undefined
        curve = curve.with_columns(pl.lit(None, pl.Float64).alias("drawdown_pct"))
    return t, f, curve


def _unknown_base(table: pl.DataFrame, initial_balance: float | None, *cols: str) -> pl.DataFrame:
    if initial_balance is not None:
        return table
    return table.with_columns(pl.lit(None, pl.Float64).alias(c) for c in cols)


def equity_curve(
    trades: pl.DataFrame, initial_balance: float | None, cash_flows: pl.DataFrame | None = None
) -> pl.DataFrame:
    """(time, balance, peak, drawdown, drawdown_pct, trade_id): the start point, then one row per
    cash flow and per trade close in order. ``trade_id`` is null on the start and cash-flow rows;
    ``drawdown_pct`` is null where the peak is not positive. With ``initial_balance=None`` (unknown)
    ``balance`` is the P/L since the start and ``drawdown_pct`` is null throughout."""
    _, _, curve = _prepared(trades, initial_balance, cash_flows)
    return curve.select("time", "balance", "peak", "drawdown", "drawdown_pct", "trade_id")


def daily_summary(
    trades: pl.DataFrame, initial_balance: float | None, cash_flows: pl.DataFrame | None = None
) -> pl.DataFrame:
    """(date, trades, wins, losses, net_profit, gross_profit, gross_loss, end_balance, return_pct,
    drawdown_pct), one row per day of the trading calendar (Mon–Fri from the first open to the last
    close, plus weekend days with a close). Counts and money are by close date."""
    t, f, curve = _prepared(trades, initial_balance, cash_flows)
    table = daily_table(t, f, float(initial_balance or 0.0), curve).drop("ret")
    return _unknown_base(table, initial_balance, "return_pct", "drawdown_pct")


def monthly_table(daily: pl.DataFrame) -> pl.DataFrame:
    ret = pl.col("ret").drop_nulls()
    return (
        daily.group_by(
            pl.col("date").dt.year().cast(pl.Int32).alias("year"),
            pl.col("date").dt.month().cast(pl.Int8).alias("month"),
        )
        .agg(pl.when(ret.count() > 0).then(((ret + 1.0).product() - 1.0) * 100.0).alias("return_pct"))
        .sort("year", "month")
    )


def monthly_returns(
    trades: pl.DataFrame, initial_balance: float | None, cash_flows: pl.DataFrame | None = None
) -> pl.DataFrame:
    """(year, month, return_pct): the daily returns of :func:`daily_summary` compounded per month,
    i.e. a time-weighted return (= month's P/L / balance before the month when no cash flows)."""
    t, f, curve = _prepared(trades, initial_balance, cash_flows)
    table = monthly_table(daily_table(t, f, float(initial_balance or 0.0), curve))
    return _unknown_base(table, initial_balance, "return_pct")
