"""Small PythonQt building blocks of the module's panel (``import qt``: Slicer's binding).

PythonQt: Qt properties are attributes (``label.text``, ``box.checked``), calls take no keyword
arguments, enums are ints, and a Python callable connects to a signal with more arguments
than it takes (``button.clicked.connect(fn)``)."""

from __future__ import annotations

from typing import Any, Callable, Optional

import qt

from ..queue import QueueEvent
from .progress import InstallProgress

__all__ = ["ProgressView", "button", "flags", "label", "row"]

WARNING_STYLE = "color: #bd8530;"
ERROR_STYLE = "color: #c62828;"


def flags(*values: Any) -> int:
    """Qt flags or'ed together (PythonQt enums are ints)."""
    result = 0
    for value in values:
        result |= int(value)
    return result


def label(text: str = "", *, style: str = "", rich: bool = False) -> Any:
    widget = qt.QLabel(text)
    widget.setWordWrap(True)
    widget.setTextFormat(qt.Qt.RichText if rich else qt.Qt.PlainText)
    if style:
        widget.setStyleSheet(style)
    return widget


def button(text: str, on_click: Callable[[], None], tooltip: str = "") -> Any:
    widget = qt.QPushButton(text)
    if tooltip:
        widget.setToolTip(tooltip)
    widget.clicked.connect(lambda *_args: on_click())
    return widget


def row(*widgets: Any, stretch_at: Optional[int] = None) -> Any:
    layout = qt.QHBoxLayout()
    for i, w in enumerate(widgets):
        if stretch_at == i:
            layout.addStretch(1)
        layout.addWidget(w)
    if stretch_at is not None and stretch_at >= len(widgets):
        layout.addStretch(1)
    return layout


def set_sentence(widget: Any, text: str, *, error: bool = False, bold: bool = False) -> None:
    """Show ``text`` (hidden when empty); errors in red."""
    widget.setStyleSheet((ERROR_STYLE if error else "") + (" font-weight: bold;" if bold else ""))
    widget.setText(text)
    widget.setVisible(bool(text))


class ProgressView:
    """Overall progress bar, the current item and a Cancel button, for one install at a time."""

    def __init__(self) -> None:
        self.widget = qt.QWidget()
        layout = qt.QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        self.bar = qt.QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setAccessibleName("Overall progress")
        self.status = label()
        self.cancel_button = button("Cancel", self.cancel, "Stop after the current step; nothing half-installed "
                                                           "is kept")
        layout.addWidget(self.bar)
        layout.addLayout(row(self.status, self.cancel_button))
        self.widget.setVisible(False)
        self.progress: Optional[InstallProgress] = None
        self.handle: Any = None

    def start(self, names: tuple[str, ...], handle: Any) -> InstallProgress:
        self.progress = InstallProgress(names)
        self.handle = handle
        self.bar.setValue(0)
        self.status.setText("Preparing…")
        self.cancel_button.setEnabled(True)
        self.widget.setVisible(True)
        return self.progress

    def update(self, event: QueueEvent) -> None:
        if self.progress is None:
            return
        self.progress.update(event)
        self.bar.setValue(int(1000 * self.progress.overall))
        self.status.setText(self.progress.status)

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.status.setText("Cancelling…")
            self.cancel_button.setEnabled(False)

    def finish(self) -> None:
        self.handle = None
        self.widget.setVisible(False)
