"""Per-group statistics of a trade list: :func:`breakdown` by weekday, hour, symbol, direction or month.

Grouping keys (registered in :data:`BREAKDOWNS`, not an if/elif chain):

* ``weekday`` — the day of the week of the **close** time (when the P/L is realised), labelled
  ``Monday`` .. ``Sunday``, in week order;
* ``hour`` — the hour 0..23 of the **open** time (when the decision to trade was taken);
* ``month`` — the month of the year of the **close** time, labelled ``January`` .. ``December``, in
  calendar order (all years together; see :func:`~workbench.analytics.monthly_returns` for a
  year × month table);
* ``symbol``, ``direction`` — the column itself, in alphabetical order;
* ``regime`` — the market regime at the trade's entry bar (a ``regime`` column: ``ws.breakdown(id,
  "regime")`` adds it from the regimes stored per bar, :mod:`workbench.ml.regime_store`), in order.

Only keys that occur are listed. A win has net_profit > 0; ``profit_factor`` is gross profit over
minus gross loss, ``inf`` when a group has no losing trade and null when it has neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from workbench._registry import Registry
from workbench.analytics._frame import prepare_trades
from workbench.errors import DataError

__all__ = ["breakdown", "BREAKDOWNS", "By"]

_NET = pl.col("net_profit")
# English names, not ``calendar.day_name`` (which follows the process locale)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class By:
    """How to group: the column used, a sortable key made from it, optional labels for keys 1..n."""

    column: str
    key: Callable[[pl.Expr], pl.Expr] = lambda c: c
    labels: tuple[str, ...] | None = None


BREAKDOWNS: Registry[By] = Registry("breakdown")
BREAKDOWNS.add("weekday", By("close_time", lambda c: c.dt.weekday(), WEEKDAYS))
BREAKDOWNS.add("hour", By("open_time", lambda c: c.dt.hour().cast(pl.Int32)))
BREAKDOWNS.add("month", By("close_time", lambda c: c.dt.month(), MONTHS))
BREAKDOWNS.add("symbol", By("symbol"))
BREAKDOWNS.add("direction", By("direction"))
BREAKDOWNS.add("regime", By("regime"))


def breakdown(trades: pl.DataFrame, by: str) -> pl.DataFrame:
    """(key, trades, wins, win_rate, net_profit, avg_net, gross_profit, gross_loss, profit_factor),
    one row per key; ``by`` is a name in :data:`BREAKDOWNS`. ``win_rate`` is a fraction 0..1."""
    spec = BREAKDOWNS.get(by)
    if spec.column not in trades.columns:
        raise DataError(f"breakdown by {by} needs a {spec.column!r} column", where=f"trades.{spec.column}")
    t = prepare_trades(trades, sort=False)  # grouping does not depend on order
    gp, gl = _NET.filter(_NET > 0).sum(), _NET.filter(_NET < 0).sum()
    out = (
        t.group_by(spec.key(pl.col(spec.column)).alias("key"))
        .agg(
            pl.len().cast(pl.Int64).alias("trades"),
            (_NET > 0).sum().cast(pl.Int64).alias("wins"),
            _NET.sum().alias("net_profit"),
            _NET.mean().alias("avg_net"),
            gp.alias("gross_profit"),
            gl.alias("gross_loss"),
        )
        .sort("key", nulls_last=True)
        .with_columns(
            (pl.col("wins") / pl.col("trades")).alias("win_rate"),
            pl.when(pl.col("gross_loss") < 0)
            .then(pl.col("gross_profit") / -pl.col("gross_loss"))
            .when(pl.col("gross_profit") > 0)
            .then(float("inf"))
            .alias("profit_factor"),
        )
    )
    if spec.labels is not None:
        names = dict(enumerate(spec.labels, start=1))
        out = out.with_columns(pl.col("key").replace_strict(names, return_dtype=pl.Utf8))
    return out.select(
        "key",
        "trades",
        "wins",
        "win_rate",
        "net_profit",
        "avg_net",
        "gross_profit",
        "gross_loss",
        "profit_factor",
    )
