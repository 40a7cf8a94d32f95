"""The authenticated routes: a gateway over the same library functions the CLI calls
(:class:`workbench.workspace.Workspace`, :func:`workbench.optimize.run_sweep`, ``workbench optimize``,
:func:`workbench.rag.ask`, :mod:`workbench.paper`, :mod:`workbench.risk`)."""

from __future__ import annotations

import datetime as dt
import math
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi import Path as PathParam
from starlette.exceptions import HTTPException

import workbench
from workbench.errors import ConfigError, DataError
from workbench.service._jobs import cli_argv
from workbench.service._models import (
    AskRequest,
    ErrorBody,
    JobBody,
    JobList,
    OptimizeRequest,
    PaperStartRequest,
    ResumeRequest,
    SweepRequest,
    TripRequest,
)

__all__ = ["router", "jsonable", "grid_items"]

router = APIRouter()
Obj = dict[str, Any]

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_MAGIC = {".xlsx": b"PK\x03\x04", ".parquet": b"PAR1"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def _st(request: Request):
    return request.app.state.wb


def _who(request: Request) -> str:
    return request.state.caller.identity


def jsonable(value: Any) -> Any:
    """JSON-safe: datetimes ISO 8601, non-finite floats None (as ``--json`` writes them), numpy scalars."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return jsonable(value.item())
    return value


# -- status ------------------------------------------------------------------------------------------
@router.get(
    "/status",
    tags=["operations"],
    summary="service, jobs, paper sessions (positions, equity, decisions, risk)",
)
def status(request: Request) -> Obj:
    st = _st(request)
    return jsonable(
        {
            "service": {
                "version": workbench.__version__,
                "uptime_s": st.uptime_s,
                "workspace": str(st.ws.home),
                "auth": st.auth.enabled,
                "rate_per_s": st.limiter.rate,
                "caller": _who(request),
            },
            "jobs": st.jobs.counts(),
            "paper": {
                "available": st.paper.available,
                "reason": st.paper.reason,
                "sessions": st.paper.sessions(),
            },
        }
    )


# -- ingest ------------------------------------------------------------------------------------------
@router.post(
    "/ingest",
    tags=["gateway"],
    summary="upload one export and ingest it (as `workbench ingest FILE --json`)",
    responses={415: {"model": ErrorBody, "description": "not a file type the workbench reads"}},
)
def ingest(
    request: Request,
    file: Annotated[
        UploadFile, File(description="an export (htm, html, xml, csv, txt, json, cbotset, xlsx, parquet)")
    ],
    strict: Annotated[
        bool | None, Query(description="reject files with platform quirks (default $WORKBENCH_STRICT)")
    ] = None,
) -> Obj:
    st = _st(request)
    name = _SAFE_NAME.sub("_", Path(file.filename or "").name).strip(" .")[:128]
    suffix = Path(name).suffix.lower()
    if suffix not in st.config.upload_suffixes:
        raise HTTPException(
            415,
            f"{name or 'the upload'}: not an export the workbench reads (allowed: {', '.join(st.config.upload_suffixes)})",
        )
    head = file.file.read(8192)
    file.file.seek(0)
    if not head:
        raise HTTPException(400, f"{name}: the file is empty")
    magic = _MAGIC.get(suffix)
    if magic is not None and not head.startswith(magic):
        raise HTTPException(415, f"{name}: not a {suffix} file (content does not start like one)")
    if magic is None and b"\x00" in head and not head.startswith(_UTF16_BOMS):
        raise HTTPException(
            415, f"{name}: binary content in a text export ({suffix}); upload the file as exported"
        )
    folder = st.ws.home / "service" / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        path = folder / name
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1024 * 1024)
        report = st.ws.ingest([path], strict=strict)  # index: WORKBENCH_AUTO_INDEX, as the CLI
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the store keeps raw/<sha256> of what it took
    data = report.to_dict()
    for f in data.get("files", []):
        f["path"] = name
    return jsonable(data)


# -- backtests ---------------------------------------------------------------------------------------
@router.get("/backtests", tags=["gateway"], summary="stored backtests (as `workbench backtests --json`)")
def backtests(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Obj:
    frame = _st(request).ws.backtests()
    return jsonable({"backtests": frame.slice(offset, limit).to_dicts(), "total": frame.height})


@router.get(
    "/backtests/{backtest_id}/metrics",
    tags=["gateway"],
    summary="metrics of one backtest, recomputed from its trades (as `workbench metrics ID --json`)",
    responses={404: {"model": ErrorBody, "description": "no backtest with this id"}},
)
def metrics(request: Request, backtest_id: Annotated[int, PathParam(ge=0, le=2**62)]) -> Obj:
    try:
        return jsonable(_st(request).ws.metrics_report(backtest_id))
    except DataError as e:
        raise HTTPException(404, str(e)) from None


# -- sweeps and optimisations ------------------------------------------------------------------------
def grid_items(params: dict[str, Any], max_combos: int) -> list[str]:
    """``{"fast": "5:50:5", "slow": [30, 50]}`` -> ``["fast=5:50:5", "slow=30,50"]`` (the CLI's
    ``--param`` items), refusing grids of more than ``max_combos`` combinations before any list is built."""
    items, combos = [], 1
    for name, spec in params.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
            raise ConfigError(f"parameter name {name!r}: letters, digits and _ only")
        if isinstance(spec, list):
            if not spec:
                raise ConfigError(f"parameter {name}: empty list of values")
            text, count = ",".join(str(v) for v in spec), len(spec)
        else:
            text = str(spec).strip()
            count = _range_count(name, text) if ":" in text else len(text.split(","))
        combos *= count
        if combos > max_combos:
            raise ConfigError(f"the grid has more than {max_combos} combinations; narrow the ranges")
        items.append(f"{name}={text}")
    return items


def _range_count(name: str, text: str) -> int:
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        raise ConfigError(f"parameter {name}={text!r}: not a number range start:stop[:step]") from None
    if len(parts) not in (2, 3) or not all(math.isfinite(p) for p in parts):
        raise ConfigError(f"parameter {name}={text!r}: expected start:stop[:step]")
    step = parts[2] if len(parts) == 3 else 1.0
    if step <= 0 or parts[1] < parts[0]:
        raise ConfigError(f"parameter {name}={text!r}: need start <= stop and step > 0")
    return int(math.floor((parts[1] - parts[0]) / step + 1e-9)) + 1


def _engine(req: SweepRequest) -> dict[str, Any]:
    return req.model_dump(
        include={
            "fill",
            "direction",
            "commission",
            "spread",
            "slippage",
            "size",
            "stop_loss",
            "take_profit",
            "trailing_stop",
            "contract",
            "cash",
        }
    )


@router.post(
    "/sweeps",
    tags=["gateway"],
    summary="sweep a parameter grid on stored bars (as `workbench backtest --json`)",
)
def sweep(request: Request, body: SweepRequest) -> Obj:
    from workbench.backtest import parse_grid
    from workbench.optimize import run_sweep

    st = _st(request)
    grid = parse_grid(grid_items(body.params, st.config.max_combos))
    out = run_sweep(st.ws, body.strategy, body.data, grid, rank_by=body.rank_by, **_engine(body))
    return jsonable(out.to_dict())


@router.post(
    "/optimizations",
    tags=["gateway"],
    status_code=202,
    response_model=JobBody,
    summary="submit a Ray Tune search (`workbench optimize --json`, RAY_ADDRESS or --address) as a background job",
)
def optimize(request: Request, body: OptimizeRequest) -> Obj:
    from workbench.backtest import get_strategy
    from workbench.optimize import parse_objectives

    st = _st(request)
    items = grid_items(body.params, st.config.max_combos)
    get_strategy(body.strategy)  # unknown names fail now, not in the job
    parse_objectives(body.objectives)
    series = {f"{s}:{t}" for s, t in st.ws.bar_series().select("symbol", "timeframe").iter_rows()}
    if body.data not in series:
        raise DataError(
            f"no bars for {body.data} (stored: {', '.join(sorted(series)) or 'none'}); ingest bars or run "
            "`workbench data samples`",
            file=str(st.ws.home),
            where="bars",
        )
    # --flag=value: a value starting with '-' stays a value (no shell is involved: an argv list)
    args = ["optimize", f"--strategy={body.strategy}", f"--data={body.data}"]
    args += [f"--param={item}" for item in items]
    args += [f"--objective={objective}" for objective in body.objectives]
    args += [f"--algo={body.algo}", f"--trials={body.trials}", f"--walk-forward={body.walk_forward}"]
    args += [f"--seed={body.seed}"]
    args += [
        f"--{key.replace('_', '-')}={value}" for key, value in _engine(body).items() if value is not None
    ]
    if body.address:
        args.append(f"--address={body.address}")
    job = st.jobs.submit("optimize", cli_argv(*args, "--json"), body.model_dump(), _who(request))
    return _job(job)


def _job(job) -> Obj:
    return jsonable({k: v for k, v in job.to_dict().items() if k != "argv"})


@router.get("/jobs", tags=["gateway"], response_model=JobList, summary="background jobs")
def jobs(request: Request) -> Obj:
    return {"jobs": [_job(j) for j in _st(request).jobs.list()]}


@router.get(
    "/jobs/{job_id}",
    tags=["gateway"],
    response_model=JobBody,
    summary="one job: status, result or one-line error",
    responses={404: {"model": ErrorBody, "description": "no such job"}},
)
def job(request: Request, job_id: Annotated[str, PathParam(max_length=64)]) -> Obj:
    found = _st(request).jobs.get(job_id)
    if found is None:
        raise HTTPException(404, f"no job {job_id!r} (see GET /jobs)")
    return _job(found)


# -- questions ---------------------------------------------------------------------------------------
@router.post(
    "/ask", tags=["gateway"], summary="ask a question about the stored trades (as `workbench ask --json`)"
)
def ask(request: Request, body: AskRequest) -> Obj:
    from workbench.rag import ask as ask_

    st = _st(request)
    started = time.perf_counter()
    try:
        answer = ask_(st.ws, body.question, body.backtest_id, k=body.k, use_llm=body.use_llm)
    finally:
        st.metrics.rag_duration.observe(time.perf_counter() - started)
    return jsonable(answer.to_dict())


# -- paper trading and the kill switch ----------------------------------------------------------------
_PAPER_ERRORS = {
    404: {"model": ErrorBody, "description": "no such session"},
    409: {"model": ErrorBody, "description": "a session of that name is already running"},
    501: {"model": ErrorBody, "description": "paper trading is not part of this build"},
}


@router.get("/paper/sessions", tags=["paper"], summary="paper sessions", responses=_PAPER_ERRORS)
def paper_sessions(request: Request) -> Obj:
    st = _st(request)
    return jsonable({"available": st.paper.available, "sessions": st.paper.sessions()})


@router.post(
    "/paper/sessions",
    tags=["paper"],
    status_code=201,
    summary="start a paper session",
    responses=_PAPER_ERRORS,
)
def paper_start(request: Request, body: PaperStartRequest) -> Obj:
    return jsonable(_st(request).paper.start(body.model_dump(), _who(request)))


@router.get("/paper/sessions/{name}", tags=["paper"], summary="one session's status", responses=_PAPER_ERRORS)
def paper_status(request: Request, name: Annotated[str, PathParam(max_length=100)]) -> Obj:
    return jsonable(_st(request).paper.status(name))


@router.post(
    "/paper/sessions/{name}/resume",
    tags=["paper"],
    status_code=201,
    summary="continue a stored session in this service (after a stop, a restart or kill -9)",
    responses=_PAPER_ERRORS,
)
def paper_resume(request: Request, name: Annotated[str, PathParam(max_length=100)]) -> Obj:
    return jsonable(_st(request).paper.resume(name, _who(request)))


@router.post("/paper/sessions/{name}/stop", tags=["paper"], summary="stop a session", responses=_PAPER_ERRORS)
def paper_stop(request: Request, name: Annotated[str, PathParam(max_length=100)]) -> Obj:
    return jsonable(_st(request).paper.stop(name, _who(request)))


@router.get(
    "/risk/kill-switch", tags=["paper"], summary="kill switch state and audit trail", responses=_PAPER_ERRORS
)
def kill_switch(request: Request) -> Obj:
    return jsonable(_st(request).paper.kill_switch())


@router.post(
    "/risk/kill-switch/trip",
    tags=["paper"],
    summary="trip the kill switch (HALTED, or REDUCING: only orders that reduce exposure)",
    responses=_PAPER_ERRORS,
)
def trip(request: Request, body: TripRequest) -> Obj:
    return jsonable(_st(request).paper.trip(body.reason, body.state, _who(request), body.session))


@router.post("/risk/kill-switch/resume", tags=["paper"], summary="resume trading", responses=_PAPER_ERRORS)
def resume(request: Request, body: ResumeRequest) -> Obj:
    return jsonable(_st(request).paper.resume_switch(body.reason, _who(request), body.session, body.force))
