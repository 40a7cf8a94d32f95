"""The bot model: parameters and ranges, settings -> bot parameters and back, refusals, parity."""

from __future__ import annotations

import json

import pytest

from workbench.backtest.settings import EngineSettings
from workbench.codegen import bot_model, generate, parity_report, read_parameters
from workbench.codegen.cbotset import ctrader_period
from workbench.codegen.model import settings_from_bot_parameters
from workbench.errors import ConfigError, RegistryError, StrategyError


def test_grid_gives_min_max_step_and_declared_range_otherwise():
    m = bot_model("rsi_reversion", {"window": 14, "lower": 25, "upper": 75},
                  grid={"window": [10, 12, 14, 16], "lower": [20.0, 25.0, 30.0]})  # fmt: skip
    w, lo, up = (m.param(n) for n in ("window", "lower", "upper"))
    assert (w.min, w.max, w.step, w.default) == (10.0, 16.0, 2.0, 14)
    assert (lo.min, lo.max, lo.step, lo.default) == (20.0, 30.0, 5.0, 25.0)
    assert (up.min, up.max) == (1.0, 99.0) and up.step == 0.1  # declared (1, 99): ~100 values
    assert bot_model("bollinger_breakout").param("k").step == 0.01  # declared (0.1, 10)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"direction": "both", "size": "1000"},
        {"direction": "short", "size": "2lots", "stop_loss": "20pips", "take_profit": "0.004"},
        {"size": "5000cash,whole", "trailing_stop": "0.5%"},
        {"size": "50%,whole", "stop_loss": "2atr", "trailing_stop": "3atr20", "take_profit": "1.5%"},
        {"size": "1%risk,max=3", "stop_loss": "1%"},
    ],
)
def test_settings_survive_the_bot_parameters(settings):
    m = bot_model("sma_cross", {"fast": 5, "slow": 30}, {**settings, "contract": "EURUSD"})
    back = settings_from_bot_parameters(m.cbotset_parameters())
    want = EngineSettings.build(**settings, contract="EURUSD").to_dict()
    got = EngineSettings.build(**back, contract="EURUSD").to_dict()
    assert got == want


def test_read_parameters_inverts_the_cbotset_values():
    m = bot_model("macd", {"fast": 8, "slow": 21, "signal": 5}, {"direction": "both", "stop_loss": "0.5%"})
    params, settings = read_parameters("MacdBot", m.cbotset_parameters())
    assert params == {"fast": 8, "slow": 21, "signal": 5}
    assert (
        settings["direction"] == "both"
        and settings["stop_loss"] == "0.5%"
        and settings["take_profit"] is None
    )


@pytest.mark.parametrize(
    ("strategy", "params", "settings", "error", "text"),
    [
        ("model", {}, {}, StrategyError, "cannot be generated"),
        ("no_such", {}, {}, RegistryError, "unknown strategy"),
        ("sma_cross", {"fast": 60, "slow": 50}, {}, StrategyError, "constraint"),
        ("sma_cross", {"sl": 0.01}, {"stop_loss": "2%"}, ConfigError, "give it once"),
        ("sma_cross", {}, {"size": "10%vol"}, ConfigError, "volatility target"),
        ("sma_cross", {}, {"stop_los": "1%"}, ConfigError, "unknown key"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(tmp_path, strategy, params, settings, error, text):
    with pytest.raises(error, match=text) as exc:
        generate(strategy, params, settings, out_dir=tmp_path / "out", check=False)
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "out").exists()


def test_parity_names_the_definition_differences():
    rsi = {p["item"]: p for p in parity_report(bot_model("rsi_reversion"), "ctrader")}
    assert rsi["rsi(14)"]["status"] == "warm-up" and "2n-1" in rsi["rsi(14)"]["note"]
    sma = {p["item"]: p for p in parity_report(bot_model("sma_cross"), "ctrader")}
    assert sma["sma(10)"]["status"] == "same"
    bb = parity_report(bot_model("bollinger_breakout"), "ctrader")[0]
    assert "POPULATION" in bb["note"]
    costs = {p["item"]: p for p in parity_report(bot_model("sma_cross", None, {"commission": "7/lot",
             "contract": "EURUSD"}), "ctrader")}  # fmt: skip
    assert costs["commission"]["status"] == "platform" and "7/lot" in costs["commission"]["note"]
    close = {p["item"]: p for p in parity_report(bot_model("sma_cross", None, {"fill": "close"}), "ctrader")}
    assert close["fill"]["status"] == "differs"


def test_files_and_parity_json(tmp_path):
    r = generate("donchian_breakout", {"entry": 30, "exit": 12}, {"direction": "both"}, out_dir=tmp_path,
                 check=False, symbol="EURUSD", timeframe="4h")  # fmt: skip
    names = sorted(p.rsplit("/", 1)[1] for p in r.files)
    assert names == [
        "DonchianBreakoutBot, EURUSD h4.cbotset",
        "DonchianBreakoutBot.cs",
        "DonchianBreakoutBot.parity.json",
    ]
    doc = json.loads((tmp_path / "DonchianBreakoutBot.parity.json").read_text())
    assert doc["params"] == {"entry": 30, "exit": 12} and doc["parity"] == r.parity
    cbotset = json.loads((tmp_path / "DonchianBreakoutBot, EURUSD h4.cbotset").read_text())
    assert cbotset["Chart"] == {"Symbol": "EURUSD", "Period": "h4"}
    assert cbotset["Parameters"]["Entry"] == 30 and cbotset["Parameters"]["Direction"] == "Both"


@pytest.mark.parametrize(("tf", "period"), [("1m", "m1"), ("15m", "m15"), ("1h", "h1"), ("4h", "h4"),
                                            ("1d", "D1"), ("1w", "W1"), ("1mo", "Month1"), ("tick", None)])  # fmt: skip
def test_ctrader_periods(tf, period):
    assert ctrader_period(tf) == period


def test_stops_given_as_parameters_become_settings():
    m = bot_model("sma_cross", {"fast": 5, "slow": 30, "sl": 0.015, "take_profit": "2atr"}, {})
    assert m.values == {"fast": 5, "slow": 30}
    assert m.settings["stop_loss"] == "1.5%" and m.settings["take_profit"] == "2atr"
