"""How a strategy is declared: parameters, a constraint, and crossover rules over indicator lines.

A strategy is one small module in ``workbench/backtest/strategies/`` that registers a class with
:func:`strategy`::

    @strategy("sma_cross")
    class SmaCross:
        \"\"\"Long when the fast SMA crosses above the slow one; out (or short) when it crosses below.\"\"\"

        params = (Param("fast", int, 10, (2, 1000)), Param("slow", int, 50, (3, 5000)))
        constraint = "fast < slow"

        @staticmethod
        def rules(fast: int, slow: int) -> Rules:
            return Rules(long_entry=cross_above(sma(fast), sma(slow)),
                         long_exit=cross_below(sma(fast), sma(slow)))

``rules`` runs once per parameter combination, in Python, and only *describes* the signals: it names
indicator lines (``sma(10)`` is the row of ``INDICATORS["sma"]`` with argument 10, computed once per
distinct argument for the whole sweep) and how they must cross. The fused Numba kernel evaluates the
rules bar by bar. A line is an indicator row, the difference of two rows (``ema(12) - ema(26)``), or a
constant; the right-hand side may also be ``line.ema(n)``, an EMA of the left-hand line computed inside
the kernel (the MACD signal line).

**Tie rule** (the same as ``backtesting.lib.crossover``): ``a`` crosses above ``b`` at bar ``i`` when
``a[i-1] < b[i-1]`` and ``a[i] > b[i]``, both strict; any NaN means no cross. A bar where the lines are
exactly equal is neither below nor above, so ``below, equal, above`` is *not* a cross (nor is
``above, equal, above``). Because SMAs are computed exactly as pandas does, equal SMAs are equal here
exactly when they are equal in backtesting.py.

Short rules default to the mirror image: ``short_entry`` = ``long_exit`` and ``short_exit`` =
``long_entry``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import polars as pl

from workbench._registry import Registry
from workbench.errors import StrategyError

__all__ = [
    "Param",
    "Ind",
    "Diff",
    "Const",
    "Smooth",
    "Cross",
    "Rules",
    "StrategySpec",
    "STRATEGIES",
    "strategy",
    "get_strategy",
    "cross_above",
    "cross_below",
    "close",
    "sma",
    "ema",
    "rsi",
    "zscore",
    "highest",
    "lowest",
]


@dataclass(frozen=True)
class Param:
    """One parameter: name, type (int or float), default and inclusive range ``(low, high)``."""

    name: str
    type: type
    default: int | float
    range: tuple[int | float, int | float]

    def coerce(self, value: Any) -> int | float:
        """``value`` as this parameter's type, checked against the range (StrategyError otherwise)."""
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise StrategyError(f"parameter {self.name!r}: {value!r} is not a number") from None
        if self.type is int:
            if not v.is_integer():
                raise StrategyError(f"parameter {self.name!r}: {value!r} is not an integer")
            out: int | float = int(v)
        else:
            out = v
        lo, hi = self.range
        if not lo <= out <= hi or (isinstance(out, float) and math.isnan(out)):
            raise StrategyError(f"parameter {self.name!r}: {value!r} is outside its range [{lo}, {hi}]")
        return out


# -- lines -------------------------------------------------------------------------------------------


class _Line:
    def __sub__(self, other: _Line) -> Diff:
        if not isinstance(self, Ind) or not isinstance(other, Ind):
            raise StrategyError("only two indicator rows can be subtracted (e.g. ema(12) - ema(26))")
        return Diff(self, other)

    def ema(self, span: int) -> Smooth:
        """EMA (span ``span``, as :func:`workbench.backtest.indicators.ema`) of this line."""
        return Smooth(self, int(span))


@dataclass(frozen=True)
class Ind(_Line):
    """The row of indicator ``name`` (a key of ``INDICATORS``) with arguments ``args``."""

    name: str
    args: tuple[int | float, ...] = ()


@dataclass(frozen=True)
class Diff(_Line):
    left: Ind
    right: Ind


@dataclass(frozen=True)
class Const(_Line):
    value: float


@dataclass(frozen=True)
class Smooth(_Line):
    line: _Line
    span: int


@functools.cache
def close() -> Ind:
    return Ind("close")


@functools.cache
def sma(n: int) -> Ind:
    return Ind("sma", (int(n),))


@functools.cache
def ema(n: int) -> Ind:
    return Ind("ema", (int(n),))


@functools.cache
def rsi(n: int) -> Ind:
    return Ind("rsi", (int(n),))


@functools.cache
def zscore(n: int) -> Ind:
    return Ind("zscore", (int(n),))


@functools.cache
def highest(n: int) -> Ind:
    """Highest high of the previous ``n`` bars (current bar excluded)."""
    return Ind("highest", (int(n),))


@functools.cache
def lowest(n: int) -> Ind:
    """Lowest low of the previous ``n`` bars (current bar excluded)."""
    return Ind("lowest", (int(n),))


# -- rules -------------------------------------------------------------------------------------------


class Cross(NamedTuple):
    """``a`` crosses ``b`` upwards (``direction=+1``) or downwards (``-1``); see the tie rule above.

    (Cross and Rules are named tuples: built once per combination, they must be cheap.)"""

    a: Ind | Diff
    b: Ind | Const | Smooth
    direction: int


def _as_line(x: _Line | float | int) -> _Line:
    return x if isinstance(x, _Line) else Const(float(x))


def cross_above(a: _Line, b: _Line | float) -> Cross:
    return Cross(a, _as_line(b), +1)  # type: ignore[arg-type]


def cross_below(a: _Line, b: _Line | float) -> Cross:
    return Cross(a, _as_line(b), -1)  # type: ignore[arg-type]


class Rules(NamedTuple):
    """The four signals of one parameter combination (``None`` = never)."""

    long_entry: Cross | None
    long_exit: Cross | None
    short_entry: Cross | None = None
    short_exit: Cross | None = None

    def resolved(self) -> tuple[Cross | None, Cross | None, Cross | None, Cross | None]:
        """(long_entry, long_exit, short_entry, short_exit) with the mirror-image defaults applied."""
        se = self.short_entry if self.short_entry is not None else self.long_exit
        sx = self.short_exit if self.short_exit is not None else self.long_entry
        return self.long_entry, self.long_exit, se, sx


# -- the registry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StrategySpec:
    """A registered strategy: its parameters, constraint (a polars SQL expression) and rule builder."""

    name: str
    description: str
    params: tuple[Param, ...]
    constraint: str | None
    rules: Callable[..., Rules]
    _by_name: Mapping[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {p.name: p for p in self.params})
        if len(self._by_name) != len(self.params):
            raise StrategyError(f"strategy {self.name!r}: two parameters share a name")
        for p in self.params:
            p.coerce(p.default)

    def param(self, name: str) -> Param:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(p.name for p in self.params)
            raise StrategyError(
                f"strategy {self.name!r} has no parameter {name!r} (known: {known})"
            ) from None

    def defaults(self) -> dict[str, int | float]:
        return {p.name: p.default for p in self.params}

    def check(self, params: Mapping[str, Any]) -> dict[str, int | float]:
        """Defaults overlaid with ``params``, coerced, range- and constraint-checked."""
        out = self.defaults()
        for k, v in params.items():
            out[k] = self.param(k).coerce(v)
        if self.constraint and valid_mask(self, pl.DataFrame({k: [v] for k, v in out.items()})).sum() == 0:
            shown = ", ".join(f"{k}={v}" for k, v in out.items())
            raise StrategyError(
                f"strategy {self.name!r}: {shown} violates its constraint {self.constraint!r}"
            )
        return out


def valid_mask(spec: StrategySpec, frame: pl.DataFrame) -> pl.Series:
    """Boolean mask of the rows of ``frame`` (one column per parameter) that satisfy the constraint."""
    if not spec.constraint:
        return pl.Series("valid", [True] * frame.height)
    try:
        return frame.select(pl.sql_expr(spec.constraint).fill_null(False).alias("valid")).to_series()
    except Exception as exc:  # polars raises several error types for a bad SQL expression
        raise StrategyError(f"strategy {spec.name!r}: bad constraint {spec.constraint!r}: {exc}") from None


STRATEGIES: Registry[StrategySpec] = Registry("strategy")


def strategy(name: str) -> Callable[[type], type]:
    """Class decorator registering a strategy under ``name`` (see the module docstring)."""

    def deco(cls: type) -> type:
        params = tuple(getattr(cls, "params", ()))
        if not params or not all(isinstance(p, Param) for p in params):
            raise StrategyError(f"strategy {name!r}: `params` must be a non-empty tuple of Param")
        rules = getattr(cls, "rules", None)
        if not callable(rules):
            raise StrategyError(f"strategy {name!r}: missing `rules(**params) -> Rules`")
        spec = StrategySpec(
            name=name,
            description=" ".join((cls.__doc__ or name).split()),
            params=params,
            constraint=getattr(cls, "constraint", None),
            rules=rules,
        )
        STRATEGIES.add(name, spec)
        cls.spec = spec  # type: ignore[attr-defined]
        return cls

    return deco


def get_strategy(name: str | StrategySpec) -> StrategySpec:
    """The registered strategy ``name`` (all modules in ``strategies/`` are imported first)."""
    if isinstance(name, StrategySpec):
        return name
    import workbench.backtest.strategies  # noqa: F401  (registers the library)

    return STRATEGIES.get(name)
