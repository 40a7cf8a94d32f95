"""Fault injection for the crash tests, kept out of the product: run the CLI with a fault installed.

    python tests/faults.py kill:before-commit -- ingest FILE --json
    python tests/faults.py kill:after-trials:2 -- optimize --strategy sma_cross ... --json

* ``kill:before-commit`` SIGKILLs the process when a store transaction is about to commit (after every
  insert of the file, before COMMIT), by wrapping the DuckDB connections the store opens.
* ``kill:after-trials:N`` SIGKILLs the ``workbench optimize`` driver once N Tune trial results have
  arrived in this process and Tune's experiment state on disk records N finished trials: the
  interrupted run a resume must pick up. It wraps the driver's progress listener
  (``workbench.optimize.tune._Listener``) and has Tune write its experiment state at every step
  (``TUNE_GLOBAL_CHECKPOINT_S=0``); when the next result arrives (in Tune's loop, before it is
  handled) the state on disk is read and the driver killed, so no further trial finishes in between,
  however fast the trials are. A watcher thread does the same when no further result comes.

The product's code has no hook for either: this script patches the library in its own process, then
runs ``python -m workbench`` with the remaining arguments.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import threading
import time
from pathlib import Path
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


def finished_on_disk(path: Path) -> int:
    """Trials recorded as finished in the newest experiment-state file of ``path`` (0 if none yet).
    Tune's format: ``trial_data`` = [[trial state JSON, run metadata JSON], ...]."""
    try:
        newest = max(path.glob("experiment_state-*.json"))
        state = json.loads(newest.read_text(encoding="utf-8"))
    except (ValueError, OSError):  # none yet, or being replaced
        return 0
    return sum(json.loads(s).get("status") == "TERMINATED" for s, _ in state.get("trial_data", []))


def _kill_after_trials(n: int) -> None:
    from workbench.optimize import tune

    listener = tune._Listener
    seen = {"results": 0, "here": 0, "restored": 0, "path": None}
    armed = threading.Event()

    def start(self: Any, path: Path) -> None:
        seen.update(path=path, here=0, restored=0)
        listener_start(self, path)

    def restored(self: Any, trials: list[Any]) -> None:
        seen["restored"] = sum(t.status == "TERMINATED" for t in trials)
        listener_restored(self, trials)

    def recorded() -> bool:  # the state on disk records N finished trials (or all that arrived, if fewer)
        path = seen["path"]
        return path is not None and finished_on_disk(path) >= seen["restored"] + min(seen["here"], n)

    def result(self: Any, result: Any) -> None:
        if seen["results"] >= n and recorded():  # a result after the Nth: stop before it is handled
            os.kill(os.getpid(), signal.SIGKILL)
        listener_result(self, result)
        seen["results"] += 1
        seen["here"] += 1
        if seen["results"] >= n:
            armed.set()

    def watch() -> None:  # no further result (the last trials): poll the state on disk
        armed.wait()
        while True:
            if recorded():
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(0.05)

    os.environ["TUNE_GLOBAL_CHECKPOINT_S"] = "0"  # the experiment state written at every step of Tune's loop

    listener_start, listener_restored, listener_result = listener.start, listener.restored, listener.result
    listener.start, listener.restored, listener.result = start, restored, result  # type: ignore[method-assign]
    threading.Thread(target=watch, name="fault-kill-after-trials", daemon=True).start()


def _kill_before_commit() -> None:
    real_connect = duckdb.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        return _KillOnCommit(real_connect(*args, **kwargs))

    duckdb.connect = connect  # the store calls duckdb.connect(...) through the module


def install(fault: str) -> None:
    if fault == "kill:before-commit":
        return _kill_before_commit()
    kind, _, count = fault.rpartition(":")
    if kind == "kill:after-trials" and count.isdigit() and int(count) >= 1:
        return _kill_after_trials(int(count))
    raise SystemExit(f"faults.py: unknown fault {fault!r} (known: kill:before-commit, kill:after-trials:N)")


def main() -> None:
    fault, sep, *rest = sys.argv[1:]
    if sep != "--":
        raise SystemExit("usage: faults.py FAULT -- WORKBENCH ARGS...")
    install(fault)
    sys.argv = ["workbench", *rest]
    runpy.run_module("workbench", run_name="__main__")


if __name__ == "__main__":
    main()
