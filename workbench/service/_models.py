"""Request and response bodies of the API (pydantic): what the OpenAPI schema documents and fuzzing checks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ErrorBody",
    "Health",
    "Check",
    "Ready",
    "SweepRequest",
    "OptimizeRequest",
    "AskRequest",
    "JobBody",
    "JobList",
    "TripRequest",
    "ResumeRequest",
    "PaperStartRequest",
]

Number = int | float
GridValues = str | list[Number | str]  # "5:50[:5]" (inclusive), "a,b,c", or a list of values


class ErrorBody(BaseModel):
    error: str = Field(description="one line: what failed and what to do")


class Health(BaseModel):
    status: Literal["ok"]
    uptime_s: float
    version: str


class Check(BaseModel):
    name: str
    ok: bool
    detail: str


class Ready(BaseModel):
    ready: bool
    checks: list[Check]
    reasons: list[str] = Field(description="the failing checks' details; empty when ready")


class _Engine(BaseModel):
    """The engine settings as the CLI writes them (docs/strategies.md)."""

    model_config = ConfigDict(extra="forbid")

    fill: Literal["next_open", "close"] = "next_open"
    direction: Literal["long", "short", "both"] = "long"
    commission: str = Field("0", max_length=64)
    spread: str = Field("0", max_length=64)
    slippage: str = Field("0", max_length=64)
    size: str = Field("100%", max_length=64)
    stop_loss: str | None = Field(None, max_length=64)
    take_profit: str | None = Field(None, max_length=64)
    trailing_stop: str | None = Field(None, max_length=64)
    contract: str | None = Field(None, max_length=128)
    cash: float = Field(10_000.0, gt=0, le=1e15)


class SweepRequest(_Engine):
    strategy: str = Field(min_length=1, max_length=64, examples=["sma_cross"])
    data: str = Field(min_length=3, max_length=64, examples=["EURUSD:1h"])
    params: dict[str, GridValues] = Field(
        default_factory=dict, max_length=16, examples=[{"fast": "5:20:5", "slow": [30, 50]}]
    )
    rank_by: str = Field("total_return_pct", max_length=64)


class OptimizeRequest(SweepRequest):
    objectives: list[str] = Field(default_factory=list, max_length=4, examples=[["sharpe:max"]])
    algo: Literal["grid", "random", "tpe", "nsga2"] = "tpe"
    trials: int = Field(20, ge=1, le=100_000)
    walk_forward: int = Field(0, ge=0, le=20)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    address: str | None = Field(None, max_length=256, description="Ray cluster (default $RAY_ADDRESS)")


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2000, examples=["Which weekdays lose money?"])
    backtest_id: int | None = Field(None, ge=0, le=2**62)
    k: int = Field(10, ge=1, le=50)
    use_llm: bool = True


class JobBody(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "succeeded", "failed"]
    submitted_by: str
    request: dict[str, Any]
    created_at: str
    started_at: str | None
    finished_at: str | None
    result: dict[str, Any] | None
    error: str | None


class JobList(BaseModel):
    jobs: list[JobBody]


class TripRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, examples=["desk closed for the news"])
    state: Literal["REDUCING", "HALTED"] = "HALTED"
    session: str | None = Field(
        None, max_length=100, description="one session (default: every one running here)"
    )


class ResumeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=500)
    session: str | None = Field(
        None, max_length=100, description="one session (default: every one running here)"
    )
    force: bool = Field(False, description="skip the hysteresis rule (recorded as forced)")


class PaperStartRequest(BaseModel):
    """A paper session, as ``workbench paper run`` takes it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    data: str = Field(min_length=3, max_length=64, examples=["EURUSD:1h"])
    strategy: str = Field(min_length=1, max_length=64, examples=["sma_cross"])
    params: dict[str, Number | str | bool] = Field(default_factory=dict, max_length=32)
    model: str | None = Field(None, max_length=128)
    speed: str = Field("max", max_length=16, description="N x real time, or max")
    options: dict[str, Any] = Field(
        default_factory=dict,
        max_length=8,
        description="further PaperConfig fields: settings (engine, as written), risk (RiskConfig), policy "
        "(strategy|river|ppo), feed (replay or ws://HOST:PORT), step_bars",
    )
