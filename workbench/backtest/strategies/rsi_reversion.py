"""RSI mean reversion."""

from __future__ import annotations

from workbench.backtest.spec import Param, Rules, cross_above, cross_below, rsi, strategy


@strategy("rsi_reversion")
class RsiReversion:
    """Long when Wilder's RSI falls below ``lower`` (oversold), exit when it rises above ``upper``;
    short when it rises above ``upper`` (overbought), cover when it falls below ``lower``."""

    params = (
        Param("window", int, 14, (2, 500)),
        Param("lower", float, 30.0, (1.0, 99.0)),
        Param("upper", float, 70.0, (1.0, 99.0)),
    )
    constraint = "lower < upper"

    @staticmethod
    def rules(window: int, lower: float, upper: float) -> Rules:
        r = rsi(window)
        return Rules(long_entry=cross_below(r, lower), long_exit=cross_above(r, upper))
