"""The simulated broker and the bar loop: the engine's conventions, bar by bar, with risk checks.

This mirrors :func:`workbench.backtest._kernel._simulate` step for step (the same arithmetic in the same
order, so the same floats): at each bar (1) the order decided at the previous close fills at this open
(a reversal closes first, then sizes the entry from the cash after the close), (2) stop-loss /
take-profit / trailing stop inside the bar, (3) the policy decides at the close (``fill="close"``: fills
there), (4) mark to market; equity <= 0 closes everything and ends trading. With the risk manager off
a replay gives exactly the trades of :func:`workbench.backtest.run` (tests/unit/paper). What is ours:
every entry passes :meth:`workbench.risk.RiskManager.check` just before it fills (accepted, resized or
rejected with the rule), and every order is recorded with its outcome.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from workbench.backtest.settings import STOP_ATR, STOP_FRACTION, STOP_NAMES, STOP_PRICE, EngineSettings
from workbench.risk import ACTIVE, HALTED, Order, RiskManager, RiskState

__all__ = ["Broker", "SimBroker", "Bars", "EXIT_REASONS"]

EXIT_REASONS = ("signal", "stop_loss", "take_profit", "bankrupt", "trailing_stop", "kill_switch")
C_COMMISSION, C_PER_UNIT, C_PER_ORDER, C_SPREAD, C_SPREAD_PRICE, C_SLIPPAGE, C_SLIPPAGE_PRICE = range(7)
SIZE_UNITS, SIZE_FRACTION, SIZE_VOL_TARGET, SIZE_CASH, SIZE_RISK = 0, 1, 2, 3, 4
NAN = math.nan
_DAY_US = 86_400_000_000


class Broker(Protocol):
    """Where a real broker adapter plugs in (none ships): the session hands it the order decided at a
    bar's close and reads back fills. :class:`SimBroker` is the simulated one with the engine's fills,
    costs, spread and slippage."""

    def submit(self, target: int, bar: int, ts: Any, kind: str) -> None: ...

    def snapshot(self) -> dict[str, Any]: ...

    def load(self, data: dict[str, Any]) -> None: ...


@dataclass(slots=True)
class Bars:
    """The bars seen so far as Python lists (fast scalar access in the bar loop) plus per-bar inputs the
    engine computes from the bars: ATR of each ATR stop at each bar, volatility for ``%vol`` sizing."""

    ts: list[int] = field(default_factory=list)  # µs
    open: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)
    close: list[float] = field(default_factory=list)
    volume: list[float] = field(default_factory=list)


def _fee(units: float, px: float, c: tuple[float, ...]) -> float:
    return units * px * c[C_COMMISSION] + units * c[C_PER_UNIT] + c[C_PER_ORDER]


def _slip(px: float, d: int, c: tuple[float, ...]) -> float:
    return px + d * (px * c[C_SLIPPAGE] + c[C_SLIPPAGE_PRICE])


def _level(ref: float, side: int, kind: int, value: float, unit: float) -> float:
    if not value > 0:
        return NAN
    if kind == STOP_FRACTION:
        return ref * (1.0 + side * value)
    dist = value if kind == STOP_PRICE else value * unit
    if not dist > 0:
        return NAN
    return ref + side * dist


def _units(mode: int, value: float, whole: bool, max_lev: float, cash: float, px: float, adj: float,
           c: tuple[float, ...], vol_now: float, risk: float) -> float:  # fmt: skip
    if mode == SIZE_UNITS:
        return value
    if mode == SIZE_CASH:
        u = value / adj
    elif mode == SIZE_RISK:
        if not risk > 0 or not cash > 0:
            return 0.0
        u = cash * value / risk
        if u * adj > max_lev * cash:
            u = max_lev * cash / adj
    else:
        if mode == SIZE_FRACTION:
            f = value
        else:
            if not vol_now > 0:
                return 0.0
            f = min(value / vol_now, max_lev)
        if not f > 0 or not cash > 0:
            return 0.0
        per_unit = adj + (f * px * c[C_COMMISSION]) / f + c[C_PER_UNIT]
        if whole:
            u = (cash * f - c[C_PER_ORDER]) // per_unit
        else:
            u = (cash * f - c[C_PER_ORDER]) / per_unit
    if whole:
        u = math.floor(u)
    return u if u > 0 else 0.0


class SimBroker:
    """The simulated broker + bar loop of one session (one symbol). Records go to ``orders``, ``fills``,
    ``trades``, ``equity`` (lists of dicts / tuples the session drains into the store each step)."""

    def __init__(self, settings: EngineSettings, risk: RiskManager, symbol: str) -> None:
        r = settings.resolve()
        self.settings = settings
        self.symbol = symbol
        self.costs = tuple(float(x) for x in r.costs)
        self.size_mode, self.size_value = r.size_mode, float(r.size_value)
        self.whole, self.max_lev = bool(r.whole), float(r.max_leverage)
        self.fill_close = settings.fill == "close"
        self.allow_long = settings.direction in ("long", "both")
        self.allow_short = settings.direction in ("short", "both")
        self.stop_codes = [settings.stop_code(n, settings.stop(n)) for n in STOP_NAMES]
        self.stops_on = any(s is not None and s[1] > 0 for s in self.stop_codes)
        self.risk = risk
        self.scale: Any = None  # per-bar size multipliers read at each entry's signal bar (or None)
        # account
        self.cash = float(settings.cash)
        self.pos = 0
        self.units = 0.0
        self.ep = 0.0
        self.ec = 0.0
        self.eb = 0
        self.entry_order = 0
        self.pending: tuple[int, int, str] | None = None  # (target, order id, kind)
        self.sv = [NAN, NAN, NAN, NAN, NAN]
        self.bust = False
        self.equity = float(settings.cash)
        self.peak = float(settings.cash)
        self.day_start = float(settings.cash)
        self.next_order = 1
        self.next_fill = 1
        self.next_trade = 1
        # records of the current step
        self.orders: list[dict[str, Any]] = []
        self.order_updates: list[dict[str, Any]] = []
        self.fills: list[dict[str, Any]] = []
        self.trades: list[dict[str, Any]] = []
        # equity per bar, column by column (bar, ts, equity, drawdown %, position, signed units)
        self.equity_rows: tuple[list[Any], ...] = ([], [], [], [], [], [])
        self.decisions = 0
        self.order_count = 0
        self.rstate = RiskState(equity=self.equity, peak_equity=self.peak, day_start_equity=self.day_start)

    # -- durable state -------------------------------------------------------------------------------------
    _KEYS = ("cash", "pos", "units", "ep", "ec", "eb", "entry_order", "bust", "equity", "peak", "day_start",
             "next_order", "next_fill", "next_trade", "decisions", "order_count")  # fmt: skip

    def snapshot(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self._KEYS}
        d["pending"] = list(self.pending) if self.pending else None
        d["sv"] = [None if x != x else x for x in self.sv]
        return d

    def load(self, data: dict[str, Any]) -> None:
        for k in self._KEYS:
            setattr(self, k, type(getattr(self, k))(data[k]))
        p = data.get("pending")
        self.pending = (int(p[0]), int(p[1]), str(p[2])) if p else None
        self.sv = [NAN if x is None else float(x) for x in data["sv"]]
        self.rstate.equity, self.rstate.peak_equity = self.equity, self.peak
        self.rstate.day_start_equity = self.day_start

    # -- orders -------------------------------------------------------------------------------------------------
    def submit(self, target: int, bar: int, ts: int, kind: str = "signal") -> int:
        """An order decided at bar ``bar``'s close: go to ``target`` (-1, 0, +1). Replaces a pending one."""
        if self.pending is not None:
            self._update(self.pending[1], "cancelled", None, f"replaced by a {kind} order at bar {bar}")
        oid = self.next_order
        self.next_order += 1
        self.order_count += 1
        self.orders.append({"order_id": oid, "bar": bar, "ts": ts, "target": target, "from_pos": self.pos,
                            "kind": kind, "status": "pending", "rule": None, "reason": None})  # fmt: skip
        self.pending = (target, oid, kind)
        return oid

    def _update(self, oid: int, status: str, rule: str | None, reason: str | None, units: float = 0.0,
                bar: int = -1) -> None:  # fmt: skip
        self.order_updates.append(
            {
                "order_id": oid,
                "status": status,
                "rule": rule,
                "reason": reason,
                "units": units,
                "fill_bar": bar,
            }
        )

    def _fill(
        self, oid: int, bar: int, ts: int, side: int, units: float, px: float, fee: float, what: str
    ) -> None:
        self.fills.append({"fill_id": self.next_fill, "order_id": oid, "bar": bar, "ts": ts, "side": side,
                           "units": units, "price": px, "commission": fee, "what": what})  # fmt: skip
        self.next_fill += 1

    def _close(self, px: float, i: int, ts: int, reason: int, oid: int) -> None:
        pos, units, ep, ec = self.pos, self.units, self.ep, self.ec
        gross = pos * units * (px - ep)
        exit_comm = _fee(units, px, self.costs)
        pnl = gross - exit_comm - ec
        self.cash += gross - exit_comm
        self._fill(oid, i, ts, -pos, units, px, exit_comm, EXIT_REASONS[reason])
        self.trades.append({"trade_id": self.next_trade, "direction": "long" if pos > 0 else "short",
                            "size": units, "entry_bar": self.eb, "exit_bar": i, "entry_price": ep,
                            "exit_price": px, "commission": ec + exit_comm, "pnl": pnl,
                            "exit_reason": EXIT_REASONS[reason], "entry_order": self.entry_order,
                            "exit_order": oid})  # fmt: skip
        self.next_trade += 1
        self.pos = 0
        self.risk.on_trade(pnl, units * ep, i)

    def _enter(self, d: int, px: float, i: int, ts: int, j: int, vol_now: float, atr_at: Callable[[int, int], float],
               oid: int) -> None:  # fmt: skip
        c = self.costs
        adj = px * (1.0 + d * c[C_SPREAD]) + d * (
            c[C_SPREAD_PRICE] + px * c[C_SLIPPAGE] + c[C_SLIPPAGE_PRICE]
        )
        lv = []
        for s, side in ((0, -d), (1, d), (2, -d)):
            code = self.stop_codes[s]
            if code is None:
                lv.append(NAN)
                continue
            kind, value, _w = code
            unit = atr_at(s, j) if kind == STOP_ATR else 0.0
            lv.append(_level(adj, side, kind, value, unit))
        stop_px, take_px, trail_px = lv
        risk_d = abs(adj - stop_px)
        trail_d = abs(adj - trail_px)
        if trail_d < risk_d or risk_d != risk_d:
            risk_d = trail_d
        rm = self.risk
        if rm.config.sizing is not None:
            self.rstate.vol = vol_now
            u = rm.size(px, self.rstate)
        else:
            u = _units(self.size_mode, self.size_value, self.whole, self.max_lev, self.cash, px, adj, c,
                       vol_now, risk_d)  # fmt: skip
        scale = self.scale
        if scale is not None and scale[j] != 1.0:  # the signal bar's size scale (the kernel's rule)
            u = u * scale[j] if scale[j] > 0 else 0.0
            if self.whole:
                u = math.floor(u)
        rs = self.rstate
        rs.bar = i
        rs.positions[self.symbol] = 0.0
        rs.prices[self.symbol] = px
        dec = rm.check(Order(symbol=self.symbol, side=d, units=u, price=adj, bar=i, ts=ts), rs)
        if not dec.accepted:
            self._update(oid, "rejected", dec.rule, dec.reason, 0.0, i)
            return
        u = dec.units
        self.sv[0], self.sv[1], self.sv[2], self.sv[3], self.sv[4] = stop_px, take_px, trail_px, trail_d, adj
        fee = _fee(u, adj, c)
        self.pos, self.units, self.ep, self.ec, self.eb = d, u, adj, fee, i
        self.entry_order = oid
        self.cash -= fee
        self._fill(oid, i, ts, d, u, adj, fee, "entry")
        if dec.status == "resized":
            self._update(oid, "resized", dec.rule, dec.reason, u, i)
        else:
            self._update(oid, "filled", None, None, u, i)

    def _stop_hit(self, op: float, hi: float, lo: float) -> tuple[int, float]:
        sv, c = self.sv, self.costs
        stop_px, take_px, trail_px = sv[0], sv[1], sv[2]
        code = self.stop_codes[2]
        trail_v = code[1] if code is not None else 0.0
        trail_k = code[0] if code is not None else 0
        if self.pos > 0:
            hit_sl = lo <= stop_px
            hit_tr = lo <= trail_px
            if hit_sl or hit_tr:
                if hit_sl and not (trail_px > stop_px):
                    return 1, _slip(min(op, stop_px), -1, c)
                return 4, _slip(min(op, trail_px), -1, c)
            if hi >= take_px:
                return 2, max(op, take_px)
            if trail_v > 0 and hi > sv[4]:
                sv[4] = hi
                sv[2] = hi * (1.0 - trail_v) if trail_k == STOP_FRACTION else hi - sv[3]
            return 0, 0.0
        hit_sl = hi >= stop_px
        hit_tr = hi >= trail_px
        if hit_sl or hit_tr:
            if hit_sl and not (trail_px < stop_px):
                return 1, _slip(max(op, stop_px), 1, c)
            return 4, _slip(max(op, trail_px), 1, c)
        if lo <= take_px:
            return 2, min(op, take_px)
        if trail_v > 0 and lo < sv[4]:
            sv[4] = lo
            sv[2] = lo * (1.0 + trail_v) if trail_k == STOP_FRACTION else lo + sv[3]
        return 0, 0.0

    # -- the bar loop -------------------------------------------------------------------------------------------
    def process(
        self,
        bars: Bars,
        start: int,
        stop: int,
        decide: Callable[[int, int], int],
        vol: list[float] | np.ndarray,
        atr_at: Callable[[int, int], float],
        latencies: list[float] | None = None,
        quiet: np.ndarray | None = None,
    ) -> None:
        """Bars ``start:stop`` of ``bars``: fills, stops, the policy's decision (``decide(i, pos)`` ->
        target -1/0/+1) and marking, as the engine does; then the risk manager's bar close (UTC day,
        peak, kill-switch levels). ``latencies`` receives each bar's time from arrival to decision (s).
        ``quiet`` (bool per bar of ``start:stop``, optional): bars where the policy certainly keeps its
        position (no rule fires); runs of them with nothing else to do - no pending order, no trailing
        stop, no stop or take-profit touched, no kill-switch level reached, equity > 0 - are marked to
        market in one vectorised step (:meth:`_fast_forward`), with the same floats as bar by bar."""
        ts_, o_, h_, l_, c_ = bars.ts, bars.open, bars.high, bars.low, bars.close
        rm, rs, costs = self.risk, self.rstate, self.costs
        r_bar, r_ts, r_eq, r_dd, r_pos, r_units = (col.append for col in self.equity_rows)
        perf = time.perf_counter
        timed = latencies is not None
        events = None
        if quiet is not None and hasattr(bars, "array") and self.stop_codes[2] is None:
            events = np.flatnonzero(~np.asarray(quiet, dtype=bool)) + start
        i = start
        while i < stop:
            t0 = perf() if timed else 0.0
            if events is not None and self.pending is None and not self.bust and rm.switch.state == ACTIVE:
                j = self._fast_forward(bars, i, stop, events)
                if j > i:
                    if timed:
                        each = (perf() - t0) / (j - i)
                        latencies.extend([each] * (j - i))
                    i = j
                    continue
            ts = ts_[i]
            if self.bust:
                (
                    r_bar(i),
                    r_ts(ts),
                    r_eq(self.equity),
                    r_dd(100.0 if self.peak > 0 else 0.0),
                    r_pos(0),
                    r_units(0.0),
                )
                if timed:
                    latencies.append(perf() - t0)
                i += 1
                continue
            # 1. the order decided at the previous close fills at this open
            if self.pending is not None:
                self._fill_pending(i, ts, o_[i], vol, atr_at)
            # 2. stops inside this bar
            if self.stops_on and self.pos != 0:
                reason, px = self._stop_hit(o_[i], h_[i], l_[i])
                if reason > 0:
                    self._exit_order(i, ts, px, reason)
            # 3. the policy decides at the close
            pos = self.pos
            tgt = decide(i, pos)
            if tgt != pos:
                oid = self.submit(tgt, i, ts)
                if self.fill_close:
                    self.pending = None
                    if pos != 0:
                        self._close(_slip(c_[i], -pos, costs), i, ts, 0, oid)
                    if tgt != 0:
                        self._enter(tgt, c_[i], i, ts, i, vol[i], atr_at, oid)
                    else:
                        self._update(oid, "filled", None, None, 0.0, i)
            if timed:
                latencies.append(perf() - t0)
            # 4. mark to market
            pos = self.pos
            if pos != 0:
                eq = self.cash + pos * self.units * (c_[i] - self.ep)
                if eq <= 0:
                    if self.pending is not None:
                        self._update(
                            self.pending[1], "cancelled", "bankrupt", "the account went bust", 0.0, i
                        )
                        self.pending = None
                    self._exit_order(i, ts, c_[i], 3)
                    eq = 0.0
                    self.bust = True
            else:
                eq = self.cash
                if eq <= 0:
                    eq = 0.0
                    self.bust = True
            self.equity = eq
            # 5. risk at the close: the UTC day, the peak, the kill-switch levels (HALTED flattens)
            rs.equity = eq
            if eq > self.peak:
                self.peak = rs.peak_equity = eq
            day = ts // _DAY_US
            if day != rm.day:
                rm.day = day
                self.day_start = rs.day_start_equity = eq
            if rm.watches_levels or rm.switch.state != ACTIVE:
                rs.bar = i
                rm.on_bar(rs, day)
                if (
                    rm.switch.state == HALTED
                    and self.pos != 0
                    and rm.config.flatten_on_halt
                    and (self.pending is None or self.pending[0] != 0)
                ):
                    oid = self.submit(0, i, ts, "kill_switch")
                    if self.fill_close:
                        self.pending = None
                        self._close(_slip(c_[i], -self.pos, costs), i, ts, 5, oid)
                        self._update(oid, "filled", None, None, 0.0, i)
                        self.equity = eq = self.cash
            pos = self.pos
            r_bar(i), r_ts(ts), r_eq(eq), r_dd((1.0 - eq / self.peak) * 100.0 if self.peak > 0 else 0.0)
            r_pos(pos), r_units(pos * self.units)
            i += 1
        self.decisions += stop - start

    def _fast_forward(self, bars: Any, i: int, stop: int, events: np.ndarray) -> int:
        """Mark bars ``i..`` to market in one step while nothing can happen: up to the next bar where a rule
        fires (``events``), a stop-loss or take-profit is touched or the equity would reach 0. Returns the
        first bar not handled (``i`` when none was). The arithmetic is the bar loop's, element-wise."""
        k = int(np.searchsorted(events, i))
        j = int(events[k]) if k < events.shape[0] else stop
        if j <= i:
            return i
        pos, cash = self.pos, self.cash
        c = bars.array("close")[i:j]
        if pos != 0 and self.stops_on:
            lo, hi = bars.array("low")[i:j], bars.array("high")[i:j]
            stop_px, take_px = self.sv[0], self.sv[1]
            hit = (lo <= stop_px) | (hi >= take_px) if pos > 0 else (hi >= stop_px) | (lo <= take_px)
            if hit.any():
                j = i + int(np.argmax(hit))
                c = c[: j - i]
        if j <= i:
            return i
        if pos != 0:
            eq = cash + pos * self.units * (c - self.ep)
            bad = eq <= 0
            if bad.any():
                j = i + int(np.argmax(bad))
                eq = eq[: j - i]
                if j <= i:
                    return i
        else:
            if not cash > 0:
                return i
            eq = np.full(j - i, cash)
        peak = np.maximum.accumulate(np.maximum(eq, self.peak))
        dd = (1.0 - eq / peak) * 100.0
        rm, rs = self.risk, self.rstate
        if rm.watches_levels:  # stop before the first bar at a kill-switch level (the bar loop trips it)
            cfg = rm.config
            level = min(x for x in (cfg.reduce_drawdown_pct, cfg.halt_drawdown_pct) if x is not None)
            trip = dd >= level
            if trip.any():
                j = i + int(np.argmax(trip))
                if j <= i:
                    return i
                eq, peak, dd = eq[: j - i], peak[: j - i], dd[: j - i]
            rm.switch._drawdown, rm.switch._bar = float(dd[-1]), j - 1
        days = bars.array("ts")[i:j] // _DAY_US
        before = np.empty_like(days)
        before[0] = rm.day if rm.day is not None else -1
        before[1:] = days[:-1]
        changed = np.flatnonzero(days != before)
        if changed.size:
            rm.day = int(days[-1])
            self.day_start = rs.day_start_equity = float(eq[changed[-1]])
        self.peak = rs.peak_equity = float(peak[-1])
        self.equity = rs.equity = float(eq[-1])
        n = j - i
        r_bar, r_ts, r_eq, r_dd, r_pos, r_units = self.equity_rows
        r_bar.extend(range(i, j))
        r_ts.extend(bars.ts[i:j])
        r_eq.extend(eq.tolist())
        r_dd.extend(dd.tolist())
        r_pos.extend([pos] * n)
        r_units.extend([pos * self.units] * n)
        return j

    def _fill_pending(
        self, i: int, ts: int, op: float, vol: Any, atr_at: Callable[[int, int], float]
    ) -> None:
        tgt, oid, kind = self.pending
        self.pending = None
        pos = self.pos
        closed = False
        if pos != 0 and tgt != pos:
            self._close(_slip(op, -pos, self.costs), i, ts, 5 if kind == "kill_switch" else 0, oid)
            closed = True
        if tgt != 0 and self.pos == 0:
            self._enter(tgt, op, i, ts, i - 1, vol[i - 1], atr_at, oid)
        elif closed:
            self._update(oid, "filled", None, None, 0.0, i)
        else:
            self._update(
                oid, "cancelled", None, "nothing to do: the position was already at the target", 0.0, i
            )

    def _exit_order(self, i: int, ts: int, px: float, reason: int) -> None:
        """A broker-side exit (stop, take-profit, trailing stop, bankruptcy) as an order filled at once."""
        oid = self.next_order
        self.next_order += 1
        self.orders.append({"order_id": oid, "bar": i, "ts": ts, "target": 0, "from_pos": self.pos,
                            "kind": EXIT_REASONS[reason], "status": "pending", "rule": None, "reason": None})  # fmt: skip
        self._close(px, i, ts, reason, oid)
        self._update(oid, "filled", None, None, 0.0, i)

    def drain(self) -> dict[str, list[Any]]:
        """The records of the step, handed to the store; the lists start empty again."""
        out = {"orders": self.orders, "order_updates": self.order_updates, "fills": self.fills,
               "trades": self.trades, "equity": self.equity_rows}  # fmt: skip
        self.orders, self.order_updates, self.fills, self.trades = [], [], [], []
        self.equity_rows = ([], [], [], [], [], [])
        return out
