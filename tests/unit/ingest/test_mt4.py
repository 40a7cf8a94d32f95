"""MT4 Strategy Tester reports and MT4 account statements, against the real fixtures.

Every expected figure below is copied from the file itself (the label it is printed under is
quoted in the comment), or counted in the file with grep; none comes from the parser.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import pytest

from workbench.errors import DataError
from workbench.ingest import parse_bytes, parse_file
from workbench.ingest.parsers import mt4_statement_html, mt4_tester_html
from workbench.ingest.registry import HEAD_BYTES, detect

try:
    from conftest import REAL_FILES, real
except ImportError:  # pragma: no cover - run outside the tests/ rootdir
    _REAL = (Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "real").resolve()
    REAL_FILES = sorted(p for p in _REAL.rglob("*") if p.is_file() and p.name != "MANIFEST.md")

    def real(rel: str) -> Path:
        return _REAL / rel


TESTER = {
    # file: (trades, net profit, gross profit, gross loss, profit factor, initial deposit, final balance)
    # qg0: "Total des Trades 36", "Profit total net -797.76", "Profit brut 536.66",
    #      "Perte brute -1334.42", "Facteur de profit 0.40", "Dépot initial 10000.00", last Solde 9202.24
    "qg0_rsi_momentum_eurusd_fr.htm": (36, -797.76, 536.66, -1334.42, 0.40, 10000.0, 9202.24),
    # reuniware: "Total des Trades 14", "Profit total net -6960.07", "Profit brut 1662.97",
    #            "Perte brute -8623.04", "Facteur de profit 0.19", "Dépot initial 10000.00", last Solde 3039.93
    "reuniware_jcspatterns_gbpjpy_fr.htm": (14, -6960.07, 1662.97, -8623.04, 0.19, 10000.0, 3039.93),
    # ubertrading: "Total trades 733", "Total net profit -1071.49", "Gross profit 1424.16",
    #              "Gross loss -2495.65", "Profit factor 0.57", "Initial deposit 10000.00", last Balance 8928.51
    "ubertrading_macd_sample_usdjpy_m5.htm": (733, -1071.49, 1424.16, -2495.65, 0.57, 10000.0, 8928.51),
    # urinethrower: "Total trades 85", "Total net profit 2583.59", "Gross profit 6286.71",
    #               "Gross loss -3703.12", "Profit factor 1.70", "Initial deposit 10000.00", last Balance 12583.59
    "urinethrower_bastet_xagusd_h4.htm": (85, 2583.59, 6286.71, -3703.12, 1.70, 10000.0, 12583.59),
}

# "Short positions (won %)" / "Long positions (won %)" counts, and
# "Profit trades (% of total)" / "Loss trades (% of total)" counts, as printed.
TESTER_SIDES = {
    "qg0_rsi_momentum_eurusd_fr.htm": (0, 36, 35, 1),
    "reuniware_jcspatterns_gbpjpy_fr.htm": (6, 8, 13, 1),
    "ubertrading_macd_sample_usdjpy_m5.htm": (364, 369, 630, 103),
    "urinethrower_bastet_xagusd_h4.htm": (37, 48, 62, 23),
}

STATEMENTS = {
    # file: (closed trades counted with grep in "Closed Transactions:", "Closed Trade P/L",
    #        "Deposit/Withdrawal", "Balance", balance rows counted with grep)
    "alecortees22_oanda_statement.htm": (42, -266.19, 4997.46, 4731.27, 3),
    "mihawk2016_MT4Trade.htm": (1, -0.90, 99999.98, 999999.10, 2),
    "ubertrading_swissquote_statement.htm": (123, 90066.64, 15000.00, 420995.72, 1),
}

MINE = {f"mt4_tester_html/{n}": "mt4_tester_html" for n in TESTER} | {
    f"mt4_statement_html/{n}": "mt4_statement_html" for n in STATEMENTS
}


def _gross(trades) -> tuple[float, float, float]:
    net = trades["net_profit"]
    gp, gl = float(net.filter(net > 0).sum()), float(net.filter(net < 0).sum())
    return gp, gl, (gp / -gl if gl else math.inf)


# --------------------------------------------------------------------------- tester reports


@pytest.mark.parametrize("fname", sorted(TESTER))
def test_tester_totals_match_the_report(fname: str) -> None:
    n, net, gp, gl, pf, deposit, final = TESTER[fname]
    p = parse_file(real(f"mt4_tester_html/{fname}"))
    assert p.format == "mt4_tester_html" and p.kind == "backtest" and p.platform == "mt4"
    t = p.trades
    assert t.height == n
    assert float(t["net_profit"].sum()) == pytest.approx(net, abs=0.011)
    got_gp, got_gl, got_pf = _gross(t)
    assert got_gp == pytest.approx(gp, abs=0.011)
    assert got_gl == pytest.approx(gl, abs=0.011)
    assert round(got_pf, 2) == pf
    assert p.initial_balance == deposit
    assert deposit + float(t["net_profit"].sum()) == pytest.approx(final, abs=0.011)
    assert p.stated["net_profit"] == net and p.stated["total_trades"] == n
    assert p.stated["final_balance"] == final
    assert (t["commission"] == 0).all()
    assert (t["profit"] + t["swap"] - t["net_profit"]).abs().max() < 1e-9


@pytest.mark.parametrize("fname", sorted(TESTER_SIDES))
def test_tester_long_short_and_win_loss_counts(fname: str) -> None:
    shorts, longs, wins, losses = TESTER_SIDES[fname]
    t = parse_file(real(f"mt4_tester_html/{fname}")).trades
    assert (t["direction"] == "short").sum() == shorts
    assert (t["direction"] == "long").sum() == longs
    assert wins + losses == t.height
    zero = int((t["net_profit"] == 0).sum())
    # MT4 classifies a trade printed 0.00 by its unrounded sign: the two counts agree up to those.
    assert (t["net_profit"] > 0).sum() <= wins <= (t["net_profit"] > 0).sum() + zero
    assert (t["net_profit"] < 0).sum() <= losses <= (t["net_profit"] < 0).sum() + zero


def test_macd_sample_trades_over_midnight_carry_the_balance_not_the_printed_profit() -> None:
    t = parse_file(real("mt4_tester_html/ubertrading_macd_sample_usdjpy_m5.htm")).trades
    # Sum of the printed Profit column is 10 cents above "Total net profit -1071.49": the ten
    # trades held over midnight move the Balance one cent less than their Profit.
    assert float(t["profit"].sum()) == pytest.approx(-1071.39, abs=0.005)
    assert float(t["net_profit"].sum()) == pytest.approx(-1071.49, abs=0.005)
    row = t.filter(t["trade_id"] == "45").row(0, named=True)
    # row 170: 2025.01.10 00:47 t/p order 45, Profit 1.90, Balance 9951.12 (previous 9949.23)
    assert (row["profit"], row["net_profit"], row["swap"]) == (1.90, 1.89, -0.01)


def test_tester_spot_check_first_trade_french() -> None:
    p = parse_file(real("mt4_tester_html/qg0_rsi_momentum_eurusd_fr.htm"))
    row = p.trades.row(0, named=True)
    # rows 1-2: "2017.09.04 18:59 buy 1 0.50 1.19193 0.00000 1.19231" / "2017.09.05 17:33 t/p 1 ... 4.32"
    assert row["trade_id"] == "1"
    assert row["open_time"] == datetime(2017, 9, 4, 18, 59)
    assert row["close_time"] == datetime(2017, 9, 5, 17, 33)
    assert row["direction"] == "long"
    assert row["volume"] == 0.50
    assert row["entry_price"] == 1.19193 and row["exit_price"] == 1.19231
    assert row["stop_loss"] is None and row["take_profit"] == 1.19231
    assert row["net_profit"] == 4.32 and row["comment"] == "t/p"
    assert row["symbol"] == "EURUSD"


def test_tester_header_french() -> None:
    p = parse_file(real("mt4_tester_html/reuniware_jcspatterns_gbpjpy_fr.htm"))
    assert p.strategy == "JCSPatterns"
    assert p.symbol == "GBPJPY" and p.timeframe == "h1"  # "1 Heure (H1)  2018.01.02 07:00 - 2018.04.27 20:00"
    assert p.start == datetime(2018, 1, 2, 7, 0) and p.end == datetime(2018, 4, 27, 20, 0)
    assert p.meta["language"] == "fr" and p.meta["build"] == "1090"
    assert p.meta["model"].startswith("Chaque tick (la méthode la plus précise")  # cp1252 accents
    assert p.meta["spread_points"] == 30  # "Ecart Actuel (30)"
    # "Parametres": TakeProfit=0; InitialLots=0.1; StopSuiveur=0.0005; ActiverStopSuiveur=true; ...
    assert p.parameters == {
        "TakeProfit": 0,
        "InitialLots": 0.1,
        "StopSuiveur": 0.0005,
        "ActiverStopSuiveur": True,
        "MontrerDetailsStopSuiveur": False,
        "JournaliserProfitsPertesBalanceInitiale": False,
        "JournaliserProfitPerteTotaleCumulee": True,
    }
    assert type(p.parameters["TakeProfit"]) is int and type(p.parameters["ActiverStopSuiveur"]) is bool
    report = p.meta["report"]
    # "Chute maximale 7566.78 (71.34%)", "Enfoncement relatif 71.34% (7566.78)", "Chute absolue 6960.07"
    assert (report["maximal_drawdown"], report["maximal_drawdown_pct"]) == (7566.78, 71.34)
    assert (report["relative_drawdown_pct"], report["relative_drawdown"]) == (71.34, 7566.78)
    assert report["absolute_drawdown"] == 6960.07
    # rows 22/28: "2018.01.12 07:00 sell 12 2.00 150.765" / "2018.01.24 15:28 close at stop 12 ... 155.484 -8623.04"
    row = p.trades.filter(p.trades["trade_id"] == "12").row(0, named=True)
    assert row["direction"] == "short" and row["volume"] == 2.0
    assert (row["open_time"], row["close_time"]) == (datetime(2018, 1, 12, 7), datetime(2018, 1, 24, 15, 28))
    assert (row["entry_price"], row["exit_price"], row["take_profit"]) == (150.765, 155.484, 150.695)
    assert row["net_profit"] == -8623.04 and row["comment"] == "close at stop"
    assert p.meta["closed_at_end"] == 1


def test_tester_header_english() -> None:
    p = parse_file(real("mt4_tester_html/ubertrading_macd_sample_usdjpy_m5.htm"))
    assert (p.strategy, p.symbol, p.timeframe) == ("MACD Sample", "USDJPY", "m5")
    # "Parameters: TakeProfit=50; Lots=0.1; TrailingStop=30; MACDOpenLevel=3; MACDCloseLevel=2; MATrendPeriod=26;"
    assert p.parameters == {
        "TakeProfit": 50,
        "Lots": 0.1,
        "TrailingStop": 30,
        "MACDOpenLevel": 3,
        "MACDCloseLevel": 2,
        "MATrendPeriod": 26,
    }
    assert p.meta["spread"] == "Current (32)" and p.meta["spread_points"] == 32
    assert p.meta["model"].startswith("Control points")
    assert p.meta["report"]["modelling_quality_pct"] is None  # "Modelling quality n/a"
    # rows 1/6: "2024.12.30 02:25 sell 1 0.10 157.801" ... "2024.12.30 02:43 s/l 1 0.10 157.788 157.788 157.751 0.83"
    row = p.trades.row(0, named=True)
    assert (row["trade_id"], row["direction"], row["volume"]) == ("1", "short", 0.10)
    assert (row["open_time"], row["close_time"]) == (
        datetime(2024, 12, 30, 2, 25),
        datetime(2024, 12, 30, 2, 43),
    )
    assert (row["entry_price"], row["exit_price"]) == (157.801, 157.788)
    assert (row["stop_loss"], row["take_profit"]) == (157.788, 157.751)  # S/L after the trailing modifies
    assert row["net_profit"] == 0.83


def test_tester_partial_close_keeps_the_original_open() -> None:
    p = parse_file(real("mt4_tester_html/urinethrower_bastet_xagusd_h4.htm"))
    t = p.trades
    assert p.parameters == {}  # no "Parameters" row in this report
    # rows 3-6: "2017.08.23 19:59 buy 2 0.97 17.002", "2017.08.25 16:17 close 2 0.49 17.153 ... 68.17",
    #           "2017.08.25 16:17 buy 3 0.48 17.002", "2017.08.25 16:41 s/l 3 0.48 16.798 ... -103.62"
    first, rest = (t.filter(t["trade_id"] == k).row(0, named=True) for k in ("2", "3"))
    assert (first["volume"], first["exit_price"], first["net_profit"]) == (0.49, 17.153, 68.17)
    assert (rest["volume"], rest["exit_price"], rest["net_profit"]) == (0.48, 16.798, -103.62)
    assert first["open_time"] == rest["open_time"] == datetime(2017, 8, 23, 19, 59)
    assert rest["entry_price"] == 17.002 and rest["comment"] == "s/l (from #2)"
    assert p.meta["open_positions"] == [] and p.meta["partial_closes"] == 34


def test_tester_russian_labels_cp1251() -> None:
    """Russian labels (as two real Russian reports print them) mixed into an English report, in cp1251."""
    data = real("mt4_tester_html/urinethrower_bastet_xagusd_h4.htm").read_text("ascii")
    for en, ru in [
        ("<td colspan=2>Symbol</td>", "<td colspan=2>Символ</td>"),
        ("<td colspan=2>Period</td>", "<td colspan=2>Период</td>"),
        ("<td colspan=2>Model</td>", "<td colspan=2>Модель</td>"),
        ("<td>Initial deposit</td>", "<td>Начальный депозит</td>"),
        ("<td>Total net profit</td>", "<td>Чистая прибыль</td>"),
        ("<td>Gross profit</td>", "<td>Общая прибыль</td>"),
        ("<td>Gross loss</td>", "<td>Общий убыток</td>"),
        ("<td>Profit factor</td>", "<td>Прибыльность</td>"),
        ("<td>Total trades</td>", "<td>Всего сделок</td>"),
        ("<td>Profit trades (% of total)</td>", "<td>Прибыльные сделки (% от всех)</td>"),
        ("<td>Loss trades (% of total)</td>", "<td>Убыточные сделки (% от всех)</td>"),
    ]:
        assert en in data, en
        data = data.replace(en, ru)
    p = parse_bytes(data.encode("cp1251"), "ru.htm")
    assert p.format == "mt4_tester_html" and p.meta["language"] == "en+ru"
    assert (p.symbol, p.timeframe) == ("XAGUSD", "h4")
    assert p.stated["net_profit"] == 2583.59 and p.stated["total_trades"] == 85
    assert p.stated["gross_loss"] == -3703.12 and p.stated["winning_trades"] == 62


def test_tester_pending_order_fill_and_delete() -> None:
    """A pending order that fills keeps its order number; a deleted one is no trade."""
    text = real("mt4_tester_html/reuniware_jcspatterns_gbpjpy_fr.htm").read_bytes().decode("cp1252")
    first = "<tr align=right><td>1</td><td class=msdate>2018.01.03 18:00</td><td>buy</td><td>1</td>"
    assert first in text
    pending = (
        "<tr><td>1</td><td class=msdate>2018.01.03 17:00</td><td>buy limit</td><td>1</td>"
        "<td>2.00</td><td>151.971</td><td>0.000</td><td>152.041</td><td colspan=2></td></tr>\n"
        "<tr><td>1</td><td class=msdate>2018.01.03 17:05</td><td>sell stop</td><td>99</td>"
        "<td>1.00</td><td>150.000</td><td>0.000</td><td>0.000</td><td colspan=2></td></tr>\n"
        "<tr><td>1</td><td class=msdate>2018.01.03 17:30</td><td>delete</td><td>99</td>"
        "<td>1.00</td><td>150.000</td><td>0.000</td><td>0.000</td><td colspan=2></td></tr>\n"
    )
    p = parse_bytes(text.replace(first, pending + first).encode("cp1252"), "pending.htm")
    assert p.trades.height == 14  # "Total des Trades 14", reconciled by the validator
    assert p.trades.filter(p.trades["trade_id"] == "1")["open_time"][0] == datetime(2018, 1, 3, 18)
    assert p.meta["pending_orders"] == [] and "99" not in p.trades["trade_id"].to_list()


def test_tester_row_closing_an_unknown_order_is_rejected() -> None:
    text = real("mt4_tester_html/reuniware_jcspatterns_gbpjpy_fr.htm").read_bytes().decode("cp1252")
    bad = text.replace("<td>t/p</td><td>2</td>", "<td>t/p</td><td>77</td>", 1)
    with pytest.raises(DataError, match="order 77"):
        parse_bytes(bad.encode("cp1252"), "bad.htm")


# --------------------------------------------------------------------------- statements


@pytest.mark.parametrize("fname", sorted(STATEMENTS))
def test_statement_totals_match_the_summary(fname: str) -> None:
    n, closed_pl, dw, balance, flows = STATEMENTS[fname]
    p = parse_file(real(f"mt4_statement_html/{fname}"))
    assert p.format == "mt4_statement_html" and p.platform == "mt4"
    t, cf = p.trades, p.cash_flows
    assert t.height == n
    assert float(t["net_profit"].sum()) == pytest.approx(closed_pl, abs=0.011)
    assert cf.height == flows
    assert float(cf["amount"].sum()) == pytest.approx(dw, abs=0.011)
    end = p.initial_balance + float(cf["amount"].sum()) + float(t["net_profit"].sum())
    assert end == pytest.approx(balance, abs=0.011)
    assert (t["net_profit"] - t["profit"] - t["commission"] - t["swap"]).abs().max() < 1e-9


def test_statement_oanda_multi_symbol_and_cash_flows() -> None:
    p = parse_file(real("mt4_statement_html/alecortees22_oanda_statement.htm"))
    assert p.symbol is None and len(p.meta["symbols"]) == 8
    assert p.currency == "USD" and p.meta["leverage"] == "1:100" and p.meta["account"] == "7400777"
    assert p.initial_balance == 0.0 and p.meta["initial_balance_inferred"] is False
    # "ADJUSTMENT 5 000.00", "Financing -2.46", "Financing -0.08"
    assert p.cash_flows["amount"].to_list() == [5000.0, -2.46, -0.08]
    assert p.cash_flows["kind"].to_list() == ["adjustment"] * 3
    # ticket 233094792: 2020.02.10 19:13:56 buy 0.13 usdcad-2 1.33252 1.32750 1.33500
    #                   2020.02.11 16:56:23 1.32855 0.00 0.00 0.00 -38.84
    row = p.trades.filter(p.trades["trade_id"] == "233094792").row(0, named=True)
    assert (row["direction"], row["volume"], row["symbol"]) == ("long", 0.13, "USDCAD-2")
    assert (row["open_time"], row["close_time"]) == (
        datetime(2020, 2, 10, 19, 13, 56),
        datetime(2020, 2, 11, 16, 56, 23),
    )
    assert (row["entry_price"], row["exit_price"]) == (1.33252, 1.32855)
    assert (row["stop_loss"], row["take_profit"]) == (1.3275, 1.335)
    assert row["net_profit"] == -38.84
    assert p.trades["close_time"].is_sorted()


def test_statement_details_section() -> None:
    p = parse_file(real("mt4_statement_html/mihawk2016_MT4Trade.htm"))
    t = p.trades
    # Details: "Gross Profit: 0.00", "Gross Loss: 0.90", "Total Net Profit: -0.90", "Profit Factor: 0.00",
    #          "Total Trades: 1", "Loss trades (% of total): 1 (100.00%)"
    gp, gl, _ = _gross(t)
    assert (gp, gl) == (0.0, -0.90)
    assert p.stated["gross_profit"] == 0.0 and p.stated["gross_loss"] == -0.90
    assert p.stated["profit_factor"] == 0.0 and p.stated["total_trades"] == 1
    assert p.stated["losing_trades"] == 1 and p.stated["winning_trades"] == 0
    assert p.symbol == "XAUUSD"
    # ticket 209952078: 2016.05.08 21:33:06 buy 0.15 xauusd 1286.500 ... 2016.05.08 22:05:19 1286.440 -0.90
    row = t.row(0, named=True)
    assert (row["trade_id"], row["direction"], row["volume"]) == ("209952078", "long", 0.15)
    assert (row["entry_price"], row["exit_price"]) == (1286.5, 1286.44)
    assert row["close_time"] == datetime(2016, 5, 8, 22, 5, 19)
    # "Deposit 100 000.00" and "Interest -0.02"; the cancelled sell limit 209953545 is no trade
    assert sorted(p.cash_flows["amount"].to_list()) == [-0.02, 100000.0]
    assert p.cash_flows.filter(p.cash_flows["amount"] > 0)["kind"][0] == "deposit"
    assert p.meta["cancelled_orders"] == 1 and p.meta["open_trades"] == 1 and p.meta["working_orders"] == 1
    # "Balance: 999 999.10" is not "Deposit/Withdrawal 99 999.98" + "Closed Trade P/L -0.90": the
    # statement does not start from an empty account, so the opening balance is inferred.
    assert p.initial_balance == pytest.approx(999999.10 - 99999.98 + 0.90)
    assert p.meta["initial_balance_inferred"] is True


def test_statement_swissquote_swap_and_comment_rows() -> None:
    p = parse_file(real("mt4_statement_html/ubertrading_swissquote_statement.htm"))
    t = p.trades
    # Closed Transactions footer: Commission 0.00 | Taxes 0.00 | Swap 8 841.19 | Profit 81 225.45,
    # and "Closed P/L" (title "Commission + Swap + Profit + Taxes") 90 066.64
    assert float(t["swap"].sum()) == pytest.approx(8841.19, abs=0.011)
    assert float(t["profit"].sum()) == pytest.approx(81225.45, abs=0.011)
    assert float(t["commission"].sum()) == 0.0
    assert sorted(p.meta["symbols"]) == ["USDCHF", "USDJPY"] and p.symbol is None
    assert p.currency == "EUR" and p.meta["leverage"] is None  # "Leverage: <!--LEVERAGE-->"
    assert p.meta["open_trades"] > 0
    # ticket 75748623: 2025.05.26 19:36:41 buy 1.00 usdchf 0.82090 ... 2025.05.28 01:13:59 0.82694
    #                  0.00 0.00 50.39 644.25, title "#11545991 ICM11545991"
    row = t.filter(t["trade_id"] == "75748623").row(0, named=True)
    assert (row["direction"], row["volume"], row["symbol"]) == ("long", 1.0, "USDCHF")
    assert (row["open_time"], row["close_time"]) == (
        datetime(2025, 5, 26, 19, 36, 41),
        datetime(2025, 5, 28, 1, 13, 59),
    )
    assert (row["entry_price"], row["exit_price"]) == (0.8209, 0.82694)
    assert (row["swap"], row["profit"], row["net_profit"]) == (50.39, 644.25, 694.64)
    assert row["comment"] == "#11545991 ICM11545991"
    # 420 995.72 balance vs 15 000.00 deposits + 90 066.64 closed P/L: a statement of a period
    assert p.initial_balance == pytest.approx(420995.72 - 15000.00 - 90066.64)


def test_statement_footer_mismatch_is_rejected() -> None:
    text = real("mt4_statement_html/alecortees22_oanda_statement.htm").read_text("ascii")
    bad = text.replace("<td class=mspt>-38.84</td>", "<td class=mspt>-38.48</td>", 1)
    with pytest.raises(DataError, match="profit"):
        parse_bytes(bad.encode("ascii"), "bad.htm")


# --------------------------------------------------------------------------- truncation & detection


@pytest.mark.parametrize("rel", sorted(MINE))
def test_truncated_copy_is_rejected(rel: str, tmp_path: Path) -> None:
    data = real(rel).read_bytes()
    cut = tmp_path / Path(rel).name
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError):
        parse_file(cut)
    # Cut after a whole row and closing tags put back: the totals no longer reconcile (tester)
    # or the Summary is gone (statement).
    row_end = data.rfind(b"</tr>", 0, len(data) // 2) + len(b"</tr>")
    cut.write_bytes(data[:row_end] + b"</table></div></body></html>\r\n")
    with pytest.raises(DataError, match="totals|summary|Summary|no order table"):
        parse_file(cut)


@pytest.mark.parametrize("rel", sorted(MINE))
def test_detection_picks_the_right_parser(rel: str) -> None:
    data = real(rel).read_bytes()
    assert detect(data, Path(rel).name).name == MINE[rel]


def test_detectors_claim_no_other_fixture() -> None:
    others = [p for p in REAL_FILES if p.parent.name not in ("mt4_tester_html", "mt4_statement_html")]
    assert len(others) >= 10
    for path in others:
        head = path.read_bytes()[:HEAD_BYTES]
        assert not mt4_tester_html._detect(head, path.name), path
        assert not mt4_statement_html._detect(head, path.name), path
    # and each claims only its own folder
    for rel, fmt in MINE.items():
        head = real(rel).read_bytes()[:HEAD_BYTES]
        assert mt4_tester_html._detect(head, rel) is (fmt == "mt4_tester_html")
        assert mt4_statement_html._detect(head, rel) is (fmt == "mt4_statement_html")


def test_a_close_of_more_lots_than_are_open_is_damage_not_a_trade() -> None:
    from conftest import real

    data = real("mt4_tester_html/urinethrower_bastet_xagusd_h4.htm").read_bytes()
    row = (
        b"<td>80</td><td class=msdate>2019.08.08 15:25</td><td>close</td><td>40</td><td class=mspt>0.29</td>"
    )
    assert data.count(row) == 1
    damaged = data.replace(row, row.replace(b">0.29<", b">0929<"))
    with pytest.raises(DataError, match=r"order row #80: close of 929 lots of order 40, which has 0.29 open"):
        parse_bytes(damaged, "damaged.htm")
