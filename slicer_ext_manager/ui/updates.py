"""Updates in the dialog: "Check for updates" (answered next to the button), "Update all",
"Automatically install updates", and cancelling. An extension in use by the running
Slicer is downloaded for the next start, as Slicer does; others are updated at once."""

from __future__ import annotations

from typing import Callable, Sequence

from .actions import ExtensionActions
from .install_tab import InstallTab
from .service import ExtensionsService, ViewData
from .toolbar import Toolbar


class Updates:
    def __init__(self, service: ExtensionsService, toolbar: Toolbar, install_tab: InstallTab,
                 actions: ExtensionActions, *, in_use: Callable[[str], bool], show_install_tab: Callable[[], None],
                 reload: Callable[[], None]):
        self.service, self.toolbar, self.install_tab, self.actions = service, toolbar, install_tab, actions
        self.in_use = in_use
        self.show_install_tab = show_install_tab
        self.reload = reload
        self._checking = False
        self._auto_done = False

    def check(self) -> None:
        self._checking = True
        self.toolbar.show_update_status("Checking for updates…")
        self.install_tab.log("Checking for updates…")
        self.reload()

    def loaded(self, view: ViewData, first: bool) -> None:
        """The catalog finished loading: answer a check, or install updates automatically."""
        options = view.state.options
        if self._checking:
            self._checking = False
            self._report(view)
        elif first and options.auto_update_check and options.auto_update_install:
            self._auto_install(view)

    def _report(self, view: ViewData) -> None:
        if view.catalog_error or view.offline:
            reason = view.catalog_error or (view.catalog.offline_reason if view.catalog else "")
            self.toolbar.show_update_status(f"The update check failed: {reason}", warning=True)
            self.install_tab.log(f"The update check failed: {reason}")
            return
        updates = view.updates
        if updates:
            text = f"{len(updates)} update{'s' if len(updates) != 1 else ''} available: " + ", ".join(updates)
            self.toolbar.show_update_status(text)
            self.install_tab.log(text)
            if view.state.options.auto_update_install:
                self._auto_install(view)
            return
        n = len(view.state.installed)
        self.toolbar.show_update_status(f"All {n} installed extension{'s are' if n != 1 else ' is'} up to date.")
        self.install_tab.log("All installed extensions are up to date.")

    def _auto_install(self, view: ViewData) -> None:
        names = [n for n in view.updates if not self.install_tab.is_queued(n)]
        if names and not self._auto_done:
            self._auto_done = True
            self.install_tab.log("Installing updates automatically (Automatically install updates is on).")
            self.update(names)

    def update(self, names: Sequence[str]) -> None:
        names = list(names)
        later = [n for n in names if self.in_use(n)]
        now = [n for n in names if n not in later]
        if now:
            self.install_tab.queue_updates(now)
        if later:
            self.install_tab.queue_updates(later, schedule=True)
        if names:
            self.show_install_tab()

    def update_all(self) -> None:
        view = self.service.view
        if view is not None:
            self.update([n for n in view.updates if not self.install_tab.is_queued(n)])

    def cancel(self, names: Sequence[str]) -> None:
        """Stop a running update, or forget a downloaded one (applied at the next start otherwise)."""
        view = self.service.view
        scheduled = []
        for name in names:
            state = view.state.get(name) if view is not None else None
            if state is not None and state.scheduled_update:
                scheduled.append(name)
            else:
                self.install_tab.cancel_name(name)
        if scheduled:
            self.actions.cancel_scheduled_updates(scheduled)
