"""A generic trade list as CSV (``trades_csv``): one closed trade per row, any platform or script.

Tried after every specific format (priority 90). Comma, semicolon or tab separated, one header
line, UTF-8 (a BOM is skipped). Header names are matched case-insensitively ignoring spaces and
punctuation ("Open Time" = "open_time" = "OPENTIME"), through this alias table:

=============  =====================================================================  ========
field          accepted headers                                                       required
=============  =====================================================================  ========
open_time      open_time, open time, opentime, entry_time, open_date, time_open,      yes
               opened, opened_at, entry_date, open_datetime
close_time     close_time, exit_time, close_date, time_close, closed, closed_at,      yes
               exit_date
symbol         symbol, item, instrument, ticker, market, pair, asset                  yes (*)
direction      direction, type, side, action, trade_type, buy_sell                    yes
net_profit     net_profit, net, net_pl, net_p/l, net_pnl, pnl, p&l, realized_pnl      yes (**)
volume         volume, size, lots, lot, quantity, qty, units, amount
entry_price    entry_price, open_price, price_open, entry
exit_price     exit_price, close_price, price_close, exit
stop_loss      stop_loss, sl, s/l, stop
take_profit    take_profit, tp, t/p, target
commission     commission, commissions, fee, fees
swap           swap, swaps, rollover, financing
profit         profit, gross_profit, gross, gross_pl, gross_p/l
pips           pips, points
trade_id       trade_id, ticket, id, position_id, position, deal, order, order_id
comment        comment, comments, label, note, notes, magic
=============  =====================================================================  ========

(*) or a ``# symbol: EURUSD`` header line.  (**) or ``profit``: net_profit = profit +
commission + swap, a missing commission/swap counting as 0. When net_profit, profit,
commission and swap are all present each row must satisfy that identity (to the cent).

Values: direction buy/sell/long/short in any case; numbers with ``.`` or ``,`` decimals,
space/NBSP thousands separators or ``1,234.50`` (a comma decimal needs a ``;`` or tab separator
or quoting, as usual in CSV); times ISO 8601 or
``YYYY.MM.DD HH:MM[:SS]`` (see ``_columns.TIME_FORMATS``). A missing trade_id column numbers
the trades 1..n in file order.

Lines starting with ``#`` before the header carry metadata, ``# key: value`` (or ``=``):
``initial_balance``, ``symbol``, ``strategy``, ``timeframe``, ``currency``, ``timezone``,
``name``, and any total from ``STATED_KEYS`` (``# net_profit: 1234.50``), which is then
reconciled against the rows. Other keys are kept in ``meta``.

Errors name the line and column: ``line 17, column close_time: unrecognised date/time 'x'``.

Headers in other languages: ``LOCALISED_ALIASES`` holds common German, French, Spanish, Russian and
Chinese names of the same fields ("Eröffnungszeit", "Heure d'ouverture", "Precio de cierre",
"Время закрытия", "平仓时间"...). Such a header is taken only on evidence: its column's first values
must read as the field's kind (times as times, numbers as numbers, directions as buy/sell words —
Kauf/Verkauf, achat/vente, compra/venta, покупка/продажа, 买入/卖出 included). A user's mapping
(``workbench ingest FILE --columns open_time=Eröffnung,close_time=Schluss``; ``Workspace.ingest(...,
columns=...)``) comes before both tables. A delimited file with a header row that no format
recognises is read as a trades CSV, so its rejection names the columns that could not be mapped
and the fields still needed.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import PurePath
from typing import Any

import polars as pl

from workbench.errors import DataError
from workbench.ingest.parsers._columns import (
    check_column,
    header_fields,
    header_key,
    map_columns,
    read_text_csv,
    read_typed_csv,
    scan_preamble,
    sniff_time_format,
    split_preamble,
    to_datetime,
    to_float,
)
from workbench.ingest.records import STATED_KEYS, TRADES_SCHEMA, Parsed, conform
from workbench.ingest.registry import MappedFile, parser
from workbench.ingest.text import clean, optional_number

__all__ = ["TRADE_ALIASES", "LOCALISED_ALIASES", "FIELDS", "column_mapping"]


def _keys(canonical: str, *headers: str) -> dict[str, str]:
    return {header_key(h): canonical for h in (canonical, *headers)}


TRADE_ALIASES: dict[str, str] = {
    **_keys(
        "open_time",
        "open time",
        "entry_time",
        "open_date",
        "time_open",
        "opened",
        "opened_at",
        "entry_date",
        "open_datetime",
    ),
    **_keys("close_time", "exit_time", "close_date", "time_close", "closed", "closed_at", "exit_date"),
    **_keys("symbol", "item", "instrument", "ticker", "market", "pair", "asset"),
    **_keys("direction", "type", "side", "action", "trade_type", "buy_sell"),
    **_keys("net_profit", "net", "net_pl", "net p/l", "net_pnl", "pnl", "p&l", "realized_pnl", "netprofit"),
    **_keys("volume", "size", "lots", "lot", "quantity", "qty", "units", "amount"),
    **_keys("entry_price", "open_price", "price_open", "entry"),
    **_keys("exit_price", "close_price", "price_close", "exit"),
    **_keys("stop_loss", "sl", "s/l", "stop"),
    **_keys("take_profit", "tp", "t/p", "target"),
    **_keys("commission", "commissions", "fee", "fees"),
    **_keys("swap", "swaps", "rollover", "financing"),
    **_keys("profit", "gross_profit", "gross", "gross_pl", "gross p/l"),
    **_keys("pips", "points"),
    **_keys("trade_id", "ticket", "id", "position_id", "position", "deal", "order", "order_id"),
    **_keys("comment", "comments", "label", "note", "notes", "magic"),
}

# Common names of the same fields in German, French, Spanish, Russian and Chinese (exports of brokers,
# journals and platforms in those languages). Taken only on evidence (see ``_evidence``): a name such as
# "Ouverture" or "Apertura" may head a price as well as a time.
LOCALISED_ALIASES: dict[str, str] = {
    **_keys(
        "open_time",
        *("Eröffnungszeit", "Eröffnung", "Öffnungszeit", "Einstiegszeit", "Eröffnet", "Zeit Eröffnung"),
        *("Heure d'ouverture", "Date d'ouverture", "Ouverture", "Heure ouverture", "Date ouverture"),
        *("Hora de apertura", "Fecha de apertura", "Apertura", "Hora apertura", "Fecha apertura"),
        *("Время открытия", "Дата открытия", "Открытие", "Открыта"),
        *("开仓时间", "开仓日期", "开仓", "开始时间"),
    ),
    **_keys(
        "close_time",
        *("Schließzeit", "Schlusszeit", "Schließung", "Ausstiegszeit", "Geschlossen", "Zeit Schließung"),
        *("Heure de fermeture", "Date de fermeture", "Fermeture", "Heure de clôture", "Clôture"),
        *("Hora de cierre", "Fecha de cierre", "Cierre", "Hora cierre", "Fecha cierre"),
        *("Время закрытия", "Дата закрытия", "Закрытие", "Закрыта"),
        *("平仓时间", "平仓日期", "平仓", "结束时间"),
    ),
    **_keys(
        "symbol",
        *("Wertpapier", "Basiswert", "Symbole", "Símbolo", "Simbolo", "Instrumento", "Activo"),
        *("Символ", "Инструмент", "Тикер", "品种", "交易品种", "商品", "代码"),
    ),
    **_keys(
        "direction",
        *("Typ", "Richtung", "Seite", "Art", "Sens", "Côté", "Tipo", "Dirección", "Lado"),
        *("Тип", "Направление", "类型", "方向", "买卖"),
    ),
    **_keys(
        "volume",
        *("Volumen", "Größe", "Menge", "Lotgröße", "Taille", "Quantité", "Tamaño", "Lotes", "Cantidad"),
        *("Объем", "Объём", "Лоты", "Количество", "手数", "交易量", "数量"),
    ),
    **_keys(
        "entry_price",
        *("Eröffnungskurs", "Einstiegskurs", "Eröffnungspreis", "Einstiegspreis", "Kurs Eröffnung"),
        *("Prix d'ouverture", "Prix ouverture", "Prix d'entrée", "Precio de apertura", "Precio apertura"),
        *("Precio de entrada", "Цена открытия", "开仓价", "开仓价格"),
    ),
    **_keys(
        "exit_price",
        *("Schlusskurs", "Schließkurs", "Ausstiegskurs", "Schlusspreis", "Prix de fermeture"),
        *("Prix de clôture", "Prix de sortie", "Precio de cierre", "Precio cierre", "Precio de salida"),
        *("Цена закрытия", "平仓价", "平仓价格"),
    ),
    **_keys(
        "commission",
        *("Kommission", "Provision", "Gebühr", "Gebühren", "Frais", "Comisión", "Comision"),
        *("Комиссия", "手续费", "佣金"),
    ),
    **_keys("swap", *("Zinsen", "Своп", "库存费", "隔夜利息", "掉期")),
    **_keys(
        "profit",
        *("Gewinn", "Bruttogewinn", "Bénéfice", "Gain", "Beneficio", "Ganancia", "Прибыль"),
        *("盈利", "利润", "盈亏"),
    ),
    **_keys(
        "net_profit",
        *("Nettogewinn", "Netto", "Bénéfice net", "Profit net", "Résultat net", "Beneficio neto"),
        *("Ganancia neta", "Чистая прибыль", "净利润", "净盈亏"),
    ),
    **_keys(
        "trade_id",
        *("Auftrag", "Nummer", "Nr", "Ordre", "Numéro", "Orden", "Número", "Posición"),
        *("Тикет", "Ордер", "Позиция", "Номер", "订单", "订单号", "单号", "持仓"),
    ),
    **_keys(
        "comment", *("Kommentar", "Bemerkung", "Commentaire", "Comentario", "Комментарий", "注释", "备注")
    ),
}
# Names that are English aliases already keep their English meaning.
LOCALISED_ALIASES = {k: v for k, v in LOCALISED_ALIASES.items() if k not in TRADE_ALIASES}
# Every field a user may map (``--columns FIELD=HEADER``) and whether it is required.
FIELDS = (
    "open_time",
    "close_time",
    "symbol",
    "direction",
    "net_profit",
    "profit",
    "volume",
    "entry_price",
    "exit_price",
    "stop_loss",
    "take_profit",
    "commission",
    "swap",
    "pips",
    "trade_id",
    "comment",
)
_USER_COLUMNS: ContextVar[dict[str, str] | None] = ContextVar("trades_csv_columns", default=None)


@contextlib.contextmanager
def column_mapping(columns: Mapping[str, str] | None) -> Iterator[None]:
    """Within the block, trades CSVs map ``columns`` ({field: header}) before any alias (the
    ``--columns`` option; set by :mod:`workbench.ingest.load` around the parse of each file)."""
    if columns:
        unknown = [f for f in columns if f not in FIELDS]
        if unknown:
            raise DataError(
                f"--columns: unknown field(s) {', '.join(unknown)}; fields: {', '.join(FIELDS)}",
                where="--columns",
            )
    token = _USER_COLUMNS.set(dict(columns) if columns else None)
    try:
        yield
    finally:
        _USER_COLUMNS.reset(token)


_NUMERIC = ("volume", "entry_price", "exit_price", "stop_loss", "take_profit", "commission", "swap")
_NUMERIC += ("profit", "net_profit", "pips")
_DIRECTIONS = {"buy": "long", "long": "long", "sell": "short", "short": "short"}
# The same words in the languages of LOCALISED_ALIASES (de, fr, es, ru, zh), as trading platforms and
# brokers' exports write them.
_DIRECTIONS |= {
    **dict.fromkeys(("kauf", "kaufen", "achat", "acheter", "compra", "comprar", "покупка", "купить"), "long"),
    **dict.fromkeys(("买入", "买", "做多", "多"), "long"),
    **dict.fromkeys(("verkauf", "verkaufen", "vente", "vendre", "venta", "vender"), "short"),
    **dict.fromkeys(("продажа", "продать", "卖出", "卖", "做空", "空"), "short"),
}
_META_LINE = re.compile(r"^\s*([A-Za-z_][\w .-]*?)\s*[:=]\s*(.*?)\s*$")
_VOLUME_UNITS = {"lots": "lots", "lot": "lots", "units": "units", "quantity": "units", "qty": "units"}


def _has_required(headers: list[str]) -> bool:
    fields = {TRADE_ALIASES.get(header_key(h)) or LOCALISED_ALIASES.get(header_key(h)) for h in headers}
    return {"open_time", "close_time", "direction"} <= fields and bool(fields & {"net_profit", "profit"})


def _detect(head: bytes, name: str) -> bool:
    if head.lstrip()[:1] in (b"<", b"{", b"[") or head.startswith(b"PAR1"):
        return False
    _, body, _ = split_preamble(head)
    fields = header_fields(body)
    if fields is None:
        return False
    return _has_required(fields[0]) or _looks_tabular(body, *fields) or bool(_USER_COLUMNS.get())


_NUMBER_LIKE = re.compile(r"^[-+\d.,:/ ]*$")


def _looks_tabular(body: bytes, headers: list[str], sep: str) -> bool:
    """A header row of three or more names (not numbers or dates) over a row of as many fields: a table
    no other format took. Read as a trades CSV, its rejection names what could not be mapped."""
    if len(headers) < 3 or any(not h or _NUMBER_LIKE.match(h) for h in headers):
        return False
    from workbench.ingest.parsers.bars import _kind_of

    if _kind_of(headers) is not None:  # bars or ticks: never a trades CSV
        return False
    lines = body.split(b"\n", 2)
    if len(lines) < 2 or not lines[1].strip():
        return False
    try:
        row = lines[1].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return row.count(sep) == len(headers) - 1


def _metadata(comments: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in comments:
        m = _META_LINE.match(line)
        if m:
            out[m.group(1).strip().lower().replace(" ", "_")] = m.group(2)
    return out


def _meta_number(meta: dict[str, str], key: str) -> float | None:
    if key not in meta:
        return None
    value = optional_number(meta[key])
    if value is None:
        raise DataError(f"{key}: expected a number, got {meta[key]!r}", where=f"header comment {key}")
    return value


def _kinds(headers: list[str]) -> dict[str, str]:
    """Which columns the typed reader may parse itself: numbers, and the two times (by the user's
    mapping or either alias table: a column whose values do not read so sends the file down the text
    path, where the evidence is weighed)."""
    user = {header_key(h): f for f, h in (_USER_COLUMNS.get() or {}).items()}
    out: dict[str, str] = {}
    for h in headers:
        key = header_key(h)
        field = user.get(key) or TRADE_ALIASES.get(key) or LOCALISED_ALIASES.get(key)
        if field in _NUMERIC:
            out[h] = "number"
        elif field in ("open_time", "close_time"):
            out[h] = "time"
    return out


@parser("trades_csv", detect=_detect, priority=90, accepts_buffer=True)
def parse(data: bytes | MappedFile, name: str) -> Parsed:
    """A generic closed-trades CSV (documented column aliases; see the module docstring)."""
    comments, offset, skipped = scan_preamble(data)
    meta_in = _metadata(comments)
    end = data.find(b"\n", offset)
    fields = header_fields(data[offset : len(data) if end < 0 else end + 1])
    if fields is None:
        raise DataError("no header line with comma/semicolon/tab separated column names", where="1")
    headers, sep = fields
    header_line = skipped + 1
    # Fast path: typed streaming read (from disk for a mapped file). Anything unusual in the file
    # sends it down the text path below, which then names the line and column of the problem.
    source = str(data.path) if isinstance(data, MappedFile) else data
    frame = read_typed_csv(source, sep, skip_lines=skipped, kinds=_kinds)
    if frame is None or frame.columns != headers:
        frame = read_text_csv(data[offset:], sep, header_line=header_line)
    cols, doubts = _mapping(frame, _USER_COLUMNS.get(), header_line)
    missing = [f for f in ("open_time", "close_time", "direction") if f not in cols]
    if "net_profit" not in cols and "profit" not in cols:
        missing.append("net_profit (or profit)")
    if "symbol" not in cols and not meta_in.get("symbol"):
        missing.append("symbol (or a '# symbol: NAME' line)")
    if missing:
        unmapped = [c for c in frame.columns if c not in cols.values()]
        example = ",".join(f"{f.split(' ')[0]}=HEADER" for f in missing)
        raise DataError(
            f"not a trades CSV the workbench can map: no column for {', '.join(missing)}; columns not "
            f"recognised: {', '.join(repr(c) for c in unmapped) or 'none'}"
            + "".join(f"; {d}" for d in doubts)
            + f"; name them with --columns {example} (fields: {', '.join(FIELDS)}), or pass --format NAME "
            "if the file is not a list of trades",
            where=f"line {header_line}",
        )
    if frame.height == 0:
        raise DataError("no trade rows below the header", where=f"line {header_line + 1}")

    first = header_line + 1

    def where(row: int) -> str:
        return f"line {first + row}"

    out: dict[str, pl.Series] = {}
    for field in ("open_time", "close_time"):
        raw = frame[cols[field]]
        out[field] = to_datetime(raw).rename(field)
        check_column(raw, out[field], field=field, what="unrecognised date/time", where=where)
        _require(out[field], field, where)
    for field in _NUMERIC:
        if field in cols:
            raw = frame[cols[field]]
            out[field] = to_float(raw).rename(field)
            check_column(raw, out[field], field=field, what="expected a number, got", where=where)

    raw_dir = frame[cols["direction"]]
    # Map the few distinct spellings, not the rows (16M rows hold maybe 4 distinct values). They are
    # taken from the first rows (a hash of all 16M costs 0.4 s); a spelling that appears only later
    # leaves a null behind, and then they are taken from all rows.
    direction = None
    for values in (raw_dir.head(1000), raw_dir):
        spellings = {v: _DIRECTIONS.get(v.strip().lower()) for v in values.drop_nulls().unique()}
        direction = _mapped(raw_dir, spellings)
        if direction.null_count() == raw_dir.null_count():
            break
    assert direction is not None
    check_column(raw_dir, direction, field="direction", what="expected buy/sell/long/short, got", where=where)
    _require(direction, "direction", where)
    out["direction"] = direction.rename("direction")

    symbols: list[str] | None = None  # the distinct symbols, when known without another pass
    if "symbol" in cols:
        sym, symbols = _stripped_symbols(frame[cols["symbol"]])
        if meta_in.get("symbol"):
            if sym.null_count():
                sym, symbols = sym.fill_null(meta_in["symbol"]), None
        else:
            _require(sym, "symbol", where)
        out["symbol"] = sym.rename("symbol")
    else:
        out["symbol"] = pl.Series("symbol", [meta_in["symbol"]] * frame.height, dtype=pl.String)
        symbols = [meta_in["symbol"]]

    if "trade_id" in cols:
        tid = _stripped(frame[cols["trade_id"]], few=False)
        _require(tid, "trade_id", where)
        out["trade_id"] = tid.rename("trade_id")
    else:
        out["trade_id"] = pl.int_range(1, frame.height + 1, eager=True).cast(pl.String).rename("trade_id")
    if "comment" in cols:
        out["comment"] = frame[cols["comment"]].rename("comment")

    if "net_profit" in cols:
        _require(out["net_profit"], "net_profit", where)
        if {"profit", "commission", "swap"} <= set(cols):
            parts = pl.DataFrame([out[c] for c in ("net_profit", "profit", "commission", "swap")])
            implied = pl.sum_horizontal(pl.col("profit", "commission", "swap").fill_null(0))
            off = (pl.col("net_profit") - implied).abs() > 0.0051
            # counted by the streaming engine: exact comparisons, batch-sized temporaries instead of
            # four 16M-row columns
            if parts.lazy().select(off.any()).collect(engine="streaming").item():
                row = int(parts.select(off.arg_true().first()).item())
                implied_row = parts.select(implied.gather(row)).item()
                raise DataError(
                    f"net_profit {out['net_profit'][row]} differs from profit + commission + swap "
                    f"{implied_row:.2f}",
                    where=where(row) + ", column net_profit",
                )
    else:
        _require(out["profit"], "profit", where)
        net = out["profit"]
        for part in ("commission", "swap"):
            if part in out:
                net = net + out[part].fill_null(0)
        out["net_profit"] = net.rename("net_profit")

    trades = conform(pl.DataFrame(out), TRADES_SCHEMA)
    initial = _meta_number(meta_in, "initial_balance")
    stated: dict[str, float] = {}
    for key in sorted(STATED_KEYS - {"initial_balance"}):
        value = _meta_number(meta_in, key)
        if value is not None:
            stated[key] = value
    if initial is not None:
        stated["initial_balance"] = initial
    known = {"initial_balance", "symbol", "strategy", "timeframe", "currency", "name", *STATED_KEYS}
    volume_unit = _VOLUME_UNITS.get(cols.get("volume", "").strip().lower())
    meta: dict[str, Any] = {k: v for k, v in meta_in.items() if k not in known}
    meta["columns"] = cols
    meta["ignored_columns"] = [c for c in frame.columns if c not in cols.values()]
    if volume_unit:
        meta["volume_unit"] = volume_unit
    if symbols is None:
        symbols = trades["symbol"].unique().to_list()
    strategy = clean(meta_in.get("strategy")) or None
    timeframe = clean(meta_in.get("timeframe")).lower() or None
    return Parsed(
        format="trades_csv",
        kind="backtest",
        name=clean(meta_in.get("name")) or PurePath(name).stem,
        platform="csv",
        strategy=strategy,
        symbol=symbols[0] if len(symbols) == 1 else None,
        timeframe=timeframe,
        currency=clean(meta_in.get("currency")) or None,
        initial_balance=initial,
        start=trades["open_time"].min(),  # type: ignore[arg-type]
        end=trades["close_time"].max(),  # type: ignore[arg-type]
        trades=trades,
        stated=stated,
        meta=meta,
    )


def _mapped(values: pl.Series, spellings: dict[str, str | None]) -> pl.Series:
    """``values`` mapped through ``spellings`` (null where a value has no mapping), element by element:
    unlike a hash lookup (``replace_strict``) the result keeps the column's chunks, so the frame it joins
    is not copied whole to line them up again (16M rows: 1.4 GB of fresh memory)."""
    targets = sorted({t for t in spellings.values() if t is not None})
    col = pl.col(values.name)
    expr: Any = pl.lit(None, pl.String)
    for target in targets:
        expr = (
            pl.when(col.is_in([v for v, t in spellings.items() if t == target]))
            .then(pl.lit(target))
            .otherwise(expr)
        )
    return values.to_frame().select(expr.alias(values.name)).to_series()


def _stripped_symbols(values: pl.Series) -> tuple[pl.Series, list[str]]:
    """The symbol column stripped (see :func:`_stripped`) and its distinct non-null values, from one
    pass over the distinct values (16M rows hold a handful of symbols)."""
    distinct = values.drop_nulls().unique()
    if distinct.str.contains(r"^\s|\s$").any():
        values, distinct = values.str.strip_chars(), distinct.str.strip_chars().unique()
    return values, distinct.to_list()


def _stripped(values: pl.Series, *, few: bool) -> pl.Series:
    """``values.str.strip_chars()``, without writing a second copy of a column that has nothing to strip
    (the usual case: 16M ids or symbols cost 256 MB per copy). ``few``: a column of few distinct values
    (symbols), checked through them."""
    probe = values.drop_nulls().unique() if few else values
    # a streaming query: the regex runs on every core over batches (a Series method runs on one)
    padded = probe.to_frame("v").lazy().select(pl.col("v").str.contains(r"^\s|\s$").any())
    if padded.collect(engine="streaming").item():
        return values.str.strip_chars()
    return values


def _require(values: pl.Series, field: str, where: Any) -> None:
    """Every row has a value (callers pass parsed or stripped columns, so blank means null or "")."""
    blank = None
    if values.null_count():
        blank = values.is_null()
    if values.dtype == pl.String and (values == "").any():
        blank = (values == "") if blank is None else blank | (values == "")
    if blank is not None:
        raise DataError(f"{field} is missing", where=f"{where(int(blank.arg_true()[0]))}, column {field}")


def _mapping(
    frame: pl.DataFrame, user: dict[str, str] | None, header_line: int
) -> tuple[dict[str, str], list[str]]:
    """``{field: header}``: the user's mapping, then the English aliases, then the localised ones whose
    values bear them out; and a line for each localised name its values contradicted."""
    cols: dict[str, str] = {}
    by_key = {header_key(c): c for c in frame.columns}
    for field, header in (user or {}).items():
        found = header if header in frame.columns else by_key.get(header_key(header))
        if found is None:
            raise DataError(
                f"--columns {field}={header}: no such column; the header has "
                f"{', '.join(repr(c) for c in frame.columns)}",
                where=f"line {header_line}",
            )
        cols[field] = found
    taken = set(cols.values())
    rest = [c for c in frame.columns if c not in taken and TRADE_ALIASES.get(header_key(c)) not in cols]
    for field, header in map_columns(rest, TRADE_ALIASES).items():
        cols[field] = header
    doubts: list[str] = []
    for c in frame.columns:
        field = LOCALISED_ALIASES.get(header_key(c))
        if field is None or field in cols or c in cols.values():
            continue
        why = _evidence(frame[c], field)
        if why is None:
            cols[field] = c
        else:
            doubts.append(f"{c!r} reads as {field} by name but {why}")
    return cols, doubts


def _evidence(values: pl.Series, field: str) -> str | None:
    """None when the first values of a column read as ``field``'s kind, else what they are not."""
    sample = values.drop_nulls().head(200)
    if sample.dtype == pl.String:
        sample = sample.filter(sample.str.strip_chars() != "")
    if sample.len() == 0:
        return "it has no values"
    if field in ("open_time", "close_time"):  # written times (numbers could be prices as well as epochs)
        if sample.dtype.is_temporal():
            return None
        text = sample.cast(pl.String).str.strip_chars()
        ok = sniff_time_format(text) is not None and to_datetime(text).null_count() == 0
        return None if ok else f"its values are not times ({sample[0]!r})"
    if field in _NUMERIC:
        return None if to_float(sample).null_count() == 0 else f"its values are not numbers ({sample[0]!r})"
    if field == "direction":
        words = sample.cast(pl.String).str.strip_chars().str.to_lowercase()
        bad = words.filter(~words.is_in(list(_DIRECTIONS)))
        return None if bad.len() == 0 else f"{bad[0]!r} is not a buy/sell word"
    if field == "symbol":
        text = sample.cast(pl.String)
        return None if to_float(text).null_count() == text.len() else f"its values are numbers ({text[0]!r})"
    return None
