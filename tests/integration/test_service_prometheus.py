"""The service watched for real: Debian's Prometheus scrapes a running `workbench api` on loopback with the
project's alert rules loaded, and a bounded load test (benchmarks/service.py's, 5 s) finds no errors."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time

import httpx
import pytest
import yaml
from integration.service_proc import AUTH, ROOT, TOKEN, free_port, start_api

from workbench.service import issue_token

pytestmark = pytest.mark.xdist_group("service-prometheus")  # one server and one Prometheus

RULES = ROOT / "infra" / "monitoring" / "workbench-alerts.yml"
MT5 = ROOT / "data" / "samples" / "mt5_tester_html" / "zhijucen_250013_ReportTester.html"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """A service with the sample bars, one ingested export and a paper session replaying at 3600x (a bar
    a second: still running while Prometheus scrapes)."""
    from workbench.workspace import open_workspace

    home = tmp_path_factory.mktemp("prom") / "lake"
    ws = open_workspace(home)
    ws.load_samples()
    report = ws.ingest([MT5], index=False)
    server = start_api(home, "--rate", "0")
    r = httpx.post(
        f"{server.url}/paper/sessions",
        headers=AUTH,
        json={"name": "live", "data": "EURUSD:1h", "strategy": "sma_cross", "speed": "3600"},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    server.rows = report.files[0].rows
    yield server
    code, _ = server.stop()
    assert code == 0, server.log.read_text()[-2000:]


def _query(prom: str, expr: str) -> list[dict]:
    r = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert r["status"] == "success", r
    return r["data"]["result"]


def _until(what: str, fn, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def prometheus(api, tmp_path_factory):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: install Debian's `prometheus` package (.ci/system-deps does)")
    folder = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": "workbench-api",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [api.url.removeprefix("http://")]}],
            }
        ],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (folder / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _until("prometheus to answer", lambda: _ready(url, proc), 60)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _ready(url: str, proc: subprocess.Popen) -> bool:
    assert proc.poll() is None, "prometheus exited"
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_prometheus_scrapes_the_service_and_evaluates_its_alerts(api, prometheus) -> None:
    up = _until("a successful scrape", lambda: _query(prometheus, 'up{job="workbench-api"} == 1'))
    assert up[0]["metric"]["instance"] == api.url.removeprefix("http://")
    # the catalog counters, as Prometheus stored them, equal what the workspace holds
    backtests = _query(prometheus, "workbench_backtests_total")
    assert float(backtests[0]["value"][1]) == 1
    rows = _query(prometheus, "workbench_ingest_rows_total")
    assert float(rows[0]["value"][1]) == api.rows > 0
    ingested = _query(prometheus, 'workbench_ingest_files_total{status="ingested"}')
    assert float(ingested[0]["value"][1]) == 1
    # the paper session's series move between scrapes
    first = _until(
        "paper decisions", lambda: _query(prometheus, 'workbench_paper_decisions_total{session="live"} > 0')
    )
    later = _until(
        "more decisions",
        lambda: _query(
            prometheus, f'workbench_paper_decisions_total{{session="live"}} > {first[0]["value"][1]}'
        ),
    )
    assert float(later[0]["value"][1]) > float(first[0]["value"][1])
    assert _query(prometheus, 'workbench_paper_equity{session="live"}')
    assert _query(prometheus, 'workbench_paper_decision_latency_seconds_count{session="live"} > 0')
    # every rule of infra/monitoring/workbench-alerts.yml loaded and evaluates without error
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert len(rules) == sum(len(g["rules"]) for g in yaml.safe_load(RULES.read_text())["groups"])
    assert all(r["health"] == "ok" for r in rules), [r for r in rules if r["health"] != "ok"]

    # an operator trips the kill switch over HTTP: the alert fires with the session's name
    ops = {"Authorization": f"Bearer {issue_token(TOKEN, 'ops-oncall')}"}
    r = httpx.post(
        f"{api.url}/risk/kill-switch/trip", headers=ops, json={"reason": "integration test"}, timeout=30
    )
    assert r.status_code == 200 and r.json()["sessions"] == [
        {"session": "live", "kill_switch": "HALTED", "applied": True}
    ]

    def firing():
        alerts = httpx.get(f"{prometheus}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
        return [
            a
            for a in alerts
            if a["labels"]["alertname"] == "WorkbenchKillSwitchTripped" and a["state"] == "firing"
        ]

    (alert,) = _until("WorkbenchKillSwitchTripped to fire", firing, 60)
    assert alert["labels"]["session"] == "live" and alert["labels"]["state"] == "HALTED"
    assert alert["annotations"]["summary"] == "Kill switch of paper session live is HALTED"
    audit = _until(
        "the trip in the audit trail",
        lambda: httpx.get(f"{api.url}/risk/kill-switch", headers=AUTH, timeout=10).json()["sessions"][0][
            "audit"
        ],
    )
    assert audit[-1]["actor"] == "ops-oncall" and audit[-1]["to_state"] == "HALTED"
    assert audit[-1]["reason"] == "integration test"


def test_bounded_load_on_status_and_metrics(api) -> None:
    """50 concurrent clients for 5 s on /status and /metrics (benchmarks/service.py runs 30 s): every
    answer a 200; the table is printed (pytest -s shows it)."""
    spec = importlib.util.spec_from_file_location("bench_service", ROOT / "benchmarks" / "service.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    stats = bench.load(api.url, ["/status", "/metrics"], clients=50, seconds=5.0, headers=AUTH)
    print(bench.HEADER)
    for s in stats:
        print(s.row())
    assert all(s.requests > 0 for s in stats)
    assert [s.errors for s in stats] == [0, 0]
