"""The `workbench paper` commands as a user runs them: one JSON object each (run ends with trades,
final_equity, decisions, rejected), the kill switch through the CLI, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.workspace import open_workspace

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    h = tmp_path_factory.mktemp("paper-cli") / "lake"
    open_workspace(h).load_samples()
    return h


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_run_status_kill_resume(home):
    out = cli(home, "paper", "run", "--data", "GOOG:1d", "--strategy", "sma_cross", "-p", "fast=5", "-p", "slow=20",
              "--direction", "both", "--max-bars", "1500", "--session", "c1", "--risk", "max_position=0.5", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert list(data)[-4:] == ["trades", "final_equity", "decisions", "rejected"]
    assert data["decisions"] == data["bars"] == 1500 and data["state"] == "stopped" and data["trades"]
    assert data["risk"]["resized"]["max_position"] > 0 and data["trades"][0]["entry_time"].startswith("20")

    st = json.loads(cli(home, "paper", "status", "c1", "--json").stdout)
    assert st["bars_processed"] == 1500 and st["risk"]["kill_switch"] == "ACTIVE" and "audit" in st

    killed = cli(home, "paper", "kill", "c1", "--reason", "cli test", "--by", "carol", "--json")
    assert killed.returncode == 0, killed.stderr
    k = json.loads(killed.stdout)
    assert k["risk"]["kill_switch"] == "HALTED" and k["control"]["result"] == "HALTED"
    back = json.loads(cli(home, "paper", "resume", "c1", "--switch", "--json").stdout)
    assert back["risk"]["kill_switch"] == "REDUCING"

    rest = cli(home, "paper", "resume", "c1", "--json")  # continues the session to the end of the bars
    assert rest.returncode == 0, rest.stderr
    done = json.loads(rest.stdout)
    assert done["state"] == "finished" and done["bars"] == open_workspace(home).bars("GOOG:1d").height
    assert done["risk"]["kill_switch"] in ("REDUCING", "ACTIVE")
    sessions = json.loads(cli(home, "paper", "sessions", "--json").stdout)["sessions"]
    assert [s["name"] for s in sessions] == ["c1"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("paper", "status", "nope"), "no paper session 'nope'"),
        (
            ("paper", "run", "--data", "GOOG:1d", "--strategy", "sma_cross", "--risk", "bogus=1"),
            "--risk 'bogus=1'",
        ),
        (("paper", "run", "--data", "GOOG:1d", "--strategy", "smacross"), "did you mean 'sma_cross'"),
        (
            ("paper", "run", "--data", "GOOG:1d", "--strategy", "sma_cross", "--speed", "fast"),
            "--speed 'fast'",
        ),
        (("paper", "kill", "nope", "--reason", "x"), "no paper session 'nope'"),
    ],
)
def test_errors_are_one_line(home, args, needle):
    out = cli(home, *args, "--json")
    assert out.returncode != 0 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], out.stderr
