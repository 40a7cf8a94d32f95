"""Headline metrics of a list of closed trades: :class:`Metrics` and :func:`compute_metrics`.

The conventions (order of trades, wins/losses, balance curve, drawdown with cash flows, the daily
calendar behind Sharpe/Sortino) are documented in :mod:`workbench.analytics` and docs/analytics.md.
In short:

* trades in close-time order (then open time, then trade id); a win has net_profit > 0, a loss < 0,
  a break-even trade is neither (and ends both streaks);
* max drawdown: peak-to-trough of the balance after each event, where a deposit/withdrawal moves the
  running peak by its amount (so only trading P/L makes drawdown); in money and in % of that peak;
* Sharpe/Sortino: daily returns (day's trading P/L / previous day's end balance) on the trading
  calendar, risk-free 0, annualised by sqrt(252); Sortino's downside deviation is
  sqrt(mean(min(r, 0)^2)) over all days, as quantstats computes it;
* ratios that would divide by zero are ``inf`` when the numerator is positive (profit factor with no
  losing trade, recovery factor with no drawdown) and ``None`` otherwise; ``to_dict`` writes every
  non-finite number as ``None``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from workbench.analytics._frame import events_lazy, in_trade_order, prepare_flows, prepare_trades
from workbench.analytics.curves import daily_table, trading_days_per_year

__all__ = ["Metrics", "compute_metrics", "sharpe_sortino", "ANNUALISATION"]

ANNUALISATION = 252  # trading days per year
_NET = pl.col("net_profit")


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics:
    """Headline figures of one trade list. Money is in the account currency.

    ``win_rate``/``long_win_rate``/``short_win_rate`` are fractions 0..1; ``max_drawdown_pct`` is a
    percentage 0..100; ``gross_loss``, ``avg_loss`` and ``largest_loss`` are negative numbers.
    ``start`` is the first open time, ``end`` the last close time; ``trading_days`` counts the
    calendar dates on which at least one trade closed.
    """

    net_profit: float
    gross_profit: float
    gross_loss: float
    profit_factor: float | None
    total_trades: int
    winning_trades: int
    losing_trades: int
    win_rate: float | None
    max_drawdown: float
    max_drawdown_pct: float | None
    recovery_factor: float | None
    sharpe_ratio: float | None
    sortino_ratio: float | None
    avg_trade_duration_seconds: float | None
    initial_balance: float | None
    final_balance: float | None
    expectancy: float | None
    avg_win: float | None
    avg_loss: float | None
    largest_win: float | None
    largest_loss: float | None
    max_consecutive_wins: int
    max_consecutive_losses: int
    long_trades: int
    short_trades: int
    long_win_rate: float | None
    short_win_rate: float | None
    total_commission: float
    total_swap: float
    start: datetime | None
    end: datetime | None
    trading_days: int
    # Trading days a year behind sharpe_ratio/sortino_ratio: 252, or 365 when the account trades every day of
    # the week (chosen from the data: analytics.curves.trading_days_per_year).
    periods_per_year: int = ANNUALISATION
    # What had to be assumed or left out, one line each (e.g. an unknown initial balance, trades the
    # platform wrote closing before they open, left out of the average duration).
    assumptions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: datetimes as ISO 8601 strings, ``inf``/``nan`` as ``None``."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, float) and not math.isfinite(value):
                value = None
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


def _ratio(num: float, den: float) -> float | None:
    """num / den; ``inf`` for a positive num over 0, ``None`` for 0 (or less) over 0."""
    if den > 0:
        return num / den
    return math.inf if num > 0 else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def sharpe_sortino(returns: np.ndarray, periods: int = ANNUALISATION) -> tuple[float | None, float | None]:
    """Annualised Sharpe and Sortino of daily returns (risk-free 0; ``periods`` trading days a year: 252,
    or 365 for 24/7 accounts); ``None`` with fewer than two returns or a zero (downside) deviation."""
    r = returns[~np.isnan(returns)]
    if r.size < 2:
        return None, None
    mean = float(r.mean())
    std = float(r.std(ddof=1))
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    scale = math.sqrt(periods)
    sharpe = mean / std * scale if std > 0 else None
    sortino = mean / downside * scale if downside > 0 else None
    return sharpe, sortino


def _streaks(net: pl.Series) -> tuple[int, int]:
    """Longest runs of wins and of losses (break-even trades end both)."""
    if net.len() == 0:
        return 0, 0
    runs = net.sign().rle().struct.unnest()
    longest = runs.group_by("value").agg(pl.col("len").max())
    best = dict(zip(longest["value"].to_list(), longest["len"].to_list(), strict=True))
    return int(best.get(1.0, 0)), int(best.get(-1.0, 0))


def _drawdowns(
    t: pl.DataFrame, flows: pl.DataFrame, initial: float, first_open: datetime | None
) -> tuple[float, float, pl.DataFrame]:
    """(max drawdown, max drawdown %, a curve for :func:`daily_table`) of trades in trade order.

    The curve is :func:`events_lazy`'s. Without cash flows it is the start point (P/L 0, balance
    ``initial``) and one row per trade, and is computed without prepending that point to every column
    (16M rows: a copy of each): the start adds 0.0 to the running sums and 0 to the running peak, so
    the figures are the same to the last bit, and the daily table needs only the last row of each date
    with the start point before them.
    """
    if flows.height:
        curve = (
            events_lazy(t, flows, initial, trade_ids=False, first_open=first_open)
            .select("time", "drawdown", "drawdown_pct")
            .collect()
        )
        return float(curve["drawdown"].max() or 0.0), float(curve["drawdown_pct"].max() or 0.0), curve
    cum, drawdown, peak = pl.col("cum"), pl.col("drawdown"), pl.col("peak")
    rows = (  # one step per column, as events_lazy: an expression nested in one select is computed anew
        t.lazy()
        .select(pl.col("close_time").alias("time"), _NET.cum_sum().alias("cum"))
        .with_columns((cum.cum_max().clip(lower_bound=0.0) - cum).alias("drawdown"))
        .with_columns((initial + cum + drawdown).alias("peak"))  # balance + drawdown, summed as events_lazy
        .select("time", "drawdown", pl.when(peak > 0).then(drawdown / peak * 100.0).alias("drawdown_pct"))
        .collect()
    )
    start = pl.DataFrame(
        {"time": [first_open], "drawdown_pct": [0.0 if initial > 0 else None]},
        schema={"time": rows.schema["time"], "drawdown_pct": pl.Float64},
    )
    days = (
        rows.group_by(pl.col("time").dt.date().alias("_date"), maintain_order=True)
        .agg(pl.col("time", "drawdown_pct").last())
        .drop("_date")
    )
    most_dd, most_pct = rows.select(pl.col("drawdown").max(), pl.col("drawdown_pct").max()).row(0)
    pcts = [v for v in (start["drawdown_pct"][0], most_pct) if v is not None]  # the start point's too
    return max(0.0, float(most_dd or 0.0)), float(max(pcts, default=0.0) or 0.0), pl.concat([start, days])


_SORTED = ("trade_id", "open_time", "close_time", "net_profit", "commission", "swap")


UNKNOWN_BALANCE = (
    "initial balance unknown (the file states none): max_drawdown_pct, sharpe_ratio, sortino_ratio and "
    "final_balance are null; pass --initial-balance (or set it on the backtest) to compute them"
)
NEGATIVE_DURATION = (
    "{n} trade(s) close before they open as the platform wrote them: left out of avg_trade_duration_seconds"
)


def compute_metrics(
    trades: pl.DataFrame, initial_balance: float | None, cash_flows: pl.DataFrame | None = None
) -> Metrics:
    """All :class:`Metrics` of ``trades`` (TRADES_SCHEMA; only trade_id, open_time, close_time and
    net_profit are required; direction, commission and swap count as absent when missing).

    ``initial_balance=None`` means unknown: money figures are computed (they do not depend on it) and
    every figure relative to a balance is ``None``, with the reason in ``assumptions``."""
    known = initial_balance is not None
    initial = float(initial_balance) if known else 0.0
    assumptions: list[str] = [] if known else [UNKNOWN_BALANCE]
    # Only the columns whose order matters are sorted (sums, the curve, streaks): sorting all of
    # them (16M rows of text) costs seconds and GBs. Counts by direction do not depend on order, and
    # trade_id is a sort key only. Of the curve only the drawdowns are needed (not 8 columns of 16M).
    # Only close times and P/L are moved into trade order (the curve, the daily table, streaks): every
    # other figure is a count, sum or extreme of the rows in any order, taken from the file's order.
    keyed = prepare_trades(trades.select(c for c in trades.columns if c in _SORTED), sort=False)
    first_open = keyed["open_time"].min()
    t = in_trade_order(keyed, ["close_time", "net_profit"])
    flows = prepare_flows(cash_flows)
    max_dd, max_dd_pct, curve = _drawdowns(t, flows, initial, first_open)  # type: ignore[arg-type]
    daily = daily_table(t, flows, initial, curve, first_open=first_open)  # type: ignore[arg-type]

    def col_or(name: str, default: pl.Expr) -> pl.Expr:
        return pl.col(name) if name in keyed.columns else default

    direction = pl.col("direction") if "direction" in trades.columns else pl.lit(None, pl.Utf8)
    long, short = direction == "long", direction == "short"
    won = pl.col("net_profit").cast(pl.Float64) > 0
    sides = trades.select(
        long.sum().alias("longs"),
        short.sum().alias("shorts"),
        (long & won).sum().alias("long_wins"),
        (short & won).sum().alias("short_wins"),
    ).row(0, named=True)
    duration = (pl.col("close_time") - pl.col("open_time")).dt.total_microseconds()
    unordered = keyed.select(
        (duration < 0).sum().alias("backwards"),
        col_or("commission", pl.lit(0.0)).cast(pl.Float64).sum().alias("commission"),
        col_or("swap", pl.lit(0.0)).cast(pl.Float64).sum().alias("swap"),
        (duration.filter(duration >= 0).mean() / 1e6).alias("duration"),
        pl.col("close_time").max().alias("end"),
    ).row(0, named=True)
    backwards = int(unordered.pop("backwards") or 0)
    if backwards:
        assumptions.append(NEGATIVE_DURATION.format(n=backwards))
    agg = t.select(
        _NET.sum().alias("net"),
        _NET.filter(_NET > 0).sum().alias("gp"),
        _NET.filter(_NET < 0).sum().alias("gl"),
        (_NET > 0).sum().alias("wins"),
        (_NET < 0).sum().alias("losses"),
        _NET.max().alias("best"),
        _NET.min().alias("worst"),
    ).row(0, named=True)
    agg.update(unordered, start=first_open)
    agg.update(sides)
    n = t.height
    wins, losses = int(agg["wins"] or 0), int(agg["losses"] or 0)
    net, gp, gl = float(agg["net"] or 0.0), float(agg["gp"] or 0.0), float(agg["gl"] or 0.0)
    periods = trading_days_per_year(t)
    sharpe, sortino = sharpe_sortino(daily["ret"].to_numpy().astype(float), periods)
    if not known:
        max_dd_pct = sharpe = sortino = None  # type: ignore[assignment]
    win_streak, loss_streak = _streaks(t["net_profit"])
    flows_total = float(flows["amount"].sum())
    longs, shorts = int(agg["longs"] or 0), int(agg["shorts"] or 0)
    return Metrics(
        net_profit=net,
        gross_profit=gp,
        gross_loss=gl,
        profit_factor=_ratio(gp, -gl),
        total_trades=n,
        winning_trades=wins,
        losing_trades=losses,
        win_rate=_share(wins, n),
        max_drawdown=max_dd,
        max_drawdown_pct=max_dd_pct,
        recovery_factor=_ratio(net, max_dd),
        sharpe_ratio=sharpe,
        sortino_ratio=sortino,
        avg_trade_duration_seconds=agg["duration"],
        initial_balance=initial if known else None,
        final_balance=initial + flows_total + net if known else None,
        expectancy=net / n if n else None,
        avg_win=gp / wins if wins else None,
        avg_loss=gl / losses if losses else None,
        largest_win=float(agg["best"]) if wins else None,
        largest_loss=float(agg["worst"]) if losses else None,
        max_consecutive_wins=win_streak,
        max_consecutive_losses=loss_streak,
        long_trades=longs,
        short_trades=shorts,
        long_win_rate=_share(int(agg["long_wins"] or 0), longs),
        short_win_rate=_share(int(agg["short_wins"] or 0), shorts),
        total_commission=float(agg["commission"] or 0.0),
        total_swap=float(agg["swap"] or 0.0),
        start=agg["start"],
        end=agg["end"],
        trading_days=int((daily["trades"] > 0).sum()),  # the dates with a close (a hash of 16M dates less)
        periods_per_year=periods,
        assumptions=tuple(assumptions),
    )
