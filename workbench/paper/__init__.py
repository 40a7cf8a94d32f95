"""Paper trading: a policy trades a feed through a simulated broker with the engine's fills, costs,
spread and slippage, under the risk manager, with every order, fill, position, equity point and
policy checkpoint in the workspace (one transaction per step; kill -9 safe).

>>> from workbench.paper import PaperConfig, start_session
>>> s = start_session(ws, PaperConfig(data="EURUSD:1h", strategy="sma_cross", params={"fast": 10, "slow": 30}))
>>> s.run()                      # the summary: ..., trades, final_equity, decisions, rejected
>>> s.status()                   # positions, equity, drawdown, last decisions, risk, live diff, feed
>>> resume(ws, s.name).run()     # continue after a stop or a crash

See docs/paper.md (feeds, policies, risk, the metrics hook, durability).
"""

from __future__ import annotations

from workbench.paper._config import POLICY_KINDS, PaperConfig
from workbench.paper._feeds import Feed, FileTailFeed, ReplayFeed, WebSocketFeed
from workbench.paper._policies import POLICIES, History, StrategyPolicy
from workbench.paper._session import Session, backtest_with_risk, control, resume, start_session
from workbench.paper._trader import Broker, SimBroker

__all__ = [
    "POLICIES",
    "POLICY_KINDS",
    "Broker",
    "Feed",
    "FileTailFeed",
    "History",
    "PaperConfig",
    "ReplayFeed",
    "Session",
    "SimBroker",
    "StrategyPolicy",
    "WebSocketFeed",
    "backtest_with_risk",
    "control",
    "resume",
    "start_session",
]
