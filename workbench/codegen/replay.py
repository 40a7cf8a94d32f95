"""Replay a generated cBot over bars and read its trades: does the bot trade like the backtest?

The cBot's C# is compiled (``mcs``) together with ``sim/cAlgo.API.Sim.cs``, a bar-replay implementation
of the cAlgo.API members the templates use, and run with ``mono``. The simulator's indicators follow the
**engine's** definitions, its fills the engine's conventions without costs (market orders at the next
bar's open, stops inside the bar, the stop first), and its parameters are the bot's ``[Parameter]``
defaults set by reflection (as cTrader sets them). So a replay measures the bot's own logic (crossings,
decisions, reversals, sizing, stop levels, the trailing stop) against the engine's; how cAlgo's built-in
indicators differ from the engine's is the parity report's business. Not cTrader.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import polars as pl

from workbench.codegen.compiler import _cache_dir, find_mcs, mcs_version
from workbench.errors import ConfigError

__all__ = ["SIM_SOURCE", "replay_cbot"]

SIM_SOURCE = Path(__file__).with_name("sim") / "cAlgo.API.Sim.cs"
TIMEOUT_S = 300
_COLUMNS = ("entry_bar", "exit_bar", "direction", "units", "entry_price", "exit_price", "pnl", "exit_reason")


def _simulator(mcs: str, cache: Path | None) -> Path:
    """The simulator compiled once into ``replay-<hash>.exe`` (cached beside the stub DLL)."""
    key = hashlib.sha256(SIM_SOURCE.read_bytes() + mcs_version(mcs).encode()).hexdigest()[:16]
    folder = _cache_dir(cache)
    exe = folder / f"replay-{key}.exe"
    if not exe.exists():
        # Compiled under its final file name (mcs takes the assembly's name from it, and the bots that
        # reference it look it up by that name) in a private folder, then moved into place atomically.
        with tempfile.TemporaryDirectory(prefix=f".replay-{os.getpid()}-", dir=folder) as private:
            tmp = Path(private) / exe.name
            proc = subprocess.run(
                [mcs, f"-out:{tmp}", str(SIM_SOURCE)], capture_output=True, text=True, timeout=TIMEOUT_S
            )
            if proc.returncode != 0:
                raise ConfigError(
                    "the replay simulator does not compile: "
                    + " ".join((proc.stdout + proc.stderr).split())[:400]
                )
            os.replace(tmp, exe)
    return exe


def replay_cbot(
    source: Path | str,
    bars: pl.DataFrame,
    *,
    cash: float = 10_000.0,
    pip_size: float = 1e-4,
    cache: Path | None = None,
) -> pl.DataFrame:
    """The trades of the generated cBot ``source`` replayed over ``bars`` (open/high/low/close), one row per
    closed trade: bar indices, direction (+1/-1), units, prices, P/L, exit reason (signal/stop/take_profit).
    Needs ``mcs`` and ``mono`` (a one-line error names what is missing)."""
    mcs, mono = find_mcs(), shutil.which("mono")
    if mcs is None or mono is None:
        raise ConfigError("replay needs Mono (mcs and mono: apt-get install mono-mcs mono-runtime)")
    sim = _simulator(mcs, cache)
    with tempfile.TemporaryDirectory(prefix="wb-replay-") as tmp:
        dll = Path(tmp) / "bot.dll"
        proc = subprocess.run(
            [mcs, "-target:library", "-nowarn:169,414,649", f"-r:{sim}", f"-out:{dll}", str(source)],
            capture_output=True, text=True, timeout=TIMEOUT_S,
        )  # fmt: skip
        if proc.returncode != 0:
            raise ConfigError(f"{Path(source).name}: does not compile against the replay simulator: "
                              + " ".join((proc.stdout + proc.stderr).split())[:400])  # fmt: skip
        csv = Path(tmp) / "bars.csv"
        bars.select("open", "high", "low", "close").write_csv(csv, float_precision=17)
        run = subprocess.run([mono, str(sim), str(dll), str(csv), repr(float(cash)), repr(float(pip_size))],
                             capture_output=True, text=True, timeout=TIMEOUT_S)  # fmt: skip
        if run.returncode != 0:
            raise ConfigError(f"{Path(source).name}: replay failed: " + " ".join(run.stderr.split())[:400])
    rows = [line.split(",") for line in run.stdout.splitlines() if line.strip()]
    data = {c: [r[i] for r in rows] for i, c in enumerate(_COLUMNS)}
    return pl.DataFrame(data, schema=dict.fromkeys(_COLUMNS, pl.String)).with_columns(
        pl.col("entry_bar", "exit_bar", "direction").cast(pl.Int64),
        pl.col("units", "entry_price", "exit_price", "pnl").cast(pl.Float64),
    )


def compare_with_engine(
    source: Path | str,
    bars: pl.DataFrame,
    strategy: str,
    params: dict,
    settings: dict,
    *,
    cache: Path | None = None,
) -> dict:
    """The bot's replay next to the engine's run on the same bars: trade counts, whether the entry and exit
    bars and sides agree, the largest P/L difference. Costs are taken out of the engine's run (the
    simulator has none: they are the platform's); a run that went bust is said so (the engine's
    bankruptcy rule is not the bot's)."""
    import numpy as np

    from workbench.backtest import run
    from workbench.backtest.settings import parse_contract

    es = {k: v for k, v in settings.items() if k not in ("commission", "spread", "slippage")}
    engine = run(bars, strategy, params, **es)
    contract = parse_contract(es.get("contract"))
    bot = replay_cbot(
        source, bars, cash=float(es.get("cash") or 10_000.0), pip_size=contract.pip_size or 1e-4, cache=cache
    )
    t = engine.trades
    same = (
        bot.height == t.height
        and bot["entry_bar"].to_list() == t["entry_bar"].to_list()
        and bot["exit_bar"].to_list() == t["exit_bar"].to_list()
        and bot["direction"].to_list() == [1 if d == "long" else -1 for d in t["direction"]]
    )
    diff = (
        float(np.max(np.abs(bot["pnl"].to_numpy() - t["pnl"].to_numpy())))
        if bot.height == t.height and bot.height
        else None
    )
    return {
        "engine_trades": t.height,
        "bot_trades": bot.height,
        "same_trades": bool(same),
        "max_abs_pnl_diff": diff,
        "engine_bankrupt": bool((t["exit_reason"] == "bankrupt").any()) if t.height else False,
        "basis": "the bot replayed with the engine's indicator values and fills, no costs (workbench.codegen.replay)",
    }
