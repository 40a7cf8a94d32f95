"""Reports: parameterised notebooks rendered to self-contained HTML, and what they draw with.

>>> from workbench.reports import render, render_many, Job
>>> render("backtest", {"backtest_id": 3}, "out/backtest-3.html").job.output
>>> render_many([Job(...), ...], "out/")          # parallel, with out/index.html

The report notebooks live in notebooks/reports/; :mod:`workbench.reports.charts` builds their
HoloViews charts (shared with the Panel dashboards), :mod:`workbench.reports.static` embeds them as
inline Bokeh, :mod:`workbench.reports.optimization` analyses stored optimisation rows.
The CLI skin is ``workbench report`` (workbench/cli/report.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.reports.render import REPORTS_DIR, Batch, Job, Rendered, render, render_many, resolve_notebook

__all__ = [
    "REPORTS_DIR",
    "Batch",
    "Job",
    "Rendered",
    "render",
    "render_many",
    "resolve_notebook",
    "report_workspace",
    "fixtures_folder",
]

_ROOT = Path(__file__).resolve().parents[2]


def fixtures_folder(extra: Iterable[str | Path] = ()) -> Path | None:
    """$WORKBENCH_FIXTURES, else the given candidates, else the shared real exports beside the repo."""
    candidates = [os.environ.get("WORKBENCH_FIXTURES"), *extra, _ROOT.parent / "shared" / "fixtures" / "real"]
    for c in candidates:
        if c and Path(c).is_dir() and any(Path(c).iterdir()):
            return Path(c).resolve()
    return None


def report_workspace(home: str | Path | None = None, *, fixtures: Iterable[str | Path] = ()):
    """The workspace a report or dashboard reads, opened read-only.

    When it is missing or holds no backtest (a fresh ``WORKBENCH_HOME``, as in the notebook tests),
    the exports of :func:`fixtures_folder` are ingested first so the notebook has something to show.
    """
    from workbench.workspace import open_workspace

    try:
        ws = open_workspace(home, read_only=True)
        empty = ws.backtests().height == 0 and ws.optimizations().height == 0
    except WorkbenchError:
        empty = True
    if empty:
        folder = fixtures_folder(fixtures)
        if folder is None:
            raise WorkbenchError(
                "the workspace is empty and no exports were found to ingest; "
                "set WORKBENCH_FIXTURES or run `workbench ingest` first"
            )
        open_workspace(home).ingest([folder])
        ws = open_workspace(home, read_only=True)
    return ws
