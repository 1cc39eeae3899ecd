"""The sequential job queue behind every install, update and restore.

Jobs run one after another in the order added (dependencies first). One failure
never aborts the rest: a job whose dependency failed or was cancelled is skipped
with that reason. Progress is reported as :class:`QueueEvent` values to a
listener; the Qt layer re-emits them as signals from its worker thread. No Qt
here: cancellation is a :class:`CancelToken` checked in the download and
extraction loops.
"""

from __future__ import annotations

import enum
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from .errors import CancelledError, ExtensionManagerError


class EventKind(str, enum.Enum):
    """What a :class:`QueueEvent` reports."""

    STARTED = "started"  # a job began (or was skipped/cancelled right away)
    PHASE = "phase"  # a job entered a phase (download, verify, extract, register)
    PROGRESS = "progress"  # bytes done of a phase
    FINISHED = "finished"  # a job ended; ``result`` is set
    ALL_FINISHED = "all_finished"  # the queue is done; ``message`` summarises it
    MESSAGE = "message"  # a line for the log (recovery actions...)


class Phase(str, enum.Enum):
    QUEUED = "queued"
    DOWNLOAD = "download"
    VERIFY = "verify"
    EXTRACT = "extract"
    REGISTER = "register"
    DONE = "done"


class Outcome(str, enum.Enum):
    INSTALLED = "installed"
    UPDATED = "updated"
    UNINSTALLED = "uninstalled"
    SCHEDULED = "scheduled"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ok(self) -> bool:
        return self in (Outcome.INSTALLED, Outcome.UPDATED, Outcome.UNINSTALLED, Outcome.SCHEDULED, Outcome.SKIPPED)


class CancelToken:
    """Thread-safe cancellation flag."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def __call__(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self, what: str = "The operation") -> None:
        if self._event.is_set():
            raise CancelledError(f"{what} was cancelled.")


@dataclass(frozen=True)
class Job:
    """One unit of work. ``action`` does the work; ``depends_on`` are names of
    earlier jobs whose failure makes this one skip."""

    name: str
    action: Callable[[JobContext], JobResult]
    description: str = ""
    depends_on: tuple[str, ...] = ()
    requested: bool = True
    id: int = 0


@dataclass(frozen=True)
class JobResult:
    name: str
    outcome: Outcome
    message: str = ""
    restart_required: bool = False
    warnings: tuple[str, ...] = ()
    revision: str = ""

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "outcome": self.outcome.value, "message": self.message,
                "restart_required": self.restart_required, "warnings": list(self.warnings),
                "revision": self.revision}


@dataclass(frozen=True)
class QueueEvent:
    """Something happened in the queue. ``index`` is 1-based; ``total`` the job count."""

    kind: EventKind
    name: str = ""
    index: int = 0
    total: int = 0
    phase: Phase = Phase.QUEUED
    done: int = 0
    size: int | None = None
    result: JobResult | None = None
    message: str = ""
    job_id: int = 0

    @property
    def status_text(self) -> str:
        if self.kind == EventKind.STARTED:
            return f"Installing {self.name} ({self.index}/{self.total})"
        return self.message


Listener = Callable[[QueueEvent], None]


@dataclass
class JobContext:
    """Handed to a job's action: report progress, check cancellation."""

    job: Job
    index: int
    total: int
    token: CancelToken
    _emit: Listener
    _last_progress: float = field(default=0.0, repr=False)

    def phase(self, phase: Phase, message: str = "") -> None:
        self.token.raise_if_cancelled(f"Installing {self.job.name}")
        self._emit(QueueEvent(EventKind.PHASE, self.job.name, self.index, self.total, phase, message=message, job_id=self.job.id))

    def progress(self, done: int, size: int | None, phase: Phase = Phase.DOWNLOAD) -> bool:
        """Report bytes; returns False when cancelled (so it can be a download callback).
        Throttled to ~20 events/s so listeners (and the GUI) are not flooded."""
        now = time.monotonic()
        if now - self._last_progress >= 0.05 or (size is not None and done >= size):
            self._last_progress = now
            self._emit(QueueEvent(EventKind.PROGRESS, self.job.name, self.index, self.total, phase, done, size, job_id=self.job.id))
        return not self.token.cancelled

    def message(self, text: str) -> None:
        self._emit(QueueEvent(EventKind.MESSAGE, self.job.name, self.index, self.total, message=text, job_id=self.job.id))

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled


class InstallQueue:
    """A sequential queue of :class:`Job`; run it with :meth:`run` (blocking)."""

    _ids = itertools.count(1)

    def __init__(self, listener: Listener | None = None):
        self._listeners: list[Listener] = [listener] if listener is not None else []
        self._jobs: list[Job] = []
        self._tokens: dict[int, CancelToken] = {}
        self._all = CancelToken()
        self._lock = threading.Lock()
        self._results: list[JobResult] = []
        self.running = False

    def add(self, job: Job) -> int:
        job_id = next(self._ids)
        job = Job(job.name, job.action, job.description, job.depends_on, job.requested, job_id)
        token = CancelToken()
        if self._all.cancelled:  # "cancel all" also covers jobs added afterwards
            token.cancel()
        with self._lock:
            self._jobs.append(job)
            self._tokens[job_id] = token
        return job_id

    def extend(self, jobs: Iterable[Job]) -> list[int]:
        return [self.add(job) for job in jobs]

    @property
    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    @property
    def results(self) -> list[JobResult]:
        return list(self._results)

    def token_for(self, name: str) -> CancelToken | None:
        """The cancel token of the job named ``name`` (for work started ahead of it)."""
        with self._lock:
            job = next((j for j in self._jobs if j.name == name), None)
            return self._tokens.get(job.id) if job else None

    def cancel(self, job_id: int) -> None:
        """Cancel one job (running or waiting)."""
        with self._lock:
            token = self._tokens.get(job_id)
        if token:
            token.cancel()

    def cancel_all(self) -> None:
        self._all.cancel()
        with self._lock:
            tokens = list(self._tokens.values())
        for token in tokens:
            token.cancel()

    def add_listener(self, listener: Listener) -> None:
        """Also send every event to ``listener`` (once, however often it is added)."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def message(self, text: str) -> None:
        """A line for the listeners' logs (recovery actions...)."""
        self._emit(QueueEvent(EventKind.MESSAGE, message=text))

    def _emit(self, event: QueueEvent) -> None:
        for listener in self._listeners:
            listener(event)

    def run(self) -> list[JobResult]:
        """Run every job in order; returns one result per job."""
        self.running = True
        failed: dict[str, str] = {}
        try:
            index = 0
            while True:
                with self._lock:
                    if index >= len(self._jobs):
                        break
                    job = self._jobs[index]
                    total = len(self._jobs)
                    token = self._tokens[job.id]
                index += 1
                self._emit(QueueEvent(EventKind.STARTED, job.name, index, total, Phase.QUEUED, job_id=job.id,
                                      message=f"Installing {job.name} ({index}/{total})"))
                blocked = next((d for d in job.depends_on if d in failed), None)
                if token.cancelled:
                    result = JobResult(job.name, Outcome.CANCELLED, f"Installing {job.name} was cancelled.")
                elif blocked:
                    result = JobResult(job.name, Outcome.FAILED,
                                       f"{job.name} was not installed because its dependency {blocked} "
                                       f"was not installed ({failed[blocked]}).")
                else:
                    ctx = JobContext(job, index, total, token, self._emit)
                    try:
                        result = job.action(ctx)
                    except CancelledError as exc:
                        result = JobResult(job.name, Outcome.CANCELLED, str(exc))
                    except ExtensionManagerError as exc:
                        result = JobResult(job.name, Outcome.FAILED, str(exc))
                    except Exception as exc:  # a bug must not stop the other jobs
                        result = JobResult(job.name, Outcome.FAILED,
                                           f"Unexpected error while processing {job.name}: {exc!r}.")
                if not result.outcome.ok:
                    failed[job.name] = result.outcome.value
                self._results.append(result)
                self._emit(QueueEvent(EventKind.FINISHED, job.name, index, total, Phase.DONE, result=result,
                                      message=result.message, job_id=job.id))
        finally:
            self.running = False
        self._emit(QueueEvent(EventKind.ALL_FINISHED, total=len(self._results),
                              message=summarize(self._results)))
        return list(self._results)


def summarize(results: Iterable[JobResult]) -> str:
    results = list(results)
    counts: dict[Outcome, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    parts = [f"{n} {o.value}" for o, n in counts.items()]
    text = ", ".join(parts) if parts else "nothing to do"
    if any(r.restart_required for r in results):
        text += "; restart Slicer to use the changes"
    return text[:1].upper() + text[1:] + "."
