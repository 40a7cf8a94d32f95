"""Widgets and dashboards name and write figures as the HTML report does (workbench/ui/formatting.py)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from workbench.reports.static import fmt
from workbench.ui.formatting import (
    metric_label,
    metric_labels,
    table_frame,
    tabulator_formatters,
    tabulator_titles,
)

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples"


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("avg_trade_duration_seconds", "Avg trade duration"),  # its value is written as 2:48:40
        ("max_drawdown_pct", "Max drawdown %"),
        ("profit_factor", "Profit factor"),
        ("net_profit", "Net profit"),
        ("TakeProfit", "TakeProfit"),  # a parameter's own name stays as it is
    ],
)
def test_labels_follow_the_report(key: str, label: str) -> None:
    assert metric_label(key) == label
    assert fmt(10120.0, "avg_trade_duration_seconds") == "2:48:40"


def test_tabulator_writes_numbers_like_the_report() -> None:
    frame = pl.DataFrame(
        {
            "id": [3],
            "name": ["x"],
            "total_trades": [1234],
            "net_profit": [-6960.0712],
            "profit_factor": [9.653721],
            "max_drawdown_pct": [13.338801],
        }
    )
    f = tabulator_formatters(frame)
    assert set(f) == {"total_trades", "net_profit", "profit_factor", "max_drawdown_pct"}  # id, name: as is
    assert (
        f["net_profit"]
        == f["profit_factor"]
        == {
            "type": "money",
            "thousand": ",",
            "decimal": ".",
            "precision": 2,
        }
    )  # fmt: -6,960.07 and 9.65
    assert f["total_trades"]["precision"] == 0  # 1,234
    assert f["max_drawdown_pct"]["symbol"] == " %" and f["max_drawdown_pct"]["symbolAfter"]  # 13.34 %
    assert tabulator_titles(frame.columns, {"id": "#"}) == {
        "id": "#",
        "name": "Name",
        "total_trades": "Total trades",
        "net_profit": "Net profit",
        "profit_factor": "Profit factor",
        "max_drawdown_pct": "Max drawdown %",
    }


def test_overview_dashboard_table_and_metrics(tmp_path: Path) -> None:
    from workbench.ui.dashboards import OverviewDashboard
    from workbench.workspace import open_workspace

    home = tmp_path / "lake"
    assert open_workspace(home).ingest([SAMPLES]).rejected == 0
    d = OverviewDashboard.open(home)
    assert d.table.formatters["max_drawdown_pct"]["symbol"] == " %"
    assert d.table.formatters["profit_factor"]["precision"] == 2
    assert d.table.titles["max_drawdown_pct"] == "Max drawdown %" and d.table.titles["id"] == "#"
    html = d.metrics.object
    assert "<th>Avg trade duration</th>" in html and "duration seconds" not in html
    assert metric_labels(["win_rate"]) == {"win_rate": "Win rate"}


def test_table_frame_writes_missing_and_infinite_as_the_report() -> None:
    frame = pl.DataFrame({"id": [1, 2, 3], "profit_factor": [1.5, float("inf"), None]})
    shown = table_frame(frame)
    assert shown["profit_factor"].tolist() == [1.5, "∞", "—"]
    assert [fmt(v) for v in (float("inf"), None)] == ["∞", "—"]
    assert table_frame(pl.DataFrame({"x": [1.0, 2.0]}))["x"].dtype.kind == "f"  # numbers stay numbers


def test_report_tables_name_durations_without_the_unit_their_value_lost() -> None:
    from workbench.reports.static import mapping_table

    html = mapping_table({"avg_trade_duration_seconds": 10120.0, "max_drawdown_pct": 13.3388}).text
    assert "<th>Avg trade duration</th>" in html and "duration seconds" not in html
    assert "2:48:40" in html and "13.34 %" in html and "<th>Max drawdown %</th>" in html
