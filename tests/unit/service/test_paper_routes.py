"""Paper sessions through the API: start, status, the kill switch with the caller in the audit trail,
readiness failing when a running session's feed goes stale, and the paper series of /metrics."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from workbench.service import issue_token

TOKEN = "t0ken-" + "a" * 40  # = conftest.py's
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _until(fn, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


@pytest.fixture
def paper_client(make_client):
    client = make_client(rate=0, feed_stale_s=0.5)
    client.app.state.wb.ws.load_samples()
    return client


def test_a_replay_through_the_api_matches_its_status_and_metrics(paper_client) -> None:
    c = paper_client
    body = {"name": "goog", "data": "GOOG:1d", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
    r = c.post("/paper/sessions", headers=AUTH, json=body)
    assert r.status_code == 201 and r.json()["started_by"] == "api-token"
    st = _until(
        lambda: (s := c.get("/paper/sessions/goog", headers=AUTH).json())["state"] == "finished" and s
    )
    assert st["bars_processed"] == 2148 and st["counters"]["decisions"] == 2148  # every GOOG:1d bar
    again = c.post("/paper/sessions", headers=AUTH, json=body)
    assert again.status_code == 400 and "already exists" in again.json()["error"]
    got = _samples(c.get("/metrics").text)
    assert got[("workbench_paper_decisions_total", (("session", "goog"),))] == 2148
    assert got[("workbench_paper_equity", (("session", "goog"),))] == pytest.approx(st["equity"])
    assert got[("workbench_paper_drawdown_pct", (("session", "goog"),))] == pytest.approx(st["drawdown_pct"])
    assert got[("workbench_paper_orders_total", (("session", "goog"),))] == st["counters"]["orders"]
    assert got[("workbench_paper_decision_latency_seconds_count", (("session", "goog"),))] == 2148
    assert got[("workbench_paper_kill_switch", (("session", "goog"), ("state", "ACTIVE")))] == 1
    assert ("workbench_paper_bars_since_decision", (("session", "goog"),)) not in got  # finished
    listed = c.get("/paper/sessions", headers=AUTH).json()["sessions"]
    assert [s["name"] for s in listed] == ["goog"] and listed[0]["in_service"] is True
    bad = c.post(
        "/paper/sessions", headers=AUTH, json={**body, "name": "x", "options": {"feed": "csv:/etc/passwd"}}
    )
    assert bad.status_code == 400 and "tail a file with `workbench paper run`" in bad.json()["error"]
    assert c.get("/paper/sessions/nope", headers=AUTH).status_code == 404


def test_kill_switch_and_readiness_of_a_running_session(paper_client) -> None:
    c = paper_client
    assert (
        c.post("/risk/kill-switch/trip", headers=AUTH, json={"reason": "x"}).status_code == 409
    )  # none running
    body = {"name": "eur", "data": "EURUSD:1h", "strategy": "sma_cross", "speed": "60"}  # a bar a minute
    assert c.post("/paper/sessions", headers=AUTH, json=body).status_code == 201
    # the first bar arrives at once, the next in a minute: stale after 0.5 s -> not ready, with the reason
    ready = _until(lambda: (r := c.get("/ready")).status_code == 503 and "last bar" in r.text and r.json())
    (reason,) = ready["reasons"]
    assert reason.startswith("feed:eur: last bar ") and reason.endswith("s ago (stale after 0.5 s)")
    assert c.get("/health").status_code == 200
    since = _samples(c.get("/metrics").text)[("workbench_paper_bars_since_decision", (("session", "eur"),))]
    assert since == 0  # a bar interval at 60x is a minute

    alice = {"Authorization": f"Bearer {issue_token(TOKEN, 'alice')}"}
    r = c.post("/risk/kill-switch/trip", headers=alice, json={"reason": "news at 14:30", "state": "REDUCING"})
    assert r.status_code == 200
    assert r.json() == {
        "by": "alice",
        "reason": "news at 14:30",
        "sessions": [{"session": "eur", "kill_switch": "REDUCING", "applied": True}],
    }
    got = _samples(c.get("/metrics").text)
    assert got[("workbench_paper_kill_switch", (("session", "eur"), ("state", "REDUCING")))] == 1
    assert got[("workbench_paper_kill_switch", (("session", "eur"), ("state", "ACTIVE")))] == 0
    r = c.post("/risk/kill-switch/resume", headers=AUTH, json={"session": "eur"})
    assert r.status_code == 200 and r.json()["sessions"][0]["kill_switch"] == "ACTIVE"
    # both transitions reach the audit trail (committed at the session's next step, within ~1 s idle)
    audit = _until(
        lambda: len(a := c.get("/risk/kill-switch", headers=AUTH).json()["sessions"][0]["audit"]) >= 2 and a
    )
    assert [(e["actor"], e["from_state"], e["to_state"]) for e in audit[-2:]] == [
        ("alice", "ACTIVE", "REDUCING"),
        ("api-token", "REDUCING", "ACTIVE"),
    ]
    assert audit[-2]["reason"] == "news at 14:30"
    stopped = c.post("/paper/sessions/eur/stop", headers=AUTH)
    assert stopped.status_code == 200 and stopped.json()["result"] == "stopped"
    assert c.get("/ready").status_code == 200  # no running session, nothing stale
