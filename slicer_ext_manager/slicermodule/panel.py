"""The Extensions Restore module's panel: three tabs (Restore, Profiles, Slicer updates) on
one :class:`~slicer_ext_manager.slicermodule.session.Session`. The module's widget class adds
:attr:`ExtensionsRestorePanel.widget` to its layout and calls :meth:`load`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import qt

from .profiles_panel import ProfilesPanel
from .restore_panel import RestorePanel
from .updates_panel import SlicerUpdatesPanel

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session

__all__ = ["ExtensionsRestorePanel"]


class ExtensionsRestorePanel:
    def __init__(self, session: Session):
        self.session = session
        self.widget = session.track(qt.QWidget())
        self.widget.setObjectName("ExtensionsRestorePanel")
        layout = qt.QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        self.tabs = qt.QTabWidget()
        self.restore = RestorePanel(session)
        self.profiles = ProfilesPanel(session)
        self.updates = SlicerUpdatesPanel(session)
        self.tabs.addTab(self.restore.widget, "Restore")
        self.tabs.addTab(self.profiles.widget, "Profiles")
        self.tabs.addTab(self.updates.widget, "Slicer updates")
        layout.addWidget(self.tabs)
        self._listener = self._changed
        session.changed_listeners.append(self._listener)

    def load(self) -> None:
        """Start loading what the tabs show (off the GUI thread); each tab fills in when ready."""
        self.restore.reload()
        self.updates.check()

    def _changed(self) -> None:
        # An install finished (here, at startup, or in another tab): the Restore list is stale.
        if not self.restore.loading:
            self.restore.reload()

    def close(self) -> None:
        if self._listener in self.session.changed_listeners:
            self.session.changed_listeners.remove(self._listener)
