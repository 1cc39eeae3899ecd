"""Everything that touches the disk or the network runs here, off the GUI thread.

* :class:`WorkerThread` — a ``QThread`` with a ``QObject`` executor: callables submitted
  from the GUI thread run one after another in that thread; their result (or the
  error sentence) comes back to the GUI thread through a queued signal.
* :class:`ExtensionsService` — the Qt face of an :class:`~slicer_ext_manager.manager.ExtensionsManager`
  for the widgets. Two worker threads: *reads* (catalog, state snapshots, plans, settings)
  and *operations* (install queues, uninstall, enable… — serialised, since they lock the
  install folder). The core's :class:`~slicer_ext_manager.queue.InstallQueue` listener
  re-emits every :class:`~slicer_ext_manager.queue.QueueEvent` as a Qt signal.

The widgets never call the manager directly.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QThread, QTimer, Signal, Slot

from ..catalog import Catalog
from ..errors import ExtensionManagerError
from ..queue import EventKind, InstallQueue, Job, JobResult, Outcome, QueueEvent
from .models import ExtensionRow, InstalledInfo, StateSnapshot, build_rows

log = logging.getLogger(__name__)

__all__ = [
    "Batch",
    "ExtensionsService",
    "ViewData",
    "WorkerThread",
    "collect_state",
    "run_in_thread",
    "wait_until",
]

AUTO_UPDATE_CHECK_KEY = "Extensions/AutoUpdateCheck"
AUTO_UPDATE_INSTALL_KEY = "Extensions/AutoUpdateInstall"
AUTO_INSTALL_DEPENDENCIES_KEY = "Extensions/AutoInstallDependencies"
SERVER_URL_KEY = "Extensions/ServerUrl"
RESTART_KEYS = ("Modules/AdditionalPaths", "Extensions/ScheduledForUninstall", "Extensions/ScheduledForUpdate")

# Threads still running are kept here with their executor, so a forgotten shutdown (or
# one that does not wait) never destroys a running thread — a fatal error in Qt. They
# are stopped when the application quits or the interpreter exits.
_LIVE_THREADS: dict[QThread, QObject] = {}


def _prune_live_threads() -> None:
    for thread in list(_LIVE_THREADS):
        try:
            finished = thread.isFinished()
        except RuntimeError:
            finished = True
        if finished:
            _LIVE_THREADS.pop(thread, None)


def _stop_live_threads() -> None:
    for thread in list(_LIVE_THREADS):
        try:
            thread.quit()
            thread.wait(30_000)
        except RuntimeError:  # already deleted
            pass
    _LIVE_THREADS.clear()


atexit.register(_stop_live_threads)


def error_sentence(exc: BaseException) -> str:
    """The sentence a user sees for an exception (the core's errors are sentences already)."""
    if isinstance(exc, ExtensionManagerError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return f"A file operation failed: {exc.strerror or exc}{where}."
    return f"Unexpected error: {exc!r}."


# -- threads ---------------------------------------------------------------------------------------


class _Executor(QObject):
    finished = Signal(int, object, object)  # task id, result, error sentence (None = success)

    @Slot(int, object)
    def execute(self, task_id: int, fn: Callable[[], Any]) -> None:
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the user
            if not isinstance(exc, ExtensionManagerError):
                log.error("Task failed:\n%s", "".join(traceback.format_exception(exc)))
            self.finished.emit(task_id, None, error_sentence(exc))
        else:
            self.finished.emit(task_id, result, None)


class WorkerThread(QObject):
    """A thread running submitted callables in order; results come back in the GUI thread."""

    pendingChanged = Signal(int)
    _request = Signal(int, object)

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self._name = name
        self._thread: QThread | None = None
        self._executor: _Executor | None = None
        self._callbacks: dict[int, tuple[Callable | None, Callable | None]] = {}
        self._ids = itertools.count(1)
        self._closed = False

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        thread = QThread()
        thread.setObjectName(self._name)
        executor = _Executor()
        executor.moveToThread(thread)
        self._request.connect(executor.execute)
        executor.finished.connect(self._deliver)
        self._thread, self._executor = thread, executor
        _prune_live_threads()
        _LIVE_THREADS[thread] = executor
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        thread.start()

    @property
    def pending(self) -> int:
        """Tasks submitted and not yet delivered."""
        return len(self._callbacks)

    @property
    def closed(self) -> bool:
        return self._closed

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[str], None] | None = None) -> int:
        """Run ``fn()`` in the thread; ``on_done(result)`` or ``on_error(sentence)`` in the GUI thread."""
        if self._closed:
            self._closed = False  # a reopened dialog may reuse its service
        self._ensure_started()
        task_id = next(self._ids)
        self._callbacks[task_id] = (on_done, on_error)
        self._request.emit(task_id, fn)
        self.pendingChanged.emit(len(self._callbacks))
        return task_id

    @Slot(int, object, object)
    def _deliver(self, task_id: int, result: Any, error: Any) -> None:
        on_done, on_error = self._callbacks.pop(task_id, (None, None))
        self.pendingChanged.emit(len(self._callbacks))
        if self._closed:
            return
        if error is None:
            if on_done is not None:
                on_done(result)
        elif on_error is not None:
            on_error(str(error))
        else:
            log.warning("%s", error)

    def shutdown(self, timeout_ms: int = 60_000, *, wait: bool = True) -> bool:
        """Stop after the running task (queued ones are dropped); results not yet delivered
        are discarded. ``wait``: block until the thread ended (else it ends on its own and is
        reaped later). True when the thread has ended."""
        self._closed = True
        thread = self._thread
        if thread is None:
            return True
        thread.quit()
        ok = thread.wait(timeout_ms) if wait else thread.isFinished()
        try:
            self._request.disconnect()
        except (RuntimeError, TypeError):
            pass
        self._thread, self._executor = None, None
        self._callbacks.clear()
        if ok:
            _LIVE_THREADS.pop(thread, None)
        return ok


def wait_until(predicate: Callable[[], bool], timeout: float | None = None, poll_ms: int = 20) -> bool:
    """Spin a local event loop (the GUI stays responsive) until ``predicate()`` or the timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(poll_ms)

    def check() -> None:
        if predicate() or (deadline is not None and time.monotonic() >= deadline):
            loop.quit()

    timer.timeout.connect(check)
    timer.start()
    if not predicate():
        loop.exec()
    timer.stop()
    return predicate()


def run_in_thread(fn: Callable[[], Any], *, name: str = "extensions-task", timeout: float | None = None) -> Any:
    """Run ``fn`` in a worker thread while the caller's event loop keeps running; return its
    result or raise :class:`ExtensionManagerError` with the failure sentence."""
    worker = WorkerThread(name)
    box: dict[str, Any] = {}
    worker.submit(fn, lambda r: box.__setitem__("result", r), lambda e: box.__setitem__("error", e))
    try:
        if not wait_until(lambda: "result" in box or "error" in box, timeout):
            raise ExtensionManagerError("The operation did not finish in time.")
    finally:
        worker.shutdown()
    if "error" in box:
        raise ExtensionManagerError(box["error"])
    return box["result"]


# -- snapshots ----------------------------------------------------------------------------------------


def collect_state(manager) -> StateSnapshot:
    """Read the profile: installed extensions, bookmarks, schedules, settings (worker thread)."""
    ctx = manager.context
    icons: dict[str, str] = {}
    if ctx.install_path.is_dir():
        for path in sorted(ctx.install_path.glob("*-icon.*")):
            icons.setdefault(path.name.rsplit("-icon.", 1)[0], str(path))
    installed: dict[str, InstalledInfo] = {}
    for ext in manager.registry.installed():
        reasons = tuple(ext.metadata.compatibility_reasons(ctx.revision, ctx.os, ctx.arch))
        installed[ext.name] = InstalledInfo(ext.name, ext.metadata, ext.enabled, not reasons, reasons,
                                            icons.get(ext.name, ""))
    rs = ctx.revision_settings
    if rs.exists():
        reader = rs.read()
        restart_keys = (
            tuple(reader.string_list(RESTART_KEYS[0])),
            tuple(reader.string_list(RESTART_KEYS[1])),
            tuple(sorted((str(k), str(v)) for k, v in reader.variant_map(RESTART_KEYS[2]).items())),
        )
    else:
        restart_keys = ((), (), ())
    us = ctx.user_settings.read()
    check_on_startup, install_without_asking = manager.startup_options()
    return StateSnapshot(
        revision=ctx.revision,
        installed=installed,
        bookmarks=tuple(manager.history.bookmarks()),
        scheduled_uninstalls=tuple(restart_keys[1]),
        scheduled_updates=dict(restart_keys[2]),
        restart_keys=restart_keys,
        auto_update_check=us.boolean(AUTO_UPDATE_CHECK_KEY, True),
        auto_update_install=us.boolean(AUTO_UPDATE_INSTALL_KEY, False),
        auto_install_dependencies=us.boolean(AUTO_INSTALL_DEPENDENCIES_KEY, True),
        check_on_startup=check_on_startup,
        install_without_asking=install_without_asking,
    )


@dataclass(frozen=True)
class ViewData:
    """What the tabs show, built in the reads thread."""

    catalog: Catalog | None
    catalog_error: str
    loading: bool
    state: StateSnapshot
    search_rows: tuple[ExtensionRow, ...]
    installed_rows: tuple[ExtensionRow, ...]

    @property
    def updates(self) -> list[str]:
        """Installed extensions with an update not yet scheduled or done."""
        return [r.name for r in self.installed_rows
                if r.installed and r.update_available and not r.scheduled_update and not r.updated_this_session
                and not r.scheduled_uninstall]

    @property
    def installable_bookmarks(self) -> list[str]:
        """Bookmarked, not installed, available for this Slicer (Slicer's "Install bookmarked (N)")."""
        return [r.name for r in self.installed_rows if r.bookmarked and not r.installed and r.installable]

    @property
    def installed_count(self) -> int:
        return len(self.state.installed)

    @property
    def categories(self) -> list[str]:
        return self.catalog.categories() if self.catalog is not None else []

    @property
    def status_text(self) -> str:
        """The banner: offline, error, or empty catalog ("" when all is well)."""
        if self.catalog_error and (self.catalog is None or not self.catalog.offline_reason):
            if self.catalog is not None and self.catalog.extensions:
                return f"The catalog could not be refreshed: {self.catalog_error} Showing the cached catalog."
            return self.catalog_error
        if self.catalog is None:
            return "" if self.loading else "No catalog is available."
        if self.catalog.offline_reason or (self.catalog.is_empty and not self.loading):
            return self.catalog.status_text()
        return ""


def build_view(manager, catalog: Catalog | None, error: str, loading: bool,
               baseline: Iterable[str] | None, updated: Iterable[str]) -> ViewData:
    state = collect_state(manager)
    search, installed = build_rows(catalog, state, baseline=baseline, updated_names=updated)
    return ViewData(catalog, error, loading, state, search, installed)


# -- batches -----------------------------------------------------------------------------------------


class _Queue(InstallQueue):
    """An InstallQueue whose ``cancel_all`` also cancels jobs added afterwards."""

    def __init__(self, listener=None):
        super().__init__(listener)
        self.all_cancelled = False

    def add(self, job: Job) -> int:
        job_id = super().add(job)
        if self.all_cancelled:
            self.cancel(job_id)
        return job_id

    def cancel_all(self) -> None:
        self.all_cancelled = True
        super().cancel_all()


@dataclass(eq=False)
class Batch:
    """One run of the core's queue in the operations thread."""

    id: int
    kind: str  # "install" | "update"
    queue: InstallQueue
    names: tuple[str, ...] = ()
    results: list[JobResult] = field(default_factory=list)
    error: str = ""
    finished: bool = False
    started: bool = False
    summary: str = ""
    listener: Callable[[QueueEvent], None] | None = field(default=None, repr=False)

    @property
    def restart_required(self) -> bool:
        return any(r.restart_required for r in self.results)

    @property
    def cancelled(self) -> bool:
        return bool(getattr(self.queue, "all_cancelled", False))


class _EventRelay(QObject):
    """Listener calls happen in the operations thread; this signal queues them to the GUI."""

    event = Signal(int, object)


def _file_jobs(manager, path: Path) -> list[Job]:
    """Jobs installing one archive (preceded by its dependencies from the server)."""
    jobs, failures = manager.file_jobs([Path(path)])
    if failures:
        raise ExtensionManagerError(failures[0].message)
    return list(jobs)


class ExtensionsService(QObject):
    """The widgets' access to the manager; every call returns at once."""

    viewChanged = Signal(object)  # ViewData
    restorePlanChanged = Signal(object)  # RestorePlan
    restorePlanFailed = Signal(str)
    queueEvent = Signal(object, object)  # Batch, QueueEvent
    batchSubmitted = Signal(object)  # Batch
    batchFinished = Signal(object)  # Batch
    busyChanged = Signal(bool)
    logMessage = Signal(str)
    managerChanged = Signal(object)

    def __init__(self, manager, parent: QObject | None = None, *, baseline: Iterable[str] | None = None):
        super().__init__(parent)
        self._manager = manager
        self.reads = WorkerThread("extensions-reads", self)
        self.ops = WorkerThread("extensions-operations", self)
        self._shared: dict[str, Any] = {"catalog": None, "error": ""}
        self._view: ViewData | None = None
        self._baseline: frozenset[str] | None = frozenset(baseline) if baseline is not None else None
        self._updated: set[str] = set()
        self._batches: list[Batch] = []
        self._ops_running = 0
        self._batch_ids = itertools.count(1)
        self._relay = _EventRelay()
        self._relay.event.connect(self._on_event)
        self._generation = 0
        self._busy = False
        self._loading = 0

    # -- properties -----------------------------------------------------------------------------------

    @property
    def manager(self):
        return self._manager

    @property
    def view(self) -> ViewData | None:
        return self._view

    @property
    def busy(self) -> bool:
        """A batch or an operation is queued or running."""
        return bool(self._batches) or self._ops_running > 0

    @property
    def loading(self) -> bool:
        return self._loading > 0

    @property
    def batches(self) -> list[Batch]:
        return list(self._batches)

    def _update_busy(self) -> None:
        busy = self.busy
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    # -- loading --------------------------------------------------------------------------------------

    def _view_task(self, catalog_mode: str, refresh: bool = False) -> Callable[[], ViewData]:
        manager, shared = self._manager, self._shared
        baseline, updated = self._baseline, frozenset(self._updated)

        def task() -> ViewData:
            if catalog_mode == "cached":
                catalog = manager.cached_catalog()
                if shared["catalog"] is None:
                    shared["catalog"] = catalog
                return build_view(manager, shared["catalog"], shared["error"], True, baseline, updated)
            if catalog_mode == "fetch":
                try:
                    shared["catalog"] = manager.catalog(refresh=refresh)
                    shared["error"] = ""
                except ExtensionManagerError as exc:
                    shared["error"] = str(exc)
                    if shared["catalog"] is None:
                        shared["catalog"] = manager.cached_catalog()
            return build_view(manager, shared["catalog"], shared["error"], False, baseline, updated)

        return task

    def load(self, *, refresh: bool = False) -> None:
        """Show the cached catalog at once, then the catalog from the server (or the
        fresh cache) — both from the reads thread."""
        self._loading += 1
        if self._view is None:
            self.reads.submit(self._view_task("cached"), self._accept_view(self._generation, final=False),
                              self._log_error)
        self.reads.submit(self._view_task("fetch", refresh), self._accept_view(self._generation, final=True),
                          self._load_failed)

    def refresh_view(self) -> None:
        """Re-read the profile state (no request)."""
        self.reads.submit(self._view_task("state"), self._accept_view(self._generation, final=False),
                          self._log_error)

    def _accept_view(self, generation: int, final: bool) -> Callable[[ViewData], None]:
        def accept(view: ViewData) -> None:
            if final:
                self._loading = max(0, self._loading - 1)
            if generation != self._generation:
                return
            if self._baseline is None:
                self._baseline = frozenset(view.state.installed)
            if self.loading and not view.loading:
                view = ViewData(view.catalog, view.catalog_error, True, view.state, view.search_rows,
                                view.installed_rows)
            self._view = view
            self.viewChanged.emit(view)

        return accept

    def _load_failed(self, message: str) -> None:
        self._loading = max(0, self._loading - 1)
        self._log_error(message)

    def _log_error(self, message: str) -> None:
        self.logMessage.emit(message)

    def load_restore_plan(self, *, refresh: bool = False) -> None:
        manager = self._manager
        self.reads.submit(lambda: manager.restore_plan(refresh=refresh), self.restorePlanChanged.emit,
                          self.restorePlanFailed.emit)

    # -- planning ---------------------------------------------------------------------------------------

    def plan_install(self, names: Sequence[str], on_ready: Callable[[Any, list[Job]], None],
                     on_error: Callable[[str], None] | None = None, *, with_dependencies: bool = True) -> None:
        """Resolve ``names`` (dependencies first) and make their jobs, in the reads thread."""
        manager = self._manager
        names = list(names)

        def task():
            plan = manager.plan_install(names, with_dependencies=with_dependencies)
            return plan, manager.install_jobs(plan)

        self.reads.submit(task, lambda r: on_ready(*r), on_error or self._log_error)

    def file_jobs(self, paths: Sequence[str | Path],
                  on_ready: Callable[[list[tuple[Path, list[Job], str]]], None]) -> None:
        """Inspect archives and make their jobs (with server dependencies), in the reads thread."""
        manager = self._manager
        paths = [Path(p) for p in paths]

        def task():
            out = []
            for path in paths:
                try:
                    out.append((path, _file_jobs(manager, path), ""))
                except ExtensionManagerError as exc:
                    out.append((path, [], str(exc)))
                except OSError as exc:
                    out.append((path, [], error_sentence(exc)))
            return out

        self.reads.submit(task, on_ready, self._log_error)

    # -- batches ----------------------------------------------------------------------------------------

    def _new_batch(self, kind: str, names: Iterable[str]) -> Batch:
        batch_id = next(self._batch_ids)
        relay = self._relay

        def listener(event: QueueEvent) -> None:  # called in the operations thread
            relay.event.emit(batch_id, event)

        return Batch(batch_id, kind, _Queue(listener), tuple(names), listener=listener)

    def start_install(self, jobs: Sequence[Job]) -> tuple[Batch, list[int]]:
        """Queue ``jobs`` as one batch; returns it and the job ids (for cancelling one)."""
        batch = self._new_batch("install", [j.name for j in jobs])
        ids = batch.queue.extend(jobs)
        manager, queue, listener = self._manager, batch.queue, batch.listener

        def run() -> list[JobResult]:
            batch.started = True
            if batch.cancelled:
                return queue.run()  # every job reports "cancelled"
            return manager.run_jobs([], listener=listener, queue=queue)

        self._submit_batch(batch, run)
        return batch, ids

    def start_update(self, names: Sequence[str], *, schedule: bool = False) -> Batch:
        """Update ``names`` (download + install now, or download for the next start)."""
        batch = self._new_batch("update", names)
        manager, queue = self._manager, batch.queue
        names = list(names)

        def run() -> list[JobResult]:
            batch.started = True
            if batch.cancelled:
                return [JobResult(n, Outcome.CANCELLED, f"Updating {n} was cancelled.") for n in names]
            report = manager.update(names, schedule=schedule, listener=batch.listener, queue=queue)
            return list(report.results)

        self._submit_batch(batch, run)
        return batch

    def _submit_batch(self, batch: Batch, run: Callable[[], list[JobResult]]) -> None:
        self._batches.append(batch)
        self._update_busy()
        self.batchSubmitted.emit(batch)
        self.ops.submit(run, lambda results: self._batch_done(batch, results, ""),
                        lambda error: self._batch_done(batch, [], error))

    def _batch_done(self, batch: Batch, results: list[JobResult], error: str) -> None:
        batch.results = list(results or [])
        batch.error = error
        batch.finished = True
        for r in batch.results:
            if r.outcome == Outcome.UPDATED:
                self._updated.add(r.name)
        if batch in self._batches:
            self._batches.remove(batch)
        if error:
            self.logMessage.emit(error)
        self.batchFinished.emit(batch)
        self.refresh_view()
        self._update_busy()

    @Slot(int, object)
    def _on_event(self, batch_id: int, event: QueueEvent) -> None:
        batch = next((b for b in self._batches if b.id == batch_id), None)
        if batch is None:
            return
        if event.kind == EventKind.ALL_FINISHED:
            batch.summary = event.message
        self.queueEvent.emit(batch, event)

    def cancel_job(self, batch: Batch, job_id: int) -> None:
        batch.queue.cancel(job_id)

    def cancel_all(self) -> None:
        for batch in list(self._batches):
            batch.queue.cancel_all()

    # -- operations (serialised with batches) -------------------------------------------------------

    def run_operation(self, fn: Callable[[Any], Any], on_done: Callable[[Any], None] | None = None,
                      on_error: Callable[[str], None] | None = None) -> None:
        """``fn(manager)`` in the operations thread; the view is refreshed afterwards."""
        manager = self._manager
        self._ops_running += 1
        self._update_busy()

        def finish() -> None:
            self._ops_running -= 1
            self.refresh_view()
            self._update_busy()

        def done(result: Any) -> None:
            finish()
            if on_done is not None:
                on_done(result)

        def failed(message: str) -> None:
            finish()
            (on_error or self.logMessage.emit)(message)

        self.ops.submit(lambda: fn(manager), done, failed)

    def run_read(self, fn: Callable[[Any], Any], on_done: Callable[[Any], None] | None = None,
                 on_error: Callable[[str], None] | None = None) -> None:
        """``fn(manager)`` in the reads thread (settings edits, queries)."""
        manager = self._manager
        self.reads.submit(lambda: fn(manager), on_done, on_error or self._log_error)

    def set_user_setting(self, key: str, value: Any) -> None:
        def edit(manager):
            with manager.context.user_settings.edit() as e:
                e.set_value(key, value)

        self.run_read(edit, lambda _: self.refresh_view())

    def set_startup_options(self, **options: bool) -> None:
        self.run_read(lambda m: m.set_startup_options(**options), lambda _: self.refresh_view())

    def set_server_url(self, url: str, on_done: Callable[[str], None] | None = None) -> None:
        """Write ``Extensions/ServerUrl`` (revision settings) and reload with a manager for it."""
        url = url.strip().rstrip("/")
        old = self._manager

        def task(manager):
            from ..manager import ExtensionsManager

            with manager.context.revision_settings.edit() as e:
                e.set_value(SERVER_URL_KEY, url)
            note = ""
            if manager.context.origins.get("server_url") not in (None, "Extensions/ServerUrl", "default"):
                note = (f"Note: the server URL of this session came from {manager.context.origins['server_url']}, "
                        "which takes precedence over the setting.")
            context = manager.context.with_changes(server_url=url)
            return ExtensionsManager(context, manager.server_options), note

        def done(result) -> None:
            new, note = result
            if self._manager is not old:
                return
            self._manager = new
            self._generation += 1
            self._shared = {"catalog": None, "error": ""}
            self._view = None
            self.managerChanged.emit(new)
            self.logMessage.emit(f"Server URL set to {url}." + (f" {note}" if note else ""))
            self.load()
            if on_done is not None:
                on_done(url)

        self.run_read(task, done)

    # -- shutdown ---------------------------------------------------------------------------------------

    def wait_idle(self, timeout: float | None = 60.0) -> bool:
        return wait_until(lambda: not self.busy, timeout)

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Cancel running work and stop both threads (waits for the running task to end)."""
        self.cancel_all()
        ok = self.ops.shutdown(timeout_ms)  # cancelled installs end within a chunk or two
        # A read (e.g. a catalog request to a slow server) cannot be interrupted: do not
        # block the GUI for it; its result is dropped and the thread ends on its own.
        self.reads.shutdown(timeout_ms, wait=False)
        self._batches.clear()
        self._ops_running = 0
        self._update_busy()
        return ok
