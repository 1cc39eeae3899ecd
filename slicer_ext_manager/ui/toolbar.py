"""The manager's toolbar: the search box, "Check for updates" (with its result said next to
it) or "Update all (N)", "Install bookmarked (N)", and the settings menu."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QMenu, QPushButton, QToolButton, QWidget

from ..state import Option, Options

SEARCH_DEBOUNCE_MS = 200
_OPTION_TEXTS = ((Option.AUTO_UPDATE_CHECK, "Automatically check for updates"),
                 (Option.AUTO_UPDATE_INSTALL, "Automatically install updates"),
                 (Option.AUTO_INSTALL_DEPENDENCIES, "Automatically install dependencies"))


class SearchBox(QLineEdit):
    """Esc clears the text; on an empty box it goes on to the dialog (which closes)."""

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt name)
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
            event.accept()
            return
        super().keyPressEvent(event)


class Toolbar(QWidget):
    searchChanged = Signal(str)
    checkUpdatesRequested = Signal()
    updateAllRequested = Signal()
    installBookmarkedRequested = Signal()
    #: (option, value)
    optionToggled = Signal(object, bool)
    serverUrlRequested = Signal()
    editBookmarksRequested = Signal()
    reloadRequested = Signal()
    slicerUpdatesRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.search_box = SearchBox(self)
        self.search_box.setObjectName("searchBox")
        self.search_box.setPlaceholderText("Search extensions (Ctrl+F)")
        self.search_box.setAccessibleName("Search extensions")
        self.search_box.setToolTip("Filter the Search, Restore and Installed lists by name, description, category "
                                   "and keywords (the Install queue always shows everything)")
        self.search_box.setClearButtonEnabled(True)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self.searchChanged.emit(self.search_box.text()))
        self.search_box.textChanged.connect(lambda _t: self._debounce.start())

        self.check_updates_button = self._button(
            "Check for updates", "Query the Extensions Server if there are updates for any of the installed extensions",
            self.checkUpdatesRequested.emit)
        self.update_status = QLabel(self)
        self.update_status.setMaximumWidth(380)
        self.update_status.setObjectName("updateStatus")
        self.update_status.setAccessibleName("Update check result")
        self.update_status.setVisible(False)
        self.update_all_button = self._button("Update all", "Update every extension that has a new version",
                                              self.updateAllRequested.emit)
        self.update_all_button.setVisible(False)
        self.install_bookmarked_button = self._button(
            "Install bookmarked (0)", "Install the bookmarked extensions that are not installed and are available "
            "for this Slicer", self.installBookmarkedRequested.emit)
        self.install_bookmarked_button.setEnabled(False)
        self._settings_menu()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search_box, 1)
        for w in (self.check_updates_button, self.update_status, self.update_all_button,
                  self.install_bookmarked_button, self.settings_button):
            layout.addWidget(w)

    def _button(self, text: str, tip: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text, self)
        button.setToolTip(tip)
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        return button

    def _settings_menu(self) -> None:
        self.settings_button = QToolButton(self)
        self.settings_button.setText("Settings")
        self.settings_button.setAccessibleName("Settings")
        self.settings_button.setToolTip("Update and dependency settings, bookmarks, server URL")
        self.settings_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.settings_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        menu = QMenu(self.settings_button)
        self.check_updates_action = menu.addAction("Check for updates", self.checkUpdatesRequested.emit)
        menu.addSeparator()
        self.option_actions: dict[Option, QAction] = {}
        for option, text in _OPTION_TEXTS:
            action = menu.addAction(text)
            action.setCheckable(True)
            action.toggled.connect(lambda on, o=option: self.optionToggled.emit(o, bool(on)))
            self.option_actions[option] = action
        menu.addSeparator()
        self.edit_bookmarks_action = menu.addAction("Edit bookmarks…", self.editBookmarksRequested.emit)
        self.server_url_action = menu.addAction("Server URL…", self.serverUrlRequested.emit)
        self.reload_action = menu.addAction("Reload catalog", self.reloadRequested.emit)
        menu.addSeparator()
        self.slicer_updates_action = menu.addAction("Slicer updates…", self.slicerUpdatesRequested.emit)
        self.reload_action.setShortcut("F5")
        self.reload_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.settings_button.setMenu(menu)
        self.settings_menu = menu

    @property
    def auto_check_action(self) -> QAction:
        return self.option_actions[Option.AUTO_UPDATE_CHECK]

    @property
    def auto_install_action(self) -> QAction:
        return self.option_actions[Option.AUTO_UPDATE_INSTALL]

    @property
    def auto_deps_action(self) -> QAction:
        return self.option_actions[Option.AUTO_INSTALL_DEPENDENCIES]

    def focus_order(self) -> list[QWidget]:
        return [self.search_box, self.check_updates_button, self.update_all_button, self.install_bookmarked_button,
                self.settings_button]

    def stop(self) -> None:
        self._debounce.stop()

    # -- state ----------------------------------------------------------------------------------------

    def set_options(self, options: Options) -> None:
        for option, action in self.option_actions.items():
            action.blockSignals(True)
            action.setChecked(options[option])
            action.blockSignals(False)

    def set_counts(self, *, updates: int, bookmarks: int, can_check: bool, loading: bool, busy: bool) -> None:
        self.update_all_button.setText(f"Update all ({updates})")
        self.update_all_button.setVisible(bool(updates))
        self.check_updates_button.setVisible(not updates)
        self.check_updates_button.setEnabled(can_check and not loading)
        self.check_updates_action.setEnabled(not loading)
        self.install_bookmarked_button.setText(f"Install bookmarked ({bookmarks})")
        self.install_bookmarked_button.setEnabled(bool(bookmarks))
        self.server_url_action.setEnabled(not busy)
        if updates:
            self.update_status.setVisible(False)

    def show_update_status(self, text: str, *, warning: bool = False) -> None:
        """The result of "Check for updates", next to the button."""
        metrics = self.update_status.fontMetrics()
        self.update_status.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, 380))
        self.update_status.setStyleSheet("color: #bd8530;" if warning else "")
        self.update_status.setToolTip(text)
        self.update_status.setVisible(bool(text))
