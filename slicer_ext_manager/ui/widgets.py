"""Small widgets shared by the tabs: the filter status ("2 of 40 shown — clear") and the
catalog banner with its Retry button."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class FilterStatus(QLabel):
    """How many rows the search shows, with a link that clears the search."""

    clearRequested = Signal()

    def __init__(self, noun: str = "extensions", parent: QWidget | None = None, *, show_total: bool = True):
        super().__init__(parent)
        self.noun = noun
        self.show_total = show_total
        self.setObjectName("filterStatus")
        self.setAccessibleName("Search results")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                     | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.linkActivated.connect(lambda _link: self.clearRequested.emit())
        self.shown = self.total = 0
        self.filtering = False

    def set_counts(self, shown: int, total: int, filtering: bool) -> None:
        self.shown, self.total, self.filtering = shown, total, filtering
        if filtering and total:
            self.setText(f"{shown} of {total} shown — <a href='clear'>clear</a>")
            self.setToolTip("The search box filters this list; click “clear” to show everything.")
            self.setVisible(True)
        else:
            self.setText(html.escape(f"{total} {self.noun}") if total else "")
            self.setToolTip("")
            self.setVisible(self.show_total and bool(total))

    @property
    def plain_text(self) -> str:
        return self.text().replace("<a href='clear'>", "").replace("</a>", "")


class Banner(QFrame):
    """A sentence about the catalog (offline, failed, empty) and, when it failed, Retry."""

    retryRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("catalogBanner")
        self.setStyleSheet("QFrame#catalogBanner { border: 1px solid #bd8530; border-radius: 4px;"
                           " background: palette(alternate-base); }")
        self.label = QLabel(self)
        self.label.setAccessibleName("Catalog status")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("&Retry", self)
        self.retry_button.setToolTip("Ask the extensions server again")
        self.retry_button.clicked.connect(self.retryRequested.emit)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.setVisible(False)

    def text(self) -> str:
        return self.label.text()

    def show_message(self, text: str, *, retry: bool) -> None:
        self.label.setText(text)
        self.retry_button.setVisible(retry)
        self.retry_button.setEnabled(True)
        self.setVisible(bool(text))

    def retrying(self) -> None:
        self.retry_button.setEnabled(False)
        self.label.setText(self.label.text() + " Retrying…" if not self.label.text().endswith("Retrying…")
                           else self.label.text())
