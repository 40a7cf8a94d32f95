"""An empty or missing workspace is an empty state that says how to ingest, never a reason to load data
into it; a workspace that cannot be opened (another process's lock, a newer schema) is a one-line
StoreError, never taken for an empty one. Reports, dashboards and ``workbench report``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

import workbench as wb
from workbench.errors import StoreError
from workbench.reports import EmptyWorkspaceError, report_workspace

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"
HOW = "workbench ingest PATH"


def _newer_schema(home: Path) -> None:
    wb.open(home)  # a real, empty workspace
    con = duckdb.connect(str(home / "workbench.duckdb"))
    try:
        con.execute("INSERT INTO schema_version VALUES (999, '0999_future.sql', now())")
    finally:
        con.close()


def test_missing_workspace_is_empty_and_stays_missing(tmp_path: Path) -> None:
    home = tmp_path / "lake"
    with pytest.raises(EmptyWorkspaceError, match="does not exist yet") as e:
        report_workspace(home, holding="backtests")
    assert HOW in str(e.value) and "ws.ingest([PATH])" in str(e.value) and "\n" not in str(e.value)
    assert not isinstance(e.value, StoreError)
    assert not home.exists()  # nothing created, nothing ingested
    assert e.value._render_traceback_() == [f"EmptyWorkspaceError: {e.value}"]  # what Jupyter shows


def test_empty_workspace_says_how_to_ingest(tmp_path: Path) -> None:
    home = tmp_path / "lake"
    wb.open(home)
    assert report_workspace(home).backtests().height == 0  # no holding asked: the read-only workspace
    with pytest.raises(EmptyWorkspaceError, match="holds no backtests yet"):
        report_workspace(home, holding="backtests")
    with pytest.raises(EmptyWorkspaceError, match="holds no optimizations yet.*workbench optimize"):
        report_workspace(home, holding="optimizations")
    assert wb.open(home, read_only=True).ingest_log().height == 0


def test_newer_schema_is_an_error_not_empty(tmp_path: Path) -> None:
    home = tmp_path / "lake"
    _newer_schema(home)
    with pytest.raises(StoreError, match="schema version 999 is newer") as e:
        report_workspace(home, holding="backtests")
    assert not isinstance(e.value, EmptyWorkspaceError) and "\n" not in str(e.value)


def test_lock_timeout_is_an_error_not_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "lake"
    wb.open(home)
    holder = subprocess.Popen(  # another process holds the catalog open for writing
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time, duckdb
                con = duckdb.connect({str(home / "workbench.duckdb")!r})
                print("locked", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        monkeypatch.setenv("WORKBENCH_LOCK_WAIT", "0.3")
        with pytest.raises(StoreError, match="another process holds it") as e:
            report_workspace(home, holding="backtests")
        assert not isinstance(e.value, EmptyWorkspaceError) and "\n" not in str(e.value)
    finally:
        holder.communicate("", timeout=30)


def test_dashboards_show_the_empty_state_or_the_error(tmp_path: Path) -> None:
    pytest.importorskip("panel")
    from workbench.ui.dashboards import OptimizationDashboard, OverviewDashboard

    missing = OverviewDashboard.open(tmp_path / "none")
    assert missing.error is None and "does not exist yet" in missing.empty and missing.ids() == []
    html = missing.view[1].object
    assert "Nothing to show yet" in html and HOW in html and "workbench demo" in html
    with pytest.raises(Exception, match="does not exist yet"):
        missing.select(1)
    assert not (tmp_path / "none").exists()

    filled = tmp_path / "filled"
    wb.open(filled).ingest([SAMPLES / "mt5_tester_html"])  # one backtest, no optimisation
    overview = OverviewDashboard.open(filled)
    assert overview.empty is None and overview.error is None and len(overview.ids()) == 1
    optimisations = OptimizationDashboard.open(filled)
    assert "holds no optimizations yet" in optimisations.empty and optimisations.ids() == []

    broken = tmp_path / "broken"
    _newer_schema(broken)
    for cls in (OverviewDashboard, OptimizationDashboard):
        d = cls.open(broken)
        assert d.empty is None and "schema version 999 is newer" in d.error
        assert "error:" in d.view[1].object and "Nothing to show" not in d.view[1].object


@pytest.mark.notebook
def test_report_on_empty_workspace_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "lake"
    wb.open(home)
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "report", "backtest", "-o", str(tmp_path / "r.html")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode != 0
    errors = [
        line for line in proc.stderr.splitlines() if line.startswith("error:")
    ]  # (+ the kernel's warnings)
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "EmptyWorkspaceError" in errors[0] and "holds no backtests yet" in errors[0] and HOW in errors[0]
    assert wb.open(home, read_only=True).ingest_log().height == 0  # nothing was ingested for the report
