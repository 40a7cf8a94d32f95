"""Service commands: ``workbench api`` (serve the API) and ``workbench api-token`` (issue a JWT)."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
from pathlib import Path

from workbench.cli import Result, command
from workbench.errors import ConfigError


def _token(args: argparse.Namespace) -> str | None:
    if not args.token_file:
        return None
    path = Path(args.token_file).expanduser()
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"--token-file {path}: cannot read it ({e.strerror})") from None
    if not token:
        raise ConfigError(
            f"--token-file {path}: the file is empty; write the token in it (openssl rand -hex 32)"
        )
    return token


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _api_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument(
        "--token-file",
        default=None,
        metavar="FILE",
        help="file holding the bearer token clients must present (default: $WORKBENCH_API_TOKEN)",
    )
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="serve without authentication (loopback only; everyone is 'anonymous' in the audit trail)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="requests/s per client (default $WORKBENCH_API_RATE or 20; 0: off)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=None,
        help="largest upload (default $WORKBENCH_API_MAX_UPLOAD_MB or 50)",
    )
    p.add_argument("--access-log", action="store_true", help="log every request (uvicorn's access log)")
    p.add_argument(
        "--resume-sessions",
        action="store_true",
        help="resume the paper sessions the workspace records as running (after a crash or kill -9)",
    )


@command(
    "api",
    "serve the workbench API: /health /ready /status /metrics and the gateway (docs/service.md)",
    _api_args,
)
def api(args: argparse.Namespace) -> Result:
    import uvicorn

    from workbench.service import ServiceConfig, create_app

    if args.no_auth and not _is_loopback(args.host):
        raise ConfigError(
            f"--no-auth with --host {args.host}: an unauthenticated API may only listen on loopback "
            "(127.0.0.1); set WORKBENCH_API_TOKEN instead"
        )
    overrides = {
        "resume_sessions": args.resume_sessions or None,
        "rate": args.rate,
        "max_upload_bytes": None if args.max_upload_mb is None else int(args.max_upload_mb * 1024 * 1024),
    }
    if args.no_auth:
        config = ServiceConfig.from_settings(auth=False, token=None, **overrides).with_(token=None)
        print(
            "WARNING: workbench api runs WITHOUT AUTHENTICATION (--no-auth): anyone who can reach "
            f"{args.host}:{args.port} can ingest, run sweeps and trip the kill switch",
            file=sys.stderr,
        )
    else:
        config = ServiceConfig.from_settings(token=_token(args), **overrides)
    app = create_app(config)
    print(
        f"workbench api: http://{args.host}:{args.port} (workspace {app.state.wb.ws.home}; "
        f"auth {'bearer token' if config.auth else 'OFF'}; OpenAPI at /docs)",
        file=sys.stderr,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_level="info",
            access_log=args.access_log,
            timeout_graceful_shutdown=10,
        )
    )
    stopping: list[int] = []
    # uvicorn handles SIGINT/SIGTERM (graceful shutdown), then re-raises the signal to the handler that was
    # installed before it: this one records it, so the command ends normally (exit 0, its --json object).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, frame: stopping.append(number))
    server.run()
    if not server.started:
        raise ConfigError(f"--port {args.port}: could not listen on {args.host}:{args.port} (in use?)")
    return Result(
        {"host": args.host, "port": args.port, "stopped": True, "signal": stopping[0] if stopping else None},
        "workbench api stopped",
    )


def _token_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sub", required=True, help="who the token names (the audit trail's identity)")
    p.add_argument(
        "--ttl", type=float, default=3600.0, help="seconds it stays valid (default 3600; 0: no expiry)"
    )
    p.add_argument(
        "--token-file", default=None, metavar="FILE", help="the API's secret (default $WORKBENCH_API_TOKEN)"
    )


@command("api-token", "issue a JWT (HS256, signed with the API token) naming a caller", _token_args)
def api_token(args: argparse.Namespace) -> Result:
    from workbench.service import ServiceConfig, issue_token

    config = ServiceConfig.from_settings(token=_token(args))
    token = issue_token(config.token, args.sub, ttl_s=args.ttl or None)
    return Result({"token": token, "sub": args.sub, "ttl_s": args.ttl or None}, token)
