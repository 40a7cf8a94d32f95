"""MACD signal-line crossover."""

from __future__ import annotations

from workbench.backtest.spec import Param, Rules, cross_above, cross_below, ema, strategy


@strategy("macd")
class Macd:
    """Long when the MACD line (EMA fast - EMA slow) crosses above its signal line (EMA of the MACD
    line); exit (or go short) when it crosses below."""

    params = (
        Param("fast", int, 12, (2, 500)),
        Param("slow", int, 26, (3, 1000)),
        Param("signal", int, 9, (2, 500)),
    )
    constraint = "fast < slow"

    @staticmethod
    def rules(fast: int, slow: int, signal: int) -> Rules:
        line = ema(fast) - ema(slow)
        return Rules(
            long_entry=cross_above(line, line.ema(signal)), long_exit=cross_below(line, line.ema(signal))
        )
