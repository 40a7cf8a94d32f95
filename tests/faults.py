"""Fault injection for the crash tests, kept out of the product: run the CLI with a fault installed.

    python tests/faults.py kill:before-commit -- ingest FILE --json

``kill:before-commit`` SIGKILLs the process when a store transaction is about to commit (after every
insert of the file, before COMMIT), by wrapping the DuckDB connections the store opens. The product's
code has no hook for it: this script patches ``duckdb.connect`` in its own process, then runs
``python -m workbench`` with the remaining arguments.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
from typing import Any

import duckdb


class _KillOnCommit:
    """A DuckDB connection whose ``commit`` kills the process instead (everything else delegates)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def __enter__(self) -> _KillOnCommit:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()

    def commit(self) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


def install(fault: str) -> None:
    if fault != "kill:before-commit":
        raise SystemExit(f"faults.py: unknown fault {fault!r} (known: kill:before-commit)")
    real_connect = duckdb.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        return _KillOnCommit(real_connect(*args, **kwargs))

    duckdb.connect = connect  # the store calls duckdb.connect(...) through the module


def main() -> None:
    fault, sep, *rest = sys.argv[1:]
    if sep != "--":
        raise SystemExit("usage: faults.py FAULT -- WORKBENCH ARGS...")
    install(fault)
    sys.argv = ["workbench", *rest]
    runpy.run_module("workbench", run_name="__main__")


if __name__ == "__main__":
    main()
