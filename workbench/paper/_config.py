"""The configuration of one paper-trading session (frozen; stored with the session so it can resume)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from workbench.errors import ConfigError
from workbench.risk import RiskConfig

__all__ = ["PaperConfig", "POLICY_KINDS"]

POLICY_KINDS = ("strategy", "model", "river", "ppo")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class PaperConfig:
    """One session.

    ``data``: the bars ``"SYMBOL:TF"`` (the replay feed reads them from the workspace; live feeds name
    the symbol and timeframe of what they stream). ``strategy`` and ``params``: a library strategy and
    its parameters (``policy="strategy"``); ``model``: a registered ML model (``policy="model"``);
    ``policy="river"`` / ``"ppo"``: an online learner (``params`` tune it, see docs/paper.md).
    ``settings``: the engine's settings as written (``{"commission": "7/lot", "stop_loss": "2atr"}``,
    :class:`workbench.backtest.EngineSettings`). ``risk``: the limits (:class:`workbench.risk.RiskConfig`;
    off by default). ``speed``: a multiple of real time (``60.0`` = a minute of bars per second) or
    ``"max"``. ``feed``: ``"replay"`` (the stored bars), ``"csv:PATH"`` / ``"parquet:PATH"`` (tail a
    growing file) or ``"ws://127.0.0.1:PORT"`` (bars streamed over a WebSocket). ``name``: the session
    (default: derived from the rest and the start time)."""

    data: str
    strategy: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    risk: RiskConfig = field(default_factory=RiskConfig)
    speed: float | str = "max"
    name: str = ""
    model: str | None = None
    policy: str = ""
    feed: str = "replay"
    step_bars: int = 0  # bars per durable step at max speed (0: adaptive, 1024 growing to 65536)

    def __post_init__(self) -> None:
        symbol, sep, tf = str(self.data).partition(":")
        if not sep or not symbol or not tf:
            raise ConfigError(f"--data {self.data!r}: expected SYMBOL:TIMEFRAME such as EURUSD:1h")
        policy = self.policy or ("model" if self.model else "strategy")
        if policy not in POLICY_KINDS:
            raise ConfigError(f"--policy {self.policy!r} is unknown (known: {', '.join(POLICY_KINDS)})")
        if policy == "strategy" and not self.strategy:
            raise ConfigError(
                "paper run: give --strategy NAME (a library strategy), --model NAME or --policy river|ppo"
            )
        object.__setattr__(self, "policy", policy)
        speed = self.speed
        if isinstance(speed, str) and speed.strip().lower() == "max":
            speed = "max"
        else:
            try:
                speed = float(speed)
            except (TypeError, ValueError):
                speed = math.nan
            if not (speed > 0 and math.isfinite(speed)):
                raise ConfigError(
                    f"--speed {self.speed!r}: expected a positive multiple of real time (60) or max"
                )
        object.__setattr__(self, "speed", speed)
        if isinstance(self.risk, Mapping):
            object.__setattr__(self, "risk", RiskConfig.from_dict(self.risk))
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "settings", dict(self.settings))
        if not self.name:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            what = self.strategy or self.model or policy
            object.__setattr__(self, "name", f"{what}-{symbol}-{tf}-{stamp}".replace(":", ""))
        if not _NAME.match(self.name):
            raise ConfigError(f"--session {self.name!r}: letters, digits, '_', '.', '-' only (up to 100)")
        if self.step_bars < 0:
            raise ConfigError(f"step_bars {self.step_bars}: must be >= 0")

    @property
    def symbol(self) -> str:
        return self.data.partition(":")[0]

    @property
    def timeframe(self) -> str:
        return self.data.partition(":")[2]

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "strategy": self.strategy,
            "params": dict(self.params),
            "settings": dict(self.settings),
            "risk": self.risk.to_dict(),
            "speed": self.speed,
            "name": self.name,
            "model": self.model,
            "policy": self.policy,
            "feed": self.feed,
            "step_bars": self.step_bars,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PaperConfig:
        d = dict(data)
        d["risk"] = RiskConfig.from_dict(d.get("risk"))
        return cls(**d)
