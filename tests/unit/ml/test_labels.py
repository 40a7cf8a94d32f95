"""Labels against hand-built paths and a plain-Python re-implementation of the barrier search."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest

from workbench.errors import ConfigError, DataError
from workbench.ml import LabelSpec, fixed_horizon, make_labels, meta_labels, triple_barrier
from workbench.ml.labels import barrier_vol, binary_target


def _bars(close: np.ndarray) -> pl.DataFrame:
    ts = [datetime(2021, 3, 1) + timedelta(hours=i) for i in range(close.size)]
    return pl.DataFrame({"ts": pl.Series(ts, dtype=pl.Datetime("us")), "open": close, "high": close,
                         "low": close, "close": close, "volume": np.ones(close.size)})  # fmt: skip


def test_fixed_horizon_by_hand():
    close = np.array([1.0, 1.1, 1.0, 1.2, 1.2, 0.9])
    out = fixed_horizon(_bars(close), 2, threshold=0.05)
    assert out.height == 4  # the last 2 bars have no label
    np.testing.assert_allclose(out["ret"].to_numpy(), np.log(close[2:] / close[:-2]))
    # ln(1.0/1.0)=0 -> 0; ln(1.2/1.1)=0.087 -> +1; ln(1.2/1.0) -> +1; ln(0.9/1.2) -> -1
    assert out["label"].to_list() == [0, 1, 1, -1]
    assert out["t1"].to_list() == _bars(close)["ts"].to_list()[2:]


def test_barrier_vol_is_the_ewm_std_scaled_to_the_holding_period(eurusd):
    c = eurusd["close"].to_numpy()
    r = pd.Series(np.log(c[1:] / c[:-1]))
    want = np.sqrt((r**2).ewm(span=50, adjust=False, min_periods=50).mean()) * math.sqrt(24)
    np.testing.assert_allclose(barrier_vol(c, span=50, max_hold=24)[1:], want.to_numpy(), rtol=1e-12)


def _oracle(close, vol, pt, sl, max_hold, side=None):
    """Plain-Python first touch: {i: (j, ret, label)}."""
    out = {}
    n = len(close)
    for i in range(n):
        s = 1.0 if side is None else side[i]
        if not vol[i] > 0 or s == 0:
            continue
        found = None
        for j in range(i + 1, min(i + max_hold, n - 1) + 1):
            r = math.log(close[j] / close[i]) * s
            if pt > 0 and r >= pt * vol[i]:
                found = (j, 1)
                break
            if sl > 0 and r <= -sl * vol[i]:
                found = (j, -1)
                break
        if found is None and i + max_hold <= n - 1:
            j = i + max_hold
            r = math.log(close[j] / close[i]) * s
            found = (j, int(np.sign(r)))
        if found:
            j, lab = found
            r = math.log(close[j] / close[i]) * s
            out[i] = (j, r, (1 if r > 0 else 0) if side is not None else lab)
    return out


@pytest.mark.parametrize("pt,sl,hold", [(1.0, 1.0, 24), (2.0, 0.5, 12), (0.0, 1.0, 6), (1.5, 0.0, 48)])
def test_triple_barrier_matches_plain_python(eurusd, pt, sl, hold):
    bars = eurusd.slice(0, 1500)
    close = bars["close"].to_numpy()
    vol = barrier_vol(close, span=50, max_hold=hold)
    want = _oracle(close, vol, pt, sl, hold)
    got = triple_barrier(bars, pt=pt, sl=sl, max_hold=hold, vol_span=50)
    idx = {t: i for i, t in enumerate(bars["ts"].to_list())}
    assert got.height == len(want)
    for row in got.iter_rows(named=True):
        j, r, lab = want[idx[row["ts"]]]
        assert idx[row["t1"]] == j and row["label"] == lab
        assert row["ret"] == pytest.approx(r, rel=1e-12)
    assert (got["t1"] > got["ts"]).all()


def test_triple_barrier_hand_path():
    # flat for the vol warm-up (alternating +-0.1% moves), then a steady climb: the upper barrier is hit
    wiggle = 1.0 * np.exp(np.cumsum(np.tile([0.001, -0.001], 30)))
    climb = wiggle[-1] * np.exp(np.cumsum(np.full(30, 0.0025)))
    close = np.r_[wiggle, climb]
    bars = _bars(close)
    out = triple_barrier(bars, pt=1.0, sl=1.0, max_hold=4, vol_span=10)
    i = 59  # the last wiggle bar: sigma = 0.001 * sqrt(4) = 0.002 -> touched by the first +0.25 % close
    row = out.filter(pl.col("ts") == bars["ts"][i]).row(0, named=True)
    assert row["t1"] == bars["ts"][i + 1] and row["label"] == 1
    assert row["ret"] == pytest.approx(0.0025)
    sig = barrier_vol(close, span=10, max_hold=4)[i]
    assert sig == pytest.approx(0.002, rel=1e-6)
    # the last bars have no complete window and touch nothing: dropped
    assert out["ts"].max() < bars["ts"][-1]


def test_meta_labels_say_whether_the_trade_made_money(eurusd):
    bars = eurusd.slice(0, 800)
    ts = bars["ts"]
    entries = pl.DataFrame({"ts": [ts[100], ts[100], ts[300], ts[500]], "side": [1, -1, -1, 1]})
    with pytest.raises(DataError, match="not a bar"):
        meta_labels(bars, entries.with_columns(pl.col("ts") + timedelta(minutes=1)))
    entries = entries.slice(1)  # one entry per bar
    out = meta_labels(bars, entries, max_hold=12)
    close = bars["close"].to_numpy()
    side = np.zeros(bars.height)
    for t, s in zip(entries["ts"], entries["side"], strict=True):
        side[ts.to_list().index(t)] = s
    want = _oracle(close, barrier_vol(close, span=50, max_hold=12), 1.0, 1.0, 12, side)
    assert sorted(want) == [ts.to_list().index(t) for t in out["ts"]]
    for row in out.iter_rows(named=True):
        j, r, lab = want[ts.to_list().index(row["ts"])]
        assert row["label"] == lab == (1 if row["ret"] > 0 else 0)
    assert out.columns == ["ts", "side", "t1", "ret", "label"]
    # the same trade taken long and short: one of them made money
    both = meta_labels(bars, pl.DataFrame({"ts": [ts[300]], "side": [1]}), max_hold=12)
    assert both["label"][0] + out.filter(pl.col("ts") == ts[300])["label"][0] == 1


def test_label_spec_parse_and_make_labels(eurusd):
    spec = LabelSpec.parse("triple_barrier:horizon=12,pt=2,sl=1")
    assert spec == LabelSpec(kind="triple_barrier", horizon=12, pt=2.0, sl=1.0)
    assert LabelSpec.from_dict(spec.to_dict()) == spec
    bars = eurusd.slice(0, 600)
    assert make_labels(bars, spec).equals(triple_barrier(bars, pt=2, sl=1, max_hold=12))
    assert make_labels(bars, "fixed_horizon:horizon=6").equals(fixed_horizon(bars, 6))
    assert set(binary_target(make_labels(bars, spec)).tolist()) == {0, 1}
    with pytest.raises(ConfigError, match="entries"):
        make_labels(bars, "meta")
    with pytest.raises(Exception, match="unknown label 'triple'"):
        LabelSpec.parse("triple")


def test_meta_labels_of_engine_trades_start_at_the_signal_bar(eurusd):
    from workbench.backtest import run

    trades = run(eurusd, "sma_cross", {"fast": 10, "slow": 50}, direction="both").trades
    out = meta_labels(eurusd, trades)
    signal = (
        eurusd.select("ts").with_row_index("i").filter(pl.col("i").is_in((trades["entry_bar"] - 1).implode()))
    )
    assert set(out["ts"]) <= set(signal["ts"]) and out.height >= trades.height - 2
    side = dict(zip(eurusd["ts"].gather(trades["entry_bar"] - 1), trades["direction"], strict=True))
    assert all((s == 1) == (side[t] == "long") for t, s in zip(out["ts"], out["side"], strict=True))
