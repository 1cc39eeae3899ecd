"""``ExtensionsManagerWidget``: the whole manager as one embeddable widget (toolbar, catalog
banner and the Search / Install / Restore / Installed tabs). It presents the manager's
:class:`~slicer_ext_manager.state.ProfileState` — restart needed, updates, what is in use —
and never works those out itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from ..conventions import SERVER_URL_ENV
from ..queue import JobResult
from . import prompts, restart
from .actions import ExtensionActions
from .icons import IconCache, default_icon_cache_dir
from .images import ImageLoader
from .install_tab import InstallTab
from .installed_tab import InstalledTab
from .restore_tab import RestoreTab
from .search_tab import SearchTab
from .service import ExtensionsService, ViewData
from .toolbar import SEARCH_DEBOUNCE_MS, Toolbar
from .updates import Updates
from .watcher import ProfileWatcher
from .widgets import Banner

__all__ = ["SEARCH_DEBOUNCE_MS", "TAB_NAMES", "ExtensionsManagerWidget"]

TAB_NAMES = ("search", "install", "restore", "installed")


def _server_url_note(origin: str) -> str:
    """Why the setting may not be what Slicer uses next time (it reads the environment first)."""
    if origin == SERVER_URL_ENV:
        return (f"This session's URL comes from ${SERVER_URL_ENV}, which Slicer reads before the setting: the new "
                "URL is used now, and by Slicer only once that variable is no longer set.")
    if origin == "explicit":
        return "This session's URL was given on the command line (--server); the setting is what Slicer uses."
    return ""


class ExtensionsManagerWidget(QWidget):
    """The Extensions Manager, embeddable in any Qt host.

    ``restart_callback``: how the host restarts itself (called after the user agrees).
    ``slicer_executable``: standalone use — the Slicer to launch on restart.
    ``is_loaded(name)``: host hook, True for extensions the running application uses
    (their uninstall and update wait for the next start, as in Slicer); default: the
    manager's :class:`~slicer_ext_manager.state.LoadedSet` (standalone: what was installed
    when the manager started). ``loaded_extensions``: the same as a set of names.
    ``interactive``: False = never ask (dependencies installed, no prompts).
    """

    busyChanged = Signal(bool)
    #: Whether a restart is needed (``ProfileState.restart_required``).
    restartStateChanged = Signal(bool)
    viewChanged = Signal(object)
    #: The catalog finished loading (from the server, the fresh cache, or offline).
    catalogLoaded = Signal()
    #: Every batch of a session is done: the results.
    sessionFinished = Signal(object)
    #: The Slicer executable was started (standalone restart).
    restartLaunched = Signal()

    def __init__(self, manager: Any, parent: QWidget | None = None, *,
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
        loaded = frozenset(loaded_extensions) if loaded_extensions is not None else None
        self._is_loaded = is_loaded or ((lambda name: name in loaded) if loaded is not None else None)
        self._catalog_loaded = False
        self._closed = False

        self.service = ExtensionsService(manager, self)
        cache = Path(icon_cache_dir) if icon_cache_dir else default_icon_cache_dir()
        self.icons = IconCache(cache, self, fetch=self._fetch)
        self.images = ImageLoader(cache, self._fetch, self)
        self._build()
        self._wire()
        ctx = manager.context
        self.watcher = ProfileWatcher([ctx.user_settings_path, ctx.revision_settings_path, ctx.install_path], self,
                                      paused=lambda: self.service.busy)
        self.watcher.changed.connect(self._changed_outside)
        self._shortcuts()
        self._tab_order()
        # Loading starts once the window has painted its first frame (a worker building 3,000 rows
        # competes for the GIL with that paint), or soon anyway when the widget is not shown.
        self._started = False
        QTimer.singleShot(500, self, self._start)  # context object: never runs after deletion

    def _fetch(self, url: str) -> bytes:
        """Images through the core client (its proxies, TLS options and tokens); worker threads."""
        return self.service.manager.client.get_resource(url)

    def _build(self) -> None:
        self.toolbar = Toolbar(self)
        self.search_box = self.toolbar.search_box
        self.banner = Banner(self)
        self.loading_label = QLabel("Loading the catalog…", self)
        self.loading_label.setAccessibleName("Loading")
        self.loading_label.setVisible(False)
        self.install_tab = InstallTab(self.service, self.icons, self, interactive=self.interactive,
                                      auto_install_dependencies=self._auto_install_dependencies,
                                      icon_source=self._icon_source)
        queued = self.install_tab.is_queued
        self.search_tab = SearchTab(self.icons, self.images, self, is_queued=queued)
        self.restore_tab = RestoreTab(self.service, self)
        self.installed_tab = InstalledTab(self.service, self.icons, self, is_queued=queued)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("tabs")
        self.tabs.setAccessibleName("Extensions Manager tabs")
        self.tabs.setDocumentMode(True)
        for tab, title in ((self.search_tab, "Search"), (self.install_tab, "Install"),
                           (self.restore_tab, "Restore"), (self.installed_tab, "Installed (0)")):
            self.tabs.addTab(tab, title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.banner)
        layout.addWidget(self.loading_label)
        layout.addWidget(self.tabs, 1)
        self.ext_actions = ExtensionActions(self.service, self, in_use=self.in_use, report=self.report,
                                            interactive=self.interactive)
        self.updates = Updates(self.service, self.toolbar, self.install_tab, self.ext_actions, in_use=self.in_use,
                               show_install_tab=lambda: self.set_current_tab("install"),
                               reload=lambda: self.reload(refresh=True))

    def _wire(self) -> None:
        s, t, a = self.service, self.toolbar, self.ext_actions
        s.viewChanged.connect(self._on_view)
        s.busyChanged.connect(self._on_busy)
        s.logMessage.connect(self.install_tab.log)
        s.serverChanged.connect(lambda _url: self.restore_tab.reload())
        t.searchChanged.connect(self._apply_search)
        t.checkUpdatesRequested.connect(self.check_for_updates)
        t.updateAllRequested.connect(self.update_all)
        t.installBookmarkedRequested.connect(self.install_bookmarked)
        t.optionToggled.connect(s.set_option)
        t.serverUrlRequested.connect(self.change_server_url)
        t.editBookmarksRequested.connect(lambda: a.edit_bookmarks(s.view.state.bookmarks if s.view else ()))
        t.reloadRequested.connect(lambda: self.reload(refresh=True))
        t.slicerUpdatesRequested.connect(self.show_slicer_updates)
        self.banner.retryRequested.connect(self._retry_catalog)
        self.search_tab.installRequested.connect(self.install_now)
        self.search_tab.queueRequested.connect(self.add_to_install)
        self.search_tab.bookmarkRequested.connect(a.bookmark)
        self.restore_tab.installRequested.connect(self.install_now)
        self.restore_tab.queueRequested.connect(self._queue_and_show)
        self.restore_tab.removeRequested.connect(self._remove_from_history)
        self.restore_tab.bookmarkRequested.connect(a.bookmark)
        it = self.installed_tab
        it.installRequested.connect(self.install_now)
        it.updateRequested.connect(self.update_extensions)
        it.cancelUpdateRequested.connect(self.updates.cancel)
        it.uninstallRequested.connect(a.uninstall)
        it.cancelUninstallRequested.connect(a.cancel_uninstall)
        it.enableRequested.connect(a.set_enabled)
        it.bookmarkRequested.connect(a.bookmark)
        it.countChanged.connect(lambda n: self.tabs.setTabText(TAB_NAMES.index("installed"), f"Installed ({n})"))
        for tab in (self.search_tab, self.installed_tab, self.restore_tab):
            tab.clearSearchRequested.connect(self.search_box.clear)
        q = self.install_tab.queue
        self.install_tab.countChanged.connect(
            lambda n: self.tabs.setTabText(TAB_NAMES.index("install"), f"Install ({n})" if n else "Install"))
        self.install_tab.sessionFinished.connect(self._on_session_finished)
        q.activityChanged.connect(self._on_activity)
        q.changed.connect(self._update_toolbar)
        q.changed.connect(self.search_tab.refresh_buttons)

    def _shortcuts(self) -> None:
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self, self.focus_search, context=context)
        for keys, step in (("Ctrl+Tab", 1), ("Ctrl+PgDown", 1), ("Ctrl+Shift+Tab", -1), ("Ctrl+Backtab", -1),
                           ("Ctrl+PgUp", -1)):
            QShortcut(QKeySequence(keys), self, lambda s=step: self.switch_tab(s), context=context)
        self.addAction(self.toolbar.reload_action)  # F5 anywhere in the widget

    def focus_chain(self) -> list[QWidget]:
        """Every focusable widget in visual order (Tab follows it; hidden ones are skipped)."""
        chain: list[QWidget] = [*self.toolbar.focus_order(), self.banner.retry_button, self.tabs.tabBar()]
        for tab in (self.search_tab, self.install_tab, self.restore_tab, self.installed_tab):
            chain += tab.focus_order()
        return chain

    def _tab_order(self) -> None:
        chain = self.focus_chain()
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)

    @classmethod
    def from_context(cls, context: Any, parent: QWidget | None = None, **kwargs: Any) -> ExtensionsManagerWidget:
        """A widget for an :class:`~slicer_ext_manager.context.AppContext` (makes the manager)."""
        from ..manager import ExtensionsManager

        return cls(ExtensionsManager(context), parent, **kwargs)

    # -- properties ---------------------------------------------------------------------------------

    @property
    def manager(self) -> Any:
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
        return bool(view is not None and view.state.restart_required)

    @property
    def auto_check_action(self):
        return self.toolbar.auto_check_action

    @property
    def auto_install_action(self):
        return self.toolbar.auto_install_action

    @property
    def auto_deps_action(self):
        return self.toolbar.auto_deps_action

    def in_use(self, name: str) -> bool:
        """Used by the running Slicer: its uninstall and update wait for the next start."""
        if self._is_loaded is not None:
            return bool(self._is_loaded(name))
        state = self.service.view.state.get(name) if self.service.view is not None else None
        return bool(state is not None and state.loaded)

    def current_tab_name(self) -> str:
        return TAB_NAMES[self.tabs.currentIndex()]

    def set_current_tab(self, name: str | None) -> None:
        if name:
            self.tabs.setCurrentIndex(TAB_NAMES.index(name))

    def switch_tab(self, step: int) -> None:
        self.tabs.setCurrentIndex((self.tabs.currentIndex() + step) % self.tabs.count())

    def focus_search(self) -> None:
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    def report(self, text: str) -> None:
        """The outcome of an action, under the Installed list and in the log."""
        self.installed_tab.show_message(text)
        self.install_tab.log(text)

    # -- loading ------------------------------------------------------------------------------------

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if not self._started:
            QTimer.singleShot(30, self, self._start)

    def _start(self) -> None:
        if not self._closed and not self._started:
            self._started = True
            self.reload()

    def reload(self, *, refresh: bool = False) -> None:
        """Load the catalog (cache first) and the restore plan, in the background."""
        self.loading_label.setVisible(True)
        self.service.load(refresh=refresh)
        self.restore_tab.reload()

    def _retry_catalog(self) -> None:
        self.banner.retrying()
        self.reload(refresh=True)

    def _changed_outside(self) -> None:
        """Slicer, the CLI or another dialog changed the profile: show it (read off the GUI thread)."""
        self.service.refresh_view()
        self.restore_tab.reload()

    def _on_view(self, view: ViewData) -> None:
        state = view.state
        empty = view.catalog.status_text() if view.catalog is not None and view.catalog.is_empty else ""
        if not empty and view.catalog is None and view.catalog_error:
            empty = view.catalog_error
        self.search_tab.set_rows(view.search_rows, view.categories, app_revision=state.revision,
                                 loading=view.loading, empty_text=empty, lookup=state.get)
        self.installed_tab.set_rows(view.installed_rows, view.installed_count)
        self.restore_tab.set_state(state)
        self.banner.show_message(view.status_text, retry=bool(view.catalog_error or view.offline))
        self.loading_label.setVisible(view.loading)
        self.toolbar.set_options(state.options)
        self._update_toolbar()
        self.restartStateChanged.emit(state.restart_required)
        self.viewChanged.emit(view)
        if not view.loading:
            self._after_load(view)

    def _after_load(self, view: ViewData) -> None:
        first = not self._catalog_loaded
        self._catalog_loaded = True
        self.updates.loaded(view, first)
        if first:
            self.catalogLoaded.emit()

    def _icon_source(self, name: str) -> tuple[str, str]:
        view = self.service.view
        state = view.state.get(name) if view is not None else None
        return (state.metadata.iconurl, state.icon_file) if state is not None else ("", "")

    def _update_toolbar(self, *_args) -> None:
        view = self.service.view
        handled = self.install_tab.queue.is_handled
        updates = [n for n in (view.updates if view else []) if not self.install_tab.is_queued(n)]
        bookmarks = [n for n in (view.installable_bookmarks if view else []) if not handled(n)]
        self.toolbar.set_counts(updates=len(updates), bookmarks=len(bookmarks),
                                can_check=bool(view and view.state.installed), loading=self.service.loading,
                                busy=self.service.busy)

    def _on_activity(self, activity) -> None:
        self.search_tab.refresh_activity(activity)
        self.installed_tab.refresh_activity(activity)

    def _on_busy(self, busy: bool) -> None:
        self._update_toolbar()
        if not busy:
            self.watcher.resume()
        self.busyChanged.emit(busy)

    # -- search -------------------------------------------------------------------------------------

    def _apply_search(self, text: str) -> None:
        """The search filters the Search, Restore and Installed lists alike (never the queue)."""
        for tab in (self.search_tab, self.installed_tab, self.restore_tab):
            tab.set_filter_text(text)

    # -- installing ---------------------------------------------------------------------------------

    def _auto_install_dependencies(self) -> bool:
        view = self.service.view
        return True if view is None else view.state.options.auto_install_dependencies

    def install_now(self, names: Sequence[str]) -> None:
        """Install ``names`` (with dependencies) now; shows the Install tab."""
        self.install_tab.add_names(names, start=True)
        self.set_current_tab("install")

    def add_to_install(self, names: Sequence[str]) -> None:
        """List ``names`` in the Install tab without starting."""
        self.install_tab.add_names(names)

    def _queue_and_show(self, names: Sequence[str]) -> None:
        self.add_to_install(names)
        self.set_current_tab("install")

    def update_extensions(self, names: Sequence[str]) -> None:
        """Update now, or — for extensions in use — download for the next start."""
        self.updates.update(names)

    def update_all(self) -> None:
        self.updates.update_all()

    def check_for_updates(self) -> None:
        """Ask the server now (catalog refresh); the result is said next to the button."""
        self.updates.check()

    def install_bookmarked(self) -> None:
        view = self.service.view
        if view is not None:
            names = [n for n in view.installable_bookmarks if not self.install_tab.queue.is_handled(n)]
            if names:
                self.install_now(names)

    def _remove_from_history(self, names: Sequence[str]) -> None:
        plan = self.restore_tab.plan
        bookmarked = [c.name for c in plan.candidates if c.bookmarked] if plan else []
        self.ext_actions.remove_from_history(names, bookmarked)

    # -- updates and settings -----------------------------------------------------------------------

    def show_slicer_updates(self) -> None:
        """The Slicer updates dialog (newer Slicer builds, installed with this Slicer's extensions)."""
        from .slicer_updates import SlicerUpdatesDialog

        dialog = SlicerUpdatesDialog(self.manager, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.slicer_updates_dialog = dialog

    def change_server_url(self) -> None:
        if self.service.busy:
            return
        ctx = self.manager.context
        url = prompts.get_server_url(self, ctx.server_url, str(ctx.revision_settings_path),
                                     _server_url_note(ctx.origins.get("server_url", "")))
        if url and url != ctx.server_url:
            self._catalog_loaded = False
            self.service.set_server_url(url, on_error=lambda message: prompts.show_error(self, "Extensions server",
                                                                                         message))

    # -- restart ------------------------------------------------------------------------------------

    @property
    def can_restart(self) -> bool:
        return self.restart_callback is not None or bool(self.slicer_executable)

    def _on_session_finished(self, results: list[JobResult]) -> None:
        self.restore_tab.reload()
        self.sessionFinished.emit(results)
        if not self.interactive:
            return
        failed = restart.failures(results)
        if any(r.restart_required and r.outcome.ok for r in results):
            if prompts.ask_restart(self, restart.restart_text(results), can_restart=self.can_restart,
                                   failures=failed):
                self.restart()
        elif failed:
            prompts.show_failures(self, failed)

    def restart(self) -> bool:
        """Restart: the host's callback, else launch ``slicer_executable``, else explain what to do."""
        ok = restart.restart(self.restart_callback, self.slicer_executable, self)
        if ok and self.restart_callback is None:
            self.install_tab.log(f"Started {self.slicer_executable}.")
            self.restartLaunched.emit()
        return ok

    # -- closing ------------------------------------------------------------------------------------

    def running_operations(self) -> list[str]:
        ops = [f"{'update' if it.kind.is_update else 'install'} {it.name} extension"
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
        """Stop the worker threads, the watcher and image loading (call before destroying an
        embedded widget). Partial downloads nobody can retry any more are deleted first."""
        if self._closed:
            return
        self._closed = True
        self.toolbar.stop()
        self.watcher.stop()
        if not self.service.busy and any(it.state.retryable for it in self.install_tab.items):
            self.install_tab.queue.discard_partial_downloads()
            self.service.wait_idle(10)
        self.icons.shutdown()
        self.images.shutdown()
        self.service.shutdown()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name) - top-level use
        if not self.confirm_close():
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)
