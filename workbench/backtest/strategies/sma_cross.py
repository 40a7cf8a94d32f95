"""SMA crossover."""

from __future__ import annotations

from workbench.backtest.spec import Param, Rules, cross_above, cross_below, sma, strategy


@strategy("sma_cross")
class SmaCross:
    """Long when the fast SMA crosses above the slow SMA; exit (or go short) when it crosses below."""

    params = (Param("fast", int, 10, (2, 1000)), Param("slow", int, 50, (3, 5000)))
    constraint = "fast < slow"

    @staticmethod
    def rules(fast: int, slow: int) -> Rules:
        f, s = sma(fast), sma(slow)
        return Rules(long_entry=cross_above(f, s), long_exit=cross_below(f, s))
