"""The application factory: state, middleware (request metrics, body limits), auth, the open routes
(/health, /ready, /metrics) and the authenticated ones (:mod:`workbench.service._gateway`)."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import workbench
from workbench.service._auth import Authenticator, AuthError, Caller
from workbench.service._config import ServiceConfig
from workbench.service._errors import ERRORS, install
from workbench.service._jobs import JobRunner
from workbench.service._limits import BodyLimit, RateLimiter
from workbench.service._metrics import CONTENT_TYPE, CatalogCounts, Metrics
from workbench.service._models import Check, Health, Ready
from workbench.service._paper import PaperHub
from workbench.store import Q

__all__ = ["create_app", "State"]

log = logging.getLogger("workbench.service")

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


@dataclass
class State:
    """What the routes share: the workspace, config, metrics, jobs, paper sessions."""

    config: ServiceConfig
    ws: Any
    auth: Authenticator
    limiter: RateLimiter
    metrics: Metrics
    jobs: JobRunner
    paper: PaperHub
    started: float

    @property
    def uptime_s(self) -> float:
        return round(time.monotonic() - self.started, 3)


def state(request: Request) -> State:
    return request.app.state.wb


_bearer = HTTPBearer(auto_error=False, description="the API token, or a JWT (HS256) signed with it")


def caller(request: Request, _doc: Annotated[Any, Depends(_bearer)]) -> Caller:
    """Authenticate, then take a token from the caller's bucket (failed attempts: the client address')."""
    st = state(request)
    host = request.client.host if request.client else "?"
    try:
        who = st.auth.authenticate(request.headers.get("authorization"))
    except AuthError as e:
        _limit(st, f"addr:{host}")
        raise HTTPException(401, str(e), headers={"WWW-Authenticate": "Bearer"}) from None
    _limit(st, f"id:{who.identity}")
    request.state.caller = who
    return who


def _limit(st: State, key: str) -> None:
    wait = st.limiter.allow(key)
    if wait > 0:
        raise HTTPException(
            429,
            f"rate limit of {st.limiter.rate:g} requests/s exceeded; retry in {wait:.2f} s",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


class _HttpMetrics:
    """Counts every answer by method, route template and status; times it by route."""

    def __init__(self, app: ASGIApp, owner: FastAPI) -> None:
        self.app = app
        self.owner = owner

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:  # answered before routing (body limits) or no route matched
            for r in self.owner.router.routes:
                if r.matches(scope)[0] is Match.FULL:
                    route = r
                    break
        return getattr(route, "path", "unmatched")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            metrics: Metrics = self.owner.state.wb.metrics
            route = self._route(scope)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            metrics.http_requests.labels(method, route, str(status)).inc()
            metrics.http_duration.labels(route).observe(time.perf_counter() - started)


def _catalog(ws: Any):
    def read() -> CatalogCounts:
        with ws.store.connect() as con:
            files = con.execute(Q.service_ingest_counts).fetchall()
            backtests, trials = con.execute(Q.service_catalog_counts).fetchall()[0]
        by_status = {status: int(n) for status, n, _ in files}
        rows = sum(int(r) for status, _, r in files if status == "ingested")
        return CatalogCounts(by_status, rows, int(backtests), int(trials))

    return read


def _job_metrics(st_ref: list[State]):
    from prometheus_client.core import GaugeMetricFamily

    def produce():
        if not st_ref:
            return
        g = GaugeMetricFamily(
            "workbench_jobs", "background jobs known to the service, by status", labels=["status"]
        )
        for status, n in st_ref[0].jobs.counts().items():
            g.add_metric([status], float(n))
        yield g

    return produce


def create_app(config: ServiceConfig, *, ws: Any = None) -> FastAPI:
    """The FastAPI app of ``workbench api`` over the workspace ``ws`` (default: ``config.home``)."""
    if ws is None:
        from workbench.workspace import open_workspace

        ws = open_workspace(config.home)
    ref: list[State] = []
    paper = PaperHub(ws, feed_stale_s=config.feed_stale_s)
    metrics = Metrics(_catalog(ws), extra=[_job_metrics(ref), paper.metrics])
    env = {**os.environ, "WORKBENCH_HOME": str(ws.home)}
    st = State(
        config=config,
        ws=ws,
        auth=Authenticator(config.token if config.auth else None),
        limiter=RateLimiter(config.rate, config.bucket_size),
        metrics=metrics,
        jobs=JobRunner(ws.home / "service" / "jobs", env=env),
        paper=paper,
        started=time.monotonic(),
    )
    ref.append(st)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if config.resume_sessions:
            resumed = st.paper.resume_interrupted("workbench api (resumed at start)")
            log.warning("resumed paper sessions interrupted by a crash: %s", ", ".join(resumed) or "none")
        yield
        st.paper.close()
        st.jobs.close()

    app = FastAPI(
        title="Trading Research Workbench API",
        version=workbench.__version__,
        description="Health, readiness, status and metrics of the workbench service, and a gateway over "
        "the library (ingest, backtests, sweeps, optimisations, questions, paper trading, kill switch). "
        "Every route but /health, /ready and /metrics needs a bearer token. Errors are one line: "
        '{"error": "..."}. See docs/service.md.',
        lifespan=lifespan,
    )
    app.state.wb = st
    install(app)
    upload_limit, body_limit = config.max_upload_bytes, config.max_body_bytes
    app.add_middleware(BodyLimit, limit_for=lambda path: upload_limit if path == "/ingest" else body_limit)
    app.add_middleware(_HttpMetrics, owner=app)

    app.include_router(_open_router())
    from workbench.service._gateway import router as gateway

    app.include_router(gateway, dependencies=[Depends(caller)], responses=ERRORS)
    return app


def _open_router() -> APIRouter:
    r = APIRouter(tags=["operations"])

    @r.get("/health", response_model=Health, summary="liveness: the process answers")
    async def health(request: Request) -> dict[str, Any]:
        return {"status": "ok", "uptime_s": state(request).uptime_s, "version": workbench.__version__}

    @r.get(
        "/ready",
        response_model=Ready,
        summary="readiness: store open; each paper session's model loaded and fresh, feed connected and fresh",
        responses={503: {"model": Ready, "description": "not ready: `reasons` says why"}},
    )
    def ready(request: Request) -> JSONResponse:
        st = state(request)
        checks = [_store_check(st), *(Check(name=n, ok=ok, detail=d) for n, ok, d in st.paper.checks())]
        reasons = [f"{c.name}: {c.detail}" for c in checks if not c.ok]
        body = Ready(ready=not reasons, checks=checks, reasons=reasons)
        return JSONResponse(body.model_dump(), status_code=200 if not reasons else 503)

    @r.get(
        "/metrics",
        summary="Prometheus metrics (text format 0.0.4)",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}}},
    )
    def metrics(request: Request) -> Response:
        return Response(state(request).metrics.render(), media_type=CONTENT_TYPE)

    return r


def _store_check(st: State) -> Check:
    try:
        st.ws.store.scalar("SELECT 1")
    except Exception as e:  # noqa: BLE001 - readiness reports, never raises
        return Check(name="store", ok=False, detail=" ".join(str(e).split())[:300])
    return Check(name="store", ok=True, detail=f"catalog {st.ws.store.catalog} open")
