"""Drawdown against the figures MetaTrader 5 printed in real tester reports.

MT5's "Balance Drawdown Maximal" is the largest peak-to-trough fall of the balance (money, with the %
of that peak) and "Balance Drawdown Relative" the largest fall in % of the peak. MT5 walks the balance
deal by deal, so an entry-deal commission dips the balance before the close; in these two reports no
commission was charged, the balance moves only at trade closes, and our trade-by-trade curve is MT5's.
(zhijucen_246753_ReportTester.html charges commission on every deal and is therefore not compared.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.analytics import compute_metrics
from workbench.ingest import parse_file

try:
    from conftest import real
except ImportError:  # pragma: no cover - run outside the tests/ rootdir
    _REAL = (Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "real").resolve()

    def real(rel: str) -> Path:
        return _REAL / rel


CASES = {
    # "Balance Drawdown Maximal: 967.94 (8.09%)", "Balance Drawdown Relative: 8.09% (967.94)",
    # "Initial Deposit: 10 000.00"
    "mt5_tester_html/mihawk2016_MT5EA_moving_average_usdjpy.html": (967.94, 8.09),
    # "Balance Drawdown Maximal: 12.80 (68.49%)", "Balance Drawdown Relative: 68.49% (12.80)",
    # "Initial Deposit: 12.00"
    "mt5_tester_html/didinska21_zero_to_hero_report.html": (12.80, 68.49),
}


@pytest.mark.parametrize("rel", sorted(CASES))
def test_balance_drawdown_matches_mt5(rel: str) -> None:
    parsed = parse_file(real(rel))
    assert parsed.trades is not None and parsed.initial_balance is not None
    assert float(parsed.trades["commission"].abs().sum()) == 0.0  # the premise of the comparison
    m = compute_metrics(parsed.trades, parsed.initial_balance, parsed.cash_flows)
    money, pct = CASES[rel]
    assert m.max_drawdown == pytest.approx(money, abs=0.005)  # printed to the cent
    assert m.max_drawdown_pct == pytest.approx(pct, abs=0.005)  # printed with two decimals
