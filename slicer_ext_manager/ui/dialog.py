"""``ExtensionsManagerDialog`` (title "Extensions Manager"): the widget, a red
``* Restart requested`` label and the **Restart** / **Close** buttons — and
:func:`show_extensions_manager`, which keeps one dialog per host window. The window is
fitted to the screen it opens on (a scale factor can make the default size too large)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QKeyEvent, QPalette
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .icons import app_icon
from .widget import TAB_NAMES, ExtensionsManagerWidget

RESTART_LABEL = "* Restart requested"
DEFAULT_SIZE = (1100, 720)
#: Share of the screen's available area the dialog may take at most.
SCREEN_SHARE = 0.92


def fit_to_screen(window: QWidget, size: tuple[int, int] | QSize, host: QWidget | None = None) -> QSize:
    """Resize ``window`` to ``size``, at most :data:`SCREEN_SHARE` of the available area of
    the screen it opens on (the host's), and centre it there. Returns the size used."""
    wanted = QSize(*size) if isinstance(size, tuple) else QSize(size)
    screen = (host.screen() if host is not None else None) or window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        window.resize(wanted)
        return wanted
    area = screen.availableGeometry()
    fitted = wanted.boundedTo(QSize(int(area.width() * SCREEN_SHARE), int(area.height() * SCREEN_SHARE)))
    window.resize(fitted)
    window.move(area.center().x() - fitted.width() // 2, area.center().y() - fitted.height() // 2)
    return fitted


class ExtensionsManagerDialog(QDialog):
    """The manager as a dialog. The Restart button is enabled when the manager's state says a
    restart is needed (something pending: an install, update, uninstall or enable/disable
    since Slicer loaded its extensions). The buttons are disabled while work runs; closing
    (Close, Esc, the window's button) then asks whether to wait or cancel."""

    def __init__(self, manager, parent: QWidget | None = None, *,
                 restart_callback: Callable[[], None] | None = None,
                 slicer_executable: str | Path | None = None, **widget_options):
        super().__init__(parent)
        self.setWindowTitle("Extensions Manager")
        self.setWindowIcon(app_icon())
        self.setObjectName("ExtensionsManagerDialog")
        self.widget = ExtensionsManagerWidget(manager, self, restart_callback=restart_callback,
                                              slicer_executable=slicer_executable, **widget_options)

        self.restart_label = QLabel(RESTART_LABEL, self)
        self.restart_label.setObjectName("restartLabel")
        self.restart_label.setAccessibleName("Restart requested")
        palette = self.restart_label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, QColor("red"))
        self.restart_label.setPalette(palette)
        self.restart_label.setVisible(False)

        self.button_box = QDialogButtonBox(self)
        self.restart_button = self.button_box.addButton("Restart", QDialogButtonBox.ButtonRole.AcceptRole)
        self.restart_button.setToolTip("Restart Slicer to use the changes")
        self.restart_button.setEnabled(False)
        self.restart_button.setAutoDefault(False)
        self.restart_button.setDefault(False)
        self.close_button = self.button_box.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.setAutoDefault(False)
        self.button_box.accepted.connect(self.restart)
        self.button_box.rejected.connect(self.reject)

        bottom = QHBoxLayout()
        bottom.setContentsMargins(8, 0, 8, 8)
        bottom.addWidget(self.restart_label)
        bottom.addStretch(1)
        bottom.addWidget(self.button_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.widget, 1)
        layout.addLayout(bottom)

        self.widget.busyChanged.connect(lambda busy: self.button_box.setEnabled(not busy))
        self.widget.restartStateChanged.connect(self._update_restart)
        self.widget.restartLaunched.connect(self._restarted)
        QWidget.setTabOrder(self.widget.focus_chain()[-1], self.restart_button)
        QWidget.setTabOrder(self.restart_button, self.close_button)
        fit_to_screen(self, DEFAULT_SIZE, parent)

    @property
    def restart_requested(self) -> bool:
        return self.widget.restart_requested

    def _update_restart(self, *_args) -> None:
        requested = self.widget.restart_requested
        self.restart_label.setVisible(requested)
        self.restart_button.setEnabled(requested)

    def set_current_tab(self, name: str | None) -> None:
        self.widget.set_current_tab(name)

    def restart(self) -> None:
        """The Restart button."""
        if not self.widget.confirm_close():
            return
        if self.widget.restart_callback is not None:
            self._close_now(accepted=True)
            self.widget.restart_callback()
            return
        self.widget.restart()  # launches Slicer (then closes) or explains what to do

    def _restarted(self) -> None:
        self._close_now(accepted=True)

    def _close_now(self, accepted: bool) -> None:
        self.widget.shutdown()
        if accepted:
            super().accept()
        else:
            super().reject()

    def accept(self) -> None:
        self.restart()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt name)
        # Enter in the search box or a list must never press Restart (QDialog's default button).
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not isinstance(self.focusWidget(), QPushButton):
            event.accept()
            return
        super().keyPressEvent(event)

    def reject(self) -> None:
        """Close, Escape and the window's close button: ask when work is running."""
        if not self.widget.confirm_close():
            return
        self._close_now(accepted=False)


_DIALOGS: dict[int, ExtensionsManagerDialog] = {}


def _alive(dialog: ExtensionsManagerDialog) -> bool:
    try:
        return dialog.isVisible()
    except RuntimeError:  # deleted
        return False


def show_extensions_manager(manager, parent: QWidget | None = None, tab: str | None = None,
                            **options) -> ExtensionsManagerDialog:
    """Show the Extensions Manager of host ``parent`` (one dialog per host: an open one is
    raised and reused). ``tab``: ``search``, ``install``, ``restore`` or ``installed``.
    ``options`` go to :class:`ExtensionsManagerDialog` for a new dialog."""
    if tab is not None and tab not in TAB_NAMES:
        raise ValueError(f"tab must be one of {', '.join(TAB_NAMES)}, not {tab!r}")
    key = id(parent) if parent is not None else 0
    dialog = _DIALOGS.get(key)
    if dialog is not None and _alive(dialog):
        dialog.set_current_tab(tab)
        dialog.raise_()
        dialog.activateWindow()
        return dialog
    dialog = ExtensionsManagerDialog(manager, parent, **options)
    _DIALOGS[key] = dialog

    def forget(_result: int, key: int = key, dialog: ExtensionsManagerDialog = dialog) -> None:
        if _DIALOGS.get(key) is dialog:
            _DIALOGS.pop(key, None)
        dialog.deleteLater()

    dialog.finished.connect(forget)
    if parent is not None:
        size = parent.window().size()
        if size.width() > 400 and size.height() > 300:
            fit_to_screen(dialog, size, parent)
    dialog.set_current_tab(tab)
    dialog.setWindowModality(Qt.WindowModality.NonModal)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    dialog.widget.focus_search()
    return dialog
