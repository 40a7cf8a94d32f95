"""Trades CSVs with headers in other languages, unknown headers and a user's column mapping.

The oracle is the same trades written with the English headers the workbench has always read: a
translated file must parse to the identical frame. Localised header names are taken only on evidence
(the column's values read as the field's kind), and a file whose columns cannot be mapped is rejected
naming them and the fields still needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from workbench.errors import DataError
from workbench.ingest import parse_bytes
from workbench.ingest.parsers.trades_csv import column_mapping
from workbench.store import Store
from workbench.workspace import Workspace

ENGLISH = ["ticket", "open_time", "close_time", "symbol", "type", "volume", "entry_price", "exit_price"]
ENGLISH += ["commission", "swap", "profit"]
ROWS = [
    ["1001", "2024-03-01 09:00:00", "2024-03-01 10:00:00", "EURUSD", "buy", "0.10", "1.0850", "1.0870", "-0.70", "0.00", "20.00"],
    ["1002", "2024-03-01 11:00:00", "2024-03-01 12:30:00", "EURUSD", "sell", "0.10", "1.0880", "1.0890", "-0.70", "-0.10", "-10.00"],
    ["1003", "2024-03-04 08:15:00", "2024-03-04 16:45:30", "GBPUSD", "buy", "0.20", "1.2650", "1.2610", "-1.40", "0.00", "-80.00"],
]  # fmt: skip
# The same columns as their exports in each language write them, and the direction words they use.
HEADERS = {
    "de": (
        [
            "Ticket",
            "Eröffnungszeit",
            "Schließzeit",
            "Symbol",
            "Typ",
            "Volumen",
            "Eröffnungskurs",
            "Schlusskurs",
        ]
        + ["Kommission", "Swap", "Gewinn"],
        {"buy": "Kauf", "sell": "Verkauf"},
    ),
    "fr": (
        ["Ticket", "Heure d'ouverture", "Heure de fermeture", "Symbole", "Type", "Volume", "Prix d'ouverture"]
        + ["Prix de clôture", "Commission", "Swap", "Bénéfice"],
        {"buy": "Achat", "sell": "Vente"},
    ),
    "es": (
        ["Ticket", "Hora de apertura", "Hora de cierre", "Símbolo", "Tipo", "Volumen", "Precio de apertura"]
        + ["Precio de cierre", "Comisión", "Swap", "Beneficio"],
        {"buy": "Compra", "sell": "Venta"},
    ),
    "ru": (
        [
            "Тикет",
            "Время открытия",
            "Время закрытия",
            "Символ",
            "Тип",
            "Объем",
            "Цена открытия",
            "Цена закрытия",
        ]
        + ["Комиссия", "Своп", "Прибыль"],
        {"buy": "Покупка", "sell": "Продажа"},
    ),
    "zh": (
        [
            "订单号",
            "开仓时间",
            "平仓时间",
            "品种",
            "类型",
            "手数",
            "开仓价",
            "平仓价",
            "手续费",
            "库存费",
            "盈利",
        ],
        {"buy": "买入", "sell": "卖出"},
    ),
}


def _csv(headers: list[str], rows: list[list[str]], *, sep: str = ",", comma_decimals: bool = False) -> bytes:
    def cell(v: str) -> str:
        return v.replace(".", ",") if comma_decimals and v.replace(".", "").lstrip("-").isdigit() else v

    lines = [sep.join(headers)] + [sep.join(cell(v) for v in r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def _translated(lang: str) -> list[list[str]]:
    words = HEADERS[lang][1]
    return [[words.get(v, v) for v in r] for r in ROWS]


@pytest.fixture(scope="module")
def english():
    return parse_bytes(_csv(ENGLISH, ROWS), "en.csv")


@pytest.mark.parametrize("lang", sorted(HEADERS))
def test_a_translated_export_parses_as_the_english_one(lang: str, english) -> None:
    got = parse_bytes(_csv(HEADERS[lang][0], _translated(lang)), f"{lang}.csv")
    assert got.format == "trades_csv"
    assert_frame_equal(got.trades, english.trades)
    assert set(got.meta["columns"]) == set(english.meta["columns"])
    assert got.meta["ignored_columns"] == []


def test_german_semicolons_and_decimal_commas(english) -> None:
    data = _csv(HEADERS["de"][0], _translated("de"), sep=";", comma_decimals=True)
    assert b"0,10" in data and b"-80,00" in data
    assert_frame_equal(parse_bytes(data, "de.csv").trades, english.trades)


def test_a_localised_name_is_taken_only_when_its_values_bear_it_out() -> None:
    # "Ouverture"/"Apertura" may head a price: here "Ouverture" holds prices, so it is not open_time
    headers = ["Ticket", "Ouverture", "Heure de fermeture", "Symbole", "Type", "Bénéfice"]
    rows = [[r[0], r[6], r[2], r[3], r[4], r[10]] for r in ROWS]
    with pytest.raises(DataError) as err:
        parse_bytes(_csv(headers, rows), "fr.csv")
    msg = str(err.value)
    assert "no column for open_time;" in msg
    assert "'Ouverture' reads as open_time by name but its values are not times ('1.0850')" in msg
    # the same name over times is taken
    rows = [[r[0], r[1], r[2], r[3], r[4], r[10]] for r in ROWS]
    assert parse_bytes(_csv(headers, rows), "fr.csv").meta["columns"]["open_time"] == "Ouverture"


def test_direction_words_are_checked_as_evidence_too() -> None:
    headers = ["Ticket", "Eröffnungszeit", "Schließzeit", "Symbol", "Richtung", "Gewinn"]
    rows = [[r[0], r[1], r[2], r[3], "aufwärts", r[10]] for r in ROWS]
    with pytest.raises(
        DataError, match=r"'Richtung' reads as direction by name but 'aufwärts' is not a buy/sell"
    ):
        parse_bytes(_csv(headers, rows), "de.csv")


def test_unmapped_headers_are_named_with_the_fields_still_needed() -> None:
    headers = ["Nummer", "Anfang", "Ende", "Papier", "Richtung", "Ergebnis"]
    rows = [[r[0], r[1], r[2], r[3], "Kauf", r[10]] for r in ROWS]
    with pytest.raises(DataError) as err:
        parse_bytes(_csv(headers, rows), "x.csv")
    msg = str(err.value)
    assert "unrecognised format" not in msg
    assert "no column for open_time, close_time, net_profit (or profit), symbol" in msg
    assert "columns not recognised: 'Anfang', 'Ende', 'Papier', 'Ergebnis'" in msg  # Nummer, Richtung mapped
    assert "--columns open_time=HEADER,close_time=HEADER,net_profit=HEADER,symbol=HEADER" in msg


def test_a_user_mapping_comes_before_the_aliases(english) -> None:
    headers = ["Nummer", "Anfang", "Ende", "Papier", "Richtung", "close_time", "Ergebnis"]
    rows = [[r[0], r[1], r[2], r[3], "Kauf" if r[4] == "buy" else "Verkauf", "garbage", r[10]] for r in ROWS]
    mapping = {"open_time": "Anfang", "close_time": "Ende", "symbol": "papier", "profit": "Ergebnis"}
    with column_mapping(mapping):
        got = parse_bytes(_csv(headers, rows), "x.csv")
    # a header matched by key (case and spaces aside); close_time mapped to "Ende", the English-named
    # column of junk left alone
    assert got.meta["columns"]["close_time"] == "Ende" and "close_time" in got.meta["ignored_columns"]
    want = english.trades.select("trade_id", "open_time", "close_time", "symbol", "direction", "profit")
    assert_frame_equal(got.trades.select(want.columns), want)
    with column_mapping({"open_time": "Beginn"}), pytest.raises(DataError, match=r"Beginn: no such column"):
        parse_bytes(_csv(headers, rows), "x.csv")
    with pytest.raises(DataError, match="unknown field"), column_mapping({"opened": "Anfang"}):
        pass


def test_workspace_and_cli_take_a_column_mapping(tmp_path: Path, monkeypatch, capsys) -> None:
    headers = ["Nummer", "Anfang", "Ende", "Papier", "Richtung", "Ergebnis"]
    rows = [[r[0], r[1], r[2], r[3], "Kauf" if r[4] == "buy" else "Verkauf", r[10]] for r in ROWS]
    src = tmp_path / "export.csv"
    src.write_bytes(_csv(headers, rows))
    ws = Workspace(Store(tmp_path / "ws"))
    first = ws.ingest(src, index=False).files[0]
    assert first.status == "rejected" and "columns not recognised" in (first.error or "")
    mapping = {"open_time": "Anfang", "close_time": "Ende", "symbol": "Papier", "profit": "Ergebnis"}
    res = ws.ingest(src, index=False, columns=mapping).files[0]
    assert res.status == "ingested" and res.rows == 3
    assert ws.metrics(res.backtest_id).net_profit == pytest.approx(20.0 - 10.0 - 80.0)

    from workbench.cli import main

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "cli"))
    arg = "open_time=Anfang,close_time=Ende,symbol=Papier,profit=Ergebnis"
    code = main(["ingest", str(src), "--no-index", "--columns", arg, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["ingested"] == 1 and data["files"][0]["rows"] == 3
    code = main(["ingest", str(src), "--no-index", "--columns", "opened=Anfang", "--json"])
    captured = capsys.readouterr()
    assert code != 0 and "unknown field 'opened'" in captured.out + captured.err


def test_translated_and_mapped_columns_take_the_typed_fast_path(monkeypatch, english) -> None:
    from workbench.ingest.parsers import _columns, trades_csv

    used: list[bool] = []
    orig = _columns.read_typed_csv

    def spy(*a, **k):
        frame = orig(*a, **k)
        used.append(frame is not None and frame.schema[frame.columns[1]] != frame.schema[frame.columns[3]])
        return frame

    monkeypatch.setattr(trades_csv, "read_typed_csv", spy)
    got = parse_bytes(_csv(HEADERS["zh"][0], _translated("zh")), "zh.csv")
    assert used == [True]  # 开仓时间 read as a time by the reader itself, not as text
    assert_frame_equal(got.trades, english.trades)
    headers = ["Nummer", "Anfang", "Ende", "Papier", "Richtung", "Ergebnis"]
    rows = [[r[0], r[1], r[2], r[3], "Kauf" if r[4] == "buy" else "Verkauf", r[10]] for r in ROWS]
    with column_mapping(
        {"open_time": "Anfang", "close_time": "Ende", "symbol": "Papier", "profit": "Ergebnis"}
    ):
        parse_bytes(_csv(headers, rows), "x.csv")
    assert used == [True, True]
