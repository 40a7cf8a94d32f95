"""Example sweep for the Ray cluster: SMA crossover windows on GOOG daily bars, with Ray Tune.

Submitted as a RayJob (infra/kuberay/rayjob-sweep.yaml) or from a notebook through the Ray Jobs API:

    from ray.job_submission import JobSubmissionClient
    client = JobSubmissionClient(os.environ["RAY_ADDRESS"])   # http://workbench-ray-head-svc...:8265
    job = client.submit_job(entrypoint="python sma_sweep.py --trials 32",
                            runtime_env={"working_dir": "infra/kuberay/jobs"})

Run directly, it starts a local Ray. The last line printed is one JSON object: the best window pair,
its annualised Sharpe ratio and the number of trials.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import numpy as np


def closes() -> np.ndarray:
    from backtesting.test import GOOG  # daily bars shipped with the `backtesting` package

    return GOOG["Close"].to_numpy(dtype=float)


def sma(x: np.ndarray, n: int) -> np.ndarray:
    """Simple moving average; NaN for the first n-1 points."""
    out = np.full(x.shape, np.nan)
    c = np.cumsum(np.insert(x, 0, 0.0))
    out[n - 1 :] = (c[n:] - c[:-n]) / n
    return out


def score(fast: int, slow: int, prices: np.ndarray) -> dict[str, float]:
    """Long when the fast SMA is above the slow one (decided on the close, held the next bar)."""
    position = (sma(prices, fast) > sma(prices, slow)).astype(float)[:-1]
    returns = np.diff(np.log(prices))
    strategy = position * returns
    std = strategy.std()
    sharpe = float(strategy.mean() / std * np.sqrt(252)) if std > 0 else 0.0
    return {"sharpe": sharpe, "total_log_return": float(strategy.sum()), "exposure": float(position.mean())}


def trial(config: dict[str, Any]) -> dict[str, float]:
    return score(int(config["fast"]), int(config["slow"]), closes())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--name", default="sma-sweep")
    parser.add_argument("--storage-path", default=os.environ.get("TUNE_STORAGE_PATH"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    import ray
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    ray.init()  # inside a Ray job: the cluster; run by hand: a local Ray
    tuner = tune.Tuner(
        tune.with_resources(trial, {"cpu": 1}),
        param_space={"fast": tune.randint(5, 50), "slow": tune.randint(60, 200)},
        tune_config=tune.TuneConfig(
            metric="sharpe",
            mode="max",
            num_samples=args.trials,
            search_alg=BasicVariantGenerator(random_state=args.seed),
        ),
        run_config=tune.RunConfig(
            name=args.name,
            storage_path=os.path.abspath(args.storage_path) if args.storage_path else None,
            verbose=0,
        ),
    )
    results = tuner.fit()
    best = results.get_best_result()
    summary = {
        "best": {"fast": int(best.config["fast"]), "slow": int(best.config["slow"])},
        "sharpe": round(float(best.metrics["sharpe"]), 6),
        "trials": len(results),
        "errors": len(results.errors),
    }
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":
    main()
