"""MT5 Strategy Tester report saved as Excel by the terminal (XLSX whose XML parts are UTF-16LE).

Expected figures are the raw cells of the real fixture, read by eye (the label is quoted);
nothing is copied from the parser's output.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REAL_FILES, real

from workbench.errors import DataError
from workbench.ingest import parse_bytes, parse_file
from workbench.ingest.parsers import mt5_tester_xlsx
from workbench.ingest.registry import HEAD_BYTES, detect

XLSX = "mt5_tester_xlsx/itsnewe_multisymbol_xauusd_xagusd.xlsx"
SHEET = "xl/worksheets/sheet1.xml"

# Printed (raw cells of the Results block and the Settings)
NET, GROSS_PROFIT, GROSS_LOSS, PF, TRADES, DEPOSIT = 6795145.39, 6798828.37, -3682.98, 1846.01, 2665, 10000.0
PROFIT_TRADES, LOSS_TRADES = 2631, 34  # "Profit Trades (% of total): 2631 (98.72%)", "Loss Trades ...: 34"
FINAL_BALANCE = 6805145.39  # Balance of the last deal (5331) and of the Deals totals row


@pytest.fixture(scope="module")
def parsed():
    return parse_file(real(XLSX))


def _rezip(data: bytes, edit: Callable[[str, str], str] | None = None, *, encoding: str = "utf-16") -> bytes:
    """A copy of the workbook with each XML part passed through ``edit(name, text)`` and written
    back in ``encoding`` ("utf-16": with a BOM, as MT5 writes; "utf-8": as Excel re-saves)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            part = src.read(info)
            if part.startswith(b"\xff\xfe"):
                text = part.decode("utf-16")
                if edit is not None:
                    text = edit(info.filename, text)
                part = text.encode("utf-16") if encoding == "utf-16" else text.encode("utf-8")
            dst.writestr(info.filename, part)
    return out.getvalue()


def test_the_xml_parts_are_utf16_with_bom():
    """The premise: MT5 writes every XML part UTF-16LE with a BOM (not what Excel writes)."""
    z = zipfile.ZipFile(real(XLSX))
    parts = [n for n in z.namelist() if n.endswith((".xml", ".rels"))]
    assert parts and all(z.read(n).startswith(b"\xff\xfe") for n in parts)


def test_trades_reproduce_the_printed_net_profit_and_trade_count(parsed):
    assert parsed.format == "mt5_tester_xlsx" and parsed.kind == "backtest" and parsed.platform == "mt5"
    t = parsed.trades
    assert t.height == TRADES  # "Total Trades: 2665"
    assert round(float(t["net_profit"].sum()), 2) == NET  # "Total Net Profit: 6795145.39"
    assert parsed.initial_balance == DEPOSIT  # "Initial Deposit: 10000"
    assert DEPOSIT + float(t["net_profit"].sum()) == pytest.approx(FINAL_BALANCE, abs=0.005)
    assert parsed.cash_flows.height == 0  # the first (balance) deal is the deposit


def test_stated_holds_the_printed_cells(parsed):
    s = parsed.stated
    assert s["net_profit"] == NET and s["gross_profit"] == GROSS_PROFIT and s["gross_loss"] == GROSS_LOSS
    assert s["profit_factor"] == pytest.approx(PF, abs=0.005)  # the cell holds 1846.01284
    assert s["total_trades"] == TRADES and s["initial_balance"] == DEPOSIT
    assert s["winning_trades"] == PROFIT_TRADES and s["losing_trades"] == LOSS_TRADES
    assert s["final_balance"] == FINAL_BALANCE


def test_platform_figures_reproduce_the_printed_per_deal_totals(parsed):
    assert parsed.convention == "mt5 per deal"
    pf = parsed.platform_figures
    assert set(parsed.stated) <= set(pf)
    assert pf["gross_profit"] == pytest.approx(GROSS_PROFIT, abs=0.005)
    assert pf["gross_loss"] == pytest.approx(GROSS_LOSS, abs=0.005)
    assert round(pf["profit_factor"], 2) == PF
    assert pf["net_profit"] == pytest.approx(NET, abs=0.005) and pf["total_trades"] == TRADES
    assert pf["winning_trades"] == PROFIT_TRADES and pf["losing_trades"] == LOSS_TRADES
    # Hand calculation of MT5's per-deal definition from the trades: every entry deal of this
    # report carries 0.00 commission/swap/profit, so each exit deal's result is its trade's net.
    t = parsed.trades
    assert float(t["commission"].abs().sum()) == 0.0
    net = t["net_profit"]
    assert float(net.filter(net > 0).sum()) == pytest.approx(GROSS_PROFIT, abs=0.005)
    assert float(net.filter(net < 0).sum()) == pytest.approx(GROSS_LOSS, abs=0.005)


def test_two_symbols_each_trade_keeps_its_own(parsed):
    # The settings say "Symbol: XAUUSD"; the deals trade XAUUSD (2,314 deals) and XAGUSD (3,016).
    assert parsed.symbol is None and parsed.meta["header_symbol"] == "XAUUSD"
    symbols = parsed.meta["symbols"]
    assert {k: v["deals"] for k, v in symbols.items()} == {"XAUUSD": 2314, "XAGUSD": 3016}
    t = parsed.trades
    assert set(t["symbol"]) == {"XAUUSD", "XAGUSD"}
    for sym, info in symbols.items():
        mine = t.filter(t["symbol"] == sym)
        assert info["trades"] == mine.height and info["net_profit"] == round(
            float(mine["net_profit"].sum()), 2
        )
    assert sum(v["trades"] for v in symbols.values()) == TRADES
    assert any("XAGUSD" in w for w in parsed.warnings)
    assert parsed.meta["results"]["symbols"] == 2  # "Symbols: 2"


def test_end_of_test_closes_are_trades(parsed):
    t = parsed.trades
    assert (t["comment"] == "end of test").sum() > 0
    # last deal 5331: XAUUSD sell out 0.16 @ 5417.29, swap -4889.73, profit 44682.24, "end of test"
    last = t.filter(t["trade_id"] == "5331").row(0, named=True)
    assert last["symbol"] == "XAUUSD" and last["direction"] == "long" and last["volume"] == 0.16
    assert last["exit_price"] == 5417.29 and last["swap"] == -4889.73 and last["profit"] == 44682.24
    assert str(last["close_time"]) == "2026-01-28 23:59:58" and last["comment"] == "end of test"
    assert parsed.meta["open_positions"] == []


def test_settings_inputs_and_two_part_cells(parsed):
    assert (
        parsed.strategy == "fusion_multi_symbol" and parsed.timeframe == "m1"
    )  # "Expert:", "Period: M1 (...)"
    assert str(parsed.start) == "2025-01-01 00:00:00" and str(parsed.end) == "2026-01-29 00:00:00"
    assert parsed.currency == "USD" and parsed.meta["leverage"] == "1:500"
    assert parsed.meta["server"] == "FusionMarkets-Live" and parsed.meta["build"] == 5570
    assert dict(parsed.parameters) == {
        "Symbol1": "XAUUSD",
        "Symbol1_Enabled": True,
        "Symbol1_SurviveDown": 24,
        "Symbol2": "XAGUSD",
        "Symbol2_Enabled": True,
        "Symbol2_SurviveDown": 29,
        "commission": 0,
    }
    r = parsed.meta["results"]
    # "Equity Drawdown Maximal: 2 780 636.00 (48.99%)", "Balance Drawdown Relative: 0.16% (231.19)"
    assert r["equity_drawdown_maximal"] == 2780636.00 and r["equity_drawdown_maximal_pct"] == 48.99
    assert r["balance_drawdown_relative_pct"] == 0.16 and r["balance_drawdown_relative"] == 231.19
    assert r["largest_profit_trade"] == 315387.25 and r["largest_loss_trade"] == -988.68


def test_detected_by_content_not_by_name():
    data = real(XLSX).read_bytes()
    assert detect(data, "report.bin").name == "mt5_tester_xlsx"
    assert parse_bytes(data, "no_extension").trades.height == TRADES


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_detector_claims_only_its_own_folder(path):
    head = path.read_bytes()[:HEAD_BYTES]
    assert mt5_tester_xlsx._detect(head, path.name) == (path.parent.name == "mt5_tester_xlsx")


def test_an_ordinary_workbook_is_not_claimed():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("docProps/core.xml", '<?xml version="1.0"?><cp:coreProperties><dc:title>Budget</dc:title>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        z.writestr("xl/sharedStrings.xml", '<?xml version="1.0"?><sst><si><t>Rent</t></si></sst>')
    assert not mt5_tester_xlsx._detect(out.getvalue()[:HEAD_BYTES], "budget.xlsx")


def test_a_copy_resaved_with_utf8_parts_parses_the_same(parsed):
    data = _rezip(real(XLSX).read_bytes(), encoding="utf-8")
    assert mt5_tester_xlsx.utf8_parts(data) is data  # nothing to re-encode
    again = parse_bytes(data, "resaved.xlsx")
    assert again.trades.equals(parsed.trades) and dict(again.stated) == dict(parsed.stated)


def test_truncated_file_is_rejected(tmp_path: Path):
    data = real(XLSX).read_bytes()
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError):
        parse_file(cut)


def test_an_edited_deal_breaks_the_running_balance():
    def edit(name: str, text: str) -> str:  # deal 5331's Profit cell
        return text.replace("<v>44682.24</v>", "<v>44692.24</v>") if name == SHEET else text

    with pytest.raises(DataError, match="balance"):
        parse_bytes(_rezip(real(XLSX).read_bytes(), edit), "edited.xlsx")


def test_a_misstated_result_is_rejected():
    """A printed total the deals do not reproduce (here Total Net Profit +10) is refused."""

    def edit(name: str, text: str) -> str:
        return text.replace("<v>6795145.390000</v>", "<v>6795155.390000</v>") if name == SHEET else text

    with pytest.raises(DataError, match="net_profit"):
        parse_bytes(_rezip(real(XLSX).read_bytes(), edit), "misstated.xlsx")
