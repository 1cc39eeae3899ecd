"""Every modal question the Extensions Manager asks, in one place (tests and hosts can
replace these functions). Texts follow Slicer's where Slicer has one (reference §5.4,
§5.11, §5.12)."""

from __future__ import annotations

import html
from typing import Sequence

from PySide6.QtWidgets import QCheckBox, QFileDialog, QInputDialog, QLineEdit, QMessageBox, QWidget

#: Slicer's filter for "Install from file..." (reference §4.2 / §5.5).
ARCHIVE_FILTER = "Archives (*.zip *.7z *.tar *.tar.gz *.tgz *.tar.bz2 *.tar.xz);;All files (*)"
RESTART_INSTRUCTIONS = "Close Slicer and start it again to load the changes."


def _html_list(names: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in names) + "</ul>"


def dependencies_question_text(name: str, dependencies: Sequence[str]) -> str:
    return (f"<p>{html.escape(name)} depends on the following extensions:</p>{_html_list(dependencies)}"
            "<p>Would you like to install them now?</p>")


def ask_install_dependencies(parent: QWidget | None, name: str, dependencies: Sequence[str]) -> bool:
    """Slicer's "Install dependencies" question (asked when AutoInstallDependencies is off)."""
    answer = QMessageBox.question(parent, "Install dependencies", dependencies_question_text(name, dependencies),
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes


def ask_restart(parent: QWidget | None, text: str, *, can_restart: bool) -> bool:
    """"Restart now / Later" at the end of a batch; True = restart now.

    When the application cannot be restarted from here, say precisely what to do instead."""
    box = QMessageBox(parent)
    box.setWindowTitle("Restart Slicer")
    box.setIcon(QMessageBox.Icon.Information)
    if can_restart:
        box.setText(text)
        box.setInformativeText("Slicer must be restarted to use the changes. Restart now?")
        restart = box.addButton("Restart now", QMessageBox.ButtonRole.AcceptRole)
        later = box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(restart)
        box.setEscapeButton(later)
        box.exec()
        return box.clickedButton() is restart
    box.setText(text)
    box.setInformativeText(RESTART_INSTRUCTIONS)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.exec()
    return False


def show_restart_instructions(parent: QWidget | None) -> None:
    QMessageBox.information(parent, "Restart Slicer", RESTART_INSTRUCTIONS)


def ask_cancel_running(parent: QWidget | None, operations: Sequence[str]) -> bool:
    """Closing while work runs: True = cancel it and close, False = keep waiting."""
    box = QMessageBox(parent)
    box.setWindowTitle("Extensions Manager")
    box.setIcon(QMessageBox.Icon.Warning)
    listed = "".join(f"\n- {op}" for op in operations[:12])
    more = f"\n- … and {len(operations) - 12} more" if len(operations) > 12 else ""
    box.setText("Install/uninstall/update operations are still in progress:" + listed + more)
    box.setInformativeText("Wait for them to complete, or cancel them and close the Extensions Manager.")
    wait = box.addButton("Wait", QMessageBox.ButtonRole.RejectRole)
    cancel = box.addButton("Cancel operations and close", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(wait)
    box.setEscapeButton(wait)
    box.exec()
    return box.clickedButton() is cancel


def startup_question_text(count: int) -> str:
    if count == 1:
        return "1 compatible extension from a previous Slicer installation was found. Install it now?"
    return f"{count} compatible extensions from a previous Slicer installation were found. Install them now?"


def ask_startup_restore(parent: QWidget | None, names: Sequence[str]) -> tuple[bool, bool]:
    """The startup popup: (install now, don't ask again)."""
    box = QMessageBox(parent)
    box.setWindowTitle("Restore extensions")
    box.setIcon(QMessageBox.Icon.Question)
    box.setText(startup_question_text(len(names)))
    box.setInformativeText("Extensions: " + ", ".join(names)
                           + "\n\nFor details see: Extensions Manager > Restore.")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.setDefaultButton(QMessageBox.StandardButton.Yes)
    dont_ask = QCheckBox("Don't ask again")
    dont_ask.setAccessibleName("Don't ask again")
    box.setCheckBox(dont_ask)
    answer = box.exec()
    clicked = box.clickedButton()
    yes = (clicked is not None and box.standardButton(clicked) == QMessageBox.StandardButton.Yes) or \
        answer == QMessageBox.StandardButton.Yes
    return yes, dont_ask.isChecked()


def get_server_url(parent: QWidget | None, current: str) -> str | None:
    text, ok = QInputDialog.getText(parent, "Extensions server",
                                    "Server URL (Extensions/ServerUrl of this Slicer revision):",
                                    QLineEdit.EchoMode.Normal, current)
    text = (text or "").strip()
    return text if ok and text else None


def get_archive_files(parent: QWidget | None) -> list[str]:
    files, _ = QFileDialog.getOpenFileNames(parent, "Select extension archive file(s)...", "", ARCHIVE_FILTER)
    return list(files or [])


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    QMessageBox.warning(parent, title, text)
