"""Trading Research Workbench: ingest platform exports, analyse trades, sweep and optimise strategies.

>>> import workbench as wb
>>> ws = wb.open()
"""

from __future__ import annotations

from workbench.errors import DataError, WorkbenchError
from workbench.workspace import Workspace, open_workspace

open = open_workspace  # noqa: A001 - `wb.open()` is the documented entry point

__all__ = ["open", "open_workspace", "Workspace", "WorkbenchError", "DataError", "__version__"]
__version__ = "0.1.0"
