"""The ``.cbotset`` parameter file of a generated cBot, in cTrader's JSON form::

    {"Chart": {"Symbol": "EURUSD", "Period": "h1"}, "Parameters": {"Fast": 20, "Slow": 30, ...}}

Named ``<ClassName>, <SYMBOL> <period>.cbotset`` (cAlgo's convention, which ``workbench ingest`` reads the
bot's name from); ``<ClassName>.cbotset`` when the symbol or timeframe is unknown. Values are typed: ints,
floats (written with a decimal point), booleans, strings, and enum parameters as their member names.
:func:`read_parameters` turns a set read back (``workbench parameters ID``) into the strategy, its
parameters and the engine settings again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.backtest.spec import get_strategy
from workbench.codegen.model import (
    SETTING_PARAMS,
    BotModel,
    class_name,
    prop_name,
    settings_from_bot_parameters,
)
from workbench.errors import StrategyError

__all__ = ["cbotset_name", "ctrader_period", "write_cbotset", "read_parameters"]

_TF = re.compile(r"^(\d+)\s*(mo|m|h|d|w)$", re.I)
_PERIOD_UNITS = {"m": "m", "h": "h", "d": "D", "w": "W", "mo": "Month"}


def ctrader_period(timeframe: str | None) -> str | None:
    """The workbench's ``1h`` / ``15m`` / ``1d`` as cTrader's period ``h1`` / ``m15`` / ``D1``."""
    m = _TF.match((timeframe or "").strip())
    if not m:
        return None
    return f"{_PERIOD_UNITS[m.group(2).lower()]}{int(m.group(1))}"


def cbotset_name(model: BotModel) -> str:
    period = ctrader_period(model.timeframe)
    if model.symbol and period:
        return f"{model.class_name}, {model.symbol} {period}.cbotset"
    return f"{model.class_name}.cbotset"


def write_cbotset(model: BotModel, out_dir: Path) -> Path:
    chart: dict[str, Any] = {}
    if model.symbol:
        chart["Symbol"] = model.symbol
    if period := ctrader_period(model.timeframe):
        chart["Period"] = period
    params = {}
    for p in (*model.params, *model.settings_params):
        params[p.prop] = float(p.default) if p.kind == "double" else p.default
    path = Path(out_dir) / cbotset_name(model)
    path.write_text(json.dumps({"Chart": chart, "Parameters": params}, indent=2) + "\n", encoding="utf-8")
    return path


def read_parameters(strategy: str, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(strategy parameters, engine settings) of a generated bot's parameter set (``.cbotset`` read back):
    ``strategy`` is the workbench strategy (or the bot's class name, ``SmaCrossBot``)."""
    import workbench.backtest.strategies  # noqa: F401
    from workbench.backtest.spec import STRATEGIES

    names = {class_name(n): n for n in STRATEGIES.names()}
    spec = get_strategy(names.get(strategy, strategy))
    params: dict[str, Any] = {}
    for p in spec.params:
        prop = prop_name(p.name)
        if prop not in values:
            raise StrategyError(f"parameter set lacks {prop!r} (strategy {spec.name!r})")
        params[p.name] = p.coerce(values[prop])
    settings = settings_from_bot_parameters({k: v for k, v in values.items() if k in SETTING_PARAMS})
    return params, settings
