"""``ExtensionsService``: the widgets' access to an
:class:`~slicer_ext_manager.manager.ExtensionsManager`; every call returns at once.

Two worker threads: *reads* (catalog, the profile state, plans, settings) and
*operations* (install queues, uninstall, enable… — one at a time, since they lock the
install folder). What the views show is the manager's
:class:`~slicer_ext_manager.state.ProfileState`, with rows built from it in the reads
thread (:class:`ViewData`); the core's :class:`~slicer_ext_manager.queue.InstallQueue`
listener re-emits every :class:`~slicer_ext_manager.queue.QueueEvent` as a Qt signal.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from PySide6.QtCore import QObject, Signal, Slot

from ..catalog import Catalog
from ..errors import ExtensionManagerError
from ..queue import EventKind, InstallQueue, Job, JobResult, QueueEvent
from ..state import Option, ProfileState
from .rows import CatalogStatus, ExtensionRow, ListRow, RowMaker, build_rows
from .threads import WorkerThread, error_sentence, wait_until

__all__ = ["Batch", "BatchKind", "ExtensionsService", "ViewData"]


@dataclass(frozen=True)
class ViewData:
    """One snapshot of what the views show (made in the reads thread)."""

    state: ProfileState
    catalog: Catalog | None
    catalog_error: str
    loading: bool
    search_rows: tuple[ExtensionRow, ...]
    installed_rows: tuple[ListRow, ...]

    @property
    def categories(self) -> list[str]:
        return self.catalog.categories() if self.catalog is not None else []

    @property
    def installed_count(self) -> int:
        return len(self.state.installed)

    @property
    def updates(self) -> list[str]:
        return [s.name for s in self.state.updates]

    @property
    def installable_bookmarks(self) -> list[str]:
        return [s.name for s in self.state.installable_bookmarks]

    @property
    def offline(self) -> bool:
        return self.catalog is not None and self.catalog.stale

    @property
    def status_text(self) -> str:
        """The banner: offline, failed, or an empty catalog; "" when all is well."""
        if self.catalog is not None and (self.catalog.offline_reason or self.catalog.is_empty):
            return self.catalog.status_text()
        if self.catalog is None and self.catalog_error:
            return self.catalog_error
        return ""


def build_view(manager: Any, catalog: Catalog | None, error: str, loading: bool,
               maker: RowMaker | None = None) -> ViewData:
    """The view of the profile now (reads thread)."""
    state = manager.state(catalog)
    status = (CatalogStatus.LOADED if catalog is not None else
              CatalogStatus.LOADING if loading else CatalogStatus.UNAVAILABLE)
    search, installed = build_rows(state, status, maker)
    return ViewData(state, catalog, error, loading, search, installed)


class BatchKind(str, enum.Enum):
    INSTALL = "install"
    UPDATE = "update"


@dataclass(eq=False)
class Batch:
    """One run of the core's queue in the operations thread."""

    id: int
    kind: BatchKind
    queue: InstallQueue
    names: tuple[str, ...] = ()
    results: list[JobResult] = field(default_factory=list)
    error: str = ""
    finished: bool = False
    summary: str = ""
    cancel_requested: bool = False
    listener: Callable[[QueueEvent], None] | None = field(default=None, repr=False)

    @property
    def restart_required(self) -> bool:
        return any(r.restart_required for r in self.results)


class _EventRelay(QObject):
    """Listener calls happen in the operations thread; this signal queues them to the GUI."""

    queue_event = Signal(int, object)


def _file_jobs(manager: Any, path: Path) -> list[Job]:
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
    #: The server URL changed (the catalog is reloaded).
    serverChanged = Signal(str)

    def __init__(self, manager: Any, parent: QObject | None = None):
        super().__init__(parent)
        self._manager = manager
        self.reads = WorkerThread("extensions-reads", self)
        self.ops = WorkerThread("extensions-operations", self)
        # Owned by the reads thread once loading starts (only read and written there).
        self._catalog: Catalog | None = None
        self._catalog_error = ""
        self._rows = RowMaker()
        self._built: ViewData | None = None  # the last view made (reads thread)
        self._view: ViewData | None = None
        self._batches: list[Batch] = []
        self._ops_running = 0
        self._batch_ids = itertools.count(1)
        self._relay = _EventRelay()
        self._relay.queue_event.connect(self._on_event)
        self._busy = False
        self._loading = 0
        # What the running Slicer loaded is taken before anything can change (reads thread).
        self.reads.submit(manager.loaded_set)

    # -- properties -----------------------------------------------------------------------------------

    @property
    def manager(self) -> Any:
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

    def _build(self, loading: bool) -> ViewData:
        self._built = build_view(self._manager, self._catalog, self._catalog_error, loading, self._rows)
        return self._built

    def _cached_view(self) -> ViewData:
        if self._catalog is None:
            self._catalog = self._manager.cached_catalog()
        return self._build(True)

    def _fetched_view(self, refresh: bool) -> ViewData:
        before, built = self._catalog, self._built
        try:
            self._catalog = self._manager.catalog(refresh=refresh)
            self._catalog_error = ""
        except ExtensionManagerError as exc:
            self._catalog_error = str(exc)
            if self._catalog is None:
                self._catalog = self._manager.cached_catalog()
        if built is not None and self._catalog is before and before is not None and not self._catalog_error:
            # The fresh cache shown a moment ago is the catalog: nothing to build again.
            self._built = dataclasses.replace(built, loading=False)
            return self._built
        return self._build(False)

    def _state_view(self) -> ViewData:
        return self._build(self._loading > 0)

    def load(self, *, refresh: bool = False) -> None:
        """Show the cached catalog at once, then the catalog from the server (or the fresh
        cache) — both from the reads thread. ``refresh``: ask the server even if fresh."""
        self._loading += 1
        if self._view is None:
            self.reads.submit(self._cached_view, self._accept_view, self.logMessage.emit)
        self.reads.submit(lambda: self._fetched_view(refresh), self._accept_final, self._load_failed)

    def refresh_view(self) -> None:
        """Re-read the profile state (no request)."""
        self.reads.submit(self._state_view, self._accept_view, self.logMessage.emit)

    def _accept_final(self, view: ViewData) -> None:
        self._loading = max(0, self._loading - 1)
        self._accept_view(view)

    def _accept_view(self, view: ViewData) -> None:
        if self.loading and not view.loading:  # another load is still on its way
            view = ViewData(view.state, view.catalog, view.catalog_error, True, view.search_rows,
                            view.installed_rows)
        self._view = view
        self.viewChanged.emit(view)

    def _load_failed(self, message: str) -> None:
        self._loading = max(0, self._loading - 1)
        self.logMessage.emit(message)

    def load_restore_plan(self, *, refresh: bool = False) -> None:
        manager = self._manager
        self.reads.submit(lambda: manager.restore_plan(refresh=refresh), self.restorePlanChanged.emit,
                          self.restorePlanFailed.emit)

    # -- planning ---------------------------------------------------------------------------------------

    def plan_install(self, names: Sequence[str], on_ready: Callable[[Any, list[Job]], None],
                     on_error: Callable[[str], None] | None = None, *, with_dependencies: bool = True) -> None:
        """Resolve ``names`` (dependencies first) and make their resumable jobs, in the reads thread."""
        manager = self._manager
        names = list(names)

        def task() -> tuple[Any, list[Job]]:
            plan = manager.plan_install(names, with_dependencies=with_dependencies)
            return plan, manager.install_jobs(plan, resumable=True)

        self.reads.submit(task, lambda r: on_ready(*r), on_error or self.logMessage.emit)

    def file_jobs(self, paths: Sequence[str | Path],
                  on_ready: Callable[[list[tuple[Path, list[Job], str]]], None]) -> None:
        """Inspect archives and make their jobs (with server dependencies), in the reads thread."""
        manager = self._manager
        files = [Path(p) for p in paths]

        def task() -> list[tuple[Path, list[Job], str]]:
            out = []
            for path in files:
                try:
                    out.append((path, _file_jobs(manager, path), ""))
                except (ExtensionManagerError, OSError) as exc:
                    out.append((path, [], error_sentence(exc)))
            return out

        self.reads.submit(task, on_ready, self.logMessage.emit)

    # -- batches ----------------------------------------------------------------------------------------

    def _new_batch(self, kind: BatchKind, names: Iterable[str]) -> Batch:
        batch_id = next(self._batch_ids)
        relay = self._relay

        def listener(event: QueueEvent) -> None:  # called in the operations thread
            relay.queue_event.emit(batch_id, event)

        return Batch(batch_id, kind, InstallQueue(), tuple(names), listener=listener)

    def start_install(self, jobs: Sequence[Job]) -> tuple[Batch, list[int]]:
        """Queue ``jobs`` as one batch; returns it and the job ids (for cancelling one)."""
        batch = self._new_batch(BatchKind.INSTALL, [j.name for j in jobs])
        ids = batch.queue.extend(jobs)
        manager, queue, listener = self._manager, batch.queue, batch.listener
        self._submit_batch(batch, lambda: manager.run_jobs([], listener=listener, queue=queue))
        return batch, ids

    def start_update(self, names: Sequence[str], *, schedule: bool = False) -> Batch:
        """Update ``names`` (download + install now, or download for the next start)."""
        batch = self._new_batch(BatchKind.UPDATE, names)
        manager, queue, listener, names = self._manager, batch.queue, batch.listener, list(names)

        def run() -> list[JobResult]:
            report = manager.update(names, schedule=schedule, listener=listener, queue=queue, resumable=True)
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
            batch.cancel_requested = True
            batch.queue.cancel_all()  # also covers jobs the batch adds later (updates)

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
                 on_error: Callable[[str], None] | None = None, *, refresh: bool = True) -> None:
        """``fn(manager)`` in the reads thread (settings edits, queries); ``refresh``: then
        re-read the state (the edit is then visible in the next view)."""
        manager = self._manager

        def done(result: Any) -> None:
            if refresh:
                self.refresh_view()
            if on_done is not None:
                on_done(result)

        self.reads.submit(lambda: fn(manager), done, on_error or self.logMessage.emit)

    def set_option(self, option: Option, value: bool) -> None:
        self.run_read(lambda m: m.set_option(option, value))

    def set_bookmarked(self, names: Sequence[str], bookmarked: bool,
                       on_done: Callable[[list[str]], None] | None = None) -> None:
        names = list(names)
        self.run_read(lambda m: m.history.set_bookmarks_state(names, bookmarked), on_done)

    def set_bookmarks(self, names: Sequence[str], on_done: Callable[[Any], None] | None = None) -> None:
        names = list(names)
        self.run_read(lambda m: m.history.set_bookmarks(names), on_done)

    def set_server_url(self, url: str, on_done: Callable[[str], None] | None = None,
                       on_error: Callable[[str], None] | None = None) -> None:
        """Validate and write ``Extensions/ServerUrl`` (the manager's own rule), then reload."""

        def done(stored: str) -> None:
            self._catalog_reset()
            self.serverChanged.emit(stored)
            self.logMessage.emit(f"Server URL set to {stored}.")
            self.load()
            if on_done is not None:
                on_done(stored)

        self.run_read(lambda m: m.set_server_url(url), done, on_error, refresh=False)

    def _catalog_reset(self) -> None:
        def clear() -> None:  # in the reads thread, which owns the catalog
            self._catalog, self._catalog_error, self._built = None, "", None

        self.reads.submit(clear)

    def discard_partial_downloads(self, names: Sequence[str]) -> None:
        names = list(names)
        if names:
            self.run_operation(lambda m: m.discard_partial_downloads(names))

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
