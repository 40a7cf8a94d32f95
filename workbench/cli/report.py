"""Report commands: ``workbench report`` (notebooks → self-contained HTML) and ``workbench serve``."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from workbench.cli import Result, command
from workbench.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "notebooks" / "dashboards"


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "notebook",
        nargs="?",
        help="report name (backtest, optimization, compare) or a .ipynb path; "
        "default with --all-backtests/--params-dir: backtest",
    )
    p.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="notebook parameter (value parsed as JSON when it can be: 3, true, [1,2]); repeatable",
    )
    p.add_argument(
        "-o", "--output", help="HTML file (one report) or folder (batch; default <workspace>/reports)"
    )
    p.add_argument(
        "--all-backtests", action="store_true", help="one report per stored backtest, plus an index"
    )
    p.add_argument(
        "--params-dir", help="a folder of parameter sets (*.json objects): one report per file, plus an index"
    )
    p.add_argument("--workers", type=int, default=None, help="parallel reports in a batch (default: cores)")


def _params(pairs: list[str]) -> dict:
    from workbench.reports.render import parse_value

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigError(f"-p expects KEY=VALUE with KEY a Python name, got {pair!r}")
        out[key.strip()] = parse_value(value)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "report"


def _batch_jobs(args: argparse.Namespace, base: dict, out_dir: Path) -> list:
    from workbench.reports import Job, resolve_notebook
    from workbench.workspace import open_workspace

    notebook = resolve_notebook(args.notebook or "backtest")
    jobs = []
    if args.all_backtests:
        listed = open_workspace(read_only=True).backtests()
        for row in listed.iter_rows(named=True):
            params = {**base, "backtest_id": int(row["id"])}
            name = f"{notebook.stem}-{row['id']}.html"
            jobs.append(Job(notebook, params, out_dir / name, f"#{row['id']} {row['name']}"))
    if args.params_dir:
        folder = Path(args.params_dir)
        if not folder.is_dir():
            raise ConfigError(f"--params-dir {folder}: not a folder")
        for path in sorted(folder.glob("*.json")):
            try:
                params = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}:{e.lineno}: not JSON ({e.msg})") from None
            if not isinstance(params, dict):
                raise ConfigError(f"{path}: expected a JSON object of parameters")
            jobs.append(Job(notebook, {**base, **params}, out_dir / f"{_slug(path.stem)}.html", path.stem))
    return jobs


def _home() -> Path:
    """The workspace folder as an absolute path (kernels and servers run in other folders)."""
    from workbench.config import settings

    return settings().home.resolve()


@command(
    "report", "render a report notebook to self-contained HTML (one, or a batch with an index)", _report_args
)
def report(args: argparse.Namespace) -> Result:
    from workbench.reports import render, render_many

    os.environ["WORKBENCH_HOME"] = str(_home())  # the kernel runs in the notebook's folder
    base = _params(args.param)
    if args.all_backtests or args.params_dir:
        out_dir = Path(args.output) if args.output else _home() / "reports"
        jobs = _batch_jobs(args, base, out_dir)
        if not jobs:
            raise ConfigError("nothing to render: no backtests stored / no *.json parameter sets found")
        batch = render_many(jobs, out_dir, workers=args.workers)
        data = {
            "output": str(batch.index),
            "reports": [r.to_dict() for r in batch.results],
            "rendered": len(batch.results) - len(batch.failed),
            "failed": len(batch.failed),
            "seconds": round(batch.seconds, 2),
        }
        lines = [
            f"{'ok' if r.ok else 'FAILED':6} {r.seconds:6.1f} s  {r.job.output if r.ok else r.job.title}"
            + ("" if r.ok else f": {r.error}")
            for r in batch.results
        ]
        lines.append(
            f"{data['rendered']} rendered, {data['failed']} failed in {data['seconds']} s -> {batch.index}"
        )
        errors = tuple(f"{r.job.notebook.name}:{r.job.title}: {r.error}" for r in batch.failed)
        return Result(data, "\n".join(lines), 1 if batch.failed else 0, errors)
    if not args.notebook:
        raise ConfigError("name a report notebook (backtest, optimization, compare) or use --all-backtests")
    from workbench.reports import resolve_notebook

    path = resolve_notebook(args.notebook)
    out = Path(args.output) if args.output else _home() / "reports" / f"{path.stem}.html"
    t0 = time.perf_counter()
    done = render(path, base, out)
    data = {
        "output": str(done.job.output),
        "notebook": str(path),
        "parameters": base,
        "title": done.job.title,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return Result(data, f"{done.job.output} ({data['title']}, {data['seconds']} s)")


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=5006, help="port (default 5006)")
    p.add_argument(
        "--address", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument(
        "--bind-all",
        action="store_true",
        help="listen on every interface (0.0.0.0) and accept any origin: others on the network can see it",
    )
    p.add_argument("--show", action="store_true", help="open a browser")
    p.add_argument("--dry-run", action="store_true", help="print the panel command instead of running it")


def serve_command(args: argparse.Namespace) -> list[str]:
    """The ``panel serve`` command line for the dashboards."""
    notebooks = sorted(str(p) for p in DASHBOARDS.glob("*.ipynb"))
    if not notebooks:
        raise ConfigError(f"no dashboards in {DASHBOARDS}")
    address = "0.0.0.0" if args.bind_all else args.address
    cmd = [sys.executable, "-m", "panel", "serve", *notebooks, "--address", address, "--port", str(args.port)]
    origins = ["*"] if args.bind_all else [f"{h}:{args.port}" for h in dict.fromkeys((address, "localhost"))]
    for origin in origins:
        cmd += ["--allow-websocket-origin", origin]
    return cmd


@command("serve", "serve the dashboards (backtests overview, optimisations) with Panel", _serve_args)
def serve(args: argparse.Namespace) -> Result:
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be 1..65535, got {args.port}")
    cmd = serve_command(args)
    env = {**os.environ, "WORKBENCH_HOME": str(_home())}
    url = f"http://{'0.0.0.0' if args.bind_all else args.address}:{args.port}/"
    data = {"command": cmd, "url": url, "dashboards": sorted(p.stem for p in DASHBOARDS.glob("*.ipynb"))}
    if args.dry_run:
        return Result(data, " ".join(cmd))
    print(f"serving {', '.join(data['dashboards'])} on {url} (Ctrl-C stops)", file=sys.stderr, flush=True)
    proc = subprocess.Popen(cmd, env=env)
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())  # stop the server with us
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        code = proc.wait(30)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return Result({**data, "exit_code": code}, "", code)
