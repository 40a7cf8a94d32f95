"""Analytics: pure functions of a closed-trades frame (``TRADES_SCHEMA``), no store access.

>>> from workbench.analytics import compute_metrics, equity_curve, daily_summary, breakdown
>>> m = compute_metrics(trades, initial_balance=10_000.0, cash_flows=flows)

Conventions (also in docs/analytics.md):

* **Order.** Trades are taken in close-time order, then open time, then trade id (as text). Times are
  naive wall-clock as the platform printed them; days are calendar dates of those times.
* **Wins and losses.** A win has ``net_profit > 0``, a loss ``< 0``; a break-even trade is neither
  (counted in ``total_trades`` only) and ends both winning and losing streaks. Gross profit/loss are the
  sums of positive/negative ``net_profit`` (as the ingest validator defines them).
* **Balance curve.** ``initial_balance`` at the start (the first open time, or the first cash flow if
  earlier), then after every cash flow and every trade close; a cash flow goes before a trade closing
  at the same instant. ``final_balance = initial_balance + sum(cash flows) + net_profit``.
* **Drawdown.** Cash flows are not drawdowns: a deposit or withdrawal moves the running peak by its
  own amount. With ``P`` the cumulative trading P/L and ``C`` the cumulative cash flows after each
  point (the start point has ``P = C = 0``): ``drawdown = max(P so far) - P`` (money, >= 0),
  ``peak = balance + drawdown = initial + C + max(P so far)``, ``drawdown_pct = 100 * drawdown / peak``
  (null where the peak is not positive). ``max_drawdown`` and ``max_drawdown_pct`` are the largest of
  each over all points (they may come from different points). Without cash flows this is the usual
  peak-to-trough of the balance after each closed trade.
* **Daily returns** (Sharpe, Sortino, daily summary, monthly returns). The trading calendar is every
  Monday–Friday from the first trade's open date to the last trade's close date, plus any Saturday
  or Sunday on which a trade closed. A day's return is its trading P/L (trades closed that day) over
  the previous calendar day's end balance (for the first day: initial balance plus cash flows dated
  before it); cash flows move balances but never count as return. A day whose base balance is not
  positive has no return (null) and is left out.
* **Sharpe** = mean / std (ddof 1) × sqrt(252), **Sortino** = mean / sqrt(mean(min(r, 0)²)) × sqrt(252),
  risk-free 0 — both exactly as ``quantstats.stats.sharpe``/``sortino``. ``None`` with fewer than two
  daily returns or a zero denominator.
* **Division by zero.** ``profit_factor`` = gross profit / −gross loss and ``recovery_factor`` =
  net profit / max drawdown are ``inf`` when the numerator is positive and the denominator zero,
  ``None`` when both are zero; ``Metrics.to_dict()`` writes every non-finite number as ``None``.
  Rates and averages of an empty set are ``None``.
"""

from __future__ import annotations

from workbench.analytics.breakdowns import BREAKDOWNS, breakdown
from workbench.analytics.curves import daily_summary, equity_curve, monthly_returns
from workbench.analytics.metrics import Metrics, compute_metrics

__all__ = [
    "Metrics",
    "compute_metrics",
    "equity_curve",
    "daily_summary",
    "monthly_returns",
    "breakdown",
    "BREAKDOWNS",
]
