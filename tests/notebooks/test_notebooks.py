"""Every notebook under notebooks/ runs top to bottom, and every one is committed without outputs.

Each notebook runs on this environment's ``python3`` kernel (jupyter_client starts it with the
interpreter running pytest), in its own folder, with ``WORKBENCH_HOME`` set to a fresh temporary
workspace and a time limit per cell. Its last cell must print ``<notebook name> ok``.

No notebook ingests anything on the user's behalf: the ones that read a filled workspace (the RAG chat,
the dashboards, the reports) get a copy of a workspace this test filled first with the repository's
sample exports (data/samples); the others ingest or load what they show themselves.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p for p in NOTEBOOK_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
CELL_TIMEOUT_S = 120
KERNEL = "python3"
SAMPLES = ROOT / "data" / "samples"
# notebooks that read what the user ingested before (they show an empty state on an empty workspace)
READS_WORKSPACE = ("02_rag_chat.ipynb", "dashboards/", "reports/")


def _id(path: Path) -> str:
    return path.relative_to(NOTEBOOK_DIR).as_posix()


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def _stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")


def test_notebooks_are_found():
    assert NOTEBOOKS, f"no notebooks under {NOTEBOOK_DIR}"


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding the sample exports: 2 backtests, 2 parameter sets, 1 optimisation."""
    import workbench as wb

    home = tmp_path_factory.mktemp("notebooks") / "lake"
    report = wb.open(home).ingest([SAMPLES])
    assert report.ingested == 5 and report.rejected == 0, report.to_dict()
    return home


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_notebook_runs(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    home = tmp_path / "lake"
    if _id(path).startswith(READS_WORKSPACE):
        shutil.copytree(request.getfixturevalue("filled"), home)
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT_S,
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},  # the kernel runs in the notebook's folder
    )
    try:
        client.execute()
    except CellExecutionError as e:
        pytest.fail(f"{_id(path)}: a cell failed:\n{e}")

    errors = [
        f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
        for i, cell in enumerate(_code_cells(nb))
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors, f"{_id(path)} has error outputs: {errors}"
    cells = _code_cells(nb)
    assert cells, f"{_id(path)} has no code cell"
    assert f"{path.stem} ok" in _stdout(cells[-1]), (
        f"{_id(path)}: the last cell should print {path.stem + ' ok'!r}, printed {_stdout(cells[-1])!r}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_notebook_is_committed_clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(_code_cells(nb))
        if cell.get("outputs") or cell.get("execution_count") is not None
    ]
    assert not dirty, (
        f"{_id(path)}: code cells {dirty} have outputs or execution counts; "
        "clear them before committing (jupyter nbconvert --clear-output --inplace)"
    )
    assert "widgets" not in nb.metadata, f"{_id(path)}: saved widget state in the metadata; clear it"
