"""`workbench metrics` (recomputed from the stored trades) reproduces what each platform printed.

The oracle is the report itself: every figure below was read off the file (the label is quoted).
Net profit to the cent; gross profit/loss to one printed cent (MT4 sums unrounded per-trade values, so
one cent of rounding can separate the printed gross from the sum of printed trade results); profit
factor to the 2 decimals printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REAL

pytestmark = pytest.mark.xdist_group("cli")

# file -> printed figures: net = "Total net profit", gp/gl = "Gross profit/loss", pf = "Profit factor",
# n = "Total trades". MT4 statements print "Closed Trade P/L" (net incl. commission, taxes and swap).
PRINTED: dict[str, dict[str, float]] = {
    "mt4_tester_html/urinethrower_bastet_xagusd_h4.htm": dict(
        net=2583.59, gp=6286.71, gl=-3703.12, pf=1.70, n=85
    ),
    "mt4_tester_html/ubertrading_macd_sample_usdjpy_m5.htm": dict(
        net=-1071.49, gp=1424.16, gl=-2495.65, pf=0.57, n=733
    ),
    "mt4_tester_html/qg0_rsi_momentum_eurusd_fr.htm": dict(
        net=-797.76, gp=536.66, gl=-1334.42, pf=0.40, n=36
    ),
    "mt4_tester_html/reuniware_jcspatterns_gbpjpy_fr.htm": dict(
        net=-6960.07, gp=1662.97, gl=-8623.04, pf=0.19, n=14
    ),
    "mt4_statement_html/mihawk2016_MT4Trade.htm": dict(net=-0.90, gp=0.0, gl=-0.90, pf=0.0, n=1),
    "mt4_statement_html/alecortees22_oanda_statement.htm": dict(net=-266.19),
    "mt4_statement_html/ubertrading_swissquote_statement.htm": dict(net=90066.64),
    "mt5_tester_html/mihawk2016_MT5EA_moving_average_usdjpy.html": dict(
        net=1665.38, gp=4667.72, gl=-3002.34, pf=1.55, n=152
    ),
    "mt5_tester_html/didinska21_zero_to_hero_report.html": dict(net=-6.11, gp=6.69, gl=-12.80, pf=0.52, n=3),
    "mt5_history_html/mihawk2016_MT5Trade5.html": dict(net=1333.77, gp=1622.47, gl=-288.70, pf=5.62, n=8),
    # second batch (MANIFEST section 9): other languages, encodings, layouts and sizes
    "mt4_tester_html/panpip_super30k_gbpusd_d1_ru_cp1251.htm": dict(
        net=755.67, gp=1078.54, gl=-322.87, pf=3.34, n=87
    ),
    "mt4_tester_html/othersoft_cent_eurusd_h1_ru_cp1251.htm": dict(
        net=-62.62, gp=1116.26, gl=-1178.88, pf=0.95, n=178, initial=10000.00
    ),
    "mt4_tester_html/ignaxio_swing_nas100_m1_es_cp1252.htm": dict(
        net=17430.03, gp=32195.47, gl=-14765.44, pf=2.18, n=2750, initial=30000.00
    ),
    # Rakuten JPY statement: "Gross Loss: 483 231" is printed positive
    "mt4_statement_html/kotarohashimoto_rakuten_jpy.htm": dict(
        net=52423, gp=535654, gl=-483231, pf=1.11, n=6711, balance=4673889
    ),
    "mt4_statement_html/aceysx_ecmarkets_newest_first.htm": dict(net=682.56, balance=882.56),
    "mt4_statement_html/jsacap_tradeslide_statement.htm": dict(net=8205.65),
    "mt5_history_html/mihawk2016_MT5Trade7_nohedge.html": dict(net=-33.05, gp=0.0, gl=-33.05, pf=0.0, n=3),
    "mt5_tester_xlsx/itsnewe_multisymbol_xauusd_xagusd.xlsx": dict(
        net=6795145.39, gp=6798828.37, gl=-3682.98, pf=1846.01, n=2665, initial=10000
    ),
}

# MT5 prints gross profit/loss and profit factor PER DEAL (an entry deal's commission is a losing deal of its
# own): these are compared with `platform.reproduced` (the rows under MT5's convention), while the headline
# per-position figures differ by the entry commissions.
PER_DEAL: dict[str, dict[str, float]] = {
    "mt5_tester_html/zhijucen_246753_ReportTester.html": dict(
        net=18943.28, gp=32506.58, gl=-13563.30, pf=2.40, n=346, wins=137, losses=209
    ),
    "mt5_tester_html/zhijucen_250013_ReportTester.html": dict(
        net=23.06, gp=336.42, gl=-313.36, pf=1.07, n=30, per_position_gp=335.87, per_position_gl=-312.81
    ),
}


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    home = tmp_path_factory.mktemp("printed") / "lake"
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "ingest", str(REAL), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    files = json.loads(out.stdout)["files"]
    assert all(f["status"] == "ingested" for f in files), [f["error"] for f in files if f["error"]]
    ids = {
        str(Path(f["path"]).relative_to(REAL)): f["backtest_id"]
        or f["parameter_set_id"]
        or f["optimization_id"]
        for f in files
    }
    return home, ids


def metrics(home: Path, backtest_id: int) -> dict:
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "metrics", str(backtest_id), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("rel", sorted(PRINTED))
def test_metrics_reproduce_the_printed_figures(stored, rel: str) -> None:
    home, ids = stored
    m = metrics(home, ids[rel])
    want = PRINTED[rel]
    assert m["net_profit"] == pytest.approx(want["net"], abs=0.005)
    if "gp" in want:
        assert m["gross_profit"] == pytest.approx(want["gp"], abs=0.011)
        assert m["gross_loss"] == pytest.approx(want["gl"], abs=0.011)
        assert round(m["profit_factor"] or 0.0, 2) == pytest.approx(want["pf"], abs=1e-9)
    if "n" in want:
        assert m["total_trades"] == want["n"]
    if "initial" in want:
        assert m["initial_balance"] == pytest.approx(want["initial"], abs=0.005)
    if "balance" in want:
        assert m["final_balance"] == pytest.approx(want["balance"], abs=0.005)


@pytest.mark.parametrize("rel", sorted(PER_DEAL))
def test_mt5_per_deal_figures_are_reproduced_under_mt5s_convention(stored, rel: str) -> None:
    home, ids = stored
    m = metrics(home, ids[rel])
    want = PER_DEAL[rel]
    platform = m["platform"]
    assert platform["convention"] == "mt5 per deal"
    got = platform["reproduced"]
    assert m["net_profit"] == pytest.approx(want["net"], abs=0.005) and m["total_trades"] == want["n"]
    assert got["gross_profit"] == pytest.approx(want["gp"], abs=0.011)
    assert got["gross_loss"] == pytest.approx(want["gl"], abs=0.011)
    assert round(got["profit_factor"], 2) == pytest.approx(want["pf"], abs=1e-9)
    if "wins" in want:
        assert (got["winning_trades"], got["losing_trades"]) == (want["wins"], want["losses"])
    if "per_position_gp" in want:  # the headline figures stay per position
        assert m["gross_profit"] == pytest.approx(want["per_position_gp"], abs=0.005)
        assert m["gross_loss"] == pytest.approx(want["per_position_gl"], abs=0.005)


def test_every_real_file_ingests_and_only_the_anomalous_one_has_anomalies(stored) -> None:
    home, ids = stored
    assert len(ids) == len([p for p in REAL.rglob("*") if p.is_file() and p.name != "MANIFEST.md"])
    m = metrics(home, ids["ctrader_legacy_history_xml/abhacid_martingale_forex_eurusd_m8_history.xml"])
    assert [a["trade_id"] for a in m["anomalies"]] == ["412"]


def test_ctrader_event_log_ends_on_its_last_printed_balance(stored) -> None:
    home, ids = stored
    events = json.loads((REAL / "ctrader_backtest_events_json" / "tweb79_events.json").read_text())
    closes = [e for e in events if e.get("balance") is not None]
    m = metrics(home, ids["ctrader_backtest_events_json/tweb79_events.json"])
    assert m["final_balance"] == pytest.approx(closes[-1]["balance"], abs=0.005)
    assert m["total_trades"] == len(closes)


def test_ctrader_history_sums_its_net_column(stored) -> None:
    import xml.etree.ElementTree as ET

    home, ids = stored
    path = REAL / "ctrader_legacy_history_xml" / "abhacid_martingale_forex_eurusd_m5_history.xml"
    ns = {"ss": "urn:schemas-microsoft-com:office:spreadsheet"}
    rows = ET.parse(path).getroot().findall(".//ss:Table/ss:Row", ns)
    header = [c.findtext("ss:Data", default="", namespaces=ns) for c in rows[0].findall("ss:Cell", ns)]
    col = next(i for i, h in enumerate(header) if h.startswith("Net"))
    total = sum(
        float(r.findall("ss:Cell", ns)[col].findtext("ss:Data", namespaces=ns))
        for r in rows[1:]
        if len(r.findall("ss:Cell", ns)) > col
    )
    m = metrics(home, ids["ctrader_legacy_history_xml/abhacid_martingale_forex_eurusd_m5_history.xml"])
    assert m["net_profit"] == pytest.approx(total, abs=0.005)
    assert m["total_trades"] == len(rows) - 1
