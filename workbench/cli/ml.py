"""Machine-learning commands: ``ml train``, ``ml backtest``, ``ml regimes``, ``ml models``, ``ml predict``
(docs/ml.md).

A thin skin over :mod:`workbench.ml` (train, regimes), :mod:`workbench.ml.registry` (MLflow) and
:mod:`workbench.ml.signal` (the model's signal backtested through the engine's ``model`` strategy).
"""

from __future__ import annotations

import argparse
import hashlib
import time
from typing import Any

from workbench.cli import Result, command


def _ws():
    from workbench.workspace import open_workspace

    return open_workspace()


def _value(text: str) -> Any:
    t = text.strip()
    for kind in (int, float):
        try:
            return kind(t)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(t.lower(), t)


def _pairs(items: list[str], flag: str) -> dict[str, Any]:
    from workbench.errors import ConfigError

    out: dict[str, Any] = {}
    for item in items:
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            raise ConfigError(f"{flag} {item!r}: expected key=value")
        out[k.strip()] = _value(v)
    return out


def _sha(proba: Any) -> str:
    """sha256 of the predictions (float64 bytes, NaN where none): equal in any process for equal ones."""
    import numpy as np

    arr = proba.cast(float).fill_null(float("nan")).to_numpy().astype(np.float64)
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


# -- train ---------------------------------------------------------------------------------------------


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="SYMBOL:TF", help="stored bars, e.g. EURUSD:1h")
    p.add_argument(
        "--model",
        default="lightgbm",
        help="logreg, random_forest, lightgbm, ensemble, lstm, tcn (default lightgbm)",
    )
    p.add_argument(
        "--label",
        default="triple_barrier",
        help="fixed_horizon | triple_barrier, with options: triple_barrier:horizon=12,pt=2 (default triple_barrier)",
    )
    p.add_argument(
        "--cv", default="purged", help="purged | cpcv | walk_forward (naive is always reported beside)"
    )
    p.add_argument(
        "--cv-param", action="append", default=[], metavar="k=v", help="e.g. n_splits=5, embargo=0.01"
    )
    p.add_argument(
        "--param", action="append", default=[], metavar="k=v", help="model hyperparameter; repeatable"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (recorded)")
    p.add_argument(
        "--tune", type=int, default=0, metavar="N", help="Ray Tune trials before training (0: none)"
    )
    p.add_argument("--name", default=None, help="registered model name (default SYMBOL_TF_MODEL)")
    p.add_argument("--no-mda", action="store_true", help="skip MDA (permutation importance under purged CV)")
    p.add_argument("--shap", action="store_true", help="also SHAP importance (tree models)")
    p.add_argument(
        "--signal",
        default="walk_forward",
        choices=("walk_forward", "cv", "none"),
        help="predictions the signal's backtest trades: walk-forward retraining (default), the CV's "
        "out-of-sample ones, or none (no backtest)",
    )
    p.add_argument(
        "--commission", default="0", help="backtest commission, as `workbench backtest` (default 0)"
    )
    p.add_argument("--spread", default="0", help="backtest spread (default 0)")
    p.add_argument(
        "--promote", default=None, metavar="ALIAS", help="promote to ALIAS when the evidence passes"
    )
    p.add_argument("--no-register", action="store_true", help="train and evaluate only")


@command("ml train", "train a model with purged CV, backtest its signal, register it (MLflow)", _train_args)
def train(args: argparse.Namespace) -> Result:
    from workbench.ml import registry as R
    from workbench.ml import train as fit
    from workbench.ml.registry import _plain

    t0 = time.perf_counter()
    ws = _ws()
    bars = ws.bars(args.data)
    symbol, _, tf = args.data.partition(":")
    result = fit(
        bars,
        model=args.model,
        label=args.label,
        cv=args.cv,
        seed=args.seed,
        params=_pairs(args.param, "--param") or None,
        tune=args.tune,
        cv_params=_pairs(args.cv_param, "--cv-param") or None,
        mda=not args.no_mda,
        shap=args.shap,
    )
    backtest: dict[str, Any] | None = None
    sig = None
    if args.signal != "none":
        sig, backtest = _signal_backtest(ws, bars, result, args)
    out: dict[str, Any] = {"model": None, "version": None, "run_id": None}
    if not args.no_register:
        name = args.name or f"{symbol}_{tf}_{args.model}".lower()
        reg = R.register(result, name, ws=ws, data=args.data, backtest=backtest)
        out.update(model=reg.name, version=reg.version, run_id=reg.run_id, tracking_uri=reg.tracking_uri)
    imp = result.importance
    out.update(
        {
            "model_type": result.model_name,
            "data": args.data,
            "bars": bars.height,
            "samples": result.n_samples,
            "base_rate": result.base_rate,
            "label": result.label_spec.to_dict(),
            "cv": result.cv.to_dict(),
            "naive_cv_mean": result.naive_cv_mean,
            "importance": [
                {"feature": r["feature"], "mdi": r["mdi"], "mda": r["mda"], "shap": r["shap"]}
                for r in imp.iter_rows(named=True)
            ],
            "backtest": backtest,
            "feature_set_version": result.feature_set_version,
            "params": result.params,
            "seed": result.seed,
            "predictions_sha256": _sha(result.predict(bars)["proba"]),
        }
    )
    if args.promote and out["model"]:
        ev = R.Evidence.of(result, getattr(sig, "overfit", None))
        out["promotion"] = R.promote(out["model"], out["version"], ev, alias=args.promote, ws=ws).to_dict()
    out["seconds"] = round(time.perf_counter() - t0, 3)
    out = _plain(out)
    cv = out["cv"]
    text = (
        f"{out['model'] or result.model_name} v{out['version']}: {cv['scheme']} CV {cv['metric']} "
        f"{cv['mean']:.4f} (chance {cv['baseline']:.4f}, naive k-fold {out['naive_cv_mean']:.4f})"
    )
    if backtest:
        text += (
            f"; signal backtest sharpe {backtest.get('sharpe')} over {backtest['trials']} thresholds, "
            f"deflated Sharpe {backtest.get('deflated_sharpe')}"
        )
    return Result(out, text)


def _signal_backtest(ws: Any, bars: Any, result: Any, args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The signal's threshold sweep (walk-forward or CV out-of-sample predictions), stored as a backtest."""
    from workbench.ml.signal import backtest_signal, walk_forward_proba
    from workbench.optimize.store import store_backtest

    if args.signal == "walk_forward":
        proba = walk_forward_proba(
            bars, model=result.model_name, label=result.label_spec, seed=result.seed, params=result.params,
            spec=result.feature_spec,
        )  # fmt: skip
    else:
        proba = result.oos
    sig = backtest_signal(bars, proba, commission=args.commission, spread=args.spread)
    symbol, _, tf = args.data.partition(":")
    with ws.store.transaction() as con:
        bid = store_backtest(
            con,
            sig.result,
            name=f"model {result.model_name} {args.signal} signal {args.data}",
            symbol=symbol,
            timeframe=tf,
            meta={"ml": {"signal": args.signal, "model": result.model_name, "trials": sig.table.height}},
        )
    data = sig.to_dict()
    data.update(backtest_id=bid, signal=args.signal, overfitting=getattr(sig.overfit, "to_dict", dict)())
    return sig, data


# -- regimes -------------------------------------------------------------------------------------------


def _regimes_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="SYMBOL:TF", help="stored bars, e.g. EURUSD:1h")
    p.add_argument("--method", default="hmm", choices=("hmm", "changepoint"), help="Gaussian HMM or PELT")
    p.add_argument("--states", type=int, default=3, help="HMM states (default 3)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the HMM fit")


@command(
    "ml regimes",
    "regimes per bar (forward-filtered HMM or change points), stored in the workspace",
    _regimes_args,
)
def regimes(args: argparse.Namespace) -> Result:
    import numpy as np
    import polars as pl

    from workbench.ml import change_points, hmm_regimes
    from workbench.ml.regime_store import store_regimes
    from workbench.ml.registry import _plain

    t0 = time.perf_counter()
    ws = _ws()
    bars = ws.bars(args.data)
    if args.method == "hmm":
        frame = hmm_regimes(bars, args.states, seed=args.seed)
    else:
        frame = change_points(bars)
    rows = store_regimes(ws, args.data, frame, method=args.method)
    col = "regime" if "regime" in frame.columns else "segment"
    ret = np.log(bars["close"].to_numpy())
    r1 = np.r_[np.nan, np.diff(ret)]
    table = (
        pl.DataFrame({"regime": frame[col].cast(pl.Int64), "r": r1})
        .drop_nulls("regime")
        .group_by("regime")
        .agg(
            pl.len().alias("bars"),
            pl.col("r").fill_nan(None).mean().alias("mean_return"),
            pl.col("r").fill_nan(None).std().alias("volatility"),
        )
        .sort("regime")
        .with_columns((pl.col("bars") / rows).alias("share"))
    )
    reg = frame[col].to_numpy()
    changes = int(np.count_nonzero(np.diff(reg[~np.isnan(reg.astype(float))]) != 0)) if rows > 1 else 0
    out = _plain(
        {
            "data": args.data,
            "method": args.method,
            "states": args.states if args.method == "hmm" else int(table.height),
            "bars": rows,
            "regimes": table.to_dicts(),
            "changes": changes,
            "filtered": args.method == "hmm",  # forward-filtered: no bar's regime reads later bars
            "seconds": round(time.perf_counter() - t0, 3),
        }
    )
    text = f"{args.data}: {rows} bars, {out['states']} {args.method} regimes, {changes} changes (stored)"
    return Result(out, text)


# -- models ---------------------------------------------------------------------------------------------


def _models_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", default=None, help="only this model's versions")


@command("ml models", "registered models (the workspace's mirror of the MLflow registry)", _models_args)
def models(args: argparse.Namespace) -> Result:
    import json

    from workbench.ml.registry import models as listing

    frame = listing(_ws(), args.name)
    rows = []
    for r in frame.iter_rows(named=True):
        metrics = json.loads(r["metrics"]) if r["metrics"] else {}
        lineage = json.loads(r["lineage"]) if r["lineage"] else {}
        rows.append(
            {
                "name": r["name"],
                "version": r["version"],
                "model": r["kind"],
                "data": f"{r['symbol']}:{r['timeframe']}" if r["symbol"] else None,
                "aliases": json.loads(r["aliases"]) if r["aliases"] else [],
                "feature_set_version": r["feature_set_version"],
                "label": lineage.get("label_spec"),
                "cv": metrics.get("cv"),
                "naive_cv_mean": metrics.get("naive_cv_mean"),
                "backtest": lineage.get("backtest"),
                "seed": lineage.get("seed"),
                "bars_sha256": r["bars_sha256"],
                "run_id": r["run_id"],
                "tracking_uri": r["tracking_uri"],
                "created_at": r["created_at"],
            }
        )
    text = (
        "\n".join(
            f"{m['name']} v{m['version']} {m['model']} {m['data']} {','.join(m['aliases'])}" for m in rows
        )
        or "no registered models (workbench ml train ...)"
    )
    return Result({"models": rows}, text)


# -- predict --------------------------------------------------------------------------------------------


def _predict_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="registered model name")
    p.add_argument("--data", required=True, metavar="SYMBOL:TF", help="stored bars, e.g. EURUSD:1h")
    p.add_argument("--version", type=int, default=None, help="model version (default: the latest)")
    p.add_argument("--alias", default=None, help="model alias, e.g. production")
    p.add_argument("--upper", type=float, default=0.55, help="long above this P(up) (for the counts)")
    p.add_argument("--lower", type=float, default=0.45, help="short below this P(up) (for the counts)")
    p.add_argument("--latency-rows", type=int, default=200, help="single-row decisions timed (0: none)")
    p.add_argument("-o", "--output", default=None, help="write ts, proba to this Parquet file")


@command("ml predict", "predict P(up) per bar with a registered model; counts and throughput", _predict_args)
def predict(args: argparse.Namespace) -> Result:
    import numpy as np

    from workbench.ml import build_features
    from workbench.ml.registry import _plain, load

    ws = _ws()
    bars = ws.bars(args.data)
    m = load(args.name, args.version, alias=args.alias, ws=ws)
    t0 = time.perf_counter()
    pred = m.predict(bars)
    seconds = time.perf_counter() - t0
    p = pred["proba"].to_numpy()
    valid = ~np.isnan(p.astype(float))
    latency: dict[str, Any] = {}
    t1 = time.perf_counter()  # the two parts of the batch, timed again now that everything is loaded
    feats = build_features(bars, spec=m.feature_spec).select(m.feature_names).to_numpy()
    t2 = time.perf_counter()
    m.predict_proba(feats[valid])
    t3 = time.perf_counter()
    batch = {
        "features_seconds": round(t2 - t1, 4),
        "model_seconds": round(t3 - t2, 4),
        "model_per_second": float(valid.sum()) / (t3 - t2) if t3 > t2 else None,
    }
    if args.latency_rows > 0 and valid.any():
        rows = feats[np.flatnonzero(valid)[-args.latency_rows :]]
        times = []
        for i in range(rows.shape[0]):
            s = time.perf_counter()
            m.predict_proba(rows[i : i + 1])
            times.append(time.perf_counter() - s)
        ms = np.asarray(times) * 1e3
        latency = {
            "rows": int(ms.size),
            "p50_ms": float(np.median(ms)),
            "p99_ms": float(np.percentile(ms, 99)),
        }
    if args.output:
        pred.write_parquet(args.output)
    out = _plain(
        {
            "model": m.name,
            "version": m.version,
            "run_id": m.run_id,
            "data": args.data,
            "bars": bars.height,
            "predictions": int(valid.sum()),
            "long": int((p[valid] > args.upper).sum()),
            "short": int((p[valid] < args.lower).sum()),
            "flat": int(((p[valid] >= args.lower) & (p[valid] <= args.upper)).sum()),
            "mean_proba": float(np.nanmean(p)) if valid.any() else None,
            "seconds": round(seconds, 4),
            "per_second": bars.height / seconds if seconds > 0 else None,
            "batch": batch,
            "single_row": latency or None,
            "predictions_sha256": _sha(pred["proba"]),
            "output": args.output,
        }
    )
    text = (
        f"{m.name} v{m.version} on {args.data}: {out['predictions']} predictions "
        f"({out['long']} long, {out['short']} short, {out['flat']} flat), {out['per_second']:.0f} bars/s"
    )
    return Result(out, text)


# -- backtest ---------------------------------------------------------------------------------------------


def _backtest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="registered model name")
    p.add_argument("--data", required=True, metavar="SYMBOL:TF", help="stored bars, e.g. EURUSD:1h")
    p.add_argument("--version", type=int, default=None, help="model version (default: the latest)")
    p.add_argument("--alias", default=None, help="model alias, e.g. production")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="k=start:stop[:step]",
        help="threshold grid of the model strategy: upper=0.5:0.6:0.02, lower=0.4:0.5:0.02, regime=-1,0,1 "
        "(default upper=0.5,0.52,0.55,0.6 x lower=0.5,0.48,0.45,0.4)",
    )
    p.add_argument(
        "--signal",
        default="walk_forward",
        choices=("walk_forward", "model"),
        help="walk_forward: retrain the model's spec fold by fold, trade only out-of-sample predictions "
        "(default); model: the registered model's own predictions (in-sample on its training bars)",
    )
    p.add_argument("--folds", type=int, default=5, help="walk-forward folds (default 5)")
    p.add_argument("--regimes", action="store_true", help="add the stored HMM regimes (for regime=K)")
    p.add_argument("--allow", default=None, metavar="K,K", help="enter only in these stored regimes")
    p.add_argument("--no-confidence", action="store_true", help="full size on every entry (not |2p-1|)")
    p.add_argument("--rank-by", default="sharpe", help="metric that picks the best combination")
    p.add_argument("--direction", default="both", choices=("long", "short", "both"), help="default both")
    p.add_argument("--fill", default="next_open", choices=("next_open", "close"), help="fill price")
    for flag in ("--commission", "--spread", "--slippage"):
        p.add_argument(flag, default="0", help="as in `workbench backtest` (default 0)")
    p.add_argument("--size", default="100%", help="as in `workbench backtest` (default 100%%)")
    for flag in ("--stop-loss", "--take-profit", "--trailing-stop", "--contract"):
        p.add_argument(flag, default=None, help="as in `workbench backtest`")
    p.add_argument("--cash", type=float, default=10_000.0, help="initial cash")


@command(
    "ml backtest",
    "sweep a registered model's signal thresholds through the engine's model strategy; store it like "
    "`workbench backtest` (deflated Sharpe, PBO)",
    _backtest_args,
)
def backtest(args: argparse.Namespace) -> Result:
    from workbench.backtest import parse_grid
    from workbench.errors import DataError
    from workbench.ml.regime_store import stored_regimes
    from workbench.ml.registry import _plain, load
    from workbench.ml.signal import signal_bars, threshold_grid, walk_forward_proba
    from workbench.ml.train import bars_hash
    from workbench.optimize import run_sweep

    ws = _ws()
    bars = ws.bars(args.data)
    m = load(args.name, args.version, alias=args.alias, ws=ws)
    m.check_features()
    if args.signal == "walk_forward":
        lin = m.lineage
        proba = walk_forward_proba(
            bars, model=m.model_name, label=_label(lin["label_spec"]),
            folds=args.folds, seed=int(lin.get("seed", 0)), params=lin.get("params") or {}, spec=m.feature_spec,
        )  # fmt: skip
    else:
        proba = m.predict(bars)
    regimes = None
    if args.regimes or args.allow:
        regimes = stored_regimes(ws, args.data)
        if regimes.height == 0:
            raise DataError(
                f"no regimes stored for {args.data}; run `workbench ml regimes --data {args.data}` first",
                where="--regimes",
            )
    allow = [int(x) for x in args.allow.split(",")] if args.allow else None
    sb = signal_bars(bars, proba, regimes=regimes, confidence=not args.no_confidence, allow=allow)
    default = threshold_grid().to_dict(as_series=False)  # upper x lower of the default levels
    grid = parse_grid(args.param) if args.param else {"upper": default["upper"], "lower": default["lower"]}
    engine = {
        "fill": args.fill, "direction": args.direction, "commission": args.commission, "spread": args.spread,
        "slippage": args.slippage, "size": args.size, "stop_loss": args.stop_loss,
        "take_profit": args.take_profit, "trailing_stop": args.trailing_stop, "contract": args.contract,
        "cash": args.cash,
    }  # fmt: skip
    out = run_sweep(ws, "model", args.data, grid, rank_by=args.rank_by, bars=sb, **engine)
    data = out.to_dict()
    data.update(
        model=m.name,
        version=m.version,
        signal=args.signal,
        predictions=int(sb["proba"].is_not_null().sum()),
        in_sample=args.signal == "model" and bars_hash(bars) == m.lineage.get("bars_hash"),
    )
    data = _plain(data)
    best = data["best"]
    text = (
        f"{m.name} v{m.version} {args.signal} signal on {args.data}: {data['combos']} threshold combinations; "
        f"best {best['params']} sharpe {best['metrics'].get('sharpe')}; stored as optimisation "
        f"#{data['optimization_id']}, best as backtest #{data['backtest_ids'][0]}"
    )
    return Result(data, text)


def _label(spec: dict[str, Any]) -> Any:
    from workbench.ml import LabelSpec

    return LabelSpec.from_dict(spec)
