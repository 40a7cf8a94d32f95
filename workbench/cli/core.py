"""Core commands: ingest, backtests, metrics, trades, formats, data, demo."""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import timedelta
from pathlib import Path

import polars as pl

from workbench.cli import Result, command
from workbench.errors import DataError

ROOT = Path(__file__).resolve().parents[2]


def _ws(read_only: bool = False):
    from workbench.workspace import open_workspace

    return open_workspace(read_only=read_only)


def table(frame: pl.DataFrame, rows: int = 50) -> str:
    with pl.Config(
        tbl_rows=rows,
        tbl_cols=20,
        tbl_hide_dataframe_shape=True,
        fmt_str_lengths=40,
        tbl_width_chars=160,
        float_precision=2,
    ):
        return str(frame)


def _ingest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", help="files or folders (folders are walked)")
    p.add_argument("--format", dest="fmt", help="force a parser (see `workbench formats`)")
    p.add_argument(
        "--strict",
        action="store_true",
        default=None,
        help="reject files with platform quirks (secondary totals by the platform's rule, anomalous rows) "
        "instead of storing them with warnings (default: $WORKBENCH_STRICT)",
    )
    p.add_argument(
        "--initial-balance",
        type=float,
        default=None,
        help="balance assumed for files that state none (default: $WORKBENCH_INITIAL_BALANCE, else unknown)",
    )
    p.add_argument(
        "--tz",
        default=None,
        help="broker server time zone for MetaTrader files (e.g. Europe/Athens, UTC+2; default: $WORKBENCH_SERVER_TZ)",
    )
    p.add_argument(
        "--index",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also embed new backtests for `workbench ask` (default: $WORKBENCH_AUTO_INDEX)",
    )
    p.add_argument(
        "--columns",
        default=None,
        metavar="FIELD=HEADER,...",
        help="trades CSV columns the workbench does not recognise, e.g. open_time=Eröffnung,close_time=Schluss "
        "(fields: see docs/formats.md)",
    )


def _column_map(text: str | None) -> dict[str, str] | None:
    """``"open_time=Eröffnung,close_time=Schluss"`` -> ``{"open_time": "Eröffnung", ...}``."""
    if not text:
        return None
    from workbench.ingest.parsers.trades_csv import FIELDS

    out: dict[str, str] = {}
    for item in text.split(","):
        field, sep, header = item.partition("=")
        if not sep or not field.strip() or not header.strip():
            raise DataError(f"expected FIELD=HEADER, got {item!r}", file="--columns", where=text)
        if field.strip() not in FIELDS:
            raise DataError(
                f"unknown field {field.strip()!r}; fields: {', '.join(FIELDS)}", file="--columns", where=text
            )
        out[field.strip()] = header.strip()
    return out


@command("ingest", "ingest exports (files or folders) into the workspace", _ingest_args)
def ingest(args: argparse.Namespace) -> Result:
    ws = _ws()
    report = ws.ingest(
        args.paths,
        fmt=args.fmt,
        progress=sys.stderr.isatty(),
        index=args.index,
        strict=args.strict,
        initial_balance=args.initial_balance,
        tz=args.tz,
        columns=_column_map(args.columns),
    )
    data = report.to_dict()
    errors = tuple(f.error for f in report.files if f.status == "rejected" and f.error)
    lines = [
        f"{f.status:9} {f.format or '?':22} id={f.object_id if f.object_id is not None else '-':<5} "
        f"rows={f.rows:<7} {f.path}" + "".join(f"\n          warning: {w}" for w in f.warnings)
        for f in report.files
    ]
    lines.append(
        f"{report.ingested} ingested, {report.duplicates} duplicate, {report.rejected} rejected -> {ws.home}"
    )
    return Result(data, "\n".join(lines), 1 if report.rejected else 0, errors)


@command("backtests", "list stored backtests")
def backtests(args: argparse.Namespace) -> Result:
    frame = _ws().backtests()
    return Result(
        {"backtests": frame.to_dicts()},
        table(
            frame.select(
                "id",
                "name",
                "format",
                "symbol",
                "net_profit",
                "total_trades",
                "profit_factor",
                "max_drawdown_pct",
            )
        ),
    )


def _id_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", type=int, help="backtest id (see `workbench backtests`)")


def _metrics_args(p: argparse.ArgumentParser) -> None:
    _id_arg(p)
    p.add_argument(
        "--initial-balance",
        type=float,
        default=None,
        help="balance before the first trade, for a file that states none (not stored)",
    )


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return str(value)


@command("metrics", "metrics of one backtest, recomputed from its trades", _metrics_args)
def metrics(args: argparse.Namespace) -> Result:
    m = _ws().metrics_report(args.id, initial_balance=args.initial_balance)
    lines = [f"{k:28} {_show(v)}" for k, v in m.items() if not isinstance(v, dict | list)]
    platform = m.get("platform") or {}
    if platform.get("printed"):
        lines.append(f"printed by the platform ({platform.get('convention')}):")
        for k, v in platform["printed"].items():
            again = platform.get("reproduced", {}).get(k)
            lines.append(
                f"  {k:26} {_show(v)}"
                + (f"  (rows under its convention: {_show(again)})" if again is not None else "")
            )
    lines += [f"assumption: {a}" for a in m["assumptions"]]
    lines += [f"warning: {w}" for w in m["warnings"]]
    return Result(m, "\n".join(lines))


def _trades_args(p: argparse.ArgumentParser) -> None:
    _id_arg(p)
    p.add_argument("--limit", type=int, default=None, help="at most this many trades")


@command("trades", "trades of one backtest", _trades_args)
def trades(args: argparse.Namespace) -> Result:
    frame = _ws().trades(args.id)
    if args.limit is not None:
        frame = frame.head(args.limit)
    return Result({"trades": frame.to_dicts()}, table(frame.drop("comment", "stop_loss", "take_profit")))


def _optional_id(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", type=int, nargs="?", help="one object's id (default: list them all)")


@command("parameters", "list stored parameter sets (.cbotset...), or the parameters of one", _optional_id)
def parameters(args: argparse.Namespace) -> Result:
    ws = _ws()
    if args.id is None:
        frame = ws.parameter_sets()
        return Result({"parameter_sets": frame.to_dicts()}, table(frame))
    params = ws.parameters(args.id)
    if not params:
        raise DataError(f"no parameter set with id {args.id} (see `workbench parameters`)", file=str(ws.home))
    return Result({"id": args.id, "parameters": params}, "\n".join(f"{k:32} {v}" for k, v in params.items()))


@command("optimizations", "list stored optimisations, or the passes of one", _optional_id)
def optimizations(args: argparse.Namespace) -> Result:
    ws = _ws()
    if args.id is None:
        frame = ws.optimizations()
        return Result({"optimizations": frame.to_dicts()}, table(frame))
    frame = ws.optimization_results(args.id)
    if frame.height == 0:
        raise DataError(
            f"no optimisation with id {args.id} (see `workbench optimizations`)", file=str(ws.home)
        )
    return Result({"id": args.id, "results": frame.to_dicts()}, table(frame))


@command("formats", "the export formats the workbench can ingest")
def formats(args: argparse.Namespace) -> Result:
    from workbench.ingest import PARSERS
    from workbench.ingest import formats as names

    names()
    rows = [{"format": n, "description": p.description} for n, p in sorted(PARSERS.items())]
    return Result({"formats": rows}, "\n".join(f"{r['format']:24} {r['description']}" for r in rows))


@command("data samples", "load the real market data shipped with `backtesting` as bars")
def data_samples(args: argparse.Namespace) -> Result:
    counts = _ws().load_samples()
    return Result({"series": counts}, "\n".join(f"{k:12} {v:>7} bars" for k, v in counts.items()))


@command("data list", "list stored bar series")
def data_list(args: argparse.Namespace) -> Result:
    frame = _ws().bar_series()
    return Result({"series": frame.to_dicts()}, table(frame))


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--exports",
        nargs="*",
        default=None,
        help="exports to ingest (default: the engine's own trades CSV and the sample exports in data/samples)",
    )


_RATIOS = frozenset({"profit_factor", "recovery_factor", "sharpe_ratio", "sortino_ratio"})


def display(key: str, value: object) -> str:
    """A metric as the human output shows it: money 2 decimals, ratios 2, % 2 (``--json`` keeps all digits)."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if key.endswith("win_rate"):  # a fraction 0..1
        return f"{100 * value:.2f} %"
    if key.endswith("_pct"):
        return f"{value:,.2f} %"
    if key.endswith("_seconds"):
        return str(timedelta(seconds=round(value)))
    if isinstance(value, int):
        return f"{value:,}"
    if key in _RATIOS or key.endswith("_ratio"):
        return f"{value:.2f}"
    return f"{value:,.2f}"  # money: profits, losses, balances, drawdown, commission, swap


def _relative(path: str | Path) -> str:
    p = Path(path).resolve()
    for base in (Path.cwd(), ROOT):
        if p.is_relative_to(base):
            return str(p.relative_to(base)) or "."
    return str(path)


def _demo_export(ws) -> Path:
    """A trades CSV written by the backtest engine (SMA 10/50 on the packaged EURUSD hourly bars).

    It goes through the same ingest path as a platform export; its stated net profit (the engine's)
    is reconciled against the trades on the way in.
    """
    from workbench.backtest import run

    result = run(ws.bars("EURUSD:1h"), "sma_cross", {"fast": 10, "slow": 50})
    trades = result.to_trades(symbol="EURUSD")
    path = ws.home / "exports" / "demo_sma_cross_10_50_EURUSD_1h.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# name: SMA cross 10/50 EURUSD 1h (workbench engine)\n# strategy: sma_cross\n# timeframe: h1\n"
        f"# initial_balance: {result.settings['cash']}\n# net_profit: {float(trades['net_profit'].sum()):.6f}\n"
    )
    path.write_text(header + trades.drop("comment").write_csv(datetime_format="%Y-%m-%d %H:%M:%S"))
    return path


@command("demo", "run the whole path headless on the embedded sample data", _demo_args)
def demo(args: argparse.Namespace) -> Result:
    t0 = time.perf_counter()
    ws = _ws()
    series = ws.load_samples()
    exports = args.exports
    if exports is None:  # only what ships in the repository, and what the demo writes in the workspace
        from workbench.data.exports import sample_exports

        exports = [str(_demo_export(ws)), str(sample_exports())]
    report = ws.ingest(exports, progress=sys.stderr.isatty()) if exports else None
    listed = ws.backtests()
    if listed.height == 0:
        raise DataError("no backtests were ingested; pass --exports PATH", file="demo", where="-")
    # the example: the most profitable backtest whose starting balance is known (all its metrics exist)
    best = (
        listed.with_columns(_known=pl.col("initial_balance").is_not_null())
        .sort("_known", "net_profit", descending=True, nulls_last=True)
        .row(0, named=True)
    )
    m = ws.metrics(best["id"]).to_dict()
    data = {
        "workspace": str(ws.home),
        "series": series,
        "ingest": report.to_dict() if report else None,
        "backtests": listed.height,
        "example": {"id": best["id"], "name": best["name"], "metrics": m},
        "seconds": round(time.perf_counter() - t0, 2),
    }
    lines = [
        f"workspace: {ws.home}",
        "market data: " + ", ".join(f"{k} ({v} bars)" for k, v in series.items()),
    ]
    if report:
        kinds: dict[str, int] = {}
        for f in report.files:
            if f.status == "ingested":
                kinds[f.kind or "?"] = kinds.get(f.kind or "?", 0) + 1
        names = {"backtest": "backtest", "parameters": "parameter set", "optimization": "optimisation"}
        what = ", ".join(f"{n} {names.get(k, k)}{'s' if n > 1 else ''}" for k, n in sorted(kinds.items()))
        lines.append(
            f"ingested {report.ingested}{f' ({what})' if what else ''}, duplicates {report.duplicates}, "
            f"rejected {report.rejected} from {', '.join(_relative(e) for e in exports)}"
        )
        lines += [
            f"  rejected {_relative(f.path)}: {f.error}" for f in report.files if f.status == "rejected"
        ]
    lines += [
        "",
        table(
            listed.select(
                "id",
                "name",
                "format",
                "net_profit",
                "total_trades",
                "profit_factor",
                "max_drawdown_pct",
                "sharpe_ratio",
            ),
            rows=40,
        ),
        "",
        f"metrics of #{best['id']} {best['name']}:",
    ]
    scalars = [(k, v) for k, v in m.items() if not isinstance(v, dict | list)]
    lines += [f"  {k:28} {display(k, v):>14}" for k, v in scalars[:16]]
    lines += [
        "",
        "next: workbench backtests | workbench metrics ID | workbench trades ID --json",
        "      jupyter lab notebooks/01_ingest.ipynb",
        f"done in {data['seconds']} s",
    ]
    return Result(data, "\n".join(lines))
