"""Paper trading: ``workbench paper run|status|resume|stop|kill|sessions`` (a thin skin over
:mod:`workbench.paper`)."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli import Result, command


def _ws():
    from workbench.workspace import open_workspace

    return open_workspace()


def _params(items: list[str]) -> dict[str, Any]:
    from workbench.errors import ConfigError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, val = (s.strip() for s in item.partition("="))
        if not sep or not key:
            raise ConfigError(f"-p {item!r}: expected key=value (e.g. -p fast=10)")
        try:
            out[key] = int(val)
        except ValueError:
            try:
                out[key] = float(val)
            except ValueError:
                out[key] = val
    return out


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="SYMBOL:TF", help="the bars, e.g. EURUSD:1h")
    p.add_argument("--strategy", default=None, help="library strategy (see docs/strategies.md)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="k=v", help="parameter; repeatable")
    p.add_argument("--model", default=None, help="a registered ML model NAME[:VERSION|@ALIAS] (policy model)")
    p.add_argument("--policy", default="", help="strategy (default) | model | river | ppo (online learners)")
    p.add_argument("--speed", default="max", help="a multiple of real time (e.g. 3600) or max (default)")
    p.add_argument("--session", default="", help="session name (default: derived); must be new")
    p.add_argument(
        "--feed", default="replay", help="replay (stored bars) | csv:PATH | parquet:PATH | ws://HOST:PORT"
    )
    p.add_argument("--risk", action="append", default=[], metavar="k=v",
                   help="risk limit, e.g. max_position=1 daily_loss_pct=2 halt_drawdown_pct=10 sizing=kelly:0.5")  # fmt: skip
    p.add_argument("--max-bars", type=int, default=None, help="stop after this many bars")
    p.add_argument(
        "--idle-exit", type=float, default=None, metavar="S", help="live feeds: end after S s without a bar"
    )
    p.add_argument("--fill", default="next_open", choices=("next_open", "close"))
    p.add_argument("--direction", default="long", choices=("long", "short", "both"))
    p.add_argument("--commission", default="0", help="as `workbench backtest` (7/lot, 0.0002, 2bp ...)")
    p.add_argument("--spread", default="0")
    p.add_argument("--slippage", default="0")
    p.add_argument("--size", default="100%")
    p.add_argument("--stop-loss", default=None)
    p.add_argument("--take-profit", default=None)
    p.add_argument("--trailing-stop", default=None)
    p.add_argument("--contract", default=None)
    p.add_argument("--cash", type=float, default=10_000.0)
    p.add_argument("--trades", action="store_true", help="print every trade in the text output")


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    out = {"fill": args.fill, "direction": args.direction, "commission": args.commission, "spread": args.spread,
           "slippage": args.slippage, "size": args.size, "cash": args.cash}  # fmt: skip
    for key in ("stop_loss", "take_profit", "trailing_stop", "contract"):
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    return out


def _text(out: dict[str, Any]) -> str:
    diff = out.get("live_diff") or {}
    same = (
        f"live diff vs backtest: {diff['matching']}/{diff['backtest_trades']} trades identical"
        if diff.get("available")
        else f"live diff: n/a ({diff.get('why')})"
    )
    lat = out.get("latency") or {}
    return (
        f"session {out['session']} ({out['state']}): {out['bars']} bars, {out['decisions']} decisions, "
        f"{out['orders']} orders, {out['rejected']} rejected {out.get('rejected_by_rule') or ''}\n"
        f"{len(out['trades'])} trades, final equity {out['final_equity']:.2f}, drawdown {out['drawdown_pct']:.2f}%, "
        f"kill switch {out['risk']['kill_switch']}\n{same}; decision latency p99 {lat.get('p99_ms')} ms"
    )


@command(
    "paper run", "paper-trade a strategy, model or online learner on a feed (durable; resumable)", _run_args
)
def paper_run(args: argparse.Namespace) -> Result:
    from workbench.paper import PaperConfig, start_session
    from workbench.risk import RiskConfig

    config = PaperConfig(
        data=args.data, strategy=args.strategy, params=_params(args.param), settings=_settings(args),
        risk=RiskConfig.parse(args.risk), speed=args.speed, name=args.session, model=args.model,
        policy=args.policy, feed=args.feed,
    )  # fmt: skip
    session = start_session(_ws(), config)
    out = session.run(max_bars=args.max_bars, idle_exit_s=args.idle_exit)
    return Result(out, _text(out))


def _name_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("session", help="session name (see `workbench paper sessions`)")


def _resume_args(p: argparse.ArgumentParser) -> None:
    _name_args(p)
    p.add_argument("--max-bars", type=int, default=None, help="stop after this many more bars")
    p.add_argument("--idle-exit", type=float, default=None, metavar="S")
    p.add_argument("--speed", default=None, help="override the session's speed (N x real time or max)")
    p.add_argument("--switch", action="store_true",
                   help="only resume trading after a kill-switch trip (hysteresis rule), do not run")  # fmt: skip
    p.add_argument("--force", action="store_true", help="with --switch: skip the hysteresis rule")
    p.add_argument("--by", default="operator", help="who (for the audit trail)")


@command(
    "paper resume", "continue a session where its last step left it (after a stop or kill -9)", _resume_args
)
def paper_resume(args: argparse.Namespace) -> Result:
    from workbench.paper import control, resume

    ws = _ws()
    if args.switch:
        control(ws, args.session, "resume", reason="force" if args.force else "", by=args.by)
        return _applied(ws, args.session)
    out = resume(ws, args.session, speed=args.speed).run(max_bars=args.max_bars, idle_exit_s=args.idle_exit)
    return Result(out, _text(out))


def _applied(ws: Any, name: str) -> Result:
    """Apply queued controls now when the session is not running in another process; report the state."""
    from workbench.paper import resume
    from workbench.store import Q

    session = resume(ws, name)
    if session.state != "running":
        session._commit([], session.state)  # applies the queued controls, recorded in the audit trail
    rows = ws.store.frame(Q.paper_controls_of, [name]).tail(1).to_dicts()
    st = session.status(diff=False)
    data = {"session": name, "control": rows[0] if rows else None, "risk": st["risk"], "state": st["state"]}
    last = rows[0] if rows else {}
    text = f"{name}: {last.get('action')} -> {last.get('result') or 'queued (applied at its next step)'}; kill switch {st['risk']['kill_switch']}"
    return Result(data, text, 0 if not str(last.get("result") or "").startswith("refused") else 1)


def _kill_args(p: argparse.ArgumentParser) -> None:
    _name_args(p)
    p.add_argument("--reason", required=True, help="why (goes into the audit trail)")
    p.add_argument("--by", default="operator", help="who (for the audit trail)")


@command("paper kill", "trip a session's kill switch (HALTED: flatten, no entries); audited", _kill_args)
def paper_kill(args: argparse.Namespace) -> Result:
    from workbench.paper import control

    ws = _ws()
    control(ws, args.session, "kill", reason=args.reason, by=args.by)
    return _applied(ws, args.session)


@command("paper stop", "ask a running session to stop after its current step", _name_args)
def paper_stop(args: argparse.Namespace) -> Result:
    from workbench.paper import control

    ws = _ws()
    control(ws, args.session, "stop", reason="", by="operator")
    return Result({"session": args.session, "control": "stop"}, f"{args.session}: stop queued")


def _status_args(p: argparse.ArgumentParser) -> None:
    _name_args(p)
    p.add_argument("--no-diff", action="store_true", help="skip the live diff against the backtest")


@command("paper status", "a session's positions, equity, risk state, counters and live diff", _status_args)
def paper_status(args: argparse.Namespace) -> Result:
    from workbench.paper import resume
    from workbench.store import Q

    ws = _ws()
    st = resume(ws, args.session).status(diff=not args.no_diff)
    st["audit"] = ws.store.frame(Q.paper_risk_events_of, [args.session]).tail(20).to_dicts()
    r = st["risk"]
    text = (
        f"{st['session']} ({st['state']}) {st['data']} bars {st['bars_processed']} last {st['last_bar_ts']}\n"
        f"equity {st['equity']:.2f} drawdown {st['drawdown_pct']:.2f}% position {st['position']['direction']} "
        f"{st['position']['units']:g}\nrisk: kill switch {r['kill_switch']} {r['reason'] or ''} rejected "
        f"{r['rejected']} resized {r['resized']}\ncounters {st['counters']}"
    )
    return Result(st, text)


@command("paper sessions", "list the paper-trading sessions of the workspace")
def paper_sessions(args: argparse.Namespace) -> Result:
    from workbench.store import Q

    rows = _ws().store.frame(Q.paper_sessions).to_dicts()
    text = "\n".join(
        f"{r['name']}  {r['status']}  {r['bars_processed']} bars  last {r['last_ts']}" for r in rows
    )
    return Result({"sessions": rows}, text or "no paper sessions")
