"""The "Server URL…" dialog: the URL is checked while it is typed, with the manager's own
rule (:func:`~slicer_ext_manager.network.validate_server_url`), and the dialog says
exactly what will be written and where."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from ..conventions import SERVER_URL_KEY
from ..errors import ExtensionManagerError
from ..manager import validate_server_url

WARNING = "#bd8530"


class ServerUrlDialog(QDialog):
    def __init__(self, parent: QWidget | None, current: str, settings_file: str, note: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Extensions server")
        self.setObjectName("serverUrlDialog")
        self._settings_file = settings_file
        self._url = ""
        label = QLabel("&Server URL:", self)
        self.edit = QLineEdit(current, self)
        self.edit.setAccessibleName("Server URL")
        self.edit.setPlaceholderText("https://slicer-packages.kitware.com")
        self.edit.setMinimumWidth(420)
        label.setBuddy(self.edit)
        self.status = QLabel(self)
        self.status.setObjectName("serverUrlStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setMinimumHeight(self.status.fontMetrics().lineSpacing() * 4)  # the longest sentence fits
        self.note = QLabel(note, self)
        self.note.setWordWrap(True)
        self.note.setVisible(bool(note))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel,
                                        self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Save")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.edit)
        layout.addWidget(self.status)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        self.edit.textChanged.connect(self._check)
        self._check(current)

    def _check(self, text: str) -> None:
        try:
            self._url = validate_server_url(text)
        except ExtensionManagerError as exc:
            self._url = ""
            self.status.setText(f"<span style='color:{WARNING}'>{html.escape(str(exc))}</span>")
        else:
            self.status.setText(f"Saving writes <code>{SERVER_URL_KEY}={html.escape(self._url)}</code> to "
                                f"<code>{html.escape(self._settings_file)}</code> (this Slicer revision's settings); "
                                "the catalog is then loaded from that server.")
        self.ok_button.setEnabled(bool(self._url))

    def url(self) -> str:
        """The URL as it will be stored ("" while it is not valid)."""
        return self._url

    def accept(self) -> None:
        if self._url:
            super().accept()
