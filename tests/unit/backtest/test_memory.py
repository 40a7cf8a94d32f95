"""Streaming a big sweep keeps memory bounded: 1M bars x 1 000 combinations under 4 GiB peak RSS."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import numpy as np, polars as pl
    from workbench.backtest import iter_sweep
    n = 1_000_000
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    bars = pl.DataFrame({
        "ts": pl.datetime_range(pl.datetime(2000, 1, 1), pl.datetime(2000, 1, 1) + pl.duration(hours=n - 1),
                                "1h", eager=True),
        "open": close, "high": close * 1.001, "low": close * 0.999, "close": close, "volume": np.ones(n),
    })
    grid = {"fast": list(range(5, 55, 5)), "slow": list(range(60, 560, 5))}
    rows = sum(c.height for c in iter_sweep(bars, "sma_cross", grid, chunk_size=250))
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
    print(rows, int(hwm) // 1024)
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_one_million_bars_by_a_thousand_combos_stays_under_4_gib():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=900
    )
    rows, peak_mib = map(int, out.stdout.split())
    assert rows == 1000
    assert peak_mib < 4096, f"peak RSS {peak_mib} MiB"
