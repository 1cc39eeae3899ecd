"""Keep ``[ExtensionsHistory]`` current for what Slicer's own Extensions Manager does.

Slicer 5.x no longer writes the history, so the next Slicer version's Restore list would be
empty for every extension installed through Slicer itself. :class:`HistorySync` listens to
``slicer.app.extensionsManagerModel()`` (``qSlicerExtensionsManagerModel``, signals with one
``const QString& extensionName``) and records each change exactly as the core's installer does
for its own installs:

====================================================  =====================================================
signal                                                history
====================================================  =====================================================
``extensionInstalled(QString)``, ``extensionUpdated``  ``Revisions/<rev>`` += name (``ExtensionsHistory.add_in``)
``extensionUninstalled(QString)``                      ``Revisions/<rev>`` -= name, not scheduled for removal
``extensionScheduledForUninstall(QString)``            ``ScheduledForRemoval`` += name
``extensionCancelledScheduleForUninstall(QString)``    ``ScheduledForRemoval`` -= name
====================================================  =====================================================

Slicer uninstalls scheduled extensions at startup, before any module can listen, so
:meth:`HistorySync.reconcile` (run once Slicer has started) completes what was scheduled and
adds installed extensions the history lacks. The writes run on a worker lane (disk work never
on Slicer's GUI thread) through the core's ``SettingsFile`` edits: under the settings lock,
journalled, merged with what Slicer itself wrote (``QSettings::sync``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from ..conventions import HISTORY_REVISIONS_GROUP, HISTORY_SCHEDULED_FOR_REMOVAL_KEY
from ..history import ExtensionsHistory
from ..tasks import Task, TaskRunner

if TYPE_CHECKING:  # pragma: no cover
    from ..manager import ExtensionsManager

__all__ = ["HistorySync", "SIGNALS"]

log = logging.getLogger(__name__)

LANE = "settings"

#: model signal -> what it means for the history.
SIGNALS = {
    "extensionInstalled": "installed",
    "extensionUpdated": "installed",
    "extensionUninstalled": "uninstalled",
    "extensionScheduledForUninstall": "scheduled",
    "extensionCancelledScheduleForUninstall": "unscheduled",
}


class HistorySync:
    """Connect with :meth:`connect`; every change is written on the runner's ``settings`` lane."""

    def __init__(self, manager: ExtensionsManager, runner: TaskRunner,
                 on_error: Callable[[str], None] | None = None):
        self.manager = manager
        self.runner = runner
        self.on_error = on_error or (lambda message: log.warning("%s", message))
        self.connected: list[tuple[Any, str, Callable[[str], None]]] = []
        #: (change, name) for each signal received, in order (for the log and the tests).
        self.received: list[tuple[str, str]] = []

    def connect(self, model: Any) -> None:
        """Listen to ``model``'s signals (those it has: older Slicer builds may lack some)."""
        for signal, change in SIGNALS.items():
            source = getattr(model, signal, None)
            if source is None:
                continue
            slot = self._slot(change)
            source.connect(slot)
            self.connected.append((model, signal, slot))

    def disconnect(self) -> None:
        for model, signal, slot in self.connected:
            try:
                getattr(model, signal).disconnect(slot)
            except (RuntimeError, TypeError, ValueError):  # the model is gone (Slicer exiting)
                pass
        self.connected.clear()

    def _slot(self, change: str) -> Callable[[str], None]:
        def slot(name: str) -> None:
            self.record(change, str(name))

        return slot

    def record(self, change: str, name: str) -> Task:
        """Write one change (GUI thread: queued on the worker)."""
        self.received.append((change, name))
        revision = self.manager.context.revision

        def write(_task: Task) -> None:
            with self.manager.context.user_settings.edit() as editor:
                if change == "installed":
                    ExtensionsHistory.add_in(editor, revision, name)
                elif change == "uninstalled":
                    ExtensionsHistory.remove_in(editor, name, revision)
                    self.manager.history.schedule_removal_in(editor, name, False)
                else:
                    self.manager.history.schedule_removal_in(editor, name, change == "scheduled")

        return self.runner.submit(write, name=f"Recording {name} in the extensions history", lane=LANE,
                                  on_error=self.on_error)

    def reconcile(self) -> Task:
        """Once Slicer has started: what Slicer uninstalled at startup leaves the history, and
        installed extensions the history lacks are added."""
        return self.runner.submit(lambda _task: reconcile(self.manager), name="Updating the extensions history",
                                  lane=LANE, on_error=self.on_error)


def reconcile(manager: ExtensionsManager) -> dict[str, list[str]]:
    """Bring this revision's history in line with what is installed (see :meth:`HistorySync.reconcile`).
    Returns ``{"added": [...], "removed": [...]}``."""
    installed = manager.registry.names()
    revision = manager.context.revision
    history = manager.history
    with manager.context.user_settings.edit() as editor:
        current = editor.string_list(f"{HISTORY_REVISIONS_GROUP}/{revision}")
        removed = [n for n in editor.string_list(HISTORY_SCHEDULED_FOR_REMOVAL_KEY) if n not in installed]
        for name in removed:
            ExtensionsHistory.remove_in(editor, name, revision)
            history.schedule_removal_in(editor, name, False)
        added = [n for n in installed if n not in current]
        for name in added:
            ExtensionsHistory.add_in(editor, revision, name)
    return {"added": added, "removed": removed}
