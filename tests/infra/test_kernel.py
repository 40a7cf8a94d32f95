"""The "Trading Workbench" kernel spec: install into a temp prefix and run a cell on it."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel
from PIL import Image

from workbench.errors import ConfigError
from workbench.kernel import DISPLAY_NAME, KERNEL_NAME, install_kernel, logo_png

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "kernels" / KERNEL_NAME


def test_install_into_prefix_writes_spec_for_this_interpreter(tmp_path: Path) -> None:
    path = install_kernel(prefix=tmp_path)
    assert path == tmp_path / "share" / "jupyter" / "kernels" / KERNEL_NAME
    spec = json.loads((path / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    assert spec["argv"][1:3] == ["-m", "ipykernel_launcher"]
    assert "{connection_file}" in spec["argv"]
    assert spec["display_name"] == "Trading Workbench" == DISPLAY_NAME
    assert spec["language"] == "python"
    ksm = KernelSpecManager(kernel_dirs=[str(path.parent)])
    found = ksm.get_kernel_spec(KERNEL_NAME)
    assert found.display_name == "Trading Workbench"
    assert Path(found.resource_dir) == path


@pytest.mark.parametrize("size", [32, 64])
def test_logos_are_valid_pngs(tmp_path: Path, size: int) -> None:
    path = install_kernel(prefix=tmp_path)
    data = (path / f"logo-{size}x{size}.png").read_bytes()
    img = Image.open(io.BytesIO(data))  # an independent decoder
    img.load()
    assert img.format == "PNG" and img.size == (size, size) and img.mode == "RGBA"
    colours = {img.getpixel((x, y)) for x in range(size) for y in range(size)}
    assert len(colours) == 3  # background, candles, trend line: a drawing, not a blank square


def test_logo_size_out_of_range_is_one_line_error() -> None:
    with pytest.raises(ConfigError, match="between 8 and 512"):
        logo_png(4)


def test_only_one_destination() -> None:
    with pytest.raises(ConfigError, match="at most one"):
        install_kernel(prefix="/tmp/x", user=True)


def test_committed_spec_matches_generated(tmp_path: Path) -> None:
    """kernels/trading-workbench (for `jupyter kernelspec install`) is what install_kernel writes."""
    path = install_kernel(prefix=tmp_path)
    committed = json.loads((COMMITTED / "kernel.json").read_text())
    generated = json.loads((path / "kernel.json").read_text())
    assert committed["argv"][0] == "python"
    assert committed["argv"][1:] == generated["argv"][1:]
    assert {k: v for k, v in committed.items() if k != "argv"} == {
        k: v for k, v in generated.items() if k != "argv"
    }
    for name in ("logo-32x32.png", "logo-64x64.png"):
        assert (COMMITTED / name).read_bytes() == (path / name).read_bytes(), name


def test_kernel_runs_a_cell_with_jupyter_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = install_kernel(prefix=tmp_path)
    monkeypatch.setenv("JUPYTER_PATH", str(path.parents[1]))  # <prefix>/share/jupyter
    km, kc = start_new_kernel(kernel_name=KERNEL_NAME, startup_timeout=60)
    try:
        assert km.kernel_spec.display_name == "Trading Workbench"
        code = "import sys, workbench\nprint(sys.executable)\nprint(workbench.__name__, 6 * 7)"
        outputs: list[str] = []
        reply = kc.execute_interactive(
            code,
            timeout=60,
            output_hook=lambda msg: (
                outputs.append(msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None
            ),
        )
        assert reply["content"]["status"] == "ok"
        assert "".join(outputs).split("\n")[:2] == [sys.executable, "workbench 42"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
