"""What a generated bot is made of, independent of the target language: the strategy's parameters
(defaults and searched ranges), the engine settings mapped onto bot parameters, and names.

:func:`bot_model` is the one place that turns ``(strategy, params, settings)`` into plain data the
templates render; :func:`settings_from_bot_parameters` is its inverse for the settings (what a
``.cbotset`` read back by ``workbench ingest`` means to the engine).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.backtest.settings import Amount, EngineSettings
from workbench.backtest.spec import Param, StrategySpec, get_strategy
from workbench.errors import ConfigError, StrategyError

__all__ = [
    "BotParam",
    "BotModel",
    "bot_model",
    "class_name",
    "prop_name",
    "settings_from_bot_parameters",
    "SETTING_PARAMS",
]

# engine size modes -> the bot's SizeMode enum (vol_target has no bot equivalent: refused)
SIZE_MODES = {"units": "Units", "lots": "Lots", "cash": "Cash", "fraction": "Fraction", "risk": "Risk"}
# engine stop units -> the bot's StopMode enum
STOP_MODES = {"": "Price", "pips": "Pips", "%": "Percent", "atr": "Atr"}
STOP_PROPS = {"stop_loss": "StopLoss", "take_profit": "TakeProfit", "trailing_stop": "TrailingStop"}
# the bot parameters that carry engine settings (the rest of a .cbotset are strategy parameters)
SETTING_PARAMS = (
    "Direction",
    "SizeMode",
    "SizeValue",
    "WholeUnits",
    "MaxLeverage",
    *(f"{p}{s}" for p in STOP_PROPS.values() for s in ("Mode", "Value", "AtrPeriod")),
    "Label",
)


# strategies no bot can be generated for, and why (refused with a one-line error, never emitted)
UNSUPPORTED = {
    "model": "it trades a model's per-bar probability (the bars' proba column from workbench.ml), which a "
    "bot cannot recompute from prices; export the model's rules or use a library strategy",
    "learned_rules": "learned rules (a decision tree over indicator features, from workbench infer) are not "
    "generated; generate the best library strategy of the inference's candidates instead",
}


def prop_name(param: str) -> str:
    """``fast`` -> ``Fast``, ``atr_window`` -> ``AtrWindow`` (a C#/MQL identifier)."""
    out = "".join(part[:1].upper() + part[1:] for part in param.split("_") if part)
    if not out.isidentifier():
        raise StrategyError(f"parameter {param!r} does not make an identifier")
    return out


def class_name(strategy: str) -> str:
    """``sma_cross`` -> ``SmaCrossBot``."""
    return prop_name(strategy) + "Bot"


@dataclass(frozen=True)
class BotParam:
    """One bot parameter: ``name`` (the strategy's), ``prop`` (the identifier), ``kind`` (``int``,
    ``double``, ``bool``, ``string`` or an enum's name), the default and the range offered for
    optimisation in the platform (``None`` = unbounded)."""

    name: str
    prop: str
    kind: str
    default: Any
    min: float | None = None
    max: float | None = None
    step: float | None = None
    label: str = ""
    group: str = "Strategy"


@dataclass(frozen=True)
class BotModel:
    """Everything a template needs (plain data)."""

    strategy: str
    description: str
    class_name: str
    params: tuple[BotParam, ...]  # the strategy's own parameters, in spec order
    settings_params: tuple[BotParam, ...]  # engine settings as bot parameters
    settings: dict[str, Any]  # EngineSettings.to_dict()
    values: dict[str, int | float]  # the strategy parameters (checked)
    symbol: str | None = None
    timeframe: str | None = None
    origin: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def param(self, name: str) -> BotParam:
        for p in (*self.params, *self.settings_params):
            if p.name == name or p.prop == name:
                return p
        raise KeyError(name)

    def cbotset_parameters(self) -> dict[str, Any]:
        """The bot's parameters as a ``.cbotset`` holds them (property name -> default)."""
        return {p.prop: p.default for p in (*self.params, *self.settings_params)}


def _nice_step(lo: float, hi: float) -> float:
    """A round step giving about 100 values across ``[lo, hi]`` (0.1 for 1..99, 0.01 for 0.1..10)."""
    span = hi - lo
    if not span > 0:
        return 1.0
    return 10.0 ** math.floor(math.log10(span / 100.0) + 1e-12)


def _range(p: Param, grid: Sequence[Any] | None) -> tuple[float, float, float]:
    """(min, max, step): the values searched (a stored sweep's grid) when known, else the parameter's
    declared range (step 1 for integers, a round step for floats)."""
    lo, hi = p.range
    if grid:
        vals = sorted({float(v) for v in grid})
        if len(vals) > 1:
            diffs = {round(b - a, 12) for a, b in zip(vals, vals[1:], strict=False)}
            step = (
                diffs.pop() if len(diffs) == 1 else (1.0 if p.type is int else _nice_step(vals[0], vals[-1]))
            )
            return vals[0], vals[-1], step
        return float(lo), float(hi), 1.0 if p.type is int else _nice_step(lo, hi)
    return float(lo), float(hi), 1.0 if p.type is int else _nice_step(lo, hi)


def _stop_params(name: str, amount: Amount | None) -> list[BotParam]:
    prop = STOP_PROPS[name]
    label = name.replace("_", " ").capitalize()
    mode = "Off" if amount is None else STOP_MODES[amount.unit]
    value = 0.0 if amount is None else float(amount.value)
    window = amount.window if amount is not None and amount.unit == "atr" else 14
    group = "Protection"
    return [
        BotParam(name, f"{prop}Mode", "StopMode", mode, label=f"{label} mode", group=group),
        BotParam(
            f"{name}_value",
            f"{prop}Value",
            "double",
            value,
            0.0,
            None,
            None,
            label=f"{label} (price, pips, % or x ATR)",
            group=group,
        ),  # fmt: skip
        BotParam(
            f"{name}_atr",
            f"{prop}AtrPeriod",
            "int",
            int(window),
            1.0,
            None,
            1.0,
            label=f"{label} ATR periods",
            group=group,
        ),  # fmt: skip
    ]


def _settings_params(es: EngineSettings, label: str) -> list[BotParam]:
    s = es.size
    if s.mode not in SIZE_MODES:
        raise ConfigError(
            f"--size {s}: a volatility target is not generated (its annualisation depends on the bars the "
            "backtest ran on); use units, lots, cash, % of equity or %risk"
        )
    value = s.value * 100.0 if s.mode in ("fraction", "risk") else s.value
    lev = s.max_leverage if s.mode == "risk" and math.isfinite(s.max_leverage) else 0.0
    out = [
        BotParam(
            "direction",
            "Direction",
            "DirectionMode",
            es.direction.capitalize(),
            label="Direction",
            group="Trading",
        ),  # fmt: skip
        BotParam("size_mode", "SizeMode", "SizeMode", SIZE_MODES[s.mode], label="Size mode", group="Sizing"),
        BotParam(
            "size_value",
            "SizeValue",
            "double",
            float(value),
            0.0,
            None,
            None,
            label="Size (units, lots, cash, % of equity, % risk)",
            group="Sizing",
        ),  # fmt: skip
        BotParam("whole", "WholeUnits", "bool", bool(s.whole), label="Whole units", group="Sizing"),
        BotParam(
            "max_leverage",
            "MaxLeverage",
            "double",
            float(lev),
            0.0,
            None,
            None,
            label="Max leverage for % risk (0 = no cap)",
            group="Sizing",
        ),  # fmt: skip
    ]
    for name in STOP_PROPS:
        out += _stop_params(name, es.stop(name))
    out.append(BotParam("label", "Label", "string", label, label="Label", group="Trading"))
    return out


def engine_settings(settings: Mapping[str, Any] | None, symbol: str | None = None) -> EngineSettings:
    """The engine settings as written (a stored backtest's ``meta.settings``, the CLI flags) parsed."""
    raw = dict(settings or {})
    contract = raw.pop("contract", None)
    if isinstance(contract, Mapping):
        sym = contract.get("symbol") or symbol
        contract = {k: v for k, v in contract.items() if k != "symbol" and v is not None}
        symbol = sym
    known = {"fill", "direction", "cash", "commission", "spread", "slippage", "size", "stop_loss",
             "take_profit", "trailing_stop"}  # fmt: skip
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"settings: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return EngineSettings.build(**raw, contract=contract or None, symbol=symbol)


def _stops_as_settings(
    params: Mapping[str, Any] | None, settings: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Stops given as parameters (a swept grid key ``stop_loss``, the legacy ``sl``/``tp`` fractions of the
    entry price, as the engine's parameters carry them) moved to the settings they stand for."""
    p, s = dict(params or {}), dict(settings or {})
    for key, name in (("sl", "stop_loss"), ("tp", "take_profit"), *((n, n) for n in STOP_PROPS)):
        if key not in p:
            continue
        value = p.pop(key)
        if key in ("sl", "tp") and value is not None:
            value = f"{float(value) * 100:.12g}%"  # the engine's sl=x is stop_loss="(100x)%"
        if s.get(name) not in (None, "", value):
            raise ConfigError(
                f"{key}={value} is given as a parameter and {name}={s[name]} as a setting; give it once"
            )
        s[name] = value
    return p, s


def bot_model(
    strategy: str | StrategySpec,
    params: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    symbol: str | None = None,
    timeframe: str | None = None,
    origin: str = "",
) -> BotModel:
    """The bot of ``strategy`` with ``params`` (defaults for the missing ones; range and constraint
    checked) and engine ``settings`` (the ``workbench backtest`` flags' syntax). ``grid`` (a stored
    sweep's searched values) gives the parameters' Min/Max/Step; else their declared ranges."""
    name = strategy if isinstance(strategy, str) else strategy.name
    if name in UNSUPPORTED:
        raise StrategyError(f"strategy {name!r} cannot be generated: {UNSUPPORTED[name]}")
    spec = get_strategy(strategy)
    params, settings = _stops_as_settings(params, settings)
    values = spec.check(params)
    es = engine_settings(settings, symbol)
    symbol = symbol or es.contract.symbol
    cls = class_name(spec.name)
    bot_params = []
    for p in spec.params:
        lo, hi, step = _range(p, (grid or {}).get(p.name))
        v = values[p.name]
        lo, hi = min(lo, float(v)), max(hi, float(v))
        bot_params.append(
            BotParam(
                p.name, prop_name(p.name), "int" if p.type is int else "double", v, lo, hi, step, label=p.name
            )  # fmt: skip
        )
    return BotModel(
        strategy=spec.name,
        description=spec.description,
        class_name=cls,
        params=tuple(bot_params),
        settings_params=tuple(_settings_params(es, cls)),
        settings=es.to_dict(),
        values=values,
        symbol=symbol,
        timeframe=timeframe,
        origin=origin,
    )


def _amount(mode: str, value: float, window: int) -> str | None:
    if mode == "Off" or not value:
        return None
    unit = {"Price": "", "Pips": "pips", "Percent": "%", "Atr": "atr"}[mode]
    return str(Amount(float(value), unit, int(window) if unit == "atr" else 0))


def settings_from_bot_parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """The engine settings a bot's parameters (a ``.cbotset``'s ``Parameters``) stand for, in the
    flags' syntax: direction, size and the three stops (the inverse of :func:`bot_model`'s mapping)."""
    from workbench.backtest.settings import _fmt

    out: dict[str, Any] = {}
    if "Direction" in values:
        out["direction"] = str(values["Direction"]).lower()
    if "SizeMode" in values:
        mode = str(values["SizeMode"])
        v = float(values.get("SizeValue", 0))
        whole = ",whole" if values.get("WholeUnits") in (True, "True", "true") else ""
        lev = float(values.get("MaxLeverage") or 0)
        size = {
            "Units": _fmt(v),
            "Lots": f"{_fmt(v)}lots",
            "Cash": f"{_fmt(v)}cash" + whole,
            "Fraction": f"{_fmt(v)}%" + whole,
            "Risk": f"{_fmt(v)}%risk" + (f",max={_fmt(lev)}" if lev > 0 else "") + whole,
        }[mode]
        out["size"] = size  # units and lots are whole as given
    for name, prop in STOP_PROPS.items():
        if f"{prop}Mode" in values:
            out[name] = _amount(
                str(values[f"{prop}Mode"]),
                float(values.get(f"{prop}Value") or 0),
                int(values.get(f"{prop}AtrPeriod") or 14),
            )
    return out
