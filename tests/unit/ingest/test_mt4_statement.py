"""MT4 account statements under MetaTrader's own conventions, against the real fixtures.

Every expected figure is copied from the statement itself (the label it is printed under is quoted)
or counted in the file with grep; none comes from the parser. Variants (rows reversed, other number
formats, labels in another language, a second P/L total) are generated here from the real files.
"""

from __future__ import annotations

import re

import polars as pl
import pytest
from conftest import real

from workbench.errors import DataError
from workbench.ingest import parse_bytes, parse_file
from workbench.ingest.parsers import mt4_statement_html
from workbench.ingest.parsers._numbers import NumberFormat, detect_format, first_token
from workbench.ingest.registry import HEAD_BYTES, detect
from workbench.ingest.text import optional_number

DIR = "mt4_statement_html"
ACEYSX = "aceysx_ecmarkets_newest_first.htm"
OANDA = "alecortees22_oanda_statement.htm"
JSACAP = "jsacap_tradeslide_statement.htm"
JPY = "kotarohashimoto_rakuten_jpy.htm"
MIHAWK = "mihawk2016_MT4Trade.htm"
SWISS = "ubertrading_swissquote_statement.htm"

# file: (closed trades counted with grep, "Closed Trade P/L", "Deposit/Withdrawal", "Balance",
#        balance rows counted with grep, the opening balance the Summary implies or None, cancelled orders)
PRINTED = {
    ACEYSX: (622, 682.56, 200.00, 882.56, 1, 0.0, 687),
    OANDA: (42, -266.19, 4997.46, 4731.27, 3, 0.0, 0),
    # 882.56 = 200.00 + 682.56: the rows explain the whole balance. jsacap's Balance is LESS than
    # Deposit/Withdrawal + Closed Trade P/L: the opening balance is unknown (see the test below).
    JSACAP: (124, 8205.65, 100000.00, 94174.94, 1, None, 3),
    JPY: (6711, 52423.0, 0.0, 4673889.0, 0, 4673889.0 - 52423.0, 0),
    MIHAWK: (1, -0.90, 99999.98, 999999.10, 2, 999999.10 - 99999.98 + 0.90, 1),
    SWISS: (123, 90066.64, 15000.00, 420995.72, 1, 420995.72 - 15000.00 - 90066.64, 0),
}
# "Details:" as printed: Gross Profit, Gross Loss (printed positive), Total Net Profit, Profit Factor,
# Total Trades, Profit Trades, Loss trades
DETAILS = {
    JPY: (535654.0, 483231.0, 52423.0, 1.11, 6711, 4970, 1741),
    MIHAWK: (0.00, 0.90, -0.90, 0.00, 1, 0, 1),
}

_CACHE: dict[str, object] = {}


def _parsed(fname: str):
    if fname not in _CACHE:
        _CACHE[fname] = parse_file(real(f"{DIR}/{fname}"))
    return _CACHE[fname]


def _text(fname: str) -> str:
    return real(f"{DIR}/{fname}").read_bytes().decode("ascii")


def _assert_reproduced(p) -> None:
    """Every printed figure is reproduced by the platform's recomputation (or the per-position totals)."""
    net = p.trades["net_profit"]
    per_position = {
        "net_profit": float(net.sum()),
        "gross_profit": float(net.filter(net > 0).sum()),
        "gross_loss": float(net.filter(net < 0).sum()),
        "total_trades": float(p.trades.height),
        "winning_trades": float((net > 0).sum()),
        "losing_trades": float((net < 0).sum()),
    }
    for key, printed in p.stated.items():
        got = p.platform_figures.get(key, per_position.get(key))
        assert got is not None, key
        if key.endswith("_trades"):
            assert got == printed, key
        elif key == "profit_factor":
            assert round(got, 2) == pytest.approx(printed, abs=0.0051), key
        else:
            assert got == pytest.approx(printed, abs=0.011), key


# --------------------------------------------------------------------------- every fixture


@pytest.mark.parametrize("fname", sorted(PRINTED))
def test_every_printed_total_is_reproduced(fname: str) -> None:
    n, closed_pl, dw, balance, flows, initial, cancelled = PRINTED[fname]
    p = _parsed(fname)
    assert p.format == "mt4_statement_html" and p.platform == "mt4"
    assert p.convention == "mt4 statement closed trade P/L"
    t, cf = p.trades, p.cash_flows
    assert t.height == n and cf.height == flows
    assert p.meta["cancelled_orders"] == cancelled
    assert p.stated["net_profit"] == closed_pl  # "Closed Trade P/L"
    assert float(t["net_profit"].sum()) == pytest.approx(closed_pl, abs=0.011)
    assert float(cf["amount"].sum()) == pytest.approx(dw, abs=0.011)  # "Deposit/Withdrawal"
    assert (t["net_profit"] - t["profit"] - t["commission"] - t["swap"]).abs().max() < 1e-9
    if initial is None:
        assert p.initial_balance is None and "final_balance" not in p.stated
    else:
        assert p.initial_balance == pytest.approx(initial, abs=0.005)
        assert p.stated["final_balance"] == balance  # "Balance"
        end = p.initial_balance + float(cf["amount"].sum()) + float(t["net_profit"].sum())
        assert end == pytest.approx(balance, abs=0.011)
    _assert_reproduced(p)
    assert set(p.stated) <= set(p.platform_figures)
    assert p.meta["timezone"] == "server time, offset unknown"
    assert t["close_time"].is_sorted()


@pytest.mark.parametrize("fname", sorted(DETAILS))
def test_details_figures_are_stated_and_reproduced(fname: str) -> None:
    gp, gl, tnp, pf, n, wins, losses = DETAILS[fname]
    p = _parsed(fname)
    assert p.stated["gross_profit"] == gp
    assert p.stated["gross_loss"] == -gl  # printed as a positive amount
    assert p.stated["net_profit"] == tnp
    assert p.stated["profit_factor"] == pf and p.stated["total_trades"] == n
    assert (p.stated["winning_trades"], p.stated["losing_trades"]) == (wins, losses)
    fig = p.platform_figures
    assert fig["gross_profit"] == pytest.approx(gp, abs=0.011) and fig["gross_loss"] == pytest.approx(
        -gl, abs=0.011
    )
    assert round(fig["profit_factor"], 2) == pf
    assert (fig["total_trades"], fig["winning_trades"], fig["losing_trades"]) == (n, wins, losses)


def test_newest_first_statement() -> None:
    """ECMarkets lists rows newest first: commission -0.18 on each of 622 trades, 687 cancelled orders,
    one deposit +200.00; "Closed Trade P/L: 682.56", "Balance: 882.56"; no Details section."""
    p = _parsed(ACEYSX)
    assert p.meta["row_order"] == "newest first"
    assert p.trades["commission"].to_list() == [-0.18] * 622
    assert p.cash_flows.rows()[0][1:3] == (200.0, "deposit")
    assert p.initial_balance == 0.0 and p.meta["initial_balance_derived"] is False
    assert set(p.stated) == {"net_profit", "final_balance"}
    assert "Details" in p.meta["missing"][0]
    # the newest row: ticket 81107344, 2026.05.22 12:23:18 buy 0.01 xauusd ... 13:41:32, profit -5.40
    last = p.trades.filter(pl.col("trade_id") == "81107344").row(0, named=True)
    assert (last["profit"], last["commission"], last["net_profit"]) == (-5.40, -0.18, -5.58)


def test_jsacap_balance_outside_the_rows_leaves_the_opening_balance_unknown() -> None:
    """ "Deposit/Withdrawal: 100 000.00" + "Closed Trade P/L: 8 205.65" = 108 205.65, but "Balance: 94 174.94":
    14 030.71 left the account outside the rows. The rows end 2023.12.29, the statement was saved
    "2024 January 19, 14:48" (an open trade from 2024.01.19): a statement of a period that ends before
    it was saved, whose Balance is the balance at saving time. Balance - D/W - P/L = -14 030.71 is no
    opening balance: it is unknown, and the printed Balance is not reconciled."""
    p = _parsed(JSACAP)
    assert p.initial_balance is None
    assert p.stated == {"net_profit": 8205.65}
    assert float(p.trades["net_profit"].sum()) == pytest.approx(8205.65, abs=0.005)
    # Closed Transactions footer: Commission -2 265.77 | Taxes 0.00 | Swap -308.60 | Profit 10 780.02
    assert float(p.trades["commission"].sum()) == pytest.approx(-2265.77, abs=0.005)
    assert float(p.trades["profit"].sum()) == pytest.approx(10780.02, abs=0.005)
    assert p.cash_flows.rows()[0][1:] == (100000.0, "deposit", "Deposited using API")
    assert p.meta["report"]["balance"] == 94174.94 and p.meta["open_trades"] == 1
    (warning,) = p.warnings
    assert "14 030.71" in warning and "2023-12-29" in warning and "2024-01-19" in warning
    assert "unknown" in p.meta["initial_balance_source"]


def test_sub_period_jpy_statement_derives_its_opening_balance() -> None:
    """Rakuten JPY: no balance rows, "Balance: 4 673 889", "Closed Trade P/L: 52 423", "Floating P/L:
    -7 852" (open trades do not enter the balance): opening balance 4 621 466, recorded as derived."""
    p = _parsed(JPY)
    assert p.initial_balance == 4621466.0 and p.cash_flows.height == 0
    assert p.meta["initial_balance_derived"] is True
    assert "derived from the printed balance" in p.meta["initial_balance_source"]
    assert any("derived" in w for w in p.warnings)
    assert p.currency == "JPY" and p.meta["open_trades"] == 256
    assert p.meta["report"]["floating_pl"] == -7852.0
    # whole yen: every amount is an integer; "Largest profit trade: 543", "loss trade: -643"
    assert (p.trades["profit"] % 1 == 0).all()
    assert float(p.trades["net_profit"].max()) == 543.0 and float(p.trades["net_profit"].min()) == -643.0
    assert p.meta["report"]["largest_profit_trade"] == 543.0


# --------------------------------------------------------------------------- generated variants


def _reverse_closed_rows(text: str) -> str:
    """The statement with its Closed Transactions rows listed the other way round (a ticket row keeps
    its second-line comment row)."""
    start = text.index("</tr>", text.index("<td>Ticket</td>")) + len("</tr>")
    end = text.index("<td colspan=10>&nbsp;</td>", start)
    end = text.rindex("<tr", start, end)
    rows = [r for r in re.split(r"(?=<tr)", text[start:end]) if r.strip()]
    groups: list[list[str]] = []
    for row in rows:
        if re.match(r"<tr[^>]*><td[^>]*>\d+</td>", row.strip()) or not groups:
            groups.append([row])
        else:
            groups[-1].append(row)
    assert len(groups) > 1
    return text[:start] + "".join("".join(g) for g in reversed(groups)) + text[end:]


@pytest.mark.parametrize("fname", [OANDA, SWISS, ACEYSX])
def test_rows_listed_the_other_way_give_the_same_trades(fname: str) -> None:
    p = _parsed(fname)
    q = parse_bytes(_reverse_closed_rows(_text(fname)).encode("ascii"), fname)
    assert q.meta["row_order"] != p.meta["row_order"]
    assert q.trades.equals(p.trades) and q.cash_flows.equals(p.cash_flows)
    assert q.stated == p.stated and q.initial_balance == p.initial_balance


def test_oldest_first_statement_reversed_reads_newest_first() -> None:
    q = parse_bytes(_reverse_closed_rows(_text(OANDA)).encode("ascii"), OANDA)
    assert _parsed(OANDA).meta["row_order"] == "oldest first" and q.meta["row_order"] == "newest first"


def test_jpy_statement_with_comma_thousands_parses_whole_yen() -> None:
    """The JPY statement re-saved with "52,423" / "4,673,889": per document these are thousands (the
    same document prints "1.11" and "4,673,889"), so amounts stay whole yen, never 52.423."""
    text = re.sub(r"(\d) (?=\d{3}(?!\d))", r"\1,", _text(JPY))
    assert ">52,423<" in text and "4,673,889" in text
    assert optional_number("52,423") == 52.423  # what a per-cell guess makes of it
    p = parse_bytes(text.encode("ascii"), JPY)
    base = _parsed(JPY)
    assert p.trades.equals(base.trades)
    assert p.stated == base.stated and p.initial_balance == 4621466.0
    assert p.stated["net_profit"] == 52423.0 and p.stated["gross_profit"] == 535654.0
    assert "comma" in p.meta["number_format"]


def test_european_number_format_is_decided_by_the_document() -> None:
    """OANDA re-saved as "5.000,00" / "1,33252": decimal comma and dot thousands, from the document."""
    text = _text(OANDA)
    text = re.sub(r"(?<![\d.])(\d+)\.(\d+)(?![\d.])", r"\1,\2", text)  # decimal points (dates untouched)
    text = re.sub(r"(\d) (?=\d{3}(?!\d))", r"\1.", text)  # space thousands -> dots
    assert "5.000,00" in text and "2020.02.10 19:13:56" in text
    p = parse_bytes(text.encode("ascii"), OANDA)
    base = _parsed(OANDA)
    assert p.trades.equals(base.trades) and p.cash_flows.equals(base.cash_flows)
    assert p.stated == base.stated
    assert p.meta["number_format"].startswith("decimal ','")


# Labels in a language the parser has no table for (invented for the test): sections, Summary and Details
# must be found by structure and position, and the unrecognised labels named.
FOREIGN = {
    "Closed Transactions:": "Geschlossene Vorgaenge:",
    "Open Trades:": "Offene Positionen:",
    "Working Orders:": "Wartende Auftraege:",
    "Summary:": "Zusammenfassung:",
    "Details:": "Einzelheiten:",
    "Deposit/Withdrawal:": "Einzahlung/Auszahlung:",
    "Credit Facility:": "Kreditlinie:",
    "Closed Trade P/L:": "Geschlossene G/V:",
    "Floating P/L:": "Schwebende G/V:",
    "Margin:": "Marge:",
    "Balance:": "Kontostand:",
    "Equity:": "Eigenkapital:",
    "Free Margin:": "Freie Marge:",
    "Closed P/L:": "G/V geschlossen:",
    "Gross Profit:": "Bruttogewinn:",
    "Gross Loss:": "Bruttoverlust:",
    "Total Net Profit:": "Nettogewinn gesamt:",
    "Profit Factor:": "Gewinnfaktor:",
    "Total Trades:": "Trades gesamt:",
    "Account:": "Konto:",
    "Currency:": "Waehrung:",
    ">Ticket<": ">Nummer<",
    "<title>Statement:": "<title>Kontoauszug:",
}


@pytest.mark.parametrize("fname", [MIHAWK, OANDA])
def test_statement_in_an_unknown_language_parses_by_structure(fname: str) -> None:
    text = _text(fname)
    for english, foreign in FOREIGN.items():
        text = text.replace(english, foreign)
    data = text.encode("ascii")
    assert b"Closed Transactions" not in data and b"Summary" not in data
    assert detect(data[:HEAD_BYTES], fname).name == "mt4_statement_html"
    p = parse_bytes(data, fname)
    base = _parsed(fname)
    assert p.trades.equals(base.trades) and p.cash_flows.equals(base.cash_flows)
    assert p.stated == base.stated and p.initial_balance == base.initial_balance
    assert p.meta["account"] == base.meta["account"] and p.currency == base.currency
    assert "Kontostand:" in p.meta["labels_unrecognised"]
    assert any("not recognised" in w and "Kontostand" in w for w in p.warnings)


def test_unknown_summary_labels_that_do_not_fit_the_layout_are_rejected() -> None:
    text = _text(OANDA)
    for english, foreign in FOREIGN.items():
        text = text.replace(english, foreign)
    # Equity no longer equals Balance + Floating P/L: the positions were misread (or the file edited)
    text = text.replace(
        "Eigenkapital:</b></td>\n    <td class=mspt><b>4 731.27",
        "Eigenkapital:</b></td>\n    <td class=mspt><b>4 931.27",
    )
    assert "4 931.27" in text
    with pytest.raises(DataError, match="layout"):
        parse_bytes(text.encode("ascii"), OANDA)


def test_two_different_pl_totals_reconcile_against_the_rows() -> None:
    """A re-saved statement whose Summary was edited: "Closed P/L: -266.19" (after the rows, which add up
    to it) and "Closed Trade P/L: -250.00": the rows' total is reconciled, the other named in a warning."""
    text = _text(OANDA)
    label = "Closed Trade P/L:</b></td>"
    at = text.index(label)
    value = text.index("-266.19", at)
    text = text[:value] + "-250.00" + text[value + len("-266.19") :]
    p = parse_bytes(text.encode("ascii"), OANDA)
    assert p.stated["net_profit"] == -266.19 and p.meta["net_profit_printed_as"] == "Closed P/L"
    assert any("two different P/L totals" in w and "Closed Trade P/L -250.00" in w for w in p.warnings)
    assert p.initial_balance == pytest.approx(4731.27 - 4997.46 + 266.19, abs=0.005)


def test_details_net_profit_differing_from_the_rows_is_named() -> None:
    text = _text(MIHAWK).replace(
        "Total Net Profit:</b></td>\n    <td colspan=2 class=mspt><b>-0.90",
        "Total Net Profit:</b></td>\n    <td colspan=2 class=mspt><b>-1.90",
    )
    assert "<b>-1.90" in text
    p = parse_bytes(text.encode("ascii"), MIHAWK)
    assert p.stated["net_profit"] == -0.90
    assert any("Total Net Profit -1.90" in w for w in p.warnings)


def test_no_printed_total_matching_the_rows_is_rejected() -> None:
    text = _text(OANDA).replace("<b>-266.19</b>", "<b>-250.00</b>")  # every printed P/L total
    with pytest.raises(DataError, match="net_profit"):
        parse_bytes(text.encode("ascii"), OANDA)


def test_statement_without_summary_is_incomplete_not_truncated() -> None:
    text = _text(OANDA)
    cut = text.index("Summary:")
    text = text[: text.rindex("<tr", 0, cut)] + "</table></div></body></html>\n"
    with pytest.raises(DataError, match="Summary") as err:
        parse_bytes(text.encode("ascii"), OANDA)
    assert "truncated" not in str(err.value)


# --------------------------------------------------------------------------- numbers per document


@pytest.mark.parametrize(
    ("samples", "decimal", "checks"),
    [
        (["100 000.00", "0.10", "1.33252"], ".", {"100 000.00": 100000.0, "1.33252": 1.33252}),
        (["1,234.56", "0.5"], ".", {"1,234.56": 1234.56, "12,345": 12345.0}),
        (["1 234,56", "1,10421"], ",", {"1 234,56": 1234.56, "1,10421": 1.10421, "-0,18": -0.18}),
        (["1.234,56", "0,10"], ",", {"1.234,56": 1234.56, "52.423": 52423.0, "112,901": 112.901}),
        (["52,423", "4,673,889", "1.11"], ".", {"52,423": 52423.0, "112.901": 112.901}),
        (["52 423", "4 673 889", "-643"], ".", {"52 423": 52423.0, "4 673 889": 4673889.0}),
        (["1,234"], ".", {"1,234": 1234.0}),  # ambiguous alone: MetaTrader's '.' decimal
        (["1234,567", "1,234"], ",", {"1,234": 1.234}),  # 4 digits before: ',' is decimal here
    ],
)
def test_number_format_from_the_documents_evidence(samples, decimal, checks) -> None:
    fmt = detect_format(samples)
    assert fmt.decimal == decimal
    for text, value in checks.items():
        assert fmt.parse(text) == pytest.approx(value)


@pytest.mark.parametrize("samples", [["1.234,56", "1,234.56"], ["0,5", "1,234,567"], ["12,5", "3.25"]])
def test_mixed_number_formats_are_an_error(samples) -> None:
    with pytest.raises(DataError, match="mixes number formats"):
        detect_format(samples)


def test_number_helpers() -> None:
    assert first_token("33 160 (0.71%)") == "33 160" and first_token("0.71% (33 160)") == "0.71"
    assert first_token("4970 (74.06%)") == "4970" and first_token("Balance") == ""
    fmt = NumberFormat()
    assert fmt.parse("") is None and fmt.parse("cancelled") is None and fmt.parse("\u22125") == -5.0
    with pytest.raises(DataError, match="commission"):
        fmt.number("n/a", where="ticket 1", what="commission")


def test_detector_claims_statements_in_any_language_only() -> None:
    for fname in PRINTED:
        head = real(f"{DIR}/{fname}").read_bytes()[:HEAD_BYTES]
        assert mt4_statement_html._detect(head, fname)
    tester = real("mt4_tester_html/qg0_rsi_momentum_eurusd_fr.htm").read_bytes()[:HEAD_BYTES]
    assert not mt4_statement_html._detect(tester, "x.htm")


def test_meta_round_trips_as_json() -> None:
    import json

    for fname in (ACEYSX, JSACAP, MIHAWK):
        json.dumps(dict(_parsed(fname).meta), default=str, allow_nan=False)
        json.dumps(dict(_parsed(fname).platform_figures), allow_nan=False)
