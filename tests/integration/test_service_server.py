"""`workbench api` for real: uvicorn in a subprocess on loopback, its command line, auth over HTTP, and
the OpenAPI schema fuzzed by schemathesis (no 5xx, answers match it)."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from integration.service_proc import AUTH, TOKEN, free_port, start_api
from schemathesis import checks as st_checks

pytestmark = pytest.mark.xdist_group("service-server")  # one server for the module's tests


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    server = start_api(tmp_path_factory.mktemp("api") / "lake")
    yield server
    code, out = server.stop()
    assert code == 0, server.log.read_text()[-2000:]
    assert '"stopped": true' in out  # --json: one object when it stops


def test_refuses_to_start_without_a_token_or_with_no_auth_off_loopback(tmp_path, monkeypatch, capsys) -> None:
    from workbench.cli import main

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "lake"))
    monkeypatch.setenv("WORKBENCH_API_TOKEN", "")
    empty = tmp_path / "token"
    empty.write_text("\n")
    for argv, message in [
        (["api", "--port", str(free_port())], "error: no API token: set WORKBENCH_API_TOKEN"),
        (
            ["api", "--no-auth", "--host", "0.0.0.0"],
            "error: --no-auth with --host 0.0.0.0: an unauthenticated",
        ),
        (["api", "--token-file", str(empty)], f"error: --token-file {empty}: the file is empty"),
    ]:
        assert main(argv) != 0
        err = capsys.readouterr().err
        assert err.startswith(message) and len(err.strip().splitlines()) == 1, err
    monkeypatch.setenv("WORKBENCH_API_TOKEN", "short")
    assert main(["api"]) != 0 and "use at least 32" in capsys.readouterr().err


def test_no_auth_warns_loudly_and_serves_anonymous(tmp_path) -> None:
    server = start_api(tmp_path / "lake", "--no-auth", env={"WORKBENCH_API_TOKEN": ""})
    try:
        status = httpx.get(f"{server.url}/status", timeout=10).json()
        assert status["service"]["auth"] is False and status["service"]["caller"] == "anonymous"
    finally:
        code, _ = server.stop()
    assert code == 0  # SIGTERM: a graceful stop
    assert "WARNING: workbench api runs WITHOUT AUTHENTICATION" in server.log.read_text()


def test_token_file_and_jwt_from_the_cli(api, monkeypatch, capsys) -> None:
    from workbench.cli import main

    monkeypatch.setenv("WORKBENCH_API_TOKEN", TOKEN)
    assert main(["api-token", "--sub", "carol", "--ttl", "60", "--json"]) == 0
    token = json.loads(capsys.readouterr().out)["token"]
    r = httpx.get(f"{api.url}/status", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.json()["service"]["caller"] == "carol"
    r = httpx.get(f"{api.url}/status", headers={"Authorization": "Bearer " + token[:-2] + "xx"}, timeout=10)
    assert r.status_code == 401 and r.json()["error"].startswith("invalid token")


def test_oversized_upload_over_http_is_one_line_json(api) -> None:
    """A client announcing 60 MB is answered 413 before it sends them (a raw socket: httpx will not lie)."""
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 62914560\r\n\r\n--x\r\n"
        )
        answer = b""
        while not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body) == {"error": "request body larger than 52428800 bytes"}


# -- property-based fuzzing of the OpenAPI schema ----------------------------------------------------------
# Driven through schemathesis' Python API (its pytest plugin's from_fixture does not run on pytest 9): for
# every operation, hypothesis draws schema-valid cases (plus the schema's examples) and schema-invalid
# ones; each is sent to the real server with the bearer token and its answer checked.
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
]
FUZZ = settings(
    max_examples=5,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def test_api_fuzzed_against_its_schema(api) -> None:
    from hypothesis import given
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    failures: list[str] = []
    calls = 0
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @FUZZ
            @given(case=op.as_strategy(generation_mode=mode))
            def check(case) -> None:
                nonlocal calls
                calls += 1
                case.call_and_validate(headers=AUTH, checks=CHECKS, timeout=60)

            try:
                check()
            except Unsatisfiable:  # no parameter or body to make invalid (GET /health...)
                assert mode is GenerationMode.NEGATIVE and not op.path.count("{") and op.method == "get", (
                    op.label
                )
            except Exception as e:  # noqa: BLE001 - collect every operation's failure, report them together
                failures.append(f"{op.label} ({mode.value}): {' '.join(str(e).split())[:600]}")
    assert not failures, "\n".join(failures)
    assert calls >= 2 * len(operations)
    log = api.log.read_text()
    assert "Traceback" not in log, log[-3000:]  # not even in the server's own log
