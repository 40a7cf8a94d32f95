"""The canonical trade order (close time, open time, trade id; stable) against polars' own three-key sort.

``in_trade_order`` sorts close times through packed (time, row) integers when they fit in 64 bits (whole
seconds, milliseconds or microseconds), else through polars' stable arg sort; both must give the
oracle's order exactly, on chunked frames too (the CSV reader leaves hundreds of chunks).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from workbench.analytics._frame import TRADE_ORDER, _close_order, in_trade_order


def _trades(n: int, span: int, unit: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = rng.integers(-span, span, n) * unit
    return pl.DataFrame(
        {
            "trade_id": [f"t{x}" for x in rng.integers(0, 40, n)],
            "open_time": pl.Series(close - rng.integers(0, 3, n) * unit).cast(pl.Datetime("us")),
            "close_time": pl.Series(close).cast(pl.Datetime("us")),
            "net_profit": rng.normal(size=n),
        }
    )


@pytest.mark.parametrize("unit", [1, 1_000, 1_000_000, 7])
@pytest.mark.parametrize("span", [3, 10_000, 10**9])
@pytest.mark.parametrize("n", [1, 2, 5, 3_000])
def test_trade_order_is_the_three_key_stable_sort(n: int, span: int, unit: int) -> None:
    frame = _trades(n, span, unit, seed=n * 31 + span % 97 + unit % 13)
    chunked = pl.concat([frame.slice(0, n // 3), frame.slice(n // 3)], rechunk=False)
    want = frame.sort(TRADE_ORDER, maintain_order=True)
    assert in_trade_order(chunked, frame.columns).equals(want)
    assert in_trade_order(frame, ["close_time", "net_profit"]).equals(want.select("close_time", "net_profit"))


def test_close_times_too_wide_to_pack_take_the_stable_sort() -> None:
    # 2**62 microseconds between the first and last close: no room for a row number beside them
    close = pl.Series("close_time", [2**62, 1, 5, 1, 2**62]).cast(pl.Datetime("us"))
    order, times = _close_order(close)
    assert order.to_list() == [1, 3, 2, 0, 4]
    assert times.to_physical().to_list() == close.to_physical().gather([1, 3, 2, 0, 4]).to_list()


def test_the_input_is_left_as_it_was_and_the_time_type_kept() -> None:
    close = pl.Series("close_time", [3_000, 1_000, 2_000, 1_000]).cast(pl.Datetime("ms", "UTC"))
    before = close.clone()
    order, times = _close_order(close)
    assert close.equals(before) and times.dtype == close.dtype
    assert order.to_list() == [1, 3, 2, 0] and times.to_list() == close.gather([1, 3, 2, 0]).to_list()
