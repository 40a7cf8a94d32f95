"""Online learners that keep learning while they trade.

* ``river``: an incremental classifier (river's logistic regression behind a running standard scaler)
  of "does the next bar close higher?" from the last ``lags`` returns and the close's distance to its
  20-bar mean. At each bar's close it first learns the bar that just closed (the features of the bar
  before, labelled by this bar's move), then predicts the next one: long above ``threshold``, short
  below ``1 - threshold`` (``direction`` allowing), else flat. Checkpoints (the pickled model) every
  ``checkpoint_every`` bars; a resume loads the last one and re-learns the bars after it (the model is a
  deterministic function of the bars, so the result is the uninterrupted model).
* ``ppo``: a PPO agent (stable-baselines3) on :class:`TradingEnv`, a gymnasium environment whose fills,
  costs, spread, slippage and stops are the simulated broker's (the engine's, bar for bar). The experience
  buffer is the last ``buffer_bars`` bars seen; every ``update_every`` bars the agent trains
  ``train_steps`` more steps on episodes drawn from it, then trades with the deterministic policy.
  Checkpoints: the agent's zip in ``<workspace>/paper/<session>/`` (path in ``paper_checkpoints``).
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import ConfigError, MissingDependencyError
from workbench.paper._policies import POLICIES, History

__all__ = ["RiverPolicy", "PPOPolicy", "TradingEnv", "features"]


def _param(params: Mapping[str, Any], name: str, default: Any, kind: type) -> Any:
    value = params.get(name, default)
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"-p {name}={value!r}: expected a {kind.__name__}") from None


def features(close: list[float] | np.ndarray, i: int, lags: int) -> dict[str, float] | None:
    """Features at bar ``i`` (bars <= i only): returns r1..r{lags} in % and the close's gap to its 20-bar
    mean in %; None during the warm-up."""
    if i < max(lags, 20):
        return None
    out = {f"r{k}": (close[i - k + 1] / close[i - k] - 1.0) * 100.0 for k in range(1, lags + 1)}
    mean = sum(close[i - 19 : i + 1]) / 20.0
    out["gap"] = (close[i] / mean - 1.0) * 100.0
    return out


@POLICIES.register("river")
class RiverPolicy:
    kind = "river"

    def __init__(self, params: Mapping[str, Any], direction: str, **_: Any) -> None:
        try:
            from river import linear_model, optim, preprocessing
        except ImportError:  # pragma: no cover - an installed extra
            raise MissingDependencyError("river", "paper") from None
        p = dict(params or {})
        self.name = "river"
        self.lags = _param(p, "lags", 8, int)
        self.threshold = _param(p, "threshold", 0.55, float)
        self.lr = _param(p, "lr", 0.01, float)
        self.checkpoint_every = _param(p, "checkpoint_every", 500, int)
        self.allow_long = direction in ("long", "both")
        self.allow_short = direction in ("short", "both")
        self.model = preprocessing.StandardScaler() | linear_model.LogisticRegression(optim.SGD(self.lr))
        self.hist: History | None = None
        self.learned = 0  # bars learned so far (the model has seen labels up to this bar)
        self.last_ck = -1

    def prepare(self, hist: History, start: int, stop: int) -> None:
        self.hist = hist

    def _learn(self, i: int) -> None:
        """Learn bar ``i``'s move from the features at ``i - 1``."""
        close = self.hist.close
        x = features(close, i - 1, self.lags)
        if x is not None:
            self.model.learn_one(x, close[i] > close[i - 1])
        self.learned = i + 1

    def decide(self, i: int, pos: int) -> int:
        if i >= 1 and i >= self.learned:
            self._learn(i)
        x = features(self.hist.close, i, self.lags)
        if x is None:
            return 0
        p_up = self.model.predict_proba_one(x).get(True, 0.5)
        if p_up >= self.threshold and self.allow_long:
            return 1
        if p_up <= 1.0 - self.threshold and self.allow_short:
            return -1
        return 0

    def state(self) -> dict[str, Any]:
        return {"learned": self.learned}

    def checkpoint(self, bar: int) -> list[tuple[int, str, str | None, bytes | None, dict[str, Any]]]:
        if bar - self.last_ck < self.checkpoint_every:
            return []
        self.last_ck = bar
        return [(bar, "river", None, pickle.dumps(self.model), {"learned": self.learned})]

    def restore(self, state: Mapping[str, Any], *, store: Any = None, session: str = "", hist: History | None = None,
                **_: Any) -> None:  # fmt: skip
        from workbench.store import Q

        self.hist = hist
        if store is not None:
            with store.connect() as con:
                rows = con.execute(Q.paper_last_checkpoint, [session, "river"]).fetchall()
            if rows:
                bar, _path, blob, _info = rows[0]
                self.model = pickle.loads(blob)  # our own checkpoint, written by this class
                self.learned = int(__import__("json").loads(_info)["learned"])
                self.last_ck = int(bar)
        target = int(state.get("learned", 0))
        while hist is not None and self.learned < target:  # re-learn the bars after the checkpoint
            self._learn(max(self.learned, 1))


class TradingEnv:
    """A gymnasium environment on bars, built on the simulated broker (the engine's fills and costs):
    an episode is ``episode_bars`` consecutive bars from a random start in ``close``; the action is the
    target position (0 flat, 1 long, 2 short); the order fills at the next bar's open with the spread,
    slippage and commission of ``settings``; the reward is the log change of equity over the bar.
    Observation: the last ``lags`` returns (%) and the current position."""

    def __new__(cls, *args: Any, **kw: Any) -> Any:
        import gymnasium as gym
        from gymnasium import spaces

        from workbench.paper._trader import SimBroker
        from workbench.risk import RiskManager

        class _Env(gym.Env):
            metadata: dict[str, Any] = {"render_modes": []}

            def __init__(self, bars: dict[str, list[float]], settings: Any, lags: int = 8,
                         episode_bars: int = 256, seed: int = 0) -> None:  # fmt: skip
                super().__init__()
                self.bars, self.settings, self.lags = bars, settings, lags
                self.episode_bars = episode_bars
                self.observation_space = spaces.Box(-1e4, 1e4, shape=(lags + 1,), dtype=np.float32)
                self.action_space = spaces.Discrete(3)
                self._seed = seed
                self.hist = History()
                self.hist.extend(list(zip(bars["ts"], bars["open"], bars["high"], bars["low"], bars["close"],
                                          bars["volume"], strict=True)))  # fmt: skip

            def _obs(self) -> np.ndarray:
                c = self.hist.close
                i = self.i
                r = [(c[i - k + 1] / c[i - k] - 1.0) * 100.0 for k in range(1, self.lags + 1)]
                return np.array([*r, float(self.broker.pos)], dtype=np.float32)

            def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
                super().reset(seed=self._seed if seed is None and not hasattr(self, "i") else seed)
                n = self.hist.n
                lo = self.lags + 1
                hi = max(lo + 1, n - self.episode_bars - 1)
                self.i = int(self.np_random.integers(lo, hi))
                self.end = min(n - 1, self.i + self.episode_bars)
                self.broker = SimBroker(self.settings, RiskManager(), "RL")
                self.broker.process(self.hist, self.i, self.i + 1, lambda i, pos: 0, _NanList(), _no_atr)
                self.broker.drain()
                return self._obs(), {}

            def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
                target = (0, 1, -1)[int(action)]
                before = self.broker.equity
                self.broker.submit(target, self.i, 0) if target != self.broker.pos else None
                self.i += 1
                self.broker.process(self.hist, self.i, self.i + 1, lambda i, pos: pos, _NanList(), _no_atr)
                self.broker.drain()
                after = self.broker.equity
                reward = math.log(after / before) if after > 0 and before > 0 else -1.0
                done = self.i >= self.end or self.broker.bust
                return self._obs(), float(reward), bool(done), False, {}

        return _Env(*args, **kw)


class _NanList:
    def __getitem__(self, i: int) -> float:
        return math.nan


def _no_atr(s: int, j: int) -> float:
    return math.nan


@POLICIES.register("ppo")
class PPOPolicy:
    kind = "ppo"

    def __init__(self, params: Mapping[str, Any], direction: str, home: Any = None, session: str = "",
                 settings: Any = None, **_: Any) -> None:  # fmt: skip
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:  # pragma: no cover
            raise MissingDependencyError("stable-baselines3", "paper") from None
        p = dict(params or {})
        self.name = "ppo"
        self.lags = _param(p, "lags", 8, int)
        self.warmup = _param(p, "warmup", 300, int)
        self.update_every = _param(p, "update_every", 500, int)
        self.train_steps = _param(p, "train_steps", 512, int)
        self.buffer_bars = _param(p, "buffer_bars", 2000, int)
        self.episode_bars = _param(p, "episode_bars", 128, int)
        self.seed = _param(p, "seed", 0, int)
        self.allow_long = direction in ("long", "both")
        self.allow_short = direction in ("short", "both")
        self.settings = settings
        self.folder = Path(home) / "paper" / session if home is not None else None
        self.model: Any = None
        self.hist: History | None = None
        self.trained_at = -1
        self.updates = 0
        self.steps = 0
        self.pending_ck: list[tuple[int, str]] = []

    def prepare(self, hist: History, start: int, stop: int) -> None:
        self.hist = hist

    def _train(self, i: int) -> None:
        from stable_baselines3 import PPO

        lo = max(0, i + 1 - self.buffer_bars)
        h = self.hist
        bars = {k: getattr(h, k)[lo : i + 1] for k in ("ts", "open", "high", "low", "close", "volume")}
        env = TradingEnv(
            bars, self.settings, lags=self.lags, episode_bars=self.episode_bars, seed=self.seed + i
        )
        if self.model is None:
            self.model = PPO("MlpPolicy", env, n_steps=128, batch_size=64, n_epochs=4, learning_rate=3e-4,
                             seed=self.seed, device="cpu", verbose=0)  # fmt: skip
        else:
            self.model.set_env(env)
        self.model.learn(total_timesteps=self.train_steps, reset_num_timesteps=False)
        self.trained_at = i
        self.updates += 1
        self.steps += self.train_steps
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"ppo_{i}.zip"
            self.model.save(path)
            self.pending_ck.append((i, str(path)))

    def decide(self, i: int, pos: int) -> int:
        if i + 1 >= self.warmup and (self.model is None or i - self.trained_at >= self.update_every):
            self._train(i)
        if self.model is None or i < self.lags:
            return 0
        c = self.hist.close
        obs = np.array([*((c[i - k + 1] / c[i - k] - 1.0) * 100.0 for k in range(1, self.lags + 1)), float(pos)],
                       dtype=np.float32)  # fmt: skip
        action, _ = self.model.predict(obs, deterministic=True)
        target = (0, 1, -1)[int(action)]
        if (target > 0 and not self.allow_long) or (target < 0 and not self.allow_short):
            return 0
        return target

    def state(self) -> dict[str, Any]:
        return {"trained_at": self.trained_at, "updates": self.updates, "steps": self.steps}

    def checkpoint(self, bar: int) -> list[tuple[int, str, str | None, bytes | None, dict[str, Any]]]:
        out = [(at, "ppo", path, None, self.state()) for at, path in self.pending_ck]
        self.pending_ck = []
        return out

    def restore(self, state: Mapping[str, Any], *, store: Any = None, session: str = "", hist: History | None = None,
                **_: Any) -> None:  # fmt: skip
        from stable_baselines3 import PPO

        from workbench.store import Q

        self.hist = hist
        self.trained_at = int(state.get("trained_at", -1))
        self.updates = int(state.get("updates", 0))
        self.steps = int(state.get("steps", 0))
        if store is None:
            return
        with store.connect() as con:
            rows = con.execute(Q.paper_last_checkpoint, [session, "ppo"]).fetchall()
        if rows and rows[0][1] and Path(rows[0][1]).exists():
            self.model = PPO.load(rows[0][1], device="cpu")
            self.trained_at = int(rows[0][0])
