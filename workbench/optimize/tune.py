"""Parameter optimisation on Ray Tune: grid/random (BasicVariantGenerator), TPE and NSGA-II (Optuna).

One trial = one backtest of one parameter combination on the in-sample bars, run by the fused engine
(:func:`workbench.backtest.sweep` with a one-combination grid) in a Tune function trainable (1 CPU, actors
reused). The bars go to the cluster once (``ray.put``) and reach the trainable through
``tune.with_parameters``. Objectives are ``METRIC:max|min`` over :data:`workbench.backtest.METRICS`.

* one objective: ``rank`` = position by the objective (nulls last, ties by trial order); the best
  trial is the ``pareto`` list's only entry;
* several objectives: ``rank`` = Pareto rank (1 = non-dominated, :func:`pareto_ranks`); ``pareto`` is
  every rank-1 trial. A trial whose combination breaks the strategy's constraint reports no objectives
  (stored with null objectives and null rank) and is never ranked.
* walk-forward ``K``: the bars are cut into ``K + 1`` equal, time-ordered blocks; fold ``k`` (1..K)
  searches on block ``k - 1`` (in-sample) and scores the chosen parameters on block ``k``
  (out-of-sample; indicators restart cold at the block's start). The chosen parameters are the rank-1
  trial best on the first objective. In-sample trials are stored with ``fold = k``; each fold's
  in-sample and out-of-sample metrics are in ``folds`` (and in the optimisation's ``meta``); ``pareto`` is
  the last fold's front. Without walk-forward the whole period is searched and ``fold`` is null.

``address``: a Ray cluster for ``ray.init`` (``ray://host:10001`` or ``host:6379``; default
``$RAY_ADDRESS``, else a local Ray). A Jobs API address (``http://host:8265``) is refused: submit the
command itself with ``ray job submit`` (see docs/optimize.md).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench.backtest import METRICS, get_strategy, sweep
from workbench.backtest.engine import _grid_frame
from workbench.errors import ConfigError, StrategyError
from workbench.optimize.pareto import oriented, pareto_ranks
from workbench.optimize.store import clean, insert_optimization, insert_results, results_frame

__all__ = ["Objective", "OptimizeOutcome", "parse_objectives", "run_optimize", "ALGOS", "fold_bounds"]


@dataclass(frozen=True, slots=True)
class Objective:
    metric: str
    mode: str  # max | min


def parse_objectives(items: Sequence[str]) -> tuple[Objective, ...]:
    """``["sharpe:max", "max_drawdown_pct:min"]`` -> objectives (metric names from ``METRICS``)."""
    out: list[Objective] = []
    for item in items or ["total_return_pct:max"]:
        metric, _, mode = item.partition(":")
        mode = mode or "max"
        if metric not in METRICS:
            raise ConfigError(
                f"--objective {item!r}: unknown metric {metric!r} (known: {', '.join(METRICS)})"
            )
        if mode not in ("max", "min"):
            raise ConfigError(f"--objective {item!r}: direction must be max or min, got {mode!r}")
        if any(o.metric == metric for o in out):
            raise ConfigError(f"--objective {item!r}: {metric!r} given twice")
        out.append(Objective(metric, mode))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class OptimizeOutcome:
    optimization_id: int
    trials: int
    pareto: list[dict[str, Any]]
    folds: list[dict[str, Any]]
    nodes: list[str]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimization_id": self.optimization_id,
            "trials": self.trials,
            "pareto": self.pareto,
            "folds": self.folds,
            "nodes": self.nodes,
            "seconds": round(self.seconds, 3),
        }


# -- search algorithms (a registry: name -> builder of (search_alg, param_space, num_samples)) ------------

Space = tuple[Any, dict[str, Any], int]


def _combos(spec, grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    return _grid_frame(spec, grid).to_dicts()


def _grid(spec, grid, objectives, trials, seed) -> Space:
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    return BasicVariantGenerator(), {"p": tune.grid_search(_combos(spec, grid))}, 1


def _random(spec, grid, objectives, trials, seed) -> Space:
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    return BasicVariantGenerator(random_state=seed), {"p": tune.choice(_combos(spec, grid))}, trials


def _domain(values: Sequence[Any]) -> Any:
    from ray import tune

    vals = sorted(dict.fromkeys(values))
    if len(vals) == 1:
        return vals[0]
    if all(isinstance(v, int) for v in vals):
        steps = {b - a for a, b in zip(vals, vals[1:], strict=False)}
        if len(steps) == 1:
            q = steps.pop()
            return tune.randint(vals[0], vals[-1] + 1) if q == 1 else tune.qrandint(vals[0], vals[-1], q)
    return tune.choice(vals)


def _optuna(sampler: Callable[[int], Any]) -> Callable[..., Space]:
    def build(spec, grid, objectives, trials, seed) -> Space:
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)

        frame = _grid_frame(spec, grid)  # validates names and the constraint (raises on an empty grid)
        space = {c: _domain(frame[c].to_list()) for c in frame.columns}
        metric = [o.metric for o in objectives]
        mode = [o.mode for o in objectives]
        alg = OptunaSearch(
            metric=metric if len(metric) > 1 else metric[0],
            mode=mode if len(mode) > 1 else mode[0],
            sampler=sampler(seed),
        )
        return alg, space, trials

    return build


def _tpe(seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)


def _nsga2(seed: int) -> Any:
    import optuna

    return optuna.samplers.NSGAIISampler(seed=seed, population_size=8)


ALGOS: dict[str, Callable[..., Space]] = {
    "grid": _grid,
    "random": _random,
    "tpe": _optuna(_tpe),
    "nsga2": _optuna(_nsga2),
}


# -- the trainable (runs in Ray workers) ---------------------------------------------------------------


def _trial(
    config: dict[str, Any],
    *,
    bars: pl.DataFrame,
    strategy: str,
    engine: dict[str, Any],
    lo: int,
    hi: int,
    objectives: list[str],
) -> None:
    import ray
    from ray import tune

    bars = bars.slice(lo, hi - lo)
    params = dict(config.get("p") or {k: v for k, v in config.items()})
    report: dict[str, Any] = {"node_id": ray.get_runtime_context().get_node_id(), "valid": 1}
    try:
        row = sweep(bars, strategy, {k: [v] for k, v in params.items()}, **engine).row(0, named=True)
        report.update({m: math.nan if row[m] is None else float(row[m]) for m in METRICS})
    except StrategyError:  # the combination breaks the strategy's constraint
        report.update({m: math.nan for m in METRICS}, valid=0)
    report["params"] = params
    tune.report(report)


# -- driver --------------------------------------------------------------------------------------------


def _connect(address: str | None) -> bool:
    """``ray.init`` unless already connected; returns whether this call started the connection."""
    import ray

    if address and address.strip().lower().startswith(("http://", "https://")):
        raise ConfigError(
            f"--address {address}: that is a Ray Jobs API (dashboard) address; ray.init needs "
            "ray://HOST:10001 or HOST:6379 — or submit the whole command with the Ray Jobs API: "
            f"ray job submit --address {address} -- workbench optimize ... (see docs/optimize.md)"
        )
    if ray.is_initialized():
        return False
    from workbench.config import settings

    dashboard = settings().ray_dashboard
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        else:
            ray.init(include_dashboard=dashboard, log_to_driver=False, logging_level="ERROR")
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ConfigError(f"--address {address or '(local)'}: cannot start/connect to Ray ({e})") from None
    return True


def fold_bounds(n: int, k: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """``k`` walk-forward folds over ``n`` bars: ``((train_lo, train_hi), (test_lo, test_hi))`` each,
    ``k + 1`` equal time-ordered blocks, train = block ``i``, test = block ``i + 1``."""
    if k < 1:
        raise ConfigError(f"--walk-forward must be >= 1 folds, got {k}")
    edges = np.linspace(0, n, k + 2).astype(int)
    if np.diff(edges).min() < 2:
        raise ConfigError(f"--walk-forward {k}: {n} bars are too few for {k} folds")
    return [((int(edges[i]), int(edges[i + 1])), (int(edges[i + 1]), int(edges[i + 2]))) for i in range(k)]


def _search(
    bars_ref: Any,
    spec,
    grid,
    objectives: tuple[Objective, ...],
    algo: str,
    trials: int,
    seed: int,
    engine: dict[str, Any],
    lo: int,
    hi: int,
    storage: str,
) -> list[dict[str, Any]]:
    """One Tune run over bars ``[lo, hi)``; the reported results in trial order."""
    from ray import tune

    search_alg, space, samples = ALGOS[algo](spec, grid, objectives, trials, seed)
    trainable = tune.with_parameters(
        _trial,
        bars=bars_ref,  # an ObjectRef: with_parameters hands each worker the frame, stored once
        strategy=spec.name,
        engine=engine,
        lo=lo,
        hi=hi,
        objectives=[o.metric for o in objectives],
    )
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space=space,
        tune_config=tune.TuneConfig(search_alg=search_alg, num_samples=samples, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=storage, verbose=0, log_to_file=False),
    )
    results = tuner.fit()
    rows = []
    for r in results:
        if r.error is not None or not r.metrics or "params" not in r.metrics:
            raise StrategyError(f"optimisation trial failed: {' '.join(str(r.error).split())[:200]}")
        rows.append(r.metrics)
    return sorted(rows, key=lambda m: m.get("trial_id", ""))


def _ranked(rows: list[dict[str, Any]], objectives: tuple[Objective, ...]) -> np.ndarray:
    """Rank per row (0 = unranked: invalid combination)."""
    valid = np.array([r["valid"] == 1 for r in rows], dtype=bool)
    values = np.array([[r[o.metric] for o in objectives] for r in rows], dtype=np.float64)
    values = values.reshape(len(rows), len(objectives))
    modes = [o.mode for o in objectives]
    ranks = np.zeros(len(rows), dtype=np.int64)
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return ranks
    if len(objectives) > 1:
        ranks[idx] = pareto_ranks(values[idx], modes)
    else:
        v = oriented(values[idx], modes)[:, 0]
        order = np.lexsort((np.arange(idx.size), -v))  # best first, ties by trial order
        ranks[idx[order]] = np.arange(1, idx.size + 1)
    return ranks


def _metrics(row: Mapping[str, Any]) -> dict[str, Any]:
    return clean({m: (None if row[m] is None or math.isnan(row[m]) else row[m]) for m in METRICS})


def _front(rows, ranks, objectives, offset: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "trial": offset + int(i) + 1,
            "params": dict(rows[i]["params"]),
            "objectives": {o.metric: _metrics(rows[i])[o.metric] for o in objectives},
        }
        for i in np.flatnonzero(ranks == 1)
    ]


def _chosen(rows, ranks, objectives) -> dict[str, Any]:
    front = np.flatnonzero(ranks == 1)
    if front.size == 0:
        raise StrategyError("no trial satisfied the strategy's constraint; widen the parameter ranges")
    first = objectives[0]
    score = oriented(np.array([[rows[i][first.metric]] for i in front]), [first.mode])[:, 0]
    return rows[int(front[int(np.argmax(score))])]


def run_optimize(
    ws: Any,
    strategy: str,
    data: str,
    grid: Mapping[str, Sequence[Any]],
    objectives: Sequence[Objective],
    *,
    algo: str = "tpe",
    trials: int = 20,
    walk_forward: int = 0,
    address: str | None = None,
    fill: str = "next_open",
    commission: float = 0.0,
    cash: float = 10_000,
    seed: int = 0,
) -> OptimizeOutcome:
    """Search ``grid``'s ranges with ``algo`` on Ray Tune and store every trial (see the module doc)."""
    t0 = time.perf_counter()
    if algo not in ALGOS:
        raise ConfigError(f"--algo {algo!r} is unknown (known: {', '.join(ALGOS)})")
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    objectives = tuple(objectives) or parse_objectives([])
    spec = get_strategy(strategy)
    _grid_frame(spec, grid)  # fail fast on unknown parameter names
    if address is None:
        from workbench.config import settings

        address = settings().ray_address
    bars = ws.bars(data)
    symbol, _, tf = data.partition(":")
    engine = {"fill": fill, "commission": commission, "cash": cash}
    windows = fold_bounds(bars.height, walk_forward) if walk_forward else [((0, bars.height), None)]
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    started = _connect(address)
    import ray

    storage = tempfile.mkdtemp(prefix="workbench-tune-")
    runs: list[tuple[int | None, list[dict[str, Any]], np.ndarray]] = []
    folds: list[dict[str, Any]] = []
    try:
        bars_ref = ray.put(bars)
        for k, (train, test) in enumerate(windows, start=1):
            rows = _search(bars_ref, spec, grid, objectives, algo, trials, seed, engine, *train, storage)
            ranks = _ranked(rows, objectives)
            runs.append((k if test else None, rows, ranks))
            if test is None:
                continue
            best = _chosen(rows, ranks, objectives)
            oos = sweep(
                bars.slice(test[0], test[1] - test[0]),
                spec,
                {p: [v] for p, v in best["params"].items()},
                **engine,
            ).row(0, named=True)
            folds.append(
                {
                    "fold": k,
                    "train": _span(bars, train),
                    "test": _span(bars, test),
                    "params": dict(best["params"]),
                    "in_sample": _metrics(best),
                    "out_of_sample": clean({m: oos[m] for m in METRICS}),
                }
            )
    finally:
        shutil.rmtree(storage, ignore_errors=True)
        if started:
            ray.shutdown()
    nodes = sorted({r["node_id"] for _, rows, _ in runs for r in rows})
    with ws.store.transaction() as con:
        oid = insert_optimization(
            con,
            name=f"{algo} {spec.name} {data}",
            source=f"ray_tune:{spec.name}",
            origin="ray_tune",
            strategy=spec.name,
            symbol=symbol,
            timeframe=tf,
            bars=bars,
            cash=cash,
            algo=algo,
            objectives={o.metric: o.mode for o in objectives},
            meta={"grid": dict(grid), "trials": trials, "walk_forward": walk_forward, "seed": seed,
                  "nodes": nodes, "folds": folds, **engine},
        )  # fmt: skip
        offset = last_offset = 0
        for fold, rows, ranks in runs:
            last_offset = offset
            params = list(rows[0]["params"])
            frame = (
                pl.DataFrame(
                    [{**r["params"], **{m: r[m] for m in METRICS}} for r in rows],
                    schema_overrides={m: pl.Float64 for m in METRICS},
                )
                .with_columns(pl.col(m).fill_nan(None) for m in METRICS)
                .with_columns(pl.col("trades").cast(pl.Int64))
            )
            rank = pl.Series("rank", [int(x) if x else None for x in ranks], dtype=pl.Int32)
            out = results_frame(
                oid,
                frame,
                params=params,
                objectives=[o.metric for o in objectives],
                metrics=list(METRICS),
                trial_offset=offset,
                rank=rank,
                fold=fold,
            )
            offset += insert_results(con, out)
    _, last_rows, last_ranks = runs[-1]
    return OptimizeOutcome(
        oid,
        offset,
        _front(last_rows, last_ranks, objectives, last_offset),
        folds,
        nodes,
        time.perf_counter() - t0,
    )


def _span(bars: pl.DataFrame, window: tuple[int, int]) -> dict[str, Any]:
    ts = bars["ts"]
    return {
        "start": ts[window[0]].isoformat(),
        "end": ts[window[1] - 1].isoformat(),
        "bars": window[1] - window[0],
    }
