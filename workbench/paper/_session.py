"""A paper-trading session: a feed, a policy, the simulated broker, the risk manager, durable state."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from workbench.backtest import EngineSettings
from workbench.backtest.indicators import atr, returns_vol
from workbench.backtest.settings import STOP_ATR
from workbench.errors import ConfigError, DataError
from workbench.paper import _state
from workbench.paper._config import PaperConfig
from workbench.paper._feeds import Feed, bars_to_tuples, open_feed
from workbench.paper._policies import History, make_policy
from workbench.paper._trader import SimBroker
from workbench.risk import HALTED, RiskManager
from workbench.store import Q as _SQL

__all__ = ["Session", "start_session", "resume", "control", "backtest_with_risk"]

Listener = Callable[[str, dict[str, Any]], None]


class Session:
    """One paper-trading session (build it with :func:`start_session` or :func:`resume`).

    ``run(max_bars=None)`` trades the feed until it ends, ``max_bars`` more bars were processed or
    ``stop()`` is called (from another thread); each step of bars is one transaction in the workspace.
    ``status()`` is the live picture (positions, equity, drawdown, last decisions, risk state, the live
    diff against the backtest of the bars seen, feed health, counters, decision latency).

    Metrics hook (for the service's Prometheus collectors; see docs/paper.md): plain attributes
    ``decisions_total``, ``orders_total``, ``rejected_by_rule`` (rule -> count), ``equity``,
    ``drawdown_pct``, ``bars_processed``, ``latencies`` (recent decision latencies, seconds), and
    ``listeners``: callables ``fn(event, data)`` called after every step with ``event="step"`` and
    ``data={"bars", "decisions", "latencies", "rejected": [rule, ...], "equity", "drawdown_pct",
    "kill_switch"}`` (the observations of that step only), and with ``"status"`` on start/stop.
    """

    def __init__(self, ws: Any, config: PaperConfig) -> None:
        self.ws = ws
        self.store = ws.store
        self.config = config
        self.name = config.name
        self.engine = EngineSettings.build(symbol=config.symbol, **config.settings)
        self.risk = RiskManager(config.risk)
        self.broker = SimBroker(self.engine, self.risk, config.symbol)
        self.policy = make_policy(
            config.policy, strategy=config.strategy, params=config.params, direction=self.engine.direction,
            model=config.model, home=ws.home, session=config.name, settings=self.engine, ws=ws,
        )  # fmt: skip
        self.hist = History()
        self.trades: list[dict[str, Any]] = []
        self.decisions_total = 0
        self.orders_total = 0
        self.fills_total = 0
        self.rejected_by_rule: dict[str, int] = {}
        self.latencies: deque[float] = deque(maxlen=100_000)
        self.last_decisions: deque[dict[str, Any]] = deque(maxlen=20)
        self.listeners: list[Listener] = []
        self.state = "created"
        self.feed_connected = False
        self.last_bar_wall: float | None = None
        self.started_wall = time.time()
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._diff_cache: tuple[int, dict[str, Any]] | None = None
        self._pending_events: list[dict[str, Any]] = []
        self._run_bars = 0
        self._run_seconds = 0.0
        self._bars_per_year: float | None = None

    # -- the metrics hook's plain attributes --------------------------------------------------------------
    @property
    def equity(self) -> float:
        return self.broker.equity

    @property
    def drawdown_pct(self) -> float:
        b = self.broker
        return (1.0 - b.equity / b.peak) * 100.0 if b.peak > 0 else 0.0

    @property
    def bars_processed(self) -> int:
        return self.hist.n

    @property
    def last_bar_ts(self) -> Any:
        return None if not self.hist.n else _iso(self.hist.ts[-1])

    # -- control ------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask a running ``run()`` to finish its step and return (thread-safe)."""
        self._stop.set()

    def trip(self, reason: str, by: str = "operator") -> str:
        """Trip the kill switch (HALTED) now; recorded in the audit trail with the next step."""
        with self._lock:
            return self.risk.switch.trip(reason, by)

    def resume_trading(self, by: str = "operator", *, force: bool = False) -> str:
        """Resume after a trip (hysteresis rule; ConfigError when it does not allow it yet)."""
        with self._lock:
            return self.risk.switch.resume(by, force=force)

    def _notify(self, event: str, data: dict[str, Any]) -> None:
        for fn in list(self.listeners):
            try:
                fn(event, data)
            except Exception:  # noqa: BLE001 - an observer must not stop trading
                pass

    # -- running ------------------------------------------------------------------------------------------
    def _feed(self, max_bars: int | None, idle_exit_s: float | None) -> Feed:
        c = self.config
        last = self.hist.ts[-1] if self.hist.n else None
        return open_feed(c.feed, lambda: self.ws.bars(c.data), start=self.hist.n, speed=c.speed,
                         step=c.step_bars, after_ts=last, idle_exit_s=idle_exit_s)  # fmt: skip

    def run(
        self, max_bars: int | None = None, *, feed: Feed | None = None, idle_exit_s: float | None = None
    ) -> dict[str, Any]:
        """Trade until the feed ends, ``max_bars`` bars more or :meth:`stop`; returns :meth:`summary`."""
        self._stop.clear()
        feed = feed or self._feed(max_bars, idle_exit_s)
        self._bars_per_year = getattr(feed, "bars_per_year", None)
        self.state = "running"
        self._notify("status", {"state": self.state})
        done = 0
        ended = False
        t_start = time.perf_counter()
        last_commit = time.monotonic()
        leftover: list[Any] = []
        try:
            while not self._stop.is_set():
                if len(leftover):
                    rows, leftover = leftover, []
                else:
                    rows = feed.poll(0.2)
                self.feed_connected = bool(getattr(feed, "connected", True))
                if rows is None:
                    ended = True
                    break
                if len(rows) == 0:
                    if time.monotonic() - last_commit > 1.0:  # apply operator controls while idle
                        self._commit([], "running")
                        last_commit = time.monotonic()
                    continue
                if max_bars is not None and done + len(rows) > max_bars:
                    rows, leftover = rows[: max_bars - done], rows[max_bars - done :]
                self._step(rows)
                last_commit = time.monotonic()
                done += len(rows)
                if max_bars is not None and done >= max_bars:
                    break
        except BaseException:
            self.state = "failed"
            raise
        finally:
            self._run_bars += done
            self._run_seconds += time.perf_counter() - t_start
            if self.state != "failed":
                self.state = "finished" if ended else "stopped"
            try:
                if self.state == "failed":  # record it if the catalog lets us; the original error wins
                    with contextlib.suppress(Exception):
                        self._commit([], self.state)
                else:
                    self._commit([], self.state)
            finally:
                feed.close()
                self._notify("status", {"state": self.state})
        return self.summary()

    def _atr_arrays(self) -> dict[int, np.ndarray]:
        out = {}
        for s, code in enumerate(self.broker.stop_codes):
            if code is not None and code[0] == STOP_ATR:
                out[s] = atr(
                    self.hist.array("high"), self.hist.array("low"), self.hist.array("close"), code[2]
                )
        return out

    def _vol(self) -> np.ndarray | list[float]:
        size = self.engine.size
        sizing = self.config.risk.sizing
        window = sizing.window if sizing is not None and sizing.mode == "vol" else size.window
        if not (
            (sizing is not None and sizing.mode == "vol") or (sizing is None and size.mode == "vol_target")
        ):
            return _Nan()
        if self.hist.n < 2:
            return np.full(self.hist.n, np.nan)
        from workbench.backtest import annualization

        bars_per_year = self._bars_per_year
        if bars_per_year is None:  # a live feed: the annualisation of the bars seen so far
            ann = annualization(self.hist.frame())
            bars_per_year = ann.periods_per_year * self.hist.n / (ann.returns + 1)
        return returns_vol(self.hist.array("close"), window, bars_per_year)

    def _step(self, rows: list[Any]) -> None:
        with self._lock:
            hist, broker = self.hist, self.broker
            start = hist.n
            hist.extend(rows)
            stop = hist.n
            t0 = time.perf_counter()
            self.policy.prepare(hist, start, stop)
            atrs = self._atr_arrays()
            vol = self._vol()
            prep = (time.perf_counter() - t0) / (stop - start)
            lat: list[float] = []
            n_orders = len(broker.orders)
            broker.scale = getattr(self.policy, "scale", None)
            quiet = getattr(self.policy, "quiet", None)
            if quiet is not None and quiet.shape[0] != stop - start:
                quiet = None
            broker.process(hist, start, stop, self.policy.decide, vol, lambda s, j: atrs[s][j], lat, quiet)
            self.latencies.extend(x + prep for x in lat)
            self.decisions_total += stop - start
            self.last_bar_wall = time.time()
            new_orders = broker.orders[n_orders:]
            for o in new_orders[-20:]:
                self.last_decisions.append({"bar": o["bar"], "ts": _iso(o["ts"]), "target": o["target"],
                                            "from": o["from_pos"], "kind": o["kind"]})  # fmt: skip
            if (
                self.config.feed == "replay"
            ):  # the bars are in the workspace already (resume reads them there)
                bars = pl.DataFrame(schema=_state.BAR_SCHEMA)
            else:
                bars = pl.DataFrame(
                    {"bar": np.arange(start, stop, dtype=np.int64),
                     "ts": pl.Series(hist.array("ts")[start:stop]).cast(pl.Datetime("us")),
                     **{c: hist.array(c)[start:stop] for c in ("open", "high", "low", "close", "volume")}}
                )  # fmt: skip
            rejected = self._commit_records(bars)
        self._notify("step", {"bars": stop - start, "decisions": stop - start, "latencies": [x + prep for x in lat],
                              "rejected": rejected, "equity": self.equity, "drawdown_pct": self.drawdown_pct,
                              "kill_switch": self.risk.switch.state})  # fmt: skip

    def _commit_records(self, bars: pl.DataFrame) -> list[str]:
        records = self.broker.drain()
        self._times(records["trades"])
        rejected = [u["rule"] for u in records["order_updates"] if u["status"] == "rejected"]
        for r in rejected:
            self.rejected_by_rule[r] = self.rejected_by_rule.get(r, 0) + 1
        self.orders_total += len(records["orders"])
        self.fills_total += len(records["fills"])
        self.trades.extend(records["trades"])
        self._commit_with(bars, records, "running")
        return rejected

    def _commit(self, rows: list[Any], status: str) -> None:
        with self._lock:
            records = self.broker.drain()
            self._times(records["trades"])
            self.trades.extend(records["trades"])
            self._commit_with(pl.DataFrame(schema=_state.BAR_SCHEMA), records, status)

    def _commit_with(self, bars: pl.DataFrame, records: dict[str, list[Any]], status: str) -> None:
        events = [e.to_dict() for e in self.risk.audit]
        self.risk.audit.clear()
        ck = getattr(self.policy, "checkpoint", None)
        checkpoints = ck(self.hist.n) if ck is not None else []

        def apply(controls: list[dict[str, Any]]) -> tuple[list[str], dict[str, Any], list[dict[str, Any]]]:
            results = []
            for c in controls:
                try:
                    if c["action"] == "kill":
                        results.append(
                            self.risk.switch.trip(c["reason"] or "operator kill", c["by"] or "operator")
                        )
                    elif c["action"] == "resume":
                        results.append(
                            self.risk.switch.resume(c["by"] or "operator", force=c["reason"] == "force")
                        )
                    elif c["action"] == "stop":
                        self._stop.set()
                        results.append("stopping")
                    else:
                        results.append(f"unknown action {c['action']!r}")
                except ConfigError as e:
                    results.append(f"refused: {e}")
            if (
                controls
                and self.risk.switch.state == HALTED
                and self.broker.pos != 0
                and self.config.risk.flatten_on_halt
            ):
                if self.broker.pending is None or self.broker.pending[0] != 0:
                    self.broker.submit(
                        0, self.hist.n - 1, self.hist.ts[-1] if self.hist.n else 0, "kill_switch"
                    )
                    more = self.broker.drain()
                    records["orders"].extend(more["orders"])
                    records["order_updates"].extend(more["order_updates"])
            extra = [e.to_dict() for e in self.risk.audit]
            self.risk.audit.clear()
            return results, self._snapshot(), extra

        _state.commit_step(
            self.store, self.name, bars=bars, records=records, risk_events=events, status=status,
            bars_processed=self.hist.n, last_ts=_dt(self.hist.ts[-1]) if self.hist.n else None,
            checkpoints=checkpoints, apply_controls=apply,
        )  # fmt: skip

    def _snapshot(self) -> dict[str, Any]:
        return {
            "broker": self.broker.snapshot(),
            "risk": self.risk.to_dict(),
            "policy": self.policy.state(),
            "counters": {
                "decisions": self.decisions_total,
                "orders": self.orders_total,
                "fills": self.fills_total,
                "rejected_by_rule": dict(self.rejected_by_rule),
            },  # fmt: skip
        }

    def _period_us(self) -> int:
        ts = self.hist.array("ts")
        return int(np.median(np.diff(ts))) if ts.shape[0] > 1 else 0

    def _times(self, trades: list[dict[str, Any]]) -> None:
        """Entry/exit times as the engine stamps them: a fill at a bar's open carries its ``ts``, one at
        its close (close fills, stops touched inside the bar, bankruptcy) its close time."""
        if not trades:
            return
        ts, op = self.hist.ts, self.hist.open
        period = self._period_us()
        fill_close = self.broker.fill_close

        def close_time(i: int) -> int:
            t = ts[i] + period
            return min(t, ts[i + 1]) if i + 1 < len(ts) else t

        for t in trades:
            t["entry_time"] = _dt(close_time(t["entry_bar"]) if fill_close else ts[t["entry_bar"]])
            r, xb = t["exit_reason"], t["exit_bar"]
            at_open = (r in ("signal", "kill_switch") and not fill_close) or (
                r in ("stop_loss", "take_profit", "trailing_stop") and t["exit_price"] == op[xb]
            )
            t["exit_time"] = _dt(ts[xb] if at_open else close_time(xb))

    # -- reading -------------------------------------------------------------------------------------------
    def trades_frame(self) -> pl.DataFrame:
        """The closed trades, in the columns of ``workbench.backtest.run(...).trades``."""
        rows = [[t[k] for k in _state.TRADE_SCHEMA] for t in self.trades]
        return (
            pl.DataFrame(rows, schema=_state.TRADE_SCHEMA, orient="row")
            if rows
            else pl.DataFrame(schema=_state.TRADE_SCHEMA)
        )

    def live_diff(self) -> dict[str, Any]:
        """The session's closed trades against :func:`workbench.backtest.run` on the bars seen so far (same
        strategy, params and settings): a library strategy with the risk manager off must match exactly."""
        if self.config.policy not in ("strategy", "model"):
            return {"available": False, "why": f"the {self.config.policy} policy is not a library strategy"}
        n = self.hist.n
        if self._diff_cache is not None and self._diff_cache[0] == n:
            return self._diff_cache[1]
        if n < 2:
            return {"available": False, "why": "fewer than 2 bars seen"}
        from workbench.backtest import run

        settings = {**self.config.settings, "contract": self.engine.contract}
        frame, strategy, params = self.hist.frame(), self.config.strategy, dict(self.config.params)
        if self.config.policy == "model":  # the model's predictions as bars columns, as a backtest takes them
            frame = frame.with_columns(pl.Series("proba", self.policy.proba[:n], nan_to_null=True))
            if self.policy.scale is not None:
                frame = frame.with_columns(pl.Series("size_scale", self.policy.scale[:n]))
            strategy = "model"
            params.pop("confidence", None)
        bt = run(frame, strategy, params, **settings).trades
        keys = (
            "direction",
            "entry_bar",
            "exit_bar",
            "size",
            "entry_price",
            "exit_price",
            "pnl",
            "exit_reason",
        )
        theirs = bt.select(keys).rows()
        ours = [tuple(t[k] for k in keys) for t in self.trades]
        same = 0
        first = None
        for k, (a, b) in enumerate(zip(ours, theirs, strict=False)):
            if a == b:
                same += 1
            elif first is None:
                first = {
                    "trade": k + 1,
                    "paper": dict(zip(keys, a, strict=True)),
                    "backtest": dict(zip(keys, b, strict=True)),
                }
        if first is None and len(ours) != len(theirs):
            k = min(len(ours), len(theirs))
            first = {"trade": k + 1, "paper": None if k >= len(ours) else dict(zip(keys, ours[k], strict=True)),
                     "backtest": None if k >= len(theirs) else dict(zip(keys, theirs[k], strict=True))}  # fmt: skip
        out = {
            "available": True,
            "bars": n,
            "paper_trades": len(ours),
            "backtest_trades": len(theirs),
            "matching": same,
            "identical": first is None,
            "first_difference": first,
            "pnl_paper": float(sum(t[6] for t in ours)),
            "pnl_backtest": float(bt["pnl"].sum()) if bt.height else 0.0,
            "risk_interventions": sum(self.rejected_by_rule.values()) + sum(self.risk.resized.values()),
        }
        self._diff_cache = (n, out)
        return out

    def status(self, *, diff: bool = True) -> dict[str, Any]:
        """Positions, equity, drawdown, last decisions, risk state, live diff, feed health, counters."""
        with self._lock:
            b = self.broker
            lat = np.array(self.latencies) if self.latencies else np.empty(0)
            period_s = self._period_us() / 1e6
            speed = self.config.speed
            fresh_s = max(10.0, 3 * period_s / float(speed)) if speed != "max" and period_s else 10.0
            age = None if self.last_bar_wall is None else time.time() - self.last_bar_wall
            pos = {
                "symbol": self.config.symbol, "direction": {1: "long", -1: "short", 0: "flat"}[b.pos],
                "units": b.units if b.pos else 0.0, "entry_price": b.ep if b.pos else None,
                "pending_target": b.pending[0] if b.pending else None,
            }  # fmt: skip
            out = {
                "session": self.name,
                "state": self.state,
                "policy": self.config.policy,
                "strategy": self.config.strategy,
                "data": self.config.data,
                "bars_processed": self.hist.n,
                "last_bar_ts": self.last_bar_ts,
                "feed": {
                    "kind": self.config.feed.split(":")[0],
                    "connected": self.feed_connected,
                    "last_bar_age_s": age,
                    "fresh": age is not None and age <= fresh_s,
                    "fresh_within_s": fresh_s,
                },  # fmt: skip
                "positions": [pos] if b.pos else [],
                "position": pos,
                "cash": b.cash,
                "equity": b.equity,
                "peak_equity": b.peak,
                "drawdown_pct": self.drawdown_pct,
                "last_decisions": list(self.last_decisions),
                "risk": self.risk.status(),
                "counters": {
                    "decisions": self.decisions_total,
                    "orders": self.orders_total,
                    "fills": self.fills_total,
                    "trades": len(self.trades),
                    "rejected": sum(self.rejected_by_rule.values()),
                    "rejected_by_rule": dict(self.rejected_by_rule),
                },  # fmt: skip
                "latency": {
                    "samples": int(lat.size),
                    "p50_ms": float(np.percentile(lat, 50) * 1e3) if lat.size else None,
                    "p99_ms": float(np.percentile(lat, 99) * 1e3) if lat.size else None,
                },
            }
            if diff:
                out["live_diff"] = self.live_diff()
            return out

    def summary(self) -> dict[str, Any]:
        """What ``workbench paper run --json`` prints (ending with trades, final_equity, decisions, rejected)."""
        st = self.status()
        trades = [
            {k: (_iso_dt(v) if k in ("entry_time", "exit_time") else v) for k, v in t.items()}
            for t in self.trades
        ]
        return {
            "session": self.name, "state": self.state, "data": self.config.data, "policy": self.config.policy,
            "strategy": self.config.strategy, "params": dict(self.config.params),
            "settings": self.engine.to_dict(), "risk": st["risk"], "bars": self.hist.n,
            "seconds": round(self._run_seconds, 4),
            "bars_per_s": round(self._run_bars / self._run_seconds, 1) if self._run_seconds > 0 else None,
            "orders": self.orders_total, "fills": self.fills_total, "rejected_by_rule": dict(self.rejected_by_rule),
            "latency": st["latency"], "live_diff": st["live_diff"], "drawdown_pct": st["drawdown_pct"],
            "trades": trades, "final_equity": self.broker.equity, "decisions": self.decisions_total,
            "rejected": sum(self.rejected_by_rule.values()),
        }  # fmt: skip


class _Nan:
    """``vol[i]`` when no sizing needs the volatility."""

    def __getitem__(self, i: int) -> float:
        return math.nan


_EPOCH = datetime(1970, 1, 1)


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def _iso(us: int) -> str:
    return _dt(us).isoformat()


def _iso_dt(v: Any) -> Any:
    return v.isoformat() if hasattr(v, "isoformat") else v


def start_session(ws: Any, config: PaperConfig) -> Session:
    """Create the session's row in the workspace (the name must be new) and return it, ready to ``run()``."""
    session = Session(ws, config)
    _state.create(ws.store, config.name, config.to_dict())
    return session


def resume(ws: Any, name: str, *, speed: float | str | None = None) -> Session:
    """The session ``name`` as its last committed step left it (after a stop, a crash or kill -9): the
    bars seen, the broker's account and pending order, the risk manager, the policy's checkpoint.
    ``speed`` replaces the stored speed for this run."""
    row, bars = _state.load(ws.store, name)
    config = PaperConfig.from_dict(row["config"])
    if config.feed == "replay":  # a replay stores no copy of the bars: the first bars_processed stored bars
        bars = _replayed(ws, config, row)
    if speed is not None:
        config = replace(config, speed=speed)
    session = Session(ws, config)
    session.hist.extend(bars_to_tuples(bars) if bars.height else [])
    state = row["state"]
    if state:
        session.broker.load(state["broker"])
        session.risk.load(state["risk"])
        c = state["counters"]
        session.decisions_total = int(c["decisions"])
        session.orders_total = int(c["orders"])
        session.fills_total = int(c["fills"])
        session.rejected_by_rule = {str(k): int(v) for k, v in c["rejected_by_rule"].items()}
        restore = getattr(session.policy, "restore", None)
        if restore is not None:
            restore(state.get("policy") or {}, store=ws.store, session=name, hist=session.hist)
    trades = ws.store.frame(_SQL.paper_trades_of, [name])
    session.trades = [dict(zip(trades.columns, r, strict=True)) for r in trades.iter_rows()]
    session.state = row["status"]
    return session


def backtest_with_risk(
    ws: Any,
    data: str,
    strategy: str,
    params: dict[str, Any] | None = None,
    *,
    settings: dict[str, Any] | None = None,
    risk: Any = None,
    name: str = "",
) -> Session:
    """A backtest under the risk manager: the stored bars ``data`` replayed at max speed through a paper
    session (stored like any session, name ``name`` or derived). With ``risk`` off its trades are exactly
    ``workbench.backtest.run()``'s; with limits, every intervention is in its orders with the rule that
    fired, and ``status()["live_diff"]`` compares it with the unconstrained backtest."""
    from workbench.risk import RiskConfig

    config = PaperConfig(data=data, strategy=strategy, params=params or {}, settings=settings or {},
                         risk=risk if risk is not None else RiskConfig(), speed="max", name=name)  # fmt: skip
    session = start_session(ws, config)
    session.run()
    return session


def _replayed(ws: Any, config: PaperConfig, row: dict[str, Any]) -> pl.DataFrame:
    """The stored bars a replay session has seen, checked against what it recorded (count, last time)."""
    n = int(row["bars_processed"])
    bars = ws.bars(config.data).head(n) if n else pl.DataFrame(schema=_state.BAR_SCHEMA).drop("bar")
    last = row["last_ts"]
    if bars.height != n or (n and bars["ts"][-1].replace(tzinfo=None) != last):
        raise DataError(
            f"paper session {config.name!r} replayed {n} bars of {config.data} up to {last}, but the stored "
            f"bars no longer start with them (re-ingested?); start a new session",
            file=str(ws.home),
            where="bars",
        )
    return bars


def control(ws: Any, name: str, action: str, *, reason: str = "", by: str = "operator") -> None:
    """Queue an operator control for a session running in another process: ``kill`` (trip the kill
    switch, HALTED), ``resume`` (``reason="force"`` skips the hysteresis) or ``stop``. The running
    session applies it at its next step (within about a second when idle) and records the result in the
    same transaction (``paper_controls``, ``paper_risk_events``: the audit trail)."""
    if action not in ("kill", "resume", "stop"):
        raise ConfigError(f"paper control {action!r}: expected kill, resume or stop")
    if action == "kill" and not reason.strip():
        raise ConfigError("paper kill: give a --reason (it goes into the audit trail)")
    _state.add_control(ws.store, name, action, reason, by)
