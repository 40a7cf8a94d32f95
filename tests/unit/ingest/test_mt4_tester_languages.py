"""MT4 Strategy Tester reports in other interface languages, code pages and states.

Oracle: the figures each report prints about itself (copied from the file; MANIFEST.md section 9
lists them), never the parser. "Unseen" variants are made here from an English report by
translating its labels and re-encoding it: they must give the very same trades.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from workbench.errors import DataError
from workbench.ingest import parse_bytes, parse_file
from workbench.ingest.parsers import mt4_tester_html
from workbench.ingest.parsers._mt_labels import MT4_TESTER_LABELS, label_index

try:
    from conftest import real
except ImportError:  # pragma: no cover - run outside the tests/ rootdir
    _REAL = (Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "real").resolve()

    def real(rel: str) -> Path:
        return _REAL / rel


PRINTED = {
    # file: (language, trades, net, gross profit, gross loss, profit factor, initial deposit, last balance)
    # "Всего сделок 87", "Чистая прибыль 755.67", "Общая прибыль 1078.54", "Общий убыток -322.87",
    # "Прибыльность 3.34", "Начальный депозит 200.00", last Баланс 955.67
    "panpip_super30k_gbpusd_d1_ru_cp1251.htm": ("ru", 87, 755.67, 1078.54, -322.87, 3.34, 200.0, 955.67),
    # "Всего сделок 178", "Чистая прибыль -62.62", "Общая прибыль 1116.26", "Общий убыток -1178.88",
    # "Прибыльность 0.95", "Начальный депозит 10000.00", last Баланс 9937.38
    "othersoft_cent_eurusd_h1_ru_cp1251.htm": ("ru", 178, -62.62, 1116.26, -1178.88, 0.95, 10000.0, 9937.38),
    # "Total de transacciones 2750", "Beneficio neto total 17430.03", "Beneficio bruto 32195.47",
    # "Pérdida bruta -14765.44", "Factor de beneficio 2.18", "Depósito inicial 30000.00", last Balance 47430.03
    "ignaxio_swing_nas100_m1_es_cp1252.htm": (
        "es",
        2750,
        17430.03,
        32195.47,
        -14765.44,
        2.18,
        30000.0,
        47430.03,
    ),
}


def _gross(t: pl.DataFrame) -> tuple[float, float, float]:
    net = t["net_profit"]
    gp, gl = float(net.filter(net > 0).sum()), float(net.filter(net < 0).sum())
    return gp, gl, (gp / -gl if gl else math.inf)


@pytest.mark.parametrize("fname", sorted(PRINTED))
def test_trades_reproduce_the_printed_totals(fname: str) -> None:
    lang, n, net, gp, gl, pf, deposit, final = PRINTED[fname]
    p = parse_file(real(f"mt4_tester_html/{fname}"))
    t = p.trades
    assert p.format == "mt4_tester_html" and p.meta["language"] == lang
    assert p.meta["summary_read_by"] == "position" and p.meta["unrecognised_labels"] == []
    assert p.warnings == ()
    assert t.height == n
    assert float(t["net_profit"].sum()) == pytest.approx(net, abs=0.011)
    got_gp, got_gl, got_pf = _gross(t)
    assert got_gp == pytest.approx(gp, abs=0.011) and got_gl == pytest.approx(gl, abs=0.011)
    assert round(got_pf, 2) == pf
    assert p.initial_balance == deposit and deposit + float(t["net_profit"].sum()) == pytest.approx(
        final, abs=0.011
    )
    assert (
        p.stated["net_profit"] == net and p.stated["total_trades"] == n and p.stated["final_balance"] == final
    )
    assert (p.stated["gross_profit"], p.stated["gross_loss"], p.stated["profit_factor"]) == (gp, gl, pf)
    assert p.meta["number_format"].startswith("decimal '.'")


def test_russian_swap_rollovers_are_trades_of_their_own() -> None:
    p = parse_file(real("mt4_tester_html/panpip_super30k_gbpusd_d1_ru_cp1251.htm"))
    t = p.trades
    assert p.meta["swap_rollovers"] == 23  # 23 "swap close" rows, each followed by a "swap open"
    assert (p.symbol, p.timeframe, p.strategy) == ("GBPUSD", "d1", "Super_30k_dailylevels")
    # rows 1/4/6/7: "2018.01.02 00:01 buy stop 1 0.10 1.3546", "2018.01.02 09:00 buy 1",
    # "2018.01.03 00:00 swap close 1 0.10 1.3588 ... 42.00 242.00", "2018.01.03 00:00 swap open 4 0.10 1.358891"
    first = t.filter(pl.col("trade_id") == "1").row(0, named=True)
    assert (first["open_time"], first["close_time"]) == (datetime(2018, 1, 2, 9), datetime(2018, 1, 3))
    assert (first["entry_price"], first["exit_price"], first["net_profit"]) == (1.3546, 1.3588, 42.0)
    assert first["comment"] == "swap close" and first["direction"] == "long"
    rest = t.filter(pl.col("trade_id") == "4").row(0, named=True)
    assert rest["direction"] == "long" and rest["entry_price"] == 1.358891
    assert rest["open_time"] == datetime(2018, 1, 3) and rest["comment"].endswith("(swap from #1)")
    assert (
        p.parameters["fixedLotSize"] == 0.1 and p.parameters["reverse"] is False
    )  # value spans raw newlines


def test_spanish_expired_pending_orders_are_no_trades() -> None:
    p = parse_file(real("mt4_tester_html/ignaxio_swing_nas100_m1_es_cp1252.htm"))
    # 2750 buy rows (direct or filled buy limits) and 2750 closing rows; 322 "expiration" rows
    assert p.trades.height == 2750 and (p.trades["direction"] == "long").all()
    assert p.meta["open_positions"] == [] and p.meta["pending_orders"] == []
    assert p.meta["closed_at_end"] == 24  # 24 "close at stop" rows
    assert p.meta["spread_points"] == 10 and p.symbol == "NAS100.r"  # "Actual (10)", "NAS100.r (US Tech 100)"
    assert p.meta["model"].startswith("Cada tick (el método más preciso")  # cp1252 accents


def test_blank_summary_gbk_ingests_the_trades_it_has() -> None:
    p = parse_file(real("mt4_tester_html/lucastenaglia_blank_summary_gbk.htm"))
    t = p.trades
    assert p.meta["summary_blank"] is True
    assert p.warnings == (
        "the report's summary is blank (saved before the test finished): totals not reconciled",
    )
    # 1,528 opens (787 buy + 741 sell), 1,527 closes (1,329 close + 198 s/l): the last order is open
    assert t.height == 1527 and p.meta["open_positions"] == ["1528"]
    # rows 1-2: "buy 1 0.03 4916.56", "close 1 0.03 4921.28 ... 13.98 1013.98": opening balance 1000.00
    assert p.initial_balance == 1000.0 and p.meta["initial_balance_inferred"] is True
    assert dict(p.stated) == {"final_balance": 6584.18}  # the last Balance the rows print
    assert p.initial_balance + float(t["net_profit"].sum()) == pytest.approx(6584.18, abs=0.005)
    assert p.symbol is None and p.strategy is None and p.start is None and p.end is None
    assert p.meta["build"] == "1470"
    # GBK input names decode: "第二单加仓间距=50; 第二单加仓手数=0.02", "是否显示界面统计信息=true"
    assert p.parameters["第二单加仓间距"] == 50 and p.parameters["第二单加仓手数"] == 0.02
    assert p.parameters["是否显示界面统计信息"] is True


# ------------------------------------------------------------------------------- errors by structure


def test_no_order_table_is_said_as_such_never_truncated() -> None:
    text = real("mt4_tester_html/othersoft_cent_eurusd_h1_ru_cp1251.htm").read_bytes().decode("cp1251")
    start = text.index("<table", text.index("StrategyTester.gif"))
    end = text.index("</table>", start) + len("</table>")
    with pytest.raises(DataError, match="no order table") as e:
        parse_bytes((text[:start] + text[end:]).encode("cp1251"), "no_orders.htm")
    assert "truncated" not in str(e.value)


@pytest.mark.parametrize("fname", sorted(PRINTED))
def test_a_cut_copy_is_rejected(fname: str, tmp_path: Path) -> None:
    data = real(f"mt4_tester_html/{fname}").read_bytes()
    cut = tmp_path / fname
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(DataError, match="truncated"):
        parse_file(cut)
    row_end = data.rfind(b"</tr>", 0, len(data) * 2 // 3) + len(b"</tr>")
    cut.write_bytes(data[:row_end] + b"</table></div></body></html>\n")
    with pytest.raises(DataError, match="net_profit|total_trades") as e:
        parse_file(cut)
    assert "truncated" not in str(e.value)


# ------------------------------------------------------------------- unseen languages and encodings

ENGLISH = "mt4_tester_html/urinethrower_bastet_xagusd_h4.htm"  # ASCII; no Parameters row

# English cell text -> Japanese, as a Japanese MT4 (build 1353) prints it: the report transcribed at
# https://trade-simulation.com/verification-drawing-file-tool/strategy-tester-report
JAPANESE = {
    "Symbol": "通貨ペア", "Period": "期間", "Model": "モデル", "Bars in test": "テストバー数",
    "Ticks modelled": "モデルティック数", "Modelling quality": "モデリング品質",
    "Mismatched charts errors": "不整合チャートエラー", "Initial deposit": "初期証拠金", "Spread": "スプレッド",
    "Total net profit": "純益", "Gross profit": "総利益", "Gross loss": "総損失",
    "Profit factor": "プロフィットファクタ", "Expected payoff": "期待利得", "Absolute drawdown": "絶対ドローダウン",
    "Maximal drawdown": "最大ドローダウン", "Relative drawdown": "相対ドローダウン", "Total trades": "総取引数",
    "Short positions (won %)": "売りポジション(勝率%)", "Long positions (won %)": "買いポジション(勝率%)",
    "Profit trades (% of total)": "勝率(%)", "Loss trades (% of total)": "負率 (%)", "Largest": "最大",
    "profit trade": "勝トレード", "loss trade": "敗トレード", "Average": "平均", "Maximum": "最大",
    "consecutive wins (profit in money)": "連勝(金額)", "consecutive losses (loss in money)": "連敗(金額)",
    "Maximal": "最大", "consecutive profit (count of wins)": "連勝(トレード数)",
    "consecutive loss (count of losses)": "連敗(トレード数)", "consecutive wins": "連勝", "consecutive losses": "連敗",
    # the order table's column headers too: the order table is found by its rows, not its words
    "Time": "時間", "Type": "タイプ", "Order": "注文", "Size": "数量", "Price": "価格", "Profit": "損益",
    "Balance": "残高",
}  # fmt: skip
# German: the labels the table knows, and wording it does not (it must be named in a warning).
GERMAN = {
    "Symbol": "Symbol", "Period": "Zeitraum", "Model": "Modell", "Bars in test": "Balken im Test",
    "Ticks modelled": "Modellierte Ticks", "Modelling quality": "Modellierungsqualität",
    "Mismatched charts errors": "Fehler nicht übereinstimmender Charts", "Initial deposit": "Ersteinzahlung",
    "Total net profit": "Gesamtnettogewinn", "Gross profit": "Bruttogewinn", "Gross loss": "Bruttoverlust",
    "Profit factor": "Profitfaktor", "Expected payoff": "Erwartetes Ergebnis",
    "Absolute drawdown": "Absoluter Rückgang", "Maximal drawdown": "Maximaler Rückgang",
    "Relative drawdown": "Relativer Rückgang", "Total trades": "Trades insgesamt",
    "Short positions (won %)": "Short-Positionen (gewonnen %)", "Long positions (won %)": "Long-Positionen (gewonnen %)",
    "Profit trades (% of total)": "Gewinn-Trades (% von Gesamt)", "Loss trades (% of total)": "Verlust-Trades (% von Gesamt)",
    "Largest": "Größter", "profit trade": "Gewinn-Trade", "loss trade": "Verlust-Trade", "Average": "Durchschnitt",
    "Maximum": "Maximum", "consecutive wins (profit in money)": "aufeinanderfolgende Gewinne (Gewinn in Geld)",
    "consecutive losses (loss in money)": "aufeinanderfolgende Verluste (Verlust in Geld)", "Maximal": "Maximal",
    "consecutive profit (count of wins)": "aufeinanderfolgender Gewinn (Anzahl der Gewinne)",
    "consecutive loss (count of losses)": "aufeinanderfolgender Verlust (Anzahl der Verluste)",
    "consecutive wins": "aufeinanderfolgende Gewinne", "consecutive losses": "aufeinanderfolgende Verluste",
}  # fmt: skip


def _translate(text: str, table: dict[str, str]) -> str:
    """Replace whole cell texts ``>label<`` (the header row ``# | Time | ...`` included)."""
    for en, other in table.items():
        assert f">{en}<" in text, en
        text = text.replace(f">{en}<", f">{other}<")
    return text


def _english() -> tuple[str, pl.DataFrame, dict[str, float]]:
    text = real(ENGLISH).read_text("ascii")
    p = parse_file(real(ENGLISH))
    return text, p.trades, dict(p.stated)


@pytest.mark.parametrize("encoding", ["shift_jis", "utf-8-sig", "utf-16"])
def test_japanese_labels_in_any_encoding_give_the_same_trades(encoding: str) -> None:
    text, trades, stated = _english()
    p = parse_bytes(_translate(text, JAPANESE).encode(encoding), f"ja_{encoding}.htm")
    assert p.format == "mt4_tester_html" and p.meta["language"] == "ja"
    assert p.warnings == () and p.meta["unrecognised_labels"] == []
    assert p.trades.equals(trades) and dict(p.stated) == stated
    assert (p.symbol, p.timeframe, p.initial_balance) == ("XAGUSD", "h4", 10000.0)


def test_german_labels_cp1252_known_ones_recognised_the_rest_named() -> None:
    text, trades, stated = _english()
    p = parse_bytes(_translate(text, GERMAN).encode("cp1252"), "de.htm")
    assert p.meta["language"] == "de"
    assert p.trades.equals(trades) and dict(p.stated) == stated
    unknown = p.meta["unrecognised_labels"]
    assert "Fehler nicht übereinstimmender Charts" in unknown  # umlaut decoded from cp1252
    assert "Maximum aufeinanderfolgende Gewinne (Gewinn in Geld)" in unknown
    assert "Gesamtnettogewinn" not in unknown and "Bruttoverlust" not in unknown
    (warning,) = p.warnings
    assert warning.startswith(
        "summary labels not recognised (language de): 'Fehler nicht übereinstimmender Charts'"
    )
    assert "read by their place in MT4's fixed summary layout" in warning


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be"])
def test_unknown_language_is_read_by_position_and_its_labels_named(encoding: str) -> None:
    text, trades, stated = _english()
    columns = ("Time", "Type", "Order", "Size", "Price", "Profit", "Balance")
    labels = [en for en in JAPANESE if en not in columns]  # every summary label, in document order
    made_up = {en: f"Zz{i:02d} ÆØÅ" for i, en in enumerate(labels)}
    made_up |= {en: f"Qq {en[::-1]}" for en in columns}
    p = parse_bytes(_translate(text, made_up).encode(encoding), f"xx_{encoding}.htm")
    assert p.trades.equals(trades) and dict(p.stated) == stated
    assert p.meta["language"] is None and p.meta["summary_read_by"] == "position"
    assert p.symbol == "XAGUSD" and p.meta["spread_points"] == 4
    (warning,) = p.warnings
    assert warning.startswith("summary labels not recognised (language unknown): 'Zz00 ÆØÅ', 'Zz01 ÆØÅ'")
    # prefix rows are named with their prefix: "Largest" + "profit trade"
    assert f"'{made_up['Largest']} {made_up['profit trade']}'" in warning


def test_decimal_comma_document_is_read_in_its_own_format() -> None:
    """Every number re-printed "1234,56": decided for the document, not guessed per cell."""
    text, trades, stated = _english()

    def comma(m: re.Match[str]) -> str:
        cell = m.group(2)
        if re.search(r"\d{4}\.\d\d\.\d\d", cell):
            return m.group(0)  # dates and the period line keep their dots
        return m.group(1) + re.sub(r"(?<=\d)\.(?=\d)", ",", cell) + m.group(3)

    summary_and_rows = re.sub(r"(<td[^>]*>)([^<]*)(</td>)", comma, text)
    assert ">-208,88<" in summary_and_rows and ">17,194<" in summary_and_rows  # 3 decimals: ambiguous alone
    p = parse_bytes(summary_and_rows.encode("cp1252"), "comma.htm")
    assert p.meta["number_format"].startswith("decimal ','")
    assert p.trades.equals(trades) and dict(p.stated) == stated


# ------------------------------------------------------------------------------------ label tables


def test_label_tables_cover_the_required_languages_and_never_contradict() -> None:
    assert {"en", "fr", "es", "pt", "de", "it", "ru", "tr", "pl", "zh", "ja"} <= set(MT4_TESTER_LABELS)
    index = label_index(MT4_TESTER_LABELS)  # raises if one label meant two fields
    for lang, table in MT4_TESTER_LABELS.items():
        assert {"net_profit", "initial_deposit", "total_trades"} <= set(table.values()), lang
    assert index["totalnetprofit"][0] == "net_profit"
    assert mt4_tester_html.LABELS is MT4_TESTER_LABELS


def test_a_summary_in_another_shape_is_read_by_its_labels() -> None:
    """A grid MT4 never printed (a row missing): no positions to trust, the labels decide."""
    text, trades, stated = _english()
    row = re.search(r"<tr align=left><td>Mismatched charts errors</td>.*?</tr>\r?\n", text)
    assert row is not None
    p = parse_bytes(text.replace(row.group(0), "").encode("ascii"), "reshaped.htm")
    assert p.meta["summary_read_by"] == "label" and p.warnings == ()
    assert p.trades.equals(trades) and dict(p.stated) == stated
    # ... and then a label nobody knows leaves its figure out, naming it; a required one is an error
    unknown = text.replace(row.group(0), "").replace(">Gross loss<", ">Perdita lorda?<")
    p = parse_bytes(unknown.encode("ascii"), "reshaped_unknown.htm")
    assert "gross_loss" not in p.stated and p.trades.equals(trades)
    (warning,) = p.warnings
    assert "'Perdita lorda?'" in warning and warning.endswith("their figures are left out")
    missing = unknown.replace(">Total net profit<", ">Netto?<")
    with pytest.raises(
        DataError, match=r"summary lacks net_profit \(labels not recognised: 'Netto\?', 'Perdita lorda\?'\)"
    ):
        parse_bytes(missing.encode("ascii"), "reshaped_missing.htm")
