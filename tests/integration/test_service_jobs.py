"""Background jobs: the runner with real subprocesses (success, one-line failure, persisted, interrupted by a
restart), and POST /optimizations running the real `workbench optimize --json` as a job."""

from __future__ import annotations

import json
import sys
import time

from fastapi.testclient import TestClient

from workbench.service import ServiceConfig, create_app, issue_token
from workbench.service._jobs import JobRunner

TOKEN = "jobs-" + "c" * 40


def _wait(get, job_id: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    job = get(job_id)
    while job.status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = get(job_id)
    return job


def test_runner_runs_jobs_in_order_and_keeps_their_records(tmp_path) -> None:
    runner = JobRunner(tmp_path / "jobs")
    ok = runner.submit(
        "demo", [sys.executable, "-c", 'print("progress"); print(\'{"trials": 3}\')'], {"n": 3}, "alice"
    )
    bad = runner.submit(
        "demo",
        [
            sys.executable,
            "-c",
            "import sys; print('error: x.csv:3: bad number', file=sys.stderr); sys.exit(2)",
        ],
        {},
        "bob",
    )
    assert _wait(runner.get, ok.id).result == {"trials": 3}
    failed = _wait(runner.get, bad.id)
    assert (failed.status, failed.error, failed.submitted_by) == ("failed", "x.csv:3: bad number", "bob")
    assert runner.counts() == {"queued": 0, "running": 0, "succeeded": 1, "failed": 1}
    on_disk = json.loads((tmp_path / "jobs" / f"{ok.id}.json").read_text())
    assert on_disk["status"] == "succeeded" and on_disk["submitted_by"] == "alice"
    # a job still running when the service stops is reported as interrupted by the next service
    slow = runner.submit("demo", [sys.executable, "-c", "import time; time.sleep(60)"], {}, "carol")
    deadline = time.monotonic() + 30
    while runner.get(slow.id).status != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    record = (tmp_path / "jobs" / f"{slow.id}.json").read_text()
    runner.close()
    (tmp_path / "jobs" / f"{slow.id}.json").write_text(record)  # as a kill -9 of the service leaves it
    again = JobRunner(tmp_path / "jobs")
    try:
        job = again.get(slow.id)
        assert job.status == "failed" and job.error.startswith("interrupted: the service stopped")
        assert again.get(ok.id).result == {"trials": 3}
    finally:
        again.close()


def test_optimisation_job_runs_the_cli_and_reports_its_error(home) -> None:
    """POST /optimizations answers 202 with the job at once; the job is `workbench optimize --json` in its
    own process; here the CLI refuses an unknown parameter, and the job carries its one-line error and the
    JWT's subject. (A successful search starts Ray: tests/integration/test_tune_resume.py and the optimize
    tests cover that path; the job only wraps the command.)"""
    app = create_app(ServiceConfig(home=home, token=TOKEN, rate=0))
    with TestClient(app, raise_server_exceptions=False) as client:
        app.state.wb.ws.load_samples()
        auth = {"Authorization": f"Bearer {issue_token(TOKEN, 'dana')}"}
        body = {"strategy": "sma_cross", "data": "GOOG:1d", "params": {"bogus": [1, 2]}, "algo": "grid"}
        started = time.monotonic()
        r = client.post("/optimizations", headers=auth, json=body)
        assert r.status_code == 202 and time.monotonic() - started < 10, r.text
        job = r.json()
        assert job["status"] in ("queued", "running") and job["submitted_by"] == "dana"
        assert job["request"]["params"] == {"bogus": [1, 2]}
        deadline = time.monotonic() + 120
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
            job = client.get(f"/jobs/{job['id']}", headers=auth).json()
        assert job["status"] == "failed"
        assert job["error"] == "strategy 'sma_cross' has no parameter 'bogus' (known: fast, slow)"
        assert [j["id"] for j in client.get("/jobs", headers=auth).json()["jobs"]] == [job["id"]]
        missing = client.get("/jobs/nope", headers=auth)
        assert missing.status_code == 404 and missing.json() == {"error": "no job 'nope' (see GET /jobs)"}
