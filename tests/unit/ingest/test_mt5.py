"""MetaTrader 5 parsers against the real exports in shared/fixtures/real.

Every expected figure below was read by eye from the fixture itself (the label is quoted
in the comment); nothing is copied from the parser's own output.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from conftest import REAL_FILES, real

from workbench.errors import DataError
from workbench.ingest import parse_bytes, parse_file
from workbench.ingest.parsers import _mt5_common as mt5
from workbench.ingest.registry import HEAD_BYTES, PARSERS, load_all

TESTER = "mt5_tester_html"
HISTORY = "mt5_history_html"
OPTIMIZER = "mt5_optimizer_xml"
MINE = {TESTER: "mt5_tester_html", HISTORY: "mt5_history_html", OPTIMIZER: "mt5_optimizer_xml"}  # -> folder

ZERO = "mt5_tester_html/didinska21_zero_to_hero_report.html"
MA = "mt5_tester_html/mihawk2016_MT5EA_moving_average_usdjpy.html"
GOLD = "mt5_tester_html/zhijucen_246753_ReportTester.html"
GOLD4 = "mt5_tester_html/zhijucen_250013_ReportTester.html"
HIST = "mt5_history_html/mihawk2016_MT5Trade5.html"
NETTING = "mt5_history_html/mihawk2016_MT5Trade7_nohedge.html"
OPT = "mt5_optimizer_xml/zhijucen_246753_ReportOptimizer.xml"


def _gross(values: pl.Series) -> tuple[float, float]:
    return float(values.filter(values > 0).sum()), float(values.filter(values < 0).sum())


# --------------------------------------------------------------------------- tester reports

# Printed in each report's Results / Settings / Deals totals row:
# (file, "Total Trades:", "Total Net Profit:", "Gross Profit:", "Gross Loss:", "Profit Factor:",
#  "Initial Deposit:", last Balance of the Deals table, "Profit Trades", "Loss Trades",
#  "Short Trades (won %)", "Long Trades (won %)", "Largest profit trade:", "Largest loss trade:")
TESTER_FIGURES = [
    (ZERO, 3, -6.11, 6.69, -12.80, 0.52, 12.00, 5.89, 1, 2, 0, 3, 6.69, -10.78),
    (GOLD4, 30, 23.06, 336.42, -313.36, 1.07, 1000.00, 1023.06, 11, 19, 2, 28, 40.05, -26.09),
    (MA, 152, 1665.38, 4667.72, -3002.34, 1.55, 10000.00, 11665.38, 48, 104, 75, 77, 461.33, -415.84),
    (GOLD, 346, 18943.28, 32506.58, -13563.30, 2.40, 2000.00, 20943.28, 137, 209, 96, 250, 1999.20, -436.65),
]


@pytest.mark.parametrize("row", TESTER_FIGURES, ids=lambda r: Path(r[0]).stem)
def test_tester_totals_match_the_report(row):
    f, n, net, gp, gl, pf, deposit, final, wins, losses, shorts, longs, best, worst = row
    p = parse_file(real(f))
    assert p.format == TESTER and p.kind == "backtest" and p.platform == "mt5"
    t = p.trades
    assert t.height == n  # "Total Trades:" = number of exit deals
    assert round(float(t["net_profit"].sum()), 2) == pytest.approx(net, abs=1e-9)  # "Total Net Profit:"
    assert p.initial_balance == deposit  # "Initial Deposit:" (the first, `balance`, deal)
    assert p.cash_flows.height == 0  # the initial balance deal is not a cash flow
    assert deposit + float(t["net_profit"].sum()) == pytest.approx(final, abs=0.005)  # Deals totals Balance
    assert (t["direction"] == "short").sum() == shorts  # "Short Trades (won %):"
    assert (t["direction"] == "long").sum() == longs  # "Long Trades (won %):"
    # MT5 statistics are per deal: a trade's exit-deal result is profit + swap (+ exit commission,
    # which is 0.00 on every exit deal of these three reports); entry-deal commissions are separate
    # losing "deals". Hand calculation of MT5's definition from the trades:
    exit_result = t["profit"] + t["swap"]
    entry_commission = float(t["commission"].sum())
    g_plus, g_minus = _gross(exit_result)
    assert g_plus == pytest.approx(gp, abs=0.005)  # "Gross Profit:"
    assert g_minus + entry_commission == pytest.approx(gl, abs=0.005)  # "Gross Loss:"
    assert round(g_plus / -(g_minus + entry_commission), 2) == pf  # "Profit Factor:"
    assert (exit_result > 0).sum() == wins  # "Profit Trades (% of total):"
    assert (exit_result < 0).sum() == losses  # "Loss Trades (% of total):"
    assert float(exit_result.max()) == pytest.approx(best)  # "Largest profit trade:"
    assert float(exit_result.min()) == pytest.approx(worst)  # "Largest loss trade:"
    # net profit and the trade count always reconcile (validate() re-checks them)
    assert p.stated["net_profit"] == net and p.stated["total_trades"] == n
    assert p.stated["initial_balance"] == deposit and p.stated["final_balance"] == final
    # every printed figure is stated, and MT5's per-deal recomputation reproduces each of them
    printed = dict(
        net_profit=net, gross_profit=gp, gross_loss=gl, profit_factor=pf, total_trades=n,
        winning_trades=wins, losing_trades=losses, initial_balance=deposit, final_balance=final,
    )  # fmt: skip
    assert dict(p.stated) == pytest.approx(printed, abs=1e-9)
    assert p.convention == "mt5 per deal" and set(p.platform_figures) == set(printed)
    for key, value in printed.items():
        tol = 0.0051 if key == "profit_factor" else 0.005
        assert p.platform_figures[key] == pytest.approx(value, abs=tol), key
    assert p.meta["timezone"] == "server time, offset unknown"


@pytest.mark.parametrize("f", [ZERO, MA])
def test_tester_without_entry_commission_reconciles_gross_figures(f):
    """No money on entry deals: MT5's per-deal gross figures are the contract's per-trade ones."""
    p = parse_file(real(f))
    assert {"gross_profit", "gross_loss", "profit_factor", "winning_trades", "losing_trades"} <= set(p.stated)
    gp, gl = _gross(p.trades["net_profit"])
    assert gp == pytest.approx(p.stated["gross_profit"], abs=0.005)
    assert gl == pytest.approx(p.stated["gross_loss"], abs=0.005)


# (file, "Gross Profit:", "Gross Loss:", "Profit Factor:", "Profit Trades", "Loss Trades") as printed, and
# the same figures per position (a trade's net = profit + swap + its entry and exit commissions).
PER_DEAL = [
    # MANIFEST section 9: "Per position the same trades give 335.87 / -312.81"
    (GOLD4, (336.42, -313.36, 1.07, 11, 19), (335.87, -312.81)),
    (GOLD, (32506.58, -13563.30, 2.40, 137, 209), None),
]


@pytest.mark.parametrize(("f", "printed", "positions"), PER_DEAL, ids=lambda v: Path(str(v)).stem)
def test_tester_with_entry_commission_reproduced_per_deal(f, printed, positions):
    """Commission on every entry deal: MT5's Gross Profit/Loss count those as losing deals of their own,
    so they differ from the per-position figures; the platform figures reproduce what MT5 printed."""
    p = parse_file(real(f))
    gp, gl, pf, wins, losses = printed
    assert (p.stated["gross_profit"], p.stated["gross_loss"], p.stated["profit_factor"]) == (gp, gl, pf)
    assert (p.stated["winning_trades"], p.stated["losing_trades"]) == (wins, losses)
    pos_gp, pos_gl = _gross(p.trades["net_profit"])
    if positions is not None:
        assert (pos_gp, pos_gl) == pytest.approx(positions, abs=0.005)
    assert abs(pos_gp - gp) > 0.1 and abs(pos_gl - gl) > 0.1  # per position is not MT5's figure
    fig = p.platform_figures
    assert fig["gross_profit"] == pytest.approx(gp, abs=0.005)
    assert fig["gross_loss"] == pytest.approx(gl, abs=0.005)
    assert round(fig["profit_factor"], 2) == pf
    assert (fig["winning_trades"], fig["losing_trades"]) == (wins, losses)
    # Independent per-deal sums straight from the Deals table's cells (buy/sell deals, entries included)
    rows = mt5.load_rows(real(f).read_bytes(), "test")
    table = mt5.sections(rows, ("Settings", "Results", "Orders", "Deals"))["Deals"]
    head = next(r for r in table if r[:2] == ["Time", "Deal"])
    col = {name: i for i, name in enumerate(head)}
    deal_rows = [r for r in table if len(r) == len(head) and r[col["Type"]] in ("buy", "sell")]
    result = [
        sum(float(r[col[c]].replace(" ", "")) for c in ("Commission", "Swap", "Profit")) for r in deal_rows
    ]
    assert sum(x for x in result if x > 0) == pytest.approx(gp, abs=0.005)
    assert sum(x for x in result if x < 0) == pytest.approx(gl, abs=0.005)
    assert any("per deal" in w and "per position" in w for w in p.warnings)


def test_tester_with_entry_commission_money_totals():
    p = parse_file(real(GOLD))
    gp, gl = _gross(p.trades["net_profit"])
    assert gp < 32506.58 and gp + gl == pytest.approx(18943.28, abs=0.005)
    # "Commission" in the Deals totals row: every entry commission ends up on a trade
    assert float(p.trades["commission"].sum()) == pytest.approx(-626.45, abs=0.005)
    assert float(p.trades["swap"].sum()) == pytest.approx(-21.10, abs=0.005)  # "Swap" totals row
    assert float(p.trades["profit"].sum()) == pytest.approx(19590.83, abs=0.005)  # "Profit" totals row


def test_win_loss_rule_is_the_exit_deals_profit_swap_and_commission():
    """MT5 counts a trade by its exit deal's profit + swap + commission, not by profit alone and not by
    the position's net. The moving-average report prints "Loss Trades 104": one exit deal has profit
    0.00 and a negative swap (103 by profit alone)."""
    p = parse_file(real(MA))
    assert p.stated["losing_trades"] == 104 == p.platform_figures["losing_trades"]
    assert int((p.trades["profit"] < 0).sum()) == 103 and int((p.trades["profit"] == 0).sum()) == 1
    deals = [
        _deal(1, "buy", "in", 1.0, 1.10, commission=-5.0),  # entry commission: a losing deal of its own
        _deal(2, "sell", "out", 1.0, 1.11, profit=3.0),  # exit result +3: a win (position net -2)
        _deal(3, "buy", "in", 1.0, 1.10),
        _deal(4, "sell", "out", 1.0, 1.10, swap=-0.5),  # profit 0, swap -0.5: a loss
        _deal(5, "buy", "in", 1.0, 1.10),
        _deal(6, "sell", "out", 0.5, 1.10, commission=-0.2),  # partial close, exit commission: a loss
        _deal(7, "sell", "out", 0.5, 1.12, profit=10.0),  # the rest: a second trade, a win
    ]
    led = mt5.build(deals, {}, absorb_deposit=False)
    assert led.mt5["total_trades"] == 4 and led.trades.height == 4  # partial closes count
    assert (led.mt5["winning_trades"], led.mt5["losing_trades"]) == (2, 2)
    assert led.mt5["gross_profit"] == pytest.approx(13.0) and led.mt5["gross_loss"] == pytest.approx(-5.7)
    assert led.trades["net_profit"].to_list() == pytest.approx([-2.0, -0.5, -0.2, 10.0])


def test_tester_settings_recent_layout():
    p = parse_file(real(GOLD))
    assert (p.strategy, p.symbol, p.timeframe, p.currency) == ("OneShotGold", "XAUUSD", "h1", "USD")
    # "Period: H1 (2024.12.30 - 2026.07.01)"
    assert (p.start, p.end) == (datetime(2024, 12, 30), datetime(2026, 7, 1))
    assert p.meta["broker"] == "TradeMax Global Limited"  # "Company:"
    assert p.meta["leverage"] == "1:1000"
    assert p.meta["build"] == 5833  # "TradeMaxGlobal-Demo (Build 5833)"
    prm = p.parameters
    assert prm["InpMagicNumber"] == 202509 and type(prm["InpMagicNumber"]) is int
    assert prm["InpUseMTFConfirmation"] is True and prm["InpUseNewsFilter"] is False
    assert prm["InpSessionTimeZone"] == "Auto" and prm["InpCalendarCsvDir"] == "calendar"
    assert len(prm) == 28  # 36 "Inputs:" rows minus 8 "=== ... ====" group separators
    assert not any(k.startswith("=") or "GENERAL" in k for k in prm)
    r = p.meta["results"]
    assert r["balance_drawdown_maximal"] == 1147.43 and r["balance_drawdown_maximal_pct"] == 12.70
    assert r["equity_drawdown_relative_pct"] == 44.91 and r["equity_drawdown_relative"] == 903.25
    assert r["sharpe_ratio"] == 22.92 and r["ontester_result"] == 1.3269931172576
    assert r["history_quality_pct"] == 100  # "100% real ticks"
    assert r["average_position_holding_time_s"] == 12 * 60 + 4  # "0:12:04"


def test_tester_settings_old_layout():
    p = parse_file(real(MA))
    assert (p.strategy, p.symbol, p.timeframe) == ("Moving Average", "USDJPY", "h1")
    assert (p.start, p.end) == (datetime(2016, 1, 1), datetime(2016, 8, 4))
    assert p.meta["broker"] == "MetaQuotes Software Corp."  # "Broker:"
    # "Inputs: MaximumRisk=0.02000000 / DecreaseFactor=3.00000000 / MovingPeriod=12 / MovingShift=6"
    assert p.parameters == {"MaximumRisk": 0.02, "DecreaseFactor": 3.0, "MovingPeriod": 12, "MovingShift": 6}
    assert type(p.parameters["DecreaseFactor"]) is float
    r = p.meta["results"]
    # "Balance Drawdown Maximal: 967.94 (8.09%)", "Balance Drawdown Relative: 8.09% (967.94)"
    assert (r["balance_drawdown_maximal"], r["balance_drawdown_maximal_pct"]) == (967.94, 8.09)
    assert (r["balance_drawdown_relative"], r["balance_drawdown_relative_pct"]) == (967.94, 8.09)
    assert (r["maximum_consecutive_wins"], r["maximum_consecutive_wins_money"]) == (5, 359.12)
    assert (r["maximal_consecutive_loss"], r["maximal_consecutive_loss_count"]) == (-466.32, 3)
    assert (r["short_trades"], r["short_trades_won_pct"]) == (75, 32.00)
    assert r["correlation_mfe_mae"] == -0.0489


def test_tester_spot_trade_old_layout():
    # Deals 4/5: "2016.01.05 11:00 | 4 | USDJPY | sell | in | 0.20 | 119.167" and
    # "2016.01.06 20:00 | 5 | USDJPY | buy | out | 0.20 | 118.615 | 5 | 0.00 | -0.10 | 93.07"
    t = parse_file(real(MA)).trades.row(1, named=True)
    assert t["open_time"] == datetime(2016, 1, 5, 11, 0) and t["close_time"] == datetime(2016, 1, 6, 20, 0)
    assert (t["direction"], t["volume"]) == ("short", 0.20)
    assert (t["entry_price"], t["exit_price"]) == (119.167, 118.615)
    assert (t["commission"], t["swap"], t["profit"]) == (0.0, -0.10, 93.07)
    assert t["net_profit"] == pytest.approx(92.97)


def test_tester_spot_trade_with_entry_commission():
    # "2024.12.30 10:52:08 | 2 | XAUUSD | sell | in | 0.22 | 2611.12 | 3 | -1.10" then
    # "2024.12.30 11:02:33 | 3 | XAUUSD | buy | out | 0.22 | 2612.92 | 4 | 0.00 | 0.00 | -39.60 | ... | sl 2612.92"
    t = parse_file(real(GOLD)).trades.row(0, named=True)
    assert t["trade_id"] == "3" and t["direction"] == "short" and t["volume"] == 0.22
    assert t["open_time"] == datetime(2024, 12, 30, 10, 52, 8)
    assert t["close_time"] == datetime(2024, 12, 30, 11, 2, 33)
    assert (t["entry_price"], t["exit_price"]) == (2611.12, 2612.92)
    assert (t["commission"], t["profit"]) == (-1.10, -39.60)
    assert t["net_profit"] == pytest.approx(-40.70)
    assert t["comment"] == "sl 2612.92"


def test_tester_spot_trade_stops_from_orders():
    # Deal 4 "buy | in | 0.02 | 2078.74 | order 4", order 4 "S / L 2073.36 | T / P 2089.49";
    # deal 5 "sell | out | 0.02 | 2073.35 | -10.78 | sl 2073.36"
    t = parse_file(real(ZERO)).trades.row(1, named=True)
    assert (t["direction"], t["volume"]) == ("long", 0.02)
    assert (t["entry_price"], t["exit_price"]) == (2078.74, 2073.35)
    assert (t["stop_loss"], t["take_profit"]) == (2073.36, 2089.49)
    assert t["open_time"] == datetime(2024, 1, 2, 11, 39, 32) and t["profit"] == -10.78


# --------------------------------------------------------------------------- history report


def test_history_report():
    p = parse_file(real(HIST))
    assert p.format == HISTORY and p.kind == "backtest" and p.currency == "USD"
    t = p.trades
    # Results: "Total Trades: 8", "Total Net Profit: 1 333.77", "Gross Profit: 1 622.47",
    # "Gross Loss: -288.70", "Profit Factor: 5.62", "Profit Trades 4", "Loss Trades 4"
    assert t.height == 8
    assert float(t["net_profit"].sum()) == pytest.approx(1333.77, abs=0.005)
    gp, gl = _gross(t["net_profit"])
    assert gp == pytest.approx(1622.47, abs=0.005) and gl == pytest.approx(-288.70, abs=0.005)
    assert round(gp / -gl, 2) == 5.62
    assert (t["net_profit"] > 0).sum() == 4 and (t["net_profit"] < 0).sum() == 4
    # "Short Trades (won %): 5 (20.00%)", "Long Trades (won %): 3 (100.00%)"
    assert (t["direction"] == "short").sum() == 5 and (t["direction"] == "long").sum() == 3
    # "Largest profit trade: 681.30", "Largest loss trade: -246.06"
    assert float(t["net_profit"].max()) == pytest.approx(681.30)
    assert float(t["net_profit"].min()) == pytest.approx(-246.06)
    # the `balance` deal 78388204 of 10 000.00 is a deposit; "Balance: 11333.77"
    assert p.cash_flows.rows() == [(datetime(2016, 8, 5, 4, 36, 5), 10000.0, "deposit", "balance")]
    assert p.initial_balance == 0.0
    assert p.stated["final_balance"] == 11333.77
    assert {"net_profit", "gross_profit", "gross_loss", "profit_factor", "total_trades"} <= set(p.stated)
    # "Account: 3873474 (USD, 1:100, MetaQuotes-Demo, demo)"
    assert (p.meta["login"], p.meta["leverage"], p.meta["server"]) == ("3873474", "1:100", "MetaQuotes-Demo")
    # "Trade Positions": EURUSD buy 1.00 @ 1.10831 still open -> not a trade
    assert [(o["symbol"], o["volume"]) for o in p.meta["open_positions"]] == [("EURUSD", 1.0)]
    assert p.meta["open_positions_printed"][0]["position"] == "93448920"
    assert "78669426" not in t["trade_id"].to_list()
    assert p.convention == "mt5 per deal" and p.meta["timezone"] == "server time, offset unknown"
    for key, value in dict(net_profit=1333.77, gross_profit=1622.47, gross_loss=-288.70, total_trades=8,
                           winning_trades=4, losing_trades=4, final_balance=11333.77).items():  # fmt: skip
        assert p.stated[key] == value and p.platform_figures[key] == pytest.approx(value, abs=0.005), key
    assert round(p.platform_figures["profit_factor"], 2) == 5.62 == p.stated["profit_factor"]


def test_history_netting_reversal():
    """Netting account: "buy in 0.10", then "sell in/out 0.20" closes the long and opens a short,
    then "buy out". Results: "Total Net Profit: -33.05", "Gross Profit: 0.00", "Gross Loss: -33.05",
    "Total Trades: 3"; the first deal is a 100 000.00 balance deal."""
    p = parse_file(real(NETTING))
    t = p.trades
    assert t.height == 3 and float(t["net_profit"].sum()) == pytest.approx(-33.05, abs=0.005)
    printed = dict(net_profit=-33.05, gross_profit=0.0, gross_loss=-33.05, profit_factor=0.0, total_trades=3,
                   winning_trades=0, losing_trades=3)  # fmt: skip
    for key, value in printed.items():
        assert p.stated[key] == value and p.platform_figures[key] == pytest.approx(value, abs=0.005), key
    assert p.initial_balance == 0.0 and p.cash_flows["amount"].to_list() == [100000.0]
    assert p.stated["final_balance"] == pytest.approx(99966.95) == p.platform_figures["final_balance"]
    assert not p.warnings  # no entry money: MT5's figures are the per-position ones


def test_history_hedged_fifo_pairing():
    # Two USDCHF longs (0.97430 at 04:43:02, 0.97394 at 05:44:47) and a short (0.98059) are open
    # together; "sell out 1.00 @ 0.98062 ... 0.10 | 681.20" (deal 78558765) closes the second long.
    t = parse_file(real(HIST)).trades.filter(pl.col("trade_id") == "78558765").row(0, named=True)
    assert (t["symbol"], t["direction"], t["volume"]) == ("USDCHF", "long", 1.0)
    assert t["open_time"] == datetime(2016, 8, 5, 5, 44, 47)
    assert t["close_time"] == datetime(2016, 8, 8, 10, 41, 26)
    assert (t["entry_price"], t["exit_price"], t["swap"], t["profit"]) == (0.97394, 0.98062, 0.10, 681.20)
    # independent check of the pairing: 1 lot USDCHF profit = (exit - entry) * 100000 / exit
    assert (0.98062 - 0.97394) * 100_000 / 0.98062 == pytest.approx(681.20, abs=0.01)


# --------------------------------------------------------------------------- deal -> trade logic


def _deal(ticket, kind, entry, volume, price, commission=0.0, profit=0.0, swap=0.0, symbol="EURUSD"):
    return mt5.Deal(
        time=datetime(2024, 1, 1, 0, int(ticket)),
        ticket=str(ticket),
        symbol=symbol,
        type=kind,
        entry=entry,
        volume=volume,
        price=price,
        order=str(ticket),
        commission=commission,
        swap=swap,
        profit=profit,
        balance=0.0,
        comment="",
    )


def test_partial_exits_share_entry_commission_pro_rata():
    deals = [
        _deal(1, "buy", "in", 0.3, 1.10, commission=-3.0),
        _deal(2, "sell", "out", 0.1, 1.20, profit=10.0),
        _deal(3, "sell", "out", 0.2, 1.25, commission=-2.0, profit=30.0),
    ]
    led = mt5.build(deals, {}, absorb_deposit=False)
    t = led.trades
    assert t["trade_id"].to_list() == ["2", "3"]
    assert t["volume"].to_list() == [0.1, 0.2]
    assert t["commission"].to_list() == pytest.approx([-1.0, -4.0])  # 1/3 and 2/3 of -3, plus -2
    assert t["net_profit"].to_list() == pytest.approx([9.0, 26.0])
    assert led.entry_money and not led.open_positions


def test_in_out_reversal_closes_and_opens():
    deals = [
        _deal(1, "buy", "in", 1.0, 1.10, commission=-1.0),
        _deal(2, "sell", "in/out", 1.5, 1.20, commission=-1.5, profit=100.0),
        _deal(3, "buy", "out", 0.5, 1.10, profit=50.0),
    ]
    t = mt5.build(deals, {}, absorb_deposit=False).trades
    assert t["direction"].to_list() == ["long", "short"]
    assert t["volume"].to_list() == [1.0, 0.5]
    assert t["entry_price"].to_list() == [1.10, 1.20]
    # the reversal's -1.5 commission: 1.0/1.5 to the closed long, 0.5/1.5 to the new short
    assert t["commission"].to_list() == pytest.approx([-2.0, -0.5])
    assert t["net_profit"].to_list() == pytest.approx([98.0, 49.5])


def test_exit_without_open_position_is_rejected():
    with pytest.raises(DataError, match="only 0 long are open"):
        mt5.build([_deal(1, "sell", "out", 1.0, 1.1, profit=5.0)], {}, absorb_deposit=False)


def test_netting_adds_are_closed_fifo_with_average_entry():
    deals = [
        _deal(1, "buy", "in", 1.0, 1.00),
        _deal(2, "buy", "in", 1.0, 1.10),
        _deal(3, "sell", "out", 1.5, 1.20, profit=25.0),
    ]
    led = mt5.build(deals, {}, absorb_deposit=False)
    t = led.trades.row(0, named=True)
    assert t["volume"] == 1.5 and t["entry_price"] == pytest.approx((1.0 * 1.00 + 0.5 * 1.10) / 1.5)
    assert t["open_time"] == datetime(2024, 1, 1, 0, 1)
    assert [(o["volume"], o["entry_price"]) for o in led.open_positions] == [(0.5, 1.10)]


# --------------------------------------------------------------------------- optimizer


def test_optimizer_passes():
    p = parse_file(real(OPT))
    assert p.format == OPTIMIZER and p.kind == "optimization"
    # <Title>OneShotGold XAUUSD,H4 2024.12.30-2026.07.01</Title>, <Deposit>1000 USD</Deposit>
    assert (p.strategy, p.symbol, p.timeframe) == ("OneShotGold", "XAUUSD", "h4")
    assert (p.start, p.end) == (datetime(2024, 12, 30), datetime(2026, 7, 1))
    assert (p.initial_balance, p.currency) == (1000.0, "USD")
    assert p.meta["server"] == "TradeMaxGlobal-Demo" and p.meta["leverage"] == "1000"
    x = p.passes
    assert x.height == 432  # 433 <Row> elements, the first is the header
    assert x.columns == [
        "pass", "result", "profit", "expected_payoff", "profit_factor", "recovery_factor", "sharpe_ratio",
        "custom", "equity_dd_pct", "trades",
        "InpSLPips", "InpTPPips", "InpTrailingPips", "InpBEAfterPips", "InpUseNewsFilter",
    ]  # fmt: skip
    assert x.schema["pass"] == pl.Int64 and x.schema["trades"] == pl.Int64
    assert x.schema["InpSLPips"] == pl.Int64 and x.schema["InpUseNewsFilter"] == pl.Boolean
    assert x["pass"].n_unique() == 432
    # the first data row: Pass 330, Result 1.23, Profit 423.11, ..., Equity DD % 24.1113, Trades 166,
    # inputs 30 / 180 / 30 / 40 / "true"
    row = x.filter(pl.col("pass") == 330).row(0, named=True)
    assert row == {
        "pass": 330, "result": 1.23, "profit": 423.11, "expected_payoff": 2.548855, "profit_factor": 1.233870,
        "recovery_factor": 1.666115, "sharpe_ratio": 10.597013, "custom": 0.96588349786981753,
        "equity_dd_pct": 24.1113, "trades": 166, "InpSLPips": 30, "InpTPPips": 180, "InpTrailingPips": 30,
        "InpBEAfterPips": 40, "InpUseNewsFilter": True,
    }  # fmt: skip
    # the second row, Pass 114, is the same set-up with InpUseNewsFilter "false"
    assert x.filter(pl.col("pass") == 114)["InpUseNewsFilter"].to_list() == [False]
    # the last row: Pass 83, Profit -18.46, Trades 173
    assert x.row(-1, named=True)["pass"] == 83 and x.row(-1, named=True)["profit"] == -18.46
    assert set(x["InpUseNewsFilter"].unique().to_list()) == {True, False}


# --------------------------------------------------------------------------- damaged files


def _reencode(path: Path, edit) -> bytes:
    text = path.read_bytes()[2:].decode("utf-16-le")
    return b"\xff\xfe" + edit(text).encode("utf-16-le")


CASES = [(TESTER, ZERO), (TESTER, MA), (TESTER, GOLD), (TESTER, GOLD4), (HISTORY, HIST), (HISTORY, NETTING),
         (OPTIMIZER, OPT)]  # fmt: skip


@pytest.mark.parametrize(("fmt", "f"), CASES, ids=lambda v: Path(v).stem)
@pytest.mark.parametrize("cut", [0.2, 0.5, 0.9, 0.999])
def test_truncated_files_are_rejected(fmt, f, cut):
    data = real(f).read_bytes()
    for end in (int(len(data) * cut) // 2 * 2, int(len(data) * cut) // 2 * 2 + 1):  # even and odd cuts
        with pytest.raises(DataError) as err:
            PARSERS.get(fmt).parse(data[:end], Path(f).name)  # the parser itself raises DataError
        assert "\n" not in str(err.value)
        with pytest.raises(DataError):
            parse_bytes(data[:end], Path(f).name)  # and detection + parsing as the user calls it


def test_truncated_deals_table_is_rejected_even_with_closing_tags():
    path = real(MA)

    def drop_tail(text: str) -> str:
        deals = text.index(">Deals<")
        cut = text.index("<tr", text.index("2016.05.02", deals))
        return text[:cut] + "</table></div></body></html>"

    with pytest.raises(DataError, match="totals row"):
        parse_bytes(_reencode(path, drop_tail), path.name)


def test_edited_deal_is_rejected():
    # Deal 693's profit "1 999.20" changed: the Balance column no longer follows from the deals
    path = real(GOLD)
    data = _reencode(path, lambda s: s.replace("<td>1 999.20</td>", "<td>1 899.20</td>"))
    with pytest.raises(DataError, match="balance"):
        parse_bytes(data, path.name)


def test_misstated_net_profit_is_rejected():
    path = real(MA)
    data = _reencode(path, lambda s: s.replace("<b>1 665.38</b>", "<b>1 765.38</b>"))  # "Total Net Profit:"
    with pytest.raises(DataError, match="net_profit"):
        parse_bytes(data, path.name)


def test_misstated_gross_profit_reaches_the_validator():
    """A secondary figure is not the parser's to judge: it states what is printed and what MT5's rule
    gives, and the validator decides (a warning, or an error with --strict)."""
    path = real(MA)
    data = _reencode(path, lambda s: s.replace("<b>4 667.72</b>", "<b>4 767.72</b>"))  # "Gross Profit:"
    p = PARSERS.get(TESTER).parse(data, path.name)
    assert p.stated["gross_profit"] == 4767.72
    assert p.platform_figures["gross_profit"] == pytest.approx(4667.72, abs=0.005)


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_detectors_claim_only_their_own_folders(path):
    load_all()
    head = path.read_bytes()[:HEAD_BYTES]
    for fmt, folder in MINE.items():
        assert PARSERS.get(fmt).detect(head, path.name) == (path.parent.name == folder), fmt


@pytest.mark.parametrize("f", [ZERO, MA, GOLD, GOLD4, HIST, NETTING, OPT])
def test_meta_is_strict_json(f):
    """The loader stores meta with json.dumps(allow_nan=False): no inf/nan may hide in it."""
    json.dumps(dict(parse_file(real(f)).meta), default=str, allow_nan=False)


def test_detectors_survive_a_head_cut_mid_character():
    load_all()
    head = real(GOLD).read_bytes()[: HEAD_BYTES - 1]  # odd length: half a UTF-16 code unit
    assert PARSERS.get(TESTER).detect(head, "x.html")


def _without_results(text: str) -> str:
    """The report with its Results block removed (title row and every label/value row up to Orders)."""
    import re

    a = text.rindex("<tr", 0, text.index(">Results<"))
    b = text.rindex("<tr", 0, text.index(">Orders<"))
    block = re.sub(r'<tr align="right">.*?</tr>', "", text[a:b], flags=re.S)
    block = re.sub(r"<tr>\s*<td[^>]*>\s*<div[^>]*><b>Results</b></div></td>\s*</tr>", "", block)
    assert "Total Net Profit" not in block and ">Results<" not in block
    return text[:a] + block + text[b:]


@pytest.mark.parametrize("f", [MA, GOLD])
def test_tester_without_results_block_ingests_its_deals_with_a_warning(f, tmp_path):
    from workbench.ingest.load import ingest_paths
    from workbench.store import Store

    path = real(f)
    whole = parse_file(path)
    src = tmp_path / path.name
    src.write_bytes(_reencode(path, _without_results))
    cut = parse_bytes(src.read_bytes(), path.name)
    assert cut.warnings[0] == "no Results block: printed totals not reconciled"
    assert "net_profit" not in cut.stated and "net_profit" in whole.stated  # nothing printed to reconcile
    assert cut.trades.equals(whole.trades)  # the deals are all there
    assert cut.stated["final_balance"] == whole.stated["final_balance"]
    res = ingest_paths(Store(tmp_path / "ws"), [src]).files[0]
    assert res.status == "ingested" and res.warnings[0] == "no Results block: printed totals not reconciled"
    assert res.rows == whole.trades.height


def _history_without_results(text: str, *, keep_title: bool = False) -> str:
    """A history report with its Results block removed (its rows, and its title row unless kept)."""
    title = text.index(">Results<")
    a = text.rindex("<tr", 0, title)
    b = text.rindex("</table>")
    kept = text[a : text.index("</tr>", title) + len("</tr>")] if keep_title else ""
    cut = text[:a] + kept + text[b:]
    assert "Total Net Profit" not in cut and (">Results<" in cut) == keep_title
    return cut


@pytest.mark.parametrize("keep_title", [False, True])
@pytest.mark.parametrize("f", [HIST, NETTING])
def test_history_without_results_block_ingests_its_deals_with_a_warning(f, keep_title, tmp_path):
    """The account summary (Balance, Equity...) that follows the Deals is not taken for the Results: the
    deals are ingested, the summary's balance checked, and no printed total is claimed reconciled."""
    from workbench.ingest.load import ingest_paths
    from workbench.store import Store

    path = real(f)
    whole = parse_file(path)
    src = tmp_path / path.name
    src.write_bytes(_reencode(path, lambda t: _history_without_results(t, keep_title=keep_title)))
    cut = parse_bytes(src.read_bytes(), path.name)
    assert cut.warnings[0] == "no Results block: printed totals not reconciled"
    assert "net_profit" not in cut.stated and "net_profit" in whole.stated
    assert cut.meta["results"] == {} and cut.meta["account_summary"] == whole.meta["account_summary"]
    assert (
        cut.meta["account_summary"]["balance"] == cut.stated["final_balance"] == whole.stated["final_balance"]
    )
    assert cut.trades.equals(whole.trades)
    res = ingest_paths(Store(tmp_path / "ws"), [src]).files[0]
    assert res.status == "ingested" and res.warnings[0] == "no Results block: printed totals not reconciled"
    assert res.rows == whole.trades.height


def test_history_cut_inside_the_deals_is_still_rejected_as_truncated(tmp_path):
    path = real(HIST)
    text = path.read_bytes().decode("utf-16")
    cut = text[: text.index(">Results<") - 2000]  # through the Deals table, without the end of the file
    with pytest.raises(DataError, match="truncated"):
        parse_bytes(("\ufeff" + cut).encode("utf-16-le"), path.name)
