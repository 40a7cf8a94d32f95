"""Cross-backtest facts never add money across currencies and leave in-sample sweep results out."""

from __future__ import annotations

from datetime import datetime, timedelta

from workbench.ingest.load import write_backtest
from workbench.ingest.records import TRADES_SCHEMA, Parsed, conform
from workbench.rag.facts import find_facts
from workbench.store import Q
from workbench.workspace import open_workspace


def _parsed(name: str, currency: str, nets: list[float]) -> Parsed:
    t0 = datetime(2024, 1, 1, 9)  # a Monday
    rows = [
        dict(trade_id=str(i), open_time=t0 + timedelta(days=7 * i), close_time=t0 + timedelta(days=7 * i, hours=1),
             direction="long", net_profit=n)
        for i, n in enumerate(nets)
    ]  # fmt: skip
    return Parsed(format="t", kind="backtest", name=name, currency=currency, initial_balance=1000.0,
                  trades=conform(rows, TRADES_SCHEMA))  # fmt: skip


def _store(ws, parsed: Parsed, origin: str = "imported") -> int:
    with ws.store.transaction() as con:
        bid = con.execute(Q.next_object_id).fetchall()[0][0]
        write_backtest(con, bid, parsed, "test", None, origin=origin)
    return bid


def test_money_is_summed_per_currency_and_sweeps_are_left_out_unless_asked(tmp_path) -> None:
    ws = open_workspace(tmp_path / "lake")
    usd = _store(ws, _parsed("usd", "USD", [-100.0, 50.0]))
    jpy = _store(ws, _parsed("jpy", "JPY", [-10_000.0]))
    sweep = _store(ws, _parsed("best of sweep", "USD", [-5.0]), origin="sweep")
    found = find_facts(ws, "Which weekdays lose money?", intents=["weekday"])
    values = {f.name: f.value for fs in found for f in fs.facts}
    assert values["net_profit_by_weekday[USD]"] == {"Monday": -50.0}  # the sweep's -5 is not in it
    assert values["net_profit_by_weekday[JPY]"] == {"Monday": -10_000.0}
    text = "\n".join(line for fs in found for line in fs.lines)
    assert "in USD" in text and "in JPY" in text and "1 in-sample sweep result(s) left out" in text
    asked = find_facts(ws, "Which weekdays lose money in my sweeps?", intents=["weekday"])
    values = {f.name: f.value for fs in asked for f in fs.facts}
    assert values["net_profit_by_weekday[USD]"] == {"Monday": -55.0}
    one = find_facts(ws, "Which weekdays lose money?", backtest_id=sweep, intents=["weekday"])
    assert {f.name: f.value for fs in one for f in fs.facts}["net_profit_by_weekday"] == {"Monday": -5.0}
    assert usd != jpy
