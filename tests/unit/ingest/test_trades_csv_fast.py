"""The typed fast path of ``trades_csv`` and the mapped-file ingest of big files.

The oracle is the text path (every column read as text, then converted column by column), which
the fast path must reproduce exactly or decline; line numbers in error messages are counted by hand.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from workbench.errors import DataError, StoreError
from workbench.ingest import load, parse_bytes
from workbench.ingest.parsers import _columns, trades_csv
from workbench.ingest.registry import MappedFile
from workbench.store import Store

try:
    from conftest import real
except ImportError:  # pragma: no cover - run outside the tests/ rootdir
    _REAL = (Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "real").resolve()

    def real(rel: str) -> Path:
        return _REAL / rel


HEADER = (
    "ticket,open_time,close_time,symbol,type,volume,entry_price,exit_price,commission,swap,profit,net_profit"
)


def _rows(n: int, *, time_fmt: str = "%Y-%m-%d %H:%M:%S") -> list[str]:
    """n clean trade rows; net_profit = profit + commission + swap by construction (to the cent)."""
    from datetime import datetime, timedelta

    out = []
    t0 = datetime(2024, 1, 1, 9, 30, 5)
    for i in range(n):
        o = t0 + timedelta(minutes=7 * i, microseconds=1000 * (i % 7))
        c = o + timedelta(minutes=5 + i % 13)
        profit = round((i % 11 - 5) * 1.25, 2)
        commission = -0.7 if i % 3 else -1.4
        swap = 0.0 if i % 4 else -0.25
        net = round(profit + commission + swap, 2)
        side = ("buy", "SELL", " Long ", "short")[i % 4]
        sym = ("EURUSD", "GBPUSD")[i % 2]
        out.append(
            f"{1000 + i},{o.strftime(time_fmt)},{c.strftime(time_fmt)},{sym},{side},0.1,1.1,1.2,"
            f"{commission},{swap},{profit},{net}"
        )
    return out


def _csv(rows: list[str], *, preamble: str = "# initial_balance: 10000\n", header: str = HEADER) -> bytes:
    return (preamble + header + "\n" + "\n".join(rows) + "\n").encode()


def _text_path(monkeypatch: pytest.MonkeyPatch, data: bytes, name: str = "t.csv"):
    with monkeypatch.context() as m:
        m.setattr(trades_csv, "read_typed_csv", lambda *a, **k: None)
        return parse_bytes(data, name)


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, per parse, whether the fast path returned a frame (True) or declined (False)."""
    used: list[bool] = []
    orig = _columns.read_typed_csv

    def spy(*a, **k):
        frame = orig(*a, **k)
        used.append(frame is not None)
        return frame

    monkeypatch.setattr(trades_csv, "read_typed_csv", spy)
    return used


def _same(fast, slow) -> None:
    assert_frame_equal(fast.trades, slow.trades)
    assert (fast.stated, fast.meta, fast.start, fast.end, fast.symbol, fast.initial_balance) == (
        slow.stated,
        slow.meta,
        slow.start,
        slow.end,
        slow.symbol,
        slow.initial_balance,
    )


CLEAN = {
    "plain": _csv(_rows(1200)),
    "iso_t_fraction": _csv(_rows(50, time_fmt="%Y-%m-%dT%H:%M:%S.%f")),
    "mt4_dots": _csv(_rows(50, time_fmt="%Y.%m.%d %H:%M")),
    "bom_no_preamble": b"\xef\xbb\xbf" + _csv(_rows(20), preamble=""),
    "crlf_blank_lines": _csv(_rows(20), preamble="\r\n# symbol: EURUSD\r\n\r\n").replace(b"\n", b"\r\n"),
    "extra_column": _csv(
        [r + ",x" for r in _rows(20)], header=HEADER + ",broker_note"
    ),  # ignored column kept by name
    "utc_offsets": _csv(_rows(30, time_fmt="%Y-%m-%dT%H:%M:%S+02:00")),
}


@pytest.mark.parametrize("case", sorted(CLEAN))
def test_fast_path_reproduces_the_text_path(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = CLEAN[case]
    slow = _text_path(monkeypatch, data)
    used = _spy(monkeypatch)
    fast = parse_bytes(data, "t.csv")
    assert used == [True], "the fast path should take a clean file"
    _same(fast, slow)
    assert fast.trades["open_time"].dtype == pl.Datetime("us")


def test_fast_path_values_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    used = _spy(monkeypatch)
    p = parse_bytes(CLEAN["utc_offsets"], "t.csv")
    assert used == [True]
    t = p.trades
    # row 0 opens 2024-01-01 09:30:05 at +02:00 = 07:30:05 UTC; row 1 is 7 minutes later
    from datetime import datetime

    assert t["open_time"][0] == datetime(2024, 1, 1, 7, 30, 5)
    assert t["open_time"][1] == datetime(2024, 1, 1, 7, 37, 5)
    # row 2: side " Long " -> long, profit (2-5)*1.25 = -3.75, commission -0.7, swap 0 -> net -4.45
    assert t["direction"][:4].to_list() == ["long", "short", "long", "short"]
    assert t["net_profit"][2] == pytest.approx(-4.45)
    assert p.meta["columns"]["direction"] == "type"


DECLINED = {
    # decimal commas and spaces in numbers: the text path's normalisation
    "decimal_comma": _csv(_rows(5), header=HEADER).replace(b",", b";").replace(b"0.1;", b"0,1;"),
    # one time in another accepted layout after the sniffed sample: filled by the text path
    "mixed_layouts": _csv(
        _rows(600)[:550] + [_rows(600)[550].replace("2024-01-", "2024.01.", 1)] + _rows(600)[551:]
    ),
    "epoch_seconds": _csv(["1," + "1704067200,1704070800,EURUSD,buy,1,1,1,0,0,5,5"]),
}


@pytest.mark.parametrize("case", sorted(DECLINED))
def test_fast_path_declines_what_it_does_not_know(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = DECLINED[case]
    slow = _text_path(monkeypatch, data)
    used = _spy(monkeypatch)
    fast = parse_bytes(data, "t.csv")
    assert used == [False]
    _same(fast, slow)


def test_mixed_layouts_case_really_mixes() -> None:
    # guard for the case above: row 550 (0-based, file line 3 + 550) opens in the dotted layout
    assert DECLINED["mixed_layouts"].decode().splitlines()[2 + 550].startswith("1550,2024.01.04 01:40:05,")


def _bad(rows: list[str], i: int, column: int, value: str) -> list[str]:
    fields = rows[i].split(",")
    fields[column] = value
    return [*rows[:i], ",".join(fields), *rows[i + 1 :]]


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (11, "12.x", "expected a number, got '12.x'"),  # net_profit
        (2, "yesterday", "unrecognised date/time 'yesterday'"),  # close_time
        (4, "hold", "expected buy/sell/long/short, got 'hold'"),  # type -> direction
        (1, "", "open_time is missing"),
    ],
)
def test_bad_value_after_the_sample_is_named_by_line_and_column(
    column: int, value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # preamble line 1, header line 2, data row k (0-based) on line 3 + k: row 1500 -> line 1503
    data = _csv(_bad(_rows(2000), 1500, column, value))
    field = {11: "net_profit", 2: "close_time", 4: "direction", 1: "open_time"}[column]
    with pytest.raises(DataError) as err:
        parse_bytes(data, "t.csv")
    assert str(err.value) == f"t.csv:line 1503, column {field}: {message}"
    with pytest.raises(DataError) as slow_err:
        _text_path(monkeypatch, data)
    assert str(slow_err.value) == str(err.value)


def test_ragged_row_is_named_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows(800)
    rows[700] += ",1,2"  # two fields too many on line 3 + 700
    data = _csv(rows)
    with pytest.raises(DataError) as err:
        parse_bytes(data, "t.csv")
    assert "line 703" in str(err.value)
    with pytest.raises(DataError) as slow_err:
        _text_path(monkeypatch, data)
    assert str(slow_err.value) == str(err.value)


_NUMBER = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.integers(-(10**9), 10**9).map(str),
    st.sampled_from(["+1.5", ".5", "5.", "1e3", "-0", "1E-2", " 2.5", "2.5 ", '"3.25"', "", "1 000", "1,5"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_NUMBER, min_size=1, max_size=8))
def test_any_volume_spelling_gives_the_text_path_result(values: list[str], monkeypatch) -> None:
    rows = _rows(len(values))
    rows = [_bad(rows, i, 5, v)[i] for i, v in enumerate(values)]  # column 5 = volume
    data = _csv(rows)
    try:
        slow = _text_path(monkeypatch, data)
    except DataError as e:
        with pytest.raises(DataError) as err:
            parse_bytes(data, "t.csv")
        assert str(err.value) == str(e)
        return
    _same(parse_bytes(data, "t.csv"), slow)


# -- big files: mapped, hashed and copied from disk ----------------------------------------------


def test_mapped_file_is_bytes_like(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(CLEAN["plain"])
    m = MappedFile.open(path)
    try:
        assert len(m) == len(CLEAN["plain"]) and m[:5] == CLEAN["plain"][:5]
        assert m.find(b"\n") == CLEAN["plain"].find(b"\n")
        assert m.unchanged()
        path.write_bytes(CLEAN["plain"] + b"\n")  # another version of the file
        assert not m.unchanged()
    finally:
        m.close()


def test_mapped_ingest_stores_the_same_rows_and_raw_copy(tmp_path: Path, monkeypatch) -> None:
    src = tmp_path / "trades.csv"
    src.write_bytes(CLEAN["plain"])
    plain = load.ingest_one(Store(tmp_path / "a"), src)
    monkeypatch.setattr(load, "MAP_MIN_BYTES", 0)
    opened: list[Path] = []
    orig = MappedFile.open.__func__

    def spy(cls, path):
        opened.append(Path(path))
        return orig(cls, path)

    monkeypatch.setattr(MappedFile, "open", classmethod(spy))
    store = Store(tmp_path / "b")
    mapped = load.ingest_one(store, src)
    assert opened == [src]
    assert (mapped.status, mapped.rows, mapped.sha256) == ("ingested", 1200, plain.sha256)
    assert mapped.sha256 == hashlib.sha256(CLEAN["plain"]).hexdigest()
    raw = store.frame("SELECT stored_as, bytes FROM raw_files")
    assert (store.home / raw["stored_as"][0]).read_bytes() == CLEAN["plain"]
    assert raw["bytes"][0] == len(CLEAN["plain"])
    cols = "seq, trade_id, open_time, close_time, symbol, direction, volume, net_profit, duration_seconds"
    a = Store(tmp_path / "a").frame(f"SELECT {cols} FROM trades ORDER BY seq")
    b = store.frame(f"SELECT {cols} FROM trades ORDER BY seq")
    assert_frame_equal(a, b)
    assert not list(store.raw_dir.glob(".incoming-*"))


def test_mapped_ingest_of_a_format_that_wants_bytes(tmp_path: Path, monkeypatch) -> None:
    src = real("mt4_tester_html/qg0_rsi_momentum_eurusd_fr.htm")
    plain = load.ingest_one(Store(tmp_path / "a"), src)
    monkeypatch.setattr(load, "MAP_MIN_BYTES", 0)
    mapped = load.ingest_one(Store(tmp_path / "b"), src)
    assert plain.status == "ingested"
    assert (mapped.status, mapped.format, mapped.rows, mapped.sha256) == (
        plain.status,
        plain.format,
        plain.rows,
        plain.sha256,
    )


def test_mapped_bad_file_is_rejected_with_line_and_column(tmp_path: Path, monkeypatch) -> None:
    src = tmp_path / "bad.csv"
    src.write_bytes(_csv(_bad(_rows(900), 850, 11, "n/a")))
    monkeypatch.setattr(load, "MAP_MIN_BYTES", 0)
    store = Store(tmp_path / "ws")
    res = load.ingest_one(store, src)
    assert res.status == "rejected"
    assert res.error == f"{src}:line 853, column net_profit: expected a number, got 'n/a'"
    assert store.table_counts()["trades"] == 0 and not list(store.raw_dir.iterdir())


def test_put_raw_copies_a_source_file_byte_for_byte(tmp_path: Path) -> None:
    store = Store(tmp_path / "ws")
    src = tmp_path / "src.bin"
    data = bytes(range(256)) * 1000
    src.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    rel = store.put_raw(data, sha, ".csv", source=src, source_stat=os.stat(src))
    assert (store.home / rel).read_bytes() == data


def test_put_raw_refuses_a_source_that_changed(tmp_path: Path) -> None:
    store = Store(tmp_path / "ws")
    src = tmp_path / "src.bin"
    src.write_bytes(b"a" * 100)
    before = os.stat(src)
    src.write_bytes(b"b" * 101)  # rewritten after hashing: other size and mtime
    with pytest.raises(StoreError, match="changed while it was being stored"):
        store.put_raw(b"a" * 100, "0" * 64, ".csv", source=src, source_stat=before)
    assert not list(store.raw_dir.iterdir())


def test_copy_made_beside_the_parse_is_hashed_moved_or_removed(tmp_path: Path) -> None:
    """Store.copy_and_hash: one read gives the SHA-256 and a raw/ copy; put_raw(prepared=) moves it into
    place only if the source is unchanged, and every other outcome removes it."""
    store = Store(tmp_path / "ws")
    src = tmp_path / "src.csv"
    data = os.urandom(3 * (8 << 20) + 12345)  # three O_DIRECT blocks and a tail
    src.write_bytes(data)
    stat = os.stat(src)
    sha, tmp = store.copy_and_hash(src)
    assert sha == hashlib.sha256(data).hexdigest() and tmp.read_bytes() == data
    rel = store.put_raw(memoryview(data), sha, ".csv", source=src, source_stat=stat, prepared=tmp)
    assert (store.home / rel).read_bytes() == data and not tmp.exists()
    # the file is there already: the new copy is dropped
    sha2, tmp2 = store.copy_and_hash(src)
    assert store.put_raw(memoryview(data), sha2, ".csv", source=src, source_stat=stat, prepared=tmp2) == rel
    assert not tmp2.exists()
    # the source changed after its copy was made: refused, the copy removed, raw/<sha> not written
    other = tmp_path / "other.csv"
    other.write_bytes(b"x" * 5000)
    before = os.stat(other)
    sha3, tmp3 = store.copy_and_hash(other)
    other.write_bytes(b"y" * 5001)
    with pytest.raises(StoreError, match="changed"):
        store.put_raw(memoryview(b"x" * 5000), sha3, ".csv", source=other, source_stat=before, prepared=tmp3)
    assert not tmp3.exists() and not (store.raw_dir / f"{sha3}.csv").exists()
    assert not list(store.raw_dir.glob(".incoming-*"))


def test_a_killed_ingest_s_raw_copy_is_swept_only_when_a_day_old(tmp_path: Path) -> None:
    store = Store(tmp_path / "ws")
    store.raw_dir.mkdir(parents=True, exist_ok=True)
    fresh, old = store.raw_dir / ".incoming-fresh", store.raw_dir / ".incoming-old"
    fresh.write_bytes(b"being copied by another process")
    old.write_bytes(b"left by a killed process")
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    src = tmp_path / "one.csv"
    src.write_bytes(CLEAN["plain"])
    assert load.ingest_one(Store(tmp_path / "ws"), src).status == "ingested"  # a writer: the sweep runs
    assert fresh.exists() and not old.exists()
