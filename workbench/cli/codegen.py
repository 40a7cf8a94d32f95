"""``workbench codegen``: a stored backtest's strategy (or a named one) out as a cTrader cBot / MT5 EA."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli import Result, command
from workbench.errors import ConfigError


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "id",
        type=int,
        nargs="?",
        metavar="BACKTEST_ID",
        help="an engine backtest (workbench backtest / infer)",
    )
    p.add_argument(
        "--strategy", default=None, help="a library strategy instead of a backtest (docs/strategies.md)"
    )
    p.add_argument(
        "-p", "--param", action="append", default=[], metavar="k=v", help="strategy parameter; repeatable"
    )
    p.add_argument(
        "--target", default="ctrader", help="ctrader (C# cBot + .cbotset) or mql5 (MetaTrader 5 EA)"
    )
    p.add_argument(
        "-o", "--out", default=None, metavar="DIR", help="output folder (default <workspace>/exports)"
    )
    p.add_argument(
        "--check", action="store_true", help="compile the generated code (mcs against the cAlgo.API stub)"
    )
    p.add_argument(
        "--replay",
        default=None,
        metavar="SYMBOL:TF",
        help="replay the cBot over these stored bars next to the engine's run (needs mono)",
    )
    p.add_argument("--symbol", default=None, help="symbol for the .cbotset chart (with --strategy)")
    p.add_argument(
        "--timeframe", default=None, metavar="TF", help="timeframe for the .cbotset chart, e.g. 1h"
    )
    # engine settings, as `workbench backtest` writes them (with --strategy; a backtest brings its own)
    p.add_argument("--direction", default=None, choices=("long", "short", "both"))
    p.add_argument("--size", default=None, metavar="SIZE", help="100%%, 1000, 2lots, 5000cash, 1%%risk")
    p.add_argument("--stop-loss", default=None, metavar="D", help="0.0020, 0.5%%, 20pips, 2atr")
    p.add_argument("--take-profit", default=None, metavar="D")
    p.add_argument("--trailing-stop", default=None, metavar="D")
    p.add_argument("--commission", default=None, metavar="C")
    p.add_argument("--spread", default=None, metavar="S")
    p.add_argument("--slippage", default=None, metavar="S")
    p.add_argument("--contract", default=None, metavar="SPEC")
    p.add_argument("--cash", type=float, default=None)
    p.add_argument("--fill", default=None, choices=("next_open", "close"))


_SETTINGS = ("direction", "size", "stop_loss", "take_profit", "trailing_stop", "commission", "spread",
             "slippage", "contract", "cash", "fill")  # fmt: skip


def _params(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k.strip() or not v.strip():
            raise ConfigError(f"-p {item!r}: expected name=value (e.g. -p fast=20)")
        out[k.strip()] = v.strip()
    return out


@command(
    "codegen", "generate a cTrader cBot (or MT5 EA) from a backtest or a strategy; --check compiles it", _args
)
def codegen(args: argparse.Namespace) -> Result:
    from workbench.codegen import generate, generate_from_backtest
    from workbench.workspace import open_workspace

    settings = {k: getattr(args, k) for k in _SETTINGS if getattr(args, k) is not None}
    if (args.id is None) == (args.strategy is None):
        raise ConfigError("codegen:arguments: give a BACKTEST_ID or --strategy NAME (one of them)")
    if args.id is not None:
        if args.param:
            raise ConfigError("codegen:arguments: -p is for --strategy; a backtest brings its own parameters")
        ws = open_workspace(read_only=True)
        kw: dict[str, Any] = {"target": args.target, "check": args.check}
        if args.replay:
            kw["replay_bars"] = ws.bars(args.replay)
        if args.out:
            kw["out_dir"] = Path(args.out)
        if settings:
            raise ConfigError(
                "codegen:arguments: settings flags are for --strategy; a backtest brings its own settings"
            )
        r = generate_from_backtest(ws, args.id, **kw)
    else:
        from workbench.codegen.api import default_out_dir

        out = Path(args.out) if args.out else default_out_dir()
        bars = open_workspace(read_only=True).bars(args.replay) if args.replay else None
        r = generate(
            args.strategy,
            _params(args.param),
            settings,
            target=args.target,
            out_dir=out,
            check=args.check,
            symbol=args.symbol,
            timeframe=args.timeframe,
            replay_bars=bars,
        )
    data = r.to_dict()
    state = {True: "compiled", False: "did NOT compile", None: "not compiled"}[r.compiled]
    lines = [f"{r.strategy} {r.params} -> {r.target}: {state}" + (f" ({r.compiler})" if r.compiler else "")]
    lines += [f"  {f}" for f in r.files]
    lines += [f"  error: {e}" for e in r.errors[:20]]
    lines += [f"  note: {n}" for n in r.notes]
    if r.replay:
        rp = r.replay
        lines.append(
            f"  replay: bot {rp['bot_trades']} trades, engine {rp['engine_trades']}; same trades: "
            f"{rp['same_trades']}; max |P/L diff| {rp['max_abs_pnl_diff']}"
        )
    lines += [
        f"  parity {p['status']:11} {p['item']}: {p['note'] or p['target']}"
        for p in r.parity
        if p["status"] != "same"
    ]
    return Result(data, "\n".join(lines), code=0 if r.compiled is not False else 1)
