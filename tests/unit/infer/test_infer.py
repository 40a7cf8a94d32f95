"""Rule inference against known ground truth: the engine's own trades on the real hourly EURUSD bars.

Oracles: hand-built trade lists (matching), the engine's ``run()`` trades (the bulk kernel's counts),
the parameters and stops a bot was run with (recovery), and the engine's exit reasons (classification,
never fed to the classifier)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from workbench.backtest import get_strategy, run
from workbench.backtest.indicators import atr
from workbench.data.samples import sample_frames
from workbench.infer import (
    agreement,
    classify_exits,
    coarse_grid,
    describe_rules,
    estimate_stop,
    infer_trades,
    place,
)
from workbench.infer.search import Scorer

COSTS = {"commission": 0.0002, "spread": "1pips", "direction": "both"}


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return sample_frames()["EURUSD:1h"]


@pytest.fixture(scope="module")
def ts(bars) -> np.ndarray:
    return bars["ts"].cast(pl.Int64).to_numpy()


def _trades(rows):
    base = dt.datetime(2020, 1, 6)
    return pl.DataFrame(
        {
            "open_time": [base + dt.timedelta(hours=a) for a, _, _ in rows],
            "close_time": [base + dt.timedelta(hours=b) for _, b, _ in rows],
            "direction": [d for _, _, d in rows],
            "entry_price": [1.0] * len(rows),
            "exit_price": [1.01 if d == "long" else 0.99 for *_, d in rows],
        }
    )


def test_matching_by_hand():
    ts = np.array([np.datetime64("2020-01-06T00:00") + np.timedelta64(h, "h") for h in range(40)])
    ts = ts.astype("datetime64[us]").astype(np.int64)
    real = place(_trades([(2, 5, "long"), (10, 12, "short"), (20, 25, "long"), (30, 33, "long")]), ts)
    # one exact, one a bar late (same side), one on the wrong side, one missing; one candidate after the
    # real trades' span (bars 1..34 with tol 1), which does not count
    cand = place(
        _trades([(2, 5, "long"), (11, 12, "short"), (20, 25, "short"), (37, 39, "long")]),
        ts,
    )
    ag, pair = agreement(real, cand, tol=1)
    assert (ag.matched, ag.missed, ag.extra) == (2, 2, 1)
    assert ag.entry_f1 == pytest.approx(2 * 2 / (3 + 4))
    assert ag.precision == pytest.approx(2 / 3) and ag.recall == pytest.approx(0.5)
    assert list(pair) == [0, 1, -1, -1]
    # exits: (5, long) and (12, short) match; (25, long) vs (25, short): wrong side
    assert ag.exits_matched == 2
    strict, _ = agreement(real, cand, tol=0)
    assert strict.matched == 1  # the late entry no longer matches


def test_bulk_kernel_counts_equal_engine_replays(bars, ts):
    """The bulk scores of a grid equal what the engine's exact trades give, combination by combination
    (no stops: the bulk walk is the engine's order logic)."""
    truth = run(bars, "ema_cross", {"fast": 9, "slow": 40}, **COSTS)
    real = place(truth.trades, ts)
    spec = get_strategy("ema_cross")
    grid = coarse_grid(spec).sample(25, seed=3)
    scored = Scorer(bars, real, 1, "both").score(spec, grid)
    for row in scored.iter_rows(named=True):
        cand = place(run(bars, spec, {"fast": row["fast"], "slow": row["slow"]}, direction="both").trades, ts)
        ag, _ = agreement(real, cand, 1)
        # the bulk walk counts a position still open at the end as an entry; the engine does not
        assert row["matched"] == ag.matched
        assert row["entries"] - ag.candidate in (0, 1)
        assert row["exits_matched"] == ag.exits_matched


CASES = [
    ("sma_cross", {"fast": 17, "slow": 88}, {"stop_loss": "2.2atr"}),
    ("rsi_reversion", {"window": 11, "lower": 28, "upper": 74}, {}),
    ("bollinger_breakout", {"window": 35, "k": 1.8}, {"take_profit": "0.6%"}),
]


@pytest.mark.parametrize(("name", "params", "stops"), CASES, ids=[c[0] for c in CASES])
def test_ground_truth_recovered(bars, name, params, stops):
    truth = run(bars, name, params, **COSTS, **stops)
    res, _ = infer_trades(bars, truth.trades, key="EURUSD:1h")
    assert res.strategy == name
    assert res.agreement.entry_f1 >= 0.95
    assert res.settings["direction"] == "both"
    for key, value in stops.items():  # the stop kind is found, its value close to the truth
        assert key in res.settings
        found = res.settings[key]
        assert found.endswith(value[-3:]) or found.endswith("%") == value.endswith("%")
    assert res.exits["agree_with_stated"] >= 0.9  # the engine's own exit reasons, never used to classify
    assert res.candidates[0]["strategy"] == res.strategy and len(res.candidates) <= 5
    assert any("crosses" in r for r in res.rules)


def test_stop_estimate_and_classes(bars, ts):
    truth = run(bars, "sma_cross", {"fast": 10, "slow": 60}, **COSTS, stop_loss="1.5atr")
    real = place(truth.trades, ts)
    rule = place(run(bars, "sma_cross", {"fast": 10, "slow": 60}, direction="both").trades, ts)
    a = atr(*(bars[c].to_numpy() for c in ("high", "low", "close")), 14)
    ex = classify_exits(real, rule, a, 1, bars["open"].to_numpy())
    stated = truth.trades["exit_reason"].to_list()
    assert sum(k == s for k, s in zip(ex.kind, stated, strict=True)) / len(stated) >= 0.95
    unit, value, _ = estimate_stop(real, ex, "stop_loss", a)[0]
    assert unit == "atr" and value == pytest.approx(1.5, rel=0.1)


def test_rules_are_readable():
    lines = describe_rules(get_strategy("macd"), {"fast": 8, "slow": 30, "signal": 7},
                           {"direction": "long", "stop_loss": "2atr"}, time_bars=12)  # fmt: skip
    assert lines[0].startswith("long entry: EMA(8) - EMA(30) crosses above its EMA(7)")
    assert not any(line.startswith("short") for line in lines)
    assert any("stop-loss 2atr" in line for line in lines) and any("12 bars" in line for line in lines)


def test_refuses_bars_that_do_not_cover_the_trades(bars):
    late = _trades([(0, 3, "long")]).with_columns(
        pl.col("open_time").dt.offset_by("10y"), pl.col("close_time").dt.offset_by("10y")
    )
    from workbench.errors import DataError

    with pytest.raises(DataError, match="none of its 1 trades falls inside the bars"):
        infer_trades(bars, late, key="EURUSD:1h")


def test_learned_rules_when_no_library_strategy_fits(bars):
    """A bot trading the clock (long at 10:00, short at 16:00 each day) is no library strategy; the
    tree finds the hours, and its replay through the engine agrees."""
    hours = bars["ts"].dt.hour().to_numpy()
    n = bars.height
    rows = []
    pos = None
    for i in range(1, n):
        side = "long" if hours[i] == 10 else ("short" if hours[i] == 16 else None)
        if side and (pos is None or pos[1] != side):
            if pos is not None:
                rows.append((pos[0], i, pos[1]))
            pos = (i, side)
    t = bars["ts"].to_list()
    c = bars["open"].to_list()
    trades = pl.DataFrame(
        {
            "open_time": [t[a] for a, _, _ in rows],
            "close_time": [t[b] for _, b, _ in rows],
            "direction": [d for *_, d in rows],
            "entry_price": [c[a] for a, _, _ in rows],
            "exit_price": [c[b] for _, b, _ in rows],
        }
    )
    res, _ = infer_trades(bars, trades, key="EURUSD:1h", strategies=["sma_cross"])
    assert res.learned and res.strategy == "learned_rules"
    assert res.agreement.entry_f1 >= 0.8
    assert any("hour of day" in r for r in res.rules)


def test_bars_from_a_file_the_user_ingests(tmp_path, bars):
    """No packaged bars: the user ingests a bars CSV, and the inference finds and names that series."""
    from workbench.infer import infer
    from workbench.optimize import run_sweep
    from workbench.workspace import open_workspace

    ws = open_workspace(tmp_path / "lake")
    csv = tmp_path / "EURUSD_1h.csv"
    bars.select("ts", "open", "high", "low", "close", "volume").write_csv(csv)
    report = ws.ingest([csv], index=False)
    assert report.ingested == 1, report.to_dict()
    out = run_sweep(ws, "donchian_breakout", "EURUSD:1h", {"entry": [40], "exit": [15]}, direction="both")
    res = infer(ws, out.backtest_ids[0], strategies=["donchian_breakout", "sma_cross"], store=False)
    assert res.bars == "EURUSD:1h" and res.params == {"entry": 40, "exit": 15}
    assert res.agreement.entry_f1 == 1.0
    # the same trades on a clock 3 hours ahead (a broker's server time) no longer agree; shift_hours
    # moves the stored trades exactly like that before they are placed on the bars
    bid = out.backtest_ids[0]
    ahead = ws.trades(bid).with_columns(
        pl.col("open_time").dt.offset_by("3h"), pl.col("close_time").dt.offset_by("3h")
    )
    moved = infer_trades(ws.bars("EURUSD:1h"), ahead, key="EURUSD:1h", strategies=["donchian_breakout"])[0]
    shifted = infer(ws, bid, strategies=["donchian_breakout"], shift_hours=3, store=False)
    assert moved.agreement.entry_f1 < 0.5 and shifted.agreement == moved.agreement
    assert shifted.notes[0] == "trade times shifted by +3 h before matching"


@pytest.mark.parametrize(
    "costs",
    [{"commission": 0.0002}, {"commission": "3.5/lot", "size": "2lots"}],
    ids=["fraction", "per-lot"],
)
def test_costs_read_back_give_the_same_money(bars, costs):
    from workbench.infer.core import infer_costs

    truth = run(bars, "sma_cross", {"fast": 12, "slow": 50}, direction="both", **costs)
    read = infer_costs(truth.to_trades("EURUSD"), lot=100_000)
    assert set(read) == set(costs) or set(read) == {"commission", "size"}
    replay = run(bars, "sma_cross", {"fast": 12, "slow": 50}, direction="both", **read)
    assert replay.metrics["final_equity"] == pytest.approx(truth.metrics["final_equity"], rel=1e-9)
