"""Every error the API answers is one line of JSON, ``{"error": "..."}``; no traceback reaches a client."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from workbench.errors import (
    ConfigError,
    DataError,
    MissingDependencyError,
    RegistryError,
    StoreError,
    StrategyError,
    WorkbenchError,
)
from workbench.service._models import ErrorBody
from workbench.service._paper import Conflict, NotFound, Unavailable

__all__ = ["install", "one_line", "ERRORS"]

log = logging.getLogger("workbench.service")

# Status of each library error (the most specific class wins).
_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (Unavailable, 501),
    (MissingDependencyError, 501),
    (StoreError, 503),
    (RegistryError, 400),
    (StrategyError, 400),
    (ConfigError, 400),
    (DataError, 400),
    (WorkbenchError, 400),
)

# Documented on every authenticated route (schemathesis checks answers against these).
ERRORS = {
    400: {"model": ErrorBody, "description": "the request is valid JSON but the library refused it"},
    401: {"model": ErrorBody, "description": "missing, malformed, invalid or expired bearer token"},
    413: {"model": ErrorBody, "description": "request body or upload too large"},
    422: {"model": ErrorBody, "description": "the request does not match the schema"},
    429: {"model": ErrorBody, "description": "rate limit: retry after Retry-After seconds"},
    500: {"model": ErrorBody, "description": "internal error (details in the service log only)"},
    501: {"model": ErrorBody, "description": "a capability not in this build (paper trading, an extra)"},
    503: {"model": ErrorBody, "description": "the workspace catalog cannot be opened (locked, damaged)"},
}


def one_line(text: object, limit: int = 500) -> str:
    return " ".join(str(text).split())[:limit]


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": one_line(message)}, status_code=status, headers=headers)


def _validation(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:3]:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def install(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, _validation(exc))

    @app.exception_handler(WorkbenchError)
    async def _library(request: Request, exc: WorkbenchError) -> JSONResponse:
        status = next(s for cls, s in _STATUS if isinstance(exc, cls))
        return error(status, str(exc))

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        return error(501, str(exc))

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        return error(409, str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return error(404, str(exc))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return error(500, f"internal error ({type(exc).__name__}); see the service log")
