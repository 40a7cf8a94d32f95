"""The "Trading Workbench" Jupyter kernel spec.

The kernel is plain ``ipykernel`` started by the interpreter that runs this code (``sys.executable``),
so notebooks on it import the workbench and its pinned dependencies from the project's environment,
whatever environment JupyterLab itself runs in.

>>> from workbench.kernel import install_kernel
>>> install_kernel(user=True)          # ~/.local/share/jupyter/kernels/trading-workbench
>>> install_kernel(sys_prefix=True)    # <venv>/share/jupyter/kernels/trading-workbench
>>> install_kernel(prefix="/opt/jh")   # /opt/jh/share/jupyter/kernels/trading-workbench

``kernels/trading-workbench/`` in the repository is the same spec as committed files (with a bare
``python`` in argv) for ``jupyter kernelspec install``; a test keeps the two identical.

The spec's environment is :data:`workbench.ui.notebook.OFFLINE_ENV`: Panel and Bokeh inline their
JavaScript from the installed packages, so charts draw in notebooks with no internet (a hub on a cluster
without egress) even before the workbench is imported.
"""

from __future__ import annotations

import json
import struct
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError
from workbench.ui.notebook import OFFLINE_ENV

__all__ = ["KERNEL_NAME", "DISPLAY_NAME", "kernel_spec", "logo_png", "write_spec", "install_kernel"]

KERNEL_NAME = "trading-workbench"
DISPLAY_NAME = "Trading Workbench"

# Logo colours (RGBA): navy background, green rising candles, a white trend line.
_BG = (16, 32, 64, 255)
_UP = (46, 204, 113, 255)
_LINE = (236, 240, 241, 255)


def kernel_spec(python: str | None = None) -> dict[str, Any]:
    """The kernel.json content; ``python`` defaults to the running interpreter."""
    return {
        "argv": [python or sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "interrupt_mode": "signal",
        "env": dict(OFFLINE_ENV),
        "metadata": {"debugger": True},
    }


def _pixel(x: int, y: int, size: int) -> tuple[int, int, int, int]:
    """A tiny chart: four rising candles and a trend line across them (origin top-left)."""
    u = size / 16  # the design is drawn on a 16x16 grid and scaled
    gx, gy = x / u, y / u
    if abs((15 - gy) - 0.8 * gx - 1.0) < 0.55 and 1 <= gx < 15:  # trend line, slope 0.8
        return _LINE
    for i, (bottom, top) in enumerate(((13, 9), (12, 7), (10, 5), (8, 2))):
        left = 2 + 3.2 * i
        if left <= gx < left + 2 and top <= gy < bottom:
            return _UP
        if left + 0.8 <= gx < left + 1.2 and top - 1 <= gy < bottom + 1:  # wick
            return _UP
    return _BG


def logo_png(size: int) -> bytes:
    """A ``size`` x ``size`` RGBA PNG of the kernel logo, built with zlib and struct only."""
    if not 8 <= size <= 512:
        raise ConfigError(f"logo size must be between 8 and 512 pixels, got {size}")
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter type 0 (None) for every scanline
        for x in range(size):
            rows.extend(_pixel(x, y, size))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def write_spec(directory: str | Path, python: str | None = None) -> Path:
    """Write kernel.json and the two logos into ``directory`` (created); returns it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kernel.json").write_text(json.dumps(kernel_spec(python), indent=1) + "\n")
    for size in (32, 64):
        (directory / f"logo-{size}x{size}.png").write_bytes(logo_png(size))
    return directory


def install_kernel(prefix: str | Path | None = None, user: bool = False, sys_prefix: bool = False) -> Path:
    """Register the "Trading Workbench" kernel for this interpreter; returns the installed folder.

    Exactly like ``python -m ipykernel install``: ``user`` installs for the current user,
    ``sys_prefix`` into this environment (``sys.prefix``), ``prefix`` under any prefix
    (``<prefix>/share/jupyter/kernels``); with none of them, system-wide.
    """
    if sum((prefix is not None, user, sys_prefix)) > 1:
        raise ConfigError("install_kernel: give at most one of prefix, user, sys_prefix")
    from jupyter_client.kernelspec import KernelSpecManager

    if sys_prefix:
        prefix = sys.prefix
    with tempfile.TemporaryDirectory(prefix="workbench-kernel-") as tmp:
        source = write_spec(Path(tmp) / KERNEL_NAME)
        installed = KernelSpecManager().install_kernel_spec(
            str(source), KERNEL_NAME, user=user, prefix=None if prefix is None else str(prefix)
        )
    return Path(installed)
