"""MT4 Optimization Report (HTML): one row per pass, each pass's inputs only in its row's title.

Expected figures were read by eye from the real fixture; the all-rows check uses a regular
expression over the raw HTML as an oracle independent of the parser.
"""

from __future__ import annotations

import re

import polars as pl
import pytest
from conftest import REAL_FILES, real

from workbench.errors import DataError
from workbench.ingest import parse_bytes, parse_file
from workbench.ingest.parsers import mt4_optimizer_html
from workbench.ingest.registry import HEAD_BYTES, detect

OPT = "mt4_optimizer_html/okazakibolte_reverse4w_usdjpy_d1.htm"
METRICS = ["pass", "profit", "trades", "profit_factor", "expected_payoff", "drawdown", "drawdown_pct"]
INPUTS = ["window_open", "window_close", "IncreaseFactor", "MaximumRisk", "DecreaseFactor"]

RU_LABELS = {  # the MT4 Russian UI's terms
    "<b>Optimization Report</b>": "<b>Отчет по оптимизации</b>",
    "<td colspan=2>Symbol</td>": "<td colspan=2>Символ</td>",
    "<td colspan=2>Period</td>": "<td colspan=2>Период</td>",
    "<td colspan=2>Model</td>": "<td colspan=2>Модель</td>",
    "<td colspan=2>Initial deposit</td>": "<td colspan=2>Начальный депозит</td>",
    "<td colspan=2>Spread</td>": "<td colspan=2>Спред</td>",
    "<td>Pass</td><td>Profit</td><td>Total trades</td><td>Profit factor</td><td>Expected Payoff</td>"
    "<td>Drawdown $</td><td>Drawdown %</td>": "<td>Проход</td><td>Прибыль</td><td>Всего сделок</td>"
    "<td>Прибыльность</td><td>Матожидание выигрыша</td><td>Просадка $</td><td>Просадка %</td>",
}
UNKNOWN_LABELS = {  # labels of no known language: columns and summary go by position
    "<b>Optimization Report</b>": "<b>Zzz Report</b>",
    "<td colspan=2>Period</td>": "<td colspan=2>Zzz Period</td>",
    "<td colspan=2>Model</td>": "<td colspan=2>Zzz Model</td>",
    "<td colspan=2>Initial deposit</td>": "<td colspan=2>Zzz Deposit</td>",
    "<td>Pass</td><td>Profit</td><td>Total trades</td><td>Profit factor</td><td>Expected Payoff</td>"
    "<td>Drawdown $</td><td>Drawdown %</td>": "<td>Z1</td><td>Z2</td><td>Z3</td><td>Z4</td><td>Z5</td>"
    "<td>Z6 $</td><td>Z7 %</td>",
}


@pytest.fixture(scope="module")
def parsed():
    return parse_file(real(OPT))


def _relabel(table: dict[str, str], encoding: str) -> bytes:
    text = real(OPT).read_text("ascii")
    for old, new in table.items():
        assert old in text, old
        text = text.replace(old, new)
    return text.encode(encoding)


def test_first_pass_equals_the_printed_row(parsed):
    assert (
        parsed.format == "mt4_optimizer_html" and parsed.kind == "optimization" and parsed.platform == "mt4"
    )
    p = parsed.passes
    assert p.columns[:7] == METRICS
    assert p.row(0)[:7] == (1, 77.10, 12, 2.76, 6.43, 76.27, 7.34)  # the first row as printed
    assert p.row(-1)[:7] == (92, 92.38, 22, 2.70, 4.20, 64.51, 6.66)  # the last
    assert p.schema["pass"] == pl.Int64 and p.schema["trades"] == pl.Int64


def test_92_passes_equal_the_raw_rows(parsed):
    raw = real(OPT).read_text("ascii")
    rows = re.findall(r'<td title="([^"]*)">(\d+)</td>((?:<td[^>]*>[^<]*</td>){6})</tr>', raw)
    assert len(rows) == parsed.passes.height == 92
    for (title, n, rest), got in zip(rows, parsed.passes.iter_rows(named=True), strict=True):
        values = [float(v) for v in re.findall(r">([^<]*)</td>", rest)]
        assert [got[c] for c in METRICS] == [int(n), *values]
        for pair in title.strip().rstrip(";").split(";"):
            k, v = (x.strip() for x in pair.split("="))
            assert got[k] == pytest.approx(float(v))


def test_inputs_from_the_titles_are_typed(parsed):
    p = parsed.passes
    assert parsed.meta["inputs"] == INPUTS and p.columns == METRICS + INPUTS
    # pass 1: title="window_open=25; window_close=30; IncreaseFactor=0.5; MaximumRisk=0.02; DecreaseFactor=0.25; "
    first = p.row(0, named=True)
    assert {k: first[k] for k in INPUTS} == {
        "window_open": 25,
        "window_close": 30,
        "IncreaseFactor": 0.5,
        "MaximumRisk": 0.02,
        "DecreaseFactor": 0.25,
    }
    assert p.schema["window_open"] == pl.Int64 and p.schema["IncreaseFactor"] == pl.Float64


def test_bool_and_text_inputs_are_typed():
    text = real(OPT).read_text("ascii")
    n = 0

    def add(m: re.Match[str]) -> str:
        nonlocal n
        n += 1
        return f"{m.group(0)}UseTrailing={'true' if n % 2 else 'false'}; Note=run {n}; "

    data = re.sub(r'<td title="[^"]*', add, text).encode("ascii")
    p = parse_bytes(data, "x.htm").passes
    assert p.schema["UseTrailing"] == pl.Boolean and p.schema["Note"] == pl.Utf8
    assert p["UseTrailing"].to_list()[:2] == [True, False] and p["Note"][0] == "run 1"


def test_summary_fields(parsed):
    assert parsed.strategy == "reverse-4w" and parsed.symbol == "USDJPY" and parsed.timeframe == "d1"
    assert parsed.initial_balance == 920.00  # "Initial deposit 920.00"
    assert str(parsed.start) == "2018-08-21 00:00:00" and str(parsed.end) == "2021-08-20 00:00:00"
    assert parsed.meta["model"].startswith("Every tick") and parsed.meta["spread"] == "Current (16)"
    assert parsed.meta["server"] == "XMTrading-Demo 3" and parsed.meta["build"] == 1340
    assert parsed.meta["unrecognised_labels"] == []


def test_a_russian_copy_parses_the_same(parsed):
    again = parse_bytes(_relabel(RU_LABELS, "cp1251"), "отчет.htm")
    assert again.passes.equals(parsed.passes)
    assert (again.symbol, again.timeframe, again.initial_balance) == ("USDJPY", "d1", 920.0)
    assert again.meta["unrecognised_labels"] == [] and again.meta["model"] == parsed.meta["model"]


def test_an_unknown_language_falls_back_to_positions(parsed):
    again = parse_bytes(_relabel(UNKNOWN_LABELS, "utf-8"), "bericht.htm")
    assert again.passes.equals(parsed.passes)
    assert (again.symbol, again.timeframe, again.initial_balance) == ("USDJPY", "d1", 920.0)
    assert again.start == parsed.start and again.meta["model"] == parsed.meta["model"]
    unknown = again.meta["unrecognised_labels"]
    assert unknown == ["Z1", "Z2", "Z3", "Z4", "Z5", "Z6 $", "Z7 %", "Zzz Period", "Zzz Model", "Zzz Deposit"]


def test_detected_by_content_not_by_name():
    data = real(OPT).read_bytes()
    assert detect(data, "report.txt").name == "mt4_optimizer_html"
    assert detect(_relabel(RU_LABELS, "cp1251"), "x").name == "mt4_optimizer_html"


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_detector_claims_only_its_own_folder(path):
    head = path.read_bytes()[:HEAD_BYTES]
    assert mt4_optimizer_html._detect(head, path.name) == (path.parent.name == "mt4_optimizer_html")


@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_truncated_copy_is_rejected(keep: float):
    data = real(OPT).read_bytes()
    with pytest.raises(DataError, match="truncated"):
        parse_bytes(data[: int(len(data) * keep)], "cut.htm")


def test_a_cell_that_is_not_a_number_is_named():
    text = real(OPT).read_text("ascii").replace("<td class=mspt>177.20</td>", "<td class=mspt>n/a</td>")
    with pytest.raises(DataError, match=r"pass 2.*Profit: expected a number, got 'n/a'"):
        parse_bytes(text.encode("ascii"), "x.htm")


def test_an_input_named_like_a_metric_keeps_its_values():
    text = real(OPT).read_text("ascii").replace('title="window_open=', 'title="profit=1; window_open=')
    p = parse_bytes(text.encode("ascii"), "x.htm")
    assert p.passes["profit"][0] == 77.10 and p.passes["input_profit"].to_list() == [1] * 92
    assert p.meta["inputs"][0] == "input_profit"
