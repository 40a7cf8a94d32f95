"""Bollinger band breakout."""

from __future__ import annotations

from workbench.backtest.spec import Param, Rules, cross_above, cross_below, strategy, zscore


@strategy("bollinger_breakout")
class BollingerBreakout:
    """Long when the close crosses above the upper band (SMA + k·std, population std over ``window``),
    exit when it crosses back below the middle band; short on a cross below the lower band, cover on a
    cross above the middle. Evaluated on the z-score ``(close - SMA) / std`` against ``±k`` and 0."""

    params = (Param("window", int, 20, (2, 1000)), Param("k", float, 2.0, (0.1, 10.0)))
    constraint = None

    @staticmethod
    def rules(window: int, k: float) -> Rules:
        z = zscore(window)
        return Rules(
            long_entry=cross_above(z, k),
            long_exit=cross_below(z, 0.0),
            short_entry=cross_below(z, -k),
            short_exit=cross_above(z, 0.0),
        )
