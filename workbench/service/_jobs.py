"""Background jobs: an optimisation submitted over HTTP runs as ``workbench optimize --json`` in its own
process (its Ray driver, ``RAY_ADDRESS`` or a local Ray, and its store writes are those of the CLI), one
at a time; its record (status, caller, request, result or one-line error) is a JSON file under
``<workspace>/service/jobs/`` so it outlives the service.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Job", "JobRunner", "STATUSES"]

STATUSES = ("queued", "running", "succeeded", "failed")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: str
    status: str
    submitted_by: str
    request: dict[str, Any]
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    argv: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class JobRunner:
    """Runs jobs one after the other in a worker thread; each job is a subprocess of ``argv``."""

    def __init__(
        self, folder: Path, *, env: dict[str, str] | None = None, timeout_s: float = 6 * 3600
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.env = env
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._queue: list[str] = []
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._proc: subprocess.Popen | None = None
        for path in sorted(self.folder.glob("*.json")):
            try:
                job = Job(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                continue
            if job.status in ("queued", "running"):  # the service stopped under it
                job = replace(
                    job,
                    status="failed",
                    finished_at=_now(),
                    error="interrupted: the service stopped while the job was queued or running; submit it "
                    "again (an optimisation resumes from its last trial)",
                )
                self._write(job)
            self._jobs[job.id] = job
        self._thread = threading.Thread(target=self._work, name="workbench-jobs", daemon=True)
        self._thread.start()

    # -- public ------------------------------------------------------------------------------
    def submit(self, kind: str, argv: list[str], request: dict[str, Any], submitted_by: str) -> Job:
        job = Job(
            id=uuid.uuid4().hex[:16],
            kind=kind,
            status="queued",
            submitted_by=submitted_by,
            request=request,
            created_at=_now(),
            argv=list(argv),
        )
        with self._lock:
            self._jobs[job.id] = job
            self._write(job)
            self._queue.append(job.id)
            self._wake.notify()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: (j.created_at, j.id))

    def counts(self) -> dict[str, int]:
        with self._lock:
            out = dict.fromkeys(STATUSES, 0)
            for job in self._jobs.values():
                out[job.status] = out.get(job.status, 0) + 1
            return out

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
        self._thread.join(timeout=5)

    # -- worker ------------------------------------------------------------------------------
    def _write(self, job: Job) -> None:
        tmp = self.folder / f".{job.id}.json.tmp"
        tmp.write_text(json.dumps(job.to_dict(), default=str))
        os.replace(tmp, self.folder / f"{job.id}.json")

    def _set(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job
            self._write(job)

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                job = self._jobs[self._queue.pop(0)]
            self._set(replace(job, status="running", started_at=_now()))
            self._set(self._run(self._jobs[job.id]))

    def _run(self, job: Job) -> Job:
        try:
            proc = subprocess.Popen(
                job.argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=self.env,
                stdin=subprocess.DEVNULL,
            )
            with self._lock:
                self._proc = proc
            out, err = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return replace(
                job, status="failed", finished_at=_now(), error=f"timed out after {self.timeout_s:.0f} s"
            )
        except OSError as e:
            return replace(job, status="failed", finished_at=_now(), error=f"cannot start the job: {e}")
        finally:
            with self._lock:
                self._proc = None
        if proc.returncode == 0:
            try:
                result = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                return replace(
                    job, status="failed", finished_at=_now(), error="the job printed no JSON result"
                )
            return replace(job, status="succeeded", finished_at=_now(), result=result)
        lines = [ln for ln in err.splitlines() if ln.startswith("error:")] or err.strip().splitlines()[-1:]
        error = " ".join((lines[-1] if lines else f"exit code {proc.returncode}").split())[:500]
        return replace(job, status="failed", finished_at=_now(), error=error.removeprefix("error: "))


def cli_argv(*args: str) -> list[str]:
    """``python -m workbench ARGS...`` with this interpreter."""
    return [sys.executable, "-m", "workbench", *args]
