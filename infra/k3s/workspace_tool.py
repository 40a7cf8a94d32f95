"""Helpers for backup.sh / restore.sh that need DuckDB (run with the workbench's Python).

    python workspace_tool.py copy-locked SRC DST   copy a workspace folder while holding its DuckDB lock
    python workspace_tool.py tables DB             print "<table> <rows>" for every table of DB

copy-locked opens SRC/workbench.duckdb read-only for the whole copy: DuckDB then refuses writers
(the workbench waits for the lock, WORKBENCH_LOCK_WAIT), so the catalog, its WAL, raw/ and parquet/
are copied as one consistent state.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb

CATALOG = "workbench.duckdb"


def copy_locked(src: Path, dst: Path) -> None:
    if not (src / CATALOG).is_file():
        raise SystemExit(f"error: {src}: not a workspace (no {CATALOG})")
    con = duckdb.connect(str(src / CATALOG), read_only=True)
    try:
        shutil.copytree(src, dst, symlinks=True)
    finally:
        con.close()


def tables(db: Path) -> list[tuple[str, int]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [
            f'"{schema}"."{name}"'
            for schema, name in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_type = 'BASE TABLE' ORDER BY 1, 2"
            ).fetchall()
        ]
        return [(n.replace('"', ""), con.execute(f"SELECT count(*) FROM {n}").fetchone()[0]) for n in names]
    finally:
        con.close()


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "copy-locked":
        copy_locked(Path(argv[1]), Path(argv[2]))
        return 0
    if len(argv) == 2 and argv[0] == "tables":
        for name, rows in tables(Path(argv[1])):
            print(f"{name} {rows}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
