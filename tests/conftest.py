"""Shared test fixtures: the real exports in ../shared/fixtures/real and fresh workspaces."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL = (ROOT / ".." / "shared" / "fixtures" / "real").resolve()


def real(rel: str) -> Path:
    """Path of a real fixture, e.g. ``real("mt4_tester_html/qg0_rsi_momentum_eurusd_fr.htm")``."""
    path = REAL / rel
    if not path.exists():
        raise FileNotFoundError(f"missing real fixture {path} (the shared fixtures must sit beside the repo)")
    return path


REAL_FILES = sorted(p for p in REAL.rglob("*") if p.is_file() and p.name != "MANIFEST.md")


@pytest.fixture
def real_dir() -> Path:
    return REAL


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh, empty workspace folder set as WORKBENCH_HOME."""
    h = tmp_path / "lake"
    monkeypatch.setenv("WORKBENCH_HOME", str(h))
    return h


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``--dist loadgroup`` group again: pytest-xdist 3.8 names a test's ``xdist_group`` by
    rewriting ``item._nodeid`` (``...@ray``), which pytest 9 no longer reads (``nodeid`` comes from
    ``item._id``), so every group was silently spread over both workers. Carry the suffix over."""
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # an older pytest reads _nodeid itself
        return
    for item in items:
        legacy = item.__dict__.get("_nodeid")
        if legacy and legacy != item.nodeid:
            item._id = NodeId.parse(legacy)
