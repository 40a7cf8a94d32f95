"""End to end: ``workbench serve`` → headless Chromium → pick a backtest → its chart updates.

Panel and Bokeh render inside shadow DOM; the page helpers (``__wbAll``) query through it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import real

from workbench.reports.browser import chromium_path

FILES = (
    "mt4_tester_html/ubertrading_macd_sample_usdjpy_m5.htm",
    "mt4_tester_html/qg0_rsi_momentum_eurusd_fr.htm",
    "mt5_tester_html/mihawk2016_MT5EA_moving_average_usdjpy.html",
    "mt5_optimizer_xml/zhijucen_246753_ReportOptimizer.xml",
)
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")
# Titles of every Bokeh plot on the page (read from the live Bokeh documents)
TITLES_JS = "Bokeh.documents.flatMap(d => [...d.all_models].filter(m => m.type === 'Title').map(m => m.text))"
PICKER_JS = "__wbAll('select').find(s => s.options.length >= 3)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_json(home: Path, *args: str) -> dict:
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_serve_binds_loopback_unless_asked(tmp_path: Path) -> None:
    local = cli_json(tmp_path, "serve", "--dry-run")
    cmd = local["command"]
    assert cmd[cmd.index("--address") + 1] == "127.0.0.1"
    assert "*" not in cmd and local["url"] == "http://127.0.0.1:5006/"
    assert local["dashboards"] == ["optimization", "overview", "paper"]
    wide = cli_json(tmp_path, "serve", "--dry-run", "--bind-all", "--port", "5100")
    assert wide["command"][wide["command"].index("--address") + 1] == "0.0.0.0"
    assert wide["command"][wide["command"].index("--port") + 1] == "5100"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import workbench as wb

    home = tmp_path_factory.mktemp("serve") / "lake"
    assert wb.open(home).ingest([real(f) for f in FILES]).rejected == 0
    port = _free_port()
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    log = (home.parent / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/overview", timeout=30) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"workbench serve did not come up: {(home.parent / 'serve.log').read_text()[-2000:]}")
        time.sleep(0.5)
    yield url, home
    proc.terminate()  # workbench serve stops its panel server on SIGTERM
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # the group this test started
        proc.wait(10)
    log.close()


@pytest.mark.slow
@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed")
def test_overview_select_updates_chart(server, tmp_path: Path) -> None:
    import workbench as wb
    from workbench.reports.browser import Chromium

    url, home = server
    names = {int(r["id"]): r["name"] for r in wb.open(home, read_only=True).backtests().iter_rows(named=True)}
    with Chromium() as browser:
        page = browser.page(width=1280, height=1000)
        page.goto(f"{url}/overview", timeout_s=60)
        page.wait_for(f"window.Bokeh && __wbVisible('canvas') > 0 && {PICKER_JS}", timeout_s=90)
        first = page.evaluate(f"{PICKER_JS}.value")
        page.wait_for(f"{TITLES_JS}.includes({json.dumps(first)})", timeout_s=30)
        before = page.screenshot(tmp_path / "overview_before.png")
        options = page.evaluate(f"[...{PICKER_JS}.options].map(o => o.value)")
        assert len(options) == len(names) == 3
        target = next(o for o in options if o != first)
        # pick another backtest the way a person does: the <select> inside Bokeh's shadow DOM
        page.evaluate(
            f"(() => {{ const s = {PICKER_JS}; s.value = {json.dumps(target)}; "
            "s.dispatchEvent(new Event('change')); })()"
        )
        page.wait_for(f"{TITLES_JS}.includes({json.dumps(target)})", timeout_s=60)
        heading = page.wait_for(
            f"__wbAll('h3').map(h => h.textContent).find(t => t.includes({json.dumps(target)}))", timeout_s=30
        )
        time.sleep(1.0)  # let the new canvas paint before the screenshot
        after = page.screenshot(tmp_path / "overview_after.png")
        canvases = page.evaluate("__wbVisible('canvas')")
        external = [u for u in page.requests if not u.startswith(LOCAL)]
    print(f"screenshots: {before} {after}")
    bid = int(target.split("·")[0].strip().lstrip("#"))
    assert target.endswith(names[bid]) and heading.strip() == target
    assert canvases >= 4  # balance, drawdown, monthly heatmap, weekday and hour bars
    assert before.read_bytes() != after.read_bytes()
    assert not external, external


@pytest.mark.slow
@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed")
def test_optimization_dashboard_draws_pareto(server, tmp_path: Path) -> None:
    from workbench.reports.browser import Chromium

    url, _ = server
    with Chromium() as browser:
        page = browser.page(width=1280, height=1000)
        page.goto(f"{url}/optimization", timeout_s=60)
        page.wait_for(f"window.Bokeh && {TITLES_JS}.some(t => t.startsWith('max result'))", timeout_s=90)
        titles = page.evaluate(TITLES_JS)
        folds = page.evaluate("__wbAll('.wb-note').map(n => n.textContent)")
        shot = page.screenshot(tmp_path / "optimization.png", full_page=True)
    print(f"screenshot: {shot}")
    assert "Pareto front" in titles
    assert "no walk-forward folds stored" in folds
