"""Engine commands: ``backtest`` (a stored grid sweep) and ``optimize`` (Ray Tune search)."""

from __future__ import annotations

import argparse

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
    p.add_argument("--commission", type=float, default=0.0, help="fraction of notional per side")
    p.add_argument("--cash", type=float, default=10_000.0, help="initial cash")


def _backtest_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--rank-by", default="total_return_pct", help="metric that picks the best combination")


@command(
    "backtest",
    "sweep a strategy's parameter grid on stored bars; store all results and the best",
    _backtest_args,
)
def backtest(args: argparse.Namespace) -> Result:
    from workbench.backtest import parse_grid
    from workbench.optimize import run_sweep

    out = run_sweep(
        _ws(),
        args.strategy,
        args.data,
        parse_grid(args.param),
        fill=args.fill,
        commission=args.commission,
        cash=args.cash,
        rank_by=args.rank_by,
    )
    data = out.to_dict()
    metrics = " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in out.best_metrics.items()
    )
    text = (
        f"{out.combos} combinations in {data['seconds']} s (optimization {out.optimization_id})\n"
        f"best {out.best_params}: {metrics}\n"
        f"stored backtest {', '.join(map(str, out.backtest_ids))} (see `workbench metrics ID`)"
    )
    return Result(data, text)


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
        fill=args.fill,
        commission=args.commission,
        cash=args.cash,
        seed=args.seed,
        resume=args.resume,
    )
    data = out.to_dict()
    lines = [
        f"{out.trials} trials on {len(out.nodes)} node(s) in {data['seconds']} s (optimization {out.optimization_id})"
    ]
    lines += [f"  front: {p['params']} -> {p['objectives']}" for p in out.pareto]
    lines += [
        f"  fold {f['fold']}: {f['params']} in-sample {f['in_sample']} out-of-sample {f['out_of_sample']}"
        for f in out.folds
    ]
    return Result(data, "\n".join(lines))
