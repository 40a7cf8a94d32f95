"""A real JupyterHub on 127.0.0.1 (infra/local-hub/run_hub.py) runs the quickstart on the workbench kernel.

The hub process, its configurable-http-proxy and the user's server are real processes; the test drives
them through the hub's REST API (with a service token), the login form, the user server's kernel API
over a websocket, and headless Chromium (log in, open the quickstart in the user's JupyterLab, Run All
Cells, with every request off the machine blocked: its charts must draw from the installed packages),
and stops them by PID at the end.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import jupyterhub
import nbformat
import pytest
import requests
from e2e import jupyter_ui as ju
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from workbench.reports.browser import Chromium, chromium_path

pytestmark = [pytest.mark.slow, pytest.mark.notebook, pytest.mark.xdist_group("local-hub")]

ROOT = Path(__file__).resolve().parents[2]
RUN_HUB = ROOT / "infra" / "local-hub" / "run_hub.py"
QUICKSTART = ROOT / "notebooks" / "00_quickstart.ipynb"
USER = "alice"
SECRETS = {
    "WORKBENCH_HUB_USER_PASSWORD": "team-" + uuid.uuid4().hex[:12],
    "WORKBENCH_HUB_ADMIN_PASSWORD": "admin-" + uuid.uuid4().hex,
    "WORKBENCH_HUB_SERVICE_TOKEN": uuid.uuid4().hex + uuid.uuid4().hex,
    "CONFIGPROXY_AUTH_TOKEN": uuid.uuid4().hex,
}


def _run_hub_module():
    spec = importlib.util.spec_from_file_location("run_hub", RUN_HUB)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    return not _alive(pid)


@dataclass
class Hub:
    url: str
    token: str
    process: subprocess.Popen
    state: Path
    log: Path
    pids: dict[str, int] = field(default_factory=dict)

    def api(self, method: str, path: str, **kw) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kw)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    try:
        _run_hub_module().find_proxy()
    except SystemExit as e:  # absent tool: fail naming the install command, never skip
        pytest.fail(str(e))
    state = tmp_path_factory.mktemp("local-hub")
    log = state.parent / "local-hub.log"
    port = _free_port()
    env = {**os.environ, **SECRETS}  # the quickstart ingests the repository's data/samples, nothing else
    env.pop("WORKBENCH_HOME", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(RUN_HUB), "--port", str(port), "--state-dir", str(state)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    h = Hub(f"http://127.0.0.1:{port}", SECRETS["WORKBENCH_HUB_SERVICE_TOKEN"], process, state, log)
    h.pids["hub"] = process.pid
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"the hub exited with {process.returncode}:\n{h.log_tail()}")
            try:
                if requests.get(f"{h.url}/hub/api/", timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the hub did not answer within 120 s:\n{h.log_tail()}")
            time.sleep(0.5)
        h.pids["proxy"] = int((state / "proxy.pid").read_text().strip())
        yield h
    finally:  # whatever happened: nothing we started survives the module
        for name in ("server", "hub", "proxy"):
            pid = h.pids.get(name)
            if pid and _alive(pid):
                os.kill(pid, signal.SIGTERM)
                if not _wait_gone(pid, 20):
                    os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _login(hub: Hub, username: str, password: str) -> requests.Response:
    s = requests.Session()
    s.get(f"{hub.url}/hub/login", timeout=30)
    return s.post(
        f"{hub.url}/hub/login",
        data={"username": username, "password": password, "_xsrf": s.cookies.get("_xsrf", "")},
        allow_redirects=False,
        timeout=30,
    )


def test_hub_is_the_pinned_jupyterhub_behind_the_proxy(hub: Hub) -> None:
    version = requests.get(f"{hub.url}/hub/api/", timeout=30).json()["version"]
    assert version == jupyterhub.__version__ == "5.5.0"  # = appVersion of z2jh chart 4.4.0
    assert _alive(hub.pids["proxy"]) and hub.pids["proxy"] != hub.pids["hub"]
    routes = requests.get(  # CHP's own REST API shows the hub's route: the proxy is real
        f"http://127.0.0.1:{_proxy_api_port(hub)}/api/routes",
        headers={"Authorization": f"token {SECRETS['CONFIGPROXY_AUTH_TOKEN']}"},
        timeout=30,
    ).json()
    assert "/" in routes


def _proxy_api_port(hub: Hub) -> int:
    cmdline = Path(f"/proc/{hub.pids['proxy']}/cmdline").read_bytes().split(b"\0")
    return int(cmdline[cmdline.index(b"--api-port") + 1])


def test_shared_password_authenticator_from_the_k3s_values(hub: Hub) -> None:
    assert hub.api("POST", f"/hub/api/users/{USER}").status_code in (201, 409)
    assert _login(hub, USER, SECRETS["WORKBENCH_HUB_USER_PASSWORD"]).status_code == 302
    assert _login(hub, USER, "not-the-password").status_code != 302
    # Not added by an admin: the shared password alone creates no account (allow_existing_users).
    assert _login(hub, "mallory", SECRETS["WORKBENCH_HUB_USER_PASSWORD"]).status_code != 302
    # The admin listed in hub.config logs in with the admin password only.
    assert _login(hub, "hubadmin", SECRETS["WORKBENCH_HUB_USER_PASSWORD"]).status_code != 302
    assert _login(hub, "hubadmin", SECRETS["WORKBENCH_HUB_ADMIN_PASSWORD"]).status_code == 302
    assert hub.api("GET", "/hub/api/users/hubadmin").json()["admin"] is True
    assert hub.api("GET", f"/hub/api/users/{USER}").json()["admin"] is False


def _message(msg_type: str, content: dict, session: str) -> dict:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": USER,
            "session": session,
            "date": datetime.now(UTC).isoformat(),
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "channel": "shell",
        "buffers": [],
    }


async def _execute_cells(ws_url: str, token: str, sources: list[str], timeout: float) -> list[dict]:
    """Run each source on the kernel; per cell: the execute_reply status and the iopub outputs."""
    conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
    session = uuid.uuid4().hex
    results = []
    try:
        for source in sources:
            request = _message("execute_request", {"code": source, "silent": False, "store_history": True,
                                                   "user_expressions": {}, "allow_stdin": False,
                                                   "stop_on_error": True}, session)  # fmt: skip
            await conn.write_message(json.dumps(request))
            msg_id = request["header"]["msg_id"]
            result: dict = {"source": source, "status": None, "outputs": []}
            idle = False
            while result["status"] is None or not idle:
                raw = await asyncio.wait_for(conn.read_message(), timeout)
                if raw is None:
                    raise ConnectionError("kernel websocket closed")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["header"]["msg_type"]
                if msg["channel"] == "shell" and kind == "execute_reply":
                    result["status"] = msg["content"]["status"]
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
                elif kind in ("stream", "execute_result", "display_data", "error"):
                    result["outputs"].append({"output_type": kind, **msg["content"]})
            results.append(result)
    finally:
        conn.close()
    return results


def _user_server(hub: Hub) -> dict:
    """The user's server, started through the hub's REST API unless it runs already; its hub record."""
    assert hub.api("POST", f"/hub/api/users/{USER}").status_code in (201, 409)
    server = hub.api("GET", f"/hub/api/users/{USER}").json()["servers"].get("", {})
    if not server:
        r = hub.api("POST", f"/hub/api/users/{USER}/server")
        assert r.status_code in (201, 202), r.text
    deadline = time.monotonic() + 180
    while True:
        server = hub.api("GET", f"/hub/api/users/{USER}").json()["servers"].get("", {})
        if server.get("ready"):
            break
        assert time.monotonic() < deadline, f"server not ready in 180 s:\n{hub.log_tail()}"
        time.sleep(1)
    hub.pids["server"] = server["state"]["pid"]  # LocalProcessSpawner's state
    assert _alive(hub.pids["server"])
    return server


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    env = os.environ.get("WORKBENCH_TEST_ARTEFACTS")
    folder = Path(env) / "local-hub" if env else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed")
def test_quickstart_in_jupyterlab_through_the_hub_offline(hub: Hub, artefacts: Path) -> None:
    """Log in on the hub's form, open the quickstart on the Trading Workbench kernel in the user's
    JupyterLab, Run All Cells: no error, its chart drawn, no announcement asked for, and not one request
    off the machine (every one is failed by the page's interception)."""
    _user_server(hub)
    nb = nbformat.read(QUICKSTART, as_version=4)
    nb.metadata["kernelspec"] = {
        "name": "trading-workbench",
        "display_name": "Trading Workbench",
        "language": "python",
    }
    contents = f"/user/{USER}/api/contents/00_quickstart.ipynb"
    put = hub.api("PUT", contents, json={"type": "notebook", "format": "json", "content": nb})
    assert put.status_code in (200, 201), put.text

    with Chromium() as browser:
        page = ju.guarded_page(browser, width=1400, height=1000)
        page.goto(f"{hub.url}/hub/login", timeout_s=60)
        page.click("document.getElementById('username_input')")
        page.type_text(USER)
        page.click("document.getElementById('password_input')")
        page.type_text(SECRETS["WORKBENCH_HUB_USER_PASSWORD"])
        page.click("document.getElementById('login_submit')")
        page.wait_for("!location.pathname.endsWith('/hub/login')", timeout_s=60)
        ju.open_notebook(
            page, f"{hub.url}/user/{USER}/lab/workspaces/hub-test/tree/00_quickstart.ipynb?reset"
        )
        kernel = page.evaluate(f"{ju.ACTIVE}.querySelector('.jp-Toolbar-kernelName').textContent.trim()")
        page_config = page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent)")
        ju.run_all_cells(page)
        prompts = ju.wait_until_run(page, timeout_s=300)
        ju.save(page)
        roots = ju.wait_for_charts_drawn(page)
        charts = [r for r in roots if r["plots"]]
        if charts:
            ju.scroll_to_root(page, roots.index(charts[0]))
            page.pause(0.5)
        shot = page.screenshot(artefacts / "00_quickstart-hub.png")
        asked_news = page.evaluate(
            "[...document.querySelectorAll('.jp-toast-message, .Toastify__toast')].map(t => t.textContent)"
        )
        external, blocked = page.external(), list(page.blocked)
        requests_seen = len(page.requests)
        ju.close_tab(browser, page)
    print(f"screenshot: {shot} ({requests_seen} requests, all on loopback)")

    saved = hub.api("GET", contents).json()["content"]
    assert kernel == "Trading Workbench", kernel
    assert not ju.error_outputs(saved)
    code = [c for c in saved["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), prompts
    assert not ju.blank_roots(roots), roots
    assert sum(r["plots"] for r in charts) >= 2 and all(r["drawn"] == r["plots"] for r in charts), roots
    assert not external and not blocked, (external, blocked)
    # the user pods' Jupyter configuration (Helm values, singleuser.extraFiles): no news, no prompt
    assert page_config["news"] == {"disabled": True}
    assert "@jupyterlab/apputils-extension:announcements" in page_config["disabledExtensions"]
    assert not any("news" in t for t in asked_news), asked_news


def test_quickstart_runs_on_the_workbench_kernel_then_everything_stops_by_pid(hub: Hub) -> None:
    _user_server(hub)

    base = f"/user/{USER}/api"
    specs = hub.api("GET", f"{base}/kernelspecs").json()["kernelspecs"]
    assert specs["trading-workbench"]["spec"]["display_name"] == "Trading Workbench"
    assert specs["trading-workbench"]["spec"]["argv"][0] == sys.executable
    kernel = hub.api("POST", f"{base}/kernels", json={"name": "trading-workbench"}).json()
    assert kernel["name"] == "trading-workbench"

    nb = nbformat.read(QUICKSTART, as_version=4)
    sources = [c.source for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    probe = "import os, sys\nprint(sys.executable)\nprint(os.environ['WORKBENCH_HOME'])\nprint(report.rejected, backtests.height)"
    ws_url = f"{hub.url.replace('http', 'ws', 1)}{base}/kernels/{kernel['id']}/channels"
    results = asyncio.run(_execute_cells(ws_url, hub.token, [*sources, probe], timeout=300))

    failed = [(r["source"][:80], r["outputs"]) for r in results if r["status"] != "ok"]
    assert not failed, failed
    errors = [o for r in results for o in r["outputs"] if o["output_type"] == "error"]
    assert not errors, errors
    executable, home, rejected, stored = "".join(o.get("text", "") for o in results[-1]["outputs"]).split()
    assert rejected == "0" and int(stored) >= 2  # the quickstart's ingest (CHECKS in tests/notebooks)
    assert executable == sys.executable  # the kernel runs in the workbench environment
    assert Path(home) == hub.state / "home" / USER / "workbench"  # WORKBENCH_HOME from the spawner
    assert (Path(home) / "workbench.duckdb").is_file()  # the quickstart wrote its workspace there

    assert hub.api("DELETE", f"{base}/kernels/{kernel['id']}").status_code == 204
    assert hub.api("DELETE", f"/hub/api/users/{USER}/server").status_code in (202, 204)
    assert _wait_gone(hub.pids["server"], 60), "user server still running after the hub stopped it"

    os.kill(hub.pids["hub"], signal.SIGTERM)
    assert hub.process.wait(timeout=60) is not None
    assert _wait_gone(hub.pids["proxy"], 30), "the proxy outlived the hub"
