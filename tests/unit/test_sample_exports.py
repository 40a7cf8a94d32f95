"""data/samples: the real exports the project ships, each listed in data/README.md with its sha256 and
MIT licence, byte-identical to the fixture the MANIFEST describes; only they are committed in data/."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

from workbench.data.exports import SAMPLE_EXPORTS, sample_exports

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "data" / "README.md"
REAL = ROOT.parent / "shared" / "fixtures" / "real"
# sample path -> the fixture it was copied from (tests may read ../shared; the product never does)
ORIGINS = {
    "ctrader_history_xml/abhacid_martingale_forex_eurusd_m5_history.xml": (
        "ctrader_legacy_history_xml/abhacid_martingale_forex_eurusd_m5_history.xml"
    ),
    "ctrader_cbotset/abhacid_golden_dragon_ii_xauusd_m1.cbotset": (
        "ctrader_cbotset/abhacid_golden_dragon_ii_xauusd_m1.cbotset"
    ),
    "ctrader_cbotset/abhacid_trailcut_ii_gbpusd_m4.cbotset": "ctrader_cbotset/abhacid_trailcut_ii_gbpusd_m4.cbotset",
    "mt5_tester_html/zhijucen_250013_ReportTester.html": "mt5_tester_html/zhijucen_250013_ReportTester.html",
    "mt5_optimizer_xml/zhijucen_246753_ReportOptimizer.xml": "mt5_optimizer_xml/zhijucen_246753_ReportOptimizer.xml",
}
FILES = sorted(p.relative_to(SAMPLE_EXPORTS).as_posix() for p in SAMPLE_EXPORTS.rglob("*") if p.is_file())


def test_the_samples_are_the_listed_ones() -> None:
    assert sample_exports() == SAMPLE_EXPORTS == ROOT / "data" / "samples"
    assert FILES == sorted(ORIGINS)
    assert sum((SAMPLE_EXPORTS / f).stat().st_size for f in FILES) < 1_000_000  # small


@pytest.mark.parametrize("rel", FILES)
def test_readme_lists_source_sha256_and_licence(rel: str) -> None:
    text = README.read_text(encoding="utf-8")
    digest = hashlib.sha256((SAMPLE_EXPORTS / rel).read_bytes()).hexdigest()
    assert f"`{rel}`" in text
    entry = next(e for e in re.split(r"\n(?=\d\. )", text) if digest in e)  # its numbered source entry
    assert re.search(r"commit `[0-9a-f]{40}`", entry) and "License: MIT" in entry
    assert f"{(SAMPLE_EXPORTS / rel).stat().st_size:,} B" in entry


def test_readme_carries_the_mit_notices() -> None:
    text = README.read_text(encoding="utf-8")
    assert "Copyright (c) 2015 abhacid" in text and "Copyright (c) 2026 chikui" in text
    assert text.count("Permission is hereby granted, free of charge") == 2


@pytest.mark.parametrize("rel", FILES)
def test_byte_identical_to_the_mit_fixture(rel: str) -> None:
    origin = REAL / ORIGINS[rel]
    if not origin.exists():
        pytest.skip(f"{origin} not beside the repository")
    assert (SAMPLE_EXPORTS / rel).read_bytes() == origin.read_bytes()
    manifest = (REAL / "MANIFEST.md").read_text(encoding="utf-8")
    head = re.search(rf"^### (\S+/)?{re.escape(Path(rel).name)} ", manifest, re.M)
    assert head, f"{rel} is not in the MANIFEST"
    section = manifest[head.start() :]
    section = section[: section.find("\n### ", 4)]
    assert re.search(r"\bMIT\b", section), f"the MANIFEST does not mark {rel} MIT"


def test_git_keeps_samples_and_ignores_the_lake() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "data/lake/workbench.duckdb", "data/samples/x", "data/README.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == ["data/lake/workbench.duckdb"]
    attrs = subprocess.run(
        ["git", "check-attr", "text", f"data/samples/{FILES[0]}"], cwd=ROOT, capture_output=True, text=True
    )
    assert attrs.stdout.strip().endswith("text: unset")  # no end-of-line conversion
