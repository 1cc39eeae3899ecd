"""Installed tab: a section of the installed extensions (updates first) and one of the
bookmarks not installed; disabled (greyed, with a label) and bookmarked (a star) rows;
several rows can be selected and the buttons act on all of them."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .delegates import ExtensionDelegate
from .filtering import ExtensionFilterProxy, SelectionMemory, select
from .list_model import ExtensionListModel
from .roles import ROW_ROLE
from .rows import ExtensionRow
from .widgets import FilterStatus


def _count(text: str, names: list[str]) -> str:
    return f"{text} ({len(names)})" if len(names) > 1 else text


class InstalledTab(QWidget):
    updateRequested = Signal(list)
    cancelUpdateRequested = Signal(list)
    uninstallRequested = Signal(list)
    cancelUninstallRequested = Signal(list)
    #: (names, enabled)
    enableRequested = Signal(list, bool)
    #: (names, bookmarked)
    bookmarkRequested = Signal(list, bool)
    installRequested = Signal(list)
    countChanged = Signal(int)
    clearSearchRequested = Signal()

    def __init__(self, service, icons, parent: QWidget | None = None, *,
                 is_queued: Callable[[str], bool] | None = None):
        super().__init__(parent)
        self.service = service
        self._is_queued = is_queued or (lambda name: False)
        self.model = ExtensionListModel(icons, self)
        self.proxy = ExtensionFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._build()
        self.memory = SelectionMemory(self.view, self.proxy)
        self.memory.watch_source(self.model)
        self.proxy.countsChanged.connect(lambda shown, total: self.filter_status.set_counts(
            shown, total, self.proxy.filtering))
        service.busyChanged.connect(lambda _b: self._update_buttons())
        self._update_buttons()

    def _build(self) -> None:
        self.filter_status = FilterStatus("extensions", self, show_total=False)
        self.filter_status.clearRequested.connect(self.clearSearchRequested.emit)
        self.view = QListView(self)
        self.view.setObjectName("installedList")
        self.view.setAccessibleName("Installed and bookmarked extensions")
        self.view.setModel(self.proxy)
        self.view.setItemDelegate(ExtensionDelegate(self.view))
        self.view.setUniformItemSizes(False)  # section headers are shorter than the rows
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setIconSize(QSize(48, 48))
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.empty_label = QLabel("No extensions are installed or bookmarked yet. Find some in the Search tab.", self)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setMargin(24)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty_label)
        self.stack.setCurrentWidget(self.empty_label)

        self.update_button = self._button("&Update", self._update_or_cancel)
        self.uninstall_button = self._button("U&ninstall", self._uninstall_or_cancel)
        self.enable_button = self._button("&Disable", self._toggle_enabled)
        self.bookmark_button = self._button("&Bookmark", self._toggle_bookmark)
        self.install_button = self._button("&Install", self._install)
        self.install_button.setToolTip("Install the selected bookmarked extensions now (requires restart).")
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Last operation")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        for b in self.buttons():
            buttons.addWidget(b)
        buttons.addStretch(1)
        header = QHBoxLayout()
        header.addStretch(1)
        header.addWidget(self.filter_status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(header)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)

    def _button(self, text: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text, self)
        button.clicked.connect(slot)
        return button

    def buttons(self) -> list[QPushButton]:
        return [self.update_button, self.uninstall_button, self.enable_button, self.bookmark_button,
                self.install_button]

    def focus_order(self) -> list[QWidget]:
        return [self.view, *self.buttons()]

    # -- data -----------------------------------------------------------------------------------------

    def set_rows(self, rows, installed_count: int) -> None:
        self.model.set_rows(rows)
        self.stack.setCurrentWidget(self.view if rows else self.empty_label)
        if not self.view.selectionModel().hasSelection():
            select(self.view, self.proxy, [])
        self.countChanged.emit(installed_count)
        self._update_buttons()

    def set_filter_text(self, text: str) -> None:
        self.proxy.set_text(text)

    def refresh_activity(self, activity) -> None:
        self.model.set_activity(activity)
        self._update_buttons()

    def selected_rows(self) -> list[ExtensionRow]:
        rows = [i.data(ROW_ROLE) for i in self.view.selectionModel().selectedIndexes()]
        return sorted((r for r in rows if isinstance(r, ExtensionRow)), key=lambda r: r.name.lower())

    def current_row(self) -> ExtensionRow | None:
        rows = self.selected_rows()
        return rows[0] if len(rows) == 1 else None

    def select_name(self, name: str) -> None:
        self.select_names([name])

    def select_names(self, names: list[str]) -> None:
        select(self.view, self.proxy, names, names[0] if names else "", select_first=False)

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    # -- what the selection allows --------------------------------------------------------------------

    def _updatable(self, rows: list[ExtensionRow]) -> list[str]:
        return [r.name for r in rows if r.installed and r.state.update_available and not r.state.scheduled_update
                and not r.state.scheduled_uninstall and not self._is_queued(r.name)]

    def _update_cancellable(self, rows: list[ExtensionRow]) -> list[str]:
        return [r.name for r in rows if r.state.scheduled_update or (r.installed and self._is_queued(r.name))]

    def _update_buttons(self) -> None:
        rows = self.selected_rows()
        busy = self.service.busy
        for b in self.buttons():
            b.setVisible(bool(rows))
        if not rows:
            return
        self._update_update_button(rows)
        self._update_uninstall_button(rows, busy)
        installed = [r for r in rows if r.installed and not r.state.scheduled_uninstall]
        enabled = [r.name for r in installed if r.enabled]
        enableable = [r.name for r in installed if not r.enabled and r.state.compatible]
        self.enable_button.setVisible(bool(installed))
        self.enable_button.setText(_count("&Disable", enabled) if enabled else _count("&Enable", enableable))
        self.enable_button.setEnabled(not busy and bool(enabled or enableable))
        self.enable_button.setToolTip("Do not load the modules (takes effect after restart)" if enabled
                                      else "Load the modules (takes effect after restart)")
        marked = all(r.bookmarked for r in rows)
        self.bookmark_button.setText("Remove &bookmark" if marked else "&Bookmark")
        self.bookmark_button.setToolTip(
            "Click to remove the bookmark." if marked else
            "Bookmark: bookmarked extensions appear in all Slicer versions for easy reinstallation.")
        installable = [r.name for r in rows if r.installable and not self._is_queued(r.name)]
        self.install_button.setVisible(any(not r.installed for r in rows))
        self.install_button.setText(_count("&Install", installable))
        self.install_button.setEnabled(bool(installable))

    def _update_update_button(self, rows: list[ExtensionRow]) -> None:
        cancellable, updatable = self._update_cancellable(rows), self._updatable(rows)
        if cancellable and not updatable:
            self.update_button.setText(_count("Cancel &update", cancellable))
            self.update_button.setToolTip("Do not apply the downloaded update at the next start, or stop the "
                                          "running update")
            self.update_button.setVisible(True)
            self.update_button.setEnabled(True)
            return
        self.update_button.setText(_count("&Update", updatable))
        self.update_button.setToolTip("Download and install the new version (requires restart).")
        self.update_button.setVisible(bool(updatable))
        self.update_button.setEnabled(bool(updatable))

    def _update_uninstall_button(self, rows: list[ExtensionRow], busy: bool) -> None:
        installed = [r for r in rows if r.installed]
        scheduled = [r.name for r in installed if r.state.scheduled_uninstall]
        removable = [r.name for r in installed if not r.state.scheduled_uninstall and not self._is_queued(r.name)]
        self.uninstall_button.setVisible(bool(installed))
        if scheduled and not removable:
            self.uninstall_button.setText(_count("Cancel u&ninstall", scheduled))
            self.uninstall_button.setToolTip("Keep the extension")
            self.uninstall_button.setEnabled(not busy)
            return
        self.uninstall_button.setText(_count("U&ninstall", removable))
        self.uninstall_button.setToolTip("Remove the extension; one that the running Slicer uses is removed "
                                         "when Slicer restarts")
        self.uninstall_button.setEnabled(not busy and bool(removable))

    # -- buttons --------------------------------------------------------------------------------------

    def _update_or_cancel(self) -> None:
        rows = self.selected_rows()
        cancellable, updatable = self._update_cancellable(rows), self._updatable(rows)
        if cancellable and not updatable:
            self.cancelUpdateRequested.emit(cancellable)
        elif updatable:
            self.updateRequested.emit(updatable)

    def _uninstall_or_cancel(self) -> None:
        installed = [r for r in self.selected_rows() if r.installed]
        scheduled = [r.name for r in installed if r.state.scheduled_uninstall]
        removable = [r.name for r in installed if not r.state.scheduled_uninstall and not self._is_queued(r.name)]
        if scheduled and not removable:
            self.cancelUninstallRequested.emit(scheduled)
        elif removable:
            self.uninstallRequested.emit(removable)

    def _toggle_enabled(self) -> None:
        installed = [r for r in self.selected_rows() if r.installed and not r.state.scheduled_uninstall]
        enabled = [r.name for r in installed if r.enabled]
        if enabled:
            self.enableRequested.emit(enabled, False)
        else:
            names = [r.name for r in installed if r.state.compatible]
            if names:
                self.enableRequested.emit(names, True)

    def _toggle_bookmark(self) -> None:
        rows = self.selected_rows()
        if rows:
            self.bookmarkRequested.emit([r.name for r in rows], not all(r.bookmarked for r in rows))

    def _install(self) -> None:
        names = [r.name for r in self.selected_rows() if r.installable and not self._is_queued(r.name)]
        if names:
            self.installRequested.emit(names)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid() or not isinstance(index.data(ROW_ROLE), ExtensionRow):
            return
        if not self.view.selectionModel().isSelected(index):
            self.select_names([index.data()])
        self.context_menu().popup(self.view.viewport().mapToGlobal(pos))

    def context_menu(self) -> QMenu:
        """The buttons' actions for the selected rows, as a menu."""
        menu = QMenu(self)
        slots = {self.update_button: self._update_or_cancel, self.uninstall_button: self._uninstall_or_cancel,
                 self.enable_button: self._toggle_enabled, self.bookmark_button: self._toggle_bookmark,
                 self.install_button: self._install}
        for button, slot in slots.items():
            if button.isVisibleTo(self):
                action = menu.addAction(button.text().replace("&", ""), slot)
                action.setEnabled(button.isEnabled())
        return menu
