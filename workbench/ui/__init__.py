"""Notebook widgets: thin ipywidgets skins over the :class:`~workbench.workspace.Workspace` API.

>>> import workbench as wb
>>> from workbench.ui import IngestWidget
>>> w = IngestWidget(wb.open())
>>> w.ingest_paths(["exports/"])   # same as typing the path and clicking "Ingest"
>>> w                              # displays the widget in a notebook

Widgets need the ``notebook`` extra (ipywidgets, hvplot); they are imported on first use so that
``import workbench.ui`` works without it.

Importing this package in a Jupyter kernel makes every chart and widget load its JavaScript from the
installed packages instead of a CDN, so notebooks work with the network cut off
(:mod:`workbench.ui.notebook`).
"""

from __future__ import annotations

import importlib
from typing import Any

from workbench.ui import notebook

__all__ = [
    "IngestWidget",
    "ChatWidget",
    "OverviewDashboard",
    "OptimizationDashboard",
    "BacktestWidget",
    "OptimizeWidget",
    "MLWidget",
    "InferWidget",
    "PaperWidget",
    "PaperDashboard",
    "equity_chart",
    "notebook",
]

# public name -> module that defines it
_WIDGETS: dict[str, str] = {
    "IngestWidget": "workbench.ui.ingest",
    "ChatWidget": "workbench.ui.chat",
    "OverviewDashboard": "workbench.ui.dashboards",
    "OptimizationDashboard": "workbench.ui.dashboards",
    "BacktestWidget": "workbench.ui.backtest",
    "OptimizeWidget": "workbench.ui.optimize",
    "MLWidget": "workbench.ui.ml",
    "InferWidget": "workbench.ui.infer",
    "PaperWidget": "workbench.ui.paper",
    "PaperDashboard": "workbench.ui.paper",
    "equity_chart": "workbench.ui.ingest",
}

if notebook.in_kernel():
    notebook.use_local_resources()  # before any chart or hv.extension call in this kernel


def __getattr__(name: str) -> Any:
    module = _WIDGETS.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.ui' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
