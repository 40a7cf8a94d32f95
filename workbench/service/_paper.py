"""Paper sessions and their kill switches behind the API: an adapter over :mod:`workbench.paper` and
:mod:`workbench.risk` (the same functions ``workbench paper ...`` calls).

Sessions started through the API run in a thread of the service process (the workspace's one writer);
sessions run by another process (``workbench paper run``) are read from the workspace and controlled
through its durable control queue (:func:`workbench.paper.control`), applied at their next step. Every
trip and resume names the caller (the bearer token's identity) in the session's audit trail.

Metrics (one series per session started here, label ``session``), read at scrape time from the
session's metrics hook: ``workbench_paper_decisions_total``, ``workbench_paper_bars_total``,
``workbench_paper_orders_total``, ``workbench_paper_orders_rejected_total{rule}``,
``workbench_paper_equity``, ``workbench_paper_drawdown_pct``, ``workbench_paper_kill_switch{state}``
(1 for the switch's state, 0 for the others), ``workbench_paper_feed_age_seconds``,
``workbench_paper_bars_since_decision`` (bar intervals elapsed since the session last decided, for a
running session: the wall time since its last step over the bar period at its speed; at ``max`` speed
a third of the 10 s freshness window) and ``workbench_paper_decision_latency_seconds`` (a histogram of
every decision's latency, bar arrival to order, from the step listener).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from workbench.errors import ConfigError

__all__ = ["PaperHub", "Unavailable", "Conflict", "LATENCY_BUCKETS"]

LATENCY_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.5)
_OPTIONS = ("settings", "risk", "policy", "feed", "step_bars")  # further PaperConfig fields the API takes
_SWITCH_STATES = ("ACTIVE", "REDUCING", "HALTED")
STORED_TTL_S = 1.0


class Unavailable(Exception):
    """Paper trading is not part of this build (or could not be imported)."""


class Conflict(Exception):
    """The request clashes with a session's state (already running, resume refused by the hysteresis)."""


class NotFound(Exception):
    """No such session."""


@dataclass
class _Running:
    session: Any
    thread: threading.Thread
    started_by: str
    error: str | None = None
    buckets: np.ndarray = field(default_factory=lambda: np.zeros(len(LATENCY_BUCKETS) + 1, dtype=np.int64))
    latency_sum: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, event: str, data: dict[str, Any]) -> None:
        if event != "step" or not data.get("latencies"):
            return
        lat = np.asarray(data["latencies"], dtype=float)
        counts = np.bincount(np.searchsorted(LATENCY_BUCKETS, lat, side="left"), minlength=len(self.buckets))
        with self.lock:
            self.buckets += counts
            self.latency_sum += float(lat.sum())


# A session reports "finished"/"stopped"/"failed" before its thread writes the last commit and closes the
# feed: a request that follows the status that closely waits that moment out instead of a 409.
_ENDING_WAIT_S = 10.0


def _busy(running: _Running | None) -> bool:
    """Whether ``running``'s session is still running (not merely writing its end)."""
    if running is None or not running.thread.is_alive():
        return False
    if running.session.state in ("finished", "stopped", "failed"):
        running.thread.join(_ENDING_WAIT_S)
    return running.thread.is_alive()


class PaperHub:
    def __init__(self, ws: Any, *, feed_stale_s: float | None = None) -> None:
        self.ws = ws
        self.feed_stale_s = feed_stale_s
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._stored_cache: tuple[float, list[dict[str, Any]]] = (-1e9, [])
        try:
            self._paper = importlib.import_module("workbench.paper")
            importlib.import_module("workbench.risk")
            self._paper.start_session  # noqa: B018 - the API this adapter needs
            self.reason = ""
        except (ImportError, AttributeError) as e:
            self._paper = None
            self.reason = f"paper trading is not available in this build ({e})"

    @property
    def available(self) -> bool:
        return self._paper is not None

    def _need(self) -> Any:
        if self._paper is None:
            raise Unavailable(self.reason)
        return self._paper

    # -- sessions ----------------------------------------------------------------------------------
    def _stored(self, *, fresh: bool = False) -> list[dict[str, Any]]:
        """The workspace's sessions (``paper_sessions`` rows), read at most every ``STORED_TTL_S``: /status
        under load would otherwise open the catalog for every request."""
        from workbench.store import Q

        with self._lock:
            at, rows = self._stored_cache
        if fresh or time.monotonic() - at > STORED_TTL_S:
            rows = self.ws.store.frame(Q.paper_sessions).to_dicts()
            with self._lock:
                self._stored_cache = (time.monotonic(), rows)
        return [dict(r) for r in rows]

    def _here(self, name: str) -> _Running | None:
        with self._lock:
            return self._running.get(name)

    def sessions(self) -> list[dict[str, Any]]:
        if self._paper is None:
            return []
        out = []
        for row in self._stored():
            run = self._here(row["name"])
            row["in_service"] = run is not None
            if run is not None:
                row.update(_brief(run.session.status(diff=False)))
                row["status"] = run.session.state
                row["started_by"] = run.started_by
                row["error"] = run.error
            out.append(row)
        return out

    def start(self, request: dict[str, Any], by: str) -> dict[str, Any]:
        paper = self._need()
        options = dict(request.get("options") or {})
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigError(
                f"options {', '.join(unknown)}: not a paper setting (known: {', '.join(_OPTIONS)})"
            )
        feed = str(options.get("feed", "replay"))
        if not (feed == "replay" or feed.startswith(("ws://", "wss://"))):
            raise ConfigError(
                f"feed {feed!r}: the API runs replays and WebSocket feeds; tail a file with `workbench paper run`"
            )
        if _busy(self._here(request["name"])):
            raise Conflict(f"paper session {request['name']!r} is already running in this service")
        config = paper.PaperConfig(
            data=request["data"],
            strategy=request.get("strategy"),
            params=request.get("params") or {},
            model=request.get("model"),
            speed=request.get("speed") or "max",
            name=request["name"],
            **options,
        )
        session = paper.start_session(self.ws, config)
        return self._launch(session, by)

    def _launch(self, session: Any, by: str) -> dict[str, Any]:
        run = _Running(session, threading.Thread(target=lambda: None), by)

        def work() -> None:
            try:
                session.run()
            except Exception as e:  # noqa: BLE001 - the session's state says failed; keep why
                run.error = " ".join(f"{type(e).__name__}: {e}".split())[:300]

        run.thread = threading.Thread(target=work, name=f"paper-{session.name}", daemon=True)
        session.listeners.append(run.observe)
        with self._lock:
            self._running[session.name] = run
            self._stored_cache = (-1e9, [])  # the next read sees the new row
        run.thread.start()
        return {"session": session.name, "state": "running", "started_by": by}

    def resume(self, name: str, by: str) -> dict[str, Any]:
        """Continue a stored session in this service (after a stop, a restart or kill -9)."""
        paper = self._need()
        if _busy(self._here(name)):
            raise Conflict(f"paper session {name!r} is already running in this service")
        return self._launch(paper.resume(self.ws, self._known(name)), by)

    @property
    def _handover(self) -> Path:
        return Path(self.ws.home) / "service" / "paper-sessions-to-resume.json"

    def resume_interrupted(self, by: str) -> list[str]:
        """Resume every stored session whose last committed status is ``running`` (its process died under
        it) or that this service stopped when it shut down (a rolling update, SIGTERM)."""
        if self._paper is None:
            return []
        handed = []
        if self._handover.exists():
            handed = json.loads(self._handover.read_text() or "[]")
            self._handover.unlink()
        names = [
            r["name"]
            for r in self._stored(fresh=True)
            if (r["status"] == "running" or (r["name"] in handed and r["status"] == "stopped"))
            and self._here(r["name"]) is None
        ]
        for name in names:
            self._launch(self._paper.resume(self.ws, name), by)
        return names

    def _known(self, name: str) -> str:
        if name not in {r["name"] for r in self._stored()} and name not in {
            r["name"] for r in self._stored(fresh=True)
        }:
            raise NotFound(f"no paper session {name!r} (see GET /paper/sessions)")
        return name

    def stop(self, name: str, by: str) -> dict[str, Any]:
        paper = self._need()
        run = self._here(name)
        if run is None:
            paper.control(self.ws, self._known(name), "stop", by=by)
            return {"session": name, "control": "stop", "result": "queued (applied at its next step)"}
        run.session.stop()
        run.thread.join(timeout=15)
        return {"session": name, "control": "stop", "result": run.session.state}

    def status(self, name: str) -> dict[str, Any]:
        from workbench.store import Q

        paper = self._need()
        run = self._here(name)
        if run is not None:
            st = run.session.status()
            st["in_service"], st["started_by"], st["error"] = True, run.started_by, run.error
        else:
            st = paper.resume(self.ws, self._known(name)).status(diff=False)
            st["in_service"] = False
        st["audit"] = self.ws.store.frame(Q.paper_risk_events_of, [name]).tail(20).to_dicts()
        return st

    # -- the kill switch ---------------------------------------------------------------------------
    def _targets(self, session: str | None) -> list[str]:
        if session:
            return [self._known(session)]
        with self._lock:
            names = [n for n, r in self._running.items() if r.thread.is_alive()]
        if not names:
            raise Conflict("no paper session is running in this service; name one with `session`")
        return names

    def kill_switch(self) -> dict[str, Any]:
        from workbench.store import Q

        self._need()
        out = []
        for row in self._stored(fresh=True):
            run = self._here(row["name"])
            state = None
            if run is not None:
                state = run.session.risk.status()
            elif row.get("status"):
                state = None  # not running here: its last committed state is in the audit trail
            events = self.ws.store.frame(Q.paper_risk_events_of, [row["name"]])
            switch = events.filter(events["kind"] == "transition") if events.height else events
            out.append(
                {
                    "session": row["name"],
                    "in_service": run is not None,
                    "kill_switch": state["kill_switch"]
                    if state
                    else (switch["to_state"][-1] if switch.height else "ACTIVE"),
                    "reason": state["reason"] if state else None,
                    "can_resume": state["can_resume"] if state else None,
                    "resume_blocked_by": state["resume_blocked_by"] if state else None,
                    "audit": events.tail(20).to_dicts(),
                }
            )
        return {"sessions": out}

    def trip(self, reason: str, state: str, by: str, session: str | None = None) -> dict[str, Any]:
        paper = self._need()
        results = []
        for name in self._targets(session):
            run = self._here(name)
            if run is not None and run.thread.is_alive():
                with run.session._lock:
                    now = run.session.risk.switch.trip(reason, by, state=state)
                results.append({"session": name, "kill_switch": now, "applied": True})
            else:
                if state != "HALTED":
                    raise ConfigError(
                        f"{name}: REDUCING needs the session running in this service; trip HALTED"
                    )
                paper.control(self.ws, name, "kill", reason=reason, by=by)
                results.append({"session": name, "kill_switch": "HALTED", "applied": False})
        return {"by": by, "reason": reason, "sessions": results}

    def resume_switch(
        self, reason: str, by: str, session: str | None = None, force: bool = False
    ) -> dict[str, Any]:
        paper = self._need()
        results = []
        for name in self._targets(session):
            run = self._here(name)
            if run is not None and run.thread.is_alive():
                try:
                    with run.session._lock:
                        now = run.session.risk.switch.resume(by, force=force)
                except ConfigError as e:
                    raise Conflict(f"{name}: {e}") from None
                results.append({"session": name, "kill_switch": now, "applied": True})
            else:
                paper.control(self.ws, name, "resume", reason="force" if force else reason, by=by)
                results.append({"session": name, "kill_switch": None, "applied": False})
        return {"by": by, "sessions": results}

    # -- readiness and metrics ---------------------------------------------------------------------
    def checks(self) -> list[tuple[str, bool, str]]:
        out = []
        with self._lock:
            running = [(n, r) for n, r in self._running.items() if r.thread.is_alive()]
        for name, run in running:
            st = run.session.status(diff=False)
            feed = st["feed"]
            within = self.feed_stale_s or feed["fresh_within_s"]
            age = feed["last_bar_age_s"]
            since_start = time.time() - run.session.started_wall
            if not feed["connected"] and st["bars_processed"] == 0 and since_start < within:
                out.append((f"feed:{name}", True, f"connecting ({since_start:.0f} s)"))
            elif not feed["connected"]:
                out.append((f"feed:{name}", False, f"{feed['kind']} feed not connected"))
            elif age is None:
                ok = since_start < within
                out.append(
                    (f"feed:{name}", ok, f"no bar yet after {since_start:.0f} s (stale after {within:g} s)")
                )
            else:
                out.append(
                    (f"feed:{name}", age <= within, f"last bar {age:.1f} s ago (stale after {within:g} s)")
                )
            out.append((f"model:{name}", *_model_check(run.session, st)))
        return out

    def metrics(self) -> Iterable[Metric]:
        with self._lock:
            runs = list(self._running.items())
        if not runs:
            return
        fam = {
            "decisions": CounterMetricFamily(
                "workbench_paper_decisions", "decisions made (one per bar processed)", labels=["session"]
            ),
            "bars": CounterMetricFamily("workbench_paper_bars", "bars processed", labels=["session"]),
            "orders": CounterMetricFamily(
                "workbench_paper_orders", "orders submitted to the broker", labels=["session"]
            ),
            "rejected": CounterMetricFamily(
                "workbench_paper_orders_rejected",
                "orders the risk manager refused, by the rule that fired",
                labels=["session", "rule"],
            ),
            "equity": GaugeMetricFamily(
                "workbench_paper_equity", "cash plus the open position at the last bar", labels=["session"]
            ),
            "drawdown": GaugeMetricFamily(
                "workbench_paper_drawdown_pct",
                "equity below its running peak, % of the peak",
                labels=["session"],
            ),
            "switch": GaugeMetricFamily(
                "workbench_paper_kill_switch", "1 for the kill switch's state", labels=["session", "state"]
            ),
            "age": GaugeMetricFamily(
                "workbench_paper_feed_age_seconds", "seconds since the last bar arrived", labels=["session"]
            ),
            "since": GaugeMetricFamily(
                "workbench_paper_bars_since_decision",
                "bar intervals elapsed since the last decision (running sessions)",
                labels=["session"],
            ),
        }
        latency = HistogramMetricFamily(
            "workbench_paper_decision_latency_seconds",
            "bar arrival to order, every decision",
            labels=["session"],
        )
        for name, run in runs:
            s = run.session
            fam["decisions"].add_metric([name], float(s.decisions_total))
            fam["bars"].add_metric([name], float(s.bars_processed))
            fam["orders"].add_metric([name], float(s.orders_total))
            for rule, n in sorted(dict(s.rejected_by_rule).items()):
                fam["rejected"].add_metric([name, rule], float(n))
            fam["equity"].add_metric([name], float(s.equity))
            fam["drawdown"].add_metric([name], float(s.drawdown_pct))
            for state in _SWITCH_STATES:
                fam["switch"].add_metric([name, state], 1.0 if s.risk.switch.state == state else 0.0)
            if s.last_bar_wall is not None:
                fam["age"].add_metric([name], max(0.0, time.time() - s.last_bar_wall))
            if run.thread.is_alive():
                fam["since"].add_metric([name], float(_bars_since_decision(s)))
            with run.lock:
                cumulative = np.cumsum(run.buckets)
                total_sum = run.latency_sum
            edges = [*(f"{b:g}" for b in LATENCY_BUCKETS), "+Inf"]
            latency.add_metric([name], list(zip(edges, map(float, cumulative), strict=True)), total_sum)
        yield from fam.values()
        yield latency

    def close(self) -> None:
        """Stop every session (each finishes and commits its step); remember which were running, for
        ``--resume-sessions`` at the next start."""
        with self._lock:
            runs = list(self._running.values())
        alive = [r.session.name for r in runs if r.thread.is_alive()]
        if alive:
            self._handover.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._handover.with_suffix(".tmp")
            tmp.write_text(json.dumps(alive))
            os.replace(tmp, self._handover)
        for run in runs:
            run.session.stop()
        for run in runs:
            run.thread.join(timeout=15)


def _brief(st: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "equity",
        "drawdown_pct",
        "positions",
        "last_decisions",
        "bars_processed",
        "last_bar_ts",
        "feed",
        "counters",
    )
    out = {k: st[k] for k in keys if k in st}
    out["risk"] = {
        k: st["risk"][k] for k in ("kill_switch", "reason", "can_resume") if k in st.get("risk", {})
    }
    return out


def _bar_interval_s(session: Any) -> float:
    period_s = session._period_us() / 1e6
    speed = session.config.speed
    if speed == "max" or not period_s:
        return 10.0 / 3
    return period_s / float(speed)


def _bars_since_decision(session: Any) -> int:
    last = session.last_bar_wall if session.last_bar_wall is not None else session.started_wall
    return max(0, math.floor((time.time() - last) / _bar_interval_s(session)))


def _model_check(session: Any, st: dict[str, Any]) -> tuple[bool, str]:
    """A library strategy has no model; a learner's is loaded once warmed up and fresh while it keeps
    updating (PPO: within three update periods)."""
    policy = session.policy
    kind = session.config.policy
    if kind == "strategy":
        return True, f"library strategy {session.config.strategy} (no model)"
    warmup = getattr(policy, "warmup", 0)
    n = st["bars_processed"]
    if n < warmup:
        return True, f"{kind}: warming up ({n}/{warmup} bars)"
    if hasattr(policy, "model") and policy.model is None:
        return False, f"{kind}: no model loaded after {n} bars"
    every = getattr(policy, "update_every", None)
    trained = getattr(policy, "trained_at", None)
    if every and trained is not None and trained >= 0 and n - trained > 3 * every:
        return False, f"{kind}: model last updated {n - trained} bars ago (stale after {3 * every})"
    return True, f"{kind}: model loaded"
