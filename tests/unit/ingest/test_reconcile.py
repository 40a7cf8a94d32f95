"""Tiered reconciliation, anomalies, --strict, unknown balances and parser-bug errors (issue 12)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta

import polars as pl
import pytest
from conftest import real

from workbench.analytics import compute_metrics
from workbench.errors import DataError
from workbench.ingest import parse_bytes
from workbench.ingest.records import TRADES_SCHEMA, Parsed, conform
from workbench.ingest.validate import validate

T0 = datetime(2024, 1, 1, 10)


def _trades(nets: list[float], profits: list[float] | None = None) -> pl.DataFrame:
    profits = profits or nets
    rows = [
        dict(
            trade_id=str(i + 1),
            open_time=T0 + timedelta(days=i),
            close_time=T0 + timedelta(days=i, hours=2),
            direction="long",
            profit=p,
            commission=n - p,
            swap=0.0,
            net_profit=n,
        )
        for i, (n, p) in enumerate(zip(nets, profits, strict=True))
    ]
    return conform(rows, TRADES_SCHEMA)


def _parsed(trades: pl.DataFrame, **kw) -> Parsed:
    return Parsed(format="test", kind="backtest", name="t", platform="mt4", trades=trades, **kw)


def test_a_printed_net_profit_the_rows_do_not_reproduce_is_rejected_naming_both_figures() -> None:
    p = _parsed(_trades([10.0, -4.0]), stated={"net_profit": 7.0})
    with pytest.raises(DataError) as e:
        validate(p)
    assert "net_profit 7.00" in str(e.value) and "6.00" in str(e.value) and "truncated" not in str(e.value)


def test_a_secondary_mismatch_warns_with_the_likely_convention_and_strict_rejects() -> None:
    # wins counted before commission: trade 2 made +1.00 gross, -0.50 net of a 1.50 commission
    t = _trades([10.0, -0.5, -4.0], profits=[10.0, 1.0, -4.0])
    p = _parsed(t, stated={"net_profit": 5.5, "total_trades": 3, "winning_trades": 2})
    out = validate(p)
    (w,) = out.warnings
    assert "winning_trades" in w and "prints 2" in w and "give 1" in w
    assert "profit before commission" in w
    with pytest.raises(DataError, match="--strict"):
        validate(p, strict=True)


def test_platform_figures_are_what_the_printed_totals_are_compared_with() -> None:
    t = _trades([10.0, -4.0])
    stated = {"net_profit": 6.0, "gross_profit": 10.0, "gross_loss": -4.5}  # per deal: commission apart
    ok = validate(_parsed(t, stated=stated, platform_figures={"gross_profit": 10.0, "gross_loss": -4.5}))
    assert ok.warnings == ()
    warned = validate(_parsed(t, stated=stated))
    assert any("gross_loss" in w and "per position" in w for w in warned.warnings)


def test_a_trade_closing_before_it_opens_is_kept_as_an_anomaly_and_strict_rejects() -> None:
    t = _trades([1.0, 2.0]).with_columns(
        pl.when(pl.col("trade_id") == "2")
        .then(T0 - timedelta(days=3))
        .otherwise(pl.col("close_time"))
        .alias("close_time")
    )
    out = validate(_parsed(t))
    assert out.anomalies == ({"row": 2, "trade_id": "2", "what": out.anomalies[0]["what"]},)
    assert "before it opens" in out.warnings[0]
    with pytest.raises(DataError, match="strict"):
        validate(_parsed(t), strict=True)
    m = compute_metrics(t, 1000.0)
    assert m.avg_trade_duration_seconds == 7200.0  # the anomalous row is left out
    assert any("close before they open" in a for a in m.assumptions)


def test_an_unknown_initial_balance_makes_percentages_null_not_inflated() -> None:
    t = _trades([100.0, -50.0, 30.0, -20.0])
    m = compute_metrics(t, None)
    assert m.initial_balance is None and m.final_balance is None
    assert m.max_drawdown_pct is None and m.sharpe_ratio is None and m.sortino_ratio is None
    assert m.max_drawdown == 50.0 and m.net_profit == 60.0
    assert "initial balance unknown" in m.assumptions[0]
    known = compute_metrics(t, 10_000.0)
    assert known.max_drawdown_pct == pytest.approx(100 * 50 / 10_100)


def test_a_parser_exception_is_reported_as_a_parser_bug_with_its_cause(monkeypatch) -> None:
    from workbench.ingest import registry

    registry.load_all()
    p = registry.PARSERS.get("trades_csv")

    def boom(data: bytes, name: str) -> Parsed:
        raise KeyError("column_x")

    monkeypatch.setitem(
        registry.PARSERS._items, "trades_csv", registry.Parser(p.name, p.detect, boom, p.priority)
    )
    with pytest.raises(DataError) as e:
        parse_bytes(b"trade_id,open_time\n1,2024-01-01\n", "x.csv", fmt="trades_csv")
    msg = str(e.value)
    assert "parser trades_csv failed" in msg and "KeyError" in msg and "column_x" in msg
    assert "WORKBENCH_DEBUG=1" in msg and "damaged" not in msg.split("not necessarily")[0]


def _cli(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ingest_json_gives_each_kind_its_own_id_and_metrics_names_a_parameter_set(tmp_path) -> None:
    home = tmp_path / "lake"
    files = [
        real("ctrader_cbotset/abhacid_mechanic_eurusd_m1.cbotset"),
        real("mt4_tester_html/reuniware_jcspatterns_gbpjpy_fr.htm"),
        real("ctrader_legacy_history_xml/abhacid_martingale_forex_eurusd_m8_history.xml"),
    ]
    out = _cli(home, "ingest", *map(str, files), "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)["files"]
    params, tester, anomalous = got
    assert params["parameter_set_id"] is not None and params["backtest_id"] is None
    assert tester["backtest_id"] is not None and tester["parameter_set_id"] is None
    assert anomalous["status"] == "ingested" and anomalous["anomalies"][0]["trade_id"] == "412"
    assert "412" in anomalous["warnings"][0]
    bad = _cli(home, "metrics", str(params["parameter_set_id"]))
    assert bad.returncode != 0 and "is a parameter set" in bad.stderr
    m = json.loads(_cli(home, "metrics", str(anomalous["backtest_id"]), "--json").stdout)
    assert m["anomalies"][0]["trade_id"] == "412" and m["initial_balance"] is None
    assert m["max_drawdown_pct"] is None and any("initial balance unknown" in a for a in m["assumptions"])
    assert m["timezone"] == "UTC"
    with_balance = json.loads(
        _cli(home, "metrics", str(anomalous["backtest_id"]), "--initial-balance", "10000", "--json").stdout
    )
    assert with_balance["max_drawdown_pct"] is not None and with_balance["final_balance"] is not None
    strict_home = tmp_path / "strict"
    rejected = _cli(strict_home, "ingest", str(files[2]), "--strict", "--json")
    assert rejected.returncode != 0 and json.loads(rejected.stdout)["rejected"] == 1
    assert "trade 412" in rejected.stderr and "--strict" in rejected.stderr
