"""Risk limits as one frozen config, and the position-sizing rules."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import ConfigError

__all__ = ["RiskConfig", "Sizing", "parse_sizing"]

_SIZING_FORMS = (
    "fraction:0.5 (of equity), vol:0.10[,window=20][,max=2] (annualised volatility target, leverage cap) "
    "or kelly:0.5[,cap=0.25][,min_trades=10] (a fraction of the Kelly bet of the closed trades, capped)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizing:
    """How many units an entry gets: ``fraction`` of equity; ``vol`` the fraction ``target / sigma``
    (sigma the annualised volatility at the signal bar) capped at ``max_leverage``; ``kelly`` the
    fraction ``value`` x Kelly (``win_rate - (1 - win_rate) / payoff`` of the closed trades) capped at
    ``cap``, ``cap`` itself until ``min_trades`` trades have closed (a Kelly fraction <= 0 means no
    entry)."""

    mode: str
    value: float
    window: int = 20
    max_leverage: float = 1.0
    cap: float = 0.25
    min_trades: int = 10

    def __str__(self) -> str:
        if self.mode == "fraction":
            return f"fraction:{self.value:g}"
        if self.mode == "vol":
            return f"vol:{self.value:g},window={self.window},max={self.max_leverage:g}"
        return f"kelly:{self.value:g},cap={self.cap:g},min_trades={self.min_trades}"


def parse_sizing(value: Sizing | str | None) -> Sizing | None:
    """``"fraction:0.5"``, ``"vol:0.1,window=20,max=2"``, ``"kelly:0.5,cap=0.25"``; None = the engine's
    ``--size``."""
    if value is None or isinstance(value, Sizing):
        return value
    text = str(value).strip()
    if not text or text.lower() in ("engine", "none"):
        return None
    head, *opts = [p.strip() for p in text.split(",")]
    mode, sep, num = head.partition(":")
    mode = mode.lower()
    try:
        v = float(num)
    except ValueError:
        v = math.nan
    if not sep or mode not in ("fraction", "vol", "kelly") or not (v > 0 and math.isfinite(v)):
        raise ConfigError(f"--risk sizing {value!r}: expected {_SIZING_FORMS}")
    kw: dict[str, Any] = {}
    for opt in opts:
        key, _, val = opt.partition("=")
        key = {"max": "max_leverage"}.get(key.strip(), key.strip())
        if key not in ("window", "max_leverage", "cap", "min_trades"):
            raise ConfigError(
                f"--risk sizing {value!r}: unknown option {opt!r} (window, max, cap, min_trades)"
            )
        try:
            kw[key] = int(val) if key in ("window", "min_trades") else float(val)
        except ValueError:
            raise ConfigError(f"--risk sizing {value!r}: option {opt!r} needs a number") from None
    return Sizing(mode=mode, value=v, **kw)


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskConfig:
    """Every limit of the risk manager (all off by default: then paper trading is exactly the engine).

    Sizing: ``sizing`` (:func:`parse_sizing`; None = the engine's ``--size``).
    Limits per order (an entry above a limit is **resized** down to it; one that cannot trade at all
    is **rejected**): ``max_units``; ``max_position`` (notional of one position / equity);
    ``max_gross_exposure`` (sum of |notional| over all symbols / equity); ``symbol_limits``
    (symbol -> max notional / equity; 0 = that symbol may not be traded).
    Loss rules (entries rejected while they hold): ``daily_loss_pct`` (equity below the day's first
    equity by this %, for the rest of the UTC day); ``cooldown_losses`` consecutive losing trades start a
    cool-down of ``cooldown_bars`` bars.
    Kill switch (ACTIVE / REDUCING / HALTED; :class:`workbench.risk.KillSwitch`): drawdown from the
    equity peak >= ``reduce_drawdown_pct`` -> REDUCING (only exposure-reducing orders), >=
    ``halt_drawdown_pct`` -> HALTED (positions flattened when ``flatten_on_halt``, no entries). Resuming
    (by hand, or REDUCING -> ACTIVE by itself) needs the drawdown back below ``resume_drawdown_pct``
    (hysteresis; default: half the lowest trip level) and ``resume_after_bars`` bars since the trip.
    """

    sizing: Sizing | None = None
    max_units: float | None = None
    max_position: float | None = None
    max_gross_exposure: float | None = None
    symbol_limits: Mapping[str, float] = field(default_factory=dict)
    daily_loss_pct: float | None = None
    cooldown_losses: int = 0
    cooldown_bars: int = 0
    reduce_drawdown_pct: float | None = None
    halt_drawdown_pct: float | None = None
    resume_drawdown_pct: float | None = None
    resume_after_bars: int = 0
    flatten_on_halt: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizing", parse_sizing(self.sizing))
        object.__setattr__(
            self, "symbol_limits", {str(k).upper(): float(v) for k, v in self.symbol_limits.items()}
        )
        for name in ("max_units", "max_position", "max_gross_exposure", "daily_loss_pct",
                     "reduce_drawdown_pct", "halt_drawdown_pct", "resume_drawdown_pct"):  # fmt: skip
            v = getattr(self, name)
            if v is not None and not (float(v) >= 0 and math.isfinite(float(v))):
                raise ConfigError(f"risk {name}={v!r}: must be a number >= 0 (or unset)")
        for name in ("cooldown_losses", "cooldown_bars", "resume_after_bars"):
            if int(getattr(self, name)) < 0:
                raise ConfigError(f"risk {name}={getattr(self, name)!r}: must be an integer >= 0")
        if any(v < 0 for v in self.symbol_limits.values()):
            raise ConfigError("risk symbol_limits: every limit must be >= 0 (0 = the symbol may not trade)")
        r, h = self.reduce_drawdown_pct, self.halt_drawdown_pct
        if r is not None and h is not None and r > h:
            raise ConfigError(f"risk reduce_drawdown_pct={r} must not exceed halt_drawdown_pct={h}")

    @property
    def resume_level(self) -> float | None:
        """Drawdown % below which trading may resume (hysteresis)."""
        if self.resume_drawdown_pct is not None:
            return float(self.resume_drawdown_pct)
        levels = [v for v in (self.reduce_drawdown_pct, self.halt_drawdown_pct) if v is not None]
        return min(levels) / 2.0 if levels else None

    @property
    def is_off(self) -> bool:
        """No limit, no sizing: the risk manager never changes an order (the kill switch still works)."""
        return self == RiskConfig()

    def to_dict(self) -> dict[str, Any]:
        return {
            "sizing": None if self.sizing is None else str(self.sizing),
            "max_units": self.max_units,
            "max_position": self.max_position,
            "max_gross_exposure": self.max_gross_exposure,
            "symbol_limits": dict(self.symbol_limits),
            "daily_loss_pct": self.daily_loss_pct,
            "cooldown_losses": self.cooldown_losses,
            "cooldown_bars": self.cooldown_bars,
            "reduce_drawdown_pct": self.reduce_drawdown_pct,
            "halt_drawdown_pct": self.halt_drawdown_pct,
            "resume_drawdown_pct": self.resume_drawdown_pct,
            "resume_after_bars": self.resume_after_bars,
            "flatten_on_halt": self.flatten_on_halt,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RiskConfig:
        return cls(**dict(data or {}))

    @classmethod
    def parse(cls, items: list[str] | tuple[str, ...]) -> RiskConfig:
        """``["max_position=1", "daily_loss_pct=2", "sizing=kelly:0.5", "symbol_limits=EURUSD:0.5"]``
        (the CLI's ``--risk k=v``)."""
        known = set(cls.__dataclass_fields__)
        kw: dict[str, Any] = {}
        for item in items:
            key, sep, val = (s.strip() for s in item.partition("="))
            if not sep or key not in known:
                raise ConfigError(
                    f"--risk {item!r}: expected key=value with key one of {', '.join(sorted(known))}"
                )
            if key == "sizing":
                kw[key] = val
            elif key == "symbol_limits":
                limits: dict[str, float] = {}
                for part in val.split(";") if val else []:
                    s, _, lim = part.partition(":")
                    try:
                        limits[s.strip()] = float(lim)
                    except ValueError:
                        raise ConfigError(
                            f"--risk {item!r}: expected symbol_limits=EURUSD:0.5;GOOG:0"
                        ) from None
                kw[key] = limits
            elif key == "flatten_on_halt":
                kw[key] = val.lower() in ("1", "true", "yes", "on")
            else:
                try:
                    kw[key] = (
                        int(val)
                        if key in ("cooldown_losses", "cooldown_bars", "resume_after_bars")
                        else float(val)
                    )
                except ValueError:
                    raise ConfigError(f"--risk {item!r}: {key} needs a number") from None
        return cls(**kw)
