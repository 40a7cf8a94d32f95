"""Scenario 9 through the service: a paper session started over HTTP, the service SIGKILLed mid-run,
`workbench api --resume-sessions` started again on the same workspace: the session continues from its
last committed step; then a graceful stop (SIGTERM, a rolling update) and a third start: it continues
again. Bars never replayed twice, orders and fills numbered without gap or double."""

from __future__ import annotations

import signal
import time

import httpx
from integration.service_proc import AUTH, start_api

from workbench.store import Q
from workbench.workspace import open_workspace


def _status(api) -> dict:
    return httpx.get(f"{api.url}/paper/sessions/eur", headers=AUTH, timeout=30).json()


def _until(fn, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_killed_service_resumes_its_session(tmp_path) -> None:
    home = tmp_path / "lake"
    open_workspace(home).load_samples()
    api = start_api(home, "--rate", "0", "--resume-sessions")
    body = {
        "name": "eur",
        "data": "EURUSD:1h",
        "strategy": "sma_cross",
        "params": {"fast": 3, "slow": 8},
        "speed": "36000",
    }
    assert httpx.post(f"{api.url}/paper/sessions", headers=AUTH, json=body, timeout=60).status_code == 201
    _until(lambda: _status(api)["bars_processed"] >= 40)
    api.proc.send_signal(signal.SIGKILL)
    api.proc.wait(timeout=30)

    ws = open_workspace(home)
    committed = ws.store.frame(Q.paper_sessions).row(0, named=True)
    assert committed["status"] == "running"  # what the kill left: the session's last committed step

    again = start_api(home, "--rate", "0", "--resume-sessions")
    try:
        st = _status(again)
        assert st["in_service"] is True and st["started_by"] == "workbench api (resumed at start)"
        assert st["bars_processed"] >= committed["bars_processed"]
        _until(lambda: _status(again)["bars_processed"] > committed["bars_processed"] + 20)
    finally:
        code, _ = again.stop()  # SIGTERM this time: a rolling update
    assert code == 0
    stopped = ws.store.frame(Q.paper_sessions).row(0, named=True)
    assert stopped["status"] == "stopped"  # the session finished its step and committed
    third = start_api(home, "--rate", "0", "--resume-sessions")
    try:
        st = _status(third)
        assert st["in_service"] is True and st["state"] == "running"  # handed over by the stopped service
        _until(lambda: _status(third)["bars_processed"] > stopped["bars_processed"])
    finally:
        code, _ = third.stop()
    assert code == 0
    with ws.store.connect() as con:
        bars = con.execute(
            "SELECT count(*), count(DISTINCT bar), max(bar) FROM paper_equity WHERE session = 'eur'"
        ).fetchall()[0]
        fills = [
            r[0]
            for r in con.execute(
                "SELECT fill_id FROM paper_fills WHERE session = 'eur' ORDER BY fill_id"
            ).fetchall()
        ]
        orders = [
            r[0]
            for r in con.execute(
                "SELECT order_id FROM paper_orders WHERE session = 'eur' ORDER BY order_id"
            ).fetchall()
        ]
    assert bars[0] == bars[1] == bars[2] + 1  # an equity row for every bar, once, none skipped
    assert fills == list(range(fills[0], fills[0] + len(fills))) if fills else True
    assert orders == list(range(orders[0], orders[0] + len(orders))) and len(orders) > 0
