"""Every modal question the Extensions Manager asks, in one place (tests and hosts can
replace these functions). Texts follow Slicer's where Slicer has one (reference §5.4,
§5.9, §5.11, §5.12). Message boxes are made wide enough for their titles."""

from __future__ import annotations

import html
from typing import Sequence

from PySide6.QtGui import QFontMetrics, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QInputDialog,
    QMessageBox,
    QSizePolicy,
    QSpacerItem,
    QWidget,
)

from ..conventions import ARCHIVE_FILE_FILTER
from ..history import parse_bookmarks_text
from .server_dialog import ServerUrlDialog

__all__ = ["ServerUrlDialog"]

#: "Install from file...": the package formats the core accepts (``conventions``), then any file.
ARCHIVE_FILTER = ARCHIVE_FILE_FILTER + ";;All files (*)"
RESTART_INSTRUCTIONS = "Close Slicer and start it again to load the changes."
LIST_LIMIT = 12


def _html_list(names: Sequence[str]) -> str:
    shown = "".join(f"<li>{html.escape(n)}</li>" for n in names[:LIST_LIMIT])
    more = f"<li>… and {len(names) - LIST_LIMIT} more</li>" if len(names) > LIST_LIMIT else ""
    return f"<ul>{shown}{more}</ul>"


def title_width(box: QWidget, title: str) -> int:
    """Pixels the title needs in the window's title bar (with the application's suffix)."""
    name = QGuiApplication.applicationDisplayName()
    shown = title if not name or title.endswith(name) else f"{title} — {name}"
    return QFontMetrics(box.font()).horizontalAdvance(shown) + 160  # buttons and margins of the title bar


def message_box(parent: QWidget | None, title: str, icon: QMessageBox.Icon, text: str,
                informative: str = "") -> QMessageBox:
    """A QMessageBox at least as wide as its title (window managers cut long titles)."""
    box = QMessageBox(parent)
    box.setWindowTitle(title)
    box.setIcon(icon)
    box.setText(text)
    if informative:
        box.setInformativeText(informative)
    layout = box.layout()
    if isinstance(layout, QGridLayout):
        spacer = QSpacerItem(title_width(box, title), 0, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding)
        layout.addItem(spacer, layout.rowCount(), 0, 1, layout.columnCount())
    return box


def dependencies_question_text(name: str, dependencies: Sequence[str]) -> str:
    return (f"<p>{html.escape(name)} depends on the following extensions:</p>{_html_list(dependencies)}"
            "<p>Would you like to install them now?</p>")


def ask_install_dependencies(parent: QWidget | None, name: str, dependencies: Sequence[str]) -> bool:
    """Slicer's "Install dependencies" question (asked when AutoInstallDependencies is off)."""
    answer = QMessageBox.question(parent, "Install dependencies", dependencies_question_text(name, dependencies),
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes


def failures_text(failures: Sequence[tuple[str, str]]) -> str:
    """The failed items of a batch, each with its reason, and what to do."""
    if not failures:
        return ""
    lines = [f"- {name}: {reason}" for name, reason in failures[:LIST_LIMIT]]
    if len(failures) > LIST_LIMIT:
        lines.append(f"- … and {len(failures) - LIST_LIMIT} more")
    which = "it" if len(failures) == 1 else "them"
    return ("Not installed:\n" + "\n".join(lines)
            + f"\n\nSelect {which} in the Install tab and click Retry to try again.")


def ask_restart(parent: QWidget | None, text: str, *, can_restart: bool,
                failures: Sequence[tuple[str, str]] = ()) -> bool:
    """"Restart now / Later" at the end of a batch; True = restart now. Failures of the
    batch are named too. When Slicer cannot be restarted from here, say what to do instead."""
    failed = failures_text(failures)
    informative = "Slicer must be restarted to use the changes. Restart now?" if can_restart else RESTART_INSTRUCTIONS
    box = message_box(parent, "Restart Slicer", QMessageBox.Icon.Warning if failed else QMessageBox.Icon.Information,
                      text, informative)
    if failed:
        box.setInformativeText(failed + "\n\n" + informative)
    if not can_restart:
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.exec()
        return False
    restart = box.addButton("Restart now", QMessageBox.ButtonRole.AcceptRole)
    later = box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(restart)
    box.setEscapeButton(later)
    box.exec()
    return box.clickedButton() is restart


def show_failures(parent: QWidget | None, failures: Sequence[tuple[str, str]]) -> None:
    """The end of a batch where something failed and nothing needs a restart."""
    box = message_box(parent, "Extensions not installed", QMessageBox.Icon.Warning,
                      "Some extensions could not be installed.", failures_text(failures))
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.exec()


def show_restart_instructions(parent: QWidget | None) -> None:
    box = message_box(parent, "Restart Slicer", QMessageBox.Icon.Information, RESTART_INSTRUCTIONS)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.exec()


def ask_cancel_running(parent: QWidget | None, operations: Sequence[str]) -> bool:
    """Closing while work runs: True = cancel it and close, False = keep waiting."""
    listed = "".join(f"\n- {op}" for op in operations[:LIST_LIMIT])
    more = f"\n- … and {len(operations) - LIST_LIMIT} more" if len(operations) > LIST_LIMIT else ""
    box = message_box(parent, "Extensions Manager", QMessageBox.Icon.Warning,
                      "Install/uninstall/update operations are still in progress:" + listed + more,
                      "Wait for them to complete, or cancel them and close the Extensions Manager.")
    wait = box.addButton("Wait", QMessageBox.ButtonRole.RejectRole)
    cancel = box.addButton("Cancel operations and close", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(wait)
    box.setEscapeButton(wait)
    box.exec()
    return box.clickedButton() is cancel


def ask_uninstall(parent: QWidget | None, now: Sequence[str], at_restart: Sequence[str]) -> bool:
    """"Uninstall X?" — saying which are removed now and which when Slicer restarts."""
    names = list(now) + list(at_restart)
    title = f"Uninstall {names[0]}?" if len(names) == 1 else f"Uninstall {len(names)} extensions?"
    parts = []
    if at_restart:
        parts.append(("In use by the running Slicer, removed when Slicer restarts (until then you can "
                      "cancel the uninstall):") + _html_list(at_restart))
    if now:
        parts.append("Removed now:" + _html_list(now))
    box = message_box(parent, "Uninstall extensions", QMessageBox.Icon.Question, html.escape(title),
                      "".join(parts))
    uninstall = box.addButton("Uninstall", QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton("Keep", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    box.exec()
    return box.clickedButton() is uninstall


def ask_remove_from_history(parent: QWidget | None, names: Sequence[str]) -> bool:
    title = f"Remove {names[0]} from the history?" if len(names) == 1 else \
        f"Remove {len(names)} extensions from the history?"
    box = message_box(parent, "Remove from history", QMessageBox.Icon.Question, html.escape(title),
                      "They are removed from the history of previous Slicer versions and from the bookmarks, "
                      "so the Restore tab no longer offers them." + _html_list(names))
    remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton("Keep", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    box.exec()
    return box.clickedButton() is remove


def startup_question_text(count: int) -> str:
    if count == 1:
        return "1 compatible extension from a previous Slicer installation was found. Install it now?"
    return f"{count} compatible extensions from a previous Slicer installation were found. Install them now?"


def ask_startup_restore(parent: QWidget | None, names: Sequence[str]) -> tuple[bool, bool]:
    """The startup popup: (install now, don't ask again)."""
    box = message_box(parent, "Restore extensions", QMessageBox.Icon.Question, startup_question_text(len(names)),
                      "Extensions: " + ", ".join(names) + "\n\nFor details see: Extensions Manager > Restore.")
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


def get_server_url(parent: QWidget | None, current: str, settings_file: str, note: str = "") -> str | None:
    """The server URL dialog (validated as the manager will validate it); None = cancelled."""
    dialog = ServerUrlDialog(parent, current, settings_file, note)
    return dialog.url() if dialog.exec() else None


def edit_bookmarks(parent: QWidget | None, names: Sequence[str]) -> list[str] | None:
    """Slicer's "Edit bookmarks…": one name per line; separated by spaces, commas or
    semicolons on the way back (``history.parse_bookmarks_text``). None = cancelled."""
    text, ok = QInputDialog.getMultiLineText(parent, "Bookmarked extensions", "List of bookmarked extensions:",
                                             "\n".join(names))
    return parse_bookmarks_text(text) if ok else None


def get_archive_files(parent: QWidget | None) -> list[str]:
    files, _ = QFileDialog.getOpenFileNames(parent, "Select extension archive file(s)...", "", ARCHIVE_FILTER)
    return list(files or [])


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    box = message_box(parent, title, QMessageBox.Icon.Warning, text)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.exec()
