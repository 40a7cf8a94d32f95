"""Rule inference: ground-truth recovery, speed against a naive peer, and the real reports.

    .venv/bin/python benchmarks/infer.py [--cases 50] [--seed 0] [--real] [--peer]

1. **Ground truth** (issue 15): ``--cases`` seeded cases cycling through the library strategies, each
   with random parameters (plausible spans, see ``draw``), traded by the engine on the packaged real
   hourly EURUSD bars with costs (0.02 % commission per fill, 1 pip spread), both directions, and in two
   cases of three a random stop-loss (ATR multiple) or take-profit (% of the entry). The engine's trades
   are handed to :func:`workbench.infer.infer_trades` as a bot's would be (its exit labels are never
   used to classify). A case is *recovered* when the answer is the true strategy, or one whose replay
   has exactly the true trades (entries and exits at the same bars, tolerance 0), with entry F1 >= 0.95.
   Table: case, true strategy/params/stops, found, entry F1, exit F1, seconds; summary: recovered
   share (target >= 90 % of 50), median seconds per case.
2. **Peer** (``--peer``): the naive way to get per-combination trades, one :func:`workbench.backtest.run`
   per combination, against the bulk scoring kernel, on the same coarse grid (sma_cross and macd),
   per combination, medians of 3.
3. **Real reports** (``--real``): every real MT4/MT5/cTrader export in ../shared/fixtures/real ingested
   into a temporary workspace with the packaged bars; ``workbench infer`` on each backtest: the agreement
   reached, or the one-line refusal when no bars cover its trades.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.backtest import get_strategy, run  # noqa: E402
from workbench.data.samples import sample_frames  # noqa: E402
from workbench.infer import agreement, infer_trades, place  # noqa: E402

STRATS = ("sma_cross", "ema_cross", "macd", "rsi_reversion", "bollinger_breakout", "donchian_breakout")
COSTS = {"commission": 0.0002, "spread": "1pips", "direction": "both"}


def draw(name: str, rng: random.Random) -> dict:
    """Random parameters a bot plausibly uses."""
    if name in ("sma_cross", "ema_cross"):
        fast = rng.randint(3, 40)
        return {"fast": fast, "slow": rng.randint(fast + 5, 200)}
    if name == "macd":
        fast = rng.randint(4, 20)
        return {"fast": fast, "slow": rng.randint(fast + 5, 60), "signal": rng.randint(3, 20)}
    if name == "rsi_reversion":
        return {"window": rng.randint(5, 30), "lower": rng.randint(15, 40), "upper": rng.randint(60, 85)}
    if name == "bollinger_breakout":
        return {"window": rng.randint(10, 100), "k": round(rng.uniform(1.0, 3.0), 1)}
    entry = rng.randint(10, 100)
    return {"entry": entry, "exit": rng.randint(3, min(60, entry - 1))}


def stops(rng: random.Random, case: int) -> dict:
    kind = case % 3
    if kind == 1:
        return {"stop_loss": f"{round(rng.uniform(1.0, 3.0), 1)}atr"}
    if kind == 2:
        return {"take_profit": f"{round(rng.uniform(0.3, 1.0), 2)}%"}
    return {}


def ground_truth(n_cases: int, seed: int) -> list[dict]:
    bars = sample_frames()["EURUSD:1h"]
    ts = bars["ts"].cast(pl.Int64).to_numpy()
    rows = []
    print(f"ground truth: {n_cases} cases on EURUSD:1h ({bars.height} bars), costs {COSTS}")
    head = f"{'case':>4} {'true':<19} {'params':<36} {'stops':<20} {'found':<19} {'params':<36} {'eF1':>6} {'xF1':>6} {'ok':>3} {'s':>6}"
    print(head)
    for case in range(n_cases):
        rng = random.Random(seed * 1000 + case)
        name = STRATS[case % len(STRATS)]
        for _ in range(20):  # redraw until the bot trades at least 10 times
            params = draw(name, rng)
            st = stops(rng, case)
            truth = run(bars, name, params, **COSTS, **st)
            if truth.trades.height >= 10:
                break
        t0 = time.perf_counter()
        res, best = infer_trades(bars, truth.trades, key="EURUSD:1h", strategies=list(STRATS))
        secs = time.perf_counter() - t0
        same = res.strategy == name
        identical = False
        if not same:
            ag0, _ = agreement(place(truth.trades, ts), place(best["res"].trades, ts), 0)
            identical = ag0.entry_f1 == 1.0 and ag0.exit_f1 == 1.0
        ok = (same or identical) and res.agreement.entry_f1 >= 0.95
        rows.append(
            {
                "case": case,
                "true": name,
                "params": params,
                "stops": st,
                "found": res.strategy,
                "found_params": res.params,
                "found_settings": res.settings,
                "entry_f1": res.agreement.entry_f1,
                "exit_f1": res.agreement.exit_f1,
                "trades": truth.trades.height,
                "recovered": ok,
                "seconds": secs,
            }
        )
        fp = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in res.params.items()}
        fs = {k: v for k, v in res.settings.items() if k != "direction"}
        print(
            f"{case:>4} {name:<19} {str(params):<36} {str(st):<20} {res.strategy:<19} {str(fp):<36} "
            f"{res.agreement.entry_f1:>6.3f} {res.agreement.exit_f1:>6.3f} {'yes' if ok else 'NO':>3} {secs:>6.2f}"
            + (f"  stops found {fs}" if fs else "")
        )
        sys.stdout.flush()
    rec = sum(r["recovered"] for r in rows)
    print(
        f"\nrecovered {rec}/{len(rows)} = {rec / len(rows):.0%} (target >= 90 %); "
        f"median entry F1 {statistics.median(r['entry_f1'] for r in rows):.3f}, "
        f"median exit F1 {statistics.median(r['exit_f1'] for r in rows):.3f}; "
        f"seconds per case: median {statistics.median(r['seconds'] for r in rows):.2f}, "
        f"max {max(r['seconds'] for r in rows):.2f} (load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    return rows


def peer() -> None:
    from workbench.infer.search import Scorer
    from workbench.infer.space import coarse_grid

    bars = sample_frames()["EURUSD:1h"]
    ts = bars["ts"].cast(pl.Int64).to_numpy()
    truth = run(bars, "sma_cross", {"fast": 12, "slow": 60}, **COSTS)
    real = place(truth.trades, ts)
    print("\npeer: per-combination trades, naive run() per combination vs the bulk scoring kernel")
    print(
        f"{'strategy':<12} {'combos':>7} {'naive s':>9} {'bulk s':>9} {'naive us/combo':>15} {'bulk us/combo':>14} {'x':>6}"
    )
    for name in ("sma_cross", "macd"):
        spec = get_strategy(name)
        grid = coarse_grid(spec)
        scorer = Scorer(bars, real, 1, "both")
        scorer.score(spec, grid.head(2))  # compiled
        bulk, naive = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            scorer.score(spec, grid)
            bulk.append(time.perf_counter() - t0)
        sub = grid.head(min(grid.height, 300))  # the naive peer on a slice (it is slow), scaled
        for _ in range(3):
            t0 = time.perf_counter()
            for row in sub.iter_rows(named=True):
                cand = place(run(bars, spec, row, direction="both").trades, ts)
                agreement(real, cand, 1)
            naive.append((time.perf_counter() - t0) * grid.height / sub.height)
        b, n = statistics.median(bulk), statistics.median(naive)
        print(
            f"{name:<12} {grid.height:>7} {n:>9.2f} {b:>9.3f} {n / grid.height * 1e6:>15.0f} "
            f"{b / grid.height * 1e6:>14.0f} {n / b:>6.0f}"
        )


def real_reports() -> None:
    from workbench.workspace import open_workspace

    real_dir = (ROOT / ".." / "shared" / "fixtures" / "real").resolve()
    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workspace(Path(tmp) / "lake")
        ws.load_samples()
        ws.ingest([real_dir], index=False)
        bts = ws.backtests().sort("id")
        print(
            f"\nreal reports: {bts.height} backtests from {real_dir}; bars: "
            + ", ".join(
                f"{s}:{t} {a:%Y-%m-%d}..{b:%Y-%m-%d}"
                for s, t, a, b in ws.bar_series().select("symbol", "timeframe", "first", "last").iter_rows()
            )
        )
        for row in bts.iter_rows(named=True):
            label = f"{row['id']:>3} {row['name'][:44]:<44} {row['symbol'] or '-':<9} {row['timeframe'] or '-':<4}"
            try:
                from workbench.infer import infer

                r = infer(ws, row["id"], store=False)
                ag = r.agreement
                print(
                    f"{label} on {r.bars}: {r.strategy} {r.params} {r.settings} entry F1 {ag.entry_f1:.3f} "
                    f"exit F1 {ag.exit_f1:.3f} P/L corr {ag.pnl_correlation} ({ag.matched}/{ag.real} matched, "
                    f"{ag.extra} extra) exits {r.exits['counts']} {r.seconds:.1f} s; notes: {r.notes[1:] or r.notes}"
                )
            except Exception as exc:  # noqa: BLE001 - the refusal is the result
                print(f"{label} refused: error: {exc}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real", action="store_true", help="also the real reports")
    ap.add_argument("--peer", action="store_true", help="also the naive peer")
    ap.add_argument("--only", choices=("truth", "peer", "real"), default=None)
    a = ap.parse_args()
    if a.only in (None, "truth"):
        ground_truth(a.cases, a.seed)
    if a.peer or a.only == "peer":
        peer()
    if a.real or a.only == "real":
        real_reports()
    np.seterr(all="ignore")


if __name__ == "__main__":
    main()
