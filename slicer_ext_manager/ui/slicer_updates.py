"""The "Slicer updates" dialog: newer Slicer builds, and installing one whose first start
already carries this Slicer's extensions.

A dialog opened from the toolbar rather than a fifth tab: updating Slicer is occasional and
is about the application, not about this Slicer's extensions; the four tabs stay those of
Slicer's own Extensions Manager. Listing, download, install and the extensions run in a
worker thread (:class:`~slicer_ext_manager.ui.worker.WorkerThread`); progress comes back as
queued signals.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..fileutil import human_size
from ..queue import CancelToken, EventKind, InstallQueue, QueueEvent
from ..slicer_builds import SlicerBuild, Stability
from ..slicer_installer import default_destination
from ..slicer_updates import SlicerInstallReport
from .threads import WorkerThread

COLUMNS = ("Version", "Revision", "Kind", "Date", "Size", "")


class _Relay(QObject):
    delivered = Signal(object)


def _cell(text: str, *, align_right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def report_html(report: SlicerInstallReport) -> str:
    """What happened, as the dialog shows it."""
    if report.error:
        return f"<p><b>Slicer was not installed.</b> {html.escape(report.error)}</p>"
    assert report.layout is not None
    parts = [f"<p><b>{html.escape(report.build.label)}</b> was installed into "
             f"<code>{html.escape(str(report.layout.root))}</code>.</p>"]
    ext = report.extensions
    if ext is not None:
        ok = sorted((r.name for r in ext.results if r.outcome.ok), key=str.lower)
        parts.append(f"<p>{len(ok)} extension{'s' if len(ok) != 1 else ''} installed for it"
                     + (": " + html.escape(", ".join(ok)) if ok else "") + ".</p>")
        failed = [r for r in ext.results if not r.outcome.ok]
        if failed:
            parts.append("<p>Not installed:</p><ul>" + "".join(
                f"<li>{html.escape(r.name)}: {html.escape(r.message)}</li>" for r in failed) + "</ul>")
    missing = report.not_available()
    if missing:
        parts.append("<p>Not available for the new Slicer: " + html.escape(", ".join(m["name"] for m in missing))
                     + ".</p>")
    parts.extend(f"<p>{html.escape(w)}</p>" for w in report.warnings)
    return "".join(parts)


class SlicerUpdatesDialog(QDialog):
    """List builds, download and install one, start it."""

    def __init__(self, manager: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.manager = manager
        self.setWindowTitle("Slicer updates")
        self.worker = WorkerThread("slicer-updates", self)
        self._relay = _Relay(self)
        self._relay.delivered.connect(self._on_event)
        self._builds: list[SlicerBuild] = []
        self._token: CancelToken | None = None
        self._report: SlicerInstallReport | None = None
        self._build_ui()
        self.reload()

    # -- layout --------------------------------------------------------------------------------------

    def _build_ui(self) -> None:
        layout = QVBoxLayout(self)
        ctx = self.manager.context
        self.current_label = QLabel(f"This Slicer: revision {ctx.revision} ({ctx.os}/{ctx.arch}), "
                                    f"builds from {ctx.server_url}")
        self.current_label.setWordWrap(True)
        layout.addWidget(self.current_label)
        row = QHBoxLayout()
        row.addWidget(QLabel("Show:"))
        self.stability = QComboBox()
        for text, value in (("Releases", Stability.RELEASE), ("Nightly (preview) builds", Stability.NIGHTLY),
                            ("Releases and nightly builds", Stability.ANY)):
            self.stability.addItem(text, value)
        self.stability.currentIndexChanged.connect(lambda _i: self.reload())
        row.addWidget(self.stability)
        row.addStretch(1)
        layout.addLayout(row)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        layout.addWidget(self.table, 1)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.status)
        dest_row = QHBoxLayout()
        dest_row.addWidget(QLabel("Install into:"))
        self.dest = QLineEdit()
        dest_row.addWidget(self.dest, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        dest_row.addWidget(browse)
        layout.addLayout(dest_row)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        buttons = QDialogButtonBox()
        self.install_button = buttons.addButton("Download and install", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = buttons.addButton("Cancel download", QDialogButtonBox.ButtonRole.ActionRole)
        self.start_button = buttons.addButton("Start the new Slicer", QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.install_button.clicked.connect(self.install_selected)
        self.cancel_button.clicked.connect(self.cancel)
        self.start_button.clicked.connect(self.start_new_slicer)
        self.close_button.clicked.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(720, 480)
        self._update_buttons()

    # -- listing -------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._token is not None

    def selected_build(self) -> SlicerBuild | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        return self._builds[min(rows)] if rows else None

    def reload(self) -> None:
        stability = self.stability.currentData()
        self.status.setText("Looking for Slicer builds…")
        self.worker.submit(lambda: self.manager.slicer_updates.builds(stability, include_all=True),
                           self._show_builds, self._show_error)

    def _show_builds(self, builds: list[SlicerBuild]) -> None:
        self._builds = list(builds)
        self.table.setRowCount(len(builds))
        for row, b in enumerate(builds):
            mark = "current" if b.current else ("newer" if b.newer else "")
            cells = (b.version, b.revision, b.stability.value, b.build_date[:10], human_size(b.size) if b.size else "",
                     mark)
            for col, text in enumerate(cells):
                self.table.setItem(row, col, _cell(text, align_right=col == 4))
        self.table.resizeColumnsToContents()
        newer = [i for i, b in enumerate(builds) if b.newer]
        if newer:
            self.table.selectRow(newer[0])
            self.status.setText(f"{len(newer)} build{'s are' if len(newer) != 1 else ' is'} newer than this Slicer.")
        else:
            self.status.setText("This Slicer is up to date: no newer build is available." if builds
                                else "The server lists no Slicer build for this platform.")
        self._update_buttons()

    def _show_error(self, message: str) -> None:
        self.status.setText(html.escape(message))
        self._update_buttons()

    def _update_buttons(self) -> None:
        build = self.selected_build()
        self.install_button.setEnabled(build is not None and not self.busy and not build.current)
        self.cancel_button.setVisible(self.busy)
        self.start_button.setVisible(self._report is not None and self._report.layout is not None)
        self.stability.setEnabled(not self.busy)
        if build is not None and not self.busy:
            self.dest.setPlaceholderText(str(default_destination(build, self.manager.context.slicer_home)))

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Install the new Slicer into")
        if folder:
            build = self.selected_build()
            name = default_destination(build, None).name if build is not None else "Slicer"
            self.dest.setText(str(Path(folder) / name))

    # -- installing ----------------------------------------------------------------------------------

    def install_selected(self) -> None:
        build = self.selected_build()
        if build is None or self.busy:
            return
        dest = Path(self.dest.text().strip()) if self.dest.text().strip() else None
        self._token = CancelToken()
        queue = InstallQueue()
        token = self._token
        relay = self._relay

        def run() -> SlicerInstallReport:
            def listener(event: QueueEvent) -> None:  # the worker thread: only emit
                relay.delivered.emit(event)
                if token.cancelled:
                    queue.cancel_all()

            return self.manager.slicer_updates.install(build, dest=dest, listener=listener, queue=queue)

        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.status.setText(f"Downloading {html.escape(build.label)}…")
        self._update_buttons()
        self.worker.submit(run, self._installed, self._install_failed)

    def cancel(self) -> None:
        if self._token is not None:
            self._token.cancel()
            self.status.setText("Cancelling…")

    @Slot(object)
    def _on_event(self, event: QueueEvent) -> None:
        if event.kind == EventKind.PROGRESS and event.size:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * event.done / event.size))
            self.progress.setFormat(f"{event.name}: {event.phase.value} {human_size(event.done)} of "
                                    f"{human_size(event.size)}")
        elif event.kind == EventKind.PHASE and event.message:
            self.status.setText(html.escape(event.message))

    def _installed(self, report: SlicerInstallReport) -> None:
        self._token = None
        self._report = report
        self.progress.setVisible(False)
        self.status.setText(report_html(report))
        self._update_buttons()

    def _install_failed(self, message: str) -> None:
        self._token = None
        self.progress.setVisible(False)
        self.status.setText(f"<p><b>Slicer was not installed.</b> {html.escape(message)}</p>")
        self._update_buttons()

    def start_new_slicer(self) -> None:
        report = self._report
        if report is None or report.layout is None:
            return
        from ..slicer_installer import Runner

        (self.manager.slicer_updates.runner or Runner()).launch(report.layout.launch_command())
        self.status.setText(f"Started {html.escape(str(report.layout.executable))}.")

    def reject(self) -> None:
        if self.busy:
            self.cancel()
            return
        self.worker.shutdown(wait=False)
        super().reject()
