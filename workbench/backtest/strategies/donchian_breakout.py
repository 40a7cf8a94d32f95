"""Donchian channel breakout (Turtle style)."""

from __future__ import annotations

from workbench.backtest.spec import Param, Rules, close, cross_above, cross_below, highest, lowest, strategy


@strategy("donchian_breakout")
class DonchianBreakout:
    """Long when the close crosses above the highest high of the previous ``entry`` bars, exit when it
    crosses below the lowest low of the previous ``exit`` bars; the mirror image for shorts."""

    params = (Param("entry", int, 20, (2, 1000)), Param("exit", int, 10, (1, 1000)))
    constraint = "exit < entry"

    @staticmethod
    def rules(entry: int, exit: int) -> Rules:
        c = close()
        return Rules(
            long_entry=cross_above(c, highest(entry)),
            long_exit=cross_below(c, lowest(exit)),
            short_entry=cross_below(c, lowest(entry)),
            short_exit=cross_above(c, highest(exit)),
        )
