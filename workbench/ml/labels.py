"""Labels: fixed-horizon returns, the triple-barrier method and meta-labels (López de Prado, AFML ch. 3).

Every label frame has ``ts`` (the bar the decision is taken at, at its close), ``t1`` (the bar whose close
decides the label: the label's END, which purged cross-validation uses), ``ret`` (the log return from
``ts``'s close to ``t1``'s close, times the side for meta-labels) and ``label``:

* :func:`fixed_horizon` — ``ret = ln(close[t+h] / close[t])``, ``t1 = ts[t+h]``; ``label`` = +1 above
  ``threshold``, -1 below ``-threshold``, 0 between.
* :func:`triple_barrier` — barriers at ``+pt·σ_t`` and ``-sl·σ_t`` in log return from the close at
  ``t``, and a time limit of ``max_hold`` bars. ``σ_t`` is the volatility expected over the holding
  period: ``sqrt(max_hold)`` × the EWM standard deviation (span ``vol_span``, zero mean, the engine's
  ``ema`` of squared 1-bar log returns) known at ``t``. The first barrier touched by a later **close**
  decides: +1 upper, -1 lower; at the time limit, the sign of the return (0 if flat). ``pt`` or ``sl``
  = 0 removes that barrier. With ``side`` (+1/-1 per bar, AFML's meta-labelling form) returns are taken
  in the side's direction and ``label`` is 1 when that return is > 0, else 0.
* :func:`meta_labels` — for a primary strategy's entries (``ts``, ``side``): the triple barrier in the
  entry's direction; ``label`` 1 when the trade made money, 0 when it did not.

Rows whose outcome is not known by the end of the bars (no barrier touched and the time limit beyond the
last bar) and warm-up rows (no volatility yet) are dropped, never guessed. :class:`LabelSpec` describes a
label completely (it goes into a model's lineage) and :func:`make_labels` builds it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import polars as pl
from numba import njit

from workbench._registry import Registry
from workbench.errors import ConfigError, DataError
from workbench.ml.features import bar_arrays

__all__ = [
    "LABELS",
    "LabelSpec",
    "fixed_horizon",
    "triple_barrier",
    "meta_labels",
    "make_labels",
    "barrier_vol",
    "binary_target",
]

_EMPTY = {"ts": pl.Datetime("us"), "t1": pl.Datetime("us"), "ret": pl.Float64, "label": pl.Int8}


def _frame(
    ts: pl.Series, idx: np.ndarray, t1_idx: np.ndarray, ret: np.ndarray, label: np.ndarray
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": ts.gather(idx),
            "t1": ts.gather(t1_idx),
            "ret": ret,
            "label": label.astype(np.int8),
        },
        schema=_EMPTY,
    )


def fixed_horizon(bars: pl.DataFrame, horizon: int, *, threshold: float = 0.0) -> pl.DataFrame:
    """``[ts, t1, ret, label]``: the log return over the next ``horizon`` bars and its sign beyond
    ``±threshold`` (+1, -1, 0); the last ``horizon`` bars have no label."""
    if horizon < 1:
        raise ConfigError(f"label horizon must be >= 1 bar, got {horizon}")
    c = bar_arrays(bars)["close"]
    n = c.shape[0]
    idx = np.arange(max(n - horizon, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.log(c[idx + horizon] / c[idx])
    ok = np.isfinite(ret)
    idx, ret = idx[ok], ret[ok]
    label = np.where(ret > threshold, 1, np.where(ret < -threshold, -1, 0))
    return _frame(bars["ts"], idx, idx + horizon, ret, label)


def barrier_vol(close: np.ndarray, *, span: int, max_hold: int) -> np.ndarray:
    """``σ_t``: ``sqrt(max_hold)`` × the EWM std (span ``span``, zero mean) of 1-bar log returns up to
    ``t`` (NaN for the first ``span`` bars)."""
    from workbench.backtest.indicators import ema

    r = np.full(close.shape[0], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        r[1:] = np.log(close[1:] / close[:-1])
    return np.sqrt(ema(r * r, span)) * math.sqrt(max_hold)


@njit(cache=True)
def _first_touch(c, vol, side, pt, sl, max_hold):  # pragma: no cover - compiled
    n = c.shape[0]
    t1 = np.full(n, -1, np.int64)
    ret = np.full(n, np.nan)
    hit = np.zeros(n, np.int8)
    for i in range(n):
        v = vol[i]
        s = side[i]
        if not (v > 0.0) or not (s == 1.0 or s == -1.0) or not (c[i] > 0.0):
            continue
        up = pt * v if pt > 0.0 else np.inf
        dn = -sl * v if sl > 0.0 else -np.inf
        last = min(i + max_hold, n - 1)
        j_hit = -1
        for j in range(i + 1, last + 1):
            r = math.log(c[j] / c[i]) * s
            if r >= up:
                j_hit = j
                hit[i] = 1
                break
            if r <= dn:
                j_hit = j
                hit[i] = -1
                break
        if j_hit < 0 and i + max_hold <= n - 1:
            j_hit = i + max_hold
        if j_hit >= 0:
            t1[i] = j_hit
            ret[i] = math.log(c[j_hit] / c[i]) * s
    return t1, ret, hit


def _side_array(bars: pl.DataFrame, side: Any) -> np.ndarray | None:
    if side is None:
        return None
    if isinstance(side, str):
        side = bars[side]
    arr = np.asarray(side.to_numpy() if isinstance(side, pl.Series) else side, dtype=np.float64)
    if arr.shape[0] != bars.height:
        raise DataError(f"side has {arr.shape[0]} values for {bars.height} bars", file="labels", where="side")
    return np.nan_to_num(np.sign(arr), nan=0.0)


def triple_barrier(
    bars: pl.DataFrame,
    *,
    pt: float = 1.0,
    sl: float = 1.0,
    max_hold: int = 24,
    vol_span: int = 50,
    side: Any = None,
) -> pl.DataFrame:
    """``[ts, t1, ret, label]`` by the triple-barrier method (see the module docs). ``side``: None (both
    directions, label -1/0/+1) or a per-bar +1/-1/0 array, Series or column name (label 1/0 in that
    direction; bars with side 0 are skipped)."""
    if max_hold < 1 or vol_span < 1:
        raise ConfigError(f"triple barrier needs max_hold >= 1 and vol_span >= 1, got {max_hold}, {vol_span}")
    if pt < 0 or sl < 0:
        raise ConfigError(f"barrier multiples must be >= 0, got pt={pt}, sl={sl}")
    c = bar_arrays(bars)["close"]
    vol = barrier_vol(c, span=vol_span, max_hold=max_hold)
    s = _side_array(bars, side)
    t1, ret, hit = _first_touch(
        c, vol, np.ones_like(c) if s is None else s, float(pt), float(sl), int(max_hold)
    )
    idx = np.flatnonzero(t1 >= 0)
    ret = ret[idx]
    if s is None:
        label = np.where(hit[idx] != 0, hit[idx], np.sign(ret)).astype(np.int8)
    else:
        label = (ret > 0).astype(np.int8)
    return _frame(bars["ts"], idx, t1[idx], ret, label)


def meta_labels(
    bars: pl.DataFrame,
    entries: pl.DataFrame,
    *,
    pt: float = 1.0,
    sl: float = 1.0,
    max_hold: int = 24,
    vol_span: int = 50,
) -> pl.DataFrame:
    """``[ts, side, t1, ret, label]`` for a primary strategy's ``entries`` (``ts`` = the bar whose close
    the signal is taken at, ``side`` +1 long / -1 short, or ``direction`` long/short; or trades with
    ``open_time``/``entry_time`` and ``direction``, whose signal bar is the last bar closed at the entry,
    :func:`~workbench.ml.features.decision_bars`): the triple barrier
    in the entry's direction, ``label`` 1 when the trade made money (``ret`` > 0), else 0. Entries
    whose ``ts`` is not a bar are an error; entries whose outcome is unknown yet are dropped."""
    if "ts" not in entries.columns:
        when = next((c for c in ("open_time", "entry_time") if c in entries.columns), None)
        if when is not None:  # trades: the signal bar = the last bar closed at the entry
            from workbench.ml.features import decision_bars

            entries = entries.with_columns(ts=decision_bars(bars, entries[when])).filter(
                pl.col("ts").is_not_null()
            )
    if "side" not in entries.columns and "direction" in entries.columns:
        entries = entries.with_columns(
            side=pl.when(pl.col("direction") == "long").then(1).when(pl.col("direction") == "short").then(-1)
        )
    if "ts" not in entries.columns or "side" not in entries.columns:
        raise DataError("entries need ts and side (+1/-1) columns", file="entries", where="columns")
    idx_of = bars.select("ts").with_row_index("_i")
    e = entries.select(pl.col("ts").cast(pl.Datetime("us")), pl.col("side").cast(pl.Float64)).join(
        idx_of, on="ts", how="left"
    )
    if e["_i"].null_count():
        bad = e.filter(pl.col("_i").is_null())["ts"][0]
        raise DataError(f"entry at {bad} is not a bar of the series", file="entries", where="ts")
    side = np.zeros(bars.height)
    side[e["_i"].to_numpy()] = np.sign(e["side"].to_numpy())
    out = triple_barrier(bars, pt=pt, sl=sl, max_hold=max_hold, vol_span=vol_span, side=side)
    sides = pl.DataFrame({"ts": bars["ts"], "side": side.astype(np.int8)})
    return out.join(sides, on="ts", how="left").select("ts", "side", "t1", "ret", "label")


# -- the spec ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelSpec:
    """A label, completely: ``kind`` (``fixed_horizon`` | ``triple_barrier`` | ``meta``), ``horizon``
    (bars: the fixed horizon, or the triple barrier's time limit), ``threshold`` (fixed horizon),
    ``pt``/``sl`` (barrier multiples of σ), ``vol_span`` (σ's EWM span). ``meta`` labels need the
    primary strategy's entries (:func:`make_labels`'s ``entries``); ``primary`` names that strategy in
    the lineage."""

    kind: str = "triple_barrier"
    horizon: int = 24
    threshold: float = 0.0
    pt: float = 1.0
    sl: float = 1.0
    vol_span: int = 50
    primary: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in LABELS:
            LABELS.get(self.kind)  # raises with the known names

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LabelSpec:
        return cls(**d)

    @classmethod
    def parse(cls, text: str | LabelSpec) -> LabelSpec:
        """``"triple_barrier"`` or ``"triple_barrier:horizon=12,pt=2"``, or a LabelSpec (returned)."""
        if isinstance(text, LabelSpec):
            return text
        kind, _, rest = str(text).partition(":")
        spec = cls(kind=kind.strip())
        if not rest.strip():
            return spec
        kw: dict[str, Any] = {}
        for item in rest.split(","):
            k, eq, v = item.partition("=")
            k = k.strip()
            if not eq or k not in cls.__dataclass_fields__ or k == "kind":
                raise ConfigError(
                    f"label {text!r}: expected KIND[:key=value,...] with keys horizon, threshold, pt, sl, vol_span"
                )
            kw[k] = type(getattr(spec, k))(v) if getattr(spec, k) is not None else v.strip()
        return replace(spec, **kw)


LabelBuilder = Callable[[pl.DataFrame, LabelSpec, "pl.DataFrame | None"], pl.DataFrame]
LABELS: Registry[LabelBuilder] = Registry("label")
LABELS.add("fixed_horizon", lambda bars, s, entries: fixed_horizon(bars, s.horizon, threshold=s.threshold))
LABELS.add(
    "triple_barrier",
    lambda bars, s, entries: triple_barrier(bars, pt=s.pt, sl=s.sl, max_hold=s.horizon, vol_span=s.vol_span),
)


def _meta(bars: pl.DataFrame, s: LabelSpec, entries: pl.DataFrame | None) -> pl.DataFrame:
    if entries is None:
        raise ConfigError(
            "meta labels need the primary strategy's entries: make_labels(bars, spec, entries=...)"
        )
    return meta_labels(bars, entries, pt=s.pt, sl=s.sl, max_hold=s.horizon, vol_span=s.vol_span)


LABELS.add("meta", _meta)


def make_labels(
    bars: pl.DataFrame, spec: LabelSpec | str, *, entries: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The label frame ``spec`` describes (``[ts, t1, ret, label]``, meta: with ``side``)."""
    s = LabelSpec.parse(spec)
    return LABELS.get(s.kind)(bars, s, entries)


def binary_target(labels: pl.DataFrame) -> np.ndarray:
    """The 0/1 target a classifier learns: ``label > 0`` (up / upper barrier first / the trade made money)."""
    return (labels["label"].to_numpy() > 0).astype(np.int8)
