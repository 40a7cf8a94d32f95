"""The risk manager: pre-trade checks, sizing, loss rules and the kill switch, with an audit trail."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from workbench.errors import ConfigError
from workbench.risk._config import RiskConfig

__all__ = [
    "ACTIVE",
    "REDUCING",
    "HALTED",
    "SWITCH_STATES",
    "AuditEvent",
    "Decision",
    "KillSwitch",
    "Order",
    "RiskManager",
    "RiskState",
]

ACTIVE, REDUCING, HALTED = "ACTIVE", "REDUCING", "HALTED"
SWITCH_STATES = (ACTIVE, REDUCING, HALTED)


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """An order the risk manager checks: ``side`` +1 buys, -1 sells; ``units`` > 0; ``price`` the
    reference price (the expected fill); ``reduces`` True when it only closes or shrinks a position."""

    symbol: str
    side: int
    units: float
    price: float
    reduces: bool = False
    kind: str = "entry"  # entry | exit | flatten
    bar: int = -1
    ts: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The verdict on one order: ``status`` accepted | resized | rejected, the ``rule`` that fired
    (None when accepted as is), a one-line ``reason`` and the ``units`` allowed (0 when rejected)."""

    status: Literal["accepted", "resized", "rejected"]
    units: float
    rule: str | None = None
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.status != "rejected"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "units": self.units, "rule": self.rule, "reason": self.reason}


@dataclass(slots=True, kw_only=True)
class RiskState:
    """What the checks look at (the session keeps it current): equity now, its peak, the equity at the
    start of the UTC day, open positions (symbol -> signed units) and their last prices."""

    equity: float
    peak_equity: float
    day_start_equity: float
    positions: dict[str, float] = field(default_factory=dict)
    prices: dict[str, float] = field(default_factory=dict)
    bar: int = 0
    vol: float = math.nan  # annualised volatility at this bar (vol sizing)

    @property
    def drawdown_pct(self) -> float:
        return (1.0 - self.equity / self.peak_equity) * 100.0 if self.peak_equity > 0 else 0.0

    def gross_notional(self, exclude: str | None = None) -> float:
        return sum(abs(u) * self.prices.get(s, 0.0) for s, u in self.positions.items() if s != exclude)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One line of the audit trail: a kill-switch transition or an order the manager changed."""

    kind: str  # transition | rejected | resized | refused
    at: str
    by: str
    reason: str
    rule: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    bar: int = -1

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "at": self.at, "by": self.by, "reason": self.reason, "rule": self.rule,
            "from_state": self.from_state, "to_state": self.to_state, "bar": self.bar,
        }  # fmt: skip


class KillSwitch:
    """ACTIVE (everything allowed) / REDUCING (only exposure-reducing orders) / HALTED (no entries; the
    session flattens). ``trip(reason, by)`` moves to HALTED (or REDUCING); ``resume(by)`` back towards
    ACTIVE, refused (one line, recorded) while the drawdown is not below the resume level or fewer than
    ``resume_after_bars`` bars have passed since the trip: the hysteresis that keeps it from flapping.
    Every transition and refusal goes to ``audit``."""

    def __init__(self, config: RiskConfig | None = None) -> None:
        self.config = config or RiskConfig()
        self.state = ACTIVE
        self.tripped_bar = -1
        self.reason = ""
        self.audit: list[AuditEvent] = []
        self._drawdown = 0.0
        self._bar = 0

    def observe(self, drawdown_pct: float, bar: int) -> None:
        """The current drawdown and bar (the session calls this every bar)."""
        self._drawdown = float(drawdown_pct)
        self._bar = int(bar)

    def _move(self, to: str, reason: str, by: str) -> None:
        self.audit.append(
            AuditEvent(
                kind="transition",
                at=_now(),
                by=by,
                reason=reason,
                from_state=self.state,
                to_state=to,
                bar=self._bar,
            )  # fmt: skip
        )
        self.state = to

    def trip(self, reason: str, by: str = "operator", *, state: str = HALTED) -> str:
        if state not in (REDUCING, HALTED):
            raise ConfigError(f"kill switch: trip to {state!r}; expected REDUCING or HALTED")
        if not reason or not str(reason).strip():
            raise ConfigError("kill switch: a trip needs a reason (e.g. --reason 'manual stop')")
        if self.state == state or (self.state == HALTED and state == REDUCING):
            return self.state
        self._move(state, str(reason), by)
        self.tripped_bar = self._bar
        self.reason = str(reason)
        return self.state

    def can_resume(self) -> tuple[bool, str]:
        """(allowed, why not): the hysteresis rule."""
        level = self.config.resume_level
        if level is not None and self._drawdown >= level:
            return False, (
                f"drawdown {self._drawdown:.2f}% is not below the resume level {level:g}% (hysteresis); "
                "wait for the equity to recover or raise resume_drawdown_pct"
            )
        wait = self.config.resume_after_bars - (self._bar - self.tripped_bar)
        if self.tripped_bar >= 0 and wait > 0:
            return (
                False,
                f"{wait} more bar(s) before resuming (resume_after_bars={self.config.resume_after_bars})",
            )
        return True, ""

    def resume(self, by: str = "operator", *, force: bool = False) -> str:
        """HALTED -> REDUCING -> ACTIVE one step per call (force: straight to ACTIVE). Raises ConfigError
        (and records the refusal) when the hysteresis rule does not allow it yet."""
        if self.state == ACTIVE:
            return self.state
        ok, why = self.can_resume()
        if not ok and not force:
            self.audit.append(
                AuditEvent(
                    kind="refused",
                    at=_now(),
                    by=by,
                    reason=why,
                    rule="kill_switch",
                    from_state=self.state,
                    to_state=self.state,
                    bar=self._bar,
                )  # fmt: skip
            )
            raise ConfigError(f"kill switch stays {self.state}: {why}")
        to = ACTIVE if (force or self.state == REDUCING) else REDUCING
        self._move(to, "resumed" + (" (forced)" if force else ""), by)
        if to == ACTIVE:
            self.reason = ""
        return self.state

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "tripped_bar": self.tripped_bar, "reason": self.reason}

    def load(self, data: Mapping[str, Any]) -> None:
        self.state = str(data.get("state", ACTIVE))
        self.tripped_bar = int(data.get("tripped_bar", -1))
        self.reason = str(data.get("reason", ""))


class RiskManager:
    """Checks orders against a :class:`RiskConfig` and keeps the loss rules and the kill switch.

    The session (paper trading, or a backtest replayed through it) calls, in bar order:
    ``on_bar(state)`` at every bar's close (day start, peak, automatic kill-switch levels),
    ``size(order_side, price, state, closed)`` for an entry when ``config.sizing`` is set,
    ``check(order, state)`` before every fill, ``on_trade(pnl)`` after every closed trade.
    ``audit`` holds every transition, refusal, rejection and resize (drained by the caller);
    ``rejected`` counts rejections by rule."""

    def __init__(self, config: RiskConfig | None = None) -> None:
        self.config = config or RiskConfig()
        self.switch = KillSwitch(self.config)
        self.day: int | None = None
        self.losses_in_row = 0
        self.cooldown_until = -1
        self.daily_locked_day: int | None = None
        self.rejected: dict[str, int] = {}
        self.resized: dict[str, int] = {}
        self._wins: list[float] = []  # closed-trade returns for Kelly (pnl / notional)
        # whether on_bar has anything to do beyond the day and the peak (the bar loop's fast path)
        self.watches_levels = (
            self.config.reduce_drawdown_pct is not None or self.config.halt_drawdown_pct is not None
        )

    @property
    def audit(self) -> list[AuditEvent]:
        return self.switch.audit

    # -- per bar --------------------------------------------------------------------------------------
    def on_bar(self, state: RiskState, day: int) -> None:
        """Bar close: a new UTC ``day`` (days since the epoch) resets the day's start equity; the drawdown
        moves the kill switch (ACTIVE -> REDUCING -> HALTED at the trip levels, REDUCING -> ACTIVE once
        it is below the resume level again)."""
        if self.day != day:
            self.day = day
            state.day_start_equity = state.equity
        eq, peak = state.equity, state.peak_equity
        if eq > peak:
            state.peak_equity = peak = eq
        dd = (1.0 - eq / peak) * 100.0 if peak > 0 else 0.0
        sw = self.switch
        sw._drawdown, sw._bar = dd, state.bar
        cfg = self.config
        halt, reduce = cfg.halt_drawdown_pct, cfg.reduce_drawdown_pct
        if halt is not None and dd >= halt and sw.state != HALTED:
            sw.trip(f"drawdown {dd:.2f}% >= halt_drawdown_pct {halt:g}%", "risk")
        elif reduce is not None and dd >= reduce and sw.state == ACTIVE:
            sw.trip(f"drawdown {dd:.2f}% >= reduce_drawdown_pct {reduce:g}%", "risk", state=REDUCING)
        elif sw.state == REDUCING and reduce is not None and sw.can_resume()[0]:
            sw.resume("risk")

    def on_trade(self, pnl: float, notional: float, bar: int) -> None:
        """A closed trade: consecutive losses start the cool-down; its return feeds Kelly sizing."""
        if notional > 0:
            self._wins.append(pnl / notional)
        if pnl < 0:
            self.losses_in_row += 1
            if self.config.cooldown_losses and self.losses_in_row >= self.config.cooldown_losses:
                self.cooldown_until = bar + self.config.cooldown_bars
                self.losses_in_row = 0
        else:
            self.losses_in_row = 0

    # -- sizing -----------------------------------------------------------------------------------------
    def kelly_fraction(self) -> float | None:
        """Full Kelly ``p - (1 - p) / b`` of the closed trades (b = mean win / mean loss), None with
        fewer than ``min_trades`` trades or no loss yet."""
        s = self.config.sizing
        need = s.min_trades if s is not None else 10
        if len(self._wins) < need:
            return None
        wins = [r for r in self._wins if r > 0]
        losses = [-r for r in self._wins if r < 0]
        if not losses or not wins:
            return None
        p = len(wins) / len(self._wins)
        b = (sum(wins) / len(wins)) / (sum(losses) / len(losses))
        return p - (1.0 - p) / b

    def size(self, price: float, state: RiskState) -> float:
        """Units for an entry at ``price`` under ``config.sizing`` (0 = do not enter)."""
        s = self.config.sizing
        if s is None or not (price > 0) or not (state.equity > 0):
            return 0.0
        if s.mode == "fraction":
            f = s.value
        elif s.mode == "vol":
            if not state.vol > 0:
                return 0.0
            f = min(s.value / state.vol, s.max_leverage)
        else:
            k = self.kelly_fraction()
            f = s.cap if k is None else min(s.value * k, s.cap)
        return max(f, 0.0) * state.equity / price

    # -- the check ---------------------------------------------------------------------------------------
    def check(self, order: Order, state: RiskState) -> Decision:
        """Accepted, resized (down to the tightest limit) or rejected, with the rule that fired. Orders
        that only reduce exposure pass every rule (a kill switch must be able to flatten)."""
        if order.units <= 0:
            return self._reject(
                order, "size", "the size came out 0 (no cash, or the sizing rule says no bet)"
            )
        if order.reduces:
            return Decision(status="accepted", units=order.units)
        cfg = self.config
        sw = self.switch.state
        if sw != ACTIVE:
            why = f"kill switch is {sw}" + (f" ({self.switch.reason})" if self.switch.reason else "")
            return self._reject(order, "kill_switch", why + "; only exposure-reducing orders pass")
        limit = cfg.symbol_limits.get(order.symbol.upper())
        if limit == 0:
            return self._reject(
                order, "symbol_limit", f"{order.symbol} may not be traded (symbol_limits {order.symbol}:0)"
            )
        if cfg.cooldown_losses and state.bar <= self.cooldown_until:
            return self._reject(
                order, "cooldown",
                f"cool-down after {cfg.cooldown_losses} losing trades in a row, until bar {self.cooldown_until}",
            )  # fmt: skip
        if cfg.daily_loss_pct is not None and state.day_start_equity > 0:
            loss = (1.0 - state.equity / state.day_start_equity) * 100.0
            if loss >= cfg.daily_loss_pct:
                return self._reject(
                    order, "daily_loss", f"down {loss:.2f}% today >= daily_loss_pct {cfg.daily_loss_pct:g}%"
                )
        units, rule, reason = order.units, None, ""
        caps: list[tuple[float, str, str]] = []
        if cfg.max_units is not None:
            caps.append((cfg.max_units, "max_units", f"max_units {cfg.max_units:g}"))
        eq = max(state.equity, 0.0)
        held = abs(state.positions.get(order.symbol, 0.0))
        if cfg.max_position is not None:
            caps.append((cfg.max_position * eq / order.price - held, "max_position",
                         f"max_position {cfg.max_position:g} x equity"))  # fmt: skip
        if limit is not None:
            caps.append(
                (
                    limit * eq / order.price - held,
                    "symbol_limit",
                    f"symbol_limits {order.symbol}:{limit:g} x equity",
                )
            )
        if cfg.max_gross_exposure is not None:
            room = (
                cfg.max_gross_exposure * eq - state.gross_notional(exclude=order.symbol) - held * order.price
            )
            caps.append(
                (
                    room / order.price,
                    "max_gross_exposure",
                    f"max_gross_exposure {cfg.max_gross_exposure:g} x equity",
                )
            )
        for cap, name, text in caps:
            if cap < units:
                units, rule, reason = max(cap, 0.0), name, text
        if rule is None:
            return Decision(status="accepted", units=order.units)
        if units <= 0:
            return self._reject(order, rule, f"{reason}: no room left")
        self.resized[rule] = self.resized.get(rule, 0) + 1
        self.audit.append(
            AuditEvent(
                kind="resized",
                at=_now(),
                by="risk",
                rule=rule,
                bar=order.bar,
                reason=f"{order.units:g} -> {units:g} units ({reason})",
            )  # fmt: skip
        )
        return Decision(
            status="resized", units=units, rule=rule, reason=f"{order.units:g} -> {units:g} units ({reason})"
        )

    def _reject(self, order: Order, rule: str, reason: str) -> Decision:
        self.rejected[rule] = self.rejected.get(rule, 0) + 1
        self.audit.append(
            AuditEvent(kind="rejected", at=_now(), by="risk", rule=rule, reason=reason, bar=order.bar)
        )
        return Decision(status="rejected", units=0.0, rule=rule, reason=reason)

    # -- durable state --------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "switch": self.switch.to_dict(),
            "day": self.day,
            "losses_in_row": self.losses_in_row,
            "cooldown_until": self.cooldown_until,
            "rejected": dict(self.rejected),
            "resized": dict(self.resized),
            "returns": list(self._wins[-500:]),
        }

    def load(self, data: Mapping[str, Any]) -> None:
        self.switch.load(data.get("switch", {}))
        self.day = data.get("day")
        self.losses_in_row = int(data.get("losses_in_row", 0))
        self.cooldown_until = int(data.get("cooldown_until", -1))
        self.rejected = {str(k): int(v) for k, v in (data.get("rejected") or {}).items()}
        self.resized = {str(k): int(v) for k, v in (data.get("resized") or {}).items()}
        self._wins = [float(x) for x in data.get("returns") or []]

    def status(self) -> dict[str, Any]:
        """The risk state for /status and ``workbench paper status``."""
        ok, why = self.switch.can_resume()
        return {
            "kill_switch": self.switch.state,
            "reason": self.switch.reason,
            "can_resume": ok and self.switch.state != ACTIVE,
            "resume_blocked_by": why or None,
            "cooldown_until_bar": self.cooldown_until if self.cooldown_until >= 0 else None,
            "losses_in_row": self.losses_in_row,
            "rejected": dict(self.rejected),
            "resized": dict(self.resized),
            "limits": self.config.to_dict(),
        }
