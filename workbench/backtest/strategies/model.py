"""A model's signal as a strategy: trade a predicted probability per bar against thresholds."""

from __future__ import annotations

import numpy as np

from workbench.backtest.indicators import INDICATORS, OHLC
from workbench.backtest.spec import Ind, Param, Rules, cross_above, cross_below, strategy

PROBA = "proba"  # the bars column holding P(up) per bar (workbench.ml.signal_bars writes it)
REGIME = "regime"  # the bars column holding the regime per bar (for the ``regime`` filter)


def zone(b: OHLC, upper: float, lower: float, regime: int) -> np.ndarray:
    """+1 where ``proba > upper``, -1 where ``proba < lower``, else 0 (no prediction, NaN: 0); with
    ``regime >= 0`` only on bars whose ``regime`` column equals it (0 elsewhere)."""
    if PROBA not in b.extra:
        from workbench.errors import StrategyError

        raise StrategyError(
            "the model strategy trades a model's predictions, and these bars have no 'proba' column; "
            "backtest a registered model with `workbench ml backtest NAME --data SYMBOL:TF` (or add the "
            "column: workbench.ml.signal.signal_bars)"
        )
    p = b.series(PROBA)
    z = np.where(p > upper, 1.0, np.where(p < lower, -1.0, 0.0))  # NaN compares False: 0
    if regime >= 0:
        z = np.where(b.series(REGIME) == regime, z, 0.0)
    return z


INDICATORS.add("model_zone", zone)


@strategy("model")
class Model:
    """Trades a model's predicted probability that the next label is up (the bars' ``proba`` column):
    long while it is above ``upper``, short while below ``lower`` (with ``direction="both"``), flat in
    between and where there is no prediction; ``regime`` >= 0 trades only on bars of that regime (the
    bars' ``regime`` column), -1 on every bar. Confidence sizing: a ``size_scale`` column (the engine
    multiplies each entry's units by it at the signal bar); see workbench.ml.signal.signal_bars."""

    params = (
        Param("upper", float, 0.55, (0.5, 1.0)),
        Param("lower", float, 0.45, (0.0, 0.5)),
        Param("regime", int, -1, (-1, 63)),
    )
    constraint = "lower <= upper"

    @staticmethod
    def rules(upper: float, lower: float, regime: int) -> Rules:
        z = Ind("model_zone", (float(upper), float(lower), int(regime)))
        return Rules(
            long_entry=cross_above(z, 0.5),
            long_exit=cross_below(z, 0.5),
            short_entry=cross_below(z, -0.5),
            short_exit=cross_above(z, -0.5),
        )
