"""Engine commands: ``backtest`` (a stored grid sweep) and ``optimize`` (Ray Tune search)."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli import Result, command


def _ws():
    from workbench.workspace import open_workspace

    return open_workspace()


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strategy", required=True, help="strategy name (see docs/strategies.md)")
    p.add_argument("--data", required=True, metavar="SYMBOL:TF", help="stored bars, e.g. EURUSD:1h")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="k=start:stop[:step]",
        help="parameter range (inclusive stop) or list k=a,b,c; repeatable; missing params use defaults",
    )
    p.add_argument("--fill", default="next_open", choices=("next_open", "close"), help="fill price")
    # the engine settings, as written (one parser: workbench.backtest.settings; docs/strategies.md)
    p.add_argument(
        "--direction",
        default="long",
        choices=("long", "short", "both"),
        help="trade direction (default long)",
    )
    p.add_argument(
        "--commission",
        default="0",
        metavar="C",
        help="per fill: 0.0002 (fraction of notional), 0.01%%, 2bp, 7/lot, 0.00007/unit, 2.5/trade; "
        "sums with + (2.5/trade+0.01%%)",
    )
    p.add_argument(
        "--spread",
        default="0",
        metavar="S",
        help="paid on entry: 0.0002 (fraction of price), 0.02%%, 2bp, 1.5pips",
    )
    p.add_argument(
        "--slippage", default="0", metavar="S", help="against every market fill; same forms as --spread"
    )
    p.add_argument(
        "--size",
        default="100%",
        metavar="SIZE",
        help="100%% (of equity), 1000 (units), 2lots, 5000cash, 10%%vol, 1%%risk; options ,whole ,window=N ,max=L",
    )
    for flag, what in (
        ("--stop-loss", "stop-loss"),
        ("--take-profit", "take-profit"),
        ("--trailing-stop", "trailing stop"),
    ):
        p.add_argument(
            flag,
            default=None,
            metavar="D",
            help=f"{what} distance from the entry: 0.0020 (price), 0.5%%, 20pips, 2atr, 2atr20 (default off)",
        )
    p.add_argument(
        "--contract",
        default=None,
        metavar="SPEC",
        help="instrument: pip=0.0001,lot=100000,quote=USD (default: the symbol's; needed for pips and lots)",
    )
    p.add_argument("--cash", type=float, default=10_000.0, help="initial cash")


def _engine(args: argparse.Namespace) -> dict[str, Any]:
    """The engine settings of the command line, as written (parsed by the backtest layer)."""
    return {
        "fill": args.fill,
        "direction": args.direction,
        "commission": args.commission,
        "spread": args.spread,
        "slippage": args.slippage,
        "size": args.size,
        "stop_loss": args.stop_loss,
        "take_profit": args.take_profit,
        "trailing_stop": args.trailing_stop,
        "contract": args.contract,
        "cash": args.cash,
    }


def _backtest_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--rank-by", default="total_return_pct", help="metric that picks the best combination")


@command(
    "backtest",
    "sweep a strategy's parameter grid on stored bars; store all results and the best",
    _backtest_args,
)
def backtest(args: argparse.Namespace) -> Result:
    from workbench.backtest import parse_grid, warm_up

    warm_up()  # the compiled kernels load in the background while the workspace and bars are read
    from workbench.optimize import run_sweep

    out = run_sweep(
        _ws(),
        args.strategy,
        args.data,
        parse_grid(args.param),
        rank_by=args.rank_by,
        **_engine(args),
    )
    data = out.to_dict()
    metrics = " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in out.best_metrics.items()
    )
    text = (
        f"{out.combos} combinations in {data['seconds']} s (optimization {out.optimization_id})\n"
        f"best {out.best_params}: {metrics}\n"
        f"settings {_settings_line(data['settings'])}\n"
        f"stored backtest {', '.join(map(str, out.backtest_ids))} (see `workbench metrics ID`)"
    )
    return Result(data, text)


def _settings_line(settings: dict[str, Any] | None) -> str:
    shown = {k: v for k, v in (settings or {}).items() if k != "contract" and v is not None}
    from workbench.backtest.settings import parse_contract

    spec = str(parse_contract((settings or {}).get("contract")))
    return " ".join(f"{k}={v}" for k, v in shown.items()) + (f" contract={spec}" if spec else "")


def _optimize_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument(
        "--objective",
        action="append",
        default=[],
        metavar="METRIC:max|min",
        help="repeatable (default total_return_pct:max)",
    )
    p.add_argument("--algo", default="tpe", help="grid | random | tpe | nsga2")
    p.add_argument("--trials", type=int, default=20, help="trials per search (grid: the whole grid)")
    p.add_argument("--walk-forward", type=int, default=0, metavar="K", help="K time-ordered folds (0 = off)")
    p.add_argument(
        "--address", default=None, help="Ray cluster: ray://HOST:10001 or HOST:6379 (default $RAY_ADDRESS)"
    )
    p.add_argument("--seed", type=int, default=0, help="sampler seed")
    p.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="start over instead of resuming an interrupted run of the same request",
    )


@command(
    "optimize", "search a strategy's parameters with Ray Tune (grid, random, TPE, NSGA-II)", _optimize_args
)
def optimize(args: argparse.Namespace) -> Result:
    from workbench.backtest import parse_grid
    from workbench.optimize import parse_objectives, run_optimize

    out = run_optimize(
        _ws(),
        args.strategy,
        args.data,
        parse_grid(args.param),
        parse_objectives(args.objective),
        algo=args.algo,
        trials=args.trials,
        walk_forward=args.walk_forward,
        address=args.address,
        seed=args.seed,
        resume=args.resume,
        **_engine(args),
    )
    data = out.to_dict()
    lines = [
        f"{out.trials} trials on {len(out.nodes)} node(s) in {data['seconds']} s (optimization {out.optimization_id})",
        f"  settings {_settings_line(data['settings'])}",
    ]
    lines += [f"  front: {p['params']} -> {p['objectives']}" for p in out.pareto]
    lines += [
        f"  fold {f['fold']}: {f['params']} in-sample {f['in_sample']} out-of-sample {f['out_of_sample']}"
        for f in out.folds
    ]
    return Result(data, "\n".join(lines))
