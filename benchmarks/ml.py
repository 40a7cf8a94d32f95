"""ML benchmark: predictions (batch throughput, single-row latency) of the tree models next to the raw
library calls, LightGBM with purged 5-fold CV on 100k bars (time, peak RSS) next to an unpurged k-fold,
features on 1M bars (time, next to the same formulas in pandas; the look-ahead check on the 1M bars),
and the leakage table (naive shuffled k-fold vs purged CV vs CPCV vs walk-forward) on the packaged
EURUSD hourly bars.

    python benchmarks/ml.py                  # everything (several minutes on 2 busy cores)
    python benchmarks/ml.py --quick          # smaller: 20k-bar CV, 200k-bar features, fewer repeats
    python benchmarks/ml.py --only predict   # one section: predict | features | regimes | cv | leakage

Synthetic long series are built from the packaged EURUSD: its bars' log returns and shapes (open, high,
low relative to the close; volume) drawn with replacement (seeded) onto a continuous hourly clock.
Each heavy section runs in a fresh subprocess, so its peak RSS (VmHWM) is its own. Nothing asserts a
time; medians of repeated runs on a shared machine are still noisy.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def eurusd() -> pl.DataFrame:
    from workbench.data.samples import sample_frames

    return sample_frames()["EURUSD:1h"].select("ts", "open", "high", "low", "close", "volume")


def synthetic_bars(n: int, seed: int = 0) -> pl.DataFrame:
    """``n`` hourly bars resampled from the packaged EURUSD (returns and bar shapes drawn with replacement)."""
    src = eurusd()
    c = src["close"].to_numpy()
    r = np.log(c[1:] / c[:-1])
    rel = {k: src[k].to_numpy()[1:] / c[1:] for k in ("open", "high", "low")}
    vol = src["volume"].to_numpy()[1:]
    pick = np.random.default_rng(seed).integers(0, r.size, n)
    close = 1.1 * np.exp(np.cumsum(r[pick]))
    start = datetime(2000, 1, 3)
    return pl.DataFrame(
        {
            "ts": pl.datetime_range(start, start + timedelta(hours=n - 1), "1h", eager=True, time_unit="us"),
            "open": close * rel["open"][pick],
            "high": close * rel["high"][pick],
            "low": close * rel["low"][pick],
            "close": close,
            "volume": vol[pick],
        }
    )


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(q / 100 * len(xs)) - 1))]


def _fmt(c) -> str:
    if isinstance(c, str):
        return c
    if c is None or (isinstance(c, float) and math.isnan(c)):
        return "-"
    a = abs(c)
    if isinstance(c, int) or a >= 1000:
        return f"{c:,.0f}"
    return f"{c:.2f}" if a >= 10 else f"{c:.3f}" if a >= 0.01 else f"{c:.2g}"


def table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [[str(h) for h in header]] + [[_fmt(c) for c in r] for r in rows]
    width = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for i, r in enumerate(cells):
        print(
            "  "
            + "  ".join(
                c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, width, strict=True))
            )
        )
        if i == 0:
            print("  " + "  ".join("-" * w for w in width))


# -- sections (each run in its own process) -----------------------------------------------------------


def stage_predict(args) -> dict:
    """Fit each tree model on the EURUSD dataset; time batch predictions on ``batch`` rows and single-row
    calls, ours (``positive_proba`` on the fitted estimator) next to the raw library call."""
    from workbench.ml import make_dataset, make_model, positive_proba

    d = make_dataset(eurusd())
    reps = max(1, math.ceil(args.batch / d.n))
    big = np.tile(d.X, (reps, 1))[: args.batch]
    out = []
    for name in ("lightgbm", "random_forest", "logreg", "ensemble"):
        model = make_model(name, 0).fit(d.X, d.y)
        paths = {"workbench (positive_proba)": lambda X, m=model: positive_proba(m, X)}
        if name == "lightgbm":
            booster = model.booster_
            paths["peer: raw Booster.predict (1 thread)"] = lambda X, b=booster: b.predict(X, num_threads=1)
        else:
            paths["peer: sklearn predict_proba"] = lambda X, m=model: m.predict_proba(X)[:, 1]
        for label, fn in paths.items():
            fn(big[:100])
            batch = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                fn(big)
                batch.append(time.perf_counter() - t)
            lat, cpu = [], []
            rows = d.X[: args.single]
            for i in range(rows.shape[0]):
                x = rows[i : i + 1]
                c = time.thread_time()
                t = time.perf_counter()
                fn(x)
                lat.append(time.perf_counter() - t)
                cpu.append(time.thread_time() - c)
            out.append(
                {
                    "model": name,
                    "path": label,
                    "batch_per_s": args.batch / statistics.median(batch),
                    "p50_ms": 1e3 * pct(lat, 50),
                    "p99_ms": 1e3 * pct(lat, 99),
                    "cpu_p99_ms": 1e3 * pct(cpu, 99),
                }
            )
    # a full decision for paper trading: features of the last bar from a 300-bar tail + the prediction
    from workbench.ml import build_features

    model = make_model("lightgbm", 0).fit(d.X, d.y)
    bars = eurusd()
    lat, cpu = [], []
    for i in range(args.single // 4):
        tail = bars.slice(1000 + i, 300)
        c = time.thread_time()
        t = time.perf_counter()
        x = build_features(tail).drop("ts").tail(1).to_numpy()
        positive_proba(model, x)
        lat.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    out.append(
        {
            "model": "lightgbm",
            "path": "decision: build_features(300-bar tail) + predict",
            "batch_per_s": float("nan"),
            "p50_ms": 1e3 * pct(lat, 50),
            "p99_ms": 1e3 * pct(lat, 99),
            "cpu_p99_ms": 1e3 * pct(cpu, 99),
        }
    )
    return {"rows": out, "train_samples": d.n, "features": len(d.feature_names)}


def stage_cv(args) -> dict:
    """LightGBM (defaults) under purged 5-fold CV on ``cv_bars`` synthetic bars, and the same model under
    an unpurged (contiguous, unshuffled) 5-fold as the peer: what purging costs."""
    from workbench.ml import PurgedKFold, evaluate, make_dataset

    bars = synthetic_bars(args.cv_bars, seed=1)
    t = time.perf_counter()
    d = make_dataset(bars)
    prep = time.perf_counter() - t
    t = time.perf_counter()
    splits = list(PurgedKFold(5, 0.01).split(d.t0, d.t1))
    split_s = time.perf_counter() - t
    t = time.perf_counter()
    purged = evaluate(d.X, d.y, d.t0, d.t1, "lightgbm", "purged")
    purged_s = time.perf_counter() - t
    t = time.perf_counter()
    plain = evaluate(d.X, d.y, d.t0, d.t1, "lightgbm", "purged", cv_params={"embargo": 0.0})
    # the peer: the same contiguous folds without purging (t1 = t0: nothing overlaps)
    unpurged = evaluate(d.X, d.y, d.t0, d.t0, "lightgbm", "purged", cv_params={"embargo": 0.0})
    plain_s = time.perf_counter() - t
    purged_train = int(np.mean([tr.size for tr, _ in splits]))
    return {
        "bars": args.cv_bars,
        "samples": d.n,
        "features": len(d.feature_names),
        "prep_s": prep,
        "split_s": split_s,
        "purged_s": purged_s,
        "purged_log_loss": purged.mean,
        "no_embargo_log_loss": plain.mean,
        "unpurged_s": plain_s / 2,
        "unpurged_log_loss": unpurged.mean,
        "mean_train_rows_purged": purged_train,
        "mean_train_rows_unpurged": int(d.n * 4 / 5),
        "peak_rss_mib": hwm_mib(),
    }


def _pandas_features(df):
    """The default feature set's formulas in pandas (the peer)."""
    import pandas as pd

    c, h, lo, o, v = df["close"], df["high"], df["low"], df["open"], df["volume"]
    lr = np.log(c / c.shift(1))
    out = {f"ret_{k}": np.log(c / c.shift(k)) for k in (1, 2, 4, 8, 24, 72)}
    hl2 = np.log(h / lo) ** 2 / (4 * math.log(2))
    for w in (24, 96):
        out[f"vol_cc_{w}"] = lr.rolling(w).std(ddof=0)
        out[f"vol_pk_{w}"] = np.sqrt(hl2.rolling(w).mean())
    tr = pd.concat([h - lo, (h - c.shift(1)).abs(), (lo - c.shift(1)).abs()], axis=1).max(axis=1)
    out["atr_14"] = tr.ewm(alpha=1 / 14, adjust=False, min_periods=14).mean() / c
    out["range"], out["body"] = np.log(h / lo), np.log(c / o)
    d = c.diff()
    g = d.clip(lower=0).ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()
    ls = (-d.clip(upper=0)).ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()
    out["rsi_14"] = 100 - 100 / (1 + g / ls)
    for k in (20, 100):
        out[f"zscore_{k}"] = (c - c.rolling(k).mean()) / c.rolling(k).std(ddof=0)
    for k in (20, 50, 200):
        out[f"dist_sma_{k}"] = c / c.rolling(k).mean() - 1
    for k in (12, 48):
        out[f"dist_ema_{k}"] = c / c.ewm(span=k, adjust=False, min_periods=k).mean() - 1
    hh, ll = h.rolling(20).max().shift(1), lo.rolling(20).min().shift(1)
    out["donchian_20"] = (c - ll) / (hh - ll) - 0.5
    line = (
        c.ewm(span=12, adjust=False, min_periods=12).mean()
        - c.ewm(span=26, adjust=False, min_periods=26).mean()
    )
    out["macd_hist"] = (line - line.ewm(span=9, adjust=False, min_periods=9).mean()) / c
    out["hour"], out["weekday"] = df["ts"].dt.hour, df["ts"].dt.weekday
    out["vratio_24"] = v / v.rolling(24).mean()
    lv = np.log1p(v)
    out["vz_24"] = (lv - lv.rolling(24).mean()) / lv.rolling(24).std(ddof=0)
    return pd.DataFrame(out)


def stage_features(args) -> dict:
    from workbench.ml import build_features

    bars = synthetic_bars(args.feature_bars, seed=2)
    build_features(bars.slice(0, 1000))  # load the compiled kernels
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        feats = build_features(bars)
        times.append(time.perf_counter() - t)
    pdf = bars.to_pandas()
    ptimes = []
    for _ in range(max(1, args.repeats // 2)):
        t = time.perf_counter()
        _pandas_features(pdf)
        ptimes.append(time.perf_counter() - t)
    # the look-ahead check on these bars: cut at t (no future at all) and a different future after t
    rng = np.random.default_rng(3)
    checked = 0
    for t in rng.integers(1000, bars.height - 2, 4):
        t = int(t)
        cut = build_features(bars.slice(0, t + 1))
        assert cut.equals(feats.slice(0, t + 1)), f"look-ahead at row {t}"
        wild = bars.with_columns(
            pl.when(pl.int_range(pl.len()) > t).then(pl.col(c) * 1.5).otherwise(pl.col(c)).alias(c)
            for c in ("open", "high", "low", "close", "volume")
        )
        assert build_features(wild).slice(0, t + 1).equals(feats.slice(0, t + 1)), f"look-ahead at row {t}"
        checked += 1
    return {
        "bars": bars.height,
        "features": feats.width - 1,
        "workbench_s": statistics.median(times),
        "pandas_s": statistics.median(ptimes),
        "lookahead_checks_passed": checked,
        "peak_rss_mib": hwm_mib(),
    }


def stage_leakage(args) -> dict:
    from workbench.ml import make_dataset, naive_vs_purged

    d = make_dataset(eurusd())
    out = []
    for model in ("logreg", "random_forest", "lightgbm"):
        out.extend(naive_vs_purged(d.X, d.y, d.t0, d.t1, model).to_dicts())
    return {"rows": out, "samples": d.n, "base_rate": float(d.y.mean())}


def stage_regimes(args) -> dict:
    """HMM: fit on a 20k-bar prefix, forward-filter ``feature_bars`` bars; hmmlearn's own (smoothed, and
    so look-ahead) ``predict_proba`` on the same bars as the peer."""
    from workbench.ml import fit_hmm
    from workbench.ml.regimes import regime_observations

    bars = synthetic_bars(args.feature_bars, seed=4)
    t = time.perf_counter()
    model = fit_hmm(bars, 3, seed=0, fit_until=20_000)
    fit_s = time.perf_counter() - t
    model.filter(bars.slice(0, 1000))  # load the compiled forward pass
    t = time.perf_counter()
    model.filter(bars)
    filter_s = time.perf_counter() - t
    from hmmlearn.hmm import GaussianHMM

    h = GaussianHMM(n_components=3, covariance_type="full")
    h.startprob_, h.transmat_, h.means_, h.covars_ = (
        model.startprob,
        model.transmat,
        model.means,
        model.covars,
    )
    z = (regime_observations(bars, model.vol_window) - model.center) / model.scale
    t = time.perf_counter()
    h.predict_proba(z[model.vol_window :])
    smooth_s = time.perf_counter() - t
    return {
        "bars": bars.height,
        "fit_s": fit_s,
        "filter_s": filter_s,
        "smooth_s": smooth_s,
        "peak_rss_mib": hwm_mib(),
    }


STAGES = {
    "regimes": stage_regimes,
    "predict": stage_predict,
    "cv": stage_cv,
    "features": stage_features,
    "leakage": stage_leakage,
}


def run_stage(name: str, argv: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--stage", name, *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if proc.returncode:
        raise SystemExit(f"stage {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(name: str, r: dict) -> None:
    if name == "predict":
        table(
            f"Predictions (model trained on {r['train_samples']:,} EURUSD samples × {r['features']} features; "
            "batch = rows per second on one call, latency = one row per call)",
            ["model", "path", "batch rows/s", "single p50 ms", "single p99 ms", "p99 CPU ms"],
            [
                [x["model"], x["path"], x["batch_per_s"], x["p50_ms"], x["p99_ms"], x["cpu_p99_ms"]]
                for x in r["rows"]
            ],
        )
        print(
            "  (p99 CPU: the calling thread's CPU time per call — the model's own cost, without the time the"
        )
        print("   scheduler gave other processes; on a quiet machine wall latency approaches it)")
    elif name == "cv":
        table(
            f"LightGBM (defaults: 200 trees, 15 leaves) under 5-fold CV on {r['bars']:,} bars "
            f"({r['samples']:,} labelled samples × {r['features']} features)",
            ["what", "seconds", "log loss", "train rows/fold"],
            [
                ["features + labels (make_dataset)", r["prep_s"], "", ""],
                ["purged k-fold splits (purge + embargo)", r["split_s"], "", ""],
                ["purged 5-fold CV, embargo 1 %", r["purged_s"], r["purged_log_loss"], r["mean_train_rows_purged"]],
                ["peer: unpurged contiguous 5-fold", r["unpurged_s"], r["unpurged_log_loss"], r["mean_train_rows_unpurged"]],
            ],
        )  # fmt: skip
        print(f"  peak RSS of the process (VmHWM): {r['peak_rss_mib']:,.0f} MiB")
    elif name == "features":
        table(
            f"Features on {r['bars']:,} bars ({r['features']} features, the default set)",
            ["implementation", "seconds (median)", "bars/s"],
            [
                [
                    "workbench build_features (Numba indicator library)",
                    r["workbench_s"],
                    r["bars"] / r["workbench_s"],
                ],
                ["peer: the same formulas in pandas", r["pandas_s"], r["bars"] / r["pandas_s"]],
            ],
        )
        print(
            f"  look-ahead checks on these bars (cut at t / different future after t): "
            f"{r['lookahead_checks_passed']} of 4 passed; peak RSS {r['peak_rss_mib']:,.0f} MiB"
        )
    elif name == "regimes":
        table(
            f"Regimes: 3-state Gaussian HMM fitted on 20,000 bars, probabilities for {r['bars']:,} bars",
            ["what", "seconds"],
            [
                ["fit (hmmlearn, full covariances, 1 BLAS thread)", r["fit_s"]],
                ["workbench forward filter (causal)", r["filter_s"]],
                ["peer: hmmlearn predict_proba (smoothed: sees the future)", r["smooth_s"]],
            ],
        )
    elif name == "leakage":
        table(
            f"Naive vs purged CV on EURUSD 1h ({r['samples']:,} triple-barrier samples, 24-bar limit, "
            f"base rate {r['base_rate']:.3f}); chance: AUC 0.5, log loss = baseline",
            ["model", "scheme", "splits", "AUC", "accuracy", "log loss", "baseline", "AUC inflation"],
            [
                [x["model"], x["scheme"], x["splits"], x["auc"], x["accuracy"], x["log_loss"],
                 x["baseline_log_loss"], x["auc_inflation"]]
                for x in r["rows"]
            ],
        )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=sorted(STAGES))
    ap.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--single", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cv-bars", type=int, default=100_000)
    ap.add_argument("--feature-bars", type=int, default=1_000_000)
    args = ap.parse_args()
    if args.stage:
        print(json.dumps(STAGES[args.stage](args)))
        return
    argv = []
    if args.quick:
        args.cv_bars, args.feature_bars, args.repeats, args.single = 20_000, 200_000, 3, 500
    argv = ["--batch", str(args.batch), "--single", str(args.single), "--repeats", str(args.repeats),
            "--cv-bars", str(args.cv_bars), "--feature-bars", str(args.feature_bars)]  # fmt: skip
    import os

    print(
        f"workbench ML benchmark — {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}"
    )
    for name in [args.only] if args.only else ["predict", "features", "regimes", "cv", "leakage"]:
        t = time.perf_counter()
        report(name, run_stage(name, argv))
        print(f"  ({time.perf_counter() - t:.0f} s wall for this section, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
