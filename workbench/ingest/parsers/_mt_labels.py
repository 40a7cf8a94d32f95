"""MetaTrader report vocabulary shared by the MT4 parsers: summary labels per interface language
and label normalisation (number formats per document are in :mod:`._numbers`).

MetaTrader prints its reports in the terminal's interface language (about 40 of them) and in the
terminal's code page. The layout does not change with the language, so the parsers find tables by
structure and read the MT4 tester summary by position; these tables name the labels so that the
parser can say which language it read, cross-check the positions, and name what it did not know.

Sources, per language (``real`` = copied from a real report saved by that terminal language):

* ``en`` real: the test suite's real MT4 tester reports urinethrower_*, ubertrading_* (builds 1353, 1440).
* ``fr`` real: qg0_* and reuniware_* (build 1090).
* ``es`` real: ignaxio_swing_nas100_m1_es_cp1252.htm (build 1380).
* ``ru`` real: panpip_* (build 1090) and othersoft_* (build 1403).
* ``ja`` a full transcription of a Japanese MT4 report (build 1353) at
  https://trade-simulation.com/verification-drawing-file-tool/strategy-tester-report, plus the older
  wording listed at http://ekky.co/mt4_lecture_eabtlook.html (``総損益``, ``プロフィットファクター``).
* ``zh`` Chinese MT4 report guides (renrendoc.com "教你看懂MT4测试报告", ywjsycyc.com) and the labels of
  Chinese MetaTrader reports that public parsers on GitHub match (总净盈利, 毛利, 毛损, 盈利因子, 交易总计...).
  Not checked against a real MT4 report.
* ``de``, ``it``, ``pt``, ``tr``, ``pl``: the wording MetaQuotes uses for the same statistics in its
  localised MQL5 documentation (``TesterStatistics``) and that public MT5-report parsers on GitHub match
  (e.g. Gesamtnettogewinn / Bruttogewinn / Bruttoverlust / Profitfaktor). Not checked against a real
  MT4 report: when a label differs, the MT4 parser still reads the figure by its position and names
  the label in a warning.

Adding a language is one dict; labels are compared after :func:`label_key` (case, accents, spaces and
a trailing ':' ignored). Rows that print a prefix cell (``Largest | profit trade``) are listed as
``"<prefix> <label>"``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

__all__ = [
    "MT4_TESTER_LABELS",
    "MT4_TESTER_HEADER",
    "MT4_TESTER_GRID",
    "label_index",
    "label_key",
    "vocabulary",
]

# The MT4 Strategy Tester summary, in the order every build prints it (1090-1473 seen). The header
# rows are label | value; ``parameters`` is left out when the expert has no inputs.
MT4_TESTER_HEADER: tuple[str, ...] = ("symbol", "period", "model", "parameters")
# Then the grid: rows of three label/value pairs (6 cells), then rows of a prefix and two pairs
# (5 cells). ``None`` is an empty slot.
MT4_TESTER_GRID: tuple[tuple[str | None, ...], ...] = (
    ("bars", "ticks", "modelling_quality"),
    ("mismatched_errors", None, None),
    ("initial_deposit", None, "spread"),
    ("net_profit", "gross_profit", "gross_loss"),
    ("profit_factor", "expected_payoff", None),
    ("absolute_drawdown", "maximal_drawdown", "relative_drawdown"),
    ("total_trades", "short_positions", "long_positions"),
    ("profit_trades", "loss_trades"),
    ("largest_profit_trade", "largest_loss_trade"),
    ("average_profit_trade", "average_loss_trade"),
    ("max_consecutive_wins", "max_consecutive_losses"),
    ("maximal_consecutive_profit", "maximal_consecutive_loss"),
    ("average_consecutive_wins", "average_consecutive_losses"),
)
_FIELDS = (*MT4_TESTER_HEADER, *(f for row in MT4_TESTER_GRID for f in row if f))


def _table(*labels: str) -> dict[str, str]:
    """Labels listed in the order of :data:`_FIELDS` -> {label: field}; ``""`` skips a field."""
    if len(labels) != len(_FIELDS):
        raise ValueError(f"expected {len(_FIELDS)} labels, got {len(labels)}")
    return {label: field for label, field in zip(labels, _FIELDS, strict=True) if label}


# fmt: off
MT4_TESTER_LABELS: dict[str, dict[str, str]] = {
    "en": _table(
        "Symbol", "Period", "Model", "Parameters", "Bars in test", "Ticks modelled", "Modelling quality",
        "Mismatched charts errors", "Initial deposit", "Spread", "Total net profit", "Gross profit",
        "Gross loss", "Profit factor", "Expected payoff", "Absolute drawdown", "Maximal drawdown",
        "Relative drawdown", "Total trades", "Short positions (won %)", "Long positions (won %)",
        "Profit trades (% of total)", "Loss trades (% of total)", "Largest profit trade",
        "Largest loss trade", "Average profit trade", "Average loss trade",
        "Maximum consecutive wins (profit in money)", "Maximum consecutive losses (loss in money)",
        "Maximal consecutive profit (count of wins)", "Maximal consecutive loss (count of losses)",
        "Average consecutive wins", "Average consecutive losses",
    ),
    "fr": _table(
        "Symbole", "Période", "Modèle", "Paramètres", "Barres en test", "Ticks modelés",
        "Qualité du modelage", "Erreurs des graphiques désaccordés", "Dépot initial", "Ecart",
        "Profit total net", "Profit brut", "Perte brute", "Facteur de profit", "Rémunération espérée",
        "Chute absolue", "Chute maximale", "Enfoncement relatif", "Total des Trades",
        "Positions SHORT (vente) gagnées %", "Positions LONG (achat) gagnées %",
        "Profits des Trades (% du total)", "Pertes des Trades (% du total)", "Le plus large gains par trade",
        "Le plus large pertes par trade", "Moyenne gains par trade", "Moyenne pertes par trade",
        "Maximum gains consécutifs (profit en $)", "Maximum pertes consécutives (perte en $)",
        "Maximum Gains consécutifs (coups gagnants)", "Maximum Pertes consécutives (coups perdants)",
        "Moyenne gains consécutifs", "Moyenne Pertes consécutives",
    ),
    "es": _table(
        "Símbolo", "Período", "Modelo", "Parámetros", "Barras en el historial", "Ticks modelados",
        "Calidad del modelado", "Errores de desalineación de gráficos", "Depósito inicial", "Spread",
        "Beneficio neto total", "Beneficio bruto", "Pérdida bruta", "Factor de beneficio",
        "Beneficio esperado", "Drawdown absoluto", "Drawdown máximo", "Drawdown relativo",
        "Total de transacciones", "Posiciones cortas (% ganadoras)", "Posiciones largas (% ganadoras)",
        "Transacciones rentables (% del total)", "Transacciones no rentables (% del total)",
        "Mayor transacción rentable", "Mayor transacción no rentable", "Media transacción rentable",
        "Media transacción no rentable", "Número máximo ganancias consecutivas (beneficio en dinero)",
        "Número máximo pérdidas consecutivas (pérdidas en dinero)",
        "Máx. beneficio consecutivo (número de ganancias)", "Máx. pérdidas consecutivas (número de pérdidas)",
        "Promedio ganancias consecutivas", "Promedio pérdidas consecutivas",
    ),
    "ru": _table(
        "Символ", "Период", "Модель", "Параметры", "Баров в истории", "Смоделировано тиков",
        "Качество моделирования", "Ошибки рассогласования графиков", "Начальный депозит", "Спред",
        "Чистая прибыль", "Общая прибыль", "Общий убыток", "Прибыльность", "Матожидание выигрыша",
        "Абсолютная просадка", "Максимальная просадка", "Относительная просадка", "Всего сделок",
        "Короткие позиции (% выигравших)", "Длинные позиции (% выигравших)", "Прибыльные сделки (% от всех)",
        "Убыточные сделки (% от всех)", "Самая большая прибыльная сделка", "Самая большая убыточная сделка",
        "Средняя прибыльная сделка", "Средняя убыточная сделка",
        "Максимальное количество непрерывных выигрышей (прибыль)",
        "Максимальное количество непрерывных проигрышей (убыток)",
        "Макс. непрерывная прибыль (число выигрышей)", "Макс. непрерывный убыток (число проигрышей)",
        "Средний непрерывный выигрыш", "Средний непрерывный проигрыш",
    ),
    "ja": _table(
        "通貨ペア", "期間", "モデル", "パラメーター", "テストバー数", "モデルティック数", "モデリング品質", "不整合チャートエラー", "初期証拠金", "スプレッド", "純益",
        "総利益", "総損失", "プロフィットファクタ", "期待利得", "絶対ドローダウン", "最大ドローダウン", "相対ドローダウン", "総取引数", "売りポジション(勝率%)",
        "買いポジション(勝率%)", "勝率(%)", "負率 (%)", "最大 勝トレード", "最大 敗トレード", "平均 勝トレード", "平均 敗トレード", "最大 連勝(金額)",
        "最大 連敗(金額)", "最大 連勝(トレード数)", "最大 連敗(トレード数)", "平均 連勝", "平均 連敗",
    ),
    "zh": _table(
        "货币对", "周期", "模型", "参数", "经测试过的柱数", "用于复盘的即时价数目", "复盘模型品质", "不匹配的图表错误", "初始存款", "点差", "总净盈利", "毛利",
        "毛损", "盈利因子", "预期收益", "绝对亏损", "最大亏损", "相对亏损", "交易总计", "卖单 (胜率%)", "买单 (胜率%)", "盈利交易 (% 全部)",
        "亏损交易 (% 全部)", "最大 获利交易", "最大 亏损交易", "平均 获利交易", "平均 亏损交易", "", "", "", "", "", "",
    ),
    "de": _table(
        "Symbol", "Zeitraum", "Modell", "Parameter", "Balken im Test", "Modellierte Ticks",
        "Modellierungsqualität", "", "Ersteinzahlung", "Spread", "Gesamtnettogewinn", "Bruttogewinn",
        "Bruttoverlust", "Profitfaktor", "Erwartetes Ergebnis", "Absoluter Rückgang", "Maximaler Rückgang",
        "Relativer Rückgang", "Trades insgesamt", "Short-Positionen (gewonnen %)",
        "Long-Positionen (gewonnen %)", "Gewinn-Trades (% von Gesamt)", "Verlust-Trades (% von Gesamt)",
        "Größter Gewinn-Trade", "Größter Verlust-Trade", "Durchschnitt Gewinn-Trade",
        "Durchschnitt Verlust-Trade", "", "", "", "", "", "",
    ),
    "it": _table(
        "Simbolo", "Periodo", "Modello", "Parametri", "Barre nel test", "Tick modellati",
        "Qualità della modellazione", "", "Deposito iniziale", "Spread", "Profitto netto totale",
        "Profitto lordo", "Perdita lorda", "Fattore di profitto", "Profitto atteso", "", "", "",
        "Totale operazioni", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
    ),
    "pt": _table(
        "Símbolo", "Período", "Modelo", "Parâmetros", "Barras em teste", "Ticks modelados",
        "Qualidade da modelagem", "", "Depósito inicial", "Spread", "Lucro líquido total", "Lucro bruto",
        "Perda bruta", "Fator de lucro", "Retorno esperado", "", "", "", "Total de negociações", "", "", "",
        "", "", "", "", "", "", "", "", "", "", "",
    ),
    "tr": _table(
        "Sembol", "Periyot", "Model", "Parametreler", "", "", "", "", "İlk yatırım", "Spread",
        "Toplam net kâr", "Brüt kâr", "Brüt zarar", "Kâr faktörü", "Beklenen getiri", "", "", "",
        "Toplam işlem", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
    ),
    "pl": _table(
        "Symbol", "Okres", "Model", "Parametry", "", "", "", "", "Depozyt początkowy", "Spread",
        "Całkowity zysk netto", "Zysk brutto", "Strata brutto", "Współczynnik zysku", "Oczekiwana wypłata",
        "", "", "", "Całkowita liczba transakcji", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
    ),
}
# fmt: on
# Older or alternative wording of the same terminal language (same sources as above).
_VARIANTS: dict[str, dict[str, str]] = {
    "fr": {"Modele": "model", "Parametres": "parameters"},  # build 1090 prints them without accents
    "ja": {"総損益": "net_profit", "プロフィットファクター": "profit_factor"},
    "zh": {
        "交易品种": "symbol",
        "初始入金": "initial_deposit",
        "起始资金": "initial_deposit",
        "获利系数": "profit_factor",
        "盈利交易 (占总数%)": "profit_trades",
        "亏损交易 (占总数%)": "loss_trades",
    },
    "de": {
        "Anfangseinlage": "initial_deposit",
        "Gewinnfaktor": "profit_factor",
        "Trades gesamt": "total_trades",
        "Gesamtzahl Trades": "total_trades",
    },
}
for _lang, _extra in _VARIANTS.items():
    MT4_TESTER_LABELS[_lang].update(_extra)

_SPACE = re.compile(r"\s+")


def label_key(label: str) -> str:
    """Case, accents (any script), whitespace and a trailing ':' do not matter."""
    text = unicodedata.normalize("NFKD", label)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return _SPACE.sub("", text).rstrip(":：")


def label_index(tables: Mapping[str, Mapping[str, str]]) -> dict[str, tuple[str, frozenset[str]]]:
    """``label_key(label) -> (field, languages that print it)`` over every language's table."""
    fields: dict[str, str] = {}
    langs: dict[str, set[str]] = {}
    for lang, table in tables.items():
        for label, field in table.items():
            key = label_key(label)
            if fields.setdefault(key, field) != field:
                raise ValueError(f"label {label!r} means {fields[key]} in one language and {field} in {lang}")
            langs.setdefault(key, set()).add(lang)
    return {key: (field, frozenset(langs[key])) for key, field in fields.items()}


def vocabulary(*tables: Mapping[str, Mapping[str, str]]) -> frozenset[str]:
    """Every label of ``tables`` (language -> label -> field): evidence for :func:`text.decode` to pick
    between 8-bit code pages the bytes alone cannot tell apart."""
    return frozenset(label for table in tables for labels in table.values() for label in labels)
