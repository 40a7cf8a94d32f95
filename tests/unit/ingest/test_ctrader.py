"""cTrader parsers against the real fixtures (and one constructed report, see tests/data/README.md).

Expected figures are read from the files themselves (quoted in the comments) or recomputed here
with the standard library (json / xml.etree), independently of the parsers.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from workbench.errors import DataError
from workbench.ingest import parse_bytes, parse_file
from workbench.ingest.parsers import (
    ctrader_cbotset,
    ctrader_events_json,
    ctrader_history_xml,
    ctrader_report_json,
)
from workbench.ingest.registry import HEAD_BYTES, detect

try:
    from conftest import REAL, REAL_FILES, real
except ImportError:  # pragma: no cover - run outside the tests/ rootdir
    REAL = (Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "real").resolve()
    REAL_FILES = sorted(p for p in REAL.rglob("*") if p.is_file() and p.name != "MANIFEST.md")

    def real(rel: str) -> Path:
        return REAL / rel


DATA = Path(__file__).resolve().parents[2] / "data"
SAMPLE = DATA / "ctrader_report_sample.json"  # constructed from the MANIFEST description, NOT a real export
EVENTS = "ctrader_backtest_events_json/tweb79_events.json"
HISTORY = "ctrader_legacy_history_xml/abhacid_martingale_forex_eurusd_m5_history.xml"
HISTORY_NAME = "2015-06-20 20-37-46 History - Martingale_Forex (EURUSD, m5, 1, 3, 10, 5, 0.3, 6).xml"

# ---------------------------------------------------------------------------------------------- cbotset

CBOTSETS = {
    # file: (symbol, timeframe, number of parameters (counted in the file), spot-checked values as printed)
    "abhacid_golden_dragon_ii_xauusd_m1.cbotset": (
        "XAUUSD",
        "m1",
        None,
        {"DragonNumber": 1, "Inner": 0.9, "TrailingStops": True, "Martingale": False, "TradeVolume": 10},
    ),
    "abhacid_mechanic_eurusd_m1.cbotset": (
        "EURUSD",
        "m1",
        14,  # grep -c ' = ' gives 16: minus Symbol and Timeframe
        {"HighOrderTimeFrame": "Hour", "Volume": 10000, "EnableStopLoss": True, "ExitOnOppositeSignal": True},
    ),
    "abhacid_trailcut_ii_gbpusd_m4.cbotset": (
        "GBPUSD",
        "m4",
        None,
        {"WprSource": "Open", "MbfxFilter": -1, "WprOverbuyCeil": -62, "IsOnTick": True, "BuyOnly": False},
    ),
    "lee890720_arbitragehedge_eurchf_h1.cbotset": (
        "EURCHF",
        "h1",
        9,  # grep -c ' = ' gives 11: minus Symbol and Timeframe
        {"Init_Volume": 1000, "FirstSymbol": "EURUSD", "Ratio": 1.2, "IsTrade": True},
    ),
    "pravindersamra_GER40_rvol_5min_starting.cbotset": (
        "GER40.cash",
        "m1",
        None,
        {"VolumeMode": "RelativeToTypical", "RangeTimeZoneParam": 2, "EnableKillSwitch": True},
    ),
    "pravindersamra_NAS100_aggressive_40pt_3.5R.cbotset": (
        "NAS100.cash",
        "m1",
        None,
        {"RangeStartTimeUtcStr": "02:00:00", "MaxOrbRangePips": 2000.0, "ClosePositionsAtKillSwitch": True},
    ),
}


def _ini_param_count(path: Path) -> int:
    """Lines after [cBotParameters] with ' = ' (an independent count of the parameters)."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    start = lines.index("[cBotParameters]")
    return sum(1 for line in lines[start + 1 :] if "=" in line)


@pytest.mark.parametrize("fname", sorted(CBOTSETS))
def test_cbotset_parses_typed_values(fname: str) -> None:
    path = real(f"ctrader_cbotset/{fname}")
    symbol, tf, count, spot = CBOTSETS[fname]
    p = parse_file(path)
    assert p.format == "ctrader_cbotset" and p.kind == "parameters" and p.platform == "ctrader"
    assert (p.symbol, p.timeframe) == (symbol, tf)
    assert p.strategy is None  # the fixtures were renamed: no "<Bot>, <SYMBOL> <tf>.cbotset" name
    if path.read_bytes().lstrip(b"\xef\xbb\xbf").startswith(b"{"):
        expected = json.loads(path.read_text())["Parameters"]
        assert dict(p.parameters) == expected  # JSON values keep their JSON types
        assert p.meta["layout"] == "json"
    else:
        assert len(p.parameters) == _ini_param_count(path)
        assert p.meta["layout"] == "ini"
    if count is not None:
        assert len(p.parameters) == count
    for key, value in spot.items():
        assert p.parameters[key] == value
        assert type(p.parameters[key]) is type(value), key  # True is a bool, -1 an int, 0.9 a float


def test_cbotset_json_float_stays_float() -> None:
    p = parse_file(real("ctrader_cbotset/pravindersamra_NAS100_aggressive_40pt_3.5R.cbotset"))
    assert isinstance(p.parameters["MaxOrbRangePips"], float)  # printed "2000.0"
    assert p.parameters["OrbBarsTimeFrame"] == "m1"


def test_cbotset_strategy_from_calgo_file_name() -> None:
    data = real("ctrader_cbotset/abhacid_golden_dragon_ii_xauusd_m1.cbotset").read_bytes()
    # the original name in abhacid/cAlgoBot (MANIFEST): "Golden Dragon II, XAUUSD m1.cbotset"
    p = parse_bytes(data, "Golden Dragon II, XAUUSD m1.cbotset")
    assert p.strategy == "Golden Dragon II"
    assert (p.symbol, p.timeframe) == ("XAUUSD", "m1")
    assert p.name == "Golden Dragon II XAUUSD m1"


@pytest.mark.parametrize(
    "fname",
    ["pravindersamra_GER40_rvol_5min_starting.cbotset", "abhacid_trailcut_ii_gbpusd_m4.cbotset"],
)
def test_cbotset_truncated_rejected(fname: str) -> None:
    data = real(f"ctrader_cbotset/{fname}").read_bytes()
    cut = data[: data.index(b"WprPeriod") + 5] if b"WprPeriod" in data else data[: len(data) // 2]
    with pytest.raises(DataError):
        parse_bytes(cut, fname)


def test_cbotset_ini_without_parameters_section_rejected() -> None:
    data = real("ctrader_cbotset/abhacid_mechanic_eurusd_m1.cbotset").read_bytes()
    with pytest.raises(DataError, match="cBotParameters"):
        parse_bytes(data[: data.index(b"[cBotParameters]")], "x.cbotset")


# ---------------------------------------------------------------------------------------------- events


def _events() -> list[dict]:
    return json.loads(real(EVENTS).read_text())


def test_events_trades_and_balances() -> None:
    events = _events()
    closes = [e for e in events if e["balance"] is not None]
    p = parse_file(real(EVENTS))
    assert p.format == "ctrader_events_json" and p.kind == "backtest"
    assert len(events) == 3744  # MANIFEST: 3,744 objects
    assert p.trades is not None and p.trades.height == len(closes) == 698
    # the first event (serial 0, "Create Position") prints "equity": 420 with nothing open
    assert p.initial_balance == 420.0
    # the last event (serial 3743, "Stop Loss Hit") prints "balance": 34829.35999999997
    assert p.stated["final_balance"] == pytest.approx(34829.36, abs=1e-9)
    assert p.trades["net_profit"].sum() == pytest.approx(34829.36 - 420.0, abs=0.005)
    # the first close (serial 5) also prints grossProfit 5.34 and balance 425.34: 425.34 - 5.34 = 420
    assert closes[0]["balance"] - closes[0]["grossProfit"] == pytest.approx(p.initial_balance)
    assert p.meta["timezone"] == "UTC" and p.meta["open_positions"] == 0


def test_events_net_is_balance_change_and_gross_is_gross_profit() -> None:
    events = _events()
    closes = [e for e in events if e["balance"] is not None]
    p = parse_file(real(EVENTS))
    t = p.trades
    assert t is not None
    balances = [420.0] + [e["balance"] for e in closes]
    expected_net = [round(b - a, 2) for a, b in zip(balances, balances[1:], strict=False)]
    assert t["net_profit"].to_list() == pytest.approx(expected_net, abs=1e-9)
    assert t["profit"].to_list() == [e["grossProfit"] for e in closes]
    # net = gross + commission/swap (the log cannot split them: all in swap, commission null)
    assert (t["profit"] + t["swap"] - t["net_profit"]).abs().max() < 1e-9
    assert t["commission"].null_count() == t.height


def test_events_spot_rows() -> None:
    t = parse_file(real(EVENTS)).trades
    assert t is not None
    first = t.row(0, named=True)
    # positionId 1: Create Position time 1762761600326, Stop Loss Hit time 1762765634459 (epoch ms UTC)
    assert first["trade_id"] == "1"
    assert first["open_time"] == datetime(2025, 11, 10, 8, 0, 0, 326000)
    assert first["close_time"] == datetime(2025, 11, 10, 9, 7, 14, 459000)
    assert first["direction"] == "long"  # "type": "Buy"
    assert (first["volume"], first["entry_price"], first["exit_price"]) == (0.6, 6781.4, 6791.7)
    assert (first["stop_loss"], first["pips"], first["net_profit"]) == (6791.9, 10.3, 5.34)
    # positionId 339 (serial 1878): grossProfit 18.92; balance 5694.490000000001 (serial 1875) ->
    # 5714.830000000001: net 20.34, so commission+swap = +1.42
    row = t.filter(t["trade_id"] == "339").row(0, named=True)
    assert row["direction"] == "short"
    assert row["profit"] == 18.92 and row["net_profit"] == 20.34 and row["swap"] == pytest.approx(1.42)


def test_events_partial_close_is_its_own_trade() -> None:
    events = _events()
    first_close = next(e for e in events if e["balance"] is not None)  # serial 5: 0.6 lots, +5.34
    # split it by hand into two closes of 0.3 lots, 2.67 each: balances 422.67 then 425.34
    part1 = {**first_close, "volume": 0.3, "quantity": 0.3, "grossProfit": 2.67, "balance": 422.67}
    part2 = {**first_close, "volume": 0.3, "quantity": 0.3, "grossProfit": 2.67, "balance": 425.34}
    i = events.index(first_close)
    changed = events[:i] + [part1, part2] + events[i + 1 :]
    t = parse_bytes(json.dumps(changed).encode(), "events.json").trades
    assert t is not None and t.height == 699
    assert t["trade_id"].head(3).to_list() == ["1", "1#2", "2"]
    assert t["net_profit"].head(2).to_list() == [2.67, 2.67]
    assert t["open_time"][0] == t["open_time"][1]


def test_events_open_position_at_the_end_is_not_a_trade() -> None:
    events = _events()[:-1]  # drop the final "Stop Loss Hit" of position 698
    p = parse_bytes(json.dumps(events).encode(), "events.json")
    assert p.trades is not None and p.trades.height == 697 and p.meta["open_positions"] == 1


def test_events_truncated_rejected() -> None:
    data = real(EVENTS).read_bytes()
    with pytest.raises(DataError, match="JSON"):
        parse_bytes(data[: len(data) // 2], "events.json")


def test_events_missing_opening_event_rejected() -> None:
    events = [e for e in _events() if not (e["positionId"] == 2 and e["event"] == "Create Position")]
    with pytest.raises(DataError, match="position 2"):
        parse_bytes(json.dumps(events).encode(), "events.json")


# ---------------------------------------------------------------------------------------------- history


def _history_rows() -> tuple[list[str], list[list[str]]]:
    """The worksheet with the standard library: (header, data rows as cell texts)."""
    ns = {"ss": "urn:schemas-microsoft-com:office:spreadsheet"}
    root = ET.parse(real(HISTORY)).getroot()
    rows = [[d.text or "" for d in r.findall("ss:Cell/ss:Data", ns)] for r in root.iterfind(".//ss:Row", ns)]
    return rows[0], rows[1:]


def test_history_counts_and_sums() -> None:
    header, rows = _history_rows()
    p = parse_file(real(HISTORY))
    assert p.format == "ctrader_history_xml" and p.kind == "backtest"
    t = p.trades
    assert t is not None and t.height == len(rows) == 319  # MANIFEST: 319 data rows
    net_col, gross_col, comm_col = (
        header.index("Net EUR"),
        header.index("Gross EUR"),
        header.index("Commissions"),
    )
    assert t["net_profit"].sum() == pytest.approx(sum(float(r[net_col]) for r in rows), abs=1e-6)
    assert t["profit"].sum() == pytest.approx(sum(float(r[gross_col]) for r in rows), abs=1e-6)
    assert t["commission"].sum() == pytest.approx(sum(float(r[comm_col]) for r in rows), abs=1e-6)
    assert p.currency == "EUR"  # "Net EUR" / "Gross EUR"
    assert p.meta["timezone"] == "UTC+0"  # "Entry Time (UTC+0)"
    assert p.symbol == "EURUSD"
    assert p.initial_balance is None and not p.stated  # the export states no totals


def test_history_net_equals_gross_plus_commission_every_row() -> None:
    header, rows = _history_rows()
    net, gross, comm = (header.index(h) for h in ("Net EUR", "Gross EUR", "Commissions"))
    assert all(abs(float(r[net]) - float(r[gross]) - float(r[comm])) < 0.005 for r in rows)
    t = parse_file(real(HISTORY)).trades
    assert t is not None
    assert t["swap"].abs().max() == 0.0  # no Swap column; derived swap is zero on all 319 rows


def test_history_spot_rows() -> None:
    t = parse_file(real(HISTORY)).trades
    assert t is not None
    first = t.row(0, named=True)
    # row 1: 1 | Martingale_Forex-1.3.1.2-EURUSD-Minute5 | 2015-06-01T00:00:00 | EURUSD | EUR 6k | Buy |
    #        1.09582 | -0.36 | 1.09072 | 2015-06-04T03:48:00 | -27.35 | -26.99
    assert first == {
        "trade_id": "1",
        "open_time": datetime(2015, 6, 1, 0, 0),
        "close_time": datetime(2015, 6, 4, 3, 48),
        "symbol": "EURUSD",
        "direction": "long",
        "volume": 6000.0,
        "entry_price": 1.09582,
        "exit_price": 1.09072,
        "stop_loss": None,
        "take_profit": None,
        "commission": -0.36,
        "swap": 0.0,
        "profit": -26.99,
        "net_profit": -27.35,
        "pips": None,
        "comment": "Martingale_Forex-1.3.1.2-EURUSD-Minute5",
    }
    last = t.row(-1, named=True)  # row 319: EUR 21k, Net 20.04, Gross 21.3, Commissions -1.26
    assert (last["trade_id"], last["volume"], last["net_profit"], last["profit"]) == (
        "319",
        21000.0,
        20.04,
        21.3,
    )
    assert t["direction"].value_counts().sort("direction").rows() == [
        ("long", 248),
        ("short", 71),
    ]  # Buy/Sell


def test_history_volume_with_trailing_currency() -> None:
    data = real(HISTORY).read_bytes().replace(b">EUR 6k<", b">6k EUR<").replace(b">EUR 31k<", b">31k EUR<")
    t = parse_bytes(data, "history.xml").trades
    assert t is not None and t["volume"][0] == 6000.0
    assert t["volume"].to_list() == parse_file(real(HISTORY)).trades["volume"].to_list()  # type: ignore[union-attr]


def test_history_strategy_and_parameters_from_file_name() -> None:
    p = parse_bytes(real(HISTORY).read_bytes(), HISTORY_NAME)
    assert (p.strategy, p.symbol, p.timeframe) == ("Martingale_Forex", "EURUSD", "m5")
    assert dict(p.parameters) == {"1": 1, "2": 3, "3": 10, "4": 5, "5": 0.3, "6": 6}


def test_history_truncated_rejected() -> None:
    data = real(HISTORY).read_bytes()
    cut = data[: data.rindex(b"</Row>") + len(b"</Row>")]  # ends on a whole row, but no closing tags
    with pytest.raises(DataError, match="XML"):
        parse_bytes(cut, "history.xml")


def test_history_detector_leaves_mt5_optimizer_xml() -> None:
    head = real("mt5_optimizer_xml/zhijucen_246753_ReportOptimizer.xml").read_bytes()[:HEAD_BYTES]
    assert not ctrader_history_xml._detect(head, "ReportOptimizer.xml")


# ---------------------------------------------------------------------------------------------- report JSON
# tests/data/ctrader_report_sample.json is CONSTRUCTED from the structure described at the end of
# the fixtures MANIFEST (no real --report-json export is public); its totals were worked out by
# hand from its 8 history items: net 140.55 = 198.90 - 58.35, profit factor 198.90 / 58.35 = 3.41.


def _html(doc: bytes) -> bytes:
    return (
        b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Backtesting report</title>"
        b"<style>body{font-family:sans-serif}</style></head><body><div id='root'></div>"
        b'<script type="application/json" id="backtesting-report">' + doc + b"</script>"
        b"<script src='app.js'></script></body></html>"
    )


def test_report_json_sample() -> None:
    p = parse_file(SAMPLE)
    doc = json.loads(SAMPLE.read_text())
    assert p.format == "ctrader_report_json" and p.kind == "backtest"
    assert (p.strategy, p.symbol, p.timeframe, p.currency) == ("SampleTrend", "EURUSD", "h1", "EUR")
    assert p.initial_balance == doc["main"]["startingCapital"] == 10000
    assert p.stated == {
        "net_profit": 140.55,  # main.netProfit (= tradeStatistics.netProfit.all)
        "total_trades": 8,
        "winning_trades": 5,
        "losing_trades": 3,
        "profit_factor": 3.41,
        "initial_balance": 10000,
        "final_balance": 10140.55,  # main.endingBalance
    }
    t = p.trades
    assert t is not None and t.height == len(doc["history"]["items"]) == 8
    assert t["net_profit"].sum() == pytest.approx(140.55)
    assert (t["profit"] + t["commission"] + t["swap"] - t["net_profit"]).abs().max() < 1e-9
    assert dict(p.parameters) == {
        "Volume": 10000,
        "StopLossPips": 15.5,
        "UseTrailing": True,
        "Source": "Close",
        "FastPeriod": -3,
    }
    assert p.meta["open_positions"] == 1 and p.meta["source"] == "json"
    row = t.row(1, named=True)  # item id 2: Sell 20000 units, gross -24.00, commissions -1.20, swaps -0.35
    assert row["direction"] == "short" and row["volume"] == 20000
    assert (row["profit"], row["commission"], row["swap"], row["net_profit"]) == (-24.0, -1.2, -0.35, -25.55)
    # entryTime 1709560800000 ms = 2024-03-04 14:00 UTC
    assert row["open_time"] == datetime(2024, 3, 4, 14, 0) and row["close_time"] == datetime(2024, 3, 5, 9, 0)
    assert p.start == datetime(2024, 3, 4) and p.end == datetime(2024, 3, 16)


def test_report_html_wrapper_gives_the_same_result() -> None:
    data = SAMPLE.read_bytes()
    a = parse_bytes(data, "report.json")
    b = parse_bytes(_html(data), "report.html")
    assert b.format == "ctrader_report_json" and b.meta["source"] == "html"
    assert a.trades is not None and b.trades is not None and a.trades.equals(b.trades)
    assert a.stated == b.stated and dict(a.parameters) == dict(b.parameters)


def test_report_items_as_arrays_matched_to_columns() -> None:
    doc = json.loads(SAMPLE.read_text())
    names = [c["name"] for c in doc["history"]["columns"]]
    doc["history"]["items"] = [[item[n] for n in names] for item in doc["history"]["items"]]
    p = parse_bytes(json.dumps(doc).encode(), "report.json")
    assert p.trades is not None and p.trades["net_profit"].sum() == pytest.approx(140.55)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("main", "endingBalance"), 10150.55, "final_balance"),
        (("tradeStatistics", "totalTrades", "all"), 9, "total_trades"),
        (("tradeStatistics", "netProfit", "all"), 150.0, "disagree"),
    ],
)
def test_report_inconsistent_totals_rejected(path: tuple[str, ...], value: float, message: str) -> None:
    doc = json.loads(SAMPLE.read_text())
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(DataError, match=message):
        parse_bytes(json.dumps(doc).encode(), "report.json")


def test_report_secondary_mismatch_warns_and_strict_rejects() -> None:
    doc = json.loads(SAMPLE.read_text())
    doc["tradeStatistics"]["profitFactor"]["all"] = 2.5
    p = parse_bytes(json.dumps(doc).encode(), "report.json")
    assert any("profit_factor" in w and "2.50" in w for w in p.warnings)
    with pytest.raises(DataError, match="profit_factor"):
        parse_bytes(json.dumps(doc).encode(), "report.json", strict=True)


def test_report_missing_trade_rejected() -> None:
    doc = json.loads(SAMPLE.read_text())
    del doc["history"]["items"][3]  # the +72.68 trade
    with pytest.raises(DataError, match=r"difference -72\.68"):
        parse_bytes(json.dumps(doc).encode(), "report.json")


def test_report_truncated_rejected() -> None:
    data = SAMPLE.read_bytes()
    with pytest.raises(DataError, match="JSON"):
        parse_bytes(data[: len(data) * 2 // 3], "report.json")
    html = _html(data)
    with pytest.raises(DataError, match="backtesting-report"):
        parse_bytes(html[: len(html) // 2], "report.html")


# ---------------------------------------------------------------------------------------------- detectors

DETECTORS = {
    "ctrader_cbotset": (ctrader_cbotset._detect, "ctrader_cbotset"),
    "ctrader_events_json": (ctrader_events_json._detect, "ctrader_backtest_events_json"),
    "ctrader_history_xml": (ctrader_history_xml._detect, "ctrader_legacy_history_xml"),
    "ctrader_report_json": (ctrader_report_json._detect, None),
}


@pytest.mark.parametrize("fmt", sorted(DETECTORS))
def test_detectors_claim_only_their_folder(fmt: str) -> None:
    fn, folder = DETECTORS[fmt]
    assert REAL_FILES, "no real fixtures found"
    for path in REAL_FILES:
        head = path.read_bytes()[:HEAD_BYTES]
        mine = path.parent.name == folder
        assert fn(head, path.name) is mine, f"{fmt} detector on {path.relative_to(REAL)}"


@pytest.mark.parametrize(
    ("rel", "fmt"),
    [(f"ctrader_cbotset/{f}", "ctrader_cbotset") for f in sorted(CBOTSETS)]
    + [(EVENTS, "ctrader_events_json"), (HISTORY, "ctrader_history_xml")],
)
def test_registry_picks_the_ctrader_parser(rel: str, fmt: str) -> None:
    data = real(rel).read_bytes()
    assert detect(data, rel).name == fmt


def test_registry_picks_report_parser_for_json_and_html() -> None:
    data = SAMPLE.read_bytes()
    assert detect(data, "report.json").name == "ctrader_report_json"
    assert detect(_html(data), "report.html").name == "ctrader_report_json"
    assert not math.isnan(parse_bytes(_html(data), "report.html").stated["net_profit"])
