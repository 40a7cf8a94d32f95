"""Analysis of stored optimisation rows (``optimizations`` / ``optimization_results``).

Works on whatever the rows hold, for imported optimiser reports (one objective, ``rank`` = position
by it, no folds) and for the workbench's own sweeps (several objectives, ``rank`` = Pareto rank,
``fold`` = walk-forward fold):

* :func:`trials` — the JSON columns expanded into one frame (one column per parameter, objective and
  metric) plus the objectives' directions;
* :func:`pareto_mask` / :func:`pareto_axes` — the non-dominated trials over two axes;
* :func:`sensitivity` / :func:`importance` — the objective per value of each parameter, and the
  share of its variance each parameter explains (eta squared);
* :func:`walk_forward` — one row per fold (``None`` when no folds are stored);
* :func:`overfitting_checks` — a table of checks computable from the rows alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import polars as pl

from workbench.errors import DataError

__all__ = [
    "Objective",
    "Trials",
    "trials",
    "pareto_mask",
    "pareto_axes",
    "sensitivity",
    "importance",
    "walk_forward",
    "overfitting_checks",
    "expected_max_sharpe",
]

Direction = Literal["max", "min"]
EULER_GAMMA = 0.5772156649015329
_MIN_WORDS = ("drawdown", "_dd", "dd_", "loss", "risk", "ulcer", "volatility")


@dataclass(frozen=True, slots=True)
class Objective:
    name: str
    direction: Direction = "max"

    def better(self, col: pl.Expr) -> pl.Expr:
        """``col`` turned so that larger is better."""
        return col if self.direction == "max" else -col


@dataclass(frozen=True, slots=True)
class Trials:
    """One row per stored result: ``trial``, ``rank``, ``fold``, then parameters, objectives, metrics."""

    frame: pl.DataFrame
    parameters: tuple[str, ...]
    objectives: tuple[Objective, ...]
    metrics: tuple[str, ...]

    @property
    def primary(self) -> Objective:
        return self.objectives[0]

    @property
    def has_folds(self) -> bool:
        return self.frame.height > 0 and self.frame["fold"].null_count() < self.frame.height


def guess_direction(name: str) -> Direction:
    """``min`` for names that read as a cost (drawdown, loss, risk, volatility), else ``max``."""
    low = name.lower()
    return "min" if any(w in low for w in _MIN_WORDS) else "max"


def _objectives(declared: Any, seen: Sequence[str]) -> tuple[Objective, ...]:
    """Directions from the optimisation's ``objectives`` JSON ({"sharpe_ratio": "max", ...} or a list)."""
    if isinstance(declared, str):
        declared = json.loads(declared) if declared.strip() else {}
    out: list[Objective] = []
    if isinstance(declared, Mapping):
        for name, d in declared.items():
            d = str(d).lower()
            out.append(Objective(str(name), "min" if d.startswith("min") else "max"))
    elif isinstance(declared, list | tuple):
        out = [Objective(str(n), guess_direction(str(n))) for n in declared]
    names = {o.name for o in out}
    out += [Objective(n, guess_direction(n)) for n in seen if n not in names]
    return tuple(o for o in out if o.name in seen) or tuple(out)


def _column(rows: list[dict[str, Any]], name: str) -> pl.Series:
    values = [r.get(name) for r in rows]
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int, bool} and bool in kinds and int not in kinds:
        return pl.Series(name, values, dtype=pl.Boolean)
    if kinds == {int}:
        return pl.Series(name, values, dtype=pl.Int64)
    if kinds <= {int, float} and kinds:
        return pl.Series(name, [None if v is None else float(v) for v in values], dtype=pl.Float64)
    if kinds <= {int, float, bool} and kinds:
        return pl.Series(name, [None if v is None else float(v) for v in values], dtype=pl.Float64)
    return pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.String)


def _keys(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for r in rows:
        seen.update(dict.fromkeys(r))
    return list(seen)


def _decode(text: Any, where: str) -> dict[str, Any]:
    if text is None or text == "":
        return {}
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError as e:
        raise DataError(f"not JSON ({e.msg})", file="optimization_results", where=where) from None
    if not isinstance(value, dict):
        raise DataError("expected a JSON object", file="optimization_results", where=where)
    return value


def trials(results: pl.DataFrame, declared_objectives: Any = None) -> Trials:
    """Expand ``Workspace.optimization_results`` (JSON text columns) into typed columns.

    ``declared_objectives`` is the ``optimizations.objectives`` JSON (names → "max"/"min"); objectives
    found in the rows but not declared get a direction from their name (:func:`guess_direction`).
    Integer-valued numbers become ``Float64`` columns; a metric that repeats an objective is dropped; a
    parameter whose name clashes with an objective or metric is prefixed ``param_``.
    """
    n = results.height
    params = [_decode(v, f"parameters[{i}]") for i, v in enumerate(results["parameters"].to_list())]
    objs = [_decode(v, f"objectives[{i}]") for i, v in enumerate(results["objectives"].to_list())]
    mets = [_decode(v, f"metrics[{i}]") for i, v in enumerate(results["metrics"].to_list())] if n else []
    obj_names = _keys(objs)
    metric_names = [k for k in _keys(mets) if k not in obj_names]
    param_names = _keys(params)
    taken = set(obj_names) | set(metric_names) | {"trial", "rank", "fold"}
    renamed = {p: (f"param_{p}" if p in taken else p) for p in param_names}
    cols = [results["trial"].cast(pl.Int64), results["rank"].cast(pl.Int64), results["fold"].cast(pl.Int64)]
    cols += [_column(params, p).alias(renamed[p]) for p in param_names]
    cols += [_column(objs, o) for o in obj_names]
    cols += [_column(mets, m) for m in metric_names]
    frame = (
        pl.DataFrame(cols)
        if n
        else pl.DataFrame(schema={"trial": pl.Int64, "rank": pl.Int64, "fold": pl.Int64})
    )
    return Trials(
        frame,
        tuple(renamed[p] for p in param_names),
        _objectives(declared_objectives, obj_names),
        tuple(metric_names),
    )


# -- Pareto ---------------------------------------------------------------------------------------


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``values`` (n × k, every column to maximise).

    A row is dominated when another is >= in every column and > in at least one; rows with a NaN
    are never on the front. Equal rows are all kept.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2:
        raise ValueError("values must be a 2-d array")
    n = v.shape[0]
    ok = ~np.isnan(v).any(axis=1)
    mask = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(ok)
    pts = v[idx]
    keep = np.ones(len(idx), dtype=bool)
    for start in range(0, len(idx), 512):  # chunks bound the n × n comparison's memory
        block = pts[start : start + 512, None, :]
        ge = (pts[None, :, :] >= block).all(axis=2)
        gt = (pts[None, :, :] > block).any(axis=2)
        keep[start : start + 512] = ~(ge & gt).any(axis=1)
    mask[idx[keep]] = True
    return mask


def pareto_axes(t: Trials) -> tuple[Objective, ...]:
    """The two axes of the front: the first two objectives, else the objective and a risk metric
    (a drawdown-like metric, minimised), else the objective alone."""
    if len(t.objectives) >= 2:
        return t.objectives[:2]
    if not t.objectives:
        return ()
    numeric = [m for m in t.metrics if t.frame[m].dtype.is_numeric()]
    risk = [m for m in numeric if guess_direction(m) == "min"]
    return (t.objectives[0], Objective(risk[0], "min")) if risk else (t.objectives[0],)


def with_front(t: Trials, axes: Sequence[Objective]) -> pl.DataFrame:
    """``t.frame`` plus a boolean ``pareto_front`` column over ``axes`` (computed per fold)."""
    frame = t.frame.with_row_index("_row")
    if not axes:
        return frame.drop("_row").with_columns(pl.lit(False).alias("pareto_front"))
    mask = np.zeros(frame.height, dtype=bool)
    for _, part in frame.group_by("fold", maintain_order=True):
        vals = part.select(
            [o.better(pl.col(o.name).cast(pl.Float64)).fill_null(float("nan")) for o in axes]
        ).to_numpy()
        mask[part["_row"].to_numpy()] = pareto_mask(vals)
    return frame.drop("_row").with_columns(pl.Series("pareto_front", mask))


# -- sensitivity ----------------------------------------------------------------------------------


def sensitivity(frame: pl.DataFrame, parameter: str, objective: str) -> pl.DataFrame:
    """(value, trials, mean, median, min, max) of ``objective`` per value of ``parameter``."""
    o = pl.col(objective)
    return (
        frame.drop_nulls(objective)
        .group_by(pl.col(parameter).alias("value"))
        .agg(
            pl.len().cast(pl.Int64).alias("trials"),
            o.mean().alias("mean"),
            o.median().alias("median"),
            o.min().alias("min"),
            o.max().alias("max"),
        )
        .sort("value", nulls_last=True)
    )


def importance(frame: pl.DataFrame, parameters: Sequence[str], objective: str) -> pl.DataFrame:
    """(parameter, values, eta_squared, spread) sorted by eta squared, largest first.

    ``eta_squared`` is the between-group sum of squares over the total sum of squares of the
    objective when trials are grouped by the parameter's value (1 = the parameter alone explains the
    objective's spread, 0 = it makes no difference); ``spread`` is the range of the per-value means.
    """
    data = frame.drop_nulls(objective)
    y = data[objective].cast(pl.Float64)
    total = float(((y - y.mean()) ** 2).sum()) if data.height else 0.0
    rows = []
    for p in parameters:
        g = data.group_by(p).agg(pl.len().alias("n"), pl.col(objective).mean().alias("m"))
        between = float((g["n"] * (g["m"] - y.mean()) ** 2).sum()) if data.height else 0.0
        rows.append(
            {
                "parameter": p,
                "values": g.height,
                "eta_squared": between / total if total > 0 else None,
                "spread": float(g["m"].max() - g["m"].min()) if g.height else None,
            }
        )
    out = pl.DataFrame(
        rows,
        schema={"parameter": pl.String, "values": pl.Int64, "eta_squared": pl.Float64, "spread": pl.Float64},
    )
    return out.sort("eta_squared", descending=True, nulls_last=True)


# -- walk-forward ---------------------------------------------------------------------------------


def _best(frame: pl.DataFrame, objective: Objective) -> pl.DataFrame:
    return frame.drop_nulls(objective.name).sort(
        objective.better(pl.col(objective.name)), "trial", descending=[True, False]
    )


def walk_forward(t: Trials) -> pl.DataFrame | None:
    """One row per fold: trials, best trial, its objective, the median objective and its parameters.

    ``None`` when no row has a fold (say "no walk-forward folds stored").
    """
    if not t.has_folds:
        return None
    obj = t.primary
    rows = []
    for (fold,), part in t.frame.filter(pl.col("fold").is_not_null()).group_by("fold"):
        best = _best(part, obj)
        top = best.row(0, named=True) if best.height else {}
        rows.append(
            {
                "fold": fold,
                "trials": part.height,
                "best_trial": top.get("trial"),
                f"best_{obj.name}": top.get(obj.name),
                f"median_{obj.name}": part[obj.name].median(),
                "best_parameters": json.dumps({p: top.get(p) for p in t.parameters}, default=str)
                if top
                else "",
            }
        )
    return pl.DataFrame(rows).sort("fold")


# -- overfitting ----------------------------------------------------------------------------------


def expected_max_sharpe(n_trials: int, sharpe_std: float) -> float:
    """Expected largest of ``n_trials`` Sharpe ratios when every true Sharpe is zero.

    The "false strategy" bound of Bailey & López de Prado (2014):
    ``std × ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e)))`` with γ the Euler–Mascheroni constant.
    """
    if n_trials < 2:
        return 0.0
    z = NormalDist().inv_cdf
    return sharpe_std * (
        (1 - EULER_GAMMA) * z(1 - 1 / n_trials) + EULER_GAMMA * z(1 - 1 / (n_trials * math.e))
    )


def neighbours(frame: pl.DataFrame, parameters: Sequence[str], trial: int) -> pl.DataFrame:
    """Trials one grid step away from ``trial``: equal in every parameter but one, and in that one
    the next smaller or larger value tried (numeric parameters) or any other value (others)."""
    row = frame.filter(pl.col("trial") == trial).row(0, named=True)
    out = []
    for p in parameters:
        others = [q for q in parameters if q != p]
        same = frame.filter(*[pl.col(q).eq_missing(row[q]) for q in others]) if others else frame
        same = same.filter(pl.col(p).ne_missing(row[p]))
        if same.height == 0:
            continue
        if frame[p].dtype.is_numeric() and row[p] is not None:
            values = sorted(v for v in frame[p].unique().drop_nulls().to_list())
            i = values.index(row[p])
            adjacent = [values[j] for j in (i - 1, i + 1) if 0 <= j < len(values)]
            same = same.filter(pl.col(p).is_in(adjacent))
        out.append(same)
    return pl.concat(out) if out else frame.clear()


def overfitting_checks(t: Trials) -> pl.DataFrame:
    """(check, value, detail): checks computable from the stored rows alone.

    * trials tried and the best vs the median objective;
    * neighbourhood: the best trial's grid neighbours' mean objective as % of the best (a lone peak
      among poor neighbours is a sign of curve fitting);
    * expected maximum Sharpe of that many trials under the null (when a Sharpe column exists);
    * fold consistency: mean Spearman correlation of the trials' objective between consecutive folds
      (when folds are stored), and how often the best parameters change between folds.
    """
    rows: list[dict[str, Any]] = []

    def add(check: str, value: Any, detail: str) -> None:
        rows.append({"check": check, "value": None if value is None else float(value), "detail": detail})

    frame = t.frame.filter(pl.col("fold").is_null()) if t.has_folds else t.frame
    if frame.height == 0:
        frame = t.frame
    if not t.objectives or frame.height == 0:
        add("trials", frame.height, "no objective stored: nothing to check")
        return pl.DataFrame(rows)
    obj = t.primary
    col = frame[obj.name].drop_nulls()
    add("trials", frame.height, f"{frame.height} parameter sets evaluated")
    best = _best(frame, obj)
    if best.height:
        b = best.row(0, named=True)
        median = col.median()
        add(
            f"best {obj.name}",
            b[obj.name],
            f"trial {b['trial']} ({obj.direction}); median of all trials {median:.4g}",
        )
        nb = neighbours(frame, t.parameters, b["trial"])
        vals = nb[obj.name].drop_nulls()
        if vals.len() and b[obj.name]:
            ratio = 100.0 * vals.mean() / b[obj.name]
            add(
                "neighbours / best (%)",
                ratio,
                f"mean {obj.name} of the {vals.len()} one-step neighbours of the best trial is {ratio:.1f} % of "
                "the best; far below 100 % means a lone peak (fragile parameters)",
            )
        else:
            add("neighbours / best (%)", None, "the best trial has no one-step neighbours in the grid")
    sharpe = next(
        (c for c in (obj.name, *t.metrics) if "sharpe" in c.lower() and frame[c].dtype.is_numeric()), None
    )
    if sharpe is not None:
        s = frame[sharpe].drop_nulls()
        if s.len() >= 2:
            e_max = expected_max_sharpe(s.len(), float(s.std()))
            add(
                f"expected max {sharpe} by luck",
                e_max,
                f"the largest of {s.len()} {sharpe} values if no set had skill (Bailey & López de Prado); "
                f"best found {s.max():.4g} ({'above' if s.max() > e_max else 'not above'} it)",
            )
    else:
        add("expected max Sharpe by luck", None, "no Sharpe ratio stored per trial")
    if t.has_folds:
        wide = (
            t.frame.filter(pl.col("fold").is_not_null())
            .pivot(on="fold", index="trial", values=obj.name, aggregate_function="first")
            .drop("trial")
        )
        folds = sorted(wide.columns, key=int)
        corrs = [
            wide.select(pl.corr(a, b, method="spearman")).item()
            for a, b in zip(folds, folds[1:], strict=False)
        ]
        corrs = [c for c in corrs if c is not None and not math.isnan(c)]
        add(
            "fold rank correlation",
            float(np.mean(corrs)) if corrs else None,
            "mean Spearman correlation of the trials' objective between consecutive folds "
            "(near 0: the ranking does not persist)",
        )
        wf = walk_forward(t)
        if wf is not None and wf.height > 1:
            changes = sum(
                a != b for a, b in zip(wf["best_parameters"], wf["best_parameters"][1:], strict=False)
            )
            add("best parameters changed", changes, f"between consecutive folds, out of {wf.height - 1}")
    else:
        add("walk-forward", None, "no walk-forward folds stored")
    return pl.DataFrame(rows, schema={"check": pl.String, "value": pl.Float64, "detail": pl.String})
