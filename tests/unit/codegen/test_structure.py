"""Structural checks of the generated cBots: tree-sitter-c-sharp parses each file, and the indicator
kinds, periods, thresholds, crossings and parameter defaults read back from the syntax tree equal the
strategy spec they came from (``spec.rules(**params)``: the engine's own description of the rules)."""

from __future__ import annotations

import random

import pytest
from unit.codegen._csharp import read, rules_of

from workbench.backtest.spec import STRATEGIES, get_strategy
from workbench.codegen import generate
from workbench.codegen.model import class_name, prop_name

TEMPLATED = ("sma_cross", "ema_cross", "macd", "rsi_reversion", "bollinger_breakout", "donchian_breakout")


def _random_params(name: str, seed: int) -> dict:
    spec = get_strategy(name)
    rng = random.Random(seed)
    for _ in range(1000):
        raw = {}
        for p in spec.params:
            lo, hi = p.range
            hi = min(hi, 300)  # keep periods plausible
            raw[p.name] = rng.randint(int(lo), int(hi)) if p.type is int else round(rng.uniform(lo, hi), 2)
        try:
            return spec.check(raw)
        except Exception:  # constraint violated: draw again
            continue
    raise AssertionError(name)


def test_every_library_strategy_with_rules_over_bars_has_a_template():
    # the strategies whose signals come from bars alone (not a model's or a learned rule's column)
    import workbench.backtest.strategies  # noqa: F401

    assert set(TEMPLATED) == set(STRATEGIES.names()) - {"model"}


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("name", TEMPLATED)
def test_generated_cbot_matches_its_spec(tmp_path, name, seed):
    params = _random_params(name, seed)
    settings = {"direction": "both", "stop_loss": "1.5atr20", "take_profit": "0.8%", "size": "2%risk,max=5"}
    r = generate(name, params, settings, out_dir=tmp_path, check=False)
    assert r.compiled is None and r.errors == []
    bot = read((tmp_path / f"{class_name(name)}.cs").read_bytes())
    assert bot.tree_ok, "tree-sitter found a syntax error"
    assert bot.class_name == class_name(name) and bot.base == "Robot" and bot.robot_attribute
    assert {"OnStart", "OnBarClosed"} <= bot.methods
    spec = get_strategy(name)
    # parameter defaults = the values given; Min/Max/Step = the declared ranges
    for p in spec.params:
        info = bot.params[prop_name(p.name)]
        assert info["type"] == ("int" if p.type is int else "double")
        assert info["DefaultValue"] == params[p.name] and type(info["DefaultValue"]) is p.type
        assert (info["MinValue"], info["MaxValue"]) == (float(p.range[0]), float(p.range[1]))
        if p.type is int:
            assert info["Step"] == 1.0
    # indicator kinds, periods, thresholds and crossings = the spec's rules with these parameters
    assert rules_of(bot) == spec.rules(**params).resolved()
    # the settings became parameter defaults
    assert bot.params["Direction"]["DefaultValue"] == "DirectionMode.Both"
    assert bot.params["StopLossMode"]["DefaultValue"] == "StopMode.Atr"
    assert bot.params["StopLossValue"]["DefaultValue"] == 1.5
    assert bot.params["StopLossAtrPeriod"]["DefaultValue"] == 20
    assert bot.params["TakeProfitMode"]["DefaultValue"] == "StopMode.Percent"
    assert bot.params["TakeProfitValue"]["DefaultValue"] == 0.8
    assert bot.params["SizeMode"]["DefaultValue"] == "SizeMode.Risk"
    assert bot.params["SizeValue"]["DefaultValue"] == 2.0 and bot.params["MaxLeverage"]["DefaultValue"] == 5.0
    assert bot.params["TrailingStopMode"]["DefaultValue"] == "StopMode.Off"


def test_a_wrong_template_would_be_caught(tmp_path):
    # the reader is not blind: the same file with the slow period's argument swapped reads differently
    r = generate("sma_cross", {"fast": 7, "slow": 40}, None, out_dir=tmp_path, check=False)
    src = (tmp_path / "SmaCrossBot.cs").read_bytes()
    bad = src.replace(
        b"SimpleMovingAverage(Bars.ClosePrices, Slow)", b"SimpleMovingAverage(Bars.ClosePrices, Fast)"
    )
    assert bad != src and r.files
    spec = get_strategy("sma_cross")
    assert rules_of(read(src)) == spec.rules(fast=7, slow=40).resolved()
    assert rules_of(read(bad)) != spec.rules(fast=7, slow=40).resolved()
