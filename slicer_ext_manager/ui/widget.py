"""``ExtensionsManagerWidget``: the whole manager as one embeddable widget
(toolbar, status banner and the Search / Install / Restore / Installed tabs)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

from PySide6.QtCore import QProcess, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..queue import JobResult, Outcome
from . import prompts
from .icons import IconCache
from .install_tab import InstallTab
from .installed_tab import InstalledTab
from .restore_tab import RestoreTab
from .search_tab import SearchTab
from .worker import (
    AUTO_INSTALL_DEPENDENCIES_KEY,
    AUTO_UPDATE_CHECK_KEY,
    AUTO_UPDATE_INSTALL_KEY,
    ExtensionsService,
    ViewData,
)

TAB_NAMES = ("search", "install", "restore", "installed")
SEARCH_DEBOUNCE_MS = 200


def _restart_text(results: Sequence[JobResult]) -> str:
    done = [r for r in results if r.restart_required and r.outcome.ok]
    installed = [r.name for r in done if r.outcome == Outcome.INSTALLED]
    updated = [r.name for r in done if r.outcome in (Outcome.UPDATED, Outcome.SCHEDULED)]
    if len(done) == 1 and installed:
        return f"Extension {installed[0]} has been installed."
    if len(done) == 1 and updated:
        return f"Extension {updated[0]} has been updated."
    parts = []
    if installed:
        parts.append(f"{len(installed)} extension{'s' if len(installed) != 1 else ''} installed")
    if updated:
        parts.append(f"{len(updated)} updated")
    return (", ".join(parts) or "Extensions changed") + "."


class ExtensionsManagerWidget(QWidget):
    """The Extensions Manager, embeddable in any Qt host.

    ``restart_callback``: how the host restarts itself (called after the user agrees).
    ``slicer_executable``: standalone use — the Slicer to launch on restart.
    ``is_loaded(name)``: host hook, True for extensions loaded by the running application
    (their uninstall/update is scheduled for the next start, as Slicer does); standalone:
    nothing is loaded, so uninstall and update happen at once.
    ``loaded_extensions``: what the running application loaded (default: what was
    installed when the manager opened), for the "Install pending restart" state.
    ``interactive``: False = never ask (dependencies installed, no restart prompt).
    """

    busyChanged = Signal(bool)
    #: Whether a restart is needed (settings differ from when the widget opened, or a batch said so).
    restartStateChanged = Signal(bool)
    viewChanged = Signal(object)
    #: The catalog finished loading (from the server, the fresh cache, or offline).
    catalogLoaded = Signal()
    #: Every batch of a session is done: the results.
    sessionFinished = Signal(object)
    #: The Slicer executable was started (standalone restart).
    restartLaunched = Signal()

    def __init__(self, manager, parent: QWidget | None = None, *,
                 restart_callback: Callable[[], None] | None = None,
                 slicer_executable: str | Path | None = None,
                 is_loaded: Callable[[str], bool] | None = None,
                 loaded_extensions: Iterable[str] | None = None,
                 icon_cache_dir: str | Path | None = None,
                 interactive: bool = True):
        super().__init__(parent)
        self.restart_callback = restart_callback
        self.slicer_executable = str(slicer_executable) if slicer_executable else None
        self.interactive = interactive
        self._is_loaded = is_loaded or (lambda name: False)
        self._initial_restart_keys: tuple | None = None
        self._session_restart = False
        self._catalog_loaded = False
        self._checking_updates = False
        self._auto_update_done = False
        self._closed = False

        self.service = ExtensionsService(manager, self, baseline=loaded_extensions)
        self.icons = IconCache(Path(icon_cache_dir) if icon_cache_dir else None, self)

        # -- toolbar ---------------------------------------------------------------------------
        self.search_box = QLineEdit(self)
        self.search_box.setObjectName("searchBox")
        self.search_box.setPlaceholderText("Search extensions (Ctrl+F)")
        self.search_box.setAccessibleName("Search extensions")
        self.search_box.setToolTip("Filter the current tab by name, description, category and keywords")
        self.search_box.setClearButtonEnabled(True)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._apply_search)
        self.search_box.textChanged.connect(lambda _t: self._debounce.start())

        self.check_updates_button = QPushButton("Check for updates", self)
        self.check_updates_button.setToolTip(
            "Query the Extensions Server if there are updates for any of the installed extensions")
        self.check_updates_button.clicked.connect(self.check_for_updates)
        self.update_all_button = QPushButton("Update all", self)
        self.update_all_button.setToolTip("Update every extension that has a new version")
        self.update_all_button.clicked.connect(self.update_all)
        self.update_all_button.setVisible(False)
        self.install_bookmarked_button = QPushButton("Install bookmarked (0)", self)
        self.install_bookmarked_button.setToolTip(
            "Install the bookmarked extensions that are not installed and are available for this Slicer")
        self.install_bookmarked_button.clicked.connect(self.install_bookmarked)
        self.install_bookmarked_button.setEnabled(False)

        self.settings_button = QToolButton(self)
        self.settings_button.setText("Settings")
        self.settings_button.setAccessibleName("Settings")
        self.settings_button.setToolTip("Update and dependency settings, server URL")
        self.settings_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.settings_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        menu = QMenu(self.settings_button)
        self.check_updates_action = menu.addAction("Check for updates", self.check_for_updates)
        menu.addSeparator()
        self.auto_check_action = self._setting_action(menu, "Automatically check for updates", AUTO_UPDATE_CHECK_KEY)
        self.auto_install_action = self._setting_action(menu, "Automatically install updates", AUTO_UPDATE_INSTALL_KEY)
        self.auto_deps_action = self._setting_action(menu, "Automatically install dependencies",
                                                     AUTO_INSTALL_DEPENDENCIES_KEY)
        menu.addSeparator()
        self.server_url_action = menu.addAction("Server URL…", self.change_server_url)
        self.reload_action = menu.addAction("Reload catalog", lambda: self.reload(refresh=True))
        self.settings_button.setMenu(menu)
        self.settings_menu = menu

        toolbar = QHBoxLayout()
        toolbar.setContentsMargins(0, 0, 0, 0)
        toolbar.addWidget(self.search_box, 1)
        toolbar.addWidget(self.check_updates_button)
        toolbar.addWidget(self.update_all_button)
        toolbar.addWidget(self.install_bookmarked_button)
        toolbar.addWidget(self.settings_button)

        # -- banner ----------------------------------------------------------------------------
        self.banner = QLabel(self)
        self.banner.setObjectName("catalogBanner")
        self.banner.setAccessibleName("Catalog status")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setFrameShape(QFrame.Shape.StyledPanel)
        self.banner.setStyleSheet(
            "QLabel#catalogBanner { border: 1px solid #bd8530; border-radius: 4px; padding: 6px 8px;"
            " background: palette(alternate-base); color: palette(window-text); }")
        self.banner.setVisible(False)
        self.loading_label = QLabel("Loading the catalog…", self)
        self.loading_label.setAccessibleName("Loading")
        self.loading_label.setVisible(False)

        # -- tabs --------------------------------------------------------------------------------
        self.install_tab = InstallTab(self.service, self.icons, self,
                                      auto_install_dependencies=self._auto_install_dependencies,
                                      interactive=interactive)
        self.search_tab = SearchTab(self.icons, self, is_queued=self.install_tab.is_queued)
        self.restore_tab = RestoreTab(self.service, self)
        self.installed_tab = InstalledTab(self.service, self.icons, self, is_loaded=self._is_loaded,
                                          is_queued=self.install_tab.is_queued)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("tabs")
        self.tabs.setAccessibleName("Extensions Manager tabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.search_tab, "Search")
        self.tabs.addTab(self.install_tab, "Install")
        self.tabs.addTab(self.restore_tab, "Restore")
        self.tabs.addTab(self.installed_tab, "Installed (0)")
        self.tabs.currentChanged.connect(lambda _i: self._apply_search())

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addLayout(toolbar)
        layout.addWidget(self.banner)
        layout.addWidget(self.loading_label)
        layout.addWidget(self.tabs, 1)

        QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self, activated=self.focus_search)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self.search_box, activated=self.search_box.clear)

        # -- wiring -------------------------------------------------------------------------------
        s = self.service
        s.viewChanged.connect(self._on_view)
        s.busyChanged.connect(self._on_busy)
        s.logMessage.connect(self.install_tab.log)
        s.managerChanged.connect(lambda _m: self.restore_tab.reload())
        self.search_tab.addRequested.connect(self.install_tab.add_names)
        self.search_tab.installNowRequested.connect(self.install_now)
        self.restore_tab.installRequested.connect(self._restore_selected)
        self.installed_tab.installRequested.connect(self.install_now)
        self.installed_tab.updateRequested.connect(self.update_extensions)
        self.installed_tab.cancelUpdateRequested.connect(self.install_tab.cancel_name)
        self.installed_tab.countChanged.connect(
            lambda n: self.tabs.setTabText(TAB_NAMES.index("installed"), f"Installed ({n})"))
        self.install_tab.countChanged.connect(self._install_count_changed)
        self.install_tab.sessionFinished.connect(self._on_session_finished)
        self.install_tab.model.dataChanged.connect(lambda *_: self._queue_changed())
        self.install_tab.model.rowsInserted.connect(lambda *_: self._queue_changed())
        self.install_tab.model.rowsRemoved.connect(lambda *_: self._queue_changed())

        QTimer.singleShot(0, self, self._start)  # context object: never runs after deletion

    @classmethod
    def from_context(cls, context, parent: QWidget | None = None, **kwargs) -> "ExtensionsManagerWidget":
        """A widget for an :class:`~slicer_ext_manager.context.AppContext` (makes the manager)."""
        from ..manager import ExtensionsManager

        return cls(ExtensionsManager(context), parent, **kwargs)

    # -- properties ---------------------------------------------------------------------------------

    @property
    def manager(self):
        return self.service.manager

    @property
    def busy(self) -> bool:
        return self.service.busy

    @property
    def view(self) -> ViewData | None:
        return self.service.view

    @property
    def catalog_loaded(self) -> bool:
        return self._catalog_loaded

    @property
    def restart_requested(self) -> bool:
        view = self.service.view
        keys_changed = (view is not None and self._initial_restart_keys is not None
                        and view.state.restart_keys != self._initial_restart_keys)
        return keys_changed or self._session_restart

    def current_tab_name(self) -> str:
        return TAB_NAMES[self.tabs.currentIndex()]

    def set_current_tab(self, name: str | None) -> None:
        if name:
            self.tabs.setCurrentIndex(TAB_NAMES.index(name))

    def focus_search(self) -> None:
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    # -- loading ------------------------------------------------------------------------------------------

    def _start(self) -> None:
        if self._closed:
            return
        self.reload()

    def reload(self, *, refresh: bool = False) -> None:
        """Load the catalog (cache first) and the restore plan, in the background."""
        self.loading_label.setVisible(True)
        self.service.load(refresh=refresh)
        self.restore_tab.reload()

    def _on_view(self, view: ViewData) -> None:
        revision = view.state.revision
        empty = view.catalog.status_text() if view.catalog is not None and view.catalog.is_empty else ""
        if not empty and view.catalog is None and view.catalog_error:
            empty = view.catalog_error
        self.search_tab.set_rows(view.search_rows, view.categories, app_revision=revision, loading=view.loading,
                                 empty_text=empty)
        self.installed_tab.set_rows(view.installed_rows, view.installed_count)
        self.restore_tab.set_state(view.state)
        status = view.status_text
        self.banner.setText(status)
        self.banner.setVisible(bool(status))
        self.loading_label.setVisible(view.loading)
        self._update_toolbar(view)
        for action, value in ((self.auto_check_action, view.state.auto_update_check),
                              (self.auto_install_action, view.state.auto_update_install),
                              (self.auto_deps_action, view.state.auto_install_dependencies)):
            action.blockSignals(True)
            action.setChecked(value)
            action.blockSignals(False)
        if self._initial_restart_keys is None:
            self._initial_restart_keys = view.state.restart_keys
        self.restartStateChanged.emit(self.restart_requested)
        self.viewChanged.emit(view)
        if not view.loading:
            first = not self._catalog_loaded
            self._catalog_loaded = True
            if self._checking_updates:
                self._checking_updates = False
                self._report_updates(view)
            elif first and view.state.auto_update_check and view.state.auto_update_install:
                self._auto_install_updates(view)
            if first:
                self.catalogLoaded.emit()

    def _update_toolbar(self, view: ViewData | None = None) -> None:
        view = view or self.service.view
        busy = self.service.busy
        updates = [n for n in (view.updates if view else []) if not self.install_tab.is_queued(n)]
        self.update_all_button.setText(f"Update all ({len(updates)})")
        self.update_all_button.setVisible(bool(updates))
        self.check_updates_button.setVisible(not updates)
        self.check_updates_button.setEnabled(bool(view and view.state.installed) and not self.service.loading)
        self.check_updates_action.setEnabled(not self.service.loading)
        bookmarks = [n for n in (view.installable_bookmarks if view else []) if not self.install_tab.is_queued(n)]
        self.install_bookmarked_button.setText(f"Install bookmarked ({len(bookmarks)})")
        self.install_bookmarked_button.setEnabled(bool(bookmarks))
        self.server_url_action.setEnabled(not busy)

    def _queue_changed(self) -> None:
        self._update_toolbar()
        self.search_tab.refresh_buttons()

    def _install_count_changed(self, n: int) -> None:
        self.tabs.setTabText(TAB_NAMES.index("install"), f"Install ({n})" if n else "Install")

    def _on_busy(self, busy: bool) -> None:
        self._update_toolbar()
        self.busyChanged.emit(busy)

    # -- search -----------------------------------------------------------------------------------------

    def _apply_search(self) -> None:
        text = self.search_box.text()
        tab = self.tabs.currentWidget()
        if hasattr(tab, "set_filter_text"):
            tab.set_filter_text(text)

    # -- actions ----------------------------------------------------------------------------------------

    def _auto_install_dependencies(self) -> bool:
        view = self.service.view
        return True if view is None else view.state.auto_install_dependencies

    def _setting_action(self, menu: QMenu, text: str, key: str) -> QAction:
        action = menu.addAction(text)
        action.setCheckable(True)
        action.toggled.connect(lambda on, k=key: self.service.set_user_setting(k, bool(on)))
        return action

    def install_now(self, names: Sequence[str]) -> None:
        """Queue ``names`` (with dependencies) and start; shows the Install tab."""
        self.install_tab.add_names(names, start=True)
        self.set_current_tab("install")

    def add_to_install(self, names: Sequence[str]) -> None:
        self.install_tab.add_names(names)

    def _restore_selected(self, names: Sequence[str]) -> None:
        self.install_tab.add_names(names)
        self.set_current_tab("install")

    def update_extensions(self, names: Sequence[str]) -> None:
        names = list(names)
        if not names:
            return
        loaded = [n for n in names if self._is_loaded(n)]
        now = [n for n in names if n not in loaded]
        if now:
            self.install_tab.queue_updates(now)
        if loaded:
            self.install_tab.queue_updates(loaded, schedule=True)
        self.set_current_tab("install")

    def update_all(self) -> None:
        view = self.service.view
        if view is not None:
            self.update_extensions([n for n in view.updates if not self.install_tab.is_queued(n)])

    def install_bookmarked(self) -> None:
        view = self.service.view
        if view is not None:
            names = [n for n in view.installable_bookmarks if not self.install_tab.is_queued(n)]
            if names:
                self.install_now(names)

    def check_for_updates(self) -> None:
        """Ask the server now (catalog refresh) and list the updates."""
        self._checking_updates = True
        self.install_tab.log("Checking for updates…")
        self.reload(refresh=True)

    def _report_updates(self, view: ViewData) -> None:
        if view.catalog_error:
            self.install_tab.log(f"The update check failed: {view.catalog_error}")
            return
        updates = view.updates
        if updates:
            self.install_tab.log(f"{len(updates)} update{'s' if len(updates) != 1 else ''} available: "
                                 + ", ".join(updates))
            if view.state.auto_update_install:
                self._auto_install_updates(view)
        else:
            self.install_tab.log("All installed extensions are up to date.")

    def _auto_install_updates(self, view: ViewData) -> None:
        names = [n for n in view.updates if not self.install_tab.is_queued(n)]
        if names and not self._auto_update_done:
            self._auto_update_done = True
            self.install_tab.log("Installing updates automatically (Automatically install updates is on).")
            self.update_extensions(names)

    def change_server_url(self) -> None:
        if self.service.busy:
            return
        url = prompts.get_server_url(self, self.manager.context.server_url)
        if url and url.rstrip("/") != self.manager.context.server_url:
            self._catalog_loaded = False
            self.service.set_server_url(url)

    # -- restart ------------------------------------------------------------------------------------------

    @property
    def can_restart(self) -> bool:
        return self.restart_callback is not None or bool(self.slicer_executable)

    def _on_session_finished(self, results: list[JobResult]) -> None:
        self.restore_tab.reload()
        if any(r.restart_required for r in results):
            self._session_restart = True
            self.restartStateChanged.emit(True)
        self.sessionFinished.emit(results)
        if self.interactive and any(r.restart_required and r.outcome.ok for r in results):
            if prompts.ask_restart(self, _restart_text(results), can_restart=self.can_restart):
                self.restart()

    def restart(self) -> bool:
        """Restart: the host's callback, else launch ``slicer_executable``, else explain what to do."""
        if self.restart_callback is not None:
            self.restart_callback()
            return True
        if self.slicer_executable:
            result = QProcess.startDetached(self.slicer_executable, [])
            ok = result[0] if isinstance(result, tuple) else bool(result)
            if ok:
                self.install_tab.log(f"Started {self.slicer_executable}.")
                self.restartLaunched.emit()
                return True
            prompts.show_error(self, "Restart Slicer", f"Slicer could not be started from "
                                                      f"{self.slicer_executable}. {prompts.RESTART_INSTRUCTIONS}")
            return False
        prompts.show_restart_instructions(self)
        return False

    # -- closing ------------------------------------------------------------------------------------------

    def running_operations(self) -> list[str]:
        ops = [f"{'update' if it.kind == 'update' else 'install'} {it.name} extension"
               for it in self.install_tab.items if it.state.active]
        if not ops and self.service.busy:
            ops = ["a change to the installed extensions"]
        return ops

    def confirm_close(self) -> bool:
        """True when the widget may close: nothing runs, or the user chose to cancel it
        (then everything is cancelled and the worker has finished)."""
        if not self.service.busy:
            return True
        if not prompts.ask_cancel_running(self, self.running_operations()):
            return False
        self.cancel_and_wait()
        return True

    def cancel_and_wait(self, timeout: float = 120.0) -> bool:
        self.install_tab.cancel_all()
        return self.service.wait_idle(timeout)

    def shutdown(self) -> None:
        """Stop the worker threads and icon loading (call before destroying an embedded widget)."""
        if self._closed:
            return
        self._closed = True
        self._debounce.stop()
        self.icons.shutdown()
        self.service.shutdown()

    def closeEvent(self, event) -> None:  # top-level use
        if not self.confirm_close():
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)
