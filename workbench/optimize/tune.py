"""Parameter optimisation on Ray Tune: grid/random (chunked), TPE and NSGA-II (Optuna).

**Grid and random** are evaluated in chunks: the driver builds the combinations once (grid = every valid
combination of the ranges; random = ``trials`` of them drawn without replacement with ``seed``, all of
them when ``trials`` >= the grid; both kept in grid order) and cuts them into ``4 × cluster CPUs`` chunks
(at least one combination each). One Tune trial (1 CPU, Numba limited to it) evaluates one chunk with
the fused engine, vectorised: :func:`evaluate` = :func:`workbench.backtest.sweep` over the chunk's
combinations, so the stored metrics equal a direct ``sweep`` row for row. **TPE / NSGA-II** are
sequential and model-based: one trial per combination (``OptunaSearch``). Every trial reports its
``rows`` as one Arrow IPC frame (the parameter columns, every metric column and any further column
``sweep`` returns; ``_pack_rows``) and their count, plus the node, job and process that evaluated it.
The bars go to the cluster once (``ray.put``) and reach the trainable through ``tune.with_parameters``.
Objectives are ``METRIC:max|min`` over :data:`workbench.backtest.METRICS`.

* one objective: ``rank`` = position by the objective (:func:`ranks_by`: ``+inf`` first when maximised,
  e.g. a profit factor without a losing trade; nulls last; ties by combination order); the best
  combination is the ``pareto`` list's only entry (its stored objectives JSON says null for ``+inf``:
  JSON has no infinity);
* several objectives: ``rank`` = Pareto rank (1 = non-dominated, :func:`pareto_ranks`); ``pareto`` is
  every rank-1 combination. A combination that breaks the strategy's constraint (TPE/NSGA-II only: the
  grid and random searches never draw one) is stored with null objectives and null rank.
* walk-forward ``K``: the bars are cut into ``K + 1`` equal, time-ordered blocks; fold ``k`` (1..K)
  searches on block ``k - 1`` (in-sample) and scores the chosen parameters on block ``k``
  (out-of-sample; indicators restart cold at the block's start). The chosen parameters are the rank-1
  combination best on the first objective. In-sample rows are stored with ``fold = k``; each fold's
  in-sample and out-of-sample metrics are in ``folds`` (and in the optimisation's ``meta``); ``pareto``
  is the last fold's front. Without walk-forward the whole period is searched and ``fold`` is null.
* ``trials`` in the outcome = combinations evaluated (= stored rows); ``nodes`` = the distinct Ray node
  ids that evaluated them; ``progress(done, total)`` is called as trial results arrive.

**Resume.** Each search is a Tune experiment in ``<workspace>/tune/<name>``, ``name`` a hash of the
request (strategy, data and its bars, grid, objectives, algorithm, trials, seed, walk-forward fold,
engine settings). When that directory holds a restorable experiment (an interrupted run of the same
request), it is resumed with ``Tuner.restore(..., resume_unfinished=True, resume_errored=True)``:
finished trials are not evaluated again. The directories are removed once the results are committed to
the store. (The crash tests kill the driver mid-run from outside the product: ``tests/faults.py``.)

``address``: a Ray cluster for ``ray.init`` (``ray://host:10001`` or ``host:6379``; default
``$RAY_ADDRESS``, else a local Ray). A Jobs API address (``http://host:8265``) is refused: submit the
command itself with ``ray job submit`` (see docs/optimize.md).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from workbench.backtest import METRICS, EngineSettings, annualization, get_strategy, keep_bytes, run, sweep
from workbench.backtest.engine import _grid_frame
from workbench.errors import ConfigError, StrategyError
from workbench.optimize.overfit import Overfit, assess, cscv_blocks
from workbench.optimize.pareto import oriented, pareto_ranks, ranks_by
from workbench.optimize.store import clean, insert_optimization, insert_results, results_frame
from workbench.raycluster import connect_ray

__all__ = [
    "Objective",
    "OptimizeOutcome",
    "Progress",
    "parse_objectives",
    "run_optimize",
    "evaluate",
    "ALGOS",
    "fold_bounds",
]

Progress = Callable[[int, int | None], None]
CHUNKS_PER_CPU = 4
TRIAL_KEEP_BYTES = 2 << 30  # a trial worker's kept indicator rows (engine.keep_bytes): 2 GiB
STATE_PERIOD_S = "2"  # Tune's experiment-state snapshot period (TUNE_GLOBAL_CHECKPOINT_S) unless set
BAR_COLUMNS = ("ts", "open", "high", "low", "close", "volume")
_ROWS = "_rows"  # config key of a chunked trial: [first, stop) into the search's combinations


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
    trials: int  # combinations evaluated (stored rows)
    pareto: list[dict[str, Any]]
    folds: list[dict[str, Any]]
    nodes: list[str]
    seconds: float
    dashboard_url: str | None = None
    overfitting: dict[str, Any] | None = None  # deflated Sharpe + PBO (see _summary)
    annualization: dict[str, Any] | None = None  # how sharpe/sortino are annualised on these bars
    settings: dict[str, Any] | None = None  # every engine setting, as written (EngineSettings.to_dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimization_id": self.optimization_id,
            "trials": self.trials,
            "pareto": self.pareto,
            "folds": self.folds,
            "nodes": self.nodes,
            "seconds": round(self.seconds, 3),
            "dashboard_url": self.dashboard_url,
            "overfitting": self.overfitting,
            "annualization": self.annualization,
            "settings": self.settings,
        }


# -- evaluating an explicit list of combinations --------------------------------------------------------


def evaluate(bars: pl.DataFrame, strategy: Any, combos: pl.DataFrame, **engine: Any) -> pl.DataFrame:
    """:func:`workbench.backtest.sweep` over exactly the rows of ``combos`` (parameter columns, each
    row a valid combination), in their order, in one vectorised kernel pass: the same columns and
    values as ``sweep`` over a grid holding them."""
    if combos.height == 0:
        raise StrategyError("no combination to evaluate")
    return sweep(bars, strategy, combos, **engine)


# -- search plans (a registry: name -> builder) ---------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    search_alg: Any
    space: dict[str, Any]
    samples: int
    combos: pl.DataFrame | None  # chunked searches: the combinations the trials' ``_rows`` index
    total: int  # combinations the search evaluates


def _chunked(frame: pl.DataFrame, chunks: int) -> _Plan:
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    n = frame.height
    edges = np.linspace(0, n, max(1, min(n, chunks)) + 1).round().astype(int)
    bounds = [[int(a), int(b)] for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return _Plan(BasicVariantGenerator(), {_ROWS: tune.grid_search(bounds)}, 1, frame, n)


def _grid(frame: pl.DataFrame, objectives, trials: int, seed: int, chunks: int) -> _Plan:
    return _chunked(frame, chunks)


def _random(frame: pl.DataFrame, objectives, trials: int, seed: int, chunks: int) -> _Plan:
    if trials < frame.height:
        pick = np.sort(np.random.default_rng(seed).choice(frame.height, size=trials, replace=False))
        frame = frame[pick]
    return _chunked(frame, chunks)


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


def _optuna(sampler: Callable[[int], Any]) -> Callable[..., _Plan]:
    def build(frame: pl.DataFrame, objectives, trials: int, seed: int, chunks: int) -> _Plan:
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)

        space = {c: _domain(frame[c].to_list()) for c in frame.columns}
        metric = [o.metric for o in objectives]
        mode = [o.mode for o in objectives]
        alg = OptunaSearch(
            metric=metric if len(metric) > 1 else metric[0],
            mode=mode if len(mode) > 1 else mode[0],
            sampler=sampler(seed),
        )
        return _Plan(alg, space, trials, None, trials)

    return build


def _tpe(seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)


def _nsga2(seed: int) -> Any:
    import optuna

    return optuna.samplers.NSGAIISampler(seed=seed, population_size=8)


ALGOS: dict[str, Callable[..., _Plan]] = {
    "grid": _grid,
    "random": _random,
    "tpe": _optuna(_tpe),
    "nsga2": _optuna(_nsga2),
}


# -- the trainable (runs in Ray workers) ---------------------------------------------------------------


_BARS: dict[str, pl.DataFrame] = {}  # in a trial worker: the bars it was handed, by object id


def _bars(held: tuple[Any]) -> pl.DataFrame:
    """The bars behind the ObjectRef in ``held``, fetched once per worker process. (Handed as an
    ObjectRef itself, ``tune.with_parameters`` would ``ray.get`` — deserialise and copy — the whole
    frame again for every trial a reused worker runs: ~0.1 s per trial per million bars.)"""
    import ray

    (ref,) = held
    key = ref.hex()
    if key not in _BARS:
        _BARS.clear()  # one series at a time
        _BARS[key] = ray.get(ref)
    return _BARS[key]


def _trial(
    config: dict[str, Any],
    *,
    bars: tuple[Any],
    combos: pl.DataFrame | None,
    strategy: str,
    engine: dict[str, Any],
    lo: int,
    hi: int,
    trace: str | None,
    blocks: int = 0,
) -> None:
    import numba
    import ray
    from ray import tune

    ctx = ray.get_runtime_context()
    # A trial worker sweeps one series chunk after chunk: keep its indicator rows between trials (a
    # million bars' rows are 8 MB each; computed afresh into new memory they cost as much as a chunk).
    if keep_bytes() < TRIAL_KEEP_BYTES:
        keep_bytes(TRIAL_KEEP_BYTES)
    cpus = int(ctx.get_assigned_resources().get("CPU", 1) or 1)
    numba.set_num_threads(max(1, min(cpus, numba.config.NUMBA_NUM_THREADS)))  # this thread only
    window = _bars(bars).slice(lo, hi - lo)  # this search's bars (a walk-forward fold's block)
    report: dict[str, Any] = {"valid": 1}
    if _ROWS in config:
        first, stop = (int(x) for x in config[_ROWS])
        assert combos is not None
        frame = evaluate(window, strategy, combos.slice(first, stop - first), blocks=blocks, **engine)
        report["first"] = first
    else:
        params = dict(config)
        try:
            frame = sweep(window, strategy, {k: [v] for k, v in params.items()}, blocks=blocks, **engine)
        except StrategyError:  # the combination breaks the strategy's constraint
            frame = pl.DataFrame([params])
            report["valid"] = 0
        # the objectives at the top level, for OptunaSearch
        report.update({m: _float(frame.row(0, named=True).get(m)) for m in METRICS})
    report.update(
        rows=_pack_rows(frame),
        combinations=frame.height,
        node_id=ctx.get_node_id(),
        job_id=ctx.get_job_id(),
        pid=os.getpid(),
        evaluated_at=time.time(),
    )
    if trace:  # one JSON line per evaluation (crash tests count evaluations with it)
        line = {k: report[k] for k in ("node_id", "job_id", "pid", "evaluated_at")}
        line.update(trial_id=tune.get_context().get_trial_id(), first=report.get("first"),
                    combinations=frame.height, params=_params_of(frame.row(0, named=True)))  # fmt: skip
        with open(trace, "a", encoding="utf-8") as f:
            f.write(json.dumps(line, default=str) + "\n")
    tune.report(report)


def _pack_rows(frame: pl.DataFrame) -> str:
    """A trial's rows as one string: the frame in Arrow IPC (LZ4), base64. Tune keeps each trial's last
    result in its experiment state (JSON, rewritten as results arrive, read back on resume): one string
    per trial instead of a list of row dicts (~80 floats each with the CSCV block moments) keeps that
    cheap for the driver, and the frame crosses from the trial to the driver as one buffer."""
    buf = io.BytesIO()
    frame.write_ipc(buf, compression="lz4")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _unpack_rows(packed: str) -> pl.DataFrame:
    return pl.read_ipc(io.BytesIO(base64.b64decode(packed)))


def _params_of(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in METRICS and not isinstance(v, list)}


def _float(v: Any) -> float:
    return math.nan if v is None else float(v)


# -- driver-side Tune callback: progress ----------------------------------------------------------------

_LISTENERS: dict[str, _Listener] = {}


class _Listener:
    """Counts combinations as trial results arrive (``progress``) for the experiment in ``path``."""

    def __init__(self, progress: Progress | None, total: int | None) -> None:
        self.progress = progress
        self.total = total
        self.done = 0
        self.path: Path | None = None
        self.tags: dict[str, str] = {}  # trial id -> Tune's experiment tag ("<creation number>_<config>")

    def start(self, path: Path) -> None:
        self.path = path

    def restored(self, trials: list[Any]) -> None:
        """The finished trials the experiment was restored with (a resumed run) count as done."""
        n = sum(int(t.last_result.get("combinations", 0)) for t in trials if t.status == "TERMINATED")
        if n:
            self._advance(n)

    def result(self, result: Mapping[str, Any]) -> None:
        self._advance(int(result.get("combinations", 0)))

    def _advance(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total)


def _listener_for(key: str) -> _Listener | None:
    return _LISTENERS.get(key)


def _tune_callback(key: str) -> Any:
    from ray.tune import Callback

    class _Events(Callback):
        """Forwards to the listener registered under ``key`` in this process. Tune pickles the callback
        into the experiment directory and a restore uses that copy, so it holds only the key (the
        experiment name) and looks the *current* run's listener up through ``_listener_for``."""

        def __init__(self, key: str) -> None:
            self.key = key
            self.begun = False

        def __getstate__(self) -> dict[str, Any]:
            return {"key": self.key, "begun": False}

        def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
            if not self.begun and (listener := _listener_for(self.key)) is not None:
                self.begun = True
                listener.restored(trials)

        def on_trial_result(self, iteration: int, trials: list[Any], trial: Any, result: dict, **info):
            if (listener := _listener_for(self.key)) is not None:
                listener.result(result)

        def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
            if (listener := _listener_for(self.key)) is not None:
                listener.tags.update({t.trial_id: t.experiment_tag for t in trials})

    return _Events(key)


# -- driver --------------------------------------------------------------------------------------------


def fold_bounds(n: int, k: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """``k`` walk-forward folds over ``n`` bars: ``((train_lo, train_hi), (test_lo, test_hi))`` each,
    ``k + 1`` equal time-ordered blocks, train = block ``i``, test = block ``i + 1``."""
    if k < 1:
        raise ConfigError(f"--walk-forward must be >= 1 folds, got {k}")
    edges = np.linspace(0, n, k + 2).astype(int)
    if np.diff(edges).min() < 2:
        raise ConfigError(f"--walk-forward {k}: {n} bars are too few for {k} folds")
    return [((int(edges[i]), int(edges[i + 1])), (int(edges[i + 1]), int(edges[i + 2]))) for i in range(k)]


def _experiment_name(request: Mapping[str, Any], bars: pl.DataFrame, fold: int) -> str:
    """``ALGO-STRATEGY-HASH[-foldK]``: the same request on the same bars gives the same name."""
    ts = bars["ts"]
    fingerprint = [bars.height, str(ts[0]), str(ts[-1]), float(bars["close"].sum())]
    payload = json.dumps({"v": 2, **request, "bars": fingerprint, "fold": fold}, sort_keys=True, default=str)
    digest = hashlib.sha256(payload.encode()).hexdigest()[:16]
    return f"{request['algo']}-{request['strategy']}-{digest}" + (f"-fold{fold}" if fold else "")


def _search(
    plan: _Plan,
    bars_ref: Any,
    spec,
    engine: dict[str, Any],
    lo: int,
    hi: int,
    path: Path,
    listener: _Listener,
    resume: bool,
    blocks: int = 0,
) -> list[dict[str, Any]]:
    """One Tune experiment over bars ``[lo, hi)`` in ``path`` (resumed when restorable); the rows in
    combination order, each ``{"params", METRICS..., "valid", "node_id", "extra"}``."""
    from ray import tune

    trainable = tune.with_resources(
        tune.with_parameters(
            _trial,
            bars=(bars_ref,),  # the bars stored once; a worker fetches them once (_bars)
            combos=plan.combos,
            strategy=spec.name,
            engine=engine,
            lo=lo,
            hi=hi,
            trace=os.environ.get("WORKBENCH_TUNE_TRACE") or None,
            blocks=blocks,  # CSCV block moments for the PBO (workbench.optimize.overfit)
        ),
        {"cpu": 1},
    )

    def fresh() -> Any:
        return tune.Tuner(
            trainable,
            param_space=plan.space,
            tune_config=tune.TuneConfig(search_alg=plan.search_alg, num_samples=plan.samples, reuse_actors=True),
            run_config=tune.RunConfig(
                name=path.name,
                storage_path=str(path.parent),
                callbacks=[_tune_callback(path.name)],
                verbose=0,
                log_to_file=False,
            ),
        )  # fmt: skip

    def fit(tuner: Any) -> Any:
        _LISTENERS[path.name] = listener
        listener.start(path)
        try:
            return tuner.fit()
        finally:
            _LISTENERS.pop(path.name, None)

    tuner = None
    if path.exists() and not (resume and tune.Tuner.can_restore(str(path))):
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        try:
            tuner = tune.Tuner.restore(str(path), trainable, resume_unfinished=True, resume_errored=True)
        except Exception:  # noqa: BLE001 - an unreadable/incompatible experiment: start over
            shutil.rmtree(path, ignore_errors=True)
    restored = tuner is not None
    results = fit(tuner if restored else fresh())
    if restored and not _covers_plan(results, plan):
        # Ray logs "Failed to restore the run state" and goes on when a state file was cut short (a kill
        # while it was written): its trials then follow no plan. Start this experiment over.
        shutil.rmtree(path, ignore_errors=True)
        results = fit(fresh())
    keyed: list[tuple[Any, dict[str, Any]]] = []
    for r in results:
        m = r.metrics
        if r.error is not None or not m or "rows" not in m:
            raise StrategyError(f"optimisation trial failed: {' '.join(str(r.error).split())[:200]}")
        # chunks in combination order; one-combination trials in creation order (trial ids are random)
        key = m["first"] if plan.combos is not None else _created(listener.tags.get(m.get("trial_id")))
        for i, row in enumerate(_unpack_rows(m["rows"]).iter_rows(named=True)):
            keyed.append(((key, i), _row(row, plan, m)))
    keyed.sort(key=lambda kv: kv[0])
    return [row for _, row in keyed]


def _covers_plan(results: Any, plan: _Plan) -> bool:
    """Whether a (restored) experiment's trials evaluated exactly the plan's chunks (grid plans)."""
    if plan.combos is None:
        return True
    metrics = [r.metrics or {} for r in results if r.error is None]
    if any("first" not in m for m in metrics):
        return False
    return sum(int(m.get("combinations", 0)) for m in metrics) == plan.combos.height


def _created(tag: str | None) -> int:
    number = (tag or "").partition("_")[0]
    if not number.isdigit():
        raise StrategyError(f"optimisation: cannot order a trial by its Tune experiment tag {tag!r}")
    return int(number)


def _row(row: Mapping[str, Any], plan: _Plan, trial: Mapping[str, Any]) -> dict[str, Any]:
    names = plan.combos.columns if plan.combos is not None else list(plan.space)
    return {
        "params": {p: row[p] for p in names},
        **{m: _float(row.get(m)) for m in METRICS},
        "valid": int(trial["valid"]),
        "node_id": trial["node_id"],
        "extra": {k: v for k, v in row.items() if k not in METRICS and k not in names},
    }


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
        ranks[idx] = ranks_by(values[idx, 0], modes[0])  # +inf first when maximised, NaN last
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
    direction: str = "long",
    commission: Any = 0.0,
    spread: Any = 0.0,
    slippage: Any = 0.0,
    size: Any = "100%",
    stop_loss: Any = None,
    take_profit: Any = None,
    trailing_stop: Any = None,
    contract: Any = None,
    cash: float = 10_000,
    seed: int = 0,
    progress: Progress | None = None,
    resume: bool = True,
) -> OptimizeOutcome:
    """Search ``grid``'s ranges with ``algo`` on Ray Tune and store every combination evaluated (see
    the module doc). ``progress(done, total)``: combinations evaluated so far and the total (``None``
    when unknown), called in this process as trial results arrive. ``resume=False`` discards an
    interrupted run of the same request instead of resuming it. The engine settings (``direction``,
    ``commission``, ``spread``, ``slippage``, ``size``, ``stop_loss``, ``take_profit``, ``trailing_stop``,
    ``contract``, ``fill``, ``cash``) are written as on the command line (:mod:`workbench.backtest.settings`),
    checked before Ray starts, used by every trial, echoed in ``settings`` and stored in the
    optimisation's ``meta``."""
    t0 = time.perf_counter()
    if algo not in ALGOS:
        raise ConfigError(f"--algo {algo!r} is unknown (known: {', '.join(ALGOS)})")
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    objectives = tuple(objectives) or parse_objectives([])
    spec = get_strategy(strategy)
    frame = _grid_frame(spec, grid)  # fail fast on unknown parameter names
    if frame.height == 0:
        raise StrategyError(
            f"no combination of the grid satisfies {spec.name!r}'s constraint {spec.constraint!r}"
        )
    if address is None:
        from workbench.config import settings

        address = settings().ray_address
    symbol, _, tf = data.partition(":")
    chosen = EngineSettings.build(
        fill=fill,
        direction=direction,
        commission=commission,
        spread=spread,
        slippage=slippage,
        size=size,
        stop_loss=stop_loss,
        take_profit=take_profit,
        trailing_stop=trailing_stop,
        contract=contract,
        cash=cash,
        symbol=symbol,
    )
    chosen.check_grid(frame.columns)
    engine = chosen.to_dict()
    bars = ws.bars(data)
    windows = fold_bounds(bars.height, walk_forward) if walk_forward else [((0, bars.height), None)]
    request = {
        "strategy": spec.name,
        "data": data,
        "grid": {k: list(v) for k, v in grid.items()},
        "objectives": [[o.metric, o.mode] for o in objectives],
        "algo": algo,
        "trials": None if algo == "grid" else trials,
        "seed": seed,
        "walk_forward": walk_forward,
        "engine": engine,
    }
    paths = [Path(ws.home).resolve() / "tune" / _experiment_name(request, bars, k if test else 0)
             for k, (_, test) in enumerate(windows, start=1)]  # fmt: skip
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", STATE_PERIOD_S)
    started, dashboard_url = connect_ray(address)
    import ray

    runs: list[tuple[int | None, list[dict[str, Any]], np.ndarray]] = []
    folds: list[dict[str, Any]] = []
    checks: list[Overfit | None] = []  # per search (fold)
    try:
        chunks = CHUNKS_PER_CPU * max(1, int(ray.cluster_resources().get("CPU", 1)))
        listener = _Listener(progress, None)
        bars_ref = ray.put(bars.select(c for c in BAR_COLUMNS if c in bars.columns))
        for k, ((train, test), path) in enumerate(zip(windows, paths, strict=True), start=1):
            plan = ALGOS[algo](frame, objectives, trials, seed, chunks)  # a fresh searcher per fold
            listener.total = plan.total * len(windows)
            blocks = cscv_blocks(bars.slice(train[0], train[1] - train[0]))
            rows = _search(plan, bars_ref, spec, engine, *train, path, listener, resume, blocks)
            ranks = _ranked(rows, objectives)
            runs.append((k if test else None, rows, ranks))
            checks.append(_overfit(bars, train, spec, rows, ranks, objectives, blocks, engine))
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
                    "overfitting": checks[-1].to_dict() if checks[-1] else None,
                }
            )
    finally:
        if started:
            ray.shutdown()
    nodes = sorted({r["node_id"] for _, rows, _ in runs for r in rows})
    overfit = _summary(checks)
    ann = annualization(bars).to_dict()
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
                  "nodes": nodes, "folds": folds, "overfitting": overfit, "annualization": ann, **engine},
            deflated_sharpe=overfit["deflated_sharpe"],
            pbo=overfit["pbo"],
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
    for path in paths:  # committed: the interrupted-run state is no longer needed
        shutil.rmtree(path, ignore_errors=True)
    _, last_rows, last_ranks = runs[-1]
    return OptimizeOutcome(
        oid,
        offset,
        _front(last_rows, last_ranks, objectives, last_offset),
        folds,
        nodes,
        time.perf_counter() - t0,
        dashboard_url,
        overfit,
        ann,
        engine,
    )


def _overfit(
    bars: pl.DataFrame,
    window: tuple[int, int],
    spec,
    rows: list[dict[str, Any]],
    ranks: np.ndarray,
    objectives: tuple[Objective, ...],
    blocks: int,
    engine: dict[str, Any],
) -> Overfit | None:
    """Deflated Sharpe ratio of the chosen trial (rank 1, best on the first objective) and the PBO of
    this search's trials, judged on the bars they were searched on. None without a valid trial."""
    if not (ranks == 1).any():
        return None
    best = _chosen(rows, ranks, objectives)
    index = next(i for i, r in enumerate(rows) if r is best)
    frame = pl.DataFrame({"sharpe": [r["sharpe"] for r in rows]}, schema={"sharpe": pl.Float64})
    if blocks:
        moments = [r["extra"].get("block_moments") if r["valid"] else None for r in rows]
        frame = frame.with_columns(
            pl.Series("block_moments", moments, dtype=pl.Array(pl.Float64, 3 * blocks))
        )
    chosen = run(bars.slice(window[0], window[1] - window[0]), spec, best["params"], **engine)
    return assess(frame, index, chosen.equity)


def _summary(checks: list[Overfit | None]) -> dict[str, Any]:
    """The optimisation's overfitting checks: one search's values, or with walk-forward the mean of the
    folds' values (each fold's own are in its ``folds`` entry)."""

    def mean(name: str) -> float | None:
        vals = [getattr(c, name) for c in checks if c is not None and getattr(c, name) is not None]
        return float(np.mean(vals)) if vals else None

    if len(checks) == 1:
        return checks[0].to_dict() if checks[0] else {"deflated_sharpe": None, "pbo": None}
    return {"deflated_sharpe": mean("deflated_sharpe"), "pbo": mean("pbo"), "aggregate": "mean of folds"}


def _span(bars: pl.DataFrame, window: tuple[int, int]) -> dict[str, Any]:
    ts = bars["ts"]
    return {
        "start": ts[window[0]].isoformat(),
        "end": ts[window[1] - 1].isoformat(),
        "bars": window[1] - window[0],
    }
