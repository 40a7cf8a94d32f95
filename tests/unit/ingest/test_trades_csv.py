"""The generic trades CSV parser: aliases, layouts, metadata, errors with line and column.

The CSVs are written inline; expected figures are worked out by hand in the comments.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from workbench.errors import DataError
from workbench.ingest import parse_bytes
from workbench.ingest.parsers import bars, trades_csv
from workbench.ingest.registry import HEAD_BYTES, detect

try:
    from conftest import REAL, REAL_FILES
except ImportError:  # pragma: no cover - run outside the tests/ rootdir
    REAL = (Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "real").resolve()
    REAL_FILES = sorted(p for p in REAL.rglob("*") if p.is_file() and p.name != "MANIFEST.md")

CANONICAL = b"""open_time,close_time,symbol,direction,volume,entry_price,exit_price,commission,swap,profit,net_profit,trade_id
2024-01-02 10:00:00,2024-01-02 12:30:00,EURUSD,buy,0.10,1.10000,1.10200,-0.70,0.00,20.00,19.30,101
2024-01-03 09:15:00,2024-01-03 11:00:00,EURUSD,SELL,0.20,1.09500,1.09700,-1.40,-0.25,-40.00,-41.65,102
2024-01-04 08:00:00,2024-01-05 16:45:10,GBPUSD,Long,0.05,1.27000,1.27500,-0.35,-0.10,25.00,24.55,103
"""

# MT4-like headers and layout: ';' separator, decimal commas, "YYYY.MM.DD HH:MM" times, no net column.
ALIASED = """# strategy: Breakout v2
# initial_balance: 10 000.00
# symbol: EURUSD
# net_profit: 18.70
# final_balance: 10018.70
# broker: Demo Ltd
Ticket;Open Time;Type;Lots;Close Time;Profit;Commission;Swap;Comment
7;2024.01.02 10:00;buy;0,10;2024.01.02 12:30:00;20,00;-0,70;0,00;first
8;2024.01.03 09:15;Sell;0,20;2024.01.03 11:00;-1,00;-0,60;1,00;
"""


def test_canonical_columns() -> None:
    p = parse_bytes(CANONICAL, "trades.csv")
    assert p.format == "trades_csv" and p.kind == "backtest" and p.platform == "csv"
    t = p.trades
    assert t is not None and t.height == 3
    assert t["trade_id"].to_list() == ["101", "102", "103"]
    assert t["direction"].to_list() == ["long", "short", "long"]  # buy / SELL / Long
    assert t["net_profit"].sum() == pytest.approx(19.30 - 41.65 + 24.55)
    assert t["close_time"][2] == datetime(2024, 1, 5, 16, 45, 10)
    assert t["entry_price"][1] == 1.095 and t["swap"][1] == -0.25
    assert p.symbol is None  # two symbols
    assert p.start == datetime(2024, 1, 2, 10) and p.end == datetime(2024, 1, 5, 16, 45, 10)


def test_aliases_semicolon_decimal_comma_and_metadata() -> None:
    p = parse_bytes(ALIASED.encode(), "mt4_export.csv")
    t = p.trades
    assert t is not None and t.height == 2
    assert p.meta["columns"] == {
        "trade_id": "Ticket",
        "open_time": "Open Time",
        "direction": "Type",
        "volume": "Lots",
        "close_time": "Close Time",
        "profit": "Profit",
        "commission": "Commission",
        "swap": "Swap",
        "comment": "Comment",
    }
    # net = profit + commission + swap: 20.00 - 0.70 + 0 = 19.30; -1.00 - 0.60 + 1.00 = -0.60
    assert t["net_profit"].to_list() == pytest.approx([19.30, -0.60])
    assert t["volume"].to_list() == [0.1, 0.2]
    assert t["symbol"].to_list() == ["EURUSD", "EURUSD"]  # from "# symbol: EURUSD"
    assert t["open_time"][0] == datetime(2024, 1, 2, 10, 0)
    assert t["close_time"][0] == datetime(2024, 1, 2, 12, 30, 0)
    assert t["comment"].to_list() == ["first", None]
    assert p.initial_balance == 10000.0  # "10 000.00"
    assert p.stated == {"net_profit": 18.70, "final_balance": 10018.70, "initial_balance": 10000.0}
    assert (p.strategy, p.symbol) == ("Breakout v2", "EURUSD")
    assert p.meta["broker"] == "Demo Ltd" and p.meta["volume_unit"] == "lots"


def test_stated_total_from_metadata_is_reconciled() -> None:
    wrong = ALIASED.replace("# net_profit: 18.70", "# net_profit: 25.00")
    with pytest.raises(DataError, match="net_profit"):
        parse_bytes(wrong.encode(), "x.csv")


def test_more_aliases_iso_t_and_offsets_and_no_trade_id() -> None:
    data = (
        b"Entry Time,Exit Time,Instrument,Side,Size,Net P/L\n"
        b"2024-01-02T10:00:00Z,2024-01-02T12:00:00+02:00,BTCUSD,LONG,1,100.5\n"
        b"2024-01-03T10:00:00.250Z,2024-01-03T11:00:00Z,BTCUSD,short,2,-50\n"
    )
    t = parse_bytes(data, "x.csv").trades
    assert t is not None
    assert t["trade_id"].to_list() == ["1", "2"]  # numbered in file order
    assert t["close_time"][0] == datetime(2024, 1, 2, 10, 0)  # 12:00+02:00 -> 10:00 UTC
    assert t["open_time"][1] == datetime(2024, 1, 3, 10, 0, 0, 250000)
    assert t["net_profit"].to_list() == [100.5, -50.0]


@pytest.mark.parametrize(
    ("bad_line", "column", "message"),
    [
        ("2024-01-03 09:15:00,x,EURUSD,SELL,0.2,-41.65", "close_time", "unrecognised date/time 'x'"),
        ("2024-01-03 09:15:00,2024-01-03 11:00:00,EURUSD,hold,0.2,-41.65", "direction", "'hold'"),
        ("2024-01-03 09:15:00,2024-01-03 11:00:00,EURUSD,SELL,0.2,abc", "net_profit", "'abc'"),
        ("2024-01-03 09:15:00,2024-01-03 11:00:00,EURUSD,SELL,zero,-41.65", "volume", "'zero'"),
        (",2024-01-03 11:00:00,EURUSD,SELL,0.2,-41.65", "open_time", "missing"),
    ],
)
def test_errors_name_line_and_column(bad_line: str, column: str, message: str) -> None:
    good = "2024-01-02 10:00:00,2024-01-02 12:30:00,EURUSD,buy,0.1,19.30"
    rows = [good] * 15 + [bad_line] + [good] * 3
    data = "# initial_balance: 1000\nopen_time,close_time,symbol,direction,volume,net_profit\n" + "\n".join(
        rows
    )
    with pytest.raises(DataError) as err:
        parse_bytes(data.encode(), "t.csv")
    # comment = line 1, header = line 2, rows 3..; the 16th row is line 18
    assert err.value.where == f"line 18, column {column}"
    assert message in err.value.what
    assert str(err.value).startswith(f"t.csv:line 18, column {column}: ")


def test_error_example_from_the_docs() -> None:
    rows = ["2024-01-02 10:00:00,2024-01-02 12:30:00,EURUSD,buy,19.30"] * 15
    rows.append("2024-01-02 10:00:00,x,EURUSD,buy,19.30")
    data = "open_time,close_time,symbol,direction,net_profit\n" + "\n".join(rows) + "\n"
    with pytest.raises(DataError) as err:
        parse_bytes(data.encode(), "t.csv")
    assert str(err.value) == "t.csv:line 17, column close_time: unrecognised date/time 'x'"


def test_missing_required_column_named() -> None:
    data = b"open_time,close_time,direction,net_profit\n2024-01-02 10:00,2024-01-02 11:00,buy,1\n"
    with pytest.raises(DataError, match="symbol"):
        parse_bytes(data, "t.csv", fmt="trades_csv")


def test_inconsistent_net_rejected() -> None:
    bad = CANONICAL.replace(b"-41.65,102", b"-40.00,102")  # -40 - 1.40 - 0.25 = -41.65, not -40.00
    with pytest.raises(DataError) as err:
        parse_bytes(bad, "t.csv")
    assert err.value.where == "line 3, column net_profit"


def test_duplicate_alias_rejected() -> None:
    data = (
        b"open_time,close_time,symbol,type,side,net_profit\n2024-01-02 10:00,2024-01-02 11:00,X,buy,buy,1\n"
    )
    with pytest.raises(DataError, match="both mean direction"):
        parse_bytes(data, "t.csv", fmt="trades_csv")


def test_truncated_row_rejected() -> None:
    cut = CANONICAL[: CANONICAL.rindex(b"GBPUSD") + 6]  # the last row stops after the symbol
    with pytest.raises(DataError):
        parse_bytes(cut, "t.csv")


def test_row_with_extra_fields_names_its_line() -> None:
    data = CANONICAL + b"2024-01-06 08:00:00,2024-01-06 09:00:00,EURUSD,buy,0.1,1,1,0,0,1,1,104,extra\n"
    with pytest.raises(DataError) as err:
        parse_bytes(data, "t.csv")
    assert err.value.where == "line 5" and "13 fields where the header has 12" in err.value.what


def test_large_file_vectorised_matches_numpy() -> None:
    n = 200_000
    rng = np.random.default_rng(7)
    opens = np.datetime64("2020-01-01T00:00:00") + np.cumsum(rng.integers(1, 600, n)).astype("timedelta64[s]")
    closes = opens + rng.integers(1, 3600, n).astype("timedelta64[s]")
    net = np.round(rng.normal(0, 10, n), 2)
    frame = pl.DataFrame(
        {
            "Ticket": np.arange(1, n + 1),
            "Open Time": opens.astype("datetime64[ms]"),
            "Close Time": closes.astype("datetime64[ms]"),
            "Symbol": "EURUSD",
            "Type": np.where(rng.random(n) < 0.5, "Buy", "Sell"),
            "Net P/L": net,
        }
    )
    data = frame.write_csv(datetime_format="%Y.%m.%d %H:%M:%S").encode()
    t = parse_bytes(data, "big.csv").trades
    assert t is not None and t.height == n
    assert t["net_profit"].sum() == pytest.approx(float(net.sum()), abs=1e-6)
    assert (t["direction"] == "long").sum() == int((frame["Type"] == "Buy").sum())
    assert t["close_time"].to_numpy()[-1] == closes[-1].astype("datetime64[us]")


# ---------------------------------------------------------------------------------------------- detectors

BAR_CSVS = [
    b"time,open,high,low,close,volume\n2024-01-02 10:00,1,2,0.5,1.5,10\n",
    b"Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5\n",
    b",Open,High,Low,Close,Volume\n2017-04-19 09:00:00,1.0716,1.0722,1.07083,1.07219,1413\n",
    b"<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\n2024.01.02\t10:00\t1\t2\t0.5\t1.5\t10\n",
    b"timestamp,bid,ask\n1704189600000,1.1,1.1002\n",
]


def test_trades_detector_ignores_bar_csvs() -> None:
    for data in BAR_CSVS:
        assert not trades_csv._detect(data, "x.csv"), data[:40]
        assert bars._detect_csv(data, "x.csv"), data[:40]


def test_bars_detector_ignores_trade_csvs() -> None:
    for data in (CANONICAL, ALIASED.encode()):
        assert trades_csv._detect(data, "x.csv")
        assert not bars._detect_csv(data, "x.csv")
        assert detect(data, "x.csv").name == "trades_csv"


def test_trades_detector_ignores_every_real_fixture() -> None:
    assert REAL_FILES
    for path in REAL_FILES:
        assert not trades_csv._detect(path.read_bytes()[:HEAD_BYTES], path.name), path.relative_to(REAL)
