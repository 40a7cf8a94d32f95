"""Shared by the MetaTrader 5 HTML parsers (tester report and trade history report).

Both reports are one UTF-16LE HTML table whose rows fall into titled sections
("Settings", "Results", "Orders", "Deals", ...). The ``Deals`` section is the ledger:
MT5 never prints which position a deal belongs to, so closed trades are rebuilt here
by FIFO matching of ``in`` deals against ``out`` / ``in/out`` / ``out by`` deals per
symbol and side (a ``sell out`` closes longs, a ``buy out`` closes shorts; this works
for netting and hedging accounts alike). One trade per exit deal; a partial exit takes
its share of each entry's commission/swap pro rata by volume, the last share taking the
remainder so nothing is lost to rounding.

MT5 computes its printed statistics per *deal* (``convention = "mt5 per deal"``), as every
report in ../shared/fixtures/real confirms (four tester reports, two history reports):

* Gross Profit/Loss are the sums of the positive/negative ``profit + commission + swap`` over
  all buy/sell deals, entry deals included: an entry deal's commission is a losing deal of its
  own, even when its position won (zhijucen 250013: 336.42 / -313.36 per deal, 335.87 / -312.81
  per position);
* Total Trades counts the exit deals (``out``, ``in/out``, ``out by``): a partial close counts;
* Profit/Loss Trades count the exit deals by the sign of the exit deal's own
  ``profit + swap + commission``: the swap counts (the moving-average report has an exit deal
  with profit 0.00 and a negative swap, counted a loss: 104 printed, 103 by profit alone); the
  entry deal's commission does not (zhijucen 246753: 137/209 printed; by position net 133/212);
  no fixture has a commission on an exit deal, so its inclusion follows MT5's deal result;
* Total Net Profit is the sum over all buy/sell deals, so it includes the entry costs of
  positions still open at the end of a history report.

:func:`platform_totals` puts every printed total in ``stated`` and this recomputation in
``platform_figures``; per-position totals of the trades differ exactly when entry deals carry
money, and a warning then names both.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from lxml import etree
from lxml import html as lxml_html

from workbench.errors import DataError
from workbench.ingest.records import CASH_FLOWS_SCHEMA, TRADES_SCHEMA, conform, empty
from workbench.ingest.text import clean, decode, number, optional_number, timestamp

Row = list[str]

_EPS = 1e-9  # volumes are printed with at most a few decimals
MONEY_TOL = 0.011  # MT5 prints cents


# ----------------------------------------------------------------------------- reading


def head_text(head: bytes) -> str:
    """Lenient decoding of a detector's head (it may end in the middle of a character)."""
    if head.startswith(b"\xff\xfe"):
        return head[2:].decode("utf-16-le", errors="ignore")
    if head.startswith(b"\xfe\xff"):
        return head[2:].decode("utf-16-be", errors="ignore")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if len(head) >= 4 and head[1:4:2] == b"\x00\x00" and head[0] and head[2]:
        return head.decode("utf-16-le", errors="ignore")
    return head.decode("utf-8", errors="ignore")


def load_rows(data: bytes, what: str) -> list[Row]:
    """Every ``<tr>`` of an MT5 HTML report as its cleaned cell texts."""
    try:
        text = decode(data)
    except UnicodeDecodeError as e:
        raise DataError(
            f"{what}: not valid UTF-16 text ({e.reason}); the file is truncated", where="1"
        ) from None
    if not text.rstrip().lower().endswith("</html>"):
        raise DataError(f"{what}: the file does not end with </html>; it is truncated", where="end")
    try:
        doc = lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError) as e:
        raise DataError(f"{what}: unreadable HTML ({e})", where="1") from None
    return [[clean(c.text_content()) for c in tr if c.tag in ("td", "th")] for tr in doc.iter("tr")]


def sections(rows: Sequence[Row], titles: Iterable[str]) -> dict[str, list[Row]]:
    """Rows grouped under the section title rows (a row whose only text is a title).

    Rows before the first title are under ``""``.
    """
    wanted = set(titles)
    out: dict[str, list[Row]] = {"": []}
    current = ""
    for row in rows:
        texts = [c for c in row if c]
        if len(texts) == 1 and texts[0] in wanted and texts[0] not in out:
            current = texts[0]
            out[current] = []
            continue
        out[current].append(row)
    return out


def label_values(rows: Iterable[Row]) -> dict[str, str]:
    """``{"Total Net Profit": "1 665.38", ...}`` from rows of ``Label: | value`` pairs."""
    pairs: dict[str, str] = {}
    for row in rows:
        for i in range(len(row) - 1):
            cell = row[i]
            if cell.endswith(":") and len(cell) > 1 and not row[i + 1].endswith(":"):
                pairs.setdefault(cell[:-1].strip(), row[i + 1])
    return pairs


_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def typed(value: str) -> bool | int | float | str:
    """An input value as MT5 prints it -> bool / int / float / str."""
    v = value.strip()
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    if _INT.fullmatch(v):
        return int(v)
    if _FLOAT.fullmatch(v):
        return float(v)
    return v


def inputs(rows: Sequence[Row]) -> dict[str, Any]:
    """The ``Inputs:`` block of the settings: one ``name=value`` per row; group separators skipped."""
    out: dict[str, Any] = {}
    inside = False
    for row in rows:
        if not row:
            continue
        if row[0] == "Inputs:":
            inside = True
        elif row[0]:
            inside = False
        if not inside or len(row) < 2:
            continue
        name, eq, value = row[1].partition("=")
        name = name.strip()
        if not eq or not name or name.startswith("="):
            continue  # "=== GENERAL ====" and the like
        out[name] = typed(value)
    return out


_PAIR = re.compile(r"^(-?[\d.]+)\s*(%)?\s*(?:\((-?[\d.]+)\s*(%)?\))?")
_DURATION = re.compile(r"^(\d+):(\d{2}):(\d{2})$")


_ANNOTATION = re.compile(r"\((?:[^)]*%[^)]*|\$|count)\)")  # "(won %)", "(% of total)", "($)", "(count)"


def snake(label: str) -> str:
    """``"Correlation (Profits,MFE)"`` -> ``correlation_profits_mfe``; unit annotations dropped."""
    label = _ANNOTATION.sub("", label).replace("%", " pct ")
    return "_".join(re.findall(r"[a-z0-9]+", label.lower()))


def results_numbers(pairs: Mapping[str, str]) -> tuple[dict[str, float], dict[str, str]]:
    """Printed statistics as numbers under snake_case keys, and the ones that are not numbers.

    ``"967.94 (8.09%)"`` -> ``x=967.94, x_pct=8.09``; ``"8.09% (967.94)"`` -> the same keys;
    ``"75 (32.00%)"`` under ``(won %)`` -> ``x=75, x_won_pct=32``;
    ``"5 (359.12)"`` under a ``($)`` label -> ``x=5, x_money=359.12``; ``(count)`` -> ``x_count``;
    ``"0:40:44"`` -> ``x_s=2444``; ``"100% real ticks"`` -> ``x_pct=100``.
    """
    nums: dict[str, float] = {}
    texts: dict[str, str] = {}
    for label, raw in pairs.items():
        key = snake(label)
        if not key:
            continue
        value = raw.replace(" ", "")
        d = _DURATION.match(raw)
        if d:
            h, m, s = (int(x) for x in d.groups())
            nums[f"{key}_s"] = float(h * 3600 + m * 60 + s)
            continue
        m = _PAIR.match(value)
        if not m:
            texts[key] = raw
            continue
        first, first_pct, second, second_pct = m.groups()
        try:
            a = float(first)
            b = float(second) if second is not None else None
        except ValueError:
            texts[key] = raw
            continue
        if first_pct:
            nums[f"{key}_pct"] = a
        else:
            nums[key] = a
        if b is not None:
            if second_pct:
                nums[f"{key}_won_pct" if "won %" in label else f"{key}_pct"] = b
            elif key not in nums:
                nums[key] = b
            else:
                suffix = "_count" if "(count)" in label else "_money" if "($)" in label else "_2"
                nums[key + suffix] = b
    return nums, texts


# ----------------------------------------------------------------------------- orders


def orders_sl_tp(rows: Sequence[Row]) -> dict[str, tuple[float | None, float | None]]:
    """``order ticket -> (S/L, T/P)`` from an Orders section (header row + data rows)."""
    header = next((r for r in rows if r[:2] == ["Open Time", "Order"]), None)
    if header is None:
        return {}
    col = {name: i for i, name in enumerate(header)}
    i_sl, i_tp, i_order = col.get("S / L"), col.get("T / P"), col["Order"]
    out: dict[str, tuple[float | None, float | None]] = {}
    for r in rows:
        if len(r) != len(header) or r is header:
            continue
        sl = optional_number(r[i_sl]) if i_sl is not None else None
        tp = optional_number(r[i_tp]) if i_tp is not None else None
        out[r[i_order]] = (sl or None, tp or None)
    return out


# ----------------------------------------------------------------------------- deals


@dataclass(slots=True)
class Deal:
    time: datetime
    ticket: str
    symbol: str
    type: str  # buy | sell | balance | credit | charge | ...
    entry: str  # in | out | in/out | out by | ""
    volume: float
    price: float | None
    order: str
    commission: float  # including the "Fee" column of newer builds
    swap: float
    profit: float
    balance: float
    comment: str

    @property
    def amount(self) -> float:
        return self.profit + self.commission + self.swap


_DEAL_COLUMNS = ("Time", "Deal", "Symbol", "Type", "Direction", "Volume", "Price")
_MONEY_COLUMNS = ("Commission", "Fee", "Swap", "Profit", "Balance")


def deals(rows: Sequence[Row]) -> list[Deal]:
    """The Deals section: header, one row per deal, then the totals row (checked against the deals)."""
    start = next((i for i, r in enumerate(rows) if tuple(r[:7]) == _DEAL_COLUMNS), None)
    if start is None:
        raise DataError("the Deals table has no header row (Time | Deal | Symbol | ...)", where="Deals")
    header = rows[start]
    col = {name: i for i, name in enumerate(header)}
    missing = [c for c in ("Commission", "Swap", "Profit", "Balance") if c not in col]
    if missing:
        raise DataError(f"the Deals table has no {', '.join(missing)} column", where="Deals")
    money = [c for c in _MONEY_COLUMNS if c in col]
    out: list[Deal] = []
    totals: Row | None = None
    for r in rows[start + 1 :]:
        if not r or not r[0]:
            totals = r
            break
        if len(r) < len(header):
            raise DataError(f"deal row has {len(r)} cells, expected {len(header)}", where=f"deal {r[0]}")
        where = f"deal {r[col['Deal']]}"
        vals = {c: number(r[col[c]], where=where, what=c) for c in money}
        out.append(
            Deal(
                time=timestamp(r[col["Time"]], where=where),
                ticket=r[col["Deal"]],
                symbol=r[col["Symbol"]],
                type=r[col["Type"]].lower(),
                entry=r[col["Direction"]].lower(),
                volume=optional_number(r[col["Volume"]]) or 0.0,
                price=optional_number(r[col["Price"]]),
                order=r[col["Order"]] if "Order" in col else "",
                commission=vals["Commission"] + vals.get("Fee", 0.0),
                swap=vals["Swap"],
                profit=vals["Profit"],
                balance=vals["Balance"],
                comment=r[col["Comment"]] if "Comment" in col else "",
            )
        )
    if totals is None:
        raise DataError("the Deals table has no closing totals row; the file is truncated", where="Deals")
    _check_deals(out, totals, money)
    return out


def _check_deals(ds: Sequence[Deal], totals: Row, money: Sequence[str]) -> None:
    """The running Balance column and the totals row must agree with the deals."""
    if ds:
        running = ds[0].balance - ds[0].amount
        for d in ds:
            running += d.amount
            if abs(running - d.balance) > MONEY_TOL:
                raise DataError(
                    f"balance {d.balance:,.2f} does not follow from the previous deals ({running:,.2f})",
                    where=f"deal {d.ticket}",
                )
            running = d.balance
    printed = [c for c in totals if c]
    if len(printed) != len(money):
        raise DataError(
            f"the Deals totals row has {len(printed)} figures, expected {len(money)}", where="Deals"
        )
    got = dict(zip(money, (number(v, where="Deals totals") for v in printed), strict=True))
    # The column totals leave deposits/withdrawals out; other non-trade deals are not seen in
    # the fixtures, so either reading is accepted for them.
    for counted in ({"buy", "sell"}, None):
        part = [d for d in ds if (d.type in counted if counted else d.type not in ("balance", "credit"))]
        sums = {
            "Commission": sum(d.commission for d in part) - got.get("Fee", 0.0),
            "Swap": sum(d.swap for d in part),
            "Profit": sum(d.profit for d in part),
            "Balance": ds[-1].balance if ds else 0.0,
        }
        bad = [c for c, v in sums.items() if abs(v - got[c]) > MONEY_TOL]
        if not bad:
            break
    if bad:
        c = bad[0]
        raise DataError(
            f"the Deals totals row prints {c} {got[c]:,.2f} but the deals add up to {sums[c]:,.2f}",
            where="Deals totals",
        )


# ----------------------------------------------------------------------------- trades


@dataclass(slots=True)
class _Lot:
    deal: Deal
    volume: float  # still open
    commission: float  # not yet allocated to a closing trade
    swap: float
    profit: float


_TRADE_TYPES = {"buy": "long", "sell": "short"}
_CLOSES = {"buy": "short", "sell": "long"}  # an exit deal of this type closes that side
_FLOW_KINDS = {"balance": None, "credit": "credit"}  # others: "adjustment"


@dataclass(frozen=True, slots=True)
class Ledger:
    trades: pl.DataFrame
    cash_flows: pl.DataFrame
    opening_balance: float  # balance before the first deal
    final_balance: float  # balance after the last deal
    initial_deposit: float | None  # the first balance deal when it opened an empty account (absorbed)
    entry_money: bool  # some entry deal carries commission/swap/profit
    open_positions: list[dict[str, Any]] = field(default_factory=list)
    open_money: float = 0.0  # entry money of positions still open (in MT5's totals, not in trades)
    mt5: dict[str, float | None] = field(default_factory=dict)  # statistics by MT5's per-deal definitions


def build(
    ds: Sequence[Deal], sl_tp: Mapping[str, tuple[float | None, float | None]], *, absorb_deposit: bool
) -> Ledger:
    """Closed trades (FIFO per symbol and side), cash flows and MT5-style statistics from the deals.

    ``absorb_deposit``: the first deal, a ``balance`` deal into an empty account, is the initial
    deposit (the tester's "Initial Deposit") rather than a cash flow.
    """
    books: dict[tuple[str, str], deque[_Lot]] = {}
    trades: list[dict[str, Any]] = []
    flows: list[dict[str, Any]] = []
    results: list[float] = []  # MT5: result of every buy/sell deal
    exits: list[float] = []  # MT5: result of every exit deal
    entry_money = False
    opening = ds[0].balance - ds[0].amount if ds else 0.0
    deposit: float | None = None
    for i, d in enumerate(ds):
        where = f"deal {d.ticket}"
        if d.type not in _TRADE_TYPES:
            if i == 0 and absorb_deposit and d.type == "balance" and abs(opening) < _EPS:
                deposit = d.amount
                continue
            kind = _FLOW_KINDS.get(d.type, "adjustment")
            if kind is None:
                kind = "deposit" if d.amount >= 0 else "withdrawal"
            flows.append({"time": d.time, "amount": d.amount, "kind": kind, "comment": d.comment or d.type})
            continue
        if not d.symbol or d.volume <= 0:
            raise DataError(f"{d.type} deal without symbol or volume", where=where)
        results.append(d.amount)
        if d.entry == "in":
            entry_money |= d.amount != 0
            books.setdefault((d.symbol, _TRADE_TYPES[d.type]), deque()).append(
                _Lot(d, d.volume, d.commission, d.swap, d.profit)
            )
            continue
        if d.entry not in ("out", "in/out", "out by"):
            raise DataError(f"unknown deal direction {d.entry!r}", where=where)
        exits.append(d.amount)
        side = _CLOSES[d.type]
        book = books.get((d.symbol, side), deque())
        open_volume = sum(lot.volume for lot in book)
        closing = min(d.volume, open_volume) if d.entry == "in/out" else d.volume
        if closing > open_volume + _EPS or closing <= _EPS:
            raise DataError(
                f"{d.type} {d.entry} of {d.volume:g} {d.symbol} but only {open_volume:g} {side} are open "
                "(the report starts after the position was opened, or is inconsistent)",
                where=where,
            )
        share = closing / d.volume  # of the exit deal's commission (< 1 only for in/out)
        trade = _close(book, d, closing, share, side, sl_tp)
        rest = d.commission - trade.pop("_c")
        trades.append(trade)
        if d.entry == "in/out" and d.volume - closing > _EPS:
            entry_money |= rest != 0
            books.setdefault((d.symbol, _TRADE_TYPES[d.type]), deque()).append(
                _Lot(d, d.volume - closing, rest, 0.0, 0.0)
            )
    still_open = [
        {
            "symbol": lot.deal.symbol,
            "direction": side,
            "volume": lot.volume,
            "open_time": lot.deal.time,
            "entry_price": lot.deal.price,
            "deal": lot.deal.ticket,
        }
        for (_, side), book in books.items()
        for lot in book
        if lot.volume > _EPS
    ]
    open_money = sum(lot.commission + lot.swap + lot.profit for book in books.values() for lot in book)
    gp = sum(r for r in results if r > 0)
    gl = sum(r for r in results if r < 0)
    mt5 = {
        "gross_profit": gp,
        "gross_loss": gl,
        "profit_factor": gp / -gl if gl < 0 else None,  # None: no losing deal (JSON has no inf)
        "total_trades": float(len(exits)),
        "winning_trades": float(sum(r > 0 for r in exits)),
        "losing_trades": float(sum(r < 0 for r in exits)),
        "net_profit": sum(results),
        "final_balance": opening + sum(d.amount for d in ds),  # the running balance, recomputed
    }
    return Ledger(
        trades=conform(trades, TRADES_SCHEMA) if trades else empty(TRADES_SCHEMA),
        cash_flows=conform(flows, CASH_FLOWS_SCHEMA) if flows else empty(CASH_FLOWS_SCHEMA),
        opening_balance=opening,
        final_balance=ds[-1].balance if ds else 0.0,
        initial_deposit=deposit,
        entry_money=entry_money,
        open_positions=still_open,
        open_money=open_money,
        mt5=mt5,
    )


def _close(
    book: deque[_Lot],
    d: Deal,
    volume: float,
    share: float,
    side: str,
    sl_tp: Mapping[str, tuple[float | None, float | None]],
) -> dict[str, Any]:
    """Take ``volume`` from the FIFO ``book`` for exit deal ``d``; the trade's row."""
    commission = d.commission * share  # an in/out deal's commission is split with the new position
    swap = d.swap
    profit = d.profit
    own_c = commission
    left = volume
    cost = 0.0
    prices: set[float | None] = set()
    first: _Lot | None = None
    while left > _EPS:
        lot = book[0]
        first = first or lot
        take = min(left, lot.volume)
        if take >= lot.volume - _EPS:  # the whole remaining lot: all its remaining money
            fc, fs, fp = lot.commission, lot.swap, lot.profit
            book.popleft()
        else:
            f = take / lot.volume
            fc, fs, fp = lot.commission * f, lot.swap * f, lot.profit * f
            lot.volume -= take
            lot.commission -= fc
            lot.swap -= fs
            lot.profit -= fp
        commission += fc
        swap += fs
        profit += fp
        cost += take * (lot.deal.price or 0.0)
        prices.add(lot.deal.price)
        left -= take
    assert first is not None
    sl, tp = sl_tp.get(first.deal.order, (None, None))
    return {
        "trade_id": d.ticket,
        "open_time": first.deal.time,
        "close_time": d.time,
        "symbol": d.symbol,
        "direction": side,
        "volume": volume,
        "entry_price": next(iter(prices)) if len(prices) == 1 else cost / volume,  # exact when one price
        "exit_price": d.price,
        "stop_loss": sl,
        "take_profit": tp,
        "commission": commission,
        "swap": swap,
        "profit": profit,
        "net_profit": profit + commission + swap,
        "pips": None,
        "comment": d.comment or None,
        "_c": own_c,
    }


# ----------------------------------------------------------------------------- totals

# printed label -> contract key
RESULT_KEYS = {
    "total_net_profit": "net_profit",
    "gross_profit": "gross_profit",
    "gross_loss": "gross_loss",
    "profit_factor": "profit_factor",
    "total_trades": "total_trades",
    "profit_trades": "winning_trades",
    "loss_trades": "losing_trades",
}
_PER_DEAL = ("gross_profit", "gross_loss", "profit_factor", "winning_trades", "losing_trades")


def _fmt(x: float | None) -> str:
    return "no losing deal" if x is None else f"{x:,.2f}"


CONVENTION = "mt5 per deal"
TIMEZONE = "server time, offset unknown"  # MT5 prints broker server time and never its offset


def printed_totals(results: Mapping[str, float]) -> dict[str, float]:
    """The Results figures under their contract keys (``Total Net Profit`` -> ``net_profit``...)."""
    return {key: float(results[label]) for label, key in RESULT_KEYS.items() if label in results}


def per_position(trades: pl.DataFrame) -> dict[str, float]:
    """Gross profit/loss and win/loss counts of the trades' per-position ``net_profit``."""
    net = trades["net_profit"]
    gp, gl = float(net.filter(net > 0).sum()), float(net.filter(net < 0).sum())
    return {
        "net_profit": float(net.sum()),
        "gross_profit": gp,
        "gross_loss": gl,
        "winning_trades": float((net > 0).sum()),
        "losing_trades": float((net < 0).sum()),
    }


def platform_totals(
    ledger: Ledger, results: Mapping[str, float]
) -> tuple[dict[str, float], dict[str, float], list[str]]:
    """``(stated, platform_figures, warnings)`` for a report's Results.

    ``stated``: every total the Results print (contract keys). ``platform_figures``: the same keys
    recomputed from the deals under MT5's per-deal convention, plus ``final_balance`` (the callers
    add what they print of the balances). The validator compares the two; nothing is checked here.
    ``warnings``: one line where MT5's convention and the per-position figures of the trades part.
    """
    stated = printed_totals(results)
    platform: dict[str, float] = {}
    for key in (*stated, "final_balance"):
        value = ledger.mt5.get(key)
        if value is not None:  # money to the cent (sums of printed cents; drops float noise)
            platform[key] = float(value) if key.endswith(("_trades", "_factor")) else round(float(value), 2)
    if "profit_factor" in stated and "profit_factor" not in platform and stated["profit_factor"] == 0:
        platform["profit_factor"] = 0.0  # no losing deal: MT5 prints 0.00
    notes: list[str] = []
    mine = per_position(ledger.trades) if ledger.trades.height else {}
    differs = [
        k
        for k in ("gross_profit", "gross_loss", "winning_trades", "losing_trades")
        if k in mine and ledger.mt5.get(k) is not None and abs(float(ledger.mt5[k] or 0.0) - mine[k]) > 0.005
    ]
    if differs:

        def show(k: str, v: float) -> str:
            return f"{v:.0f}" if k.endswith("_trades") else f"{v:,.2f}"

        notes.append(
            "MT5 counts per deal (an entry deal's commission is a losing deal of its own, a trade's result is "
            "its exit deal's): "
            + ", ".join(
                f"{k.replace('_', ' ')} {show(k, float(ledger.mt5[k] or 0.0))} per deal vs {show(k, mine[k])} "
                "per position"
                for k in differs
            )
        )
    if abs(ledger.open_money) > 0.005:
        notes.append(
            f"{len(ledger.open_positions)} position(s) still open: their entry costs "
            f"({ledger.open_money:,.2f}) are in MT5's net profit and balance but in no closed trade"
        )
    return stated, platform, notes


def stated_totals(ledger: Ledger, results: Mapping[str, float]) -> tuple[dict[str, float], dict[str, str]]:
    """The printed totals to reconcile (contract definitions) and why others were left out.

    Superseded by :func:`platform_totals` (every printed total stated, MT5's convention in
    ``platform_figures``); kept for callers of the old contract.

    Every printed total is first checked against MT5's own per-deal definition (a mismatch
    means a truncated or edited file). It goes into ``stated`` only where that definition is
    the contract's: per-deal and per-trade figures agree exactly when no entry deal carries
    money, and net profit/final balance only when positions still open carry none.
    """
    printed = {key: results[label] for label, key in RESULT_KEYS.items() if label in results}
    for key, value in printed.items():
        mine = ledger.mt5[key]
        if key.endswith("_trades"):
            ok = mine == value
        elif key == "profit_factor":
            ok = value == 0 if mine is None else abs(mine - value) <= 0.0051
        else:
            ok = abs(mine - value) <= MONEY_TOL
        if not ok:
            raise DataError(
                f"the report prints {key} {value:,.2f} but its deals give {_fmt(mine)}; "
                "the file is truncated or inconsistent",
                where=f"Results.{key}",
            )
    stated = dict(printed)
    skipped: dict[str, str] = {}
    if ledger.entry_money:
        for key in _PER_DEAL:
            if stated.pop(key, None) is not None:
                skipped[key] = "MT5 counts entry-deal commissions as separate losing deals"
    if abs(ledger.open_money) > 0.005:
        stated.pop("net_profit", None)
        skipped["net_profit"] = "includes the entry costs of positions still open"
        skipped["final_balance"] = skipped["net_profit"]
    return stated, skipped
