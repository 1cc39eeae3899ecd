"""The startup check inside Slicer: once Slicer has started, offer (or, silently, install) the
compatible extensions of the previous Slicer version, then offer to restart.

* Nothing pops up in ``--testing`` (``slicer.app.testingEnabled()``) or when there is
  nothing to do; the check is asked off the GUI thread (``manager.startup_check``, whose
  ``timeout`` bounds the request to a slow server);
* with candidates: "N compatible extensions from a previous Slicer installation were found.
  Install them now?" with "Don't ask again" (which turns "Check previous extensions on
  startup" off); with "Install previous extensions without asking" on, no question;
* without a main window (``--no-main-window``) nothing can be asked: the silent setting
  decides, and what happened goes to the log;
* the install shows its progress (cancellable), then the restart prompt; "Restart now"
  calls ``slicer.util.restart()``.

Every popup is opened without blocking (``open()``, answered through ``finished``), so the
GUI thread never waits in a nested loop and tests answer them through :attr:`StartupCheck.prompt`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Optional

import qt

from ..report import OperationReport
from ..restore import StartupCheckResult
from ..state import Option
from .progress import InstallProgress
from .texts import install_summary, startup_question
from .widgets import flags

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session

__all__ = ["StartupCheck"]

log = logging.getLogger(__name__)

TITLE = "Restore extensions"


class StartupCheck:
    """One run of the startup check; :attr:`outcome` says how it ended (for the log and tests)."""

    def __init__(self, session: Session, *, timeout: float = 5.0):
        self.session = session
        self.host = session.host
        self.timeout = timeout
        self.outcome = "pending"
        self.result: Optional[StartupCheckResult] = None
        self.report: Optional[OperationReport] = None
        self.names: list[str] = []
        self.prompt: Any = None
        self.progress_dialog: Any = None
        self.progress: Optional[InstallProgress] = None
        self.message = ""

    def _end(self, outcome: str, message: str = "") -> None:
        self.outcome = outcome
        self.message = message or self.message
        if self.message:
            log.info("Extensions Restore: %s", self.message)

    def run(self) -> None:
        if self.host.testing():
            self._end("testing", "the startup check does not run in testing mode.")
            return
        timeout = self.timeout

        def check(manager):
            return manager.startup_check(install=False, timeout=timeout), manager.options().install_without_asking

        self.outcome = "checking"
        self.session.read(check, self._checked, self._failed, name="Checking for extensions to restore")

    def _failed(self, message: str) -> None:
        self._end("failed", f"The startup check could not run: {message}")

    def _checked(self, value: tuple[StartupCheckResult, bool]) -> None:
        result, silent = value
        self.result = result
        if not result.checked or not result.candidates:
            self._end("nothing", result.message)
            return
        self.names = [c.name for c in result.candidates]
        window = self.host.main_window()
        if window is None:
            if silent:
                self._install(None)
            else:
                self._end("not asked", f"{result.message} Slicer has no main window to ask in, and "
                                       "\"Install previous extensions without asking\" is off.")
            return
        if silent:
            self._install(window)
        else:
            self._ask(window)

    # -- the question -------------------------------------------------------------------------------

    def _ask(self, window: Any) -> None:
        box = qt.QMessageBox(window)
        box.setWindowTitle(TITLE)
        box.setIcon(qt.QMessageBox.Question)
        box.setText(startup_question(len(self.names)))
        box.setInformativeText("Extensions: " + ", ".join(self.names)
                               + "\n\nFor details see: Modules > Extensions Restore.")
        box.setStandardButtons(flags(qt.QMessageBox.Yes, qt.QMessageBox.No))
        box.setDefaultButton(qt.QMessageBox.Yes)
        dont_ask = qt.QCheckBox("Don't ask again")
        box.setCheckBox(dont_ask)
        box.finished.connect(lambda _code: self._answered(box, dont_ask))
        self.prompt = box
        self.outcome = "asking"
        box.open()

    def _answered(self, box: Any, dont_ask: Any) -> None:
        clicked = box.clickedButton()
        yes = clicked is not None and box.standardButton(clicked) == qt.QMessageBox.Yes
        self.prompt = None
        box.deleteLater()
        if dont_ask.checked:
            self.session.set_option(Option.CHECK_ON_STARTUP, False)
        if yes:
            self._install(self.host.main_window())
        else:
            self._end("declined", "The extensions of the previous Slicer were not restored.")

    # -- installing ---------------------------------------------------------------------------------

    def _install(self, window: Any) -> None:
        self.progress = InstallProgress(tuple(self.names))
        self.outcome = "installing"
        handle = self.session.install_names(self.names, on_event=self._event, on_result=self._installed,
                                            on_error=self._install_failed)
        if window is not None:
            dialog = qt.QProgressDialog("Preparing…", "Cancel", 0, 1000, window)
            dialog.setWindowTitle(TITLE)
            dialog.setWindowModality(qt.Qt.WindowModal)
            dialog.setMinimumDuration(0)
            dialog.setAutoClose(False)
            dialog.setAutoReset(False)
            dialog.canceled.connect(handle.cancel)
            dialog.show()
            self.progress_dialog = dialog

    def _event(self, event: Any) -> None:
        assert self.progress is not None
        self.progress.update(event)
        dialog = self.progress_dialog
        if dialog is not None:
            dialog.setLabelText(self.progress.status)
            dialog.setValue(int(1000 * self.progress.overall))

    def _close_progress(self) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.close()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None

    def _install_failed(self, message: str) -> None:
        self._close_progress()
        self._end("failed", f"The extensions were not restored: {message}")
        self.host.error(self.message, TITLE)

    def _installed(self, report: OperationReport) -> None:
        self._close_progress()
        self.report = report
        failed = "; ".join(f"{r.name}: {r.message}" for r in report.failed)
        message = install_summary(len(report.failed), len(report.results), report.restart_required)
        if failed:
            message = f"{message} ({failed})"
        window = self.host.main_window()
        if report.restart_required and window is not None:
            self._ask_restart(window, message)
        else:
            self._end("installed", message)

    def _ask_restart(self, window: Any, message: str) -> None:
        box = qt.QMessageBox(window)
        box.setWindowTitle(TITLE)
        box.setIcon(qt.QMessageBox.Information)
        box.setText(message)
        box.setInformativeText("Restart Slicer now to load them?")
        box.setStandardButtons(flags(qt.QMessageBox.Yes, qt.QMessageBox.No))
        box.button(qt.QMessageBox.Yes).setText("Restart now")
        box.button(qt.QMessageBox.No).setText("Later")
        box.setDefaultButton(qt.QMessageBox.Yes)
        box.finished.connect(lambda _code: self._restart_answered(box))
        self.prompt = box
        self.message = message
        self.outcome = "asking restart"
        box.open()

    def _restart_answered(self, box: Any) -> None:
        clicked = box.clickedButton()
        restart = clicked is not None and box.standardButton(clicked) == qt.QMessageBox.Yes
        self.prompt = None
        box.deleteLater()
        if restart:
            self._end("restarting")
            self.host.restart()
        else:
            self._end("installed", self.message + " Restart Slicer later to use them.")
