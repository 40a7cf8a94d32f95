"""Big trade lists as Parquet parts behind the ``trades`` view (migration 0006, ADR 0014).

The oracle is the same file stored the old way (rows of the catalog): a backtest whose trades are a
Parquet part must read back, and measure, exactly as that one. The threshold is lowered to a few rows
(``Store(trades_parquet_rows=...)``) so small files take the Parquet path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from workbench.errors import StoreError
from workbench.ingest import load
from workbench.store import Store
from workbench.workspace import Workspace

TESTS = Path(__file__).resolve().parents[2]
METRIC_COLUMNS = (
    "net_profit gross_profit gross_loss total_trades winning_trades losing_trades win_rate profit_factor "
    "sharpe_ratio sortino_ratio max_drawdown max_drawdown_pct final_balance start_time end_time"
).split()


def _csv(path: Path, n: int = 60, *, seed: int = 0) -> Path:
    """n trades in open-time order whose close times are out of order, with shared close times."""
    lines = [
        "# initial_balance: 10000",
        "ticket,open_time,close_time,symbol,type,volume,commission,profit,comment",
    ]
    t0 = datetime(2024, 3, 1, 9, 0, 0)
    for i in range(n):
        opened = t0 + timedelta(minutes=10 * i + seed)
        closed = t0 + timedelta(minutes=10 * i + 600 - 25 * (i % 7))  # closes cross; i, i+7 collide sometimes
        if i % 9 == 4:
            closed = t0 + timedelta(minutes=10 * (i - 1) + 600 - 25 * ((i - 1) % 7))  # a shared close time
        side = "buy" if (i * 7 + seed) % 3 else "sell"
        profit = round(((i * 37 + seed) % 23 - 11) * 1.37, 2)
        comment = f"c{i}" if i % 5 else ""
        lines.append(
            f"{500 + i},{opened:%Y-%m-%d %H:%M:%S},{closed:%Y-%m-%d %H:%M:%S},EURUSD,{side},0.1,-0.7,{profit},{comment}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def _parts(home: Path) -> list[str]:
    folder = home / "parquet" / "trades"
    return (
        sorted(str(p.relative_to(home)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
    )


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory):
    """The same file stored as a Parquet part (threshold 10 rows) and as catalog rows (default)."""
    root = tmp_path_factory.mktemp("parts")
    src = _csv(root / "trades.csv")
    lake = Store(root / "lake", trades_parquet_rows=10)
    rows = Store(root / "rows")
    a = load.ingest_paths(lake, [src]).files[0]
    b = load.ingest_paths(rows, [src]).files[0]
    assert (a.status, b.status) == ("ingested", "ingested"), (a.error, b.error)
    return src, lake, a, rows, b


def test_big_trade_list_is_a_parquet_part_not_catalog_rows(stored) -> None:
    _, lake, res, _, _ = stored
    assert _parts(lake.home) == [f"parquet/trades/backtest_id={res.backtest_id}/part-0.parquet"]
    counts = lake.table_counts()
    assert (counts["trade_rows"], counts["trade_parts"], counts["trades"]) == (0, 1, 60)
    part = lake.frame("SELECT * FROM trade_parts").row(0, named=True)
    assert (part["backtest_id"], part["rows"]) == (res.backtest_id, 60)
    assert part["bytes"] == (lake.home / part["path"]).stat().st_size


def test_parquet_backed_trades_read_back_as_the_catalog_rows(stored) -> None:
    _, lake, a, rows, b = stored
    from_part = Workspace(lake).trades(a.backtest_id)
    from_rows = Workspace(rows).trades(b.backtest_id)
    assert from_part.height == 60
    assert_frame_equal(from_part, from_rows)
    # every column the view offers, compared in SQL too (the view's types are the table's)
    described = "SELECT column_name, column_type FROM (DESCRIBE trades)"
    assert lake.frame(described).rows() == rows.frame(described).rows()
    assert from_part["comment"].null_count() == 12 and from_part["seq"].to_list() == list(range(1, 61))


def test_a_part_holds_neither_seq_nor_duration_and_an_older_part_with_them_reads_the_same(
    tmp_path: Path,
) -> None:
    """The view derives seq (row number) and duration_seconds (from the times) for a part; parts written
    before the columns were dropped still hold them and must read back identically beside new ones."""
    import polars as pl

    store = Store(tmp_path / "ws", trades_parquet_rows=10)
    old = load.ingest_paths(store, [_csv(tmp_path / "old.csv", 30, seed=4)]).files[0]
    new = load.ingest_paths(store, [_csv(tmp_path / "new.csv", 25, seed=5)]).files[0]
    ws = Workspace(store)
    want = ws.trades(old.backtest_id)
    path = store.home / store.trades_part(old.backtest_id)
    assert {"seq", "duration_seconds"}.isdisjoint(pl.read_parquet_schema(path))
    # rewrite the first part as an older workbench wrote it: seq first, duration_seconds before comment
    part = pl.read_parquet(path)
    part.insert_column(0, pl.Series("seq", range(1, part.height + 1), dtype=pl.Int32))
    part.insert_column(
        part.width - 1,
        ((part["close_time"] - part["open_time"]).dt.total_microseconds() / 1e6).alias("duration_seconds"),
    )
    part.write_parquet(path)
    assert_frame_equal(ws.trades(old.backtest_id), want)
    assert ws.trades(new.backtest_id)["seq"].to_list() == list(range(1, 26))
    both = store.frame(  # one scan over both parts
        "SELECT backtest_id, count(*) n, max(seq) last, sum(duration_seconds) d FROM trades GROUP BY 1 ORDER BY 1"
    ).rows()
    assert [r[:3] for r in both] == [(old.backtest_id, 30, 30), (new.backtest_id, 25, 25)]
    assert both[0][3] == pytest.approx(want["duration_seconds"].sum())
    assert want["duration_seconds"].to_list() == [
        (c - o).total_seconds() for o, c in want.select("open_time", "close_time").rows()
    ]


def test_metrics_stored_with_a_part_equal_the_in_catalog_path(stored) -> None:
    _, lake, a, rows, b = stored
    got = lake.frame(f"SELECT {', '.join(METRIC_COLUMNS)} FROM backtests WHERE id = $1", [a.backtest_id])
    want = rows.frame(f"SELECT {', '.join(METRIC_COLUMNS)} FROM backtests WHERE id = $1", [b.backtest_id])
    assert got.rows() == want.rows()
    assert Workspace(lake).metrics(a.backtest_id) == Workspace(rows).metrics(b.backtest_id)
    # and the facts the chat reads from the view
    assert lake.frame(
        "SELECT direction, count(*) n, sum(net_profit) p FROM trades GROUP BY 1 ORDER BY 1"
    ).rows() == (
        rows.frame("SELECT direction, count(*) n, sum(net_profit) p FROM trades GROUP BY 1 ORDER BY 1").rows()
    )


def test_reingest_is_a_duplicate_and_adds_no_part(stored) -> None:
    src, lake, a, _, _ = stored
    again = load.ingest_paths(lake, [src]).files[0]
    assert (again.status, again.object_id) == ("duplicate", a.object_id)
    assert len(_parts(lake.home)) == 1 and lake.table_counts()["trade_parts"] == 1


def test_small_and_big_backtests_side_by_side_and_a_moved_workspace(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    store = Store(home, trades_parquet_rows=30)
    small = load.ingest_paths(store, [_csv(tmp_path / "small.csv", 20, seed=1)]).files[0]
    big = load.ingest_paths(store, [_csv(tmp_path / "big.csv", 40, seed=2)]).files[0]
    big2 = load.ingest_paths(store, [_csv(tmp_path / "big2.csv", 35, seed=3)]).files[0]
    counts = store.table_counts()
    assert (counts["trade_rows"], counts["trade_parts"], counts["trades"]) == (20, 2, 95)
    per = store.frame("SELECT backtest_id, count(*) n FROM trades GROUP BY 1 ORDER BY 1").rows()
    assert per == [(small.backtest_id, 20), (big.backtest_id, 40), (big2.backtest_id, 35)]
    # the parts are listed relative to the workspace: a copy elsewhere (a restore) reads the same
    moved = tmp_path / "elsewhere" / "ws2"
    shutil.copytree(home, moved)
    shutil.rmtree(home)
    again = Workspace(Store(moved))
    assert again.trades(big.backtest_id).height == 40
    assert again.store.scalar("SELECT count(*) FROM trades") == 95


def test_a_failed_ingest_leaves_no_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "ws", trades_parquet_rows=10)
    src = _csv(tmp_path / "t.csv")

    def broken(*_a, **_k):  # the raw copy fails: after the part is in place, before COMMIT
        raise StoreError("disk full (injected)")

    monkeypatch.setattr(load, "_put_raw", broken)
    with pytest.raises(StoreError, match="injected"):
        load.ingest_paths(store, [src])
    assert _parts(store.home) == []
    counts = store.table_counts()
    assert (counts["backtests"], counts["trade_parts"], counts["trades"]) == (0, 0, 0)
    monkeypatch.undo()
    res = load.ingest_paths(store, [src]).files[0]  # and the rerun stores it
    assert res.status == "ingested" and _parts(store.home) == [
        f"parquet/trades/backtest_id={res.backtest_id}/part-0.parquet"
    ]


def test_a_killed_ingest_leaves_no_part_and_the_rerun_completes(tmp_path: Path) -> None:
    """SIGKILL at COMMIT (after the part was moved into place): the part is never seen, and the next
    writer to open the workspace removes it."""
    home, src = tmp_path / "ws", _csv(tmp_path / "t.csv")
    Store(home)  # migrated here: the child's first COMMIT is its ingest's
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import faults
        faults.install("kill:before-commit")
        from workbench.ingest.load import ingest_paths
        from workbench.store import Store
        ingest_paths(Store({str(home)!r}, trades_parquet_rows=10), [{str(src)!r}])
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    left = _parts(home)
    assert len(left) == 1 and left[0].endswith("part-0.parquet")  # killed after the rename, before COMMIT
    store = Store(home, trades_parquet_rows=10)  # a writer opens the workspace: the orphan goes
    assert _parts(home) == []
    counts = store.table_counts()
    assert (counts["backtests"], counts["trade_parts"], counts["trades"], counts["raw_files"]) == (0, 0, 0, 0)
    res = load.ingest_paths(store, [src]).files[0]
    assert res.status == "ingested" and store.table_counts()["trades"] == 60


def test_a_big_file_is_hashed_beside_the_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mapped files of a size no stored file has are hashed in a thread; the hash is the file's, and a
    second ingest (that size now known) finds the duplicate before parsing."""
    monkeypatch.setattr(load, "MAP_MIN_BYTES", 0)
    store = Store(tmp_path / "ws", trades_parquet_rows=10)
    src = _csv(tmp_path / "t.csv")
    res = load.ingest_one(store, src)
    assert res.status == "ingested" and res.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    parsed: list[str] = []
    monkeypatch.setattr(load, "parse_bytes", lambda *a, **k: parsed.append("x"))
    again = load.ingest_one(store, src)
    assert (again.status, again.sha256, parsed) == ("duplicate", res.sha256, [])
    assert (
        store.frame("SELECT file_sha256 FROM ingest_log WHERE status = 'duplicate'")["file_sha256"][0]
        == res.sha256
    )


def test_a_rejected_big_file_records_its_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "MAP_MIN_BYTES", 0)
    src = tmp_path / "bad.csv"
    src.write_bytes(_csv(tmp_path / "t.csv").read_bytes().replace(b",-0.7,", b",n/a,", 1))
    store = Store(tmp_path / "ws", trades_parquet_rows=10)
    res = load.ingest_one(store, src)
    assert res.status == "rejected" and "expected a number" in (res.error or "")
    assert res.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert _parts(store.home) == [] and not os.listdir(store.raw_dir)
