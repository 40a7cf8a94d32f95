"""The strategy library: every public module in this folder registers one strategy on import.

Add a strategy by dropping a module here (see docs/strategies.md); nothing else needs to change.
"""

from __future__ import annotations

import importlib
import pkgutil

for _mod in pkgutil.iter_modules(__path__):
    if not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")
