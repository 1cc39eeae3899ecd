"""The panel's Profiles tab: export what is installed and bookmarked to a file
(``manager.export_profile``), import one: a preview (``manager.plan_profile_import``), then
the install of what is missing, with progress and Cancel."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import qt

from ..profiles import ExtensionsProfile, ImportItem, ImportStatus
from ..queue import QueueEvent
from ..report import OperationReport
from .texts import install_summary
from .widgets import ProgressView, button, label, row, set_sentence

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session

__all__ = ["ProfilesPanel", "import_line", "names_to_install"]

FILE_FILTER = "Extension profiles (*.json);;All files (*)"


def names_to_install(items: list[ImportItem]) -> list[str]:
    """What an import installs (as ``manager.import_profile``): missing ones the catalog has."""
    return [i.name for i in items if not i.installed and i.status in (ImportStatus.INSTALL,
                                                                       ImportStatus.DIFFERENT_REVISION)]


def import_line(item: ImportItem) -> str:
    if item.status == ImportStatus.INSTALLED:
        return f"✓ {item.name}: already installed"
    if item.status == ImportStatus.UNAVAILABLE:
        return f"⊘ {item.name}: not available for this Slicer"
    if item.status == ImportStatus.DIFFERENT_REVISION:
        where = "installed" if item.installed else "available"
        return (f"○ {item.name}: the profile has revision {item.wanted_revision or '?'}, "
                f"{item.available_revision or 'another'} is {where}" + ("" if item.installed else "; it will be installed"))
    return f"○ {item.name}: will be installed"


class ProfilesPanel:
    def __init__(self, session: Session):
        self.session = session
        self.items: list[ImportItem] = []
        self.profile: Optional[ExtensionsProfile] = None
        self._last_result: tuple[str, bool] = ("", False)
        self.widget = session.track(qt.QWidget())
        layout = qt.QVBoxLayout(self.widget)
        layout.addWidget(label("Save the extensions installed in this Slicer, and the bookmarks, to a file; "
                               "install the same set in another Slicer (or on another computer) from it."))
        self.export_path = qt.QLineEdit()
        self.export_path.setPlaceholderText("profile file to write, e.g. extensions.json")
        self.export_button = button("Export", self.export)
        layout.addWidget(label("<b>Export</b>", rich=True))
        layout.addLayout(row(self.export_path, button("Browse…", self._browse_export), self.export_button))
        self.export_result = label()
        self.export_result.setVisible(False)
        layout.addWidget(self.export_result)
        layout.addWidget(label("<b>Import</b>", rich=True))
        self.import_path = qt.QLineEdit()
        self.import_path.setPlaceholderText("profile file to read")
        self.preview_button = button("Preview", self.preview)
        layout.addLayout(row(self.import_path, button("Browse…", self._browse_import), self.preview_button))
        self.preview_list = qt.QListWidget()
        self.preview_list.setAccessibleName("Profile preview")
        self.preview_list.setMinimumHeight(100)
        self.preview_list.setWordWrap(True)
        self.preview_list.setHorizontalScrollBarPolicy(qt.Qt.ScrollBarAlwaysOff)
        layout.addWidget(self.preview_list, 1)
        self.install_button = button("Install from profile", self.install)
        layout.addLayout(row(self.install_button, stretch_at=0))
        self.progress = ProgressView()
        layout.addWidget(self.progress.widget)
        self.import_result = label()
        self.import_result.setVisible(False)
        layout.addWidget(self.import_result)
        self._update_buttons()

    def _browse_export(self) -> None:
        path = qt.QFileDialog.getSaveFileName(self.widget, "Export extensions profile", "extensions.json", FILE_FILTER)
        if path:
            self.export_path.setText(str(path))

    def _browse_import(self) -> None:
        path = qt.QFileDialog.getOpenFileName(self.widget, "Import extensions profile", "", FILE_FILTER)
        if path:
            self.import_path.setText(str(path))
            self.preview()

    # -- export ------------------------------------------------------------------------------------------

    def export(self) -> None:
        text = str(self.export_path.text).strip()
        if not text:
            set_sentence(self.export_result, "Give the file to export to (or choose it with Browse…).", error=True)
            return
        path = Path(text).expanduser()

        def done(profile: ExtensionsProfile) -> None:
            n, b = len(profile.extensions), len(profile.bookmarks)
            set_sentence(self.export_result, f"Exported {n} extension{'s' if n != 1 else ''} and {b} "
                                             f"bookmark{'s' if b != 1 else ''} to {path}.")

        def failed(message: str) -> None:
            set_sentence(self.export_result, f"The profile was not exported: {message}", error=True)

        self.session.read(lambda m: m.export_profile(path), done, failed, name=f"Exporting the profile to {path}")

    # -- import --------------------------------------------------------------------------------------------

    def preview(self) -> None:
        text = str(self.import_path.text).strip()
        if not text:
            set_sentence(self.import_result, "Give the profile file to import (or choose it with Browse…).",
                         error=True)
            return
        path = Path(text).expanduser()
        set_sentence(self.import_result, f"Reading {path}…")
        self.session.read(lambda m: m.plan_profile_import(path), self._previewed, self._preview_failed,
                          name=f"Reading the profile {path}")

    def _previewed(self, value: Any) -> None:
        self.profile, self.items = value[0], list(value[1])
        self.preview_list.clear()
        for item in self.items:
            self.preview_list.addItem(import_line(item))
        n = len(names_to_install(self.items))
        summary = (f"{n} extension{'s' if n != 1 else ''} of this profile will be installed." if n
                   else "Everything of this profile that this Slicer can use is already installed.")
        last, self._last_result = self._last_result, ("", False)
        set_sentence(self.import_result, f"{last[0]}\n{summary}" if last[0] else summary, error=last[1])
        self._update_buttons()

    def _preview_failed(self, message: str) -> None:
        self.items, self.profile = [], None
        self.preview_list.clear()
        set_sentence(self.import_result, f"The profile cannot be imported: {message}", error=True)
        self._update_buttons()

    def install(self) -> None:
        names = names_to_install(self.items)
        if not names:
            return
        if self.session.installing:
            set_sentence(self.import_result, "Another install is running; wait until it has finished, then try "
                                             "again.", error=True)
            return
        handle = self.session.install_names(names, on_event=self._event, on_result=self._installed,
                                            on_error=self._failed)
        self.progress.start(tuple(names), handle)
        set_sentence(self.import_result, "")
        self._update_buttons()

    def _event(self, event: QueueEvent) -> None:
        self.progress.update(event)

    def _installed(self, report: OperationReport) -> None:
        self.progress.finish()
        lines = [install_summary(len(report.failed), len(report.results), report.restart_required, "installed")]
        lines += [f"{r.name}: {r.message}" for r in report.failed]
        self._last_result = ("\n".join(lines), bool(report.failed))
        set_sentence(self.import_result, self._last_result[0], error=self._last_result[1])
        self.items = []
        self._update_buttons()
        self.preview()  # the list now says what is installed; the result stays above the summary

    def _failed(self, message: str) -> None:
        self.progress.finish()
        set_sentence(self.import_result, f"Nothing was installed: {message}", error=True)
        self._update_buttons()

    def _update_buttons(self) -> None:
        n = len(names_to_install(self.items))
        self.install_button.setEnabled(n > 0 and not self.session.installing)
        self.install_button.setText(f"Install from profile ({n})" if n else "Install from profile")
