"""A workspace with the sample bars, shared by the paper tests of a module."""

from __future__ import annotations

import pytest

from workbench.workspace import open_workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = open_workspace(tmp_path_factory.mktemp("paper") / "lake")
    w.load_samples()
    return w


@pytest.fixture(scope="module")
def eurusd(ws):
    return ws.bars("EURUSD:1h")
