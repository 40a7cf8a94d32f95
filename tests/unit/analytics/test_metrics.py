"""Analytics on a hand-computed fixture and on edge cases.

Every expected figure below is worked out by hand in the comments (the fixture is small enough to
follow on paper); none is copied from the code under test.
"""

from __future__ import annotations

import json
import math
import statistics
from datetime import date, datetime

import polars as pl
import pytest

from workbench.analytics import (
    BREAKDOWNS,
    breakdown,
    compute_metrics,
    daily_summary,
    equity_curve,
    monthly_returns,
)
from workbench.errors import DataError, RegistryError
from workbench.ingest.records import CASH_FLOWS_SCHEMA, TRADES_SCHEMA, conform


def D(day: int, hh: int, mm: int = 0) -> datetime:  # noqa: N802 - a date in March 2024
    return datetime(2024, 3, day, hh, mm)


def trade(tid, opened, closed, symbol, direction, profit, commission, swap) -> dict:
    return dict(
        trade_id=tid,
        open_time=opened,
        close_time=closed,
        symbol=symbol,
        direction=direction,
        volume=0.1,
        commission=commission,
        swap=swap,
        profit=profit,
        net_profit=profit + commission + swap,
    )


# 2024-03-04 is a Monday, 2024-03-09 a Saturday.
#  id  open          close         sym     dir    profit comm swap   net  duration
#  T1  Mon 09:00     Mon 11:00     EURUSD  long     105   -5    0   +100     7 200 s
#  T2  Mon 10:00     Tue 10:00     EURUSD  short    -48   -2    0    -50    86 400 s
#  T3  Tue 12:00     Tue 13:30     GBPUSD  long     -78   -2    0    -80     5 400 s
#  --  deposit +500 on Tue 18:00
#  T4  Wed 08:00     Wed 09:00     GBPUSD  short   -115   -3   -2   -120     3 600 s
#  T5  Wed 14:00     Thu 14:00     EURUSD  long      62   -3   +1    +60    86 400 s
#  T6  Thu 15:00     Fri 15:00     EURUSD  long     200   -4   +4   +200    86 400 s
#  T7  Fri 16:00     Fri 16:30     GBPUSD  short      2   -2    0      0     1 800 s
#  T8  Sat 10:00     Sat 11:00     EURUSD  long      31   -1    0    +30     3 600 s
# Rows are given out of order on purpose: the analytics sort by close time.
ROWS = [
    trade("T5", D(6, 14), D(7, 14), "EURUSD", "long", 62.0, -3.0, 1.0),
    trade("T1", D(4, 9), D(4, 11), "EURUSD", "long", 105.0, -5.0, 0.0),
    trade("T3", D(5, 12), D(5, 13, 30), "GBPUSD", "long", -78.0, -2.0, 0.0),
    trade("T2", D(4, 10), D(5, 10), "EURUSD", "short", -48.0, -2.0, 0.0),
    trade("T8", D(9, 10), D(9, 11), "EURUSD", "long", 31.0, -1.0, 0.0),
    trade("T4", D(6, 8), D(6, 9), "GBPUSD", "short", -115.0, -3.0, -2.0),
    trade("T7", D(8, 16), D(8, 16, 30), "GBPUSD", "short", 2.0, -2.0, 0.0),
    trade("T6", D(7, 15), D(8, 15), "EURUSD", "long", 200.0, -4.0, 4.0),
]
TRADES = conform(ROWS, TRADES_SCHEMA)
FLOWS = conform([dict(time=D(5, 18), amount=500.0, kind="deposit", comment="")], CASH_FLOWS_SCHEMA)
INITIAL = 1000.0

# Balance curve (P = cumulative trading P/L, C = cumulative cash flows; peak = 1000 + C + max P so far):
#  point    P     C   balance  max P  drawdown  peak   drawdown %
#  start    0     0    1000      0       0      1000    0
#  T1     100     0    1100    100       0      1100    0
#  T2      50     0    1050    100      50      1100    50/1100  = 4.5454..
#  T3     -30     0     970    100     130      1100   130/1100  = 11.8181..
#  dep    -30   500    1470    100     130      1600   130/1600  = 8.125
#  T4    -150   500    1350    100     250      1600   250/1600  = 15.625   <- max, in money and in %
#  T5     -90   500    1410    100     190      1600   190/1600  = 11.875
#  T6     110   500    1610    110       0      1610    0
#  T7     110   500    1610    110       0      1610    0
#  T8     140   500    1640    140       0      1640    0
# (A curve that ignored the deposit's shift of the peak would give 11.82 %; one that ignored the deposit
# altogether 250/1100 = 22.7 %: 15.625 tells the rule apart.)
CURVE = [
    # time, balance, peak, drawdown, trade_id
    (D(4, 9), 1000.0, 1000.0, 0.0, None),
    (D(4, 11), 1100.0, 1100.0, 0.0, "T1"),
    (D(5, 10), 1050.0, 1100.0, 50.0, "T2"),
    (D(5, 13, 30), 970.0, 1100.0, 130.0, "T3"),
    (D(5, 18), 1470.0, 1600.0, 130.0, None),
    (D(6, 9), 1350.0, 1600.0, 250.0, "T4"),
    (D(7, 14), 1410.0, 1600.0, 190.0, "T5"),
    (D(8, 15), 1610.0, 1610.0, 0.0, "T6"),
    (D(8, 16, 30), 1610.0, 1610.0, 0.0, "T7"),
    (D(9, 11), 1640.0, 1640.0, 0.0, "T8"),
]

# Daily calendar: Mon 4 .. Fri 8 (weekdays from first open to last close) + Sat 9 (a close).
# Return = day's trading P/L / previous day's end balance (the deposit moves the balance, not the return).
#  date  trades wins losses  net   gross+  gross-  end balance  return                 drawdown % at day end
#  4       1     1    0      100    100      0       1100       100/1000 = 10 %        0
#  5       2     0    2     -130      0   -130       1470      -130/1100              8.125 (the deposit)
#  6       1     0    1     -120      0   -120       1350      -120/1470             15.625
#  7       1     1    0       60     60      0       1410        60/1350             11.875
#  8       2     1    0      200    200      0       1610       200/1410              0
#  9       1     1    0       30     30      0       1640        30/1610              0
DAILY_RETURNS = [100 / 1000, -130 / 1100, -120 / 1470, 60 / 1350, 200 / 1410, 30 / 1610]


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-12, abs=1e-9)


def test_hand_computed_metrics() -> None:
    m = compute_metrics(TRADES, INITIAL, FLOWS)
    # net = 100 - 50 - 80 - 120 + 60 + 200 + 0 + 30 = 140
    assert m.net_profit == approx(140.0)
    # gross profit = 100 + 60 + 200 + 30 = 390; gross loss = -50 - 80 - 120 = -250
    assert m.gross_profit == approx(390.0)
    assert m.gross_loss == approx(-250.0)
    assert m.profit_factor == approx(390 / 250)  # 1.56
    # 8 trades: 4 winners (T1 T5 T6 T8), 3 losers (T2 T3 T4), T7 break-even
    assert (m.total_trades, m.winning_trades, m.losing_trades) == (8, 4, 3)
    assert m.win_rate == approx(0.5)
    assert m.expectancy == approx(140 / 8)  # 17.5
    assert m.avg_win == approx(390 / 4)  # 97.5
    assert m.avg_loss == approx(-250 / 3)
    assert m.largest_win == approx(200.0)
    assert m.largest_loss == approx(-120.0)
    # in close order: W L L L W W 0 W -> longest win run 2 (T5 T6; T7 breaks it), loss run 3 (T2 T3 T4,
    # the deposit between T3 and T4 does not break it)
    assert (m.max_consecutive_wins, m.max_consecutive_losses) == (2, 3)
    assert m.max_drawdown == approx(250.0)
    assert m.max_drawdown_pct == approx(15.625)
    assert m.recovery_factor == approx(140 / 250)  # 0.56
    # durations 7200 + 86400 + 5400 + 3600 + 86400 + 86400 + 1800 + 3600 = 280800 s over 8 trades
    assert m.avg_trade_duration_seconds == approx(35_100.0)
    assert m.initial_balance == 1000.0
    assert m.final_balance == approx(1640.0)  # 1000 + 500 deposit + 140
    # long: T1 T3 T5 T6 T8 (4 winners); short: T2 T4 T7 (no winner)
    assert (m.long_trades, m.short_trades) == (5, 3)
    assert m.long_win_rate == approx(0.8)
    assert m.short_win_rate == approx(0.0)
    assert m.total_commission == approx(-22.0)  # -5 -2 -2 -3 -3 -4 -2 -1
    assert m.total_swap == approx(3.0)  # -2 +1 +4
    assert m.start == D(4, 9)  # first open
    assert m.end == D(9, 11)  # last close
    assert m.trading_days == 6  # closes on the 4th, 5th, 6th, 7th, 8th and 9th
    # Sharpe/Sortino of the six daily returns above, with the standard library as the calculator
    mean, sd = statistics.mean(DAILY_RETURNS), statistics.stdev(DAILY_RETURNS)
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in DAILY_RETURNS) / len(DAILY_RETURNS))
    assert m.sharpe_ratio == approx(mean / sd * math.sqrt(252))
    assert m.sortino_ratio == approx(mean / downside * math.sqrt(252))


def test_field_order_and_json() -> None:
    d = compute_metrics(TRADES, INITIAL, FLOWS).to_dict()
    first = [
        "net_profit", "gross_profit", "gross_loss", "profit_factor", "total_trades", "winning_trades",
        "losing_trades", "win_rate", "max_drawdown", "max_drawdown_pct", "recovery_factor", "sharpe_ratio",
        "sortino_ratio", "avg_trade_duration_seconds", "initial_balance", "final_balance",
    ]  # fmt: skip
    assert list(d)[: len(first)] == first
    assert d["start"] == "2024-03-04T09:00:00" and d["end"] == "2024-03-09T11:00:00"
    assert json.loads(json.dumps(d, allow_nan=False)) == d


def test_equity_curve_by_hand() -> None:
    curve = equity_curve(TRADES, INITIAL, FLOWS)
    assert curve.columns == ["time", "balance", "peak", "drawdown", "drawdown_pct", "trade_id"]
    assert curve["time"].to_list() == [c[0] for c in CURVE]
    assert curve["trade_id"].to_list() == [c[4] for c in CURVE]
    for col, i in (("balance", 1), ("peak", 2), ("drawdown", 3)):
        assert curve[col].to_list() == [approx(c[i]) for c in CURVE], col
    assert curve["drawdown_pct"].to_list() == [approx(100 * c[3] / c[2]) for c in CURVE]


def test_daily_summary_by_hand() -> None:
    daily = daily_summary(TRADES, INITIAL, FLOWS)
    assert daily.columns == [
        "date", "trades", "wins", "losses", "net_profit", "gross_profit", "gross_loss", "end_balance",
        "return_pct", "drawdown_pct",
    ]  # fmt: skip
    assert daily["date"].to_list() == [date(2024, 3, d) for d in range(4, 10)]
    assert daily["trades"].to_list() == [1, 2, 1, 1, 2, 1]
    assert daily["wins"].to_list() == [1, 0, 0, 1, 1, 1]
    assert daily["losses"].to_list() == [0, 2, 1, 0, 0, 0]
    assert daily["net_profit"].to_list() == [approx(x) for x in (100, -130, -120, 60, 200, 30)]
    assert daily["gross_profit"].to_list() == [approx(x) for x in (100, 0, 0, 60, 200, 30)]
    assert daily["gross_loss"].to_list() == [approx(x) for x in (0, -130, -120, 0, 0, 0)]
    assert daily["end_balance"].to_list() == [approx(x) for x in (1100, 1470, 1350, 1410, 1610, 1640)]
    assert daily["return_pct"].to_list() == [approx(100 * r) for r in DAILY_RETURNS]
    assert daily["drawdown_pct"].to_list() == [approx(x) for x in (0, 8.125, 15.625, 11.875, 0, 0)]


def test_monthly_returns_by_hand() -> None:
    # time-weighted: 1000 -> 970 before the deposit, then 1470 -> 1640: 0.97 * 1640/1470 - 1
    got = monthly_returns(TRADES, INITIAL, FLOWS)
    assert got.columns == ["year", "month", "return_pct"]
    assert got.rows() == [(2024, 3, approx(100 * (0.97 * 1640 / 1470 - 1)))]


def _rows(frame: pl.DataFrame) -> dict:
    return {r["key"]: r for r in frame.iter_rows(named=True)}


def test_breakdowns_by_hand() -> None:
    # weekday of the close: Mon T1 | Tue T2 T3 | Wed T4 | Thu T5 | Fri T6 T7 | Sat T8, in week order
    wd = breakdown(TRADES, "weekday")
    assert wd.columns == [
        "key", "trades", "wins", "win_rate", "net_profit", "avg_net", "gross_profit", "gross_loss", "profit_factor"
    ]  # fmt: skip
    assert wd["key"].to_list() == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    assert wd["trades"].to_list() == [1, 2, 1, 1, 2, 1]
    assert wd["net_profit"].to_list() == [approx(x) for x in (100, -130, -120, 60, 200, 30)]
    fri = _rows(wd)["Friday"]  # T6 +200, T7 0
    assert (fri["wins"], fri["win_rate"], fri["avg_net"], fri["profit_factor"]) == (1, 0.5, 100.0, math.inf)
    assert _rows(wd)["Tuesday"]["profit_factor"] == 0.0
    # hour of the open: 9 T1, 10 T2 T8, 12 T3, 8 T4, 14 T5, 15 T6, 16 T7
    hr = breakdown(TRADES, "hour")
    assert hr["key"].to_list() == [8, 9, 10, 12, 14, 15, 16]
    h10 = _rows(hr)[10]  # T2 -50, T8 +30
    assert (h10["trades"], h10["wins"], h10["net_profit"], h10["avg_net"]) == (2, 1, -20.0, -10.0)
    assert h10["profit_factor"] == approx(30 / 50)
    # symbol: EURUSD T1 T2 T5 T6 T8 = 100 - 50 + 60 + 200 + 30; GBPUSD T3 T4 T7 = -80 - 120 + 0
    sym = _rows(breakdown(TRADES, "symbol"))
    assert list(sym) == ["EURUSD", "GBPUSD"]
    assert (sym["EURUSD"]["trades"], sym["EURUSD"]["wins"], sym["EURUSD"]["net_profit"]) == (5, 4, 340.0)
    assert sym["EURUSD"]["profit_factor"] == approx(390 / 50)
    assert sym["GBPUSD"]["gross_loss"] == approx(-200.0) and sym["GBPUSD"]["win_rate"] == 0.0
    # direction: long T1 T3 T5 T6 T8 = 310 (gross 390 / -80); short T2 T4 T7 = -170
    dr = _rows(breakdown(TRADES, "direction"))
    assert dr["long"]["net_profit"] == approx(310.0) and dr["long"]["profit_factor"] == approx(390 / 80)
    assert dr["short"]["net_profit"] == approx(-170.0) and dr["short"]["wins"] == 0
    mo = breakdown(TRADES, "month")
    assert mo["key"].to_list() == ["March"] and mo["trades"].to_list() == [8]


def test_breakdown_registry() -> None:
    assert BREAKDOWNS.names() == ["direction", "hour", "month", "regime", "symbol", "weekday"]
    with pytest.raises(RegistryError, match="unknown breakdown 'weekdays'.*did you mean 'weekday'"):
        breakdown(TRADES, "weekdays")
    with pytest.raises(DataError, match="symbol"):
        breakdown(TRADES.drop("symbol"), "symbol")


def test_same_close_time_order() -> None:
    # three trades closing at the same instant: ordered by open time, then by trade id
    t = conform(
        [
            trade("b", D(4, 9), D(4, 12), "X", "long", -10.0, 0.0, 0.0),
            trade("c", D(4, 8), D(4, 12), "X", "long", 5.0, 0.0, 0.0),
            trade("a", D(4, 9), D(4, 12), "X", "long", 20.0, 0.0, 0.0),
        ],
        TRADES_SCHEMA,
    )
    assert equity_curve(t, 100.0)["trade_id"].to_list() == [None, "c", "a", "b"]
    # 100 -> 105 -> 125 -> 115: drawdown 10 from the 125 peak
    assert compute_metrics(t, 100.0).max_drawdown == approx(10.0)


def test_cash_flow_before_trade_at_same_instant() -> None:
    t = conform([trade("x", D(4, 9), D(4, 12), "X", "long", -50.0, 0.0, 0.0)], TRADES_SCHEMA)
    f = conform([dict(time=D(4, 12), amount=-100.0, kind="withdrawal")], CASH_FLOWS_SCHEMA)
    curve = equity_curve(t, 1000.0, f)
    # start 1000 -> withdrawal 900 (peak moves to 900) -> trade 850: 50 / 900
    assert curve["balance"].to_list() == [1000.0, 900.0, 850.0]
    assert curve["peak"].to_list() == [1000.0, 900.0, 900.0]
    assert compute_metrics(t, 1000.0, f).max_drawdown_pct == approx(100 * 50 / 900)


# ---------------------------------------------------------------- edge cases


def test_zero_trades() -> None:
    empty = conform([], TRADES_SCHEMA)
    m = compute_metrics(empty, 5000.0)
    assert (m.total_trades, m.winning_trades, m.losing_trades) == (0, 0, 0)
    assert (m.net_profit, m.gross_profit, m.gross_loss, m.max_drawdown, m.max_drawdown_pct) == (0, 0, 0, 0, 0)
    assert m.profit_factor is None and m.win_rate is None and m.expectancy is None
    assert m.sharpe_ratio is None and m.sortino_ratio is None and m.recovery_factor is None
    assert m.avg_trade_duration_seconds is None and m.start is None and m.end is None
    assert m.final_balance == 5000.0 and m.trading_days == 0
    json.dumps(m.to_dict(), allow_nan=False)
    assert equity_curve(empty, 5000.0)["balance"].to_list() == [5000.0]
    assert daily_summary(empty, 5000.0).height == 0
    assert monthly_returns(empty, 5000.0).height == 0
    assert breakdown(empty, "weekday").height == 0
    # cash flows alone move the final balance but make no drawdown
    f = conform([dict(time=D(4, 9), amount=-300.0, kind="withdrawal")], CASH_FLOWS_SCHEMA)
    m = compute_metrics(empty, 5000.0, f)
    assert m.final_balance == 4700.0 and m.max_drawdown == 0.0 and m.max_drawdown_pct == 0.0


def test_all_winners() -> None:
    t = conform(
        [
            trade("1", D(4, 9), D(4, 10), "X", "long", 10.0, 0.0, 0.0),
            trade("2", D(5, 9), D(5, 10), "X", "short", 30.0, 0.0, 0.0),
            trade("3", D(6, 9), D(6, 10), "X", "long", 20.0, 0.0, 0.0),
        ],
        TRADES_SCHEMA,
    )
    m = compute_metrics(t, 1000.0)
    assert m.profit_factor == math.inf and m.to_dict()["profit_factor"] is None
    assert m.recovery_factor == math.inf and m.to_dict()["recovery_factor"] is None  # no drawdown
    assert m.max_drawdown == 0.0 and m.losing_trades == 0 and m.avg_loss is None and m.largest_loss is None
    assert m.max_consecutive_wins == 3 and m.win_rate == 1.0
    assert m.sortino_ratio is None  # no negative day: zero downside deviation
    assert m.sharpe_ratio is not None  # returns 1 %, 30/1010, 20/1040 differ
    assert breakdown(t, "direction")["profit_factor"].to_list() == [math.inf, math.inf]


def test_single_day() -> None:
    t = conform(
        [
            trade("1", D(4, 9), D(4, 10), "X", "long", 10.0, 0.0, 0.0),
            trade("2", D(4, 11), D(4, 12), "X", "long", -25.0, 0.0, 0.0),
        ],
        TRADES_SCHEMA,
    )
    m = compute_metrics(t, 1000.0)
    assert m.sharpe_ratio is None and m.sortino_ratio is None  # one daily return only
    assert m.trading_days == 1
    assert m.max_drawdown == approx(25.0) and m.max_drawdown_pct == approx(100 * 25 / 1010)
    daily = daily_summary(t, 1000.0)
    assert daily["return_pct"].to_list() == [approx(-1.5)]  # -15 / 1000
    assert monthly_returns(t, 1000.0)["return_pct"].to_list() == [approx(-1.5)]


def test_only_break_even_trades() -> None:
    t = conform([trade("1", D(4, 9), D(4, 10), "X", "long", 3.0, -3.0, 0.0)], TRADES_SCHEMA)
    m = compute_metrics(t, 1000.0)
    assert m.profit_factor is None and m.recovery_factor is None
    assert (m.winning_trades, m.losing_trades) == (0, 0)
    assert (m.max_consecutive_wins, m.max_consecutive_losses) == (0, 0)


def test_bad_input_is_one_line_data_error() -> None:
    with pytest.raises(DataError, match="no 'net_profit' column"):
        compute_metrics(TRADES.drop("net_profit"), 1000.0)
    bad = TRADES.with_columns(pl.lit(None, pl.Float64).alias("net_profit"))
    with pytest.raises(DataError, match="8 row.*no net_profit"):
        compute_metrics(bad, 1000.0)
    with pytest.raises(DataError, match="must be a Datetime"):
        compute_metrics(TRADES.with_columns(pl.col("close_time").cast(pl.Utf8)), 1000.0)
