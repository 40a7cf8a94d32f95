"""Vectorised backtesting and parameter sweeps (fused Numba kernel) with a small strategy library.

``sweep``/``iter_sweep`` for grids, ``run`` for one deep backtest (settings as written on the command
line: ``direction="both"``, ``commission="7/lot"``, ``stop_loss="2atr"``, ``size="1%risk"``; see
``settings``), ``signals`` and ``portfolio`` (vectorbt) for analysis; strategies live one per module in ``strategies/`` (see docs/strategies.md), indicators in
``indicators``. Conventions: :mod:`workbench.backtest.engine`.
"""

from __future__ import annotations

from workbench.backtest.engine import (
    BACKTESTING_PY_SIZE,
    METRICS,
    Annualization,
    BacktestResult,
    Size,
    annualization,
    bars_from_pandas,
    iter_sweep,
    keep_bytes,
    parse_grid,
    period_returns,
    portfolio,
    precompile,
    run,
    signals,
    sweep,
    warm_up,
)
from workbench.backtest.settings import CONTRACTS, Contract, EngineSettings, contract_for
from workbench.backtest.spec import STRATEGIES, Param, Rules, StrategySpec, get_strategy, strategy

__all__ = [
    "BACKTESTING_PY_SIZE",
    "CONTRACTS",
    "METRICS",
    "STRATEGIES",
    "Annualization",
    "BacktestResult",
    "Contract",
    "EngineSettings",
    "Param",
    "Rules",
    "Size",
    "StrategySpec",
    "annualization",
    "bars_from_pandas",
    "contract_for",
    "get_strategy",
    "iter_sweep",
    "keep_bytes",
    "parse_grid",
    "period_returns",
    "portfolio",
    "precompile",
    "run",
    "signals",
    "strategy",
    "sweep",
    "warm_up",
]

# Load the compiled kernels in the background from here on (engine.warm_up): by the time bars are read
# and a grid is built, the first sweep finds them loaded. WORKBENCH_WARM_UP=0 turns this off.
warm_up()
