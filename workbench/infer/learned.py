"""Learned rules: a shallow decision tree over indicator features, when no library strategy agrees.

Features at each bar's close come from the one indicator library (:mod:`workbench.backtest.indicators`):
RSI(14), the z-score of the close over 20 bars (the Bollinger position), the close against SMA(10/20/50)
and EMA(12)-EMA(26) (all as a fraction of the close), the MACD histogram, ATR(14) over the close, the
close against the previous 20 bars' highest high / lowest low (the Donchian channel), the 1- and 5-bar
return, the hour of the day and the weekday. The label of a bar is what the bot did at the next open
(a ``long`` or ``short`` entry, else ``none``): the engine's fill convention, a decision at the close
filled at the next open. scikit-learn's ``DecisionTreeClassifier`` (depth 3, balanced classes, leaves
of at least 10 bars) learns it; every leaf that predicts an entry becomes one readable rule.

Replay: the tree's predictions become two bar columns (``infer_long``, ``infer_short``: 1 where the tree
predicts that entry, else 0) and a strategy built here (not registered in the library) enters when
its column rises above 0.5, through the engine's ``series`` indicator, exiting on the opposite entry and
the inferred stops. It is replayed and scored like any strategy; the C# generator cannot express it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from workbench.backtest import indicators as ind
from workbench.backtest.spec import Ind, Param, Rules, StrategySpec, cross_above
from workbench.errors import MissingDependencyError
from workbench.infer.trades import TradeBars

__all__ = ["LearnedRules", "features", "learn_rules", "LEARNED_STRATEGY", "SERIES"]

SERIES = ("infer_long", "infer_short")


def features(bars: pl.DataFrame) -> tuple[np.ndarray, list[str]]:
    """The feature matrix (bars × features, NaN where undefined) and the features' readable names."""
    o = {c: bars[c].cast(pl.Float64).to_numpy() for c in ("open", "high", "low", "close")}
    c, h, lo = o["close"], o["high"], o["low"]
    line, sig, hist = ind.macd(c, 12, 26, 9)
    cols = {
        "RSI(14)": ind.rsi(c, 14),
        "z-score of close over 20 bars": ind.zscore(c, 20),
        "close / SMA(10) - 1": c / ind.sma(c, 10) - 1,
        "close / SMA(20) - 1": c / ind.sma(c, 20) - 1,
        "close / SMA(50) - 1": c / ind.sma(c, 50) - 1,
        "(EMA(12) - EMA(26)) / close": (ind.ema(c, 12) - ind.ema(c, 26)) / c,
        "MACD histogram (12,26,9) / close": hist / c,
        "ATR(14) / close": ind.atr(h, lo, c, 14) / c,
        "close / highest high of previous 20 bars - 1": c / ind.highest(h, 20) - 1,
        "close / lowest low of previous 20 bars - 1": c / ind.lowest(lo, 20) - 1,
        "1-bar return": np.concatenate([[np.nan], c[1:] / c[:-1] - 1]),
        "5-bar return": np.concatenate([np.full(5, np.nan), c[5:] / c[:-5] - 1])[: c.shape[0]],
        "hour of day": bars["ts"].dt.hour().cast(pl.Float64).to_numpy(),
        "weekday (0 = Monday)": (bars["ts"].dt.weekday() - 1).cast(pl.Float64).to_numpy(),
    }
    return np.column_stack(list(cols.values())), list(cols)


@dataclass(frozen=True)
class LearnedRules:
    """A fitted tree: its readable rules, per-bar predictions and the bars columns that replay it."""

    rules: list[str]
    predicted: np.ndarray  # per bar: +1 long entry, -1 short entry, 0 none
    depth: int
    train_accuracy: float

    def bars(self, bars: pl.DataFrame) -> pl.DataFrame:
        """``bars`` with the replay columns (``SERIES``)."""
        return bars.with_columns(
            pl.Series(SERIES[0], (self.predicted > 0).astype(np.float64)),
            pl.Series(SERIES[1], (self.predicted < 0).astype(np.float64)),
        )


def _rules_text(tree, names: list[str], classes: np.ndarray) -> list[str]:
    t = tree.tree_
    label = {1: "long entry", -1: "short entry"}
    out: list[str] = []

    def walk(node: int, conds: list[str]) -> None:
        if t.children_left[node] == t.children_right[node]:  # a leaf
            counts = t.value[node][0]
            cls = int(classes[int(np.argmax(counts))])
            if cls != 0:
                share = counts.max() / counts.sum() if counts.sum() else 0.0
                n = int(t.n_node_samples[node])
                when = " and ".join(conds) or "always"
                out.append(
                    f"{label[cls]} at the next open when {when} ({n} bars in this leaf, "
                    f"{share:.0%} of its weight entries)"
                )
            return
        name = names[t.feature[node]]
        thr = t.threshold[node]
        walk(t.children_left[node], [*conds, f"{name} <= {thr:.6g}"])
        walk(t.children_right[node], [*conds, f"{name} > {thr:.6g}"])

    walk(0, [])
    return out


def learn_rules(bars: pl.DataFrame, real: TradeBars, *, depth: int = 3, seed: int = 0) -> LearnedRules:
    """Fit the tree on every bar (module docstring) and return its rules and predictions."""
    try:
        from sklearn.tree import DecisionTreeClassifier
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise MissingDependencyError("scikit-learn", "ml") from None
    X, names = features(bars)
    y = np.zeros(bars.height, np.int64)
    signal_bar = real.entry_bar - 1
    ok = signal_bar >= 0
    y[signal_bar[ok]] = real.side[ok]
    tree = DecisionTreeClassifier(
        max_depth=depth, min_samples_leaf=10, class_weight="balanced", random_state=seed
    )
    tree.fit(X, y)
    pred = tree.predict(X).astype(np.int64)
    return LearnedRules(_rules_text(tree, names, tree.classes_), pred, depth, float((pred == y).mean()))


def _rules(depth: int) -> Rules:
    long_, short_ = Ind("series", (SERIES[0],)), Ind("series", (SERIES[1],))
    return Rules(
        long_entry=cross_above(long_, 0.5),
        long_exit=cross_above(short_, 0.5),
        short_entry=cross_above(short_, 0.5),
        short_exit=cross_above(long_, 0.5),
    )


LEARNED_STRATEGY = StrategySpec(
    name="learned_rules",
    description="entries where a decision tree over indicator features predicts the bot entered "
    "(the bars' infer_long / infer_short columns), exits on the opposite entry and the inferred stops",
    params=(Param("depth", int, 3, (1, 10)),),
    constraint=None,
    rules=_rules,
)
