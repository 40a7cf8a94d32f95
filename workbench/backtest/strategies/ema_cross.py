"""EMA crossover."""

from __future__ import annotations

from workbench.backtest.spec import Param, Rules, cross_above, cross_below, ema, strategy


@strategy("ema_cross")
class EmaCross:
    """Long when the fast EMA crosses above the slow EMA; exit (or go short) when it crosses below."""

    params = (Param("fast", int, 12, (2, 1000)), Param("slow", int, 26, (3, 5000)))
    constraint = "fast < slow"

    @staticmethod
    def rules(fast: int, slow: int) -> Rules:
        f, s = ema(fast), ema(slow)
        return Rules(long_entry=cross_above(f, s), long_exit=cross_below(f, s))
