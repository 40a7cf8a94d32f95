"""The parity report of a generated bot: how each indicator and each engine setting maps onto the
target, so a difference between the bot's trades and the backtest's can be traced to a named cause.

Each entry is ``{"item", "kind" ("indicator"|"rule"|"setting"), "engine", "target", "status", "note"}``
with ``status`` one of:

* ``same``       the definitions agree (same formula, same inputs);
* ``warm-up``    the same recurrence, seeded differently: values converge after the first bars;
* ``differs``    a different definition (named in ``note``);
* ``platform``   not in the bot: a setting of the platform's backtester / account (named in ``note``);
* ``approximate`` expressed, but not bar-for-bar the engine's (``note`` says how it differs).

What the target cannot express at all is refused before anything is written (one-line error), never
emitted silently. The engine's definitions are those of :mod:`workbench.backtest.indicators`; the
target's are cTrader's published indicator definitions (cAlgo built-ins), as stated per entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench._registry import Registry
from workbench.codegen.model import BotModel

__all__ = ["INDICATOR_PARITY", "parity_report"]

Entry = dict[str, Any]


def _e(item: str, kind: str, engine: str, target: str, status: str, note: str = "") -> Entry:
    return {"item": item, "kind": kind, "engine": engine, "target": target, "status": status, "note": note}


# per strategy and target: the indicator entries (target -> builder of entries from the model)
INDICATOR_PARITY: Registry[Callable[[BotModel, str], list[Entry]]] = Registry("strategy parity")

_EMA_NOTE = (
    "both EMA(span n), alpha = 2/(n+1), seeded with the first value; the engine reports nothing for the "
    "first n-1 bars (no cross there), the platform's EMA has values from its first bar"
)


def _sma(n: str, target: str) -> Entry:
    t = {
        "ctrader": "Indicators.SimpleMovingAverage(Bars.ClosePrices, n)",
        "mql5": "iMA(MODE_SMA, PRICE_CLOSE)",
    }
    return _e(f"sma({n})", "indicator", "mean of the last n closes (pandas rolling mean)", t[target], "same")


def _ema(n: str, target: str) -> Entry:
    t = {
        "ctrader": "Indicators.ExponentialMovingAverage(Bars.ClosePrices, n)",
        "mql5": "iMA(MODE_EMA, PRICE_CLOSE)",
    }
    return _e(
        f"ema({n})", "indicator", "ewm(span=n, adjust=False, min_periods=n)", t[target], "warm-up", _EMA_NOTE
    )


def _sma_cross(m: BotModel, target: str) -> list[Entry]:
    v = m.values
    return [_sma(str(v["fast"]), target), _sma(str(v["slow"]), target)]


def _ema_cross(m: BotModel, target: str) -> list[Entry]:
    v = m.values
    return [_ema(str(v["fast"]), target), _ema(str(v["slow"]), target)]


def _macd(m: BotModel, target: str) -> list[Entry]:
    v = m.values
    t = {
        "ctrader": "Indicators.MacdCrossOver(Bars.ClosePrices, slow, fast, signal): MACD, Signal",
        "mql5": "iMACD(fast, slow, signal, PRICE_CLOSE): MAIN_LINE, SIGNAL_LINE",
    }
    note = {
        "ctrader": "MACD line: EMA(fast) - EMA(slow) on both sides ("
        + _EMA_NOTE
        + "). Signal line: the engine "
        "takes the EMA (span signal) of the MACD line; cAlgo's MacdCrossOver signal line is, per cTrader's "
        "indicator reference, an exponential average of the MACD line over `signal` periods, seeded at its "
        "first value (not checked against the platform here: no cTrader)",
        "mql5": "MACD line the same EMA difference; MetaTrader's iMACD signal line is a SIMPLE moving average "
        "of the MACD line, the engine's an EMA: the signal crossings differ",
    }
    status = {"ctrader": "warm-up", "mql5": "differs"}
    return [
        _ema(str(v["fast"]), target),
        _ema(str(v["slow"]), target),
        _e(
            f"macd({v['fast']},{v['slow']},{v['signal']})",
            "indicator",
            "ema(fast) - ema(slow), signal = its ema(signal)",
            t[target],
            status[target],
            note[target],
        ),  # fmt: skip
    ]


def _rsi(m: BotModel, target: str) -> list[Entry]:
    n = m.values["window"]
    t = {
        "ctrader": "Indicators.RelativeStrengthIndex(Bars.ClosePrices, n)",
        "mql5": "iRSI(n, PRICE_CLOSE)",
    }
    note = {
        "ctrader": "the engine: Wilder's RSI, gains and losses smoothed by rma (alpha = 1/n, ewm adjust=False, "
        "seeded with the first change, NaN for n bars); cAlgo's RSI smooths them with an EMA of 2n-1 periods "
        "(alpha = 2/(2n) = 1/n, the same recurrence), seeded at its first value: values converge after the "
        "first few times n bars; early crossings of the thresholds may differ",
        "mql5": "MetaTrader's RSI seeds with the simple mean of the first n changes, then Wilder's smoothing "
        "(alpha = 1/n), the engine with the first change: values converge after the first bars",
    }
    return [
        _e(
            f"rsi({n})",
            "indicator",
            "Wilder RSI, rma(gain)/rma(loss), alpha = 1/n",
            t[target],
            "warm-up",
            note[target],
        ),
        _e(
            f"thresholds {m.values['lower']}/{m.values['upper']}",
            "rule",
            "rsi crosses below lower / above upper",
            "the same levels, strict crossings",
            "same",
        ),  # fmt: skip
    ]


def _bollinger(m: BotModel, target: str) -> list[Entry]:
    n, k = m.values["window"], m.values["k"]
    t = {
        "ctrader": "Indicators.BollingerBands(Bars.ClosePrices, n, k, MovingAverageType.Simple): Top, Main, Bottom",
        "mql5": "iBands(n, 0, k, PRICE_CLOSE): UPPER_BAND, BASE_LINE, LOWER_BAND",
    }
    note = {
        "ctrader": "the engine: z-score (close - SMA) / std with the POPULATION std (divides by n); crossing +-k "
        "is the close crossing SMA +- k std. cAlgo's BollingerBands take its StandardDeviation indicator, "
        "per cTrader's reference the population deviation (divides by n) about the moving average: the same "
        "bands (not checked against the platform here: no cTrader; with a sample deviation the bands would "
        "be sqrt(n/(n-1)) wider). "
        "Where the deviation is 0 the engine has no z-score (no cross) while the bands equal the SMA",
        "mql5": "MetaTrader's iBands: the population deviation (divides by n) about the SMA, as the engine; "
        "where the deviation is 0 the engine has no z-score (no cross)",
    }
    return [
        _e(
            f"zscore({n}) vs +-{k}",
            "indicator",
            "(close - sma(n)) / population std(n) crossing +-k and 0",
            t[target],
            "same",
            note[target],
        ),  # fmt: skip
    ]


def _donchian(m: BotModel, target: str) -> list[Entry]:
    e, x = m.values["entry"], m.values["exit"]
    t = {
        "ctrader": "Indicators.DonchianChannel(n).Top/.Bottom read one bar back (Last(1 + shift))",
        "mql5": "iHighest/iLowest over the n bars before the closed one",
    }
    note = {
        "ctrader": "the engine's channel is the highest high / lowest low of the PREVIOUS n bars (current bar "
        "excluded); cAlgo's DonchianChannel at a bar includes that bar, so the bot reads it one bar back: "
        "the same values",
        "mql5": "the highest high / lowest low of the n bars before the closed bar: the same values",
    }
    return [
        _e(
            f"highest/lowest({e})",
            "indicator",
            "max high / min low of the previous n bars",
            t[target],
            "same",
            note[target],
        ),
        _e(
            f"highest/lowest({x})",
            "indicator",
            "max high / min low of the previous n bars",
            t[target],
            "same",
            note[target],
        ),
    ]


for _name, _fn in (
    ("sma_cross", _sma_cross),
    ("ema_cross", _ema_cross),
    ("macd", _macd),
    ("rsi_reversion", _rsi),
    ("bollinger_breakout", _bollinger),
    ("donchian_breakout", _donchian),
):
    INDICATOR_PARITY.add(_name, _fn)


def _settings(m: BotModel, target: str) -> list[Entry]:
    s = m.settings
    plat = "cTrader" if target == "ctrader" else "MetaTrader 5"
    out = [
        _e(
            "fill",
            "rule",
            f"fill={s['fill']}",
            "market order at the first tick after the bar closed",
            "same" if s["fill"] == "next_open" else "differs",
            "signal at the bar's close, fill at the next bar's open"
            if s["fill"] == "next_open"
            else "the backtest filled at the signal bar's close; a live bot can only fill at the next tick (the next "
            "bar's open)",
        ),  # fmt: skip
        _e("crossing", "rule", "strict on both bars, NaN = no cross", "the same comparisons", "same"),
        _e(
            "direction",
            "setting",
            s["direction"],
            f"Direction parameter = {s['direction'].capitalize()}",
            "same",
            "an exit or the opposite entry closes; an allowed entry opens or reverses (close, then open)",
        ),
        _e(
            "bankruptcy",
            "rule",
            "equity <= 0 at a bar's close: everything closed at that close, the run ends",
            f"{plat}'s margin stop-out",
            "platform",
            "the bot has no bankruptcy rule of its own: the broker's stop-out (margin level) closes positions "
            "instead, usually earlier; a backtest that went bust differs from that bar on",
        ),
        _e(
            "cash",
            "setting",
            f"{s['cash']:g}",
            f"{plat} backtest starting capital",
            "platform",
            f"set the starting capital to {s['cash']:g} in {plat}'s backtest settings",
        ),
    ]
    for name in ("commission", "spread", "slippage"):
        v = s[name]
        zero = v in ("0", 0, None)
        out.append(_e(name, "setting", str(v), f"{plat} backtest / broker", "platform",
                      f"the broker's {name} applies, not the bot's; the backtest used {v}"
                      + ("" if zero else f": set the matching {name} in {plat}'s backtest settings")))  # fmt: skip
    size = str(s["size"])
    sz_note = (
        "volume rounded DOWN to the symbol's volume step and refused below its minimum (the engine trades "
        "fractional units unless 'whole')"
    )
    if size.endswith("%") or "%," in size or "risk" in size:
        sz_note += (
            "; equity is the account's equity (other positions included), and the engine's sizing "
            "also takes the fill's costs (spread, commission) out of the equity, the bot does not"
        )
    out.append(_e("size", "setting", size, "SizeMode/SizeValue parameters", "approximate", sz_note))
    for name in ("stop_loss", "take_profit"):
        if s[name]:
            out.append(_stop_entry(name, s[name], target))
    if s["trailing_stop"]:
        out.append(_e("trailing_stop", "setting", s["trailing_stop"],
                      "moved by the bot at each closed bar (ModifyPosition), never back", "same",
                      "as the engine: from the entry fill, then the held bar's high/low at its close; "
                      "the platform fills the stop at the touching tick"))  # fmt: skip
    contract = s.get("contract") or {}
    if contract.get("pip_size"):
        out.append(_e("contract", "setting", f"pip={contract['pip_size']:g}", "Symbol.PipSize", "platform",
                      "pips in the settings use the engine's pip size; the bot converts price distances with "
                      "the platform symbol's pip size"))  # fmt: skip
    return out


def _stop_entry(name: str, value: str, target: str) -> Entry:
    touch = (
        "the platform fills a touched stop at the touching tick (the engine: at the stop, or at the bar's open "
        "through a gap; the stop first when both are touched in one bar)"
    )
    if "atr" not in value:
        return _e(name, "setting", value, "order SL/TP, then set exactly from the entry fill", "same", touch)
    if target == "mql5":
        return _e(name, "setting", value, "iATR at the signal bar x multiple", "differs",
                  "MetaTrader's iATR is a SIMPLE average of the true range, the engine's ATR Wilder's rma: the "
                  "distances differ; " + touch)  # fmt: skip
    return _e(name, "setting", value, "AverageTrueRange(n, WilderSmoothing) at the signal bar x multiple",
              "warm-up", "the same Wilder smoothing of the true range, seeded differently; " + touch)  # fmt: skip


def parity_report(m: BotModel, target: str) -> list[Entry]:
    """The parity entries of one generated bot (indicators first, then rules and settings)."""
    return [*INDICATOR_PARITY.get(m.strategy)(m, target), *_settings(m, target)]
