"""Run a parameterised report notebook with papermill and write self-contained HTML without code.

* :func:`render` — one notebook, one set of parameters → one HTML file.
* :func:`render_many` — many jobs in parallel processes, an ``index.html`` linking them; a failing
  job is recorded with its one-line error, the others go on.

The HTML uses nbconvert's ``lab`` template without its CDN scripts (require.js, MathJax, Mermaid,
widget manager); charts carry their own inlined BokehJS (:mod:`workbench.reports.static`), so the
file renders with the network cut off.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, MissingDependencyError, WorkbenchError

__all__ = [
    "REPORTS_DIR",
    "Job",
    "Rendered",
    "Batch",
    "resolve_notebook",
    "render",
    "render_many",
    "to_html",
    "parse_value",
]

ROOT = Path(__file__).resolve().parents[2]
REPORTS_DIR = ROOT / "notebooks" / "reports"
KERNEL = "python3"
CELL_TIMEOUT_S = 300

# nbconvert's lab template minus everything it would fetch from a CDN.
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block extra_css %}<style>body{max-width:1200px;margin:0 auto;padding:0 16px}
.jp-OutputArea-output{overflow-x:auto}</style>{% endblock extra_css %}
"""
_TEMPLATE_NAME = "workbench_report.html.j2"


@dataclass(frozen=True, slots=True)
class Job:
    """One report to render: a notebook, its parameters and where the HTML goes."""

    notebook: Path
    parameters: Mapping[str, Any]
    output: Path
    title: str = ""


@dataclass(frozen=True, slots=True)
class Rendered:
    job: Job
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook": str(self.job.notebook),
            "parameters": dict(self.job.parameters),
            "output": str(self.job.output) if self.ok else None,
            "title": self.job.title,
            "seconds": round(self.seconds, 2),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Batch:
    index: Path
    results: tuple[Rendered, ...] = field(default_factory=tuple)
    seconds: float = 0.0

    @property
    def failed(self) -> tuple[Rendered, ...]:
        return tuple(r for r in self.results if not r.ok)


def resolve_notebook(name: str | Path) -> Path:
    """A notebook path, or a report name: ``backtest`` → notebooks/reports/backtest_report.ipynb."""
    path = Path(name)
    if path.suffix == ".ipynb" and path.exists():
        return path.resolve()
    for candidate in (
        REPORTS_DIR / f"{name}_report.ipynb",
        REPORTS_DIR / f"{name}.ipynb",
        REPORTS_DIR / path.name,
    ):
        if candidate.exists():
            return candidate
    known = ", ".join(sorted(p.stem.removesuffix("_report") for p in REPORTS_DIR.glob("*.ipynb")))
    raise ConfigError(f"no report notebook {str(name)!r} (known: {known or 'none'}; or give a .ipynb path)")


def parse_value(text: str) -> Any:
    """A ``-p key=value`` value: JSON when it parses (numbers, true/false, null, lists), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _template_loader() -> Any:
    from jinja2 import DictLoader

    return DictLoader({_TEMPLATE_NAME: _TEMPLATE})


def _shown(output: Any, stem: str) -> bool:
    """Outputs kept in the HTML: not stderr, not the "<stem> ok" line the notebook tests look for."""
    if output.get("output_type") != "stream":
        return True
    return output.get("name") != "stderr" and str(output.get("text", "")).strip() != f"{stem} ok"


def to_html(nb: Any, *, title: str = "", stem: str = "") -> str:
    """An executed notebook as HTML: no code cells, no prompts, no stderr, no CDN scripts."""
    from nbconvert import HTMLExporter

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if _shown(o, stem)]
    if title:
        nb.metadata["title"] = title
    nb.metadata.pop("widgets", None)
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[_template_loader()],
        template_file=_TEMPLATE_NAME,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    return body


def _title(nb: Any, fallback: str) -> str:
    """The first level-1 heading the notebook printed (a markdown output), else of a markdown cell."""
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            for line in str(out.get("data", {}).get("text/markdown", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def render(
    notebook: str | Path,
    parameters: Mapping[str, Any] | None = None,
    output: str | Path | None = None,
    *,
    title: str = "",
    timeout_s: int = CELL_TIMEOUT_S,
) -> Rendered:
    """Execute ``notebook`` with ``parameters`` (papermill) and write its HTML to ``output``.

    The kernel runs in the notebook's folder and inherits this process's environment
    (``WORKBENCH_HOME`` picks the workspace). Raises :class:`~workbench.errors.WorkbenchError` with
    the failing cell's error on one line.
    """
    try:
        import papermill as pm
    except ImportError:
        raise MissingDependencyError("papermill", "notebook") from None
    from workbench.config import settings

    t0 = time.perf_counter()
    path = resolve_notebook(notebook)
    # the kernel runs in the notebook's folder: a relative workspace path must not move with it
    os.environ["WORKBENCH_HOME"] = str(settings().home.resolve())
    params = dict(parameters or {})
    out = Path(output) if output else Path.cwd() / f"{path.stem}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="workbench-report-") as tmp:
        executed = Path(tmp) / path.name
        try:
            nb = pm.execute_notebook(
                str(path),
                str(executed),
                parameters=params,
                kernel_name=KERNEL,
                cwd=str(path.parent),
                progress_bar=False,
                log_output=False,
                execution_timeout=timeout_s,
                report_mode=True,
            )
        except pm.PapermillExecutionError as e:
            raise WorkbenchError(
                f"{path.name}: cell {e.exec_count} failed: {e.ename}: {' '.join(str(e.evalue).split())[:300]}"
            ) from None
        except pm.PapermillException as e:
            raise WorkbenchError(f"{path.name}: {' '.join(str(e).split())[:300]}") from None
    page = to_html(nb, title=title or _title(nb, path.stem), stem=path.stem)
    tmp_out = out.with_name(f".{out.name}.tmp")
    tmp_out.write_text(page, encoding="utf-8")
    os.replace(tmp_out, out)
    job = Job(path, params, out, title or _title(nb, path.stem))
    return Rendered(job, time.perf_counter() - t0)


def _run_job(job: Job) -> Rendered:
    t0 = time.perf_counter()
    try:
        done = render(job.notebook, job.parameters, job.output, title=job.title)
        return Rendered(job, done.seconds)
    except Exception as e:  # noqa: BLE001 - one failing report must not stop the batch
        msg = " ".join(str(e).split())[:400] or type(e).__name__
        if not isinstance(e, WorkbenchError):
            msg = f"{type(e).__name__}: {msg}"
        return Rendered(job, time.perf_counter() - t0, msg)


def render_many(jobs: Sequence[Job], out_dir: str | Path, *, workers: int | None = None) -> Batch:
    """Render ``jobs`` in up to ``workers`` processes (default: the cores available, at most the job
    count) and write ``out_dir/index.html`` linking every report and listing every failure."""
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = max(1, min(workers, len(jobs) or 1))
    results: list[Rendered] = []
    if workers == 1:
        results = [_run_job(j) for j in jobs]
    else:
        import multiprocessing

        # spawn: the parent may hold zmq/DuckDB state that must not be forked
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_run_job, j): j for j in jobs}
            for f in as_completed(futures):
                try:
                    results.append(f.result())
                except Exception as e:  # noqa: BLE001 - a dead worker is one failed report
                    results.append(Rendered(futures[f], 0.0, f"{type(e).__name__}: {e}"))
    results = _in_job_order(jobs, results)
    index = out / "index.html"
    index.write_text(index_html(results, out), encoding="utf-8")
    return Batch(index, tuple(results), time.perf_counter() - t0)


def _in_job_order(jobs: Sequence[Job], results: Iterable[Rendered]) -> list[Rendered]:
    by_output = {str(r.job.output): r for r in results}
    return [by_output[str(j.output)] for j in jobs if str(j.output) in by_output]


def index_html(results: Sequence[Rendered], out_dir: Path) -> str:
    """A self-contained page linking each report (relative links) and naming each failure."""
    rows = []
    for r in results:
        params = html.escape(", ".join(f"{k}={v}" for k, v in r.job.parameters.items()))
        name = html.escape(r.job.title or r.job.output.stem)
        if r.ok:
            rel = os.path.relpath(r.job.output, out_dir)
            link = f'<a href="{html.escape(rel)}">{name}</a>'
            status = '<span class="ok">ok</span>'
        else:
            link = name
            status = f'<span class="failed">failed</span>: {html.escape(r.error or "")}'
        rows.append(
            f"<tr><td>{link}</td><td>{html.escape(r.job.notebook.stem)}</td><td>{params}</td>"
            f"<td>{r.seconds:.1f} s</td><td>{status}</td></tr>"
        )
    failed = sum(not r.ok for r in results)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Reports</title><style>'
        "body{font-family:system-ui,sans-serif;margin:24px}table{border-collapse:collapse}"
        "td,th{padding:4px 10px;border-bottom:1px solid #d0d7de;text-align:left}"
        ".ok{color:#1a7f37}.failed{color:#cf222e;font-weight:bold}</style></head><body>"
        f"<h1>Reports</h1><p>{len(results) - failed} rendered, {failed} failed</p>"
        "<table><thead><tr><th>report</th><th>notebook</th><th>parameters</th><th>time</th><th>status</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>"
    )
