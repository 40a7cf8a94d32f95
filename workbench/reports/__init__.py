"""Reports: parameterised notebooks rendered to self-contained HTML, and what they draw with.

>>> from workbench.reports import render, render_many, Job
>>> render("backtest", {"backtest_id": 3}, "out/backtest-3.html").job.output
>>> render_many([Job(...), ...], "out/")          # parallel, with out/index.html

The report notebooks live in notebooks/reports/; :mod:`workbench.reports.charts` builds their
HoloViews charts (shared with the Panel dashboards), :mod:`workbench.reports.static` embeds them as
inline Bokeh, :mod:`workbench.reports.optimization` analyses stored optimisation rows.
The CLI skin is ``workbench report`` (workbench/cli/report.py).

Reports and dashboards read the workspace through :func:`report_workspace`, read-only: an empty or
missing workspace is an :class:`EmptyWorkspaceError` that says how to ingest, never a reason to
load anything into it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from workbench.errors import WorkbenchError
from workbench.reports.render import REPORTS_DIR, Batch, Job, Rendered, render, render_many, resolve_notebook

if TYPE_CHECKING:
    from workbench.workspace import Workspace

__all__ = [
    "REPORTS_DIR",
    "INGEST_HINT",
    "Batch",
    "EmptyWorkspaceError",
    "Job",
    "Rendered",
    "render",
    "render_many",
    "resolve_notebook",
    "report_workspace",
]

INGEST_HINT = (
    "ingest exports first: `workbench ingest PATH` (files or folders; `workbench demo` loads the samples "
    "in data/samples), or `ws.ingest([PATH])` in Python"
)

Holding = Literal["backtests", "optimizations"]


class EmptyWorkspaceError(WorkbenchError):
    """The workspace holds nothing to show (or does not exist yet); the message says how to ingest.

    Not a :class:`~workbench.errors.StoreError`: a workspace that cannot be opened (another process's
    lock, a newer schema) raises that instead, and is never taken for an empty one.
    """

    def __init__(self, home: str | Path, holding: Holding = "backtests", *, exists: bool = True) -> None:
        self.home = Path(home)
        self.holding = holding
        state = f"holds no {holding} yet" if exists else "does not exist yet"
        also = "; or run a search: `workbench optimize ...`" if holding == "optimizations" else ""
        super().__init__(f"the workspace {self.home} {state}; {INGEST_HINT}{also}")

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the one line."""
        return [f"{type(self).__name__}: {self}"]


def report_workspace(home: str | Path | None = None, *, holding: Holding | None = None) -> Workspace:
    """The workspace a report or dashboard reads, opened read-only; nothing is ever ingested into it.

    ``home`` defaults to ``$WORKBENCH_HOME`` (else ./data/lake). Raises :class:`EmptyWorkspaceError`
    when there is no workspace at ``home`` or, with ``holding``, when it holds no backtests
    (optimisations); a workspace that exists but cannot be opened raises
    :class:`~workbench.errors.StoreError` (one line: the lock or the schema version).
    """
    from workbench.config import settings
    from workbench.store import CATALOG
    from workbench.workspace import open_workspace

    folder = Path(home) if home else settings().home
    if not (folder / CATALOG).exists():
        raise EmptyWorkspaceError(folder.resolve(), holding or "backtests", exists=False)
    ws = open_workspace(folder, read_only=True)
    if holding is not None:
        listed = ws.backtests() if holding == "backtests" else ws.optimizations()
        if listed.height == 0:
            raise EmptyWorkspaceError(ws.home.resolve(), holding)
    return ws
