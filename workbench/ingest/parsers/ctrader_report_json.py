"""cTrader backtest report: ``ctrader-cli backtest --report-json`` output, or the same JSON embedded in
``report.html`` as ``<script type="application/json" id="backtesting-report">...</script>``
(``ctrader_report_json``; one parser for both).

NOT checked against a real export (none was found public): the structure follows what
third-party parsers and generators of this report expect (fixtures MANIFEST, end section):

* ``main``: cBotName, symbol, period, depositAsset, startingCapital, netProfit, endingBalance,
  endingEquity, utcOffset (minutes), testingPeriod {startDate, endDate} (epoch ms), ...
* ``tradeStatistics``: each figure an object ``{all, long, short}`` (netProfit, totalTrades,
  winningTrades, losingTrades, profitFactor, ...);
* ``parameters``: ``[{group, displayName, propertyName, value}]``;
* ``history``: ``{columns, items}``, one item per closed position ``{id, label, entryTime,
  symbol, quantity, volume, direction, entryPrice, commissions, swaps, closePrice, closeTime,
  net, pips, gross}`` (times epoch ms UTC; items given as arrays are matched to ``columns``);
* ``positions`` / ``orders``: still open at the end (not trades; counted in ``meta``).

Mapping: volume = ``volume`` (units; ``quantity`` is lots), direction Buy/Sell -> long/short,
net_profit = net, profit = gross (net - commissions - swaps when gross is missing),
commission = commissions, swap = swaps, comment = label. Times stay UTC (``meta["timezone"]``;
the report's display offset is ``meta["utc_offset_minutes"]``).

Stated totals: net_profit (``main.netProfit`` and ``tradeStatistics.netProfit.all``, which must
agree), total/winning/losing trades, profit_factor, initial_balance = startingCapital,
final_balance = endingBalance.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Any

from workbench.errors import DataError
from workbench.ingest.records import CASH_FLOWS_SCHEMA, TRADES_SCHEMA, Parsed, conform, empty
from workbench.ingest.registry import parser
from workbench.ingest.text import clean

__all__: list[str] = []

_EPOCH = datetime(1970, 1, 1)

_SCRIPT = re.compile(
    rb"<script\b[^>]*\bid\s*=\s*[\"']backtesting-report[\"'][^>]*>(?P<json>.*?)</script\s*>", re.S | re.I
)
_DIRECTIONS = {"buy": "long", "sell": "short", "long": "long", "short": "short"}
_STATS = {  # tradeStatistics key -> STATED key
    "totalTrades": "total_trades",
    "winningTrades": "winning_trades",
    "losingTrades": "losing_trades",
    "profitFactor": "profit_factor",
}


def _detect(head: bytes, name: str) -> bool:
    text = head.lstrip()
    if text.startswith(b"{"):
        return b'"main"' in text and (b'"startingCapital"' in text or b'"tradeStatistics"' in text)
    return b"backtesting-report" in head and b"<script" in head.lower()


def _document(data: bytes) -> dict[str, Any]:
    raw = data
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped.startswith(b"{"):
        m = _SCRIPT.search(data)
        if m is None:
            raise DataError(
                'no <script id="backtesting-report"> element with the report JSON (truncated file?)',
                where="html",
            )
        raw = m.group("json")
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        line = getattr(e, "lineno", "-")
        raise DataError(
            f"invalid JSON ({getattr(e, 'msg', e)}; truncated file?)", where=f"line {line}"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("main"), dict):
        raise DataError('expected an object with a "main" section', where="main")
    return doc


def _time(ms: Any, where: str) -> datetime:
    if isinstance(ms, bool) or not isinstance(ms, int | float):
        raise DataError(f"expected epoch milliseconds, got {ms!r}", where=where)
    return _EPOCH + timedelta(milliseconds=ms)  # exact (no float seconds), naive UTC


def _num(value: Any, where: str, *, required: bool = False) -> float | None:
    if value is None or value == "":
        if required:
            raise DataError("missing value", where=where)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"expected a number, got {value!r}", where=where)
    return float(value)


def _column_names(columns: Any) -> list[str]:
    out = []
    for c in columns or []:
        if isinstance(c, str):
            out.append(c)
        elif isinstance(c, dict):
            out.append(str(c.get("name") or c.get("key") or c.get("propertyName") or c.get("id") or ""))
    return out


def _items(section: Any, what: str) -> list[dict[str, Any]]:
    """``{columns, items}`` -> list of dicts (items may be objects, or arrays matched to columns)."""
    if section is None:
        return []
    if isinstance(section, list):
        items, names = section, []
    elif isinstance(section, dict):
        items, names = section.get("items") or [], _column_names(section.get("columns"))
    else:
        raise DataError("expected {columns, items}", where=what)
    out = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            out.append(item)
        elif isinstance(item, list) and names and len(item) == len(names):
            out.append(dict(zip(names, item, strict=True)))
        else:
            raise DataError(
                "an item is neither an object nor an array matching columns", where=f"{what}[{i}]"
            )
    return out


def _trade(item: dict[str, Any], i: int) -> dict[str, Any]:
    where = f"history[{i}] (id {item.get('id', '?')})"
    direction = _DIRECTIONS.get(str(item.get("direction", "")).strip().lower())
    if direction is None:
        raise DataError(f"direction: expected Buy or Sell, got {item.get('direction')!r}", where=where)
    for key in ("id", "entryTime", "closeTime", "net"):
        if item.get(key) is None:
            raise DataError(f"{key} is missing", where=where)
    net = _num(item["net"], f"{where}.net", required=True)
    commission = _num(item.get("commissions"), f"{where}.commissions")
    swap = _num(item.get("swaps"), f"{where}.swaps")
    gross = _num(item.get("gross"), f"{where}.gross")
    if gross is None and net is not None:
        gross = round(net - (commission or 0.0) - (swap or 0.0), 2)
    return {
        "trade_id": str(item["id"]),
        "open_time": _time(item["entryTime"], f"{where}.entryTime"),
        "close_time": _time(item["closeTime"], f"{where}.closeTime"),
        "symbol": clean(str(item["symbol"])) if item.get("symbol") else None,
        "direction": direction,
        "volume": _num(item.get("volume"), f"{where}.volume"),
        "entry_price": _num(item.get("entryPrice"), f"{where}.entryPrice"),
        "exit_price": _num(item.get("closePrice"), f"{where}.closePrice"),
        "commission": commission,
        "swap": swap,
        "profit": gross,
        "net_profit": net,
        "pips": _num(item.get("pips"), f"{where}.pips"),
        "comment": str(item["label"]) if item.get("label") else None,
    }


def _stat(stats: dict[str, Any], key: str) -> float | None:
    value = stats.get(key)
    if isinstance(value, dict):
        value = value.get("all")
    return _num(value, f"tradeStatistics.{key}")


def _param(value: Any) -> bool | int | float | str:
    if isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, separators=(",", ":"))


@parser("ctrader_report_json", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """cTrader backtest report JSON (--report-json, or embedded in report.html)."""
    doc = _document(data)
    main = doc["main"]
    if "history" not in doc:
        raise DataError('no "history" section (truncated report?)', where="history")
    history = _items(doc["history"], "history")
    trades = conform([_trade(item, i) for i, item in enumerate(history)], TRADES_SCHEMA)

    stated: dict[str, float] = {}
    stats = doc.get("tradeStatistics") or {}
    main_net = _num(main.get("netProfit"), "main.netProfit")
    stats_net = _stat(stats, "netProfit")
    if main_net is not None and stats_net is not None and abs(main_net - stats_net) > 0.0101:
        raise DataError(
            f"main.netProfit {main_net} and tradeStatistics.netProfit.all {stats_net} disagree",
            where="tradeStatistics.netProfit",
        )
    net = main_net if main_net is not None else stats_net
    if net is not None:
        stated["net_profit"] = net
    for key, stated_key in _STATS.items():
        value = _stat(stats, key)
        if value is not None:
            stated[stated_key] = value
    initial = _num(main.get("startingCapital"), "main.startingCapital")
    final = _num(main.get("endingBalance"), "main.endingBalance")
    if initial is not None:
        stated["initial_balance"] = initial
    if final is not None and initial is not None:
        stated["final_balance"] = final

    params: dict[str, Any] = {}
    for i, p in enumerate(doc.get("parameters") or []):
        if not isinstance(p, dict):
            raise DataError("expected {propertyName, value}", where=f"parameters[{i}]")
        key = p.get("propertyName") or p.get("displayName")
        if key and p.get("value") is not None:
            params[str(key)] = _param(p["value"])

    period = main.get("testingPeriod") or {}
    start = _time(period["startDate"], "main.testingPeriod.startDate") if period.get("startDate") else None
    end = _time(period["endDate"], "main.testingPeriod.endDate") if period.get("endDate") else None
    bot = clean(str(main.get("cBotName") or "")) or None
    symbol = clean(str(main.get("symbol") or "")) or None
    timeframe = clean(str(main.get("period") or "")).lower() or None
    open_positions = _items(doc.get("positions"), "positions")
    pending = _items(doc.get("orders"), "orders")
    meta = {
        "timezone": "UTC",
        "utc_offset_minutes": main.get("utcOffset"),
        "volume_unit": "units",
        "broker": main.get("brokerTitle"),
        "account_type": main.get("accountType"),
        "leverage": main.get("accountLeverage"),
        "ending_equity": main.get("endingEquity"),
        "open_positions": len(open_positions),
        "pending_orders": len(pending),
        "source": "html" if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "json",
    }
    return Parsed(
        format="ctrader_report_json",
        kind="backtest",
        name=" ".join(x for x in (bot, symbol, timeframe) if x) or PurePath(name).stem,
        platform="ctrader",
        strategy=bot,
        symbol=symbol,
        timeframe=timeframe,
        currency=clean(str(main.get("depositAsset") or "")) or None,
        initial_balance=initial,
        start=start,
        end=end,
        parameters=params,
        trades=trades,
        cash_flows=empty(CASH_FLOWS_SCHEMA),
        stated=stated,
        meta={k: v for k, v in meta.items() if v is not None},
    )
