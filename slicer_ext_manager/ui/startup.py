"""The startup popup (Slicer 4.10–5.0.2's restore check, which Slicer itself never enabled):
a host calls :func:`run_startup_check` once its main window is up."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from ..errors import ExtensionManagerError
from ..queue import EventKind, InstallQueue, QueueEvent
from ..restore import StartupCheckResult
from ..state import Option
from . import prompts, restart
from .threads import WorkerThread, run_in_thread, wait_until

__all__ = ["run_startup_check", "StartupCheckResult"]


class _Relay(QObject):
    queue_event = Signal(object)


class _Progress(QObject):
    """Shows the queue's events in a QProgressDialog (GUI thread)."""

    def __init__(self, dialog: QProgressDialog, queue: InstallQueue):
        super().__init__(dialog)
        self.dialog = dialog
        self.queue = queue
        self.total = 0
        self.index = 0
        dialog.canceled.connect(self._cancel)

    @Slot()
    def _cancel(self) -> None:
        self.queue.cancel_all()
        self.dialog.setLabelText("Cancelling…")

    @Slot(object)
    def on_event(self, event: QueueEvent) -> None:
        if event.kind == EventKind.STARTED:
            self.index, self.total = event.index, event.total
            self.dialog.setLabelText(f"Installing {event.name} ({event.index}/{event.total})")
        elif event.kind == EventKind.PROGRESS and self.total:
            part = (event.done / event.size) if event.size else 0.0
            self.dialog.setValue(int(1000 * ((self.index - 1) + part) / self.total))
        elif event.kind == EventKind.FINISHED and self.total:
            self.dialog.setValue(int(1000 * self.index / self.total))


def _install_with_progress(manager, names: list[str], parent: QWidget | None):
    relay = _Relay()
    queue = InstallQueue(relay.queue_event.emit)
    dialog = QProgressDialog("Preparing…", "Cancel", 0, 1000, parent)
    dialog.setWindowTitle("Restoring extensions")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.setAccessibleName("Restore progress")
    progress = _Progress(dialog, queue)
    relay.queue_event.connect(progress.on_event)
    dialog.show()
    worker = WorkerThread("startup-restore")
    box: dict[str, object] = {}
    worker.submit(lambda: manager.install(names, listener=relay.queue_event.emit, queue=queue),
                  lambda report: box.__setitem__("report", report),
                  lambda error: box.__setitem__("error", error))
    try:
        wait_until(lambda: bool(box))
    finally:
        worker.shutdown()
        dialog.setValue(1000)
        dialog.close()
        dialog.deleteLater()
    if "error" in box:
        raise ExtensionManagerError(str(box["error"]))
    return box["report"]


def _check(manager: Any) -> tuple[StartupCheckResult, bool]:
    """(what the check found, install without asking) — in a worker thread."""

    def check() -> tuple[StartupCheckResult, bool]:
        # What the running Slicer loaded is taken before the restore changes anything, so the
        # dialog opened afterwards with this manager says "Install pending restart".
        manager.loaded_set()
        result = manager.startup_check(install=False)
        return result, manager.options().install_without_asking

    return run_in_thread(check, name="startup-check")


def _asked_yes(manager: Any, parent: QWidget | None, names: list[str]) -> bool:
    """The startup question; "Don't ask again" turns the check off."""
    yes, dont_ask = prompts.ask_startup_restore(parent, names)
    if dont_ask:
        try:
            run_in_thread(lambda: manager.set_option(Option.CHECK_ON_STARTUP, False), name="startup-options")
        except ExtensionManagerError as exc:
            prompts.show_error(parent, "Restore extensions", f"“Don't ask again” could not be saved: {exc}")
    return yes


def _restored(report: Any) -> str:
    if report.ok:
        return "All extensions restored. Please restart Slicer."
    failed = "; ".join(f"{r.name}: {r.message}" for r in report.failed)
    return f"{len(report.failed)} of {len(report.results)} extensions could not be restored ({failed})."


def run_startup_check(manager: Any, parent: QWidget | None = None, *,
                      restart_callback: Callable[[], None] | None = None,
                      slicer_executable: str | Path | None = None,
                      interactive: bool = True) -> StartupCheckResult:
    """Check (in a worker thread) for extensions of the previous Slicer to restore.

    Honours ``ExtensionCheckOnStartup/dontCheck``. When candidates exist: with "Install
    previous extensions without asking" on, installs them at once; otherwise asks
    "N compatible extensions from a previous Slicer installation were found. Install them
    now?" (with "Don't ask again", which turns the check off). Installs run in a worker
    with a progress dialog; then the restart prompt. The GUI stays responsive throughout.
    """
    try:
        result, silent = _check(manager)
    except ExtensionManagerError as exc:
        return StartupCheckResult(False, str(exc))
    if not result.checked or not result.candidates:
        return result
    names = [c.name for c in result.candidates]
    if not silent and (not interactive or not _asked_yes(manager, parent, names)):
        return result if not interactive else StartupCheckResult(
            True, "The extensions of the previous Slicer were not restored.", result.plan, False)
    try:
        report = _install_with_progress(manager, names, parent)
    except ExtensionManagerError as exc:
        if interactive:
            prompts.show_error(parent, "Restore extensions", str(exc))
        return StartupCheckResult(True, str(exc), result.plan, silent)
    final = StartupCheckResult(True, _restored(report), result.plan, silent, report)
    if interactive and report.restart_required:
        can_restart = restart_callback is not None or bool(slicer_executable)
        if prompts.ask_restart(parent, final.message, can_restart=can_restart,
                               failures=[(r.name, r.message) for r in report.failed]):
            restart.restart(restart_callback, slicer_executable, parent)
    return final
