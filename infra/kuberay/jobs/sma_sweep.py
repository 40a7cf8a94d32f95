"""The workbench's own optimisation as a Ray job: an SMA-crossover search on the cluster it runs in.

It calls ``workbench.optimize.run_optimize`` — the function behind ``workbench optimize`` and the
notebooks' ``OptimizeWidget`` — so the cluster runs the product's engine (the fused Numba kernel, every
engine setting, the same ranking, Pareto front, walk-forward folds and overfitting checks) and stores
every combination into a workspace, exactly as a notebook would. Submitted as a RayJob
(infra/kuberay/rayjob-sweep.yaml) or from a notebook through the Ray Jobs API:

    from ray.job_submission import JobSubmissionClient
    client = JobSubmissionClient(os.environ["RAY_ADDRESS"])   # http://workbench-ray-head-svc...:8265
    job = client.submit_job(
        entrypoint="python sma_sweep.py --algo nsga2 --trials 64 --workspace /mnt/ray-results/sweeps",
        runtime_env={"working_dir": "/opt/workbench/src/infra/kuberay/jobs"})

Inside a Ray job ``RAY_ADDRESS`` names the job's cluster and ``run_optimize`` connects to it; run by
hand without it, a local Ray is started. The bars come from the workspace; a sample series
(``GOOG:1d``, ``EURUSD:1h``, ``BTCUSD:1mo``, shipped with ``backtesting``) is loaded into it when missing.
The workspace (``--workspace``, else ``$WORKBENCH_HOME``, else ``<--storage-path>/<--name>``) must be on
storage every node of the cluster sees (the ray-results volume): Tune's experiment state lives there
until the results are stored. The last line printed is one JSON object: the ``workbench optimize
--json`` outcome plus ``best`` (the chosen parameters) and ``workspace``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_PARAMS = ["fast=5:50:5", "slow=60:200:10"]
DEFAULT_OBJECTIVES = ["sharpe:max", "max_drawdown_pct:min"]
# engine settings, written as on the command line (workbench.backtest.settings parses them)
ENGINE = {"fill": "next_open", "direction": "long", "commission": "0", "spread": "0", "slippage": "0",
          "size": "100%", "stop_loss": None, "take_profit": None, "trailing_stop": None, "contract": None}  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--strategy", default="sma_cross", help="a workbench strategy (docs/strategies.md)")
    p.add_argument(
        "--data", default="GOOG:1d", metavar="SYMBOL:TF", help="stored bars (samples loaded if missing)"
    )
    p.add_argument("--param", action="append", metavar="k=start:stop[:step]",
                   help=f"repeatable (default {' '.join(DEFAULT_PARAMS)})")  # fmt: skip
    p.add_argument("--objective", action="append", metavar="METRIC:max|min",
                   help=f"repeatable (default {' '.join(DEFAULT_OBJECTIVES)})")  # fmt: skip
    p.add_argument("--algo", default="grid", help="grid | random | tpe | nsga2")
    p.add_argument("--trials", type=int, default=64, help="combinations tried (grid: the whole grid)")
    p.add_argument("--walk-forward", type=int, default=0, metavar="K", help="K time-ordered folds")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--workspace", default=os.environ.get("WORKBENCH_HOME") or None,
                   help="workspace folder on shared storage (default $WORKBENCH_HOME, else STORAGE/NAME)")  # fmt: skip
    p.add_argument("--storage-path", default=os.environ.get("TUNE_STORAGE_PATH") or ".",
                   help="shared folder for the default workspace (default $TUNE_STORAGE_PATH, else .)")  # fmt: skip
    p.add_argument("--name", default="sma-sweep", help="the default workspace's folder name")
    p.add_argument("--cash", type=float, default=10_000.0)
    for key, default in ENGINE.items():
        p.add_argument("--" + key.replace("_", "-"), default=default, metavar="V",
                       help=f"engine setting as in `workbench optimize` (default {default})")  # fmt: skip
    return p


def best(outcome: dict[str, Any], first: Any) -> dict[str, Any] | None:
    """The chosen parameters: the last walk-forward fold's, else the front's best on the first objective
    (``first``: its metric and mode; the JSON's null is +inf when maximised, as a profit factor without a
    losing trade; the first of equals wins)."""
    if outcome["folds"]:
        return outcome["folds"][-1]["params"]
    scored = []
    for i, point in enumerate(outcome["pareto"]):
        value = point["objectives"].get(first.metric)
        if value is None and first.mode == "min":
            continue
        value = float("inf") if value is None else float(value)
        scored.append((value if first.mode == "max" else -value, -i))
    return outcome["pareto"][-max(scored)[1]]["params"] if scored else None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parser().parse_args(argv)
    from workbench.backtest import parse_grid
    from workbench.optimize import parse_objectives, run_optimize
    from workbench.workspace import open_workspace

    home = Path(args.workspace or Path(args.storage_path) / args.name).resolve()
    ws = open_workspace(home)
    symbol, _, timeframe = args.data.partition(":")
    stored = ws.bar_series().filter(symbol=symbol, timeframe=timeframe).height
    if not stored:
        ws.load_samples()  # GOOG:1d, EURUSD:1h, BTCUSD:1mo; another key is an error from run_optimize
    out = run_optimize(
        ws,
        args.strategy,
        args.data,
        parse_grid(args.param or DEFAULT_PARAMS),
        parse_objectives(args.objective or DEFAULT_OBJECTIVES),
        algo=args.algo,
        trials=args.trials,
        walk_forward=args.walk_forward,
        seed=args.seed,
        cash=args.cash,
        **{key: getattr(args, key) for key in ENGINE},
    )
    summary = out.to_dict()
    summary.update(best=best(summary, parse_objectives(args.objective or DEFAULT_OBJECTIVES)[0]),
                   workspace=str(home))  # fmt: skip
    print(json.dumps(summary, default=str), flush=True)
    return summary


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - one line, as the workbench CLI reports errors
        print(f"error: {' '.join(str(e).split())[:500]}", file=sys.stderr)
        raise SystemExit(1) from None
