"""Policies: what decides the target position (-1 / 0 / +1) at each bar's close.

A policy is registered by kind in ``POLICIES`` (``strategy``, ``model``, ``river``, ``ppo``). It sees
only the bars seen so far: ``prepare(hist, start, stop)`` once per step (the new bars ``start:stop``),
then ``decide(i, pos)`` for each new bar in order. Online learners learn inside ``decide`` from the bar
that just closed, before they decide. ``state()`` / ``restore()`` and ``checkpoint()`` make them durable.
"""

from __future__ import annotations

import math
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

    def extend(self, rows: list[tuple[int, float, float, float, float, float]] | np.ndarray) -> None:
        """Append bars: tuples ``(ts_us, open, high, low, close, volume)`` or an (n, 6) float array."""
        if len(rows) == 0:
            return
        block = np.asarray(rows, dtype=np.float64)  # µs timestamps < 2**53: exact in a double
        need = self.n + len(rows)
        if need > self._cap:
            cap = max(need, 2 * self._cap, 1024)
            for name in self._COLS:
                buf = np.empty(cap, np.int64 if name == "ts" else np.float64)
                if self._cap:
                    buf[: self.n] = self._arr[name][: self.n]
                self._arr[name] = buf
            self._cap = cap
        for k, name in enumerate(self._COLS):
            col = block[:, k]
            self._arr[name][self.n : need] = col
            getattr(self, name).extend((col.astype(np.int64) if name == "ts" else col).tolist())
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

    scale: np.ndarray | None = None  # per-bar size multiplier at the signal bar (the model policy's)
    quiet: np.ndarray | None = None  # per bar of the step: no rule fires (the bar loop's fast path)

    def __init__(self, strategy: str, params: Mapping[str, Any], direction: str, **_: Any) -> None:
        from workbench.backtest import get_strategy

        self.spec = get_strategy(strategy)
        self.name = self.spec.name
        self.params = dict(params)
        self.allow_long = direction in ("long", "both")
        self.allow_short = direction in ("short", "both")
        self.offset = 0
        self.flags: list[tuple[bool, bool, bool, bool]] = []
        self._rules = _plain_rules(
            self.spec.rules(**self.spec.check(_strategy_params(self.params))).resolved()
        )

    def prepare(self, hist: History, start: int, stop: int) -> None:
        self.offset = start
        self.quiet = None
        if stop < 2:  # no rule can fire on the first bar (a cross needs two)
            self.flags = [(False, False, False, False)] * (stop - start)
            return
        if self._rules is None:  # a rule shape only the engine evaluates: its signals() on the prefix
            from workbench.backtest import signals

            sig = signals(hist.frame(stop), self.spec, self.params).slice(start, stop - start)
            cols = [sig[c].to_list() for c in ("long_entry", "long_exit", "short_entry", "short_exit")]
            self.flags = list(zip(*cols, strict=True))
            return
        self.flags = list(zip(*_rule_flags(self._rules, hist, start, stop), strict=True))
        self.quiet = _quiet(self.flags)

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


def _quiet(flags: list[tuple[bool, bool, bool, bool]]) -> np.ndarray:
    """Per bar: no rule fires (the policy keeps its position whatever it is)."""
    return ~np.array(flags, dtype=bool).reshape(-1, 4).any(axis=1)


def _strategy_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in _ENGINE_KEYS}


def _plain_rules(rules: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The four crossovers when every line is one this module evaluates (indicator rows, their
    difference, a constant, an EMA of the crossing line); None otherwise (then the engine's signals)."""
    from workbench.backtest.spec import Const, Cross, Diff, Ind, Smooth

    def plain(x: Any) -> bool:
        if isinstance(x, Ind):
            return x.name != "vol"  # vol annualises with the whole series' calendar
        if isinstance(x, Diff):
            return plain(x.left) and plain(x.right)
        if isinstance(x, Smooth):
            return plain(x.line) and x.span >= 1
        return isinstance(x, Const)

    for c in rules:
        if c is not None and not (
            isinstance(c, Cross) and plain(c.a) and plain(c.b) and c.direction in (1, -1)
        ):
            return None
    return rules


def _rule_flags(
    rules: tuple[Any, ...],
    hist: History,
    start: int,
    stop: int,
    extra: Mapping[str, np.ndarray] | None = None,
) -> list[list[bool]]:
    """The four rule flags of bars ``start:stop``, from the indicators (``workbench.backtest.indicators``,
    the engine's) computed on bars ``0:stop``, with the engine's crossing rule: ``a`` crosses above ``b``
    at bar i when ``a[i-1] < b[i-1]`` and ``a[i] > b[i]`` (strict; NaN never crosses); an EMA of the
    crossing line is ``ema(line, span)`` (the kernel's running EMA, bit for bit)."""
    from workbench.backtest.indicators import INDICATORS, OHLC, ema
    from workbench.backtest.spec import Const, Diff, Ind

    ohlc = OHLC(
        *(hist.array(c)[:stop] for c in ("open", "high", "low", "close", "volume")),
        bars_per_year=math.nan,
        extra={k: v[:stop] for k, v in (extra or {}).items()},
    )
    cache: dict[Any, np.ndarray] = {}

    def line(x: Any) -> np.ndarray | float:
        if isinstance(x, Const):
            return x.value
        if x in cache:
            return cache[x]
        if isinstance(x, Ind):
            out = np.asarray(INDICATORS.get(x.name)(ohlc, *x.args), dtype=np.float64)
        elif isinstance(x, Diff):
            out = line(x.left) - line(x.right)
        else:  # Smooth
            out = ema(np.ascontiguousarray(line(x.line)), x.span)
        cache[x] = out
        return out

    lo = max(start, 1)
    flags: list[list[bool]] = []
    done: dict[int, list[bool]] = {}
    for cross in rules:
        if cross is None:
            flags.append([False] * (stop - start))
            continue
        if id(cross) in done:
            flags.append(done[id(cross)])
            continue
        a, b = line(cross.a), line(cross.b)
        a_now, a_prev = a[lo:stop], a[lo - 1 : stop - 1]
        b_now = b[lo:stop] if isinstance(b, np.ndarray) else b
        b_prev = b[lo - 1 : stop - 1] if isinstance(b, np.ndarray) else b
        hit = (
            (a_prev < b_prev) & (a_now > b_now)
            if cross.direction > 0
            else (a_prev > b_prev) & (a_now < b_now)
        )
        out = ([False] if start == 0 else []) + hit.tolist()
        done[id(cross)] = out
        flags.append(out)
    return flags


@POLICIES.register("model")
class ModelPolicy(StrategyPolicy):
    """A registered ML model (``--model NAME``, ``NAME:VERSION`` or ``NAME@ALIAS``) through the library's
    ``model`` strategy: at each step the model predicts P(up) on the features of the bars seen so far
    (the features are causal and computed on the whole prefix, as :meth:`RegisteredModel.predict` on
    the same bars does), and the ``model`` strategy's thresholds (``-p upper=0.55 -p lower=0.45``) turn
    it into flags. ``-p confidence=1`` sizes each entry by ``|2p - 1|`` at its signal bar (the bars'
    ``size_scale``, as :func:`workbench.ml.signal.signal_bars` writes it for a backtest)."""

    kind = "model"

    def __init__(
        self, model: str | None, params: Mapping[str, Any], direction: str, ws: Any = None, **_: Any
    ) -> None:
        from workbench.ml import registry

        if not model:
            raise ConfigError("--policy model needs --model NAME (see `workbench ml models`)")
        name, alias = (model.split("@", 1) + [None])[:2] if "@" in model else (model, None)
        name, _, version = name.partition(":")
        self.model = registry.load(name, int(version) if version else None, alias=alias, ws=ws)
        self.model.check_features()
        p = dict(params or {})
        self.confidence = bool(int(p.pop("confidence", 0)))
        if int(p.get("regime", -1)) >= 0:
            raise ConfigError(
                "-p regime=N: the regime filter is not available in paper trading yet (no live regimes)"
            )
        super().__init__("model", p, direction)
        self.name = f"{self.model.name} v{self.model.version}"
        self.proba = np.empty(0)
        self.scale: np.ndarray | None = None

    def prepare(self, hist: History, start: int, stop: int) -> None:
        self.offset = start
        self.quiet = None
        have = self.proba.shape[0]
        if have < stop:  # predict the rows not predicted yet (after a resume: every row seen)
            self.proba = np.concatenate([self.proba, self._predict(hist, have, stop)])
        if self.confidence:
            self.scale = np.where(np.isfinite(self.proba), np.abs(2.0 * self.proba - 1.0), 0.0)
        if stop < 2:
            self.flags = [(False, False, False, False)] * (stop - start)
            return
        self.flags = list(
            zip(*_rule_flags(self._rules, hist, start, stop, {"proba": self.proba}), strict=True)
        )
        self.quiet = _quiet(self.flags)

    def _predict(self, hist: History, lo: int, stop: int) -> np.ndarray:
        """P(up) of bars ``lo:stop``: the features on all bars ``0:stop`` (causal, some with an infinite
        memory such as EMAs, so never on a window), the model on the new rows only - what
        ``RegisteredModel.predict`` gives for them on the same bars (NaN during the feature warm-up)."""
        from workbench.ml import build_features
        from workbench.ml.models import positive_proba

        m = self.model
        feats = build_features(hist.frame(stop), spec=m.feature_spec)
        names = [c for c in feats.columns if c != "ts"]
        if names != list(m.feature_names):
            raise ConfigError(
                f"model {m.name} v{m.version}: its features are not what these bars give; retrain it"
            )
        out = positive_proba(m.model, feats.select(names).slice(lo, stop - lo).to_numpy().astype(np.float64))
        warm = m.feature_spec.warm_up
        if lo < warm:
            out[: min(warm, stop) - lo] = np.nan
        return out

    def state(self) -> dict[str, Any]:
        return {"model": self.model.name, "version": self.model.version}


def make_policy(kind: str, **kw: Any) -> Any:
    """The policy of ``kind`` (``POLICIES``), built from the session's config."""
    if kind in ("river", "ppo"):
        import workbench.paper._learners  # noqa: F401  (registers the online learners)
    return POLICIES.get(kind)(**kw)
