"""cTrader backtest event log as a JSON array (``ctrader_events_json``).

Written by cBots/dashboards that record cTrader position events during a backtest, one object
per event with the keys ``serial, orderId, positionId, event, time, volume, quantity, type,
entryPrice, tp, sl, closePrice, grossProfit, pips, balance, equity``:

* ``time`` is Unix epoch **milliseconds**, UTC (kept as naive UTC; ``meta["timezone"] = "UTC"``);
* ``event`` is "Create Position", "Position Modified (S/L)", "Stop Loss Hit", "Take Profit Hit",
  "Position closed", ...; a **closing event** is any event that carries a ``balance``
  (balance is null on every other event);
* ``type`` is Buy/Sell; numbers carry float noise (``34903.089999999975``).

One trade per closing event: a partial close (a closing event whose volume is less than the
position's open volume) is its own trade, and later closes of the same position get the ids
``"<positionId>#2"``, ``"#3"``, ... The log has no commission
or swap fields, so:

* ``net_profit`` = the balance change since the previous closing event (the account balance
  moves only when a position closes), rounded to cents;
* ``profit`` (gross) = ``grossProfit`` of the closing event;
* ``swap`` = net - gross: commission and swap **together** (the log cannot split them; some
  values are positive, which commission never is) and ``commission`` is left null;
  ``meta["swap_includes_commission"]`` says so.

Initial balance: the log has no deposit record. The first event, when it is the opening of a
position (nothing else open), carries the account's ``equity`` before any price move, which is
the balance; that is the initial balance. If the log starts otherwise, the first closing
event's balance minus its ``grossProfit`` is used (i.e. zero commission/swap on that first
trade assumed); ``meta["initial_balance_source"]`` names the rule used. Stated:
``final_balance`` = the last closing event's balance.

The log names no symbol (``Parsed.symbol`` and the trades' ``symbol`` are null). Positions
opened and never closed are not trades (``meta["open_positions"]``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Any

from workbench.errors import DataError
from workbench.ingest.records import CASH_FLOWS_SCHEMA, TRADES_SCHEMA, Parsed, conform, empty
from workbench.ingest.registry import parser

__all__: list[str] = []

_EPOCH = datetime(1970, 1, 1)

_REQUIRED = ("positionId", "event", "time", "type", "grossProfit", "balance", "equity")
_DIRECTIONS = {"buy": "long", "sell": "short"}


def _detect(head: bytes, name: str) -> bool:
    text = head.lstrip()
    return (
        text.startswith(b"[")
        and b'"positionId"' in text
        and b'"grossProfit"' in text
        and b'"event"' in text
        and b'"balance"' in text
    )


def _time(ms: Any, where: str) -> datetime:
    if not isinstance(ms, int | float) or isinstance(ms, bool):
        raise DataError(f"time: expected epoch milliseconds, got {ms!r}", where=where)
    return _EPOCH + timedelta(milliseconds=ms)  # exact (no float seconds), naive UTC


def _num(event: dict[str, Any], key: str, where: str) -> float | None:
    value = event.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"{key}: expected a number, got {value!r}", where=where)
    return float(value)


@parser("ctrader_events_json", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """cTrader backtest position-event log (JSON array of Create/Modify/Close events)."""
    try:
        events = json.loads(data.decode("utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        line = getattr(e, "lineno", "-")
        raise DataError(
            f"invalid JSON ({getattr(e, 'msg', e)}; truncated file?)", where=f"line {line}"
        ) from None
    if not isinstance(events, list) or not events:
        raise DataError("expected a non-empty JSON array of events", where="1")

    opened: dict[Any, datetime] = {}
    remaining: dict[Any, float] = {}  # open volume per position (partial closes reduce it)
    closes: dict[Any, int] = {}  # closing events seen per position
    rows: list[dict[str, Any]] = []
    prev_balance: float | None = None
    initial: float | None = None
    source = ""
    for i, ev in enumerate(events):
        where = f"event {i} (serial {ev.get('serial', '?')})" if isinstance(ev, dict) else f"event {i}"
        if not isinstance(ev, dict):
            raise DataError("expected an object", where=where)
        missing = [k for k in _REQUIRED if k not in ev]
        if missing:
            raise DataError(f"missing key(s) {', '.join(missing)}", where=where)
        t = _time(ev["time"], where)
        pid = ev["positionId"]
        balance = _num(ev, "balance", where)
        if i == 0 and balance is None and str(ev["event"]).lower().startswith("create"):
            initial, source = _num(ev, "equity", where), "equity of the first (opening) event"
        if balance is None:
            if str(ev["event"]).lower().startswith("create"):
                opened[pid] = t
                remaining[pid] = _num(ev, "volume", where) or 0.0
            continue
        # A closing event.
        gross = _num(ev, "grossProfit", where) or 0.0
        if prev_balance is None:
            if initial is None:
                initial, source = balance - gross, "first closing balance minus its grossProfit"
            prev_balance = initial
        net = round(balance - prev_balance, 2)
        prev_balance = balance
        direction = _DIRECTIONS.get(str(ev["type"]).strip().lower())
        if direction is None:
            raise DataError(f"type: expected Buy or Sell, got {ev['type']!r}", where=where)
        if pid not in remaining:
            raise DataError(
                f"position {pid} closes but its 'Create Position' event is missing (truncated log?)",
                where=where,
            )
        closes[pid] = closes.get(pid, 0) + 1
        rows.append(
            {
                "trade_id": str(pid) if closes[pid] == 1 else f"{pid}#{closes[pid]}",
                "open_time": opened[pid],
                "close_time": t,
                "symbol": None,
                "direction": direction,
                "volume": _num(ev, "volume", where),
                "entry_price": _num(ev, "entryPrice", where),
                "exit_price": _num(ev, "closePrice", where),
                "stop_loss": _num(ev, "sl", where),
                "take_profit": _num(ev, "tp", where),
                "commission": None,
                "swap": round(net - gross, 2),
                "profit": gross,
                "net_profit": net,
                "pips": _num(ev, "pips", where),
                "comment": str(ev["event"]),
            }
        )
        remaining[pid] -= _num(ev, "volume", where) or remaining[pid]
        if remaining[pid] <= 1e-9:  # fully closed (a partial close leaves volume open)
            del remaining[pid]
    if not rows:
        raise DataError("no closing events (no event carries a balance)", where="events")
    trades = conform(rows, TRADES_SCHEMA)
    final, initial = float(prev_balance or 0.0), float(initial or 0.0)
    return Parsed(
        format="ctrader_events_json",
        kind="backtest",
        name=PurePath(name).stem,
        platform="ctrader",
        initial_balance=round(initial, 2),
        start=_time(events[0]["time"], "event 0"),
        end=_time(events[-1]["time"], f"event {len(events) - 1}"),
        trades=trades,
        cash_flows=empty(CASH_FLOWS_SCHEMA),
        stated={"final_balance": round(final, 2)},
        meta={
            "timezone": "UTC",
            "volume_unit": "lots",
            "events": len(events),
            "open_positions": len(remaining),
            "initial_balance_source": source,
            "swap_includes_commission": True,
        },
    )
