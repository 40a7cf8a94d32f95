"""The one parser of the engine settings (workbench.backtest.settings): every form the CLI flags, widget
boxes, keywords and stored parameters use, the echo that reads back to the same settings, the sample
contracts, and one-line errors that name the flag and the fix."""

from __future__ import annotations

import math

import pytest

from workbench.backtest.settings import (
    Amount,
    Contract,
    EngineSettings,
    Size,
    contract_for,
    parse_commission,
    parse_contract,
    parse_cost,
    parse_size,
    parse_stop,
)
from workbench.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "fraction", "per_unit", "per_lot", "per_trade"),
    [
        ("0.0002", 0.0002, 0, 0, 0),
        ("0.01%", 0.0001, 0, 0, 0),
        ("2bp", 0.0002, 0, 0, 0),
        ("2 bps", 0.0002, 0, 0, 0),
        ("7/lot", 0, 0, 7, 0),
        ("7 / lots", 0, 0, 7, 0),
        ("0.00007/unit", 0, 0.00007, 0, 0),
        ("2.5/trade", 0, 0, 0, 2.5),
        ("2.5/order", 0, 0, 0, 2.5),
        ("2.5/trade+0.01%", 0.0001, 0, 0, 2.5),
        ("3.5/lot + 1e-5", 1e-5, 0, 3.5, 0),
        ("1e+0/trade", 0, 0, 0, 1.0),
        ("-0.0001", -0.0001, 0, 0, 0),  # a maker rebate
        ("0", 0, 0, 0, 0),
    ],
)
def test_commission_forms(text, fraction, per_unit, per_lot, per_trade):
    c = parse_commission(text)
    assert c.fraction == pytest.approx(fraction, abs=1e-18)
    assert (c.total("/unit"), c.total("/lot"), c.total("/trade")) == (per_unit, per_lot, per_trade)
    assert parse_commission(str(c)) == c  # the echo reads back to the same commission


def test_numbers_are_fractions_of_notional_and_the_echo_keeps_the_unit():
    assert parse_commission(0.0002).fraction == 0.0002
    assert str(parse_commission("0.01%")) == "0.01%"
    assert str(parse_commission("7/LOT")) == "7/lot"
    assert str(parse_commission(0)) == "0"


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("0.0002", Amount(0.0002)),
        ("0.02%", Amount(0.02, "%")),
        ("2bp", Amount(2.0, "bp")),
        ("1.5pips", Amount(1.5, "pips")),
        ("1.5 pip", Amount(1.5, "pips")),
        (0.001, Amount(0.001)),
    ],
)
def test_spread_and_slippage_forms(text, amount):
    assert parse_cost("spread", text) == amount
    assert parse_cost("slippage", str(amount)) == amount


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("0.0020", Amount(0.002)),
        ("15", Amount(15.0)),
        ("0.5%", Amount(0.5, "%")),
        ("20pips", Amount(20.0, "pips")),
        ("2atr", Amount(2.0, "atr", 14)),
        ("2ATR", Amount(2.0, "atr", 14)),
        ("1.5atr20", Amount(1.5, "atr", 20)),
        ("1.5atr(20)", Amount(1.5, "atr", 20)),
    ],
)
def test_stop_forms(text, amount):
    for name in ("stop_loss", "take_profit", "trailing_stop"):
        assert parse_stop(name, text) == amount
        assert parse_stop(name, str(amount)) == amount


@pytest.mark.parametrize("off", [None, "", "0", 0, 0.0, "off", "0%", "0atr"])
def test_a_zero_or_empty_stop_is_off(off):
    assert parse_stop("stop_loss", off) is None


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("100%", Size.fraction(1.0)),
        ("50%,whole", Size.fraction(0.5, whole=True)),
        ("1000", Size.units(1000)),
        ("1000units", Size.units(1000)),
        ("2lots", Size.lots(2)),
        ("0.1 lot", Size.lots(0.1)),
        ("5000cash", Size.cash(5000)),
        ("$5000", Size.cash(5000)),
        ("10%vol", Size.vol_target(0.1)),
        ("10%vol,window=30,max=2", Size.vol_target(0.1, window=30, max_leverage=2.0)),
        ("1%risk", Size.risk(0.01)),
        ("0.5%risk,max=20,whole", Size.risk(0.005, max_leverage=20.0, whole=True)),
    ],
)
def test_size_forms(text, size):
    assert parse_size(text) == size
    assert parse_size(str(size)) == size  # the echo reads back


def test_contracts_of_the_samples_and_fx_pairs():
    assert contract_for("EURUSD") == Contract("EURUSD", 0.0001, 100_000.0, "USD")
    assert contract_for("GOOG") == Contract("GOOG", 0.01, 1.0, "USD")
    assert contract_for("BTCUSD") == Contract("BTCUSD", 1.0, 1.0, "USD")
    assert contract_for("usdjpy") == Contract("USDJPY", 0.01, 100_000.0, "JPY")
    assert contract_for("GBPCHF").quote_currency == "CHF"
    unknown = contract_for("XYZ")
    assert unknown.pip_size is None and unknown.contract_size is None
    assert str(contract_for("EURUSD")) == "pip=0.0001,lot=100000,quote=USD"
    # overrides lay over the symbol's default; the echo (dict) reads back
    c = parse_contract("lot=10000", contract_for("EURUSD"))
    assert c == Contract("EURUSD", 0.0001, 10_000.0, "USD")
    assert parse_contract(c.to_dict()) == c
    assert parse_contract("pip=0.5,quote=eur").quote_currency == "EUR"


def test_settings_echo_builds_the_same_settings():
    s = EngineSettings.build(
        direction="both",
        commission="7/lot+0.001%",
        spread="1.2pips",
        slippage="0.5bp",
        size="1%risk,max=30",
        stop_loss="2atr",
        take_profit="0.5%",
        trailing_stop="0.0030",
        symbol="EURUSD",
    )
    echo = s.to_dict()
    assert echo == {
        "fill": "next_open",
        "direction": "both",
        "cash": 10_000.0,
        "commission": "7/lot+0.001%",
        "spread": "1.2pips",
        "slippage": "0.5bp",
        "size": "1%risk,max=30",
        "stop_loss": "2atr",
        "take_profit": "0.5%",
        "trailing_stop": "0.003",
        "contract": {
            "symbol": "EURUSD",
            "pip_size": 0.0001,
            "contract_size": 100_000.0,
            "quote_currency": "USD",
        },
    }
    assert EngineSettings.build(**echo) == s
    r = s.resolve()
    assert r.costs[0] == pytest.approx(1e-5) and r.costs[1] == pytest.approx(7e-5) and r.costs[2] == 0
    assert r.costs[3:] == (0.0, pytest.approx(1.2e-4), pytest.approx(5e-5), 0.0)
    assert r.stops == ((2, 2.0, 14), (0, 0.005, 0), (1, 0.003, 0))
    assert (r.size_mode, r.size_value, r.max_leverage) == (4, 0.01, 30.0)
    lots = EngineSettings.build(size="2lots", symbol="EURUSD").resolve()
    assert (lots.size_mode, lots.size_value) == (0, 200_000.0)


@pytest.mark.parametrize(
    ("kw", "flag", "hint"),
    [
        ({"commission": "7/lots/x"}, "--commission '7/lots/x'", "7/lot"),
        ({"commission": "0.5"}, "--commission '0.5'", "[-0.1, 0.1)"),
        ({"commission": "-7/lot"}, "--commission '-7/lot'", ">= 0"),
        ({"spread": "2 pipz"}, "--spread '2 pipz'", "1.5pips"),
        ({"spread": "0.2"}, "--spread '0.2'", "pips"),
        ({"slippage": "2atr"}, "--slippage '2atr'", "0.0002"),
        ({"size": "lots"}, "--size 'lots'", "1%risk"),
        ({"size": "0%"}, "--size '0%'", "positive"),
        ({"size": "100%,window=3"}, "--size '100%,window=3'", "window=N for %vol"),
        ({"stop_loss": "2x"}, "--stop-loss '2x'", "2atr"),
        ({"take_profit": "-1%"}, "--take-profit '-1%'", "0.5%"),
        ({"trailing_stop": "2atr0"}, "--trailing-stop '2atr0'", ">= 1"),
        ({"direction": "sideways"}, "--direction 'sideways'", "long, short, both"),
        ({"fill": "open"}, "--fill 'open'", "next_open, close"),
        ({"cash": -5}, "--cash -5", "positive"),
        ({"contract": "pip"}, "--contract 'pip'", "pip=0.0001"),
        ({"contract": "tick=1"}, "--contract 'tick=1'", "pip, lot, quote"),
        ({"spread": "2pips", "symbol": "XYZ"}, "--spread '2pips'", "--contract pip=0.0001"),
        ({"commission": "7/lot", "symbol": "XYZ"}, "--commission '7/lot'", "--contract lot=100000"),
        ({"size": "2lots", "symbol": "XYZ"}, "--size '2lots'", "--contract lot=100000"),
    ],
)
def test_errors_are_one_line_naming_the_flag_and_the_fix(kw, flag, hint):
    with pytest.raises(ConfigError) as err:
        EngineSettings.build(**kw)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(flag), msg
    assert hint in msg, msg


def test_grid_checks_fail_fast():
    s = EngineSettings.build(stop_loss="1%")
    with pytest.raises(ConfigError, match="--stop-loss is given twice"):
        s.check_grid(["fast", "stop_loss"])
    with pytest.raises(ConfigError, match="--stop-loss is given twice"):
        s.check_grid(["sl"])
    risk = EngineSettings.build(size="1%risk")
    with pytest.raises(ConfigError, match="risk sizing needs a stop"):
        risk.check_grid(["fast"])
    risk.check_grid(["fast", "stop_loss"])  # the stop is swept: fine
    assert math.isinf(risk.size.max_leverage)
