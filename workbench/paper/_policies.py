"""Policies: what decides the target position (-1 / 0 / +1) at each bar's close.

A policy is registered by kind in ``POLICIES`` (``strategy``, ``model``, ``river``, ``ppo``). It sees
only the bars seen so far: ``prepare(hist, start, stop)`` once per step (the new bars ``start:stop``),
then ``decide(i, pos)`` for each new bar in order. Online learners learn inside ``decide`` from the bar
that just closed, before they decide. ``state()`` / ``restore()`` and ``checkpoint()`` make them durable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
import polars as pl

from workbench._registry import Registry
from workbench.errors import ConfigError

__all__ = ["Policy", "POLICIES", "History", "StrategyPolicy", "make_policy"]


class History:
    """The bars seen so far: Python lists for the bar loop and growing numpy buffers for indicators."""

    def __init__(self) -> None:
        self.n = 0
        self._cap = 0
        self._arr: dict[str, np.ndarray] = {}
        self.ts: list[int] = []
        self.open: list[float] = []
        self.high: list[float] = []
        self.low: list[float] = []
        self.close: list[float] = []
        self.volume: list[float] = []

    _COLS = ("ts", "open", "high", "low", "close", "volume")

    def extend(self, rows: list[tuple[int, float, float, float, float, float]]) -> None:
        if not rows:
            return
        cols = list(zip(*rows, strict=True))
        need = self.n + len(rows)
        if need > self._cap:
            cap = max(need, 2 * self._cap, 1024)
            for name in self._COLS:
                buf = np.empty(cap, np.int64 if name == "ts" else np.float64)
                if self._cap:
                    buf[: self.n] = self._arr[name][: self.n]
                self._arr[name] = buf
            self._cap = cap
        for name, col in zip(self._COLS, cols, strict=True):
            getattr(self, name).extend(col)
            self._arr[name][self.n : need] = col
        self.n = need

    def array(self, name: str) -> np.ndarray:
        return self._arr[name][: self.n] if self.n else np.empty(0)

    def frame(self, stop: int | None = None) -> pl.DataFrame:
        """The bars ``0:stop`` as a bars frame (the engine's input)."""
        k = self.n if stop is None else stop
        return pl.DataFrame(
            {
                "ts": pl.Series(self._arr["ts"][:k]).cast(pl.Datetime("us")),
                **{c: self._arr[c][:k] for c in ("open", "high", "low", "close", "volume")},
            }
        )


class Policy(Protocol):
    kind: str
    name: str

    def prepare(self, hist: History, start: int, stop: int) -> None: ...

    def decide(self, i: int, pos: int) -> int: ...

    def state(self) -> dict[str, Any]: ...

    def restore(self, state: Mapping[str, Any], **kw: Any) -> None: ...


POLICIES: Registry[Callable[..., Any]] = Registry("policy")


@POLICIES.register("strategy")
class StrategyPolicy:
    """A library strategy: its four rule flags (``workbench.backtest.signals``) computed on the bars seen
    so far (every indicator is causal: a value at bar i uses bars <= i only, tested), and the engine's
    decision rule: an exit flag closes, an entry flag opens or reverses (``direction`` allowing)."""

    kind = "strategy"

    def __init__(self, strategy: str, params: Mapping[str, Any], direction: str, **_: Any) -> None:
        from workbench.backtest import get_strategy

        self.spec = get_strategy(strategy)
        self.name = self.spec.name
        self.params = dict(params)
        self.spec.check({k: v for k, v in self.params.items() if k not in _ENGINE_KEYS})
        self.allow_long = direction in ("long", "both")
        self.allow_short = direction in ("short", "both")
        self.offset = 0
        self.flags: list[tuple[bool, bool, bool, bool]] = []

    def prepare(self, hist: History, start: int, stop: int) -> None:
        from workbench.backtest import signals

        if stop < 2:  # the engine needs 2 bars; no rule can fire on the first bar (a cross needs two)
            self.offset, self.flags = start, [(False, False, False, False)] * (stop - start)
            return
        sig = signals(hist.frame(stop), self.spec, self.params).slice(start, stop - start)
        self.offset = start
        self.flags = list(
            zip(
                *(sig[c].to_list() for c in ("long_entry", "long_exit", "short_entry", "short_exit")),
                strict=True,
            )
        )

    def decide(self, i: int, pos: int) -> int:
        le, lx, se, sx = self.flags[i - self.offset]
        if not (le or lx or se or sx):
            return pos
        tgt = pos
        if pos > 0 and (se or lx):
            tgt = 0
        elif pos < 0 and (le or sx):
            tgt = 0
        if le and self.allow_long and pos != 1:
            tgt = 1
        elif se and self.allow_short and pos != -1:
            tgt = -1
        return tgt

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: Mapping[str, Any], **_: Any) -> None:
        pass


_ENGINE_KEYS = ("sl", "tp", "stop_loss", "take_profit", "trailing_stop")


@POLICIES.register("model")
def _model_policy(model: str | None = None, **_: Any) -> Any:
    raise ConfigError(
        f"--model {model!r}: paper trading a registered ML model is not available yet (the ML registry's "
        "model strategy has not landed); use --strategy NAME or --policy river|ppo"
    )


def make_policy(kind: str, **kw: Any) -> Any:
    """The policy of ``kind`` (``POLICIES``), built from the session's config."""
    if kind in ("river", "ppo"):
        import workbench.paper._learners  # noqa: F401  (registers the online learners)
    return POLICIES.get(kind)(**kw)
