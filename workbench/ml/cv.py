"""Cross-validation that does not leak: purged k-fold with an embargo, combinatorial purged CV (CPCV),
walk-forward — and the naive shuffled k-fold they are compared with.

Every splitter's ``split(t0, t1)`` takes each sample's start ``t0`` (the bar the features are read at)
and END ``t1`` (when its label is decided: a label frame's ``t1``), in time order, and yields
``(train_idx, test_idx)`` integer arrays. **Purging** removes from the training set every sample whose
interval ``[t0, t1]`` overlaps a test block's span ``[t0 of its first sample, max t1 of its samples]``
— by the labels' end TIMES, not by a fixed count of rows, so labels of any length (a triple barrier hit
after 1 bar or 24) are handled. The **embargo** (a fraction of the samples, AFML 7.4.2) also removes the
``ceil(embargo · n)`` samples that start right after that span, for serial correlation that outlives the
label. Test blocks are contiguous in time; a CPCV split's test set is several blocks, each purged and
embargoed on its own.

``CV_SCHEMES`` maps ``"purged" | "cpcv" | "walk_forward" | "naive"`` to the splitter classes;
:func:`make_cv` builds one by name.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench._registry import Registry
from workbench.errors import ConfigError, DataError

__all__ = [
    "CV_SCHEMES",
    "PurgedKFold",
    "CombinatorialPurgedCV",
    "WalkForward",
    "KFold",
    "make_cv",
    "purge",
    "as_ns",
]

Split = tuple[np.ndarray, np.ndarray]


def as_ns(t: Any) -> np.ndarray:
    """Times (polars/pandas datetimes, numpy datetime64, or plain numbers such as bar indices) as int64."""
    if isinstance(t, pl.Series):
        if t.dtype.is_temporal():
            return t.cast(pl.Datetime("ns")).cast(pl.Int64).to_numpy()
        return t.cast(pl.Int64).to_numpy()
    arr = np.asarray(t)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[ns]").astype(np.int64)
    return arr.astype(np.int64)


def _check(t0: Any, t1: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = as_ns(t0), as_ns(t1)
    if a.shape != b.shape:
        raise DataError(f"t0 has {a.shape[0]} values, t1 {b.shape[0]}", file="cv", where="t1")
    if a.shape[0] and (np.any(np.diff(a) < 0) or np.any(b < a)):
        raise DataError("samples must be in time order (t0 ascending) with t1 >= t0", file="cv", where="t0")
    return a, b


def _runs(idx: np.ndarray) -> list[np.ndarray]:
    """Contiguous runs of a sorted index array."""
    if idx.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(idx) != 1) + 1
    return np.split(idx, cuts)


def purge(
    t0: Any, t1: Any, test_idx: np.ndarray, *, embargo: float = 0.0, train_idx: np.ndarray | None = None
) -> np.ndarray:
    """The training indices left after purging every sample whose ``[t0, t1]`` overlaps a contiguous run
    of ``test_idx`` and embargoing the ``ceil(embargo · n)`` samples that start after the run's span.
    ``train_idx``: the candidates (default: every sample not in the test set)."""
    a, b = _check(t0, t1)
    n = a.shape[0]
    test_idx = np.sort(np.asarray(test_idx, dtype=np.int64))
    keep = np.ones(n, dtype=bool)
    keep[test_idx] = False
    if train_idx is not None:
        cand = np.zeros(n, dtype=bool)
        cand[np.asarray(train_idx, dtype=np.int64)] = True
        keep &= cand
    m = math.ceil(embargo * n) if embargo > 0 else 0
    for run in _runs(test_idx):
        start, end = a[run[0]], b[run].max()
        keep &= ~((a <= end) & (b >= start))  # overlaps [start, end]
        if m:
            after = int(np.searchsorted(a, end, side="right"))
            keep[after : after + m] = False
    return np.flatnonzero(keep)


class _Splitter:
    name = ""

    def split(self, t0: Any, t1: Any) -> Iterator[Split]:  # pragma: no cover - interface
        raise NotImplementedError

    def get_n_splits(self) -> int:
        return self.n_splits  # type: ignore[attr-defined]

    def describe(self) -> dict[str, Any]:
        return {"scheme": self.name, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}


@dataclass(frozen=True)
class PurgedKFold(_Splitter):
    """K contiguous test blocks in time order; training = the rest, purged and embargoed."""

    n_splits: int = 5
    embargo: float = 0.01
    name = "purged"

    def __post_init__(self) -> None:
        if self.n_splits < 2:
            raise ConfigError(f"purged k-fold needs n_splits >= 2, got {self.n_splits}")
        if not 0 <= self.embargo < 1:
            raise ConfigError(f"embargo is a fraction of the samples in [0, 1), got {self.embargo}")

    def split(self, t0: Any, t1: Any) -> Iterator[Split]:
        a, b = _check(t0, t1)
        for test in np.array_split(np.arange(a.shape[0]), self.n_splits):
            yield purge(a, b, test, embargo=self.embargo), test


@dataclass(frozen=True)
class CombinatorialPurgedCV(_Splitter):
    """CPCV (AFML ch. 12): ``n_groups`` contiguous groups; every combination of ``n_test_groups`` of them
    is one split's test set (``C(n_groups, n_test_groups)`` splits, ``paths`` backtest paths)."""

    n_groups: int = 6
    n_test_groups: int = 2
    embargo: float = 0.01
    name = "cpcv"

    def __post_init__(self) -> None:
        if not 1 <= self.n_test_groups < self.n_groups:
            raise ConfigError(
                f"CPCV needs 1 <= n_test_groups < n_groups, got {self.n_test_groups} of {self.n_groups}"
            )

    @property
    def n_splits(self) -> int:
        return math.comb(self.n_groups, self.n_test_groups)

    @property
    def paths(self) -> int:
        """How many full out-of-sample paths the splits make: ``C(N, k) · k / N``."""
        return self.n_splits * self.n_test_groups // self.n_groups

    def split(self, t0: Any, t1: Any) -> Iterator[Split]:
        a, b = _check(t0, t1)
        groups = np.array_split(np.arange(a.shape[0]), self.n_groups)
        for combo in itertools.combinations(range(self.n_groups), self.n_test_groups):
            test = np.concatenate([groups[g] for g in combo])
            yield purge(a, b, test, embargo=self.embargo), test


@dataclass(frozen=True)
class WalkForward(_Splitter):
    """Anchored walk-forward: ``n_splits + 1`` contiguous blocks; split ``k`` tests block ``k`` (1..K) and
    trains on every earlier sample whose label ended before the block starts (purged; ``max_train``
    samples at most, the most recent)."""

    n_splits: int = 5
    max_train: int | None = None
    embargo: float = 0.0
    name = "walk_forward"

    def __post_init__(self) -> None:
        if self.n_splits < 1:
            raise ConfigError(f"walk-forward needs n_splits >= 1, got {self.n_splits}")

    def split(self, t0: Any, t1: Any) -> Iterator[Split]:
        a, b = _check(t0, t1)
        blocks = np.array_split(np.arange(a.shape[0]), self.n_splits + 1)
        for k in range(1, self.n_splits + 1):
            test = blocks[k]
            if test.size == 0:
                continue
            before = np.arange(test[0])
            train = purge(a, b, test, embargo=self.embargo, train_idx=before)
            if self.max_train is not None:
                train = train[-self.max_train :]
            yield train, test


@dataclass(frozen=True)
class KFold(_Splitter):
    """The naive baseline: shuffled k-fold (scikit-learn's ``KFold(shuffle=True)``), no purging, no
    embargo — overlapping labels leak from training into test. Only for the comparison."""

    n_splits: int = 5
    seed: int = 0
    name = "naive"

    def split(self, t0: Any, t1: Any) -> Iterator[Split]:
        from sklearn.model_selection import KFold as _SkKFold

        a, _ = _check(t0, t1)
        for train, test in _SkKFold(self.n_splits, shuffle=True, random_state=self.seed).split(a):
            yield train.astype(np.int64), np.sort(test).astype(np.int64)


CV_SCHEMES: Registry[type] = Registry("cv scheme")
CV_SCHEMES.add("purged", PurgedKFold)
CV_SCHEMES.add("cpcv", CombinatorialPurgedCV)
CV_SCHEMES.add("walk_forward", WalkForward)
CV_SCHEMES.add("naive", KFold)


def make_cv(cv: str | _Splitter, **params: Any) -> _Splitter:
    """A splitter by name (``CV_SCHEMES``) with ``params``, or ``cv`` itself when it is one."""
    if not isinstance(cv, str):
        return cv
    cls = CV_SCHEMES.get(cv)
    known = cls.__dataclass_fields__
    bad = [k for k in params if k not in known]
    if bad:
        raise ConfigError(f"cv {cv!r} has no parameter(s) {', '.join(bad)} (known: {', '.join(known)})")
    return cls(**params)
