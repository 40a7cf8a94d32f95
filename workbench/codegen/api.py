"""``generate`` and ``generate_from_backtest``: a strategy (or a stored backtest of one) out as a bot."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.codegen.model import bot_model
from workbench.codegen.parity import parity_report
from workbench.codegen.targets import TARGETS
from workbench.errors import DataError, StrategyError

__all__ = ["CodegenResult", "generate", "generate_from_backtest", "default_out_dir"]


@dataclass(frozen=True)
class CodegenResult:
    """What ``generate`` wrote and what the check found.

    ``files``: paths written (source, parameter file, parity report); ``compiled``: True/False from the
    compiler, None when not compiled (no compiler here, ``check=False``, or a target with none: ``notes``
    says which); ``compiler``: ``"mcs 6.8.0.105"``; ``stub``: the cAlgo.API stub DLL compiled against;
    ``errors``: compiler errors, one line each; ``parity``: :func:`workbench.codegen.parity_report`."""

    files: list[str]
    compiled: bool | None
    compiler: str | None
    stub: str | None
    errors: list[str]
    parity: list[dict]
    target: str = "ctrader"
    strategy: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    replay: dict[str, Any] | None = None  # compare_with_engine(...) when asked for (replay_bars=)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_out_dir(ws: Any | None = None) -> Path:
    """``<workspace>/exports`` (the open workspace's, else ``$WORKBENCH_HOME``'s)."""
    if ws is not None:
        return Path(ws.home) / "exports"
    from workbench.config import settings

    return settings().home / "exports"


def generate(
    strategy: str,
    params: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    *,
    target: str = "ctrader",
    out_dir: Path | str,
    check: bool = True,
    grid: Mapping[str, Any] | None = None,
    symbol: str | None = None,
    timeframe: str | None = None,
    origin: str = "",
    cache: Path | None = None,
    replay_bars: Any | None = None,
) -> CodegenResult:
    """Write ``strategy`` with ``params`` and engine ``settings`` as a ``target`` bot into ``out_dir``.

    ``settings`` in the ``workbench backtest`` flags' syntax (``{"direction": "both", "stop_loss":
    "2atr"}``; a stored backtest's ``meta.settings`` as is). Anything the target cannot express raises a
    one-line error before a file is written. ``check``: compile (cTrader: mcs against the cAlgo.API stub)
    or check structurally (MQL5). ``replay_bars`` (a bars frame; cTrader target): replay the bot over them
    next to the engine's run and report the agreement (``replay``; needs mono)."""
    tgt = TARGETS.get(target)
    model = bot_model(
        strategy, params, settings, grid=grid, symbol=symbol, timeframe=timeframe, origin=origin
    )
    parity = parity_report(model, target)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rendered = tgt.render(model, out)
    report = out / f"{model.class_name}.parity.json"
    report.write_text(
        json.dumps(
            {"strategy": model.strategy, "params": model.values, "settings": model.settings, "target": target,
             "parity": parity}, indent=2, default=str,
        ) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    files = [str(p) for p in (*rendered.sources, *rendered.extra, report)]
    if check:
        c = tgt.check(rendered, cache)
        compiled, compiler, stub, errors, notes = c.compiled, c.compiler, c.stub, c.errors, c.notes
    else:
        compiled, compiler, stub, errors, notes = (
            None,
            None,
            None,
            [],
            ["not checked (check=False / no --check)"],
        )
    replay = None
    if replay_bars is not None:
        if target != "ctrader":
            raise StrategyError(f"a replay is for the ctrader target, not {target!r}")
        from workbench.codegen.replay import compare_with_engine

        replay = compare_with_engine(
            rendered.sources[0], replay_bars, model.strategy, dict(model.values), model.settings, cache=cache
        )
    return CodegenResult(
        replay=replay,
        files=files,
        compiled=compiled,
        compiler=compiler,
        stub=stub,
        errors=errors,
        parity=parity,
        target=target,
        strategy=model.strategy,
        params=dict(model.values),
        settings=model.settings,
        notes=list(notes),
    )


def backtest_source(ws: Any, backtest_id: int) -> dict[str, Any]:
    """strategy, params, settings, grid, symbol, timeframe of a stored engine backtest (a ``workbench
    backtest`` run or an inferred strategy's replay); a one-line error for any other backtest."""
    bt = ws.backtest(int(backtest_id))
    info = bt.info
    strategy = info.get("strategy")
    settings = (info.get("meta") or {}).get("settings")
    if info.get("platform") != "workbench" or not strategy or settings is None:
        raise DataError(
            f"backtest {backtest_id} ({info.get('platform') or info.get('format')}) is not an engine backtest "
            "of a library strategy; run `workbench infer ID` on it first, then generate from the backtest "
            "that stores the inferred strategy",
            file=str(ws.home),
            where=f"backtests.{backtest_id}",
        )
    grid = None
    oid = (info.get("meta") or {}).get("optimization_id")
    if oid is not None:
        import polars as pl

        rows = ws.optimizations().filter(pl.col("id") == int(oid))
        if rows.height:
            meta = rows["meta"][0]
            meta = json.loads(meta) if isinstance(meta, str) else (meta or {})
            grid = meta.get("grid")
    return {
        "strategy": strategy,
        "params": dict(info.get("parameters") or {}),
        "settings": dict(settings),
        "grid": grid,
        "symbol": info.get("symbol"),
        "timeframe": info.get("timeframe"),
    }


def generate_from_backtest(ws: Any, backtest_id: int, **kwargs: Any) -> CodegenResult:
    """:func:`generate` of the strategy, parameters and settings stored with ``backtest_id``; the searched
    grid (when the backtest is the best of a stored sweep) gives the parameters' Min/Max/Step."""
    src = backtest_source(ws, backtest_id)
    if "strategy" in kwargs or "params" in kwargs:
        raise StrategyError("generate_from_backtest takes the strategy and parameters from the backtest")
    kwargs.setdefault("out_dir", default_out_dir(ws))
    kwargs.setdefault("cache", Path(ws.home) / "cache" / "codegen")
    return generate(
        src["strategy"],
        src["params"],
        kwargs.pop("settings", None) or src["settings"],
        grid=src["grid"],
        symbol=src["symbol"],
        timeframe=src["timeframe"],
        origin=f"backtest {backtest_id}",
        **kwargs,
    )
