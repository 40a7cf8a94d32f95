"""Property tests (hypothesis) of the analytics on random trade lists, with and without cash flows."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.analytics import compute_metrics, daily_summary, equity_curve
from workbench.ingest.records import CASH_FLOWS_SCHEMA, TRADES_SCHEMA, conform

BASE = datetime(2024, 1, 1)
cents = st.integers(-100_000, 100_000).map(lambda c: c / 100)
# few distinct close instants, so that many trades share a close time
close_slot = st.integers(0, 12).map(lambda h: BASE + timedelta(hours=9 * h))


@st.composite
def trade_lists(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(0, 25))
    rows = []
    for i in range(n):
        close = draw(close_slot)
        held = timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
        rows.append(
            dict(
                trade_id=f"{i:03d}",
                open_time=close - held,
                close_time=close,
                symbol=draw(st.sampled_from(["EURUSD", "XAUUSD"])),
                direction=draw(st.sampled_from(["long", "short"])),
                net_profit=draw(cents),
            )
        )
    return conform(rows, TRADES_SCHEMA)


flow_lists = st.lists(st.tuples(close_slot, cents), max_size=4).map(
    lambda fl: conform([dict(time=t, amount=a, kind="deposit") for t, a in fl], CASH_FLOWS_SCHEMA)
)
balances = st.integers(100, 1_000_000).map(float)


def tol(*xs: float) -> float:
    return 1e-9 * (1 + sum(abs(x) for x in xs))


@settings(max_examples=150, deadline=None)
@given(trades=trade_lists(), initial=balances, flows=flow_lists, seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(trades, initial, flows, seed) -> None:
    # any permutation (in particular among trades sharing a close time) gives the same figures
    shuffled = trades.sample(fraction=1.0, shuffle=True, seed=seed)
    a, b = compute_metrics(trades, initial, flows), compute_metrics(shuffled, initial, flows)
    for key, va in a.to_dict().items():
        vb = b.to_dict()[key]
        if isinstance(va, float) and isinstance(vb, float):
            assert vb == pytest.approx(va, rel=1e-9, abs=1e-9), key
        else:
            assert vb == va, key
    assert equity_curve(shuffled, initial, flows)["trade_id"].to_list() == (
        equity_curve(trades, initial, flows)["trade_id"].to_list()
    )


@settings(max_examples=150, deadline=None)
@given(trades=trade_lists(), initial=balances, flows=flow_lists)
def test_invariants(trades, initial, flows) -> None:
    m = compute_metrics(trades, initial, flows)
    assert abs(m.net_profit - (m.gross_profit + m.gross_loss)) <= tol(m.gross_profit, m.gross_loss)
    assert m.gross_profit >= 0 >= m.gross_loss
    assert m.max_drawdown >= 0 and m.max_drawdown_pct >= 0
    assert m.winning_trades + m.losing_trades <= m.total_trades == trades.height
    assert m.long_trades + m.short_trades == m.total_trades
    assert m.max_consecutive_wins <= m.winning_trades and m.max_consecutive_losses <= m.losing_trades
    assert abs(m.net_profit - sum(trades["net_profit"])) <= tol(*trades["net_profit"])
    curve = equity_curve(trades, initial, flows)
    assert curve.height == 1 + trades.height + flows.height
    assert (curve["drawdown"] >= 0).all() and (curve["peak"] >= curve["balance"] - tol(initial)).all()
    assert abs(curve["balance"][-1] - m.final_balance) <= tol(initial, m.final_balance, *flows["amount"])
    assert abs(curve["drawdown"].max() - m.max_drawdown) <= tol(m.max_drawdown)
    daily = daily_summary(trades, initial, flows)
    assert daily["trades"].sum() == m.total_trades
    assert abs(daily["net_profit"].sum() - m.net_profit) <= tol(*trades["net_profit"])


@settings(max_examples=100, deadline=None)
@given(trades=trade_lists(), initial=balances, flows=flow_lists)
def test_cash_flows_make_no_drawdown_in_money(trades, initial, flows) -> None:
    # the documented rule: a deposit/withdrawal moves the peak by its amount, so the money drawdown is
    # the drawdown of the trading P/L alone
    with_flows = compute_metrics(trades, initial, flows).max_drawdown
    without = compute_metrics(trades, initial).max_drawdown
    assert with_flows == pytest.approx(without, rel=1e-9, abs=1e-6)


@st.composite
def anomalous_trade_lists(draw: st.DrawFn) -> pl.DataFrame:
    """Trade lists where a trade may close before it opens (as platforms sometimes write them), even
    before every other trade's open, so the start point need not come first in time."""
    trades = draw(trade_lists())
    if trades.height and draw(st.booleans()):
        back = timedelta(hours=draw(st.integers(1, 200)))
        trades = trades.with_columns(
            pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.col("open_time") + back)
            .otherwise(pl.col("open_time"))
            .alias("open_time")
        )
    return trades


@settings(max_examples=200, deadline=None)
@given(trades=anomalous_trade_lists(), initial=st.sampled_from([-500.0, 0.0, 1.0, 10_000.0]))
def test_drawdowns_without_flows_equal_the_event_curve_to_the_last_bit(trades, initial) -> None:
    """Without cash flows the metrics skip the event curve's start row (a copy of every column at 16M
    rows); its drawdowns and the daily table built on it must come out bit for bit the same."""
    from workbench.analytics._frame import events_lazy, in_trade_order, prepare_flows
    from workbench.analytics.curves import daily_table
    from workbench.analytics.metrics import _drawdowns

    if trades.height == 0:
        return
    first_open = trades["open_time"].min()
    t = in_trade_order(trades, ["close_time", "net_profit"])
    flows = prepare_flows(None)
    curve = events_lazy(t, flows, initial, trade_ids=False, first_open=first_open).collect()
    dd, pct, small = _drawdowns(t, flows, initial, first_open)
    assert dd == float(curve["drawdown"].max() or 0.0)
    assert pct == float(curve["drawdown_pct"].max() or 0.0)
    want = daily_table(t, flows, initial, curve, first_open=first_open)
    got = daily_table(t, flows, initial, small, first_open=first_open)
    assert got.equals(want)
