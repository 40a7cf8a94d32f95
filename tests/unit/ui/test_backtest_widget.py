"""BacktestWidget driven from code (no clicking) on a workspace with the packaged EURUSD hourly bars.

The oracles are the workspace's own stored rows (``ws.optimization_results``, ranked in SQL by
run_sweep) and independent runs of :func:`workbench.backtest.run` / :func:`workbench.backtest.sweep`;
the widget must show exactly those.
"""

from __future__ import annotations

import itertools
import json

import holoviews as hv
import lxml.html
import polars as pl
import pytest

from workbench.backtest import get_strategy, run, sweep
from workbench.ui import BacktestWidget
from workbench.workspace import open_workspace

FAST = (5, 20, 5)  # 5, 10, 15, 20
SLOW = (10, 70, 20)  # 10, 30, 50, 70
# the engine settings as typed into the widget's boxes (the CLI flags' syntax)
ENGINE = {"fill": "close", "direction": "both", "commission": "0.0002", "stop_loss": "1%", "cash": 25_000.0}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = open_workspace(tmp_path_factory.mktemp("lake"))
    w.load_samples()
    return w


@pytest.fixture(scope="module")
def widget(ws):
    w = BacktestWidget(ws, data="EURUSD:1h", top=5)
    w.inputs.set_range("fast", *FAST)
    w.inputs.set_range("slow", *SLOW)
    for name, value in ENGINE.items():
        getattr(w.inputs, name).value = value
    w.run_button.click()  # what clicking "Run sweep" does
    assert w.error.value == "", w.error.value
    return w


def stored(ws, oid: int) -> pl.DataFrame:
    rows = ws.optimization_results(oid)
    return pl.DataFrame(
        [
            {
                "trial": r["trial"],
                "rank": r["rank"],
                **json.loads(r["parameters"]),
                **json.loads(r["metrics"]),
            }
            for r in rows.iter_rows(named=True)
        ]
    )


def table_rows(w: BacktestWidget) -> list[dict[str, str]]:
    doc = lxml.html.fromstring(w.table.value)
    header = [th.text_content() for th in doc.xpath("//thead//th")]
    return [
        dict(zip(header, (td.text_content() for td in tr.xpath("td")), strict=True))
        for tr in doc.xpath("//tbody/tr")
    ]


def curve(chart) -> hv.Curve:
    return next(el for el in chart if isinstance(el, hv.Curve))


def test_run_stores_every_combination_and_the_table_is_the_stored_ranking(ws, widget):
    out = widget.outcome
    expected = [(f, s) for f, s in itertools.product(range(5, 21, 5), range(10, 71, 20)) if f < s]
    assert out.combos == len(expected) == widget.results.height
    rows = stored(ws, out.optimization_id)
    assert sorted(zip(rows["fast"], rows["slow"], strict=True)) == sorted(expected)
    # the widget's frame is the stored rows, value for value
    mine = widget.results.sort("trial")
    for col in ("trial", "rank", "fast", "slow", "total_return_pct", "sharpe", "final_equity", "trades"):
        assert mine[col].to_list() == rows.sort("trial")[col].to_list(), col
    # the table: the top 5 in the order of the rank SQL stored (rank_by = total_return_pct)
    shown = table_rows(widget)
    top = rows.sort("rank").head(5)
    assert [int(r["trial"]) for r in shown] == top["trial"].to_list()
    assert [int(r["fast"]) for r in shown] == top["fast"].to_list()
    assert [r["final_equity"] for r in shown] == [f"{v:,.2f}" for v in top["final_equity"]]
    # the engine settings were passed through (stored in the optimisation's meta)
    meta = json.loads(ws.optimizations().filter(id=out.optimization_id)["meta"][0])
    assert {k: meta[k] for k in ENGINE} == ENGINE
    # and every stored metric is what the engine computes for that combination with those settings
    direct = sweep(
        ws.bars("EURUSD:1h"), "sma_cross", {"fast": [5, 10, 15, 20], "slow": [10, 30, 50, 70]}, **ENGINE
    )
    joined = direct.join(rows, on=["fast", "slow"], suffix="_stored")
    assert joined.height == len(expected)
    assert joined["final_equity"].to_list() == pytest.approx(
        joined["final_equity_stored"].to_list(), rel=1e-12
    )


def test_heatmap_holds_the_results_pivot(widget):
    assert (widget.heat_x.value, widget.heat_y.value) == ("fast", "slow")
    data = widget.heatmap.dframe()
    shown = {
        (str(a), str(b)): v
        for a, b, v in zip(data["fast"], data["slow"], data["total_return_pct"], strict=True)
    }
    pivot = widget.results.pivot(on="slow", index="fast", values="total_return_pct")
    expected = {
        (str(f), s): v
        for row in pivot.iter_rows(named=True)
        for f in [row["fast"]]
        for s, v in row.items()
        if s != "fast" and v is not None
    }
    assert shown.keys() == expected.keys()
    assert [shown[k] for k in expected] == pytest.approx([expected[k] for k in expected], rel=1e-12)


def test_equity_of_the_best_then_of_a_chosen_combination(ws, widget):
    best = widget.results.sort("rank").row(0, named=True)
    assert widget.selected == {"fast": best["fast"], "slow": best["slow"]}
    balance = curve(widget.equity_chart).dimension_values("balance")
    assert balance[-1] == pytest.approx(best["final_equity"], rel=1e-12)
    # the drawdown area bottoms at minus the stored max drawdown
    area = next(el for el in widget.equity_chart if isinstance(el, hv.Area))
    assert area.dimension_values("drawdown_pct").min() == pytest.approx(-best["max_drawdown_pct"], rel=1e-9)
    # picking another combination in the dropdown draws its curve: an independent deep run's equity
    other = widget.top_rows().row(2, named=True)
    widget.combination.value = other["trial"]
    direct = run(ws.bars("EURUSD:1h"), "sma_cross", {"fast": other["fast"], "slow": other["slow"]}, **ENGINE)
    balance = curve(widget.equity_chart).dimension_values("balance")
    assert balance.tolist() == pytest.approx(direct.equity["equity"].to_list(), rel=1e-12)
    assert balance[-1] == pytest.approx(other["final_equity"], rel=1e-12)
    # select() with a dict does the same and moves the dropdown
    widget.select({"fast": best["fast"], "slow": best["slow"]})
    assert widget.combination.value == best["trial"]


def test_another_metric_reranks_table_and_heatmap(widget):
    widget.metric.value = "max_drawdown_pct"  # a "min" metric: smallest first
    try:
        r = widget.results
        order = r.sort(["max_drawdown_pct", "trial"]).head(widget.top.value)["trial"].to_list()
        assert [int(row["trial"]) for row in table_rows(widget)] == order
        data = widget.heatmap.dframe()
        assert sorted(data["max_drawdown_pct"]) == pytest.approx(sorted(r["max_drawdown_pct"]), rel=1e-12)
        assert widget.selected == {
            k: r.filter(trial=order[0]).row(0, named=True)[k] for k in ("fast", "slow")
        }
    finally:
        widget.metric.value = "total_return_pct"


def test_bad_range_is_one_line_in_the_error_label(ws):
    w = BacktestWidget(ws, data="EURUSD:1h")
    before = ws.optimizations().height
    w.inputs.set_range("fast", 20, 5, 1)  # stop < start
    assert w.run() is None
    text = lxml.html.fromstring(w.error.value).text_content()
    assert text.startswith("error: ") and "fast=20:5:1" in text and "start <= stop" in text
    assert "\n" not in text and "Traceback" not in text
    assert w.progress.bar_style == "danger"
    assert ws.optimizations().height == before  # nothing stored
    # a combination that breaks the constraint everywhere is reported the same way
    w.inputs.set_range("fast", 50, 60, 10)
    w.inputs.set_range("slow", 10, 20, 10)
    assert w.run() is None and "constraint" in w.error.value


def test_strategy_switch_rebuilds_the_range_rows(ws):
    w = BacktestWidget(ws, strategy="sma_cross")
    w.inputs.strategy.value = "rsi_reversion"
    spec = get_strategy("rsi_reversion")
    assert list(w.inputs.rows) == [p.name for p in spec.params]
    for p in spec.params:
        start, stop, step = (b.value for b in w.inputs.rows[p.name])
        lo, hi = p.range
        assert lo <= start <= p.default <= stop <= hi and step > 0
    start, stop, step = (b.value for b in w.inputs.rows["window"])
    assert w.inputs.grid()["window"] == list(range(start, stop + 1, step))


def test_no_bars_is_an_error_not_a_traceback(tmp_path):
    w = BacktestWidget(open_workspace(tmp_path / "empty"))
    assert w.run() is None
    assert "no bar series stored" in w.error.value


def test_settings_boxes_take_the_flags_syntax_and_the_contract_comes_from_the_series(ws):
    w = BacktestWidget(ws, data="EURUSD:1h", top=3)
    assert w.inputs.contract.placeholder.startswith("pip=0.0001,lot=100000,quote=USD")
    w.inputs.set_range("fast", 10, 20, 10)
    w.inputs.set_range("slow", 50, 50, 1)
    w.inputs.spread.value, w.inputs.size.value, w.inputs.trailing_stop.value = "1pips", "2lots", "2atr"
    assert w.inputs.engine()["stop_loss"] is None and w.inputs.engine()["contract"] is None
    assert w.run() is not None, w.error.value
    # the deep run of the shown combination uses the settings as run, pips and lots resolved
    assert w.backtest is not None and w.backtest.settings["spread"] == "1pips"
    assert set(w.backtest.trades["size"]) == {200_000.0}
    assert "trailing_stop" in set(w.backtest.trades["exit_reason"])
    w.inputs.stop_loss.value = "2 parsecs"
    assert w.run() is None and "error: --stop-loss &#x27;2 parsecs&#x27;" in w.error.value
