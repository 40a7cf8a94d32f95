"""Every rule of the risk manager fires, against hand-computed limits."""

from __future__ import annotations

import math

import pytest

from workbench.errors import ConfigError
from workbench.risk import ACTIVE, HALTED, REDUCING, KillSwitch, Order, RiskConfig, RiskManager, RiskState


def state(equity=10_000.0, peak=None, day_start=None, **kw) -> RiskState:
    return RiskState(equity=equity, peak_equity=peak or equity, day_start_equity=day_start or equity, **kw)


def buy(units=1000.0, price=1.25, symbol="EURUSD", reduces=False) -> Order:
    return Order(symbol=symbol, side=1, units=units, price=price, reduces=reduces)


def test_off_accepts_everything():
    d = RiskManager().check(buy(), state())
    assert (d.status, d.units, d.rule) == ("accepted", 1000.0, None)
    assert RiskConfig().is_off


def test_max_units_resizes():
    d = RiskManager(RiskConfig(max_units=400)).check(buy(), state())
    assert (d.status, d.units, d.rule) == ("resized", 400.0, "max_units")


def test_max_position_resizes_to_a_multiple_of_equity():
    # 0.5 x 10,000 = 5,000 of notional at 1.25 = 4,000 units; 1,000 already held -> 3,000 more
    rm = RiskManager(RiskConfig(max_position=0.5))
    d = rm.check(buy(units=10_000), state(positions={"EURUSD": 1000.0}, prices={"EURUSD": 1.25}))
    assert d.status == "resized" and d.rule == "max_position" and d.units == pytest.approx(3000.0)
    assert rm.audit[-1].kind == "resized" and rm.audit[-1].rule == "max_position"


def test_gross_exposure_counts_other_symbols():
    # 1.0 x 10,000 gross; GOOG holds 10 x 600 = 6,000 -> 4,000 left at 1.25 = 3,200 units
    rm = RiskManager(RiskConfig(max_gross_exposure=1.0))
    d = rm.check(buy(units=5000), state(positions={"GOOG": 10.0}, prices={"GOOG": 600.0}))
    assert d.rule == "max_gross_exposure" and d.units == pytest.approx(3200.0)


def test_symbol_limits_reject_and_resize():
    rm = RiskManager(RiskConfig(symbol_limits={"GOOG": 0, "EURUSD": 0.25}))
    d = rm.check(buy(symbol="GOOG", price=600.0, units=1), state())
    assert (d.status, d.rule) == ("rejected", "symbol_limit")
    d = rm.check(buy(units=5000), state())
    assert d.rule == "symbol_limit" and d.units == pytest.approx(2000.0)  # 2,500 / 1.25
    assert rm.rejected == {"symbol_limit": 1}


def test_daily_loss_blocks_entries_but_not_exits():
    rm = RiskManager(RiskConfig(daily_loss_pct=2.0))
    s = state(equity=9_790.0, peak=10_000.0, day_start=10_000.0)  # down 2.1 % today
    assert rm.check(buy(), s).rule == "daily_loss"
    assert rm.check(buy(reduces=True), s).status == "accepted"
    assert rm.check(buy(), state(equity=9_810.0, day_start=10_000.0)).status == "accepted"  # 1.9 %


def test_daily_loss_resets_with_the_day():
    rm = RiskManager(RiskConfig(daily_loss_pct=2.0))
    s = state(equity=10_000.0)
    rm.on_bar(s, day=1)
    s.equity = 9_700.0
    rm.on_bar(s, day=1)
    assert rm.check(buy(), s).rule == "daily_loss"
    rm.on_bar(s, day=2)  # a new day starts from 9,700
    assert s.day_start_equity == 9_700.0 and rm.check(buy(), s).status == "accepted"


def test_cooldown_after_losing_trades():
    rm = RiskManager(RiskConfig(cooldown_losses=2, cooldown_bars=5))
    rm.on_trade(-10.0, 1000.0, bar=7)
    assert rm.check(buy(), state(bar=8)).status == "accepted"  # one loss only
    rm.on_trade(-5.0, 1000.0, bar=9)
    assert rm.check(buy(), state(bar=14)).rule == "cooldown"  # until bar 9 + 5
    assert rm.check(buy(), state(bar=15)).status == "accepted"
    rm.on_trade(-5.0, 1000.0, bar=20)
    rm.on_trade(+1.0, 1000.0, bar=21)  # a win resets the count
    rm.on_trade(-5.0, 1000.0, bar=22)
    assert rm.check(buy(), state(bar=23)).status == "accepted"


def test_kill_switch_levels_and_hysteresis():
    cfg = RiskConfig(
        reduce_drawdown_pct=5.0, halt_drawdown_pct=10.0, resume_drawdown_pct=3.0, resume_after_bars=2
    )
    rm = RiskManager(cfg)
    s = state(equity=10_000.0)
    rm.on_bar(s, day=0)
    s.equity, s.bar = 9_400.0, 1  # 6 % down
    rm.on_bar(s, day=0)
    assert rm.switch.state == REDUCING
    assert rm.check(buy(), s).rule == "kill_switch"
    assert rm.check(buy(reduces=True), s).status == "accepted"
    s.equity, s.bar = 8_900.0, 2  # 11 %
    rm.on_bar(s, day=0)
    assert rm.switch.state == HALTED
    s.equity, s.bar = 9_600.0, 3  # 4 %: below the trip levels, not below the resume level
    rm.on_bar(s, day=0)
    with pytest.raises(ConfigError, match="hysteresis"):
        rm.switch.resume("alice")
    s.equity, s.bar = 9_800.0, 5  # 2 % and 3 bars after the trip
    rm.on_bar(s, day=0)
    assert rm.switch.resume("alice") == REDUCING
    s.bar = 6
    rm.on_bar(s, day=0)  # REDUCING -> ACTIVE by itself below the resume level
    assert rm.switch.state == ACTIVE
    trail = [
        (e.kind, e.from_state, e.to_state, e.by) for e in rm.audit if e.kind in ("transition", "refused")
    ]
    assert trail == [
        ("transition", ACTIVE, REDUCING, "risk"),
        ("transition", REDUCING, HALTED, "risk"),
        ("refused", HALTED, HALTED, "alice"),
        ("transition", HALTED, REDUCING, "alice"),
        ("transition", REDUCING, ACTIVE, "risk"),
    ]


def test_manual_trip_needs_a_reason_and_waits_bars():
    sw = KillSwitch(RiskConfig(resume_after_bars=3))
    with pytest.raises(ConfigError):
        sw.trip("  ")
    sw.observe(0.0, 10)
    assert sw.trip("fat finger", "bob") == HALTED
    sw.observe(0.0, 12)
    assert not sw.can_resume()[0]
    assert sw.resume("bob", force=True) == ACTIVE
    assert [e.reason for e in sw.audit] == ["fat finger", "resumed (forced)"]


def test_sizing_rules():
    s = state(equity=20_000.0, vol=0.20)
    assert RiskManager(RiskConfig(sizing="fraction:0.5")).size(2.0, s) == pytest.approx(5000.0)
    # vol target 10 % / sigma 20 % = 0.5 of equity; capped at max 0.25
    assert RiskManager(RiskConfig(sizing="vol:0.1,max=2")).size(2.0, s) == pytest.approx(5000.0)
    assert RiskManager(RiskConfig(sizing="vol:0.1,max=0.25")).size(2.0, s) == pytest.approx(2500.0)
    rm = RiskManager(RiskConfig(sizing="kelly:0.5,cap=0.3,min_trades=4"))
    assert rm.size(2.0, s) == pytest.approx(0.3 * 20_000 / 2.0)  # the cap until 4 trades
    for pnl in (20.0, 20.0, 20.0, -10.0):  # p = 0.75, b = 2% / 1% = 2 -> Kelly 0.75 - 0.25 / 2 = 0.625
        rm.on_trade(pnl, 1000.0, bar=1)
    assert rm.kelly_fraction() == pytest.approx(0.625)
    assert rm.size(2.0, s) == pytest.approx(0.3 * 20_000 / 2.0)  # half Kelly 0.3125, capped at 0.3
    rm2 = RiskManager(RiskConfig(sizing="kelly:0.25,cap=0.3,min_trades=4"))
    for pnl in (20.0, 20.0, 20.0, -10.0):
        rm2.on_trade(pnl, 1000.0, bar=1)
    assert rm2.size(2.0, s) == pytest.approx(0.25 * 0.625 * 20_000 / 2.0)
    assert math.isclose(RiskManager(RiskConfig(sizing="vol:0.1")).size(2.0, state(vol=math.nan)), 0.0)


def test_config_errors_are_one_line():
    for bad in (
        ["max_position=-1"],
        ["nope=1"],
        ["sizing=kelly"],
        ["reduce_drawdown_pct=20", "halt_drawdown_pct=10"],
    ):
        with pytest.raises(ConfigError) as e:
            RiskConfig.parse(bad)
        assert "\n" not in str(e.value)
    cfg = RiskConfig.parse(["max_position=1", "symbol_limits=EURUSD:0.5;GOOG:0", "sizing=vol:0.1,window=10"])
    assert RiskConfig.from_dict(cfg.to_dict()) == cfg
