"""Every notebook as a user sees it: JupyterLab on loopback, headless Chromium, the network cut off.

One JupyterLab server (``python -m jupyterlab`` on 127.0.0.1 with a token, its own settings and workspaces
folders, and the Jupyter configuration the hub's user pods get: infra/helm/jupyterhub/values.yaml) serves a
copy of notebooks/ over a workspace prepared as a user prepares it: ``workbench ingest data/samples`` and
``workbench data samples``. Panel/Bokeh resource variables are removed from its environment: the
workbench must make the charts local by itself. For each notebook, in a new tab whose every request off
the machine is failed (tests/e2e/jupyter_ui.py), the test opens it, clicks Run > Run All Cells, waits for
the kernel, saves with Ctrl+S and asserts:

* every code cell ran and the saved notebook holds no error output;
* every Bokeh root in the outputs was drawn by BokehJS (a blank output is what a missing CDN leaves) and
  every plot in them has a drawn canvas (read through Bokeh's shadow DOM), at least as many as the
  notebook makes;
* where the notebook shows widgets, they are live: changing one control as a person does redraws a
  chart or answers (the backtest widget's "Show", the ingest widget's "Backtest", the optimisation
  widget's "Pareto x", the chat's question box, the dashboards' pickers);
* no request left the machine (none blocked, none seen, WebSockets included).

notebooks/reports (rendered by papermill, ``workbench report``) and notebooks/dashboards (served by
``panel serve``, tests/e2e/test_dashboards.py) are opened too: people open them in JupyterLab to adapt
them, and their charts must draw there as well.

Screenshots go to ``$WORKBENCH_TEST_ARTEFACTS/notebooks-browser`` (else the test's temporary folder):
``<notebook>.png`` after the run, scrolled to its first chart, and ``<notebook>-<control>.png`` after the
widget change; ``results.json`` there sums up each notebook (time, plots, titles, requests).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e import jupyter_ui as ju

from workbench.reports.browser import Chromium, chromium_path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.notebook,
    pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed"),
    pytest.mark.xdist_group("jupyterlab-browser"),
]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
SAMPLES = ROOT / "data" / "samples"
NOTEBOOKS = sorted(
    p.relative_to(NOTEBOOK_DIR).as_posix()
    for p in NOTEBOOK_DIR.rglob("*.ipynb")
    if ".ipynb_checkpoints" not in p.parts
)
RUN_TIMEOUT_S = {
    "02_rag_chat.ipynb": 400,
    "04_optimize.ipynb": 600,
    "05_ml.ipynb": 500,
}  # else 300 (most take 10-45 s)
# Bokeh plots (one canvas each) every notebook draws at least
PLOTS = {
    "00_quickstart.ipynb": 2,  # balance over drawdown
    "01_ingest.ipynb": 2,  # the widget's balance over drawdown
    "02_rag_chat.ipynb": 0,
    "03_backtest.ipynb": 6,  # widget heatmap + equity/drawdown, then the same with the functions
    "04_optimize.ipynb": 2,  # the widget's Pareto scatter, the fold's Pareto scatter
    "05_ml.ipynb": 8,  # widget importance, regimes, equity/drawdown; importance, equity/drawdown, regime bars
    "06_infer_codegen.ipynb": 2,  # the widget's real vs inferred entries, the same chart from the functions
    "07_paper_trading.ipynb": 2,  # the live dashboard's equity over drawdown
    "dashboards/optimization.ipynb": 2,  # Pareto scatter, parameter heatmap
    "dashboards/overview.ipynb": 5,  # balance, drawdown, monthly heatmap, weekday and hour bars
    "dashboards/paper.ipynb": 0,  # equity over drawdown once a paper session exists (none in the test's workspace)
    "reports/backtest_report.ipynb": 5,
    "reports/compare_report.ipynb": 4,
    "reports/optimization_report.ipynb": 3,
    "reports/ml_report.ipynb": 0,  # charts only once a model is registered (05_ml registers one)
}
ENV_DROPPED = ("PANEL_INLINE", "BOKEH_RESOURCES", "JUPYTER_CONFIG_PATH", "JUPYTER_PATH")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_hub_module() -> Any:
    spec = importlib.util.spec_from_file_location("run_hub", ROOT / "infra" / "local-hub" / "run_hub.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    home: Path
    log: Path

    def page_url(self, rel: str) -> str:
        """The notebook opened alone in a fresh JupyterLab workspace (no tabs restored)."""
        return f"{self.url}/lab/workspaces/{ju.slug(rel)}/tree/notebooks/{rel}?reset&token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - loopback only
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernel(self, rel: str) -> None:
        """End the notebook's session (its kernel, and the Ray or DuckDB it held)."""
        for session in self.api("/api/sessions"):
            if session.get("path") == f"notebooks/{rel}":
                self.api(f"/api/sessions/{session['id']}", method="DELETE")

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def _cli(home: Path, *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", *args, "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "WORKBENCH_HOME": str(home)},
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("jupyterlab")
    home = base / "lake"
    ingested = _cli(home, "ingest", str(SAMPLES))
    assert ingested["rejected"] == 0 and ingested["ingested"] == 5, ingested
    assert _cli(home, "data", "samples")["series"]
    root = base / "root"
    shutil.copytree(NOTEBOOK_DIR, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    config = _run_hub_module().write_jupyter_config(base / "jupyter-config")
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROPPED}
    env.update(
        {
            "WORKBENCH_HOME": str(home),
            "JUPYTER_CONFIG_PATH": str(config),
            "JUPYTER_CONFIG_DIR": str(base / "user-config"),  # nothing from ~/.jupyter
            "JUPYTERLAB_SETTINGS_DIR": str(base / "lab-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(base / "lab-workspaces"),
            "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
            "OLLAMA_HOST": f"http://127.0.0.1:{_free_port()}",  # nothing listens: the chat answers with facts
        }
    )
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = base / "jupyterlab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = Lab(f"http://127.0.0.1:{port}", token, root, home, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                server.api("/api/status")
                break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer in 120 s:\n{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)  # the server shuts its kernels down
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this fixture started
            proc.wait(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    with Chromium() as b:
        yield b


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    env = os.environ.get("WORKBENCH_TEST_ARTEFACTS")
    folder = Path(env) / "notebooks-browser" if env else tmp_path_factory.mktemp("notebooks-browser")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").unlink(missing_ok=True)
    yield folder / "results.json"
    print(f"\nnotebook screenshots and results.json: {folder}")


def _record(artefacts: Path, rel: str, result: dict[str, Any]) -> None:
    data = json.loads(artefacts.read_text()) if artefacts.exists() else {}
    data[rel] = result
    artefacts.write_text(json.dumps(data, indent=1, default=str) + "\n")


# -- widgets: change one control as a person does, see the notebook redraw ------------------------------


def _change_dropdown(page: ju.GuardedPage, label: str, avoid: tuple[str, ...] = ()) -> str:
    """Pick another option of the ipywidgets Dropdown ``label`` (none of ``avoid``); returns its label."""
    select = ju.widget_select(label)
    options = page.evaluate(f"[...{select}.options].map(o => o.value)")  # the labels (text has nbsp)
    current = page.evaluate(f"{select}.selectedIndex")
    assert options and len(options) > 1, f"dropdown {label!r} offers {options}"
    target = next(i for i, o in enumerate(options) if i != current and o not in avoid)
    ju.select_index(page, select, target)
    return options[target]


def _ingest_widget(page: ju.GuardedPage) -> str:
    picked = _change_dropdown(page, "Backtest")  # the chart's title is the picker's text
    page.wait_for(f"{ju.TITLES_JS}.includes({json.dumps(picked)})", timeout_s=60)
    return f"Backtest -> {picked!r}: the balance/drawdown chart redrew with that title"


def _backtest_widget(page: ju.GuardedPage) -> str:
    picked = _change_dropdown(page, "Show")  # the equity chart's title ends with the option's text
    page.wait_for(f"{ju.TITLES_JS}.some(t => t.endsWith({json.dumps(picked)}))", timeout_s=60)
    return f"Show -> {picked!r}: the equity/drawdown chart redrew for that combination"


def _optimize_widget(page: ju.GuardedPage) -> str:
    y = page.evaluate(f"{ju.widget_select('Pareto y')}.value")
    picked = _change_dropdown(page, "Pareto x", avoid=(y,))  # x = y draws no scatter
    page.wait_for(f"{ju.TITLES_JS}.some(t => t.includes(' vs {picked}'))", timeout_s=60)
    return f"Pareto x -> {picked!r}: the scatter redrew against that metric"


def _chat_widget(page: ju.GuardedPage) -> str:
    box = f"[...{ju.ACTIVE}.querySelectorAll('.widget-text input')].find(i => i.placeholder.includes('weekdays'))"
    chat = f"{box}.closest('.widget-vbox')"
    before = page.evaluate(f"{chat}.innerText")
    page.click(box)
    page.type_text("Which weekdays lose money?")
    page.click(f"[...{chat}.querySelectorAll('button')].find(b => b.textContent.trim() === 'Ask')")
    page.wait_for(f"{chat}.innerText.includes('Losing weekdays')", timeout_s=120)
    assert "Losing weekdays" not in before
    page.click(f"{chat}.querySelector('.widget-vbox button')")  # the first source
    page.wait_for(f"{chat}.innerText.includes('backtest')", timeout_s=30)
    return "typed 'Which weekdays lose money?' + Ask: the answer lists the losing weekdays; a source opened"


def _panel_select(label: str) -> str:
    """JavaScript for the ``<select>`` of the Panel Select widget named ``label`` (inside shadow DOM)."""
    return (
        f"__wbAll('select', {ju.ACTIVE}).find(s => "
        f"s.getRootNode().querySelector('label')?.textContent.trim() === {json.dumps(label)})"
    )


def _change_panel_select(page: ju.GuardedPage, label: str) -> tuple[str, str]:
    """Pick another option of the Panel Select ``label``; returns (old, new) values."""
    select = _panel_select(label)
    options = page.evaluate(f"[...{select}.options].map(o => o.value)")
    current = page.evaluate(f"{select}.value")
    assert options and len(options) > 1, f"select {label!r} offers {options}"
    target = next(o for o in options if o != current)
    ju.select_value(page, select, target)
    return current, target


def _overview_dashboard(page: ju.GuardedPage) -> str:
    # the table writes numbers as the report does: 13.34 %, 9.65, 1,234 (not 13.338801)
    cells = page.evaluate(
        f"Object.fromEntries(['max_drawdown_pct', 'profit_factor', 'net_profit', 'total_trades'].map(f => "
        f"[f, __wbAll('.tabulator-cell[tabulator-field=\"' + f + '\"]', {ju.ACTIVE}).map(c => c.textContent.trim())]))"
    )
    assert cells["max_drawdown_pct"] and cells["net_profit"], cells
    number = r"-?\d{1,3}(,\d{3})*"
    unknown = ("—", "∞")  # a missing or infinite value, written as the report writes it
    assert all(re.fullmatch(number + r"\.\d{2} %", t) or t in unknown for t in cells["max_drawdown_pct"]), (
        cells
    )
    money = cells["net_profit"] + cells["profit_factor"]
    assert all(re.fullmatch(number + r"\.\d{2}", t) or t in unknown for t in money), cells
    assert all(re.fullmatch(number, t) for t in cells["total_trades"]), cells
    headers = page.evaluate(f"__wbAll('.tabulator-col-title', {ju.ACTIVE}).map(c => c.textContent.trim())")
    assert {"Net profit", "Profit factor", "Max drawdown %"} <= set(headers), headers
    _, target = _change_panel_select(page, "Backtest")
    page.wait_for(f"{ju.TITLES_JS}.includes({json.dumps(target)})", timeout_s=60)
    return f"table cells {cells['max_drawdown_pct']} under 'Max drawdown %'; Backtest -> {target!r}: redrawn"


def _optimization_dashboard(page: ju.GuardedPage) -> str:
    before = sorted(set(ju.titles(page)))
    current, target = _change_panel_select(page, "Heatmap x")
    page.wait_for(f"{ju.TITLES_JS}.some(t => !{json.dumps(before)}.includes(t))", timeout_s=60)
    new = sorted(set(ju.titles(page)) - set(before))
    return f"Heatmap x {current!r} -> {target!r}: new chart {new}"


INTERACTIONS: dict[str, tuple[str, Callable[[ju.GuardedPage], str]]] = {
    "01_ingest.ipynb": ("backtest", _ingest_widget),
    "02_rag_chat.ipynb": ("ask", _chat_widget),
    "03_backtest.ipynb": ("show", _backtest_widget),
    "04_optimize.ipynb": ("pareto-x", _optimize_widget),
    "dashboards/overview.ipynb": ("backtest", _overview_dashboard),
    "dashboards/optimization.ipynb": ("axes", _optimization_dashboard),
}


def test_every_notebook_is_covered() -> None:
    assert set(PLOTS) == set(NOTEBOOKS)
    assert set(INTERACTIONS) <= set(NOTEBOOKS)


@pytest.mark.parametrize("rel", NOTEBOOKS)
def test_notebook_in_jupyterlab_offline(lab: Lab, browser: Chromium, artefacts: Path, rel: str) -> None:
    folder = artefacts.parent
    started = time.monotonic()
    page = ju.guarded_page(browser, width=1400, height=1000)
    result: dict[str, Any] = {}
    phases: dict[str, float] = {}

    def lap(name: str) -> None:
        phases[name] = round(time.monotonic() - started - sum(phases.values()), 1)

    try:
        ju.open_notebook(page, lab.page_url(rel))
        lap("open")
        ju.run_all_cells(page)
        prompts = ju.wait_until_run(page, timeout_s=RUN_TIMEOUT_S.get(rel, 300))
        lap("run")
        ju.save(page)
        saved = json.loads((lab.root / "notebooks" / rel).read_text())
        code = [c for c in saved["cells"] if c["cell_type"] == "code"]
        not_run = [i for i, c in enumerate(code) if c.get("execution_count") is None]
        errors = ju.error_outputs(saved)
        roots = ju.wait_for_charts_drawn(page)
        lap("save+charts")
        charts = [r for r in roots if r["plots"]]
        if charts:
            ju.scroll_to_root(page, roots.index(charts[0]))
            page.pause(0.5)
        shots = [page.screenshot(folder / f"{ju.slug(rel)}.png")]
        external_after_run = page.external()
        interaction = INTERACTIONS.get(rel)
        live = None
        if interaction and not errors and not not_run:
            name, change = interaction
            live = change(page)
            page.pause(1.0)
            shots.append(page.screenshot(folder / f"{ju.slug(rel)}-{name}.png"))
            roots_after = ju.wait_for_charts_drawn(page)
            lap("widget")
        else:
            roots_after = roots
        result = {
            "seconds": round(time.monotonic() - started, 1),
            "phases": phases,
            "prompts": prompts,
            "errors": errors,
            "roots": roots_after,
            "plots": sum(r["plots"] for r in roots_after),
            "titles": ju.titles(page),
            "widget": live,
            "screenshots": [str(s) for s in shots],
            "requests": len(page.requests),
            "external": page.external(),
            "external_after_run": external_after_run,
            "blocked": page.blocked,
            "console_errors": [c for c in page.console if c.startswith(("error", "exception"))][:20],
        }
    finally:
        partial = {"failed_after": phases, "external": page.external(), "console": page.console[-20:]}
        _record(artefacts, rel, result or partial)
        lab.shutdown_kernel(rel)
        ju.close_tab(browser, page)

    assert not errors, f"{rel}: error outputs {errors}"
    assert not not_run, f"{rel}: code cells {not_run} did not run (prompts {prompts})"
    blank = ju.blank_roots(roots_after)
    assert not blank, f"{rel}: Bokeh outputs never drawn (no BokehJS?): {blank}"
    undrawn = [r for r in roots_after if r["drawn"] < r["plots"]]
    assert not undrawn, f"{rel}: plots without a drawn canvas: {undrawn}"
    assert result["plots"] >= PLOTS[rel], f"{rel}: {result['plots']} plots drawn, expected {PLOTS[rel]}"
    assert not result["external"] and not result["blocked"], f"{rel}: requests off the machine {result}"
