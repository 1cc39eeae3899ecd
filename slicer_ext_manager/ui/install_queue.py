"""What the Install tab does: list extensions with their dependencies, run them as
batches of the core's queue, follow their events, retry failures (the partial download
is continued), cancel, and report each session. Widgets live in :mod:`.install_tab`."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from PySide6.QtCore import QObject, QTimer, Signal

from ..queue import EventKind, Job, JobResult, Outcome, QueueEvent
from .list_model import Activity
from .plans import ask_dependencies, dependency_details, summary
from .queue_model import ItemState, JobKind, QueueItem, QueueModel, Rate, item_state_for
from .service import Batch, BatchKind, ExtensionsService

_keys = itertools.count(1)


class InstallQueueController(QObject):
    """The queue of installs and updates behind the Install tab."""

    #: All batches of a session are done: the result of every item of the session.
    sessionFinished = Signal(object)
    #: Items not finished (the tab title).
    countChanged = Signal(int)
    #: name -> Activity of every extension the queue is working on (or that failed).
    activityChanged = Signal(object)
    #: A line for the log.
    logged = Signal(str)
    #: Anything about the items changed (buttons, overall progress).
    changed = Signal()
    #: Only the progress of running items changed.
    progressed = Signal()

    def __init__(self, service: ExtensionsService, model: QueueModel, parent_widget=None, *,
                 auto_install_dependencies: Callable[[], bool] | None = None, interactive: bool = True):
        super().__init__(parent_widget)
        self.service = service
        self.model = model
        self.parent_widget = parent_widget
        self.interactive = interactive
        self._auto_deps = auto_install_dependencies or (lambda: True)
        self._batches: dict[int, Batch] = {}
        self.session: list[QueueItem] = []
        self._planning = 0
        self._start_after_planning = False
        self._activity_timer = QTimer(self)
        self._activity_timer.setSingleShot(True)
        self._activity_timer.setInterval(400)  # progress events come at ~20/s: the lists need far less
        self._activity_timer.timeout.connect(self._emit_activity)
        self._dirty: set[str] = set()
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(150)
        self._progress_timer.timeout.connect(self._flush_progress)
        # While a batch runs the lists are re-read at most this often (the activity shows the rest).
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(1500)
        self._refresh_timer.timeout.connect(service.refresh_view)
        service.queueEvent.connect(self._on_queue_event)
        service.batchSubmitted.connect(lambda batch: self._batches.__setitem__(batch.id, batch))
        service.batchFinished.connect(self._on_batch_finished)
        service.viewChanged.connect(lambda _view: self._emit_activity())
        model.rowsInserted.connect(self._items_changed)
        model.rowsRemoved.connect(self._items_changed)
        model.dataChanged.connect(lambda *_: self._activity_timer.isActive() or self._activity_timer.start())

    # -- state ----------------------------------------------------------------------------------------

    @property
    def items(self) -> list[QueueItem]:
        return self.model.items

    @property
    def planning(self) -> bool:
        return self._planning > 0

    def item(self, name: str) -> QueueItem | None:
        """The latest item for extension ``name``."""
        return next((it for it in reversed(self.model.items) if it.name == name), None)

    def is_queued(self, name: str) -> bool:
        """Pending, waiting or running (not finished)."""
        return any(it.name == name and not it.state.finished for it in self.model.items)

    def is_handled(self, name: str) -> bool:
        """Queued, or installed by this session (the state will say so at its next refresh)."""
        return any(it.name == name and (not it.state.finished or it.state == ItemState.DONE)
                   for it in self.model.items)

    def pending(self) -> list[QueueItem]:
        return [it for it in self.model.items if it.state == ItemState.PENDING and it.job is not None]

    def activity(self, installed: Callable[[str], bool] | None = None) -> dict[str, Activity]:
        """What the lists say over an extension's state line: its queue activity, and "done"
        until the next state shows it (``installed(name)``: the state already does)."""
        out: dict[str, Activity] = {}
        for it in self.model.items:  # later items win
            if not it.state.finished:
                out[it.name] = Activity(it.activity_text)
            elif it.state == ItemState.FAILED:
                out[it.name] = Activity(it.activity_text, failed=True)
            elif it.state == ItemState.DONE and installed is not None and not installed(it.name):
                out[it.name] = Activity(it.activity_text)
            else:
                out.pop(it.name, None)
        return out

    def log(self, text: str) -> None:
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        for line in str(text).splitlines() or [""]:
            self.logged.emit(f"{stamp}  {line}")

    def _emit_activity(self) -> None:
        view = self.service.view

        def shown(name: str) -> bool:
            state = view.state.get(name) if view is not None else None
            return state is not None and (state.pending_restart or state.scheduled_update)

        self.activityChanged.emit(self.activity(shown))

    def _items_changed(self, *_args) -> None:
        self.countChanged.emit(sum(1 for it in self.model.items if not it.state.finished))
        self._activity_timer.stop()
        self._emit_activity()  # states changed: the lists say so at once (progress is throttled)
        self.changed.emit()

    def _touch(self, item: QueueItem) -> None:
        self.model.changed(item)
        self._items_changed()

    # -- adding ---------------------------------------------------------------------------------------

    def add_names(self, names: Iterable[str], *, start: bool = False, with_dependencies: bool = True) -> None:
        """Resolve ``names`` with their dependencies (worker) and list them; ``start``: install at once."""
        names = [n for n in dict.fromkeys(names) if not self.is_queued(n)]
        if not names:
            if start:
                self.start()
            return
        self._begin_planning(start)
        self.service.plan_install(names, self._plan_ready, lambda message: self._plan_failed(names, message),
                                  with_dependencies=with_dependencies)

    def _begin_planning(self, start: bool) -> None:
        self._planning += 1
        self._start_after_planning = self._start_after_planning or start
        self.changed.emit()

    def _plan_failed(self, names: list[str], message: str) -> None:
        self._planning -= 1
        self.log(message)
        self.model.add([QueueItem(f"error{next(_keys)}", ", ".join(names), detail="could not be resolved",
                                  state=ItemState.FAILED, message=message, requested=tuple(names))])
        self._maybe_start()

    def _plan_ready(self, plan: Any, jobs: list[Job]) -> None:
        self._planning -= 1
        for name in plan.already_installed:
            self.log(f"Skip installation of {name} extension. It is already installed.")
        for name in plan.unknown:
            message = (f"The server has no extension named {name} for Slicer revision "
                       f"{self.service.manager.context.revision}.")
            self.log(message)
            self.model.add([QueueItem(f"unknown{next(_keys)}", name, state=ItemState.FAILED, message=message)])
        for warning in plan.warnings():
            self.log("Warning: " + warning)
        dropped: set[str] = set()
        if plan.dependencies and self.interactive and not self._auto_deps():
            dropped = ask_dependencies(plan, self.parent_widget, self.log)
        self._list_jobs(plan, [j for j in jobs if j.name not in dropped], dropped)
        self._maybe_start()

    def _list_jobs(self, plan: Any, jobs: list[Job], dropped: set[str]) -> None:
        metas = {m.name: m for m in plan.order}
        details = dependency_details(plan)
        added = []
        for job in jobs:
            reused = self._reusable(job.name)
            if reused is None and self.is_queued(job.name):
                continue
            meta = metas.get(job.name)
            item = reused or QueueItem(f"job{next(_keys)}", job.name, JobKind.INSTALL)
            item.detail = details.get(job.name, meta.category if meta else "")
            item.iconurl = meta.iconurl if meta else ""
            self._reset(item, job)
            if reused is None:
                added.append(item)
            else:
                self._touch(item)
        self.model.add(added)
        listed = [it.name for it in added]
        if listed:
            deps = [n for n in plan.dependencies if n not in dropped]
            self.log("Ready to install: " + ", ".join(listed) + (f" (dependencies: {', '.join(deps)})" if deps else ""))

    def _reusable(self, name: str) -> QueueItem | None:
        """A failed or cancelled item of ``name`` (Retry reuses its row)."""
        return next((it for it in self.model.items if it.name == name and it.state.retryable), None)

    @staticmethod
    def _reset(item: QueueItem, job: Job | None) -> None:
        item.job, item.job_id, item.batch_id = job, 0, 0
        item.state, item.message, item.result = ItemState.PENDING, "", None
        item.done, item.size, item.rate = 0, None, Rate()

    def add_files(self, paths: Iterable[str | Path], *, start: bool = True) -> None:
        """Inspect archives (worker) and list them with their dependencies from the server."""
        paths = [Path(p) for p in paths]
        if paths:
            self._begin_planning(start)
            self.service.file_jobs(paths, self._files_ready)

    def _files_ready(self, entries: list[tuple[Path, list[Job], str]]) -> None:
        self._planning -= 1
        added: list[QueueItem] = []
        for path, jobs, error in entries:
            if error:
                self.log(f"{path.name}: {error}")
                old = next((it for it in self.model.items if it.path == path and it.state.retryable), None)
                if old is not None:
                    old.state, old.message = ItemState.FAILED, error
                    self._touch(old)
                else:
                    added.append(QueueItem(f"file{next(_keys)}", path.name, JobKind.FILE, str(path),
                                           state=ItemState.FAILED, message=error, path=path))
                continue
            added += self._file_items(path, jobs, added)
        self.model.add(added)
        if added:
            self.log("Ready to install from file: " + ", ".join(it.name for it in added))
        self._maybe_start()

    def _file_items(self, path: Path, jobs: list[Job], added: list[QueueItem]) -> list[QueueItem]:
        new: list[QueueItem] = []
        for job in jobs:
            from_file = job is jobs[-1]
            reused = self._reusable(job.name) or next(
                (it for it in self.model.items if it.path == path and it.state.retryable), None)
            if reused is None and (self.is_queued(job.name) or any(it.name == job.name for it in added + new)):
                continue
            item = reused or QueueItem(f"file{next(_keys)}", job.name)
            item.name = job.name
            item.kind = JobKind.FILE if from_file else JobKind.INSTALL
            item.detail = f"from {path.name}" if from_file else f"required by {jobs[-1].name}"
            item.path = path if from_file else None
            self._reset(item, job)
            if reused is None:
                new.append(item)
            else:
                self._touch(item)
        return new

    def _maybe_start(self) -> None:
        if self._planning == 0 and self._start_after_planning:
            self._start_after_planning = False
            self.start()
        self.changed.emit()

    # -- running --------------------------------------------------------------------------------------

    def start(self) -> None:
        """Install every item listed as ready (one batch; more batches queue behind it)."""
        if self._planning:
            self._start_after_planning = True
            return
        pending = self.pending()
        if not pending:
            return
        if not self.service.busy:
            self.session = []
        batch, ids = self.service.start_install([it.job for it in pending if it.job is not None])
        for it, job_id in zip(pending, ids):
            it.job_id, it.batch_id, it.state = job_id, batch.id, ItemState.QUEUED
            self.model.changed(it)
        self.session.extend(it for it in pending if it not in self.session)
        self.log(f"Starting: {', '.join(it.name for it in pending)}")
        self._items_changed()

    def queue_updates(self, names: Sequence[str], *, schedule: bool = False) -> None:
        """Update installed extensions (now, or downloaded for the next start with ``schedule``)."""
        names = [n for n in dict.fromkeys(names) if not self.is_queued(n)]
        if not names:
            return
        if not self.service.busy:
            self.session = []
        batch = self.service.start_update(names, schedule=schedule)
        kind = JobKind.SCHEDULED_UPDATE if schedule else JobKind.UPDATE
        detail = "update for the next start of Slicer" if schedule else "update"
        items = []
        for name in names:
            item = self._reusable(name) or QueueItem(f"update{next(_keys)}", name, kind, detail)
            self._reset(item, None)
            item.kind, item.detail, item.batch_id, item.state = kind, detail, batch.id, ItemState.QUEUED
            items.append(item)
        self.model.add([it for it in items if self.model.row_of(it) < 0])
        for it in items:
            self.model.changed(it)
        self.session.extend(it for it in items if it not in self.session)
        self.log(("Downloading updates for the next start: " if schedule else "Updating: ") + ", ".join(names))
        self._items_changed()

    def retry(self, items: Iterable[QueueItem]) -> None:
        """Run failed or cancelled items again in their own rows (downloads continue)."""
        items = [it for it in items if it.state.retryable]
        resolving = [it for it in items if it.requested]  # the plan itself had failed
        self.model.remove_where(lambda it: it in resolving)
        installs = [n for it in items if it.kind == JobKind.INSTALL for n in (it.requested or (it.name,))]
        files = [it.path for it in items if it.kind == JobKind.FILE and it.path is not None]
        for it in items:
            self.log(f"Retrying {it.name}…")
        if installs:
            self.add_names(installs, start=True)
        if files:
            self.add_files(files, start=True)
        for schedule, kind in ((False, JobKind.UPDATE), (True, JobKind.SCHEDULED_UPDATE)):
            names = [it.name for it in items if it.kind == kind]
            if names:
                self.queue_updates(names, schedule=schedule)

    def cancel_item(self, item: QueueItem) -> None:
        if item.state == ItemState.PENDING:
            self.model.remove_where(lambda it: it is item)
            self.log(f"Removed {item.name} from the list.")
            return
        if not item.state.active:
            return
        batch = self._batches.get(item.batch_id)
        if batch is None:
            return
        job_id = item.job_id or next((j.id for j in batch.queue.jobs if j.name == item.name), 0)
        if job_id:
            self.service.cancel_job(batch, job_id)
        elif len(batch.names) <= 1:
            batch.queue.cancel_all()
        item.message = "Cancelling…"
        self.model.changed(item)
        self.log(f"Cancelling {item.name}…")

    def cancel_name(self, name: str) -> bool:
        item = next((it for it in self.model.items if it.name == name and it.state.active), None)
        if item is not None:
            self.cancel_item(item)
        return item is not None

    def cancel_all(self) -> None:
        """Cancel everything waiting or running; items not started are marked cancelled."""
        for it in self.model.items:
            if it.state == ItemState.PENDING:
                it.state, it.message = ItemState.CANCELLED, f"Installing {it.name} was cancelled."
                self.model.changed(it)
        if self.service.busy:
            self.log("Cancelling all operations…")
        self.service.cancel_all()
        self._items_changed()

    def clear_finished(self) -> None:
        removed = self.model.remove_where(lambda it: it.state.finished)
        self.session = [it for it in self.session if not it.state.finished]
        self.service.discard_partial_downloads([it.name for it in removed if it.state.retryable])
        self.changed.emit()

    def discard_partial_downloads(self) -> None:
        """Forget what failed or cancelled items downloaded (the dialog is closing)."""
        self.service.discard_partial_downloads([it.name for it in self.model.items if it.state.retryable])

    # -- events ---------------------------------------------------------------------------------------

    def _on_queue_event(self, batch: Batch, event: QueueEvent) -> None:
        kind = event.kind
        if kind == EventKind.ALL_FINISHED or (kind == EventKind.MESSAGE and not event.name):
            if event.message:
                self.log(event.message)
            return
        item = self.model.item_for_job(event.job_id, event.name, batch.id)
        if item is None and kind == EventKind.STARTED:  # an update batch's own job
            item = self._reusable(event.name) or QueueItem(f"job{next(_keys)}", event.name, JobKind.UPDATE)
            item.batch_id, item.state = batch.id, ItemState.QUEUED
            if self.model.row_of(item) < 0:
                self.model.add([item])
            if item not in self.session:
                self.session.append(item)
        if item is None:
            if event.message:
                self.log(event.message)
            return
        self._apply_event(batch, item, event)
        if kind == EventKind.PROGRESS:
            # Bytes only: the row and the overall line are redrawn a few times a second; the
            # buttons and the toolbar do not change (every Python call costs the GIL's wait
            # while a worker extracts).
            self._dirty.add(item.key)
            if not self._progress_timer.isActive():
                self._progress_timer.start()
            return
        self.model.changed(item)
        self.changed.emit()

    def _flush_progress(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for it in self.model.items:
            if it.key in dirty:
                self.model.changed(it)
        self.progressed.emit()

    def _apply_event(self, batch: Batch, item: QueueItem, event: QueueEvent) -> None:
        kind = event.kind
        if kind == EventKind.STARTED:
            item.job_id, item.state, item.message = event.job_id, ItemState.RUNNING, ""
            item.progress(event.phase, 0, None)
            verb = "Installing" if batch.kind == BatchKind.INSTALL else "Updating"
            self.log(f"{verb} {event.name} ({event.index}/{event.total})")
        elif kind == EventKind.PHASE:
            item.progress(event.phase, 0, None)
            if event.message:
                self.log(event.message)
        elif kind == EventKind.PROGRESS:
            item.progress(event.phase, event.done, event.size)
        elif kind == EventKind.FINISHED and event.result is not None:
            self._set_result(item, event.result)
            if event.result.outcome.ok and not self._refresh_timer.isActive():
                self._refresh_timer.start()  # the lists show it installed soon, not per item of a long batch
        elif kind == EventKind.MESSAGE and event.message:
            self.log(f"{event.name}: {event.message}")

    def _set_result(self, item: QueueItem, result: JobResult) -> None:
        item.result = result
        item.state = item_state_for(result.outcome)
        item.message = result.message
        item.done = item.size or item.done
        if result.outcome.ok:
            self.log(result.message)
        else:
            self.log(f"{'Cancelled' if result.outcome == Outcome.CANCELLED else 'Failed'}: {result.message}")
        for warning in result.warnings:
            self.log("Warning: " + warning)
            item.message += f" (Warning: {warning})"
        self._items_changed()

    def _on_batch_finished(self, batch: Batch) -> None:
        self._batches.pop(batch.id, None)
        results = {r.name: r for r in batch.results}
        for it in self.model.items:
            if it.batch_id != batch.id or it.state.finished:
                continue
            if it.name in results:
                self._set_result(it, results[it.name])
            elif batch.error:
                it.state, it.message = ItemState.FAILED, batch.error
                self.log(f"Failed: {it.name}: {batch.error}")
            else:
                it.state, it.message = ItemState.CANCELLED, f"{it.name} was not processed."
            self.model.changed(it)
        if batch.kind == BatchKind.UPDATE:
            self._add_update_results(batch)
        if not self.service.busy and not self._planning:
            results_all = [it.result for it in self.session if it.result is not None]
            self.log(f"Finished: {summary(results_all)}." if results_all else "Finished.")
            self.sessionFinished.emit(results_all)
        self._items_changed()

    def _add_update_results(self, batch: Batch) -> None:
        """Results of an update batch for names it never started (up to date, not installed)."""
        known = {it.name for it in self.model.items if it.batch_id == batch.id}
        for r in batch.results:
            if r.name not in known:
                item = QueueItem(f"update{next(_keys)}", r.name, JobKind.UPDATE, "update", batch_id=batch.id)
                self._set_result(item, r)
                self.model.add([item])
                self.session.append(item)
