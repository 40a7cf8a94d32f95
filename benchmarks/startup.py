"""Start-up benchmark: what a fresh process pays before it does useful work, now and at a baseline commit.

    python benchmarks/startup.py                       # 5 runs each, baseline = the commit issue 13 was filed at
    python benchmarks/startup.py --runs 9 --baseline HEAD~10
    python benchmarks/startup.py --no-baseline         # this tree only

Each measure runs in fresh processes (``python -m workbench ...`` or a small child script), alternating
between this working tree and the baseline (``git archive`` of ``--baseline`` into a temporary folder,
imported first through ``PYTHONPATH``) so both see the same machine load; the table shows medians.
Each tree gets its own workspace and its own Numba cache folder (``NUMBA_CACHE_DIR``): the first sweep
is measured once with the cache empty (Numba compiles, as on a fresh CI checkout) and then with it
filled. ``OLLAMA_HOST`` points at a free loopback port, so no language model answers.

* ``import workbench`` (peer: ``python -c pass``), and which heavy stacks it loads.
* first sweep in a fresh process: the 1,605-combination SMA grid on backtesting.py's 5,000 hourly EURUSD
  bars, timed after ``import workbench.backtest`` and the bars (beyond imports). "now" loads the
  kernels in the background from the import on (``warm_up``); also shown with ``WORKBENCH_WARM_UP=0``.
* ``workbench backtest`` of that grid on the stored EURUSD bars (``workbench data samples``), wall time.
* ``workbench ask "Which weekdays lose money?" --backtest ID``, wall time, on a workspace holding one
  SMA backtest (stored by ``workbench backtest``) with its chunks indexed (``workbench index``).
* an absent LLM: the time ``workbench.rag.llm.chat`` takes to give up (imports it needs included).

Not a test: nothing here asserts a time. On a shared machine timings are noisy; the load is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "98818ba"  # HEAD when issue 13 section 2 was taken up
GRID = ["--param", "fast=5:50", "--param", "slow=10:200:5"]
QUESTION = "Which weekdays lose money?"
HEAVY = ("torch", "chromadb", "ray", "holoviews", "panel", "numba", "sentence_transformers", "scipy",
         "langchain_ollama", "onnxruntime", "pandas")  # fmt: skip

FIRST_SWEEP = r"""
import json, sys, time
t0 = time.perf_counter()
import workbench.backtest as wb
t1 = time.perf_counter()
from backtesting.test import EURUSD
bars = wb.bars_from_pandas(EURUSD)
grid = {"fast": list(range(5, 51)), "slow": list(range(10, 201, 5))}
t2 = time.perf_counter()
wb.sweep(bars, "sma_cross", grid, cash=10_000)
t3 = time.perf_counter()
wb.sweep(bars, "sma_cross", grid, cash=10_000)
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_s": t3 - t2, "second_s": t4 - t3}))
"""

IMPORTS = r"""
import json, sys, time
t = time.perf_counter()
import workbench
s = time.perf_counter() - t
print(json.dumps({"import_s": s, "heavy": sorted(m for m in sys.argv[1].split(",") if m in sys.modules)}))
"""

NO_LLM = r"""
import json, sys, time
from workbench.rag.llm import chat
t = time.perf_counter()
reply = chat([("system", "x"), ("human", "y")], host=sys.argv[1], model="llama3.1:8b", timeout=60)
print(json.dumps({"s": time.perf_counter() - t, "error": reply.error}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Tree:
    """One source tree with its own workspace, Numba cache and environment."""

    def __init__(self, name: str, src: Path, work: Path, ollama: str) -> None:
        self.name, self.src = name, src
        self.home = work / f"{name}-lake"
        self.cache = work / f"{name}-numba"
        self.cache.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "PYTHONPATH": str(src),
            "NUMBA_CACHE_DIR": str(self.cache),
            "WORKBENCH_HOME": str(self.home),
            "OLLAMA_HOST": ollama,
            "HF_HUB_OFFLINE": "1",
        }
        self.backtest_id: int | None = None

    def run(
        self, args: list[str], *, check: bool = True, env: dict[str, str] | None = None
    ) -> tuple[float, str]:
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, *args],
            env={**self.env, **(env or {})},
            cwd=self.src,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t
        if check and out.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(args[:4])} failed: {out.stderr.strip()[-800:]}")
        return wall, out.stdout

    def child(self, code: str, *argv: str, env: dict[str, str] | None = None) -> dict:
        return json.loads(self.run(["-c", code, *argv], env=env)[1].strip().splitlines()[-1])

    def cli(self, *argv: str) -> tuple[float, dict]:
        wall, out = self.run(["-m", "workbench", *argv, "--json"])
        return wall, json.loads(out)

    def setup(self) -> None:
        """Bars; one untimed ``workbench backtest`` of the grid (it compiles what the sweep alone does
        not: the best run, the PBO kernel), whose stored best combination (a backtest with trades) gets
        its chunks indexed for ``ask``."""
        self.cli("data", "samples")
        _, out = self.cli("backtest", "--strategy", "sma_cross", "--data", "EURUSD:1h", *GRID)
        self.backtest_id = int(out["backtest_ids"][0])
        self.cli("index", "--backtest", str(self.backtest_id))


def baseline_tree(rev: str, work: Path) -> Path | None:
    dest = work / "baseline-src"
    dest.mkdir(parents=True, exist_ok=True)
    try:
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"(no baseline: git archive {rev} failed: {e})")
        return None
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def med(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} s" if xs else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="fresh processes per measure and tree (median)")
    ap.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wb-startup-"))
    ollama = f"http://127.0.0.1:{free_port()}"  # nothing listens there: no language model
    trees = [Tree("now", ROOT, work, ollama)]
    if not args.no_baseline:
        src = baseline_tree(args.baseline, work)
        if src is not None:
            trees.append(Tree(f"before ({args.baseline})", src, work, ollama))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"{args.runs} runs per measure; temp {work}\n", flush=True)  # fmt: skip

    results: dict[str, dict[str, list[float]]] = {t.name: {} for t in trees}
    notes: dict[str, dict[str, str]] = {t.name: {} for t in trees}

    def add(tree: Tree, key: str, value: float) -> None:
        results[tree.name].setdefault(key, []).append(value)

    # cold Numba cache: the very first sweep compiles (once per tree), then the cache is filled
    for tree in trees:
        cold = tree.child(FIRST_SWEEP, env={"WORKBENCH_WARM_UP": "0"})
        add(tree, "first sweep, empty Numba cache (compiles)", cold["first_s"])
    for tree in trees:
        tree.setup()

    peer: list[float] = []

    def interleaved(measure: Callable[[Tree], None]) -> None:
        for _ in range(args.runs):
            for tree in trees:
                measure(tree)

    def imports(tree: Tree) -> None:
        wall, _ = tree.run(["-c", "import workbench"])
        add(tree, "import workbench (fresh process, wall)", wall)
        heavy = tree.child(IMPORTS, ",".join(HEAVY))["heavy"]
        notes[tree.name]["heavy"] = ", ".join(heavy) or "none"
        if tree is trees[0]:
            peer.append(tree.run(["-c", "pass"])[0])

    def first_sweep(tree: Tree) -> None:
        r = tree.child(FIRST_SWEEP)
        add(tree, "first sweep in a fresh process, cache filled (beyond imports and bars)", r["first_s"])
        add(tree, "second sweep, same process (warm)", r["second_s"])
        if tree is trees[0]:
            r = tree.child(FIRST_SWEEP, env={"WORKBENCH_WARM_UP": "0"})
            add(tree, "first sweep, cache filled, WORKBENCH_WARM_UP=0 (no background load)", r["first_s"])

    def backtest(tree: Tree) -> None:
        wall, out = tree.cli("backtest", "--strategy", "sma_cross", "--data", "EURUSD:1h", *GRID)
        add(tree, "workbench backtest, 1,605 combos (wall)", wall)
        notes[tree.name]["combos"] = str(out["combos"])

    def ask(tree: Tree) -> None:
        wall, out = tree.cli("ask", QUESTION, "--backtest", str(tree.backtest_id))
        add(tree, "workbench ask, no LLM (wall)", wall)
        notes[tree.name]["ask"] = f"{len(out['sources'])} sources, llm={out['llm']}"

    def no_llm(tree: Tree) -> None:
        r = tree.child(NO_LLM, ollama)
        add(tree, "absent LLM detected (chat() returns)", r["s"])

    for measure in (imports, first_sweep, backtest, ask, no_llm):
        interleaved(measure)

    names = [t.name for t in trees]
    keys = list(dict.fromkeys(k for t in trees for k in results[t.name]))
    print("| measure | " + " | ".join(names) + " | peer |")
    print("|---|" + "---:|" * len(names) + "---|")
    for k in keys:
        cells = [med(results[n].get(k, [])) for n in names]
        other = f"python -c pass: {med(peer)}" if k.startswith("import workbench") else ""
        print(f"| {k} | " + " | ".join(cells) + f" | {other} |")
    for n in names:
        print(f"\n{n}: heavy modules after `import workbench`: {notes[n].get('heavy')}; "
              f"backtest combos {notes[n].get('combos')}; ask: {notes[n].get('ask')}")  # fmt: skip
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
