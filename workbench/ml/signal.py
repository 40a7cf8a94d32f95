"""A model's predictions as a strategy: bars + P(up) per bar -> the engine's ``model`` strategy.

* :func:`signal_bars` — the bars with ``proba`` (the predictions, null where there are none: no
  trade), optionally ``regime`` (for the strategy's regime filter) and ``size_scale`` (confidence sizing
  ``|2p - 1|``, times a 0/1 regime filter when ``allow`` regimes are given: the engine multiplies each
  entry's units by it at the signal bar). The engine (fills, costs, sizing, stops) is the one every
  strategy runs through: :func:`workbench.backtest.run` / ``sweep`` with ``"model"``.
* :func:`walk_forward_proba` — out-of-sample P(up) by walk-forward retraining: the model is fitted
  on blocks ``0..k`` (purged by label end times) and predicts block ``k+1``; the first block has no
  prediction. Only these are traded by :func:`backtest_signal` unless other predictions are given.
* :func:`backtest_signal` — sweep the thresholds (``upper``/``lower``, and the regime filter) over the
  signal bars, re-run the best by Sharpe, and the overfitting checks over the trials
  (:func:`workbench.optimize.overfit.assess`: deflated Sharpe ratio, PBO by CSCV) — the evidence a
  promotion needs (:class:`workbench.ml.registry.Evidence`).
* :func:`compare_signals` — several models' signals over the same threshold grid, the best overall
  deflated over *every* model × threshold combination tried (and the PBO over all of them).
* :func:`regime_scale` — a 0/1 ``size_scale`` from stored regimes: a regime filter for *any* strategy.
* :func:`with_regime_features` — regimes as features: the regime probabilities joined to a features
  frame by ``ts`` (for :func:`workbench.ml.make_dataset`'s ``features=``). Causal only when the HMM was
  fitted on bars before the ones it describes (``hmm_regimes(bars, fit_until=...)``).

(The overfitting statistics come from :mod:`workbench.optimize.overfit`, a room above this one, as the
Ray Tune search of :mod:`workbench.ml.train` comes from :mod:`workbench.optimize.tune`: both are
imported when called; see ADR 0009.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from workbench.errors import DataError

__all__ = [
    "DEFAULT_THRESHOLDS",
    "SignalBacktest",
    "signal_bars",
    "walk_forward_proba",
    "backtest_signal",
    "regime_scale",
    "with_regime_features",
    "compare_signals",
]

# the default threshold grid: symmetric bands around 0.5 (upper = 1 - lower)
DEFAULT_THRESHOLDS: tuple[float, ...] = (0.5, 0.52, 0.55, 0.6)


def _by_ts(bars: pl.DataFrame, frame: pl.DataFrame, column: str, dtype: pl.DataType) -> pl.Series:
    """``frame[column]`` aligned to the bars' ``ts`` (null where ``frame`` has no row)."""
    if "ts" not in frame.columns or column not in frame.columns:
        raise DataError(f"need a frame with ts and {column} columns, got {frame.columns}", where=column)
    right = frame.select(pl.col("ts").cast(bars.schema["ts"]), pl.col(column).cast(dtype))
    return bars.select("ts").join(right, on="ts", how="left", maintain_order="left")[column]


def signal_bars(
    bars: pl.DataFrame,
    proba: pl.DataFrame,
    *,
    regimes: pl.DataFrame | None = None,
    confidence: bool = True,
    allow: Sequence[int] | None = None,
) -> pl.DataFrame:
    """``bars`` with ``proba`` (``proba``: a ``ts, proba`` frame, e.g. a model's ``predict(bars)`` or
    :func:`walk_forward_proba`), ``regime`` (from ``regimes``: ``ts, regime``) and ``size_scale``
    (``|2p - 1|`` with ``confidence``, else 1; 0 outside the ``allow`` regimes)."""
    p = _by_ts(bars, proba, "proba", pl.Float64)
    out = bars.with_columns(p.alias("proba"))
    scale = np.ones(bars.height)
    if confidence:
        pv = p.fill_null(float("nan")).to_numpy()
        scale = np.where(np.isfinite(pv), np.abs(2.0 * pv - 1.0), 0.0)
    if regimes is not None:
        r = _by_ts(bars, regimes, "regime", pl.Int64)
        out = out.with_columns(r.alias("regime"))
        if allow is not None:
            scale = scale * regime_scale(r, allow)
    elif allow is not None:
        raise DataError("allow= needs regimes (a ts, regime frame)", where="regimes")
    if confidence or allow is not None:
        out = out.with_columns(pl.Series("size_scale", scale))
    return out


def regime_scale(regime: pl.Series | np.ndarray, allow: Sequence[int]) -> np.ndarray:
    """1.0 on bars whose regime is in ``allow``, 0.0 elsewhere (and where the regime is unknown): as a
    bars column ``size_scale`` it lets any strategy enter only in those regimes."""
    r = regime.fill_null(-1).to_numpy() if isinstance(regime, pl.Series) else np.asarray(regime)
    return np.isin(r, np.asarray(list(allow))).astype(np.float64)


def with_regime_features(
    features: pl.DataFrame, regimes: pl.DataFrame, prefix: str = "regime_"
) -> pl.DataFrame:
    """``features`` with the regime probabilities ``p_0..p_{K-1}`` of ``regimes`` (``ts, regime, p_k``)
    as columns ``regime_p_0..``, aligned by ``ts`` (null where ``regimes`` has no row)."""
    probs = [c for c in regimes.columns if c.startswith("p_")]
    if not probs:
        raise DataError("regimes need p_0.. columns (workbench.ml.hmm_regimes)", where="regimes")
    right = regimes.select(
        pl.col("ts").cast(features.schema["ts"]), *[pl.col(c).alias(prefix + c) for c in probs]
    )
    return features.join(right, on="ts", how="left", maintain_order="left")


def walk_forward_proba(
    bars: pl.DataFrame,
    *,
    model: str = "lightgbm",
    label: Any = "triple_barrier",
    folds: int = 5,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    spec: Any = None,
) -> pl.DataFrame:
    """``ts, proba``: walk-forward retraining — fold ``k``'s model (trained on every earlier sample whose
    label ended before fold ``k+1`` starts) predicts fold ``k+1`` (:class:`workbench.ml.WalkForward`).
    Bars of the first block and the warm-up get no prediction."""
    from workbench.ml.train import evaluate, make_dataset

    data = make_dataset(bars, spec=spec, label=label)
    r = evaluate(
        data.X, data.y, data.t0, data.t1, model, "walk_forward", seed=seed, params=dict(params or {}),
        cv_params={"n_splits": int(folds)},
    )  # fmt: skip
    return pl.DataFrame({"ts": data.t0, "proba": pl.Series(r.oos_proba, nan_to_null=True)}).drop_nulls(
        "proba"
    )


@dataclass(frozen=True)
class SignalBacktest:
    """The signal's backtest: ``table`` (one row per threshold combination: params + the engine's
    metrics), the best combination by ``rank_by`` re-run in full (``result``: equity, trades), and the
    overfitting checks over all combinations (``overfit``: deflated Sharpe, PBO; None when there are
    too few returns)."""

    params: dict[str, Any]
    metrics: dict[str, Any]
    table: pl.DataFrame = field(repr=False)
    result: Any = field(repr=False)
    overfit: Any = None
    bars: pl.DataFrame | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The CLI's ``backtest`` object: metrics of the best combination, its params, trials, checks."""
        from workbench.ml.registry import _plain

        return _plain(
            {
                **self.metrics,
                "params": self.params,
                "trials": self.table.height,
                "deflated_sharpe": getattr(self.overfit, "deflated_sharpe", None),
                "pbo": getattr(self.overfit, "pbo", None),
            }
        )


def threshold_grid(levels: Sequence[float] = DEFAULT_THRESHOLDS) -> pl.DataFrame:
    """Symmetric threshold pairs ``upper = u``, ``lower = 1 - u`` for each ``u`` in ``levels``."""
    return pl.DataFrame(
        {"upper": [float(u) for u in levels], "lower": [round(1.0 - float(u), 10) for u in levels]}
    )


def backtest_signal(
    bars: pl.DataFrame,
    proba: pl.DataFrame,
    *,
    grid: Mapping[str, Sequence[Any]] | pl.DataFrame | None = None,
    regimes: pl.DataFrame | None = None,
    confidence: bool = True,
    allow: Sequence[int] | None = None,
    rank_by: str = "sharpe",
    direction: str = "both",
    progress: Callable[[int, int], None] | None = None,
    **engine: Any,
) -> SignalBacktest:
    """Backtest a signal (``proba``: ``ts, proba``) through the engine's ``model`` strategy over the
    threshold ``grid`` (default :func:`threshold_grid`; a dict of lists is a cross product), rank by
    ``rank_by`` (max; ``max_drawdown_pct`` min), re-run the best, and deflate its Sharpe ratio over all
    combinations tried (the same :func:`~workbench.optimize.overfit.assess` a grid sweep runs).
    ``engine``: the engine settings as written (``commission="7/lot"``, ``size="100%"``, ...)."""
    from workbench.backtest import run, sweep
    from workbench.optimize.overfit import assess, cscv_blocks

    sb = signal_bars(bars, proba, regimes=regimes, confidence=confidence, allow=allow)
    if sb["proba"].is_null().all():
        raise DataError("no prediction falls on these bars (check the ts of the predictions)", where="proba")
    g = threshold_grid() if grid is None else grid
    blocks = cscv_blocks(sb)
    table = sweep(sb, "model", g, direction=direction, blocks=blocks, progress=progress, **engine)
    key = table[rank_by].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    key = -key if rank_by == "max_drawdown_pct" else key
    best_i = int(np.nanargmax(key)) if np.isfinite(key).any() else 0
    names = [c for c in ("upper", "lower", "regime") if c in table.columns]
    best = table.row(best_i, named=True)
    params = {k: best[k] for k in names}
    result = run(sb, "model", params, direction=direction, **engine)
    trials = table.select(c for c in ("sharpe", "block_moments") if c in table.columns)
    overfit = assess(trials, best_i, result.equity) if table.height >= 2 else None
    metrics = dict(result.metrics)
    return SignalBacktest(
        params=params,
        metrics=metrics,
        table=table.drop("block_moments", strict=False),
        result=result,
        overfit=overfit,
        bars=sb,
    )


def compare_signals(
    bars: pl.DataFrame,
    signals: Mapping[str, pl.DataFrame],
    *,
    grid: Mapping[str, Sequence[Any]] | pl.DataFrame | None = None,
    regimes: pl.DataFrame | None = None,
    confidence: bool = True,
    rank_by: str = "sharpe",
    direction: str = "both",
    **engine: Any,
) -> SignalBacktest:
    """:func:`backtest_signal` for several signals (``{name: ts, proba}``, e.g. one per model) over the
    same ``grid``: one table (a ``signal`` column first), the best row overall by ``rank_by`` re-run in
    full, and the overfitting checks over all rows — the chosen Sharpe ratio is deflated by the number
    of models × thresholds tried, the PBO ranks every one of them. ``params`` names the ``signal``."""
    from workbench.backtest import run, sweep
    from workbench.optimize.overfit import assess, cscv_blocks

    if not signals:
        raise DataError("no signal to compare", where="signals")
    g = threshold_grid() if grid is None else grid
    blocks = cscv_blocks(bars)
    tables, frames = [], {}
    for name, proba in signals.items():
        sb = signal_bars(bars, proba, regimes=regimes, confidence=confidence)
        frames[name] = sb
        t = sweep(sb, "model", g, direction=direction, blocks=blocks, **engine)
        tables.append(t.select(pl.lit(str(name)).alias("signal"), pl.all()))
    table = pl.concat(tables)
    key = table[rank_by].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    key = -key if rank_by == "max_drawdown_pct" else key
    best_i = int(np.nanargmax(key)) if np.isfinite(key).any() else 0
    best = table.row(best_i, named=True)
    names = [c for c in ("upper", "lower", "regime") if c in table.columns]
    params = {k: best[k] for k in names}
    result = run(frames[best["signal"]], "model", params, direction=direction, **engine)
    trials = table.select(c for c in ("sharpe", "block_moments") if c in table.columns)
    overfit = assess(trials, best_i, result.equity) if table.height >= 2 else None
    return SignalBacktest(
        params={"signal": best["signal"], **params},
        metrics=dict(result.metrics),
        table=table.drop("block_moments", strict=False),
        result=result,
        overfit=overfit,
        bars=frames[best["signal"]],
    )
