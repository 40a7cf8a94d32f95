"""``workbench demo`` on a fresh workspace touches nothing outside the repository and that workspace.

The demo runs in a subprocess (cwd = the repository, as ``make demo`` runs it) through a small wrapper
(``python -c``) that installs a :func:`sys.addaudithook` before importing the workbench: every ``open``,
directory listing, ``mkdir``, ``rename``, ``remove`` ... that Python code makes is recorded. Native code (DuckDB,
polars, lxml) opens files without audit events, so when ``strace`` works here the same run is also
traced with ``strace -f -e trace=%file`` (every syscall that takes a path: open, stat, readlink, mkdir,
execve...). The wrapper stats a marker path first: syscalls before it are the interpreter's own start.

Allowed: the repository (with its .venv and data/samples), the workspace, the Python installation
(stdlib, site-packages), system folders (/usr, /lib, /etc, /proc, /sys, /dev), and polars' probe of
its spill folder. Metadata syscalls (stat, readlink) may also name an ancestor of those (realpath walks
them). ``HOME`` points at an empty folder beside the workspace, so a cache or config written there is
caught too. Then the store itself: every raw file and ingest_log path is one of the repository's
sample exports or the engine CSV the demo writes into the workspace; nothing names ``shared``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"
SHARED = (ROOT.parent / "shared").resolve()
MARKER = "/workbench-demo-isolation-marker"

WRAPPER = f"""
import json, os, sys

events = []
_log = open(sys.argv[1], "w")  # opened before the hook: not an event
_WATCH = {{"open", "os.listdir", "os.scandir", "os.mkdir", "os.rename", "os.remove", "os.rmdir",
          "os.symlink", "os.link", "os.truncate", "os.chdir", "shutil.copyfile", "shutil.copytree",
          "shutil.rmtree", "shutil.move", "subprocess.Popen", "os.exec", "os.posix_spawn"}}


def _hook(event, args):
    if event not in _WATCH:
        return
    paths = []
    for a in args[:2]:
        if isinstance(a, bytes):
            a = os.fsdecode(a)
        if isinstance(a, os.PathLike):
            a = os.fspath(a)
        if isinstance(a, str):
            paths.append(a)
    if paths:
        events.append([event, *paths])


try:
    os.stat({MARKER!r})  # strace: what follows is the workbench, not the interpreter's start
except OSError:
    pass
sys.addaudithook(_hook)
from workbench.cli import main

try:
    code = main(["demo", "--json"])
finally:
    json.dump(events, _log)
    _log.close()
sys.exit(code)
"""

# strace -y prints "<dirfd path>"; the first quoted string is the path the syscall was given
_LINE = re.compile(r"^\d+\s+(?P<call>\w+)\((?P<args>.*)$")
_DIRFD = re.compile(r"^(?:AT_FDCWD|\d+)<(?P<dir>[^>]*)>,\s*")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_TWO_PATHS = {"rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat"}
_META = {
    "stat",
    "lstat",
    "newfstatat",
    "fstatat64",
    "statx",
    "readlink",
    "readlinkat",
    "access",
    "faccessat",
    "faccessat2",
    "statfs",
    "getxattr",
    "lgetxattr",
    "listxattr",
    "llistxattr",
}
SYSTEM = tuple(
    Path(p) for p in ("/usr", "/lib", "/lib32", "/lib64", "/etc", "/proc", "/sys", "/dev", "/selinux")
)


def _allowed_roots(workspace: Path) -> list[Path]:
    roots = [ROOT, workspace, *SYSTEM]
    for p in (
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        *sysconfig.get_paths().values(),
    ):
        roots.append(Path(p))
    roots.append(Path(sys.executable).resolve().parent.parent)
    return sorted({r.resolve() for r in roots} | set(roots), key=str)


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def _ancestor(path: Path, roots: list[Path]) -> bool:
    return any(r.is_relative_to(path) for r in roots)


def _polars_spill(path: Path) -> bool:
    """polars looks for its spill folder (<tmp>/polars-<user>/spill) when it starts: a probe, not data."""
    return any(part.startswith("polars-") for part in path.parts) and path.parts[-1] == "spill"


def _strace_works() -> bool:
    if shutil.which("strace") is None:
        return False
    try:
        probe = subprocess.run(
            ["strace", "-f", "-qq", "-o", os.devnull, "true"], capture_output=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def _traced(log: Path) -> list[tuple[str, Path]]:
    """(syscall, absolute path) for every path-taking syscall after the marker."""
    out: list[tuple[str, Path]] = []
    started = False
    for line in log.read_text(errors="replace").splitlines():
        m = _LINE.match(line)
        if not m or "resumed>" in line:
            continue
        call, args = m.group("call"), m.group("args")
        if not started:
            started = MARKER in args
            continue
        base = ROOT
        d = _DIRFD.match(args)
        if d:
            base = Path(d.group("dir"))
            args = args[d.end() :]
        strings = _QUOTED.findall(args)
        for raw in strings[: 2 if call in _TWO_PATHS else 1]:
            if raw:
                out.append((call, Path(os.path.normpath(base / raw))))
    assert started, f"the marker {MARKER} never appears in the strace log"
    return out


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("demo-isolation")
    workspace, home = tmp / "lake", tmp / "home"
    home.mkdir()
    events = tmp / "events.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "XDG_"))}
    env.update(WORKBENCH_HOME=str(workspace), HOME=str(home), HF_HUB_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-c", WRAPPER, str(events)]  # -c: sys.path[0] is the cwd (the repository)
    strace_log = tmp / "strace.log" if _strace_works() else None
    if strace_log is not None:
        cmd = ["strace", "-f", "-qq", "-y", "-e", "trace=%file", "-o", str(strace_log), *cmd]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {
        "data": json.loads(proc.stdout),
        "workspace": workspace,
        "home": home,
        "events": json.loads(events.read_text()),
        "strace": strace_log,
    }


def test_demo_ingests_only_the_repository_samples(demo_run: dict) -> None:
    data = demo_run["data"]
    files = data["ingest"]["files"]
    assert data["ingest"]["rejected"] == 0, [f["error"] for f in files if f["error"]]
    sample_paths = sorted(p.resolve() for p in SAMPLES.rglob("*") if p.is_file())
    assert len(sample_paths) == 5
    ingested = sorted(Path(f["path"]).resolve() for f in files)
    engine_csv = demo_run["workspace"].resolve() / "exports" / "demo_sma_cross_10_50_EURUSD_1h.csv"
    assert ingested == sorted([*sample_paths, engine_csv])
    assert {f["format"] for f in files} == {
        "trades_csv",
        "ctrader_history_xml",
        "ctrader_cbotset",
        "mt5_tester_html",
        "mt5_optimizer_xml",
    }
    assert set(data["series"]) == {"EURUSD:1h", "GOOG:1d", "BTCUSD:1mo"}  # the backtesting package's bars


def test_store_names_nothing_outside(demo_run: dict) -> None:
    import workbench as wb

    ws = wb.open(demo_run["workspace"], read_only=True)
    log = ws.ingest_log()
    assert log.height == 6
    for path in log["path"].to_list():
        p = Path(path).resolve()
        assert p.is_relative_to(SAMPLES) or p.is_relative_to(demo_run["workspace"].resolve()), path
        assert "shared" not in p.parts, path
    sha = {hashlib.sha256(p.read_bytes()).hexdigest() for p in SAMPLES.rglob("*") if p.is_file()}
    engine = demo_run["workspace"] / "exports" / "demo_sma_cross_10_50_EURUSD_1h.csv"
    sha.add(hashlib.sha256(engine.read_bytes()).hexdigest())
    raw = ws.store.frame("SELECT sha256, original_name FROM raw_files")
    assert set(raw["sha256"]) == sha
    for table in ("backtests", "optimizations", "parameter_sets"):
        sources = ws.store.frame(f"SELECT source FROM {table}")["source"].to_list()
        assert not [s for s in sources if s and "shared" in s], (table, sources)


def test_python_touches_nothing_outside(demo_run: dict) -> None:
    roots = _allowed_roots(demo_run["workspace"].resolve())
    events = demo_run["events"]
    assert any(e[0] == "open" and Path(e[1]).resolve().is_relative_to(SAMPLES) for e in events), (
        "the audit hook saw no sample export opened: is it recording?"
    )
    outside = sorted(
        {
            f"{event} {p}"
            for event, *paths in events
            for p in paths
            if not _inside(Path(os.path.normpath(ROOT / p)), roots)
        }
    )
    assert not outside, outside
    assert not list(demo_run["home"].iterdir()), "the demo wrote into $HOME"
    assert not [e for e in events if any(str(SHARED) in p for p in e[1:])]


def test_syscalls_touch_nothing_outside(demo_run: dict) -> None:
    if demo_run["strace"] is None:
        pytest.skip(
            "strace is not installed or cannot trace here; the audit-hook test covers Python's own opens"
        )
    roots = _allowed_roots(demo_run["workspace"].resolve())
    traced = _traced(demo_run["strace"])
    assert any(p.is_relative_to(SAMPLES) for _, p in traced), "strace saw no sample export"
    outside = sorted(
        {
            f"{call} {p}"
            for call, p in traced
            if not _inside(p, roots) and not (call in _META and _ancestor(p, roots)) and not _polars_spill(p)
        }
    )
    assert not outside, outside
    assert not [p for _, p in traced if p == SHARED or p.is_relative_to(SHARED)]


def test_display_rounds_for_humans() -> None:
    from workbench.cli.core import display

    assert display("net_profit", 635.1932799327885) == "635.19"
    assert display("final_balance", 10635.193279932789) == "10,635.19"
    assert (
        display("profit_factor", 1.6495834151) == "1.65" and display("sharpe_ratio", 1.4199957811) == "1.42"
    )
    assert display("max_drawdown_pct", 1.4890123) == "1.49 %" and display("win_rate", 0.38333333) == "38.33 %"
    assert display("total_trades", 1234) == "1,234" and display("sortino_ratio", None) == "-"
    assert display("profit_factor", float("inf")) == "inf"
    assert display("avg_trade_duration_seconds", 245100.0) == "2 days, 20:05:00"


def test_demo_text_is_rounded_and_json_is_not(demo_run: dict) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env["WORKBENCH_HOME"] = str(demo_run["workspace"])
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "duplicates 6" in text and "from " in text and "data/samples" in text  # the same files again
    metrics = text[text.index("metrics of #") :]
    assert not re.search(r"\d\.\d{3,}", metrics), metrics  # no unrounded float
    example = demo_run["data"]["example"]["metrics"]
    assert f"{example['net_profit']:,.2f}" in metrics
    assert example["net_profit"] != round(example["net_profit"], 2)  # --json keeps every digit
