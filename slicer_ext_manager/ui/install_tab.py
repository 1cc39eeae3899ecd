"""Install tab: the queue. Items are shown with their dependencies resolved before
anything starts; each has its own progress and result; one failure never stops the
rest; cancel one or all; a copyable log; install from file into the same queue."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Callable, Iterable, Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..queue import EventKind, Job, JobResult, Outcome, QueueEvent
from . import prompts
from .delegates import QueueDelegate
from .models import ROW_ROLE, ExtensionFilterProxy, ItemState, QueueItem, QueueModel, item_state_for
from .worker import Batch, ExtensionsService

_keys = itertools.count(1)


def _summary(results: Sequence[JobResult]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        word = {Outcome.INSTALLED: "installed", Outcome.UPDATED: "updated", Outcome.SCHEDULED: "scheduled",
                Outcome.SKIPPED: "skipped", Outcome.CANCELLED: "cancelled", Outcome.UNINSTALLED: "uninstalled"}.get(
            r.outcome, "failed")
        counts[word] = counts.get(word, 0) + 1
    return ", ".join(f"{n} {w}" for w, n in counts.items()) or "nothing to do"


class InstallTab(QWidget):
    """The queue of installs and updates."""

    #: All batches of a session are done (the results of every item of the session).
    sessionFinished = Signal(object)
    #: Number of items not finished (for the tab title).
    countChanged = Signal(int)
    #: The user wants to see this tab (e.g. "Install now" elsewhere).
    showRequested = Signal()

    def __init__(self, service: ExtensionsService, icons, parent: QWidget | None = None, *,
                 auto_install_dependencies: Callable[[], bool] | None = None, interactive: bool = True):
        super().__init__(parent)
        self.service = service
        self.interactive = interactive
        self._auto_deps = auto_install_dependencies or (lambda: True)
        self._batches: dict[int, Batch] = {}
        self._session: list[QueueItem] = []
        self._planning = 0
        self._start_after_planning = False

        self.model = QueueModel(icons, self)
        self.proxy = ExtensionFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.overall_label = QLabel("Nothing to install yet.", self)
        self.overall_label.setAccessibleName("Overall progress")
        self.overall_label.setWordWrap(True)
        self.overall_bar = QProgressBar(self)
        self.overall_bar.setAccessibleName("Overall progress bar")
        self.overall_bar.setRange(0, 1000)
        self.overall_bar.setTextVisible(True)
        self.overall_bar.setFormat("")
        self.overall_bar.setMaximumWidth(260)
        self.overall_bar.setVisible(False)

        self.view = QListView(self)
        self.view.setObjectName("installList")
        self.view.setAccessibleName("Install queue")
        self.view.setModel(self.proxy)
        self.view.setItemDelegate(QueueDelegate(self.view))
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setIconSize(QSize(32, 32))
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

        self.empty_label = QLabel(
            "The extensions you add from the Search, Restore or Installed tabs, or with "
            "“Install from file…”, appear here with their dependencies before anything is installed.", self)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setMargin(24)
        self.list_stack = QStackedWidget(self)
        self.list_stack.addWidget(self.view)
        self.list_stack.addWidget(self.empty_label)
        self.list_stack.setCurrentWidget(self.empty_label)

        self.start_button = QPushButton("&Install", self)
        self.start_button.setToolTip("Install the extensions listed as ready")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("&Cancel", self)
        self.cancel_button.setToolTip("Cancel the selected items (remove them if they have not started)")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.cancel_all_button = QPushButton("Cancel a&ll", self)
        self.cancel_all_button.setToolTip("Cancel every item that is waiting or running")
        self.cancel_all_button.clicked.connect(self.cancel_all)
        self.clear_button = QPushButton("Clear &finished", self)
        self.clear_button.setToolTip("Remove finished items from the list")
        self.clear_button.clicked.connect(self.clear_finished)
        self.file_button = QPushButton("Install from &file…", self)
        self.file_button.setToolTip("Install extension packages (.zip, .tar.gz…) from disk")
        self.file_button.clicked.connect(self.choose_files)

        self.log_view = QPlainTextEdit(self)
        self.log_view.setObjectName("installLog")
        self.log_view.setAccessibleName("Install log")
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.log_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log_view.setPlaceholderText("Messages of the installs appear here.")
        self.copy_button = QPushButton("Cop&y log", self)
        self.copy_button.setToolTip("Copy the whole log to the clipboard")
        self.copy_button.clicked.connect(self.copy_log)

        top = QHBoxLayout()
        top.addWidget(self.overall_label, 1)
        top.addWidget(self.overall_bar)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.cancel_all_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        buttons.addWidget(self.file_button)

        queue_box = QWidget(self)
        ql = QVBoxLayout(queue_box)
        ql.setContentsMargins(0, 0, 0, 0)
        ql.addLayout(top)
        ql.addWidget(self.list_stack, 1)
        ql.addLayout(buttons)

        log_box = QWidget(self)
        ll = QVBoxLayout(log_box)
        ll.setContentsMargins(0, 0, 0, 0)
        log_header = QHBoxLayout()
        log_title = QLabel("&Log", self)
        log_title.setBuddy(self.log_view)
        log_header.addWidget(log_title)
        log_header.addStretch(1)
        log_header.addWidget(self.copy_button)
        ll.addLayout(log_header)
        ll.addWidget(self.log_view, 1)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(queue_box)
        splitter.addWidget(log_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([420, 160])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(splitter)

        QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.view, activated=self.cancel_selected)

        service.queueEvent.connect(self._on_queue_event)
        service.batchSubmitted.connect(self._on_batch_submitted)
        service.batchFinished.connect(self._on_batch_finished)
        service.busyChanged.connect(lambda _b: self._update_buttons())
        self.model.rowsInserted.connect(lambda *_: self._items_changed())
        self.model.rowsRemoved.connect(lambda *_: self._items_changed())
        self._update_buttons()

    # -- public API -------------------------------------------------------------------------------

    @property
    def items(self) -> list[QueueItem]:
        return self.model.items

    def item(self, name: str) -> QueueItem | None:
        """The latest item for extension ``name``."""
        found = [it for it in self.model.items if it.name == name]
        return found[-1] if found else None

    def is_queued(self, name: str) -> bool:
        """Pending, waiting or running (not finished)."""
        return any(it.name == name and not it.state.finished for it in self.model.items)

    @property
    def planning(self) -> bool:
        return self._planning > 0

    def log(self, text: str) -> None:
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        for line in str(text).splitlines() or [""]:
            self.log_view.appendPlainText(f"{stamp}  {line}")

    def log_text(self) -> str:
        return self.log_view.toPlainText()

    def copy_log(self) -> None:
        QGuiApplication.clipboard().setText(self.log_text())

    def set_filter_text(self, text: str) -> None:
        self.proxy.set_text(text)

    # -- adding ------------------------------------------------------------------------------------

    def add_names(self, names: Iterable[str], *, start: bool = False, with_dependencies: bool = True) -> None:
        """Resolve ``names`` with their dependencies (worker) and list them; ``start`` installs at once."""
        names = [n for n in dict.fromkeys(names) if not self.is_queued(n)]
        if not names:
            if start:
                self.start()
            return
        self._planning += 1
        self._start_after_planning = self._start_after_planning or start
        self._update_overall()
        self.service.plan_install(names, lambda plan, jobs: self._plan_ready(plan, jobs),
                                  self._plan_failed, with_dependencies=with_dependencies)

    def _plan_failed(self, message: str) -> None:
        self._planning -= 1
        self.log(message)
        self.model.add([QueueItem(f"error{next(_keys)}", "Resolving extensions", state=ItemState.FAILED,
                                  message=message)])
        self._maybe_start()

    def _plan_ready(self, plan, jobs: list[Job]) -> None:
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
        metas = {m.name: m for m in plan.order}
        dropped: set[str] = set()
        if plan.dependencies and self.interactive and not self._auto_deps():
            dropped = self._ask_dependencies(plan)
        required_by: dict[str, list[str]] = {}
        for m in plan.order:
            for dep in m.depends:
                if dep in metas:
                    required_by.setdefault(dep, []).append(m.name)
        items = []
        for job in jobs:
            if job.name in dropped or self.is_queued(job.name):
                continue
            meta = metas.get(job.name)
            detail = meta.category if meta else ""
            if job.name in plan.dependencies:
                detail = "required by " + ", ".join(required_by.get(job.name, [])) if required_by.get(job.name) else "dependency"
            items.append(QueueItem(f"job{next(_keys)}", job.name, "install", detail, job,
                                   iconurl=meta.iconurl if meta else "", category=meta.category if meta else ""))
        if items:
            self.model.add(items)
            self.log("Ready to install: " + ", ".join(it.name for it in items)
                     + (f" (dependencies: {', '.join(n for n in plan.dependencies if n not in dropped)})"
                        if [n for n in plan.dependencies if n not in dropped] else ""))
        self._maybe_start()

    def _ask_dependencies(self, plan) -> set[str]:
        """Slicer's question per requested extension; returns the dependencies refused."""
        metas = {m.name: m for m in plan.order}
        deps = set(plan.dependencies)

        def closure(name: str) -> list[str]:
            out: list[str] = []
            stack = list(metas[name].depends) if name in metas else []
            while stack:
                d = stack.pop(0)
                if d in deps and d not in out:
                    out.append(d)
                    stack.extend(metas[d].depends if d in metas else ())
            return out

        accepted: set[str] = set()
        refused: set[str] = set()
        for name in plan.requested:
            needed = closure(name)
            if not needed:
                continue
            if prompts.ask_install_dependencies(self, name, needed):
                accepted.update(needed)
            else:
                refused.update(needed)
                self.log(f"{name} extension requires extensions {', '.join(needed)} but the user chose not "
                         "to install them.")
        return refused - accepted

    def add_files(self, paths: Iterable[str | Path], *, start: bool = False) -> None:
        """Inspect archives (worker) and list them with their dependencies from the server."""
        paths = [Path(p) for p in paths]
        if not paths:
            return
        self._planning += 1
        self._start_after_planning = self._start_after_planning or start
        self._update_overall()
        self.service.file_jobs(paths, self._files_ready)

    def _files_ready(self, entries) -> None:
        self._planning -= 1
        items = []
        for path, jobs, error in entries:
            if error:
                self.log(f"{path.name}: {error}")
                items.append(QueueItem(f"file{next(_keys)}", path.name, "file", str(path), state=ItemState.FAILED,
                                       message=error))
                continue
            for job in jobs:
                if self.is_queued(job.name) or any(it.name == job.name for it in items):
                    continue
                from_file = job is jobs[-1]
                items.append(QueueItem(f"file{next(_keys)}", job.name, "file" if from_file else "install",
                                       f"from {path.name}" if from_file else f"required by {jobs[-1].name}", job))
        if items:
            self.model.add(items)
            self.log("Ready to install from file: " + ", ".join(it.name for it in items))
        self._maybe_start()

    def choose_files(self) -> None:
        files = prompts.get_archive_files(self)
        if files:
            self.add_files(files)

    def _maybe_start(self) -> None:
        if self._planning == 0 and self._start_after_planning:
            self._start_after_planning = False
            self.start()
        self._update_buttons()
        self._update_overall()

    # -- running -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Install every item listed as ready (one batch; more batches queue behind it)."""
        if self._planning:
            self._start_after_planning = True
            return
        pending = [it for it in self.model.items if it.state == ItemState.PENDING and it.job is not None]
        if not pending:
            return
        if not self.service.busy:
            self._session = []
        batch, ids = self.service.start_install([it.job for it in pending])
        for it, job_id in zip(pending, ids):
            it.job_id, it.batch_id, it.state = job_id, batch.id, ItemState.QUEUED
            self.model.changed(it)
        self._session.extend(pending)
        self.log(f"Starting: {', '.join(it.name for it in pending)}")
        self._update_buttons()
        self._update_overall()

    def queue_updates(self, names: Sequence[str], *, schedule: bool = False) -> None:
        """Update installed extensions (now, or downloaded for the next start with ``schedule``)."""
        names = [n for n in dict.fromkeys(names) if not self.is_queued(n)]
        if not names:
            return
        if not self.service.busy:
            self._session = []
        batch = self.service.start_update(names, schedule=schedule)
        items = [QueueItem(f"update{next(_keys)}", n, "update",
                           "update for the next start" if schedule else "update", batch_id=batch.id,
                           state=ItemState.QUEUED) for n in names]
        self.model.add(items)
        self._session.extend(items)
        self.log(("Downloading updates for the next start: " if schedule else "Updating: ") + ", ".join(names))
        self._update_overall()

    def cancel_item(self, item: QueueItem) -> None:
        if item.state == ItemState.PENDING:
            self.model.remove(item)
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
        self.log(f"Cancelling {item.name}…")

    def cancel_name(self, name: str) -> bool:
        item = next((it for it in self.model.items if it.name == name and it.state.active), None)
        if item is None:
            return False
        self.cancel_item(item)
        return True

    def cancel_selected(self) -> None:
        for item in self._selected_items():
            self.cancel_item(item)
        self._update_buttons()

    def cancel_all(self) -> None:
        """Cancel everything waiting or running; items not started are marked cancelled."""
        for it in self.model.items:
            if it.state == ItemState.PENDING:
                it.state, it.message = ItemState.CANCELLED, f"Installing {it.name} was cancelled."
                self.model.changed(it)
        if self.service.busy:
            self.log("Cancelling all operations…")
        self.service.cancel_all()
        self._update_buttons()
        self._items_changed()

    def clear_finished(self) -> None:
        self.model.remove_where(lambda it: it.state.finished)
        self._session = [it for it in self._session if not it.state.finished]
        self._update_overall()

    def _selected_items(self) -> list[QueueItem]:
        items = [i.data(ROW_ROLE) for i in self.view.selectionModel().selectedIndexes()]
        return [it for it in items if it is not None]

    # -- events --------------------------------------------------------------------------------------

    def _on_batch_submitted(self, batch: Batch) -> None:
        self._batches[batch.id] = batch

    def _on_queue_event(self, batch: Batch, event: QueueEvent) -> None:
        kind = event.kind
        if kind == EventKind.ALL_FINISHED:
            if event.message:
                self.log(event.message)
            return
        if kind == EventKind.MESSAGE and not event.name:
            self.log(event.message)
            return
        item = self.model.item_for_job(event.job_id, event.name, batch.id)
        if item is None and kind == EventKind.STARTED:
            item = QueueItem(f"job{next(_keys)}", event.name, batch.kind, "", batch_id=batch.id,
                             job_id=event.job_id, state=ItemState.QUEUED)
            self.model.add([item])
            self._session.append(item)
        if item is None:
            if event.message:
                self.log(event.message)
            return
        if kind == EventKind.STARTED:
            item.job_id = event.job_id
            item.state = ItemState.RUNNING
            item.phase = event.phase
            item.done, item.size = 0, None
            self.log(event.status_text if batch.kind == "install" else
                     f"Updating {event.name} ({event.index}/{event.total})")
        elif kind == EventKind.PHASE:
            item.phase = event.phase
            item.done, item.size = 0, None
            if event.message:
                self.log(event.message)
        elif kind == EventKind.PROGRESS:
            item.phase, item.done, item.size = event.phase, event.done, event.size
        elif kind == EventKind.FINISHED and event.result is not None:
            self._set_result(item, event.result)
        elif kind == EventKind.MESSAGE and event.message:
            self.log(f"{event.name}: {event.message}")
        self.model.changed(item)
        self._update_overall()

    def _set_result(self, item: QueueItem, result: JobResult) -> None:
        item.result = result
        item.state = item_state_for(result.outcome)
        item.message = result.message
        item.done = item.size or item.done
        self.log(result.message if result.outcome.ok else f"{'Cancelled' if result.outcome == Outcome.CANCELLED else 'Failed'}: {result.message}")
        for warning in result.warnings:
            self.log("Warning: " + warning)
            item.message += f" (Warning: {warning})"

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
        if batch.kind == "update":
            known = {it.name for it in self.model.items if it.batch_id == batch.id}
            for r in batch.results:
                if r.name not in known:
                    item = QueueItem(f"update{next(_keys)}", r.name, "update", "update", batch_id=batch.id)
                    self._set_result(item, r)
                    self.model.add([item])
                    self._session.append(item)
        if not self.service.busy and not self._planning:
            results_all = [it.result for it in self._session if it.result is not None]
            failed = [it for it in self._session if it.state == ItemState.FAILED]
            self.log(f"Finished: {_summary(results_all)}." if results_all else "Finished.")
            self._update_overall(final=True, failed=len(failed))
            self.sessionFinished.emit(results_all)
        self._update_buttons()

    # -- display ------------------------------------------------------------------------------------------

    def _items_changed(self) -> None:
        self.list_stack.setCurrentWidget(self.view if self.model.rowCount() else self.empty_label)
        self.countChanged.emit(sum(1 for it in self.model.items if not it.state.finished))
        self._update_buttons()
        self._update_overall()

    def _update_buttons(self) -> None:
        items = self.model.items
        pending = sum(1 for it in items if it.state == ItemState.PENDING and it.job is not None)
        active = sum(1 for it in items if it.state.active)
        self.start_button.setEnabled(pending > 0)
        self.start_button.setText(f"&Install ({pending})" if pending else "&Install")
        selected = self._selected_items()
        self.cancel_button.setEnabled(any(it.state == ItemState.PENDING or it.state.active for it in selected))
        self.cancel_all_button.setEnabled(active > 0 or pending > 0 or self.service.busy)
        self.clear_button.setEnabled(any(it.state.finished for it in items))
        self.countChanged.emit(sum(1 for it in items if not it.state.finished))

    def _update_overall(self, final: bool = False, failed: int = 0) -> None:
        session = self._session
        running = [it for it in session if it.state == ItemState.RUNNING]
        pending = sum(1 for it in self.model.items if it.state == ItemState.PENDING and it.job is not None)
        n = len(session)
        if n and any(not it.state.finished for it in session):
            current = running[0] if running else next(it for it in session if not it.state.finished)
            i = session.index(current) + 1
            verb = "Updating" if current.kind == "update" else "Installing"
            self.overall_label.setText(f"{verb} {i} of {n}: <b>{current.name}</b> — {current.status_text}")
            fraction = sum(it.fraction for it in session) / n
            self.overall_bar.setVisible(True)
            self.overall_bar.setValue(int(fraction * 1000))
            self.overall_bar.setFormat(f"{i} of {n}")
            return
        self.overall_bar.setVisible(False)
        if self._planning:
            self.overall_label.setText("Resolving dependencies…")
        elif n and all(it.state.finished for it in session):
            results = [it.result for it in session if it.result is not None]
            text = f"Finished: {_summary(results)}." if results else "Finished."
            if pending:
                text += f" {pending} more ready to install."
            self.overall_label.setText(text)
        elif pending:
            self.overall_label.setText(f"{pending} extension{'s' if pending != 1 else ''} ready to install. "
                                       "Click Install to start.")
        else:
            self.overall_label.setText("Nothing to install yet.")
