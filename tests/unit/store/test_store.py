"""The store: migrations, transactions, raw files, locking."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import duckdb
import pytest

from workbench.errors import StoreError
from workbench.store import Q, Store


def test_new_workspace_has_the_brief_tables(tmp_path: Path) -> None:
    store = Store(tmp_path / "ws")
    counts = store.table_counts()
    for table in (
        "backtests",
        "trades",
        "parameters",
        "optimization_results",
        "embeddings_metadata",
        "ingest_log",
        "bars",
        "models",
        "raw_files",
        "cash_flows",
        "parameter_sets",
        "optimizations",
    ):
        assert counts[table] == 0, table
    assert store.schema_version == LATEST
    assert (tmp_path / "ws" / "raw").is_dir()


def _package_migrations() -> list[tuple[str, str]]:
    from importlib import resources

    folder = resources.files("workbench.store").joinpath("migrations")
    return sorted((p.name, p.read_text()) for p in folder.iterdir() if p.name.endswith(".sql"))


LATEST = int(_package_migrations()[-1][0][:4])


def _copy_migrations(dest: Path, upto: int = LATEST) -> None:
    for name, text in _package_migrations():
        if int(name[:4]) <= upto:
            (dest / name).write_text(text)


def test_a_version_1_workspace_gains_the_overfitting_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    first = tmp_path / "release1"
    first.mkdir()
    _copy_migrations(first, upto=1)
    assert Store(home, migrations=first).schema_version == 1
    with Store(home, migrations=first).transaction() as con:
        con.execute("INSERT INTO models VALUES (1, 'm', 1, 'k', NULL, NULL, NULL, now())")
    today = Store(home)
    assert today.schema_version == LATEST >= 2
    assert today.table_counts()["models"] == 1
    assert {"deflated_sharpe", "pbo"} <= set(today.frame("SELECT * FROM optimizations LIMIT 0").columns)


def test_a_later_release_opens_todays_workspace_and_migrates_it(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    Store(home)  # today's release
    with Store(home).transaction() as con:
        con.execute("INSERT INTO models VALUES (1, 'm', 1, 'k', NULL, NULL, NULL, now())")
    later = tmp_path / "migrations"
    later.mkdir()

    _copy_migrations(later)
    (later / f"{LATEST + 1:04d}_add_tags.sql").write_text("ALTER TABLE backtests ADD COLUMN tags VARCHAR[];")
    upgraded = Store(home, migrations=later)
    assert upgraded.schema_version == LATEST + 1
    assert upgraded.table_counts()["models"] == 1  # nothing lost
    assert "tags" in upgraded.frame("SELECT * FROM backtests LIMIT 0").columns
    # and today's release refuses a workspace it cannot understand, in one clear line
    with pytest.raises(StoreError, match="newer than this workbench"):
        Store(home)


def test_a_failing_migration_is_rolled_back(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    Store(home)
    bad = tmp_path / "migrations"
    bad.mkdir()

    _copy_migrations(bad)
    broken = f"{LATEST + 1:04d}_broken.sql"
    (bad / broken).write_text("ALTER TABLE backtests ADD COLUMN x INT; SELECT * FROM nowhere;")
    with pytest.raises(StoreError, match=broken):
        Store(home, migrations=bad)
    assert Store(home).schema_version == LATEST
    assert "x" not in Store(home).frame("SELECT * FROM backtests LIMIT 0").columns


def test_transaction_is_all_or_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "ws")
    with pytest.raises(RuntimeError):
        with store.transaction() as con:
            con.execute("INSERT INTO models VALUES (1, 'm', 1, 'k', NULL, NULL, NULL, now())")
            raise RuntimeError("boom")
    assert store.table_counts()["models"] == 0


def test_put_raw_is_byte_for_byte_and_named_by_hash(tmp_path: Path) -> None:
    store = Store(tmp_path / "ws")
    data = bytes(range(256)) * 10
    sha = hashlib.sha256(data).hexdigest()
    rel = store.put_raw(data, sha, ".HTM")
    assert rel == f"raw/{sha}.htm"
    assert (store.home / rel).read_bytes() == data
    assert not list(store.raw_dir.glob(".incoming-*"))


def test_read_only_workspace_refuses_writes_and_missing_home(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no workspace here"):
        Store(tmp_path / "nothing", read_only=True)
    Store(tmp_path / "ws")
    ro = Store(tmp_path / "ws", read_only=True)
    assert ro.table_counts()["backtests"] == 0
    with pytest.raises(StoreError, match="read-only"):
        with ro.transaction():
            pass


def test_waits_for_another_writer_then_proceeds(tmp_path: Path) -> None:
    store = Store(tmp_path / "ws", lock_wait_s=10)
    # Another *process* holds DuckDB's file lock; emulate with a subprocess holding a connection.
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(1.5)",
            str(store.catalog),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    t0 = time.monotonic()
    assert store.scalar("SELECT count(*) FROM backtests") == 0
    waited = time.monotonic() - t0
    holder.wait(10)
    assert waited > 0.3  # it really had to wait for the lock to go away


def test_gives_up_on_a_held_lock_with_a_clear_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    Store(tmp_path / "ws")
    store = Store(tmp_path / "ws", lock_wait_s=0.3)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(5)",
            str(store.catalog),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match="WORKBENCH_LOCK_WAIT"):
            store.scalar("SELECT 1")
    finally:
        holder.kill()
        holder.wait()


def test_named_sql_is_complete() -> None:
    assert "insert_backtest" in Q.names()
    with pytest.raises(AttributeError, match="queries.sql"):
        _ = Q.no_such_query
    # every named statement at least parses against the schema
    con = duckdb.connect()
    for _, text in _package_migrations():
        con.execute(text)
    for name in Q.names():
        sql = getattr(Q, name)
        if "FROM frame" in sql or name.endswith("_template"):  # templates: completed by the store first
            continue
        con.execute(f"PREPARE p_{name} AS {sql}")


def test_threads_share_nothing_between_calls(tmp_path: Path) -> None:
    store = Store(tmp_path / "ws")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                store.scalar("SELECT count(*) FROM trades")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
