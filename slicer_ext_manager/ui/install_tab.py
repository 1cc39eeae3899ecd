"""Install tab: the queue. Items are shown with their dependencies resolved before anything
starts; each has its own progress and result (a failure's reason in full); one failure
never stops the rest; Retry, cancel one or all; a copyable log; install from file. The
queue is never filtered by the search box: it always shows everything it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from . import prompts
from .delegates import QueueDelegate
from .install_queue import InstallQueueController
from .plans import summary
from .queue_model import ItemState, QueueItem, QueueModel
from .roles import ROW_ROLE
from .service import ExtensionsService

EMPTY_TEXT = ("The extensions you install from the Search, Restore or Installed tabs, or with “Install from "
              "file…”, appear here with their dependencies, their progress and their result.")


class InstallTab(QWidget):
    """The queue of installs and updates (widgets; the work is the controller's)."""

    sessionFinished = Signal(object)
    countChanged = Signal(int)

    def __init__(self, service: ExtensionsService, icons, parent: QWidget | None = None, *,
                 auto_install_dependencies: Callable[[], bool] | None = None, interactive: bool = True,
                 icon_source: Callable[[str], tuple[str, str]] | None = None):
        super().__init__(parent)
        self.service = service
        self.model = QueueModel(icons, self, icon_source=icon_source)
        self._shapes: dict[str, tuple[ItemState, str]] = {}
        self.queue = InstallQueueController(service, self.model, self,
                                            auto_install_dependencies=auto_install_dependencies,
                                            interactive=interactive)
        self._build()
        q = self.queue
        q.logged.connect(self.log_view.appendPlainText)
        q.changed.connect(self._update)
        q.progressed.connect(self._update_overall)
        q.countChanged.connect(self.countChanged.emit)
        q.sessionFinished.connect(self.sessionFinished.emit)
        service.busyChanged.connect(lambda _b: self._update())
        self.model.rowsInserted.connect(lambda *_: self._update())
        self.model.rowsRemoved.connect(lambda *_: self._update())
        self.model.dataChanged.connect(self._item_changed)
        self._update()

    # -- layout ---------------------------------------------------------------------------------------

    def _build(self) -> None:
        self.overall_label = QLabel("Nothing to install yet.", self)
        self.overall_label.setAccessibleName("Overall progress")
        self.overall_label.setWordWrap(True)
        self.overall_bar = QProgressBar(self)
        self.overall_bar.setAccessibleName("Overall progress bar")
        self.overall_bar.setRange(0, 1000)
        self.overall_bar.setMaximumWidth(260)
        self.overall_bar.setVisible(False)

        self.view = QListView(self)
        self.view.setObjectName("installList")
        self.view.setAccessibleName("Install queue")
        self.view.setModel(self.model)
        self.delegate = QueueDelegate(self.view)
        self.view.setItemDelegate(self.delegate)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)  # wrapped reasons re-flow with the width
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setIconSize(QSize(32, 32))
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

        self.empty_label = QLabel(EMPTY_TEXT, self)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setMargin(24)
        self.list_stack = QStackedWidget(self)
        self.list_stack.addWidget(self.view)
        self.list_stack.addWidget(self.empty_label)
        self.list_stack.setCurrentWidget(self.empty_label)

        self.start_button = self._button("&Install", "Install the extensions listed as ready", self.start)
        self.retry_button = self._button("&Retry", "Run the selected failed or cancelled items again; an "
                                         "interrupted download continues where it stopped", self.retry_selected)
        self.cancel_button = self._button("&Cancel", "Cancel the selected items (remove them if they have not "
                                          "started)", self.cancel_selected)
        self.cancel_all_button = self._button("Cancel a&ll", "Cancel every item that is waiting or running",
                                              self.cancel_all)
        self.clear_button = self._button("Clear &finished", "Remove finished items from the list", self.clear_finished)
        self.file_button = self._button("Install from &file…", "Install extension packages (.zip, .tar.gz…) from "
                                        "disk; they start installing at once", self.choose_files)

        self.log_view = QPlainTextEdit(self)
        self.log_view.setObjectName("installLog")
        self.log_view.setAccessibleName("Install log")
        self.log_view.setReadOnly(True)
        self.log_view.setTabChangesFocus(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log_view.setPlaceholderText("Messages of the installs appear here.")
        self.copy_button = self._button("Cop&y log", "Copy the whole log to the clipboard", self.copy_log)
        self._lay_out()
        QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.view, self.cancel_selected,
                  context=Qt.ShortcutContext.WidgetShortcut)

    def _button(self, text: str, tip: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text, self)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.overall_label, 1)
        top.addWidget(self.overall_bar)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.retry_button, self.cancel_button, self.cancel_all_button,
                  self.clear_button):
            buttons.addWidget(b)
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
        header = QHBoxLayout()
        title = QLabel("&Log", self)
        title.setBuddy(self.log_view)
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.copy_button)
        ll.addLayout(header)
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

    def focus_order(self) -> list[QWidget]:
        return [self.view, self.start_button, self.retry_button, self.cancel_button, self.cancel_all_button,
                self.clear_button, self.file_button, self.log_view, self.copy_button]

    # -- public API -----------------------------------------------------------------------------------

    @property
    def items(self) -> list[QueueItem]:
        return self.model.items

    def item(self, name: str) -> QueueItem | None:
        return self.queue.item(name)

    def is_queued(self, name: str) -> bool:
        return self.queue.is_queued(name)

    @property
    def planning(self) -> bool:
        return self.queue.planning

    def log(self, text: str) -> None:
        self.queue.log(text)

    def log_text(self) -> str:
        return self.log_view.toPlainText()

    def copy_log(self) -> None:
        QGuiApplication.clipboard().setText(self.log_text())

    def add_names(self, names: Iterable[str], *, start: bool = False, with_dependencies: bool = True) -> None:
        self.queue.add_names(names, start=start, with_dependencies=with_dependencies)

    def add_files(self, paths: Iterable[str | Path], *, start: bool = True) -> None:
        self.queue.add_files(paths, start=start)

    def choose_files(self) -> None:
        files = prompts.get_archive_files(self)
        if files:
            self.add_files(files, start=True)

    def start(self) -> None:
        self.queue.start()

    def queue_updates(self, names: Sequence[str], *, schedule: bool = False) -> None:
        self.queue.queue_updates(names, schedule=schedule)

    def cancel_name(self, name: str) -> bool:
        return self.queue.cancel_name(name)

    def cancel_all(self) -> None:
        self.queue.cancel_all()

    def clear_finished(self) -> None:
        self.queue.clear_finished()

    def selected_items(self) -> list[QueueItem]:
        items = [i.data(ROW_ROLE) for i in self.view.selectionModel().selectedIndexes()]
        return [it for it in items if isinstance(it, QueueItem)]

    def select_item(self, item: QueueItem) -> None:
        row = self.model.row_of(item)
        if row >= 0:
            self.view.setCurrentIndex(self.model.index(row, 0))

    def cancel_selected(self) -> None:
        for item in self.selected_items():
            self.queue.cancel_item(item)
        self._update_buttons()

    def retry_selected(self) -> None:
        self.queue.retry(self.selected_items())

    # -- display --------------------------------------------------------------------------------------

    def _item_changed(self, top, bottom, roles=()) -> None:
        # A reason appears or goes: the row changes height (not on every progress event).
        for row in range(top.row(), bottom.row() + 1):
            index = self.model.index(row, 0)
            item = index.data(ROW_ROLE)
            if item is None:
                continue
            shape = (item.state, item.message)
            if self._shapes.get(item.key) != shape:
                self._shapes[item.key] = shape
                self.delegate.sizeHintChanged.emit(index)

    def _update(self) -> None:
        self.list_stack.setCurrentWidget(self.view if self.model.rowCount() else self.empty_label)
        self._update_buttons()
        self._update_overall()

    def _update_buttons(self) -> None:
        items = self.model.items
        pending = len(self.queue.pending())
        active = sum(1 for it in items if it.state.active)
        self.start_button.setEnabled(pending > 0)
        self.start_button.setText(f"&Install ({pending})" if pending else "&Install")
        selected = self.selected_items()
        retryable = [it for it in selected if it.state.retryable]
        self.retry_button.setEnabled(bool(retryable))
        self.retry_button.setText(f"&Retry ({len(retryable)})" if len(retryable) > 1 else "&Retry")
        self.cancel_button.setEnabled(any(it.state == ItemState.PENDING or it.state.active for it in selected))
        self.cancel_all_button.setEnabled(active > 0 or pending > 0 or self.service.busy)
        self.clear_button.setEnabled(any(it.state.finished for it in items))

    def _update_overall(self) -> None:
        session = self.queue.session
        n = len(session)
        if n and any(not it.state.finished for it in session):
            running = [it for it in session if it.state == ItemState.RUNNING]
            current = running[0] if running else next(it for it in session if not it.state.finished)
            i = session.index(current) + 1
            verb = "Updating" if current.kind.is_update else "Installing"
            self.overall_label.setText(f"{verb} {i} of {n}: <b>{current.name}</b> — {current.status_text}")
            self.overall_bar.setVisible(True)
            self.overall_bar.setValue(int(sum(it.fraction for it in session) / n * 1000))
            self.overall_bar.setFormat(f"{i} of {n}")
            return
        self.overall_bar.setVisible(False)
        pending = len(self.queue.pending())
        if self.queue.planning:
            self.overall_label.setText("Resolving dependencies…")
        elif n:
            results = [it.result for it in session if it.result is not None]
            text = f"Finished: {summary(results)}." if results else "Finished."
            failed = sum(1 for it in session if it.state == ItemState.FAILED)
            if failed:
                text += " Select a failed item and click Retry to try it again."
            if pending:
                text += f" {pending} more ready to install."
            self.overall_label.setText(text)
        elif pending:
            self.overall_label.setText(f"{pending} extension{'s' if pending != 1 else ''} ready to install. "
                                       "Click Install to start.")
        else:
            self.overall_label.setText("Nothing to install yet.")

    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if index.isValid() and not self.view.selectionModel().isSelected(index):
            self.view.setCurrentIndex(index)
        self.context_menu().popup(self.view.viewport().mapToGlobal(pos))

    def context_menu(self) -> QMenu:
        selected = self.selected_items()
        menu = QMenu(self)
        retry = menu.addAction("Retry", self.retry_selected)
        retry.setEnabled(any(it.state.retryable for it in selected))
        cancel = menu.addAction("Cancel", self.cancel_selected)
        cancel.setEnabled(any(it.state == ItemState.PENDING or it.state.active for it in selected))
        menu.addSeparator()
        menu.addAction("Clear finished", self.clear_finished).setEnabled(
            any(it.state.finished for it in self.model.items))
        return menu
