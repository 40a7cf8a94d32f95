"""MetaTrader 5 report labels in the terminal's interface languages (tester and history reports).

MT5 prints its reports in the language of the terminal (about 40 of them). The layout does not
change with the language, so :mod:`._mt5_common` finds the tables by structure and the figures by
their place in MT5's fixed layout; these tables name the labels so that a report in a known
language is read by its labels, the positions are cross-checked, and the labels of an unknown
language can be named in a warning. They could merge with the MT4 tables of :mod:`._mt_labels`
(same normalisation, :func:`._mt_labels.label_key`); they are kept apart because MT5's wording
differs from MT4's for the same figure (Russian "Всего сделок" is MT4's Total trades but MT5's
Total Deals).

One dict per language: printed label (without its colon) -> the English report's own label, which
is what the parsers key on. Labels are compared after :func:`._mt_labels.label_key` (case, accents,
whitespace and a trailing ':' do not matter). Deal types and directions (``buy``, ``sell``,
``balance``, ``in``, ``out``, ``in/out``) are not translated by MT5: the Turkish, Portuguese and
Chinese report readers cited below match them in English, and so does :mod:`._mt5_common`.

Sources, per language. No real non-English report was copied into the repository; each entry was
read off a real report as quoted by a public parser or transcription (GitHub files found with the
code-search tools; ``file id`` is that index's id), or from MetaQuotes' published help:

* ``en`` the reports in the test suite's real-export fixtures (four tester reports of builds 1375-5833, two history
  reports, one Excel report of build 5570).
* ``ru`` MetaQuotes' help page "Отчет о тестировании" (metatrader5.com/ru/terminal/help/algotrading/
  testing_report: Качество истории, Бары, Тики, Символы); a reader of a real Russian report
  (Sergiovalle3121/quant-trade, quant_trade/audit/importers.py ``_MT5_LABEL_ALIASES`` and
  forensics/totals.py); a generator that reproduces the Russian report's markup (file id 70943690747:
  Матожидание выигрыша, Самый большой прибыльный трейд, Средний прибыльный трейд...).
* ``es`` a hand transcription of a real Spanish tester report (FTMO-Server5, build 4755; file id
  14246016517, and 14743153567 for a second one) and the Spanish aliases of quant-trade (real reports
  of kecoma1/Trading_BOT; "Total de operaciones ejecutadas", "Corredor"...).
* ``pt`` several independent readers of real pt-BR tester reports (build 5800): file ids 51807683973
  (full label map, deals table "Transações"), 55699547359, 70162859121 ("Rebaixamento Absoluto do
  Saldo :" with a space before the colon), 30237264264; quant-trade ("Ofertas Total" = Total Deals).
* ``de`` a reader checked against a real German tester report (UTF-16), file id 69809371024
  (Expertenprogramm, Eingaben, Firma, Ersteinlage, Hebel, Nettogewinn gesamt, Rückgang Kontostand
  maximal, Sell-Positionen (davon gewonnen %)...), and file id 55724524851.
* ``fr`` a reader of a real French Excel report (file id 9111510621; it reads each value at the
  Excel layout's columns 3/7/11, which places "Fond Drawdown Maximal" in the third, equity, column).
* ``it`` quant-trade's Italian aliases (five real reports of Marco210210/AI-Enhanced-HFT) and a test
  that rewrites a real Italian report (file id 70169210391: "Deposito Iniziale", "Numero di Operazioni
  di Trading Totali", "Profitto Totale Netto", "100% ticks reali").
* ``tr`` a reader of de-tagged real Turkish tester reports (file id 71361838748: Uzman, Sembol,
  Zaman Dilimi, Girdiler, Şirket, Para Birimi, Başlangıç Mevduatı, Kaldıraç, Tarihin Kalite...).
* ``pl`` a script that checks figures against Polish MT5 HTML reports (file ids 62659659754,
  62929771419: Zysk Netto Ogółem, Zysk Brutto, Strata Brutto, Wszystkie Transakcje).
* ``zh`` readers of real simplified-Chinese tester reports (file ids 60417547173, 55881624147,
  59367096695) and quant-trade (Jason767445898/QA_SQX).
* ``zh_tw`` quant-trade's traditional-Chinese aliases (a real UTF-8 history report of
  DaraGaloX233/MQL5_TradeRecord).
* ``ja`` notes and patterns of a reader of real Japanese (JPY) tester reports (file id 42529598379:
  総損益, 総利益, 総損失, プロフィットファクター, 期待利得) and a Japanese guide to the MT5 report
  (smart-trading-strategy.com: ヒストリー品質).

Entries marked ``# analogy`` follow the wording of their language's neighbouring labels and were not
seen in a real report; a wrong one only fails to match (the figure is then read by its position and
the label named in the warning). For the figures that prove a file whole, a label that disagrees
with its position is overruled by the position.
"""

from __future__ import annotations

from collections.abc import Mapping

from workbench.ingest.parsers._mt_labels import label_key

__all__ = ["MT5_LABELS", "LabelIndex", "index"]

# The English report's labels (the canonical names the parsers key on), by block.
TESTER_SETTINGS = ("Expert", "Symbol", "Period", "Inputs", "Company", "Broker", "Currency", "Initial Deposit",
                   "Leverage")  # fmt: skip
HISTORY_HEADER = ("Name", "Account", "Company", "Broker", "Date")
ACCOUNT_SUMMARY = (
    "Balance",
    "Credit Facility",
    "Floating P/L",
    "Equity",
    "Free Margin",
    "Margin",
    "Margin Level",
)
RESULTS = (
    "History Quality", "Bars", "Ticks", "Symbols",
    "Total Net Profit", "Gross Profit", "Gross Loss",
    "Balance Drawdown Absolute", "Balance Drawdown Maximal", "Balance Drawdown Relative",
    "Equity Drawdown Absolute", "Equity Drawdown Maximal", "Equity Drawdown Relative",
    "Profit Factor", "Expected Payoff", "Margin Level", "Recovery Factor", "Sharpe Ratio", "Z-Score",
    "AHPR", "GHPR", "LR Correlation", "LR Standard Error", "OnTester result",
    "Correlation (Profits,MFE)", "Correlation (Profits,MAE)", "Correlation (MFE,MAE)",
    "Minimal position holding time", "Maximal position holding time", "Average position holding time",
    "Total Trades", "Total Deals", "Short Trades (won %)", "Long Trades (won %)",
    "Profit Trades (% of total)", "Loss Trades (% of total)",
    "Largest profit trade", "Largest loss trade", "Average profit trade", "Average loss trade",
    "Maximum consecutive wins ($)", "Maximum consecutive losses ($)",
    "Maximal consecutive profit (count)", "Maximal consecutive loss (count)",
    "Average consecutive wins", "Average consecutive losses",
)  # fmt: skip

# fmt: off
_EN = {label: label for label in (*TESTER_SETTINGS, *HISTORY_HEADER, *ACCOUNT_SUMMARY, *RESULTS)}

_RU = {
    # settings, history header (quant-trade's real report)
    "Советник": "Expert", "Символ": "Symbol", "Период": "Period", "Брокер": "Broker", "Компания": "Company",
    "Валюта": "Currency", "Начальный депозит": "Initial Deposit", "Плечо": "Leverage", "Счет": "Account",
    "Дата": "Date",
    "Входные параметры": "Inputs",  # analogy
    # results: help page (Качество истории, Бары, Тики, Символы), quant-trade, the markup generator
    "Качество истории": "History Quality", "Бары": "Bars", "Тики": "Ticks", "Символы": "Symbols",
    "Чистая прибыль": "Total Net Profit", "Общая прибыль": "Gross Profit", "Общий убыток": "Gross Loss",
    "Прибыльность": "Profit Factor", "Матожидание выигрыша": "Expected Payoff",
    "Коэффициент Шарпа": "Sharpe Ratio",
    "Максимальная просадка по балансу": "Balance Drawdown Maximal",
    "Максимальная просадка по средствам": "Equity Drawdown Maximal",
    "Относительная просадка по средствам": "Equity Drawdown Relative",
    "Всего трейдов": "Total Trades", "Всего сделок": "Total Deals",
    "Короткие трейды (% выигравших)": "Short Trades (won %)",
    "Длинные трейды (% выигравших)": "Long Trades (won %)",
    "Прибыльные трейды (% от всех)": "Profit Trades (% of total)",
    "Убыточные трейды (% от всех)": "Loss Trades (% of total)",
    "Самый большой прибыльный трейд": "Largest profit trade",
    "Самый большой убыточный трейд": "Largest loss trade",
    "Средний прибыльный трейд": "Average profit trade", "Средний убыточный трейд": "Average loss trade",
    "Абсолютная просадка по балансу": "Balance Drawdown Absolute",  # analogy
    "Относительная просадка по балансу": "Balance Drawdown Relative",  # analogy
    "Абсолютная просадка по средствам": "Equity Drawdown Absolute",  # analogy
    "Фактор восстановления": "Recovery Factor",  # analogy
    "Уровень маржи": "Margin Level",  # analogy
}

_ES = {
    # settings (the build-4755 transcription; "Asesor", "Corredor", "Compañía", "Moneda": quant-trade)
    "Experto": "Expert", "Asesor": "Expert", "Asesor Experto": "Expert", "Símbolo": "Symbol",
    "Período": "Period", "Empresa": "Company", "Compañía": "Company", "Corredor": "Company",
    "Divisa": "Currency", "Moneda": "Currency", "Depósito inicial": "Initial Deposit",
    "Apalancamiento": "Leverage", "Cuenta": "Account", "Fecha": "Date",
    # results (the transcription; "Total de Trades", "Factor de Rentabilidad"...: quant-trade)
    "Calidad del historial": "History Quality", "Barras": "Bars", "Símbolos": "Symbols",
    "Beneficio Neto": "Total Net Profit", "Beneficio Bruto": "Gross Profit", "Pérdidas Brutas": "Gross Loss",
    "Factor de Beneficio": "Profit Factor", "Factor de Rentabilidad": "Profit Factor",
    "Beneficio Esperado": "Expected Payoff", "Factor de Recuperación": "Recovery Factor",
    "Ratio de Sharpe": "Sharpe Ratio", "El Ratio de Sharpe": "Sharpe Ratio",
    "Reducción absoluta del balance": "Balance Drawdown Absolute",
    "Reducción absoluta de la equidad": "Equity Drawdown Absolute",
    "Reducción máxima del balance": "Balance Drawdown Maximal",
    "Reducción Máxima del Saldo": "Balance Drawdown Maximal",
    "Reducción máxima de la equidad": "Equity Drawdown Maximal",
    "Reducción máxima del capital": "Equity Drawdown Maximal",
    "Reducción relativa del balance": "Balance Drawdown Relative",
    "Reducción relativa de la equidad": "Equity Drawdown Relative",
    "Reducción relativa del capital": "Equity Drawdown Relative",
    "Nivel de margen": "Margin Level", "Resultado de OnTester": "OnTester result",
    "Total de operaciones ejecutadas": "Total Trades", "Total de Trades": "Total Trades",
    "Total de transacciones": "Total Deals",
    "Posiciones rentables (% del total)": "Profit Trades (% of total)",
    "Posiciones no rentables (% del total)": "Loss Trades (% of total)",
    "Posiciones cortas (% rentables)": "Short Trades (won %)",
    "Posiciones largas (% rentables)": "Long Trades (won %)",
    "Transacción rentable máxima": "Largest profit trade", "Transacción no rentable máxima": "Largest loss trade",
    "Transacción rentable promedio": "Average profit trade",
    "Transacción no rentable promedio": "Average loss trade",
    "Promedio de ganancias consecutivas": "Average consecutive wins",
    "Promedio de pérdidas consecutivas": "Average consecutive losses",
}

_PT = {
    # settings ("Expert Advisor (Robô)": quant-trade)
    "Expert Advisor (Robô)": "Expert", "Ativo": "Symbol", "Período": "Period", "Empresa": "Company",
    "Moeda": "Currency", "Depósito Inicial": "Initial Deposit", "Alavancagem": "Leverage", "Conta": "Account",
    "Data": "Date",
    # results (the pt-BR build-5800 readers)
    "Qualidade do histórico": "History Quality", "Barras": "Bars",
    "Lucro Líquido Total": "Total Net Profit", "Lucro Bruto": "Gross Profit", "Perda Bruta": "Gross Loss",
    "Fator de Lucro": "Profit Factor", "Retorno Esperado (Payoff)": "Expected Payoff",
    "Fator de Recuperação": "Recovery Factor", "Índice de Sharpe": "Sharpe Ratio", "Z-Pontuação": "Z-Score",
    "Correlação LR": "LR Correlation", "Erro Padrão LR": "LR Standard Error",
    "Rebaixamento Absoluto do Saldo": "Balance Drawdown Absolute",
    "Rebaixamento Máximo do Saldo": "Balance Drawdown Maximal",
    "Rebaixamento Relativo do Saldo": "Balance Drawdown Relative",
    "Rebaixamento Absoluto do Capital Líquido": "Equity Drawdown Absolute",
    "Rebaixamento Máximo do Capital Líquido": "Equity Drawdown Maximal",
    "Rebaixamento Relativo do Capital Líquido": "Equity Drawdown Relative",
    "Total de Negociações": "Total Trades", "Ofertas Total": "Total Deals",
    "Negociações com Lucro (% of total)": "Profit Trades (% of total)",
    "Negociações com Perda (% of total)": "Loss Trades (% of total)",
    "Posições Vendidas (% e ganhos)": "Short Trades (won %)",
    "Posições Compradas (% de ganhos)": "Long Trades (won %)",
    "Maior lucro da negociação": "Largest profit trade", "Maior perda na Negociação": "Largest loss trade",
    "Média lucro da negociação": "Average profit trade", "Média perda na Negociação": "Average loss trade",
    "Máximo ganhos consecutivos ($)": "Maximum consecutive wins ($)",
    "Máximo perdas consecutivas ($)": "Maximum consecutive losses ($)",
    "Máxima lucro consecutivo (contagem)": "Maximal consecutive profit (count)",
    "Máxima perda consecutiva (contagem)": "Maximal consecutive loss (count)",
}

_DE = {
    "Expertenprogramm": "Expert", "Periode": "Period", "Eingaben": "Inputs", "Firma": "Company",
    "Währung": "Currency", "Ersteinlage": "Initial Deposit", "Hebel": "Leverage",
    "Qualität der Historie": "History Quality", "Balken": "Bars",
    "Nettogewinn gesamt": "Total Net Profit", "Bruttogewinn": "Gross Profit", "Bruttoverlust": "Gross Loss",
    "Profitfaktor": "Profit Factor", "Erwartetes Ergebnis": "Expected Payoff",
    "Rückgang Kontostand absolut": "Balance Drawdown Absolute",
    "Rückgang Kontostand maximal": "Balance Drawdown Maximal",
    "Rückgang Kontostand relativ": "Balance Drawdown Relative",  # analogy
    "Rückgang Equity absolut": "Equity Drawdown Absolute", "Rückgang Equity maximal": "Equity Drawdown Maximal",
    "Rückgang Equity relativ": "Equity Drawdown Relative",  # analogy
    "Gesamtanzahl Trades": "Total Trades", "Anzahl Deals": "Total Deals",
    "Sell-Positionen (davon gewonnen %)": "Short Trades (won %)",
    "Buy-Positionen (davon gewonnen %)": "Long Trades (won %)",
    "Gewonnene Trades (in % von Gesamt)": "Profit Trades (% of total)",
    "Verlorene Trades (in % von Gesamt)": "Loss Trades (% of total)",
    "Größter Gewinntrade": "Largest profit trade", "Größter Verlusttrade": "Largest loss trade",
    "Durchschnitt Gewinntrade": "Average profit trade", "Durchschnitt Verlusttrade": "Average loss trade",
}

_FR = {
    "Profit Total Net": "Total Net Profit", "Profit brut": "Gross Profit", "Perte brut": "Gross Loss",
    "Fond Drawdown Maximal": "Equity Drawdown Maximal", "Nb trades": "Total Trades",
    "Positions gagnantes (% du total)": "Profit Trades (% of total)",
    "Positions perdantes (% du total)": "Loss Trades (% of total)",
}

_IT = {
    "Simbolo": "Symbol", "Periodo": "Period", "Società": "Company", "Valuta": "Currency",
    "Deposito Iniziale": "Initial Deposit", "Leva": "Leverage", "Conto": "Account",
    "Qualità dello Storico": "History Quality",
    "Profitto Totale Netto": "Total Net Profit", "Profitto Lordo": "Gross Profit", "Perdita Lorda": "Gross Loss",
    "Fattore di Profitto": "Profit Factor", "Indice di Sharpe": "Sharpe Ratio",
    "Bilancio Drawdown Massimo": "Balance Drawdown Maximal", "Equità Drawdown Massima": "Equity Drawdown Maximal",
    "Equità Drawdown Relativa": "Equity Drawdown Relative",
    "Numero di Operazioni di Trading Totali": "Total Trades", "Affari Totali": "Total Deals",
    "Operazioni di Trading Short (vincenti %)": "Short Trades (won %)",
    "Operazioni di Trading Long (vincenti %)": "Long Trades (won %)",
    "Operazioni di Trading in Profitto (% del totale)": "Profit Trades (% of total)",
    "Operazioni di Trading in Perdita (% del totale)": "Loss Trades (% of total)",
}

_TR = {
    "Uzman": "Expert", "Sembol": "Symbol", "Zaman Dilimi": "Period", "Girdiler": "Inputs", "Şirket": "Company",
    "Para Birimi": "Currency", "Başlangıç Mevduatı": "Initial Deposit", "Kaldıraç": "Leverage",
    "Tarihin Kalite": "History Quality", "Çubuklar": "Bars", "Tikler": "Ticks",
    "Toplam Net Kar": "Total Net Profit", "Brüt kar": "Gross Profit", "Brüt Zarar": "Gross Loss",
    "Toplam İşlem": "Total Trades", "Tüm İşlemler": "Total Deals",
    "Karlı İşlemler (toplamın %)": "Profit Trades (% of total)",
    "Kayıplı İşlemler (toplamın %)": "Loss Trades (% of total)",
}

_PL = {
    "Zysk Netto Ogółem": "Total Net Profit", "Zysk Brutto": "Gross Profit", "Strata Brutto": "Gross Loss",
    "Wszystkie Transakcje": "Total Trades",
}

_ZH = {
    "专家": "Expert", "交易品种": "Symbol", "期间": "Period", "输入": "Inputs", "公司": "Company",
    "交易商": "Company", "货币": "Currency", "初始入金": "Initial Deposit", "杠杆": "Leverage",
    "账户": "Account", "日期": "Date",
    "质量历史": "History Quality", "总净盈利": "Total Net Profit", "毛利": "Gross Profit", "毛损": "Gross Loss",
    "盈利因子": "Profit Factor", "预期收益": "Expected Payoff", "夏普比率": "Sharpe Ratio",
    "最大结余亏损": "Balance Drawdown Maximal", "最大净值亏损": "Equity Drawdown Maximal",
    "相对净值亏损": "Equity Drawdown Relative",
    "交易总计": "Total Trades", "总成交": "Total Deals",
    "卖出交易 (赢得 %)": "Short Trades (won %)", "买入交易 (赢得 %)": "Long Trades (won %)",
    "盈利交易 (% 全部)": "Profit Trades (% of total)", "盈利交易(%在全部)": "Profit Trades (% of total)",
    "亏损交易 (% 全部)": "Loss Trades (% of total)",
    "最大 获利交易": "Largest profit trade", "最大 亏损交易": "Largest loss trade",
    "平均 获利交易": "Average profit trade", "平均 亏损交易": "Average loss trade",
    "平均持仓时间": "Average position holding time",
}

_ZH_TW = {
    "帳戶": "Account", "總淨盈利": "Total Net Profit", "毛損": "Gross Loss", "交易總計": "Total Trades",
    "賣出交易 (won %)": "Short Trades (won %)", "買入交易 (贏得 %)": "Long Trades (won %)",
    "虧損交易 (%總計)": "Loss Trades (% of total)", "最大本日餘額虧損": "Balance Drawdown Maximal",
    "本日餘額": "Balance", "信用貸款": "Credit Facility", "浮動 P/L": "Floating P/L", "權益數": "Equity",
    "保證金": "Margin", "可用保證金": "Free Margin",
}

_JA = {
    "ヒストリー品質": "History Quality", "総損益": "Total Net Profit", "総利益": "Gross Profit",
    "総損失": "Gross Loss", "プロフィットファクター": "Profit Factor", "期待利得": "Expected Payoff",
    "取引数": "Total Trades",  # the reader matches "...取引数:"; "総取引数" is the likelier full label
    "総取引数": "Total Trades",  # analogy
}
# fmt: on

MT5_LABELS: dict[str, dict[str, str]] = {
    "en": _EN, "ru": _RU, "es": _ES, "pt": _PT, "de": _DE, "fr": _FR, "it": _IT, "tr": _TR, "pl": _PL,
    "zh": _ZH, "zh_tw": _ZH_TW, "ja": _JA,
}  # fmt: skip


class LabelIndex:
    """``label_key(label) -> (English label, languages)`` over every language's table."""

    def __init__(self, tables: Mapping[str, Mapping[str, str]]) -> None:
        self._english: dict[str, str] = {}
        self._langs: dict[str, set[str]] = {}
        for lang, table in tables.items():
            for label, english in table.items():
                key = label_key(label)
                if self._english.setdefault(key, english) != english:
                    raise ValueError(
                        f"MT5 label {label!r} ({lang}) means {english!r} but another language's "
                        f"identical label means {self._english[key]!r}"
                    )
                self._langs.setdefault(key, set()).add(lang)

    def english(self, label: str) -> str | None:
        """The English report's label for ``label`` in any known language, else None."""
        return self._english.get(label_key(label))

    def languages(self, label: str) -> frozenset[str]:
        return frozenset(self._langs.get(label_key(label), ()))


index = LabelIndex(MT5_LABELS)
