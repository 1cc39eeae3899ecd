"""The panel's Slicer updates tab (issue #16's Slicer face): "A newer Slicer is available" when
``manager.slicer_updates.builds()`` finds one (asked off the GUI thread, once per session), and
the ``install-slicer`` flow: download with progress and Cancel, install beside this Slicer,
this Slicer's extensions installed for it, then "Start the new Slicer"."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import qt

from ..fileutil import human_size
from ..queue import EventKind, QueueEvent
from ..slicer_builds import SlicerBuild
from ..slicer_installer import Runner, default_destination
from ..slicer_updates import SlicerInstallReport
from .texts import slicer_install_text
from .widgets import button, label, row, set_sentence

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session

__all__ = ["SlicerUpdatesPanel"]


class SlicerUpdatesPanel:
    def __init__(self, session: Session):
        self.session = session
        self.report: Optional[SlicerInstallReport] = None
        self.widget = session.track(qt.QWidget())
        layout = qt.QVBoxLayout(self.widget)
        ctx = session.manager.context
        self.current = label(f"This Slicer: {ctx.slicer_version or ''} revision {ctx.revision} ({ctx.os}/{ctx.arch}).")
        self.status = label("Not checked yet.", style="font-weight: bold;")
        self.status.setObjectName("slicerUpdateStatus")
        self.explanation = label("The new Slicer is installed beside this one (this one is not changed), and the "
                                 "extensions of this Slicer are installed for it before its first start.")
        self.builds = qt.QComboBox()
        self.builds.setAccessibleName("Newer Slicer builds")
        self.builds.currentIndexChanged.connect(lambda *_a: self._update_buttons())
        self.dest = qt.QLineEdit()
        self.install_button = button("Download and install", self.install,
                                     "Install it beside this Slicer (this one is not changed), with this Slicer's "
                                     "extensions installed for it")
        self.cancel_button = button("Cancel", self.cancel)
        self.start_button = button("Start the new Slicer", self.start_new_slicer)
        self.check_button = button("Check again", lambda: self.check(refresh=True))
        self.bar = qt.QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setVisible(False)
        self.result = label()
        self.result.setVisible(False)
        layout.addWidget(self.current)
        layout.addWidget(self.status)
        layout.addWidget(self.explanation)
        layout.addWidget(self.builds)
        layout.addWidget(label("Install into:"))
        layout.addWidget(self.dest)
        layout.addLayout(row(self.install_button, self.cancel_button, stretch_at=2))
        layout.addWidget(self.bar)
        layout.addWidget(self.result)
        layout.addLayout(row(self.start_button, self.check_button, stretch_at=1))
        layout.addStretch(1)
        self.handle: Any = None
        self._update_buttons()

    # -- checking --------------------------------------------------------------------------------------------

    def check(self, *, refresh: bool = False) -> None:
        self.status.setText("Looking for a newer Slicer…")
        self.check_button.setEnabled(False)
        self.session.slicer_builds(self._show_builds, refresh=refresh)

    def _show_builds(self) -> None:
        s = self.session
        self.builds.clear()
        newer = [b for b in (s.builds or []) if b.newer]
        for b in newer:
            self.builds.addItem(f"{b.label}" + (f", {human_size(b.size)}" if b.size else ""))
        if s.builds is None:
            set_sentence(self.status, f"Slicer updates could not be checked: {s.builds_error}", error=True, bold=True)
        elif newer:
            set_sentence(self.status, f"A newer Slicer is available: {newer[0].label}.", bold=True)
        else:
            set_sentence(self.status, "This Slicer is up to date: no newer release is available for "
                                      f"{s.manager.context.os}/{s.manager.context.arch}.", bold=True)
        self.check_button.setEnabled(True)
        self._update_buttons()

    def newer_builds(self) -> list[SlicerBuild]:
        return [b for b in (self.session.builds or []) if b.newer]

    def selected_build(self) -> Optional[SlicerBuild]:
        builds = self.newer_builds()
        index = int(self.builds.currentIndex)
        return builds[index] if 0 <= index < len(builds) else None

    # -- installing ----------------------------------------------------------------------------------------

    def install(self) -> None:
        build = self.selected_build()
        if build is None or self.handle is not None:
            return
        if self.session.installing:
            set_sentence(self.result, "Another install is running; wait until it has finished, then try again.",
                         error=True)
            return
        text = str(self.dest.text).strip()
        dest = Path(text).expanduser() if text else None

        def work(manager: Any, queue: Any, listener: Any) -> SlicerInstallReport:
            return manager.slicer_updates.install(build, dest=dest, listener=listener, queue=queue)

        self.report = None
        self.handle = self.session.run_install(work, on_event=self._event, on_result=self._installed,
                                               on_error=self._failed, name=f"Installing {build.label}")
        self.bar.setValue(0)
        self.bar.setVisible(True)
        set_sentence(self.result, f"Downloading {build.label}…")
        self._update_buttons()

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            set_sentence(self.result, "Cancelling…")

    def _event(self, event: QueueEvent) -> None:
        if event.kind == EventKind.PROGRESS and event.size:
            self.bar.setValue(int(1000 * event.done / event.size))
            self.bar.setFormat(f"{event.name}: {event.phase.value} {human_size(event.done)} of "
                               f"{human_size(event.size)}")
        elif event.kind in (EventKind.PHASE, EventKind.STARTED) and event.message:
            set_sentence(self.result, event.message)

    def _installed(self, report: SlicerInstallReport) -> None:
        self.handle = None
        self.report = report
        self.bar.setVisible(False)
        set_sentence(self.result, slicer_install_text(report), error=bool(report.error))
        self._update_buttons()

    def _failed(self, message: str) -> None:
        self.handle = None
        self.bar.setVisible(False)
        set_sentence(self.result, f"Slicer was not installed: {message}", error=True)
        self._update_buttons()

    def start_new_slicer(self) -> None:
        report = self.report
        if report is None or report.layout is None:
            return
        runner = self.session.manager.slicer_updates.runner or Runner()
        try:
            runner.launch(report.layout.launch_command())
        except OSError as exc:
            set_sentence(self.result, f"The new Slicer could not be started ({exc.strerror or exc}); start it "
                                      f"yourself: {report.layout.executable}", error=True)
            return
        set_sentence(self.result, f"Started {report.layout.executable}. You can close this Slicer.")

    def _update_buttons(self) -> None:
        build = self.selected_build()
        busy = self.handle is not None
        self.builds.setVisible(bool(self.newer_builds()))
        self.install_button.setEnabled(build is not None and not busy)
        self.cancel_button.setVisible(busy)
        self.start_button.setVisible(self.report is not None and self.report.layout is not None)
        if build is not None:
            self.dest.setPlaceholderText(str(default_destination(build, self.session.manager.context.slicer_home)))
