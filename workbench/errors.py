"""The whole error hierarchy of the workbench.

Every message is one line: what failed, the bad value, and the fix. The CLI turns any
``WorkbenchError`` into ``error: <message>`` on stderr and a non-zero exit code.
"""

from __future__ import annotations

__all__ = [
    "WorkbenchError",
    "ConfigError",
    "DataError",
    "StoreError",
    "StrategyError",
    "RegistryError",
    "MissingDependencyError",
]


class WorkbenchError(Exception):
    """Base class: an error the user can act on, shown as one line."""


class ConfigError(WorkbenchError):
    """A setting or argument is invalid."""


class DataError(WorkbenchError):
    """An input file or frame is invalid. ``str()`` is ``<file>:<where>: <what>``."""

    def __init__(self, what: str, *, file: str = "<input>", where: str = "-") -> None:
        self.file = file
        self.where = where
        self.what = " ".join(str(what).split())  # always one line
        super().__init__(f"{file}:{where}: {self.what}")

    def located(self, file: str) -> DataError:
        """The same error, naming ``file`` (parsers raise before they know the path)."""
        return DataError(self.what, file=file, where=self.where)


class StoreError(WorkbenchError):
    """The workspace store cannot be opened or written."""


class StrategyError(WorkbenchError):
    """A strategy or its parameters are invalid."""


class RegistryError(WorkbenchError):
    """An unknown name was looked up in a registry."""


class MissingDependencyError(WorkbenchError):
    """An optional extra is not installed; the message names the pip command."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(f"{module} is not installed; run: pip install 'workbench[{extra}]'")
