"""Paper sessions and the kill switch behind the API: a thin adapter over :mod:`workbench.paper` and
:mod:`workbench.risk`. Without them in this build the paper routes answer 501 with a one-line error."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from prometheus_client.core import Metric

__all__ = ["PaperHub", "Unavailable"]


class Unavailable(Exception):
    """Paper trading is not part of this build (or could not be imported)."""


class PaperHub:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        try:
            self._paper = importlib.import_module("workbench.paper")
            self._risk = importlib.import_module("workbench.risk")
            self.reason = ""
        except ImportError as e:
            self._paper = self._risk = None
            self.reason = f"paper trading is not available in this build ({e})"

    @property
    def available(self) -> bool:
        return self._paper is not None

    def _need(self) -> None:
        if not self.available:
            raise Unavailable(self.reason)

    def sessions(self) -> list[dict[str, Any]]:
        return []

    def start(self, request: dict[str, Any], by: str) -> dict[str, Any]:
        self._need()
        raise Unavailable("paper sessions are not wired to the service yet")

    def stop(self, name: str, by: str) -> dict[str, Any]:
        self._need()
        raise Unavailable("paper sessions are not wired to the service yet")

    def status(self, name: str) -> dict[str, Any]:
        self._need()
        raise Unavailable("paper sessions are not wired to the service yet")

    def kill_switch(self) -> dict[str, Any]:
        self._need()
        raise Unavailable("the kill switch is not wired to the service yet")

    def trip(self, reason: str, state: str, by: str) -> dict[str, Any]:
        self._need()
        raise Unavailable("the kill switch is not wired to the service yet")

    def resume(self, reason: str, by: str) -> dict[str, Any]:
        self._need()
        raise Unavailable("the kill switch is not wired to the service yet")

    def checks(self) -> list[tuple[str, bool, str]]:
        """Readiness checks of the running sessions: (name, ok, detail)."""
        return []

    def metrics(self) -> Iterable[Metric]:
        return ()

    def close(self) -> None:
        pass
