"""The workbench as a service: ``workbench api`` (FastAPI + uvicorn).

Open routes: ``/health`` (liveness), ``/ready`` (readiness with reasons), ``/metrics`` (Prometheus).
Everything else needs ``Authorization: Bearer <token>``: ``/status`` and a gateway over the library
(ingest an upload, backtests and their metrics, sweeps, Ray Tune optimisations as background jobs,
questions, paper sessions, the kill switch). See docs/service.md and ADR 0013.

>>> from workbench.service import ServiceConfig, create_app
>>> app = create_app(ServiceConfig(token="0" * 32))      # doctest: +SKIP
"""

from __future__ import annotations

from workbench.service._app import create_app
from workbench.service._auth import Caller, issue_token
from workbench.service._config import MIN_TOKEN_CHARS, ServiceConfig

__all__ = ["ServiceConfig", "create_app", "issue_token", "Caller", "MIN_TOKEN_CHARS"]
