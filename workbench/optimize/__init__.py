"""Parameter optimisation: stored grid sweeps (:func:`run_sweep`) and Ray Tune searches
(:func:`run_optimize`: grid, random, TPE, NSGA-II; several objectives -> Pareto front; walk-forward).
See docs/optimize.md.
"""

from __future__ import annotations

from workbench.optimize.pareto import pareto_ranks
from workbench.optimize.sweep import SweepOutcome, run_sweep
from workbench.optimize.tune import ALGOS, Objective, OptimizeOutcome, parse_objectives, run_optimize

__all__ = [
    "ALGOS",
    "Objective",
    "OptimizeOutcome",
    "SweepOutcome",
    "pareto_ranks",
    "parse_objectives",
    "run_optimize",
    "run_sweep",
]
