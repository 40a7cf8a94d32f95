"""Rule inference: a bot's trades + the bars it traded -> the library strategy, parameters and stops
that trade the same way (or learned rules when none does), with the agreement measured on a replay.

``infer(ws, backtest_id, data=None)`` for a stored backtest (stores the replay so ``workbench codegen``
can generate it), ``infer_trades(bars, trades)`` on plain frames. See docs/infer.md.
"""

from __future__ import annotations

from workbench.infer.core import InferResult, choose_bars, describe_rules, infer, infer_trades
from workbench.infer.exits import ExitClass, classify_exits, estimate_stop
from workbench.infer.learned import LEARNED_STRATEGY, LearnedRules, features, learn_rules
from workbench.infer.space import SPACES, Span, coarse_grid, neighbours, refine_grid
from workbench.infer.trades import Agreement, TradeBars, agreement, place

__all__ = [
    "LEARNED_STRATEGY",
    "SPACES",
    "Agreement",
    "ExitClass",
    "InferResult",
    "LearnedRules",
    "Span",
    "TradeBars",
    "agreement",
    "choose_bars",
    "classify_exits",
    "coarse_grid",
    "describe_rules",
    "estimate_stop",
    "features",
    "infer",
    "infer_trades",
    "learn_rules",
    "neighbours",
    "place",
    "refine_grid",
]
