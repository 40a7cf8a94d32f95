"""Risk management shared by paper trading and backtests: position sizing (fixed fraction, volatility
target, capped Kelly), per-order limits (units, position, gross exposure, per symbol), loss rules
(daily loss, cool-down after losing trades) and a kill switch ACTIVE / REDUCING / HALTED with a
hysteresis resume rule and an audit trail. Pure logic, no I/O: the caller keeps a :class:`RiskState`
and stores the audit (``workbench.paper`` does both; see docs/paper.md, "Risk management").
"""

from __future__ import annotations

from workbench.risk._config import RiskConfig, Sizing, parse_sizing
from workbench.risk._manager import (
    ACTIVE,
    HALTED,
    REDUCING,
    SWITCH_STATES,
    AuditEvent,
    Decision,
    KillSwitch,
    Order,
    RiskManager,
    RiskState,
)

__all__ = [
    "ACTIVE",
    "HALTED",
    "REDUCING",
    "SWITCH_STATES",
    "AuditEvent",
    "Decision",
    "KillSwitch",
    "Order",
    "RiskConfig",
    "RiskManager",
    "RiskState",
    "Sizing",
    "parse_sizing",
]
