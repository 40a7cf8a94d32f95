"""Property-based: mutated real fixtures never produce a traceback or a partial write."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REAL_FILES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import DataError
from workbench.ingest import parse_bytes
from workbench.ingest.load import ingest_one
from workbench.ingest.text import decode
from workbench.store import Store

pytestmark = pytest.mark.xdist_group("fuzz")

SMALL = [p for p in REAL_FILES if p.stat().st_size < 400_000]  # keep examples quick


@st.composite
def mutated(draw) -> tuple[str, bytes]:
    path = draw(st.sampled_from(SMALL))
    data = path.read_bytes()
    kind = draw(st.sampled_from(["truncate", "flip", "reencode", "drop_line", "dup_line", "splice"]))
    if kind == "truncate":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    elif kind == "flip":
        buf = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(buf) - 1))
            buf[i] = draw(st.integers(0, 255))
        data = bytes(buf)
    elif kind == "reencode":
        enc = draw(st.sampled_from(["utf-16", "utf-8-sig", "cp1252", "utf-16-le", "latin-1"]))
        data = decode(data).encode(enc, errors="replace")
    else:
        lines = data.split(b"\n")
        i = draw(st.integers(0, len(lines) - 1))
        if kind == "drop_line":
            del lines[i]
        elif kind == "dup_line":
            lines.insert(i, lines[i])
        else:
            lines.insert(i, draw(st.binary(max_size=40)))
        data = b"\n".join(lines)
    return f"{path.name}~{kind}", data


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_parsing_mutated_files_is_a_result_or_a_one_line_data_error(case) -> None:
    name, data = case
    try:
        parsed = parse_bytes(data, name)
    except DataError as e:
        msg = str(e)
        assert msg.startswith(f"{name}:") and "\n" not in msg
        return
    assert parsed.kind in {"backtest", "parameters", "optimization", "bars"}


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory) -> Store:
    return Store(tmp_path_factory.mktemp("fuzz") / "lake")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutated())
def test_ingesting_mutated_files_is_all_or_nothing(shared_store: Store, tmp_path: Path, case) -> None:
    name, data = case
    before = shared_store.table_counts()
    path = tmp_path / name.replace("~", "_")
    path.write_bytes(data)
    res = ingest_one(shared_store, path)
    after = shared_store.table_counts()
    if res.status != "ingested":
        for table in before:
            if table != "ingest_log":
                assert after[table] == before[table], (table, res)
        assert after["ingest_log"] == before["ingest_log"] + 1
        assert res.status == "duplicate" or (res.error and res.error.startswith(f"{path}:"))
    else:
        assert after["raw_files"] == before["raw_files"] + 1
        if res.kind == "backtest":
            assert after["trades"] - before["trades"] == res.rows
    path.unlink()
