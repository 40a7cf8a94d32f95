"""IngestWidget driven from code (no clicking) on a temporary workspace with real MT4 exports.

The oracle is the French MT4 Strategy Tester report reuniware_jcspatterns_gbpjpy_fr.htm itself:
"Dépot initial 10000.00", "Profit total net -6960.07", "Total des Trades 14", and its "Solde"
(balance) column, which peaks at 11662.97 (deal 27) and ends at 3039.93 (deal 28, "close at stop").
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import holoviews as hv
import lxml.html
import pytest

import workbench as wb
from workbench.errors import DataError, MissingDependencyError
from workbench.ui import IngestWidget

try:
    from conftest import real
except ImportError:  # pragma: no cover - run outside the tests/ rootdir
    _REAL = (Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "real").resolve()

    def real(rel: str) -> Path:
        return _REAL / rel


JCS = "mt4_tester_html/reuniware_jcspatterns_gbpjpy_fr.htm"
QG0 = "mt4_tester_html/qg0_rsi_momentum_eurusd_fr.htm"

# Figures printed in reuniware_jcspatterns_gbpjpy_fr.htm.
JCS_INITIAL = 10000.00  # "Dépot initial 10000.00"
JCS_NET = -6960.07  # "Profit total net -6960.07"
JCS_TRADES = 14  # "Total des Trades 14"
JCS_PEAK = 11662.97  # "Solde" after deal 27 (the 13th winning t/p), the highest balance
JCS_FINAL = 3039.93  # "Solde" after deal 28, the last row


@pytest.fixture
def ws(home):
    return wb.open(home)


@pytest.fixture
def broken(tmp_path) -> Path:
    """The JCS report cut in half: a truncated export that must be rejected with a one-line error."""
    data = real(JCS).read_bytes()
    path = tmp_path / "broken_jcs.htm"
    path.write_bytes(data[: len(data) // 2])
    return path


def status_rows(widget: IngestWidget) -> list[dict[str, str]]:
    doc = lxml.html.fromstring(widget.status_table.value)
    header = [th.text_content() for th in doc.xpath("//thead//th")]
    return [
        dict(zip(header, (td.text_content() for td in tr.xpath("td")), strict=True))
        | {"_colour": tr.xpath("td//b/@style")[0]}
        for tr in doc.xpath("//tbody/tr")
    ]


def metric_cells(widget: IngestWidget) -> dict[str, str]:
    doc = lxml.html.fromstring(widget.metrics_table.value)
    return {td.get("data-key"): td.text_content() for td in doc.xpath("//td[@data-key]")}


def test_ingest_paths_shows_ingested_and_rejected_files(ws, broken):
    w = IngestWidget(ws)
    assert w.backtest_picker.options == ()  # empty workspace
    report = w.ingest_paths([real(JCS), broken])

    assert [f.status for f in report.files] == ["ingested", "rejected"]
    rows = status_rows(w)
    assert [r["path"] for r in rows] == [str(real(JCS)), str(broken)]
    assert [r["status"] for r in rows] == ["ingested", "rejected"]
    assert rows[0]["format"] == "mt4_tester_html"
    assert rows[0]["rows"] == str(JCS_TRADES)
    assert rows[0]["error"] == ""
    assert rows[1]["rows"] == "0"
    # the rejected row carries the ingest error text verbatim (file name and what is wrong)
    assert rows[1]["error"] == report.files[1].error
    assert "broken_jcs.htm" in rows[1]["error"] and "truncated" in rows[1]["error"]
    assert rows[0]["_colour"] != rows[1]["_colour"]


def test_dropdown_lists_the_backtest_and_select_fills_metrics(ws, broken):
    w = IngestWidget(ws)
    report = w.ingest_paths([real(JCS), broken])
    bid = report.files[0].backtest_id

    assert [v for _, v in w.backtest_picker.options] == [bid]
    label = w.backtest_picker.options[0][0]
    assert "JCSPatterns" in label and "GBPJPY" in label
    assert w.backtest_picker.value == bid  # the freshly ingested backtest is shown

    w.select(bid)
    cells = metric_cells(w)
    net = ws.metrics(bid).net_profit
    assert net == pytest.approx(JCS_NET, abs=0.005)
    assert cells["net_profit"] == f"{net:,.2f}" == "-6,960.07"
    assert cells["total_trades"] == str(JCS_TRADES)
    assert cells["initial_balance"] == "10,000.00"


def test_chart_is_equity_curve_over_drawdown_area(ws):
    w = IngestWidget(ws)
    bid = w.ingest_paths([real(JCS)]).files[0].backtest_id
    w.select(bid)
    chart = w.chart

    assert isinstance(chart, hv.Layout)
    layers = list(chart)
    assert [type(x) for x in layers] == [hv.Curve, hv.Area]
    curve, area = layers
    # one shared x dimension, so bokeh links the two x axes
    assert curve.kdims[0].name == area.kdims[0].name == "time"
    assert curve.vdims[0].name == "balance"

    balance = curve.dimension_values("balance")
    assert len(balance) == JCS_TRADES + 1  # the start point, then one point per closed trade
    assert balance[0] == pytest.approx(JCS_INITIAL)
    assert balance.max() == pytest.approx(JCS_PEAK)
    assert balance[-1] == pytest.approx(JCS_FINAL)

    # underwater area: 0 until the last trade, then (peak - final) / peak below zero
    underwater = area.dimension_values(1)
    assert underwater.max() == pytest.approx(0.0)
    assert underwater.min() == pytest.approx(-100 * (JCS_PEAK - JCS_FINAL) / JCS_PEAK)


def test_path_box_and_button(ws, broken):
    w = IngestWidget(ws)
    w.path.value = f"{real(JCS)} ; {broken}"
    w.ingest_button.click()
    assert [r["status"] for r in status_rows(w)] == ["ingested", "rejected"]
    # clicking again stores nothing new: the same bytes are a duplicate
    w.ingest_button.click()
    assert [r["status"] for r in status_rows(w)] == ["duplicate", "rejected"]
    assert len(w.backtest_picker.options) == 1


def test_upload_ingests_under_the_original_name(ws, broken):
    w = IngestWidget(ws)
    files = [real(JCS), real(QG0), broken]
    w.upload.value = tuple(
        {
            "name": p.name,
            "type": "text/html",
            "size": p.stat().st_size,
            "content": memoryview(p.read_bytes()),
            "last_modified": datetime(2024, 1, 1),
        }
        for p in files
    )
    rows = status_rows(w)
    assert [r["path"] for r in rows] == [p.name for p in files]
    assert [r["status"] for r in rows] == ["ingested", "ingested", "rejected"]
    assert "broken_jcs.htm" in rows[2]["error"]
    assert w.upload.value == ()  # reset for the next upload
    assert len(w.backtest_picker.options) == 2
    assert w.backtest_picker.value == w.report.files[0].backtest_id


def test_existing_backtests_are_listed_on_open(ws):
    bid = ws.ingest([real(JCS)]).files[0].backtest_id
    w = IngestWidget(ws)
    assert [v for _, v in w.backtest_picker.options] == [bid]
    assert metric_cells(w)["net_profit"] == "-6,960.07"
    assert isinstance(w.chart, hv.Layout)


def test_select_unknown_id_is_a_data_error(ws):
    w = IngestWidget(ws)
    with pytest.raises(DataError, match="no backtest with id 99"):
        w.select(99)


def test_missing_hvplot_names_the_extra(ws, monkeypatch):
    w = IngestWidget(ws)
    bid = w.ingest_paths([real(JCS)]).files[0].backtest_id
    monkeypatch.setitem(sys.modules, "hvplot.polars", None)  # makes `import hvplot.polars` fail
    with pytest.raises(MissingDependencyError, match=r"hvplot.*workbench\[notebook\]"):
        w.select(bid)
    # the metrics table is still filled: only the chart needs hvplot
    assert metric_cells(w)["net_profit"] == "-6,960.07"


def test_view_is_the_top_level_widget(ws):
    import ipywidgets

    w = IngestWidget(ws)
    assert isinstance(w.view, ipywidgets.VBox)
    children = {id(c) for c in w.view.children} | {id(c) for c in w.view.children[0].children}
    for part in (w.upload, w.path, w.ingest_button, w.status_table, w.backtest_picker, w.metrics_table):
        assert id(part) in children
    assert id(w.chart_output) in children
