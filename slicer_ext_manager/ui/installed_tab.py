"""Installed tab: installed and bookmarked extensions (updates first), with Update /
Cancel update, Uninstall / Cancel uninstall, Enable / Disable, bookmark and Install."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .delegates import ExtensionDelegate
from .models import ROW_ROLE, ExtensionFilterProxy, ExtensionListModel, ExtensionRow
from .worker import ExtensionsService


class InstalledTab(QWidget):
    updateRequested = Signal(list)
    cancelUpdateRequested = Signal(str)
    installRequested = Signal(list)
    countChanged = Signal(int)

    def __init__(self, service: ExtensionsService, icons, parent: QWidget | None = None, *,
                 is_loaded: Callable[[str], bool] | None = None, is_queued: Callable[[str], bool] | None = None):
        super().__init__(parent)
        self.service = service
        self._is_loaded = is_loaded or (lambda name: False)
        self._is_queued = is_queued or (lambda name: False)
        self.model = ExtensionListModel(icons, self)
        self.proxy = ExtensionFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.view = QListView(self)
        self.view.setObjectName("installedList")
        self.view.setAccessibleName("Installed extensions")
        self.view.setModel(self.proxy)
        self.view.setItemDelegate(ExtensionDelegate(self.view))
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setIconSize(QSize(48, 48))
        self.view.selectionModel().currentChanged.connect(lambda *_: self._update_buttons())
        self.empty_label = QLabel("No extensions are installed or bookmarked yet. Find some in the Search tab.", self)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setMargin(24)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty_label)
        self.stack.setCurrentWidget(self.empty_label)

        self.update_button = QPushButton("&Update", self)
        self.update_button.clicked.connect(self._update_or_cancel)
        self.uninstall_button = QPushButton("U&ninstall", self)
        self.uninstall_button.clicked.connect(self._uninstall_or_cancel)
        self.enable_button = QPushButton("&Disable", self)
        self.enable_button.clicked.connect(self._toggle_enabled)
        self.bookmark_button = QPushButton("&Bookmark", self)
        self.bookmark_button.clicked.connect(self._toggle_bookmark)
        self.install_button = QPushButton("&Install", self)
        self.install_button.setToolTip("Install this bookmarked extension (requires restart).")
        self.install_button.clicked.connect(self._install)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Last operation")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        buttons = QHBoxLayout()
        for b in (self.update_button, self.uninstall_button, self.enable_button, self.bookmark_button,
                  self.install_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        service.busyChanged.connect(lambda _b: self._update_buttons())
        self._update_buttons()

    # -- data ------------------------------------------------------------------------------------

    def set_rows(self, rows, installed_count: int) -> None:
        current = self.current_row().name if self.current_row() else None
        self.model.set_rows(rows)
        self.stack.setCurrentWidget(self.view if rows else self.empty_label)
        if current:
            self.select_name(current)
        elif rows and not self.view.currentIndex().isValid():
            self.view.setCurrentIndex(self.proxy.index(0, 0))
        self.countChanged.emit(installed_count)
        self._update_buttons()

    def set_filter_text(self, text: str) -> None:
        self.proxy.set_text(text)

    def current_row(self) -> ExtensionRow | None:
        index = self.view.currentIndex()
        return index.data(ROW_ROLE) if index.isValid() else None

    def select_name(self, name: str) -> None:
        i = self.model.find(name)
        if i >= 0:
            index = self.proxy.mapFromSource(self.model.index(i, 0))
            if index.isValid():
                self.view.setCurrentIndex(index)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.service.logMessage.emit(text)

    # -- buttons ---------------------------------------------------------------------------------

    def _update_buttons(self) -> None:
        row = self.current_row()
        busy = self.service.busy
        for b in (self.update_button, self.uninstall_button, self.enable_button, self.bookmark_button,
                  self.install_button):
            b.setVisible(row is not None)
        if row is None:
            return
        queued = self._is_queued(row.name)
        # Update / Cancel update
        if row.scheduled_update or (queued and row.installed):
            self.update_button.setText("Cancel &update")
            self.update_button.setToolTip("Do not apply the downloaded update at the next start" if row.scheduled_update
                                          else "Cancel the running update")
            self.update_button.setVisible(True)
            self.update_button.setEnabled(True)
        else:
            self.update_button.setText("&Update")
            self.update_button.setToolTip("Download and install the new version of this extension (requires restart).")
            self.update_button.setVisible(row.installed and row.update_available and not row.updated_this_session)
            self.update_button.setEnabled(not row.scheduled_uninstall)
        # Uninstall / Cancel uninstall
        self.uninstall_button.setVisible(row.installed)
        if row.scheduled_uninstall:
            self.uninstall_button.setText("Cancel u&ninstall")
            self.uninstall_button.setToolTip("Keep this extension")
        else:
            self.uninstall_button.setText("U&ninstall")
            self.uninstall_button.setToolTip("Remove this extension" + (" at the next start of Slicer"
                                                                        if self._is_loaded(row.name) else ""))
        self.uninstall_button.setEnabled(not busy and not queued)
        # Enable / Disable
        self.enable_button.setVisible(row.installed and not row.scheduled_uninstall)
        self.enable_button.setText("&Disable" if row.enabled else "&Enable")
        self.enable_button.setToolTip("Do not load this extension's modules (takes effect after restart)"
                                      if row.enabled else "Load this extension's modules (takes effect after restart)")
        self.enable_button.setEnabled(not busy and (row.enabled or row.compatible))
        # Bookmark
        self.bookmark_button.setText("Remove &bookmark" if row.bookmarked else "&Bookmark")
        self.bookmark_button.setToolTip(
            "Click to remove the bookmark." if row.bookmarked else
            "Click this button to add bookmark this extension. Bookmarked extension will appear in all "
            "application versions for easy reinstallation.")
        # Install (bookmarked, not installed)
        self.install_button.setVisible(not row.installed)
        self.install_button.setEnabled(row.installable and not queued)

    def _update_or_cancel(self) -> None:
        row = self.current_row()
        if row is None:
            return
        if row.scheduled_update or self._is_queued(row.name):
            if row.scheduled_update:
                name = row.name
                self.service.run_operation(lambda m: m.installer.cancel_scheduled_update(name),
                                           lambda _: self.show_message(f"The update of {name} was cancelled."),
                                           self.show_message)
            else:
                self.cancelUpdateRequested.emit(row.name)
            return
        self.updateRequested.emit([row.name])

    def _uninstall_or_cancel(self) -> None:
        row = self.current_row()
        if row is None:
            return
        name = row.name
        if row.scheduled_uninstall:
            def cancel(m):
                return m.cancel_uninstall(name)

            self.service.run_operation(
                cancel, lambda ok: self.show_message(f"{name} will not be uninstalled." if ok else
                                                     f"{name} was not scheduled for uninstall."),
                self.show_message)
            return
        schedule = bool(self._is_loaded(name))

        def uninstall(m):
            return m.uninstall([name], schedule=schedule)

        def done(report) -> None:
            texts = [r.message for r in report.results]
            self.show_message(" ".join(texts) or f"{name} was uninstalled.")

        self.service.run_operation(uninstall, done, self.show_message)

    def _toggle_enabled(self) -> None:
        row = self.current_row()
        if row is None:
            return
        name, enable = row.name, not row.enabled
        self.service.run_operation(
            lambda m: m.set_enabled(name, enable),
            lambda _changed: self.show_message(f"{name} is {'enabled' if enable else 'disabled'}; "
                                               "restart Slicer for it to take effect."),
            self.show_message)

    def _toggle_bookmark(self) -> None:
        row = self.current_row()
        if row is None:
            return
        name, on = row.name, not row.bookmarked

        def done(_):
            self.service.refresh_view()
            self.show_message(f"{name} is bookmarked." if on else f"The bookmark of {name} was removed.")

        self.service.run_read(lambda m: m.history.set_bookmarked(name, on), done, self.show_message)

    def _install(self) -> None:
        row = self.current_row()
        if row is not None and row.installable:
            self.installRequested.emit([row.name])
