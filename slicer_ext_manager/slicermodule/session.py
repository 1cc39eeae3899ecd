"""One session per Slicer process: the core manager for the running Slicer, the background
runner, the history sync, the startup check and the Slicer-updates cache. The module class
creates it when Slicer loads the module (before any panel is shown); the panel reuses it.

Every network and disk operation runs on the runner's lanes: ``install`` (installs, one at a
time), ``settings`` (history and option writes), ``read`` (plans, catalogs, Slicer builds).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from ..manager import ExtensionsManager
from ..queue import InstallQueue, QueueEvent
from ..report import OperationReport
from ..slicer_builds import SlicerBuild, Stability
from ..state import Option
from ..tasks import Task, TaskRunner, TimerFactory
from .history_sync import LANE as SETTINGS_LANE
from .history_sync import HistorySync
from .host import SlicerHost, prepare_binding, qt_timer_factory, slicer_context

__all__ = ["Session", "InstallHandle", "get_session", "reset_session"]

log = logging.getLogger(__name__)

INSTALL_LANE = "install"
READ_LANE = "read"

_SESSION: Optional[Session] = None


class InstallHandle:
    """A running install: its task, and cancel (which reaches the core's queue at once)."""

    def __init__(self, task: Task, queue: InstallQueue):
        self.task = task
        self.queue = queue

    def cancel(self) -> None:
        self.task.cancel()
        self.queue.cancel_all()

    @property
    def finished(self) -> bool:
        return self.task.finished


class Session:
    """What the module keeps for the whole Slicer session."""

    def __init__(self, slicer: Any, *, manager: Optional[ExtensionsManager] = None,
                 timer_factory: Optional[TimerFactory] = None):
        prepare_binding()
        self.host = SlicerHost(slicer)
        self.manager = manager or ExtensionsManager(slicer_context(slicer))
        # Workers write the settings files through their own QSettings objects (saved by rename):
        # Slicer's long-lived objects re-read them after each task, so its view never goes stale.
        self.runner = TaskRunner(timer_factory or qt_timer_factory,
                                 after_task=lambda _task: self.host.refresh_settings())
        self.history_sync = HistorySync(self.manager, self.runner, on_error=self.report_error)
        self.install: Optional[InstallHandle] = None
        #: Called (GUI thread) after an install or history change, so every panel reloads.
        self.changed_listeners: list[Callable[[], None]] = []
        self.builds: Optional[list[SlicerBuild]] = None
        self.builds_error = ""
        self._builds_waiting: list[Callable[[], None]] = []
        self.startup: Any = None
        self.started = False
        #: The panels' top widgets: deleted at :meth:`close`, which lets go of the Python slots
        #: connected to them (PythonQt keeps those alive for as long as the C++ objects live).
        self.widgets: list[Any] = []
        self._connections: list[tuple[Any, Callable[[], None]]] = []

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Listen to Slicer's extensions model; run the startup work once Slicer has started."""
        if self.started:
            return
        self.started = True
        model = self.host.model()
        if model is not None:
            self.history_sync.connect(model)
        self._connect(self.host.app.startupCompleted, self.on_startup_completed)
        about_to_quit = getattr(self.host.app, "aboutToQuit", None)
        if about_to_quit is not None:  # stop the workers and let go of Slicer's signals before Qt goes
            self._connect(about_to_quit, self.close)

    def _connect(self, signal: Any, slot: Callable[[], None]) -> None:
        signal.connect(slot)
        self._connections.append((signal, slot))

    def on_startup_completed(self) -> None:
        from .startup import StartupCheck

        self.history_sync.reconcile()
        self.startup = StartupCheck(self)
        self.startup.run()

    def track(self, widget: Any) -> Any:
        self.widgets.append(widget)
        return widget

    def close(self) -> None:
        """Slicer quits (or the module is reloaded): cancel what runs, stop the workers, disconnect."""
        self.history_sync.disconnect()
        connections, self._connections = self._connections, []
        for signal, slot in connections:
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError, ValueError):  # the application is already gone
                pass
        if self.install is not None and not self.install.finished:
            self.install.cancel()
        self.runner.shutdown()
        widgets, self.widgets = self.widgets, []
        for widget in reversed(widgets):
            try:
                if widget.parent() is None:  # ours alone (Slicer deletes what sits in its module panel)
                    delete = getattr(widget, "delete", None)  # PythonQt: delete the C++ object now
                    (delete or widget.deleteLater)()
            except ValueError:  # already deleted with its parent
                pass

    def report_error(self, message: str) -> None:
        log.warning("%s", message)

    # -- background work ---------------------------------------------------------------------------

    def read(self, fn: Callable[[ExtensionsManager], Any], on_result: Callable[[Any], None],
             on_error: Callable[[str], None], name: str = "") -> Task:
        """``fn(manager)`` on the read lane."""
        return self.runner.submit(lambda _task: fn(self.manager), name=name, lane=READ_LANE,
                                  on_result=on_result, on_error=on_error)

    def write_settings(self, fn: Callable[[ExtensionsManager], Any], on_done: Callable[[], None] | None = None,
                       name: str = "Saving the setting") -> Task:
        """``fn(manager)`` on the settings lane; ``on_done()`` once it succeeded (a failure is shown)."""
        def succeeded(_value: Any) -> None:
            if on_done is not None:
                on_done()

        return self.runner.submit(lambda _task: fn(self.manager), name=name, lane=SETTINGS_LANE,
                                  on_result=succeeded, on_error=lambda message: self.host.error(message))

    def set_option(self, option: Option, value: bool, on_done: Callable[[], None] | None = None) -> Task:
        return self.write_settings(lambda m: m.set_option(option, value), on_done)

    def run_install(self, work: Callable[[ExtensionsManager, InstallQueue, Callable[[QueueEvent], None]], Any],
                    *, on_event: Callable[[QueueEvent], None], on_result: Callable[[Any], None],
                    on_error: Callable[[str], None], name: str = "Installing extensions") -> InstallHandle:
        """``work(manager, queue, listener)`` on the install lane; afterwards Slicer's model is
        updated and every panel told (GUI thread)."""
        queue = InstallQueue()

        def run(task: Task) -> Any:
            return work(self.manager, queue, task.emit)

        task = self.runner.submit(run, name=name, lane=INSTALL_LANE, on_event=on_event, on_result=on_result,
                                  on_error=on_error, on_done=self.after_changes)
        self.install = InstallHandle(task, queue)
        return self.install

    def install_names(self, names: list[str], *, on_event: Callable[[QueueEvent], None],
                      on_result: Callable[[OperationReport], None], on_error: Callable[[str], None]) -> InstallHandle:
        """Install ``names`` and their dependencies with the core's installer (sha512-verified,
        transactional), one at a time."""
        return self.run_install(lambda m, q, listener: m.install(list(names), listener=listener, queue=q),
                                on_event=on_event, on_result=on_result, on_error=on_error)

    @property
    def installing(self) -> bool:
        return self.install is not None and not self.install.finished

    def after_changes(self) -> None:
        """GUI thread, after the core changed the install folder: Slicer's model reads it again."""
        try:
            self.host.refresh_model()
        except Exception as exc:  # Slicer's model must not make the install look failed
            log.warning("Slicer's extensions list could not be refreshed: %s", exc)
        for listener in list(self.changed_listeners):
            listener()

    # -- Slicer application updates (cached for the session) -----------------------------------------------

    def slicer_builds(self, done: Callable[[], None], *, refresh: bool = False) -> None:
        """Newer Slicer releases for this platform, asked once per session (off the GUI thread);
        ``done()`` when :attr:`builds` (or :attr:`builds_error`) is known."""
        if self.builds is not None and not refresh:
            done()
            return
        self._builds_waiting.append(done)
        if len(self._builds_waiting) > 1:
            return

        def found(builds: list[SlicerBuild]) -> None:
            self.builds, self.builds_error = list(builds), ""
            self._notify_builds()

        def failed(message: str) -> None:
            self.builds, self.builds_error = None, message
            self._notify_builds()

        self.read(lambda m: m.slicer_updates.builds(Stability.RELEASE), found, failed,
                  name="Looking for a newer Slicer")

    def _notify_builds(self) -> None:
        waiting, self._builds_waiting = self._builds_waiting, []
        for done in waiting:
            done()


def get_session(slicer: Any) -> Session:
    """The session of this Slicer process (created on first use)."""
    global _SESSION
    if _SESSION is None:
        _SESSION = Session(slicer)
    return _SESSION


def reset_session(session: Optional[Session] = None) -> None:
    """Forget the session (tests; module reload); ``session`` becomes the current one."""
    global _SESSION
    if _SESSION is not None and _SESSION is not session:
        _SESSION.close()
    _SESSION = session
