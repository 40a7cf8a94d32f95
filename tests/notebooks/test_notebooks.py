"""Every notebook under notebooks/ runs top to bottom, and every one is committed without outputs.

Each notebook runs on this environment's ``python3`` kernel (jupyter_client starts it with the
interpreter running pytest), in its own folder, with ``WORKBENCH_HOME`` set to a fresh temporary
workspace and a time limit per cell. The notebooks end in something a user wants to read; the facts
this test checks (``CHECKS``) run in the same kernel as one more cell appended to the executed copy,
which prints ``<notebook name> ok`` when they hold.

No notebook ingests anything on the user's behalf: the ones that read a filled workspace (the RAG chat,
the dashboards, the reports) get a copy of a workspace this test filled first with the repository's
sample exports (data/samples); the others ingest or load what they show themselves.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p for p in NOTEBOOK_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
CELL_TIMEOUT_S = 120
KERNEL = "python3"
SAMPLES = ROOT / "data" / "samples"
# notebooks that read what the user ingested before (they show an empty state on an empty workspace)
READS_WORKSPACE = ("02_rag_chat.ipynb", "dashboards/", "reports/")

# What each notebook must have computed, checked in its own kernel after its last cell.
CHECKS: dict[str, str] = {
    "00_quickstart.ipynb": """
assert report.rejected == 0 and report.ingested + report.duplicates == 5, report.to_dict()
assert backtests.height >= 2 and bid == int(backtests["id"][0])
assert ws.equity(bid).height > 0 and ws.metrics(bid).to_dict()["total_trades"] > 0
""",
    "01_ingest.ipynb": """
assert report.rejected == 0 and report.ingested + report.duplicates == 5, report.to_dict()
assert widget.backtest_picker.value == first and widget.chart is not None
assert 'data-status="rejected"' not in widget.status_table.value
""",
    "02_rag_chat.ipynb": """
assert a.facts and dd.facts and mondays.facts
assert again.embedded == 0
assert "Losing weekdays" in a.answer and a.sources
""",
    "03_backtest.ipynb": """
import json

# the widget stored exactly the rows `sweep` computes, and its table and chart show the stored best
stored = ws.optimization_results(outcome.optimization_id)
rows = pl.DataFrame([{**json.loads(p), **json.loads(m)} for p, m in zip(stored["parameters"], stored["metrics"])])
joined = frame.join(rows, on=["fast", "slow"], suffix="_stored")
assert joined.height == frame.height == w.results.height == outcome.combos
assert (joined["final_equity"] - joined["final_equity_stored"]).abs().max() < 1e-9
assert w.results.sort("trial")["final_equity"].to_list() == rows["final_equity"].to_list()
assert w.selected == outcome.best_params == {"fast": best["fast"], "slow": best["slow"]}
assert abs(w.backtest.equity["equity"][-1] - outcome.best_metrics["final_equity"]) < 1e-9
# the summary line printed above the widget, not the outcome's repr
assert f"{outcome.combos:,} combinations" in w.summary() and "SweepOutcome(" not in w.summary()
# backtesting.py with its own order size: trade for trade
assert ours["trades"] == stats["# Trades"] and abs(ours["final_equity"] - stats["Equity Final [$]"]) < 1e-6
""",
    "04_optimize.ipynb": """
import json

# the widget shows the stored rows; the highlighted front is the stored rank-1 set (= outcome.pareto);
# the walk-forward folds are time-ordered
stored = ws.optimization_results(outcome.optimization_id)
assert w.results.height == stored.height == outcome.trials == 8
for mine, row in zip(w.results.iter_rows(named=True), stored.iter_rows(named=True)):
    assert mine["trial"] == row["trial"] and mine["rank"] == row["rank"]
    assert {"fast": mine["fast"], "slow": mine["slow"]} == json.loads(row["parameters"])
    assert {m: mine[m] for m in ("sharpe", "max_drawdown_pct")} == json.loads(row["objectives"])
shown = set(w.pareto_frame.filter("pareto_front")["trial"])
assert shown == {p["trial"] for p in outcome.pareto} == set(stored.filter(rank=1)["trial"])
assert [f["fold"] for f in wf.folds] == [1, 2] and wf.folds[0]["test"]["end"] < wf.folds[1]["test"]["start"]
assert ws.optimization_results(wf.optimization_id).group_by("fold").len().sort("fold").rows() == [(1, 4), (2, 4)]
import ray

assert not ray.is_initialized()  # the notebook's last cell stopped the Ray the widget started
""",
    "05_ml.ipynb": """
# the widget trained with purged CV; its table shows every fold, the mean, naive k-fold and chance
assert result is not None and w.result is result and result.cv.scheme == "purged"
assert w.cv_frame.height == result.cv.folds + 3 and w.regime_chart is not None and w.equity_chart is not None
# leakage: on overlapping labels naive shuffled k-fold scores better (lower log loss) than purged CV
assert naive["log_loss"] < purged["log_loss"] and set(leak["scheme"]) == {"naive", "purged", "cpcv", "walk_forward"}
# the noise is stated with numbers: no out-of-sample edge worth the name on hourly EURUSD
assert noise["purged_auc"] < 0.6 and abs(noise["corr_proba_return"]) < 0.2
assert noise["walk_forward_hit_rate"] < noise["majority_rate"] + 0.05
# regimes stored per bar, and the stored signal backtest broken down by them
assert ws.store.scalar("SELECT count(*) FROM regimes WHERE symbol = 'EURUSD'") == bars.height
assert by["trades"].sum() == ws.trades(signal_id).height == sig.metrics["trades"]
# registry: the same predictions back, a promotion decided by the gate and recorded with its reasons
assert same and loaded.version == reg.version and len(promotion.reasons) == 3
assert promotion.promoted == registry.Gate().check(registry.Evidence.of(result, sig.overfit))[0]
assert registry.promotions(reg.name, ws).height == 1
""",
    "06_infer_codegen.ipynb": """
# the bot's rules found from its trades alone (same strategy and parameters, entry F1 measured >= 0.95)
assert result.strategy == "rsi_reversion" and result.params == truth, (result.strategy, result.params)
assert result.agreement.entry_f1 >= 0.95 and result.settings["stop_loss"].endswith("atr")
assert again.to_dict()["agreement"] == result.to_dict()["agreement"] and again.backtest_id is None
assert sum(again.exits["counts"].values()) == ws.trades(bot_id).height == exits.height
# the stored replay is what the widget generated from, and the cBot compiles where mcs is installed
import shutil

assert ws.backtest(result.backtest_id).info["parameters"] == result.params
assert code is not None and w.source and bot.compiled is (True if shutil.which("mcs") else None)
assert refusal.startswith("trades:bars: none of its") and "GOOG:1d" in refusal
""",
    "07_paper_trading.ipynb": """
# the replay with non-binding risk limits is the backtest, trade for trade, and says so in its live diff
assert same and paper_trades.height == backtest.trades.height > 50
assert w.result["final_equity"] == backtest.metrics["final_equity"] and w.result["live_diff"]["identical"]
# the kill switch tripped on the drawdown, flattened, rejected every later entry, all audited
assert halted.risk.switch.state == "HALTED" and audit.height == 1 and audit["to_state"][0] == "HALTED"
assert rejected_rules == {"kill_switch"} and out["trades"][-1]["exit_reason"] == "kill_switch"
# the dashboard followed the live session as its bars arrived
assert dashboard.error is None and seen == sorted(seen) and seen[-1] == 1000 and len(set(seen)) >= 2
assert resumed_same and again.bars_processed == ws.bars("GOOG:1d").height
assert learner.policy.learned == goog.height and len(learned["trades"]) > 0
""",
    "dashboards/paper.ipynb": """
# the test's workspace holds no paper session: the dashboard says how to start one
assert dashboard.error is None and dashboard.empty and "workbench paper run" in dashboard.empty
""",
    "reports/ml_report.ipynb": """
# the test's workspace holds no registered model: the report says how to train one (the rendered report
# of a real model: tests/integration/test_ml_cli.py)
assert m is None and listed.height == 0
""",
    "dashboards/overview.ipynb": """
assert dashboard.error is None and ids
dashboard.select(ids[-1])  # what picking a backtest does; then back to the first
assert dashboard.selected == ids[-1]
dashboard.select(ids[0])
assert dashboard.selected == ids[0]
""",
    "dashboards/optimization.ipynb": """
assert dashboard.error is None and ids and dashboard.selected == ids[0]
""",
}


def _id(path: Path) -> str:
    return path.relative_to(NOTEBOOK_DIR).as_posix()


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def _checks(path: Path) -> nbformat.NotebookNode:
    """The cell appended to the executed copy: the notebook's CHECKS, then ``<name> ok``."""
    return nbformat.v4.new_code_cell(CHECKS.get(_id(path), "").strip() + f'\nprint("{path.stem} ok")\n')


def _stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")


def test_notebooks_are_found():
    assert NOTEBOOKS, f"no notebooks under {NOTEBOOK_DIR}"


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding the sample exports: 2 backtests, 2 parameter sets, 1 optimisation."""
    import workbench as wb

    home = tmp_path_factory.mktemp("notebooks") / "lake"
    report = wb.open(home).ingest([SAMPLES])
    assert report.ingested == 5 and report.rejected == 0, report.to_dict()
    return home


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_notebook_runs(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    home = tmp_path / "lake"
    if _id(path).startswith(READS_WORKSPACE):
        shutil.copytree(request.getfixturevalue("filled"), home)
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(_checks(path))
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT_S,
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},  # the kernel runs in the notebook's folder
    )
    try:
        client.execute()
    except CellExecutionError as e:
        pytest.fail(f"{_id(path)}: a cell failed:\n{e}")

    errors = [
        f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
        for i, cell in enumerate(_code_cells(nb))
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors, f"{_id(path)} has error outputs: {errors}"
    cells = _code_cells(nb)
    assert cells, f"{_id(path)} has no code cell"
    assert f"{path.stem} ok" in _stdout(cells[-1]), (
        f"{_id(path)}: the checks cell should print {path.stem + ' ok'!r}, printed {_stdout(cells[-1])!r}"
    )


def test_every_notebook_with_checks_exists() -> None:
    assert set(CHECKS) <= {_id(p) for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_notebook_ends_in_content_not_checks(path: Path) -> None:
    """What a user reads: no test marker, and no block of assertions at the end."""
    cells = _code_cells(nbformat.read(path, as_version=4))
    assert not any(f"{path.stem} ok" in c.source for c in cells), f"{_id(path)} prints the test marker"
    last = [line for line in cells[-1].source.splitlines() if line.strip().startswith("assert ")]
    assert not last, f"{_id(path)}: the last code cell asserts {last}; checks belong in {Path(__file__).name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_notebook_is_committed_clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(_code_cells(nb))
        if cell.get("outputs") or cell.get("execution_count") is not None
    ]
    assert not dirty, (
        f"{_id(path)}: code cells {dirty} have outputs or execution counts; "
        "clear them before committing (jupyter nbconvert --clear-output --inplace)"
    )
    assert "widgets" not in nb.metadata, f"{_id(path)}: saved widget state in the metadata; clear it"
