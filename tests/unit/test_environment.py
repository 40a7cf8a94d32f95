"""pyproject.toml and environment.yml name the same pinned packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _norm(spec: str) -> tuple[str, str]:
    name, _, version = spec.partition("==")
    name = re.sub(r"\[.*\]", "", name).strip().lower().replace("_", "-")
    return name, version.split("#")[0].strip()


def _pyproject_pins() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    specs = list(data["project"]["dependencies"])
    for deps in data["project"]["optional-dependencies"].values():
        specs += [d for d in deps if not d.startswith("workbench")]
    return dict(_norm(s) for s in specs)


def _environment_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"^\s+- ([A-Za-z0-9_.\-\[\],]+==[^\s#]+)", line)
        if m:
            name, version = _norm(m.group(1))
            pins[name] = version
    return pins


def test_every_pyproject_dependency_is_pinned() -> None:
    pins = _pyproject_pins()
    assert pins and all(v for v in pins.values()), {k: v for k, v in pins.items() if not v}


def test_environment_yml_names_the_same_packages_and_versions() -> None:
    assert _environment_pins() == _pyproject_pins()


def test_environment_yml_python_is_311() -> None:
    assert re.search(r"^\s+- python=3\.11\s*$", (ROOT / "environment.yml").read_text(), re.M)
