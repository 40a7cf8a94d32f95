"""The app in process: auth, limits, one-line errors, the gateway against the CLI, /metrics against the catalog."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from workbench.cli import main as cli
from workbench.service import issue_token

TOKEN = "t0ken-" + "a" * 40  # = tests/unit/service/conftest.py's
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[3]
MT5 = ROOT / "data" / "samples" / "mt5_tester_html" / "zhijucen_250013_ReportTester.html"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a /metrics body: (name, sorted labels) -> value."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def one_line_error(response) -> str:
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"] and "\n" not in body["error"] and "Traceback" not in body["error"]
    return body["error"]


def test_open_routes_need_no_token_and_the_rest_do(client) -> None:
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True and ready.json()["reasons"] == []
    assert client.get("/metrics").status_code == 200
    for method, path in [("GET", "/status"), ("GET", "/backtests"), ("POST", "/ask"), ("GET", "/jobs")]:
        r = client.request(method, path)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert "missing bearer token" in one_line_error(r)
    assert client.get("/status", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/status", headers=AUTH).json()["service"]["caller"] == "api-token"
    jwt_auth = {"Authorization": f"Bearer {issue_token(TOKEN, 'alice')}"}
    assert client.get("/status", headers=jwt_auth).json()["service"]["caller"] == "alice"


def test_upload_ingests_like_the_cli_and_metrics_count_the_catalog(client, home, capsys) -> None:
    r = client.post("/ingest", headers=AUTH, files={"file": (MT5.name, MT5.read_bytes(), "text/html")})
    assert r.status_code == 200, r.text
    report = r.json()
    (f,) = report["files"]
    assert (f["status"], f["format"], report["ingested"]) == ("ingested", "mt5_tester_html", 1)
    again = client.post("/ingest", headers=AUTH, files={"file": ("copy.html", MT5.read_bytes())}).json()
    assert again["files"][0]["status"] == "duplicate"
    assert not any((home / "service" / "uploads").iterdir())  # the store kept raw/<sha256>, uploads are gone

    listed = client.get("/backtests", headers=AUTH).json()
    assert listed["total"] == 1 and listed["backtests"][0]["id"] == f["backtest_id"]
    # the gateway answers what `workbench metrics ID --json` prints for the same workspace
    assert cli(["metrics", str(f["backtest_id"]), "--json"]) == 0
    assert client.get(f"/backtests/{f['backtest_id']}/metrics", headers=AUTH).json() == json.loads(
        capsys.readouterr().out
    )
    missing = client.get("/backtests/999999/metrics", headers=AUTH)
    assert missing.status_code == 404 and "no backtest with id 999999" in one_line_error(missing)

    # /metrics against the ingest log read independently (the CLI's view of the same catalog)
    assert cli(["backtests", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["backtests"]) == 1
    got = samples(client.get("/metrics").text)
    assert got[("workbench_ingest_files_total", (("status", "ingested"),))] == 1
    assert got[("workbench_ingest_files_total", (("status", "duplicate"),))] == 1
    assert got[("workbench_ingest_files_total", (("status", "rejected"),))] == 0
    assert got[("workbench_ingest_rows_total", ())] == f["rows"] > 0
    assert got[("workbench_backtests_total", ())] == 1
    assert got[("workbench_sweep_trials_total", ())] == 0
    assert got[("workbench_catalog_up", ())] == 1
    key = ("workbench_http_requests_total", (("code", "200"), ("method", "POST"), ("route", "/ingest")))
    assert got[key] == 2


@pytest.mark.parametrize(
    ("name", "content", "status", "message"),
    [
        ("tool.exe", b"MZ\x90\x00", 415, "not an export the workbench reads"),
        ("report.html", b"<html>\x00\x01\x02 binary", 415, "binary content"),
        ("book.xlsx", b"<html>not a zip</html>", 415, "not a .xlsx file"),
        ("empty.csv", b"", 400, "the file is empty"),
    ],
)
def test_upload_type_checks(client, home, name, content, status, message) -> None:
    r = client.post("/ingest", headers=AUTH, files={"file": (name, content)})
    assert r.status_code == status and message in one_line_error(r)
    assert client.get("/backtests", headers=AUTH).json()["total"] == 0


def test_oversized_bodies_get_413_before_anything_is_stored(make_client) -> None:
    client = make_client(max_upload_bytes=4096, max_body_bytes=256, rate=0)
    big = b"a,b\n" * 4096
    r = client.post("/ingest", headers=AUTH, files={"file": ("big.csv", big)})
    assert r.status_code == 413 and "larger than 4096 bytes" in one_line_error(r)

    def chunks():  # no Content-Length: the limit is counted on the stream
        for _ in range(64):
            yield b"x" * 64

    r = client.post("/ask", headers={**AUTH, "Content-Type": "application/json"}, content=chunks())
    assert r.status_code == 413 and "larger than 256 bytes" in one_line_error(r)
    r = client.post("/ask", headers=AUTH, json={"question": "q" * 300})
    assert r.status_code == 413
    assert client.get("/backtests", headers=AUTH).json()["total"] == 0


def test_rate_limit_per_client_with_retry_after(make_client) -> None:
    client = make_client(rate=0.01, burst=2)  # a token per 100 s: timing-proof on a busy machine
    assert [client.get("/status", headers=AUTH).status_code for _ in range(2)] == [200, 200]
    r = client.get("/status", headers=AUTH)
    assert r.status_code == 429 and int(r.headers["retry-after"]) in (99, 100)  # (1 - ~0) / 0.01 s
    assert "rate limit" in one_line_error(r)
    alice = {"Authorization": f"Bearer {issue_token(TOKEN, 'alice')}"}
    assert client.get("/status", headers=alice).status_code == 200  # another caller, another bucket
    assert client.get("/health").status_code == 200 and client.get("/metrics").status_code == 200
    bad = {"Authorization": "Bearer wrong"}
    assert [client.get("/status", headers=bad).status_code for _ in range(3)] == [401, 401, 429]


def test_internal_errors_are_one_line_without_the_traceback(client, monkeypatch) -> None:
    ws = client.app.state.wb.ws

    def broken():
        raise RuntimeError("secret detail /etc/passwd")

    monkeypatch.setattr(ws, "backtests", broken)
    r = client.get("/backtests", headers=AUTH)
    assert r.status_code == 500
    assert one_line_error(r) == "internal error (RuntimeError); see the service log"
    got = samples(client.get("/metrics").text)
    assert (
        got[("workbench_http_requests_total", (("code", "500"), ("method", "GET"), ("route", "/backtests")))]
        == 1
    )


def test_ready_fails_with_reasons_when_the_store_does(client, monkeypatch) -> None:
    from workbench.errors import StoreError

    def locked(*a, **k):
        raise StoreError("workbench.duckdb: cannot open the catalog (locked)")

    monkeypatch.setattr(client.app.state.wb.ws.store, "scalar", locked)
    r = client.get("/ready")
    assert r.status_code == 503
    body = r.json()
    assert body["ready"] is False and body["reasons"] == [
        "store: workbench.duckdb: cannot open the catalog (locked)"
    ]
    assert client.get("/health").status_code == 200  # liveness is not readiness


def test_request_errors_are_one_line(client) -> None:
    r = client.post("/sweeps", headers=AUTH, json={})
    assert r.status_code == 422 and "strategy: Field required" in one_line_error(r)
    r = client.post("/sweeps", headers={**AUTH, "Content-Type": "application/json"}, content=b"{not json")
    assert r.status_code == 422 and one_line_error(r)
    r = client.post("/sweeps", headers=AUTH, json={"strategy": "sma_cros", "data": "EURUSD:1h"})
    assert r.status_code == 400 and "did you mean 'sma_cross'" in one_line_error(r)
    r = client.post(
        "/sweeps",
        headers=AUTH,
        json={"strategy": "sma_cross", "data": "EURUSD:1h", "params": {"fast": "1:1e9"}},
    )
    assert r.status_code == 400 and "more than 200000 combinations" in one_line_error(r)
    r = client.post("/optimizations", headers=AUTH, json={"strategy": "sma_cross", "data": "EURUSD:1h"})
    assert r.status_code == 400 and "no bars for EURUSD:1h" in one_line_error(r)
    r = client.delete("/status", headers=AUTH)
    assert r.status_code == 405 and one_line_error(r)
    r = client.get("/nowhere", headers=AUTH)
    assert r.status_code == 404 and one_line_error(r)


def test_sweep_through_the_gateway_is_the_cli_sweep(client, home, capsys) -> None:
    client.app.state.wb.ws.load_samples()
    body = {"strategy": "sma_cross", "data": "GOOG:1d", "params": {"fast": "5:10:5", "slow": [20, 30]}}
    r = client.post("/sweeps", headers=AUTH, json=body)
    assert r.status_code == 200, r.text
    api = r.json()
    argv = [
        "backtest",
        "--strategy",
        "sma_cross",
        "--data",
        "GOOG:1d",
        "--param",
        "fast=5,10",
        "--param",
        "slow=20:30:10",
    ]
    assert cli([*argv, "--json"]) == 0
    direct = json.loads(capsys.readouterr().out)
    assert api["combos"] == direct["combos"] == 4
    assert api["best"] == direct["best"]
    got = samples(client.get("/metrics").text)
    assert got[("workbench_sweep_trials_total", ())] == 8  # two sweeps of 4 combinations
    assert got[("workbench_backtests_total", ())] == 2  # each stores its best


def test_upload_streams_as_multipart_file(client) -> None:
    """A file object (not bytes) is uploaded the same way."""
    r = client.post("/ingest", headers=AUTH, files={"file": (MT5.name, io.BytesIO(MT5.read_bytes()))})
    assert r.status_code == 200 and r.json()["files"][0]["status"] == "ingested"
