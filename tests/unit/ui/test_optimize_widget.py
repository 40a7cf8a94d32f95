"""OptimizeWidget driven from code on the packaged EURUSD hourly bars.

One small Ray Tune search (TPE, two objectives, walk-forward K = 2) started by the widget itself; the
oracles are the stored rows (``ws.optimization_results``), a brute-force non-dominance check and direct
engine runs (:func:`workbench.backtest.sweep`) on each fold's out-of-sample block. The input errors are
checked without Ray.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

import holoviews as hv
import lxml.html
import pytest

from workbench.backtest import sweep
from workbench.ui import OptimizeWidget
from workbench.workspace import open_workspace

GRID = {"fast": (5, 30, 1), "slow": (40, 120, 5)}
MODES = {"sharpe": "max", "max_drawdown_pct": "min"}
TRIALS, FOLDS = 6, 2


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = open_workspace(tmp_path_factory.mktemp("lake").resolve())
    w.load_samples()
    return w


def widget(ws) -> OptimizeWidget:
    w = OptimizeWidget(ws, data="EURUSD:1h")
    for name, (start, stop, step) in GRID.items():
        w.inputs.set_range(name, start, stop, step)
    return w


def _better(v, mode):
    v = -math.inf if v is None else v
    return v if mode == "max" else -v


def _dominates(a, b, modes):
    pairs = [(_better(a[k], m), _better(b[k], m)) for k, m in modes.items()]
    return all(x >= y for x, y in pairs) and any(x > y for x, y in pairs)


def test_bad_inputs_are_one_line_errors_before_any_ray(ws):
    w = widget(ws)
    w.set_objectives(["sharpe:max", "sharpe:min"])
    assert w.run() is None
    assert "given twice" in w.error.value and w.progress.bar_style == "danger"
    w.set_objectives(["sharpe:max"])
    w.inputs.set_range("slow", 120, 40, 5)  # stop < start
    assert w.run() is None
    text = lxml.html.fromstring(w.error.value).text_content()
    assert text.startswith("error: ") and "slow=120:40:5" in text and "\n" not in text
    w.inputs.set_range("slow", 40, 120, 5)
    w.address.value = "http://127.0.0.1:8265"  # a Jobs API address is refused before connecting
    assert w.run() is None and "Jobs API" in w.error.value
    assert ws.optimizations().height == 0


@pytest.mark.slow
@pytest.mark.cluster
@pytest.mark.xdist_group("ray")
def test_search_pareto_folds_progress_and_dashboard(ws, monkeypatch):
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # the widget must start (and end) its own Ray here
        ray.shutdown()
    monkeypatch.delenv("WORKBENCH_RAY_DASHBOARD", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    w = widget(ws)
    w.address.value = ""
    w.set_objectives([f"{m}:{d}" for m, d in MODES.items()])
    w.algo.value, w.trials.value, w.walk_forward.value = "tpe", TRIALS, FOLDS
    seen: list[tuple[int, int]] = []
    w.progress.observe(lambda ch: seen.append((ch["new"], w.progress.max)), names="value")
    try:
        w.run_button.click()  # what clicking "Run search" does
        assert w.error.value == "", w.error.value
        out = w.outcome
        assert ray.is_initialized()  # kept for the next run
    finally:
        w.shutdown()
    assert not ray.is_initialized()

    # progress came from run_optimize's hook: every trial counted up to the total of both folds
    counts = [v for v, _ in seen if v > 0]
    assert counts[-1] == TRIALS * FOLDS == out.trials and len(set(counts)) >= TRIALS
    assert counts == sorted(counts) and w.progress.bar_style == "success"

    # the widget's results are the stored rows
    stored = ws.optimization_results(out.optimization_id)
    assert w.results.height == stored.height == TRIALS * FOLDS
    for mine, row in zip(w.results.iter_rows(named=True), stored.iter_rows(named=True), strict=True):
        assert (mine["trial"], mine["fold"], mine["rank"]) == (row["trial"], row["fold"], row["rank"])
        assert {p: mine[p] for p in ("fast", "slow")} == json.loads(row["parameters"])
        objectives = json.loads(row["objectives"])
        assert {m: mine[m] for m in MODES} == {m: objectives.get(m) for m in MODES}

    # Pareto scatter: the last fold's trials, front = the non-dominated ones (brute force) = out.pareto
    last = stored.filter(fold=FOLDS)
    trials = [(r["trial"], json.loads(r["objectives"]), r["rank"]) for r in last.iter_rows(named=True)]
    valid = [(t, o) for t, o, rank in trials if rank is not None]
    brute = {t for t, o in valid if not any(_dominates(o2, o, MODES) for _, o2 in valid)}
    assert set(w.pareto_frame["trial"]) == {t for t, _, _ in trials}
    assert set(w.pareto_frame.filter("pareto_front")["trial"]) == brute == {p["trial"] for p in out.pareto}
    front = next(el for el in w.pareto_chart if isinstance(el, hv.Scatter) and el.label == "Pareto front")
    assert set(front.dimension_values("trial").tolist()) == brute
    assert (w.pareto_x.value, w.pareto_y.value) == ("max_drawdown_pct", "sharpe")

    # another pair of axes: the front is recomputed over those two metrics
    w.pareto_x.value = "trades"
    rows = w.pareto_frame.drop_nulls(["trades", "sharpe"]).to_dicts()
    modes = {"sharpe": "max", "trades": "max"}
    again = {r["trial"] for r in rows if not any(_dominates(o, r, modes) for o in rows)}
    assert set(w.pareto_frame.filter("pareto_front")["trial"]) == again

    # walk-forward table: spans in time order, the out-of-sample score is the engine's on the test block
    assert w.folds["fold"].to_list() == [1, 2]
    bars = ws.bars("EURUSD:1h")
    html_rows = lxml.html.fromstring(w.folds_table.value).xpath("//tbody/tr")
    assert len(html_rows) == FOLDS
    for f, row in zip(out.folds, w.folds.iter_rows(named=True), strict=True):
        te0, te1 = (datetime.fromisoformat(f["test"][k]) for k in ("start", "end"))
        assert datetime.fromisoformat(f["train"]["end"]) < te0
        test = bars.filter((bars["ts"] >= te0) & (bars["ts"] <= te1))
        oos = sweep(test, "sma_cross", {k: [v] for k, v in f["params"].items()}).row(0, named=True)
        assert row["oos_sharpe"] == pytest.approx(oos["sharpe"], rel=1e-12)
        assert row["oos_max_drawdown_pct"] == pytest.approx(oos["max_drawdown_pct"], rel=1e-12)
        assert row["test_bars"] == test.height
        assert row["params"] == f"fast={f['params']['fast']} slow={f['params']['slow']}"
        # in-sample: the chosen trial is the fold's rank-1 trial best on the first objective
        fold_rows = [
            json.loads(o)
            for o, r in stored.filter(fold=f["fold"]).select("objectives", "rank").rows()
            if r == 1
        ]
        assert row["is_sharpe"] == max(o["sharpe"] for o in fold_rows)

    # the local Ray was started without a dashboard: the link says so and how to get one
    assert w.dashboard is None and "WORKBENCH_RAY_DASHBOARD" in w.dashboard_link.value
