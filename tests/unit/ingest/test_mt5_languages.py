"""MetaTrader 5 reports in other interface languages read like the English originals.

The real English fixtures (../shared/fixtures/real) are rewritten into "unseen" variants: every
label the translation tables of ``_mt5_labels`` know is put in German / Japanese / Russian /
Portuguese (labels a table lacks stay English, titles and column headers become other words: the
parser must not need them), or every text of the report into an invented language no table knows.
The variants are re-encoded as MT5 writes them (UTF-16LE with a BOM) and as UTF-8, and must give the
same trades, stated figures and platform figures as the originals, whose printed totals
tests/unit/ingest/test_mt5.py checks by eye. No real non-English report is copied here.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import real

from workbench.errors import DataError
from workbench.ingest import parse_bytes
from workbench.ingest.parsers import _mt5_common as mt5
from workbench.ingest.parsers._mt5_labels import MT5_LABELS, LabelIndex
from workbench.ingest.records import Parsed

TESTERS = [
    "mt5_tester_html/didinska21_zero_to_hero_report.html",
    "mt5_tester_html/mihawk2016_MT5EA_moving_average_usdjpy.html",
    "mt5_tester_html/zhijucen_246753_ReportTester.html",
    "mt5_tester_html/zhijucen_250013_ReportTester.html",
]
HISTORIES = [
    "mt5_history_html/mihawk2016_MT5Trade5.html",
    "mt5_history_html/mihawk2016_MT5Trade7_nohedge.html",
]
XLSX = "mt5_tester_xlsx/itsnewe_multisymbol_xauusd_xagusd.xlsx"
MA = TESTERS[1]
LANGUAGES = ["de", "ja", "ru", "pt", "invented"]

# Titles and column headers: the parser finds blocks and tables by structure, so any words do.
TITLES = {
    "ru": {"Strategy Tester Report": "Отчет тестера стратегий", "Settings": "Настройки", "Results": "Результаты",
           "Orders": "Ордера", "Deals": "Сделки", "Trade History Report": "Отчет по истории торговли",
           "Trade Positions": "Торговые позиции", "Working Orders": "Рабочие ордера"},
    "de": {"Strategy Tester Report": "Strategietester-Bericht", "Settings": "Einstellungen", "Results": "Ergebnisse",
           "Orders": "Aufträge", "Deals": "Deals", "Trade History Report": "Bericht der Handelshistorie"},
    "pt": {"Strategy Tester Report": "Relatório do Testador de Estratégia", "Settings": "Configurações",
           "Results": "Resultados", "Orders": "Ordens", "Deals": "Transações"},
    "ja": {"Strategy Tester Report": "ストラテジーテスターレポート", "Settings": "設定", "Results": "結果",
           "Orders": "注文", "Deals": "約定"},
}  # fmt: skip
HEADERS = ("Time", "Deal", "Symbol", "Type", "Direction", "Volume", "Price", "Order", "Commission", "Fee", "Swap",
           "Profit", "Balance", "Comment", "Open Time", "S / L", "T / P", "State", "Position", "Market Price")  # fmt: skip
ENGLISH_LABELS = [*MT5_LABELS["en"], "Balance Drawdown"]


def invented(text: str) -> str:
    """A language no table knows: every word reversed (``Total Net Profit`` -> ``Latot Ten Tiforp``)."""
    return re.sub(r"[A-Za-z]+", lambda m: m.group(0)[::-1].lower().capitalize(), text)


def dictionary(lang: str) -> dict[str, str]:
    """English text node -> its text in ``lang`` (labels with their colon, titles, column headers)."""
    if lang == "invented":
        words = [*(f"{x}:" for x in ENGLISH_LABELS), *TITLES["ru"], *HEADERS]
        return {w: invented(w) for w in words}
    out: dict[str, str] = {}
    for label, english in MT5_LABELS[lang].items():
        out.setdefault(f"{english}:", f"{label}:")
    out.update(TITLES.get(lang, {}))
    out.update({h: invented(h) for h in HEADERS})
    return out


def translate(text: str, words: dict[str, str]) -> str:
    """Every text node of an HTML/XML document that is a known English string, translated."""

    def node(m: re.Match[str]) -> str:
        inner = m.group(1)
        stripped = inner.strip()
        new = words.get(stripped)
        return m.group(0) if new is None else ">" + inner.replace(stripped, new) + "<"

    return re.sub(r">([^<>]+)<", node, text)


def encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16":  # as MT5 writes: UTF-16LE with a byte-order mark
        return b"\xff\xfe" + text.encode("utf-16-le")
    if encoding == "utf-8-sig":
        return text.encode("utf-8-sig")
    return text.encode("utf-8")


def html_variant(
    rel: str, lang: str, encoding: str = "utf-16", edit: Callable[[str], str] | None = None
) -> bytes:
    text = real(rel).read_bytes()[2:].decode("utf-16-le")
    text = translate(text, dictionary(lang))
    return encode(edit(text) if edit else text, encoding)


def xlsx_variant(lang: str, encoding: str) -> bytes:
    """The Excel report with its shared strings translated and every XML part written in ``encoding``."""
    src = zipfile.ZipFile(real(XLSX))
    out = io.BytesIO()
    words = dictionary(lang)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            part = src.read(info)
            if part.startswith(b"\xff\xfe"):
                text = part.decode("utf-16")
                if info.filename == "xl/sharedStrings.xml":
                    text = translate(text, words)
                part = text.encode("utf-16") if encoding == "utf-16" else text.encode("utf-8")
            dst.writestr(info, part)
    return out.getvalue()


_ORIGINALS: dict[str, Parsed] = {}


def original(rel: str) -> Parsed:
    if rel not in _ORIGINALS:
        _ORIGINALS[rel] = parse_bytes(real(rel).read_bytes(), Path(rel).name)
    return _ORIGINALS[rel]


def assert_same(p: Parsed, q: Parsed) -> None:
    """``p`` (a variant) reads exactly like ``q`` (the English original)."""
    assert p.format == q.format
    assert p.trades is not None and q.trades is not None and p.trades.equals(q.trades)
    assert p.cash_flows is not None and q.cash_flows is not None and p.cash_flows.equals(q.cash_flows)
    assert dict(p.stated) == dict(q.stated)
    assert dict(p.platform_figures) == dict(q.platform_figures) and p.convention == q.convention
    assert (p.name, p.strategy, p.symbol, p.timeframe, p.currency) == (q.name, q.strategy, q.symbol, q.timeframe,
                                                                        q.currency)  # fmt: skip
    assert (p.initial_balance, p.start, p.end) == (q.initial_balance, q.start, q.end)
    assert dict(p.parameters) == dict(q.parameters)
    assert p.meta["results"] == q.meta["results"]
    assert set(q.warnings) <= set(p.warnings)


def label_warnings(p: Parsed) -> list[str]:
    return [w for w in p.warnings if "no MT5 translation table" in w]


# --------------------------------------------------------------------------- the tables


def test_every_table_maps_to_the_english_reports_labels():
    english = set(MT5_LABELS["en"])
    assert {"en", "fr", "es", "pt", "de", "it", "ru", "tr", "pl", "zh", "ja"} <= set(MT5_LABELS)
    for lang, table in MT5_LABELS.items():
        assert set(table.values()) <= english, lang
    # the figures that prove a file whole have a translation in most languages
    for label in ("Total Net Profit", "Total Trades"):
        assert sum(label in table.values() for table in MT5_LABELS.values()) >= 10, label


def test_a_label_meaning_two_things_is_refused():
    with pytest.raises(ValueError, match="Всего сделок"):
        LabelIndex({"ru": {"Всего сделок": "Total Deals"}, "ru_mt4": {"Всего сделок": "Total Trades"}})


def test_labels_are_matched_without_case_accents_or_spacing():
    index = LabelIndex(MT5_LABELS)
    assert (
        index.english("Rebaixamento Absoluto do Saldo :") == "Balance Drawdown Absolute"
    )  # pt-BR prints the space
    assert index.english("TOPLAM İŞLEM") == "Total Trades"
    assert index.english("Счёт") == "Account"
    assert index.english("Latot Ten Tiforp") is None


# --------------------------------------------------------------------------- translated reports


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("rel", TESTERS + HISTORIES, ids=lambda r: Path(r).stem)
def test_translated_html_report_reads_like_the_original(rel, lang, encoding):
    q = original(rel)
    data = html_variant(rel, lang, encoding)
    if lang == "invented":
        assert b"Total Net Profit" not in data and "Total Net Profit".encode("utf-16-le") not in data
    p = parse_bytes(data, "report.bin")  # detected by content, in any language
    assert_same(p, q)
    if lang == "invented":
        (note,) = label_warnings(p)
        assert "'Latot Ten Tiforp' = Total Net Profit" in note
        assert "'Latot Sedart' = Total Trades" in note
        assert "left out" not in note  # every label stands where MT5's layout puts one
        assert p.meta["language"] is None
    else:
        assert not label_warnings(p), p.warnings
        assert p.meta["language"] == lang


@pytest.mark.parametrize(("lang", "encoding"), [("ru", "utf-16"), ("invented", "utf-16"), ("de", "utf-8")])
def test_translated_excel_report_reads_like_the_original(lang, encoding):
    p = parse_bytes(xlsx_variant(lang, encoding), "report.xlsx")
    assert_same(p, original(XLSX))
    assert p.meta["symbols"] == original(XLSX).meta["symbols"]
    assert bool(label_warnings(p)) == (lang == "invented")


def test_a_utf8_file_with_bom_reads_too():
    assert_same(parse_bytes(html_variant(MA, "ru", "utf-8-sig"), "r.htm"), original(MA))


def test_settings_history_header_and_summary_in_an_unknown_language():
    p = parse_bytes(html_variant(MA, "invented"), "r.htm")
    assert (p.strategy, p.symbol, p.timeframe, p.currency) == ("Moving Average", "USDJPY", "h1", "USD")
    assert p.meta["broker"] == "MetaQuotes Software Corp." and p.meta["leverage"] == "1:100"
    assert p.meta["build"] == 1375  # "MetaQuotes-Demo (Build 1375)"
    (note,) = label_warnings(p)
    assert "'Trepxe' = Expert" in note and "'Laitini Tisoped' = Initial Deposit" in note
    h = parse_bytes(html_variant(HISTORIES[0], "invented"), "h.htm")
    q = original(HISTORIES[0])
    for key in ("login", "currency", "leverage", "server", "account_name", "broker", "report_date"):
        assert h.meta[key] == q.meta[key], key
    assert h.meta["account_summary"] == q.meta["account_summary"]  # Balance: 11333.77 ... Equity
    assert h.meta["open_positions_printed"] == q.meta["open_positions_printed"]


# --------------------------------------------------------------------------- by place, checked


@pytest.mark.parametrize("rel", [*TESTERS, *HISTORIES, XLSX], ids=lambda r: Path(r).stem)
def test_every_real_fixture_reads_the_same_by_place_alone(rel, monkeypatch):
    """With no translation table at all, MT5's fixed layout places every printed figure as the
    English labels do: the layout model agrees with every real report."""
    want = original(rel)  # parsed (and cached for the other tests) with the tables, before they go
    monkeypatch.setattr(mt5, "_labels", LabelIndex({}))
    p = parse_bytes(real(rel).read_bytes(), Path(rel).name)
    assert_same(p, want)
    (note,) = label_warnings(p)
    assert "= Total Net Profit" in note and "left out" not in note


def test_a_translation_that_contradicts_the_layout_is_overruled_by_place():
    """Russian "Всего сделок" is MT5's Total Deals; a report printing it where Total Trades stands
    (and the other way round) is read by place, and the disagreement is named."""
    swap = {"Total Trades:": "Всего сделок:", "Total Deals:": "Всего трейдов:"}
    p = parse_bytes(html_variant(MA, "en", edit=lambda t: translate(t, swap)), "r.htm")
    assert p.stated["total_trades"] == 152 == p.trades.height  # "Total Trades: 152", not "Total Deals: 304"
    assert_same(p, original(MA))
    assert any("'Всего сделок' (Total Deals by the table, Total Trades by place)" in w for w in p.warnings)


def test_a_misstated_net_profit_in_an_unknown_language_is_rejected():
    data = html_variant(MA, "invented", edit=lambda t: t.replace("<b>1 665.38</b>", "<b>1 765.38</b>"))
    with pytest.raises(DataError, match="net_profit"):
        parse_bytes(data, "r.htm")


def test_a_translated_deal_type_is_refused_by_name():
    def edit(text: str) -> str:
        deals = text.index("Laed<")  # the Deals header, translated
        return text[:deals] + text[deals:].replace(
            "<td>sell</td><td>out</td>", "<td>продажа</td><td>out</td>", 1
        )

    with pytest.raises(DataError, match="продажа"):
        parse_bytes(html_variant(MA, "invented", edit=edit), "r.htm")


def test_decimal_commas_are_read_by_the_documents_own_format():
    """A report whose numbers print a decimal comma (``1 665,38``, ``8,09% (967,94)``) reads the same:
    the format is decided once for the document (``_numbers``), not per cell."""

    def commas(text: str) -> str:
        def node(m: re.Match[str]) -> str:
            s = m.group(1)
            if not re.fullmatch(r"[-+\d .%()]+", s) or re.search(r"\d{4}\.\d{2}\.\d{2}", s):
                return m.group(0)  # dates, inputs and comments stay as they are
            return ">" + re.sub(r"(?<=\d)\.(?=\d)", ",", s) + "<"

        return re.sub(r">([^<>]+)<", node, text)

    for rel in (MA, HISTORIES[0]):
        p = parse_bytes(html_variant(rel, "de", edit=commas), "r.htm")
        assert "decimal ','" in p.meta["number_format"]
        assert_same(p, original(rel))
