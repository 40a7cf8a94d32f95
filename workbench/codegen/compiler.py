"""The compile check: Mono's C# compiler (``mcs``, Debian's ``mono-mcs``) compiles the reference stub of
the cAlgo.API surface (``stub/cAlgo.API.cs``) into a DLL once, then each cBot as a library against it.

The stub DLL is cached by content: ``<cache>/cAlgo.API-<sha256 of stub + compiler version>.dll`` where
``<cache>`` is the workspace's ``cache/codegen`` when one is given, else a per-user folder in the
system's temporary directory. No network, no NuGet: only the compiler on PATH.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["STUB_SOURCE", "CompileResult", "find_mcs", "mcs_version", "stub_dll", "compile_csharp"]

STUB_SOURCE = Path(__file__).with_name("stub") / "cAlgo.API.cs"
_DIAG = re.compile(
    r"^(?P<file>.*?)\((?P<line>\d+),(?P<col>\d+)\): (?P<kind>error|warning) (?P<code>CS\d+): (?P<msg>.*)$"
)
TIMEOUT_S = 120


@dataclass(frozen=True)
class CompileResult:
    """``compiled``: True/False, or None when no compiler is present (``note`` says so)."""

    compiled: bool | None
    compiler: str | None
    stub: str | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    note: str = ""


def find_mcs() -> str | None:
    """The ``mcs`` executable on PATH (``WORKBENCH_MCS`` may name another, a name or a path), or None."""
    from workbench.config import settings

    return shutil.which(settings().mcs)


@functools.cache
def mcs_version(exe: str) -> str:
    """``mcs 6.8.0.105`` (from ``mcs --version``)."""
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    m = re.search(r"version\s+(\S+)", out.stdout + out.stderr)
    return f"mcs {m.group(1) if m else (out.stdout.strip() or 'unknown')}"


def _cache_dir(cache: Path | None) -> Path:
    if cache is None:
        cache = (
            Path(tempfile.gettempdir()) / f"workbench-codegen-{os.getuid() if hasattr(os, 'getuid') else 0}"
        )
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def _run(cmd: list[str]) -> tuple[int, list[str], list[str]]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    errors, warnings = [], []
    for line in (proc.stdout + proc.stderr).splitlines():
        m = _DIAG.match(line.strip())
        if m:
            text = f"{Path(m['file']).name}:{m['line']}:{m['col']}: {m['code']}: {m['msg']}"
            (errors if m["kind"] == "error" else warnings).append(text)
        elif line.startswith("error ") or ": error " in line:
            errors.append(line.strip())
    if proc.returncode != 0 and not errors:
        errors.append(" ".join((proc.stdout + proc.stderr).split())[:300] or f"exit code {proc.returncode}")
    return proc.returncode, errors, warnings


def stub_dll(exe: str, cache: Path | None = None, source: Path = STUB_SOURCE) -> Path:
    """The stub compiled into a DLL (built once per stub content and compiler version; atomic)."""
    version = mcs_version(exe)
    key = hashlib.sha256(source.read_bytes() + version.encode()).hexdigest()[:16]
    folder = _cache_dir(cache)
    dll = folder / f"cAlgo.API-{key}.dll"
    if dll.exists():
        return dll
    tmp = folder / f".cAlgo.API-{key}-{os.getpid()}.dll"
    # 618: the stub's own [Obsolete] members reference each other (MarketSeries)
    code, errors, _ = _run([exe, "-target:library", "-nowarn:618", f"-out:{tmp}", str(source)])
    if code != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"the cAlgo.API stub does not compile: {'; '.join(errors[:3])}")
    os.replace(tmp, dll)
    return dll


def compile_csharp(
    sources: list[Path], *, cache: Path | None = None, out_dir: Path | None = None
) -> CompileResult:
    """Compile each source as its own library against the stub; ``compiled`` is True when all did.
    Without ``mcs``: ``compiled=None`` and a note saying so."""
    exe = find_mcs()
    if exe is None:
        return CompileResult(
            None, None, None, note="no C# compiler here (install Debian's mono-mcs: apt-get install mono-mcs)"
        )
    version = mcs_version(exe)
    dll = stub_dll(exe, cache)
    errors: list[str] = []
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="wb-cs-") as tmp:
        for src in sources:
            target = (out_dir or Path(tmp)) / (src.stem + ".dll")
            code, errs, warns = _run([exe, "-target:library", f"-r:{dll}", f"-out:{target}", str(src)])
            errors += errs if errs or code == 0 else [f"{src.name}: exit code {code}"]
            warnings += warns
    return CompileResult(not errors, version, str(dll), errors, warnings)
