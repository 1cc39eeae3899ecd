"""What the module takes from 3D Slicer: the profile of the running Slicer, a GUI timer, the
main window, testing mode, the restart, Slicer's own extensions model. Every call into
``slicer`` the module makes is here (the tests' stand-in provides exactly these).

PythonQt: ``slicer.app``'s Q_PROPERTYs (``revision``, ``os``, ``arch``, ``slicerHome``,
``majorVersion``, ``extensionsInstallPath``, the two settings file paths) are attributes;
``userSettings()``, ``extensionsManagerModel()``, ``testingEnabled()`` are calls
(``qSlicerCoreApplication.h``, ``qSlicerBaseQTCorePythonQtDecorators.h``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any, Callable, Optional

import qt

from ..context import AppContext

__all__ = ["qt_timer_factory", "slicer_context", "SlicerHost"]

log = logging.getLogger(__name__)


class QtTimer:
    """A ``qt.QTimer`` calling ``callback`` on the GUI thread (``tasks.TaskRunner``'s timer);
    :meth:`close` disconnects the Python slot and deletes the timer, so no Python callable stays
    connected to a Qt object once the runner is shut down."""

    def __init__(self, interval_ms: int, callback: Callable[[], object]):
        self.callback = callback
        self.timer: Any = qt.QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.callback)

    def start(self) -> None:
        if self.timer is not None:
            self.timer.start()

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.stop()

    def close(self) -> None:
        timer, self.timer = self.timer, None
        if timer is not None:
            timer.stop()
            timer.timeout.disconnect(self.callback)
            timer.deleteLater()


def qt_timer_factory(interval_ms: int, callback: Callable[[], object]) -> QtTimer:
    return QtTimer(interval_ms, callback)


def prepare_binding() -> None:
    """Make PythonQt's wrappers of ``QSettings`` and ``QLockFile`` on the GUI thread, before any worker
    uses them: PythonQt builds a class's wrapper on first use and parents helper objects to its own
    (GUI-thread) objects, which from a worker thread fails ("QObject::setParent: Cannot set parent,
    new parent is in a different thread") and can crash later. One object of each, no file touched."""
    from .. import qtbinding

    b = qtbinding.binding()
    probe = os.path.join(tempfile.gettempdir(), "slicer-ext-manager-binding-probe")
    b.QSettings(probe + ".ini", b.ini_format).status()
    b.QLockFile(probe + ".lock").error()


def _text(value: Any) -> str:
    """A ``QUrl`` or string as text."""
    to_string = getattr(value, "toString", None)
    return str(to_string() if callable(to_string) else value or "")


def slicer_context(slicer: Any) -> AppContext:
    """The running Slicer's profile, from ``slicer.app`` (no file is read: every value is given).

    The settings are reached by path, not through ``slicer.app.userSettings()``: the module's
    disk work runs on a worker thread, and a ``QSettings`` object may only be used by the
    thread that owns it. Qt shares one in-process copy of each settings file between its
    ``QSettings`` objects (and merges on ``sync()``), so Slicer's own objects see what the
    worker writes at once (``docs/architecture.md``, Decisions)."""
    app = slicer.app
    model = app.extensionsManagerModel()
    server = _text(model.serverUrl()) if model is not None else ""
    return AppContext.resolve(
        user_settings=str(app.slicerUserSettingsFilePath),
        revision_settings=str(app.slicerRevisionUserSettingsFilePath),
        revision=str(app.revision),
        os_name=str(app.os),
        arch=str(app.arch),
        install_path=str(app.extensionsInstallPath),
        server_url=server or None,
        slicer_version=f"{app.majorVersion}.{app.minorVersion}",
        slicer_home=str(app.slicerHome),
    )


class SlicerHost:
    """The running Slicer, as the module uses it."""

    def __init__(self, slicer: Any):
        self.slicer = slicer

    @property
    def app(self) -> Any:
        return self.slicer.app

    def model(self) -> Any:
        """``qSlicerExtensionsManagerModel`` (None when Slicer was built without the manager)."""
        return self.app.extensionsManagerModel()

    def testing(self) -> bool:
        return bool(self.app.testingEnabled())

    def main_window(self) -> Optional[Any]:
        return self.slicer.util.mainWindow()

    def restart(self) -> None:
        """Slicer restarts with the arguments it was started with (``slicer.util.restart``)."""
        self.slicer.util.restart()

    def refresh_settings(self) -> None:
        """Slicer's own settings objects pick up what workers saved (Qt merges its unsaved values)."""
        for name in ("userSettings", "revisionUserSettings"):
            getter = getattr(self.app, name, None)
            settings = getter() if callable(getter) else None
            if settings is not None:
                settings.sync()

    def refresh_model(self) -> None:
        """Make Slicer's Extensions Manager see what the core installed (``updateModel()`` reads
        every ``<Name>.s4ext`` of the install folder again)."""
        model = self.model()
        if model is not None:
            model.updateModel()

    def error(self, text: str, title: str = "Extensions Restore") -> None:
        """A sentence for the user: a popup with a main window, else the log (testing: the log)."""
        self.slicer.util.errorDisplay(text, windowTitle=title)
