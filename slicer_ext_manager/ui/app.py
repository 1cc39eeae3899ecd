"""Standalone entry points: the ``gui`` command, and offscreen screenshots."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

from PySide6.QtWidgets import QApplication

from .dialog import ExtensionsManagerDialog, show_extensions_manager
from .icons import app_icon
from .startup import run_startup_check
from .threads import wait_until
from .widget import TAB_NAMES

APP_NAME = "Slicer Extensions Manager"
#: What window titles are suffixed with by the platform ("Restart Slicer — Extensions Manager");
#: the dialog's own title is this, so it is not repeated ("Extensions Manager — Extensions Manager").
DISPLAY_NAME = "Extensions Manager"

__all__ = ["cmd_gui", "configure_application", "render_screenshot", "run_gui"]


def configure_application(app: QApplication) -> None:
    """Names of an application this module created (never of a host's)."""
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(DISPLAY_NAME)
    app.setDesktopFileName("org.slicer_ext_manager.SlicerExtManager")


def _application(offscreen: bool = False) -> tuple[QApplication, bool]:
    """The running QApplication, or a new one (offscreen when asked); (app, created)."""
    app = QApplication.instance()
    if app is not None:
        return app, False  # type: ignore[return-value]
    argv = [sys.argv[0] if sys.argv and sys.argv[0] else "slicer-ext-manager"]
    if offscreen:
        argv += ["-platform", "offscreen"]
    app = QApplication(argv)
    configure_application(app)
    return app, True


def run_gui(manager: Any, *, tab: str | None = None, startup_check: bool = False,
            slicer_executable: str | Path | None = None) -> int:
    """Show the Extensions Manager dialog and run until it is closed (exit code).

    With ``startup_check`` the check runs first with this same manager, which therefore
    knows what Slicer had loaded before the restore: the dialog then says "Install pending
    restart" for what was restored, and Restart is enabled."""
    if tab is not None and tab not in TAB_NAMES:
        raise ValueError(f"tab must be one of {', '.join(TAB_NAMES)}, not {tab!r}")
    app, created = _application()
    app.setWindowIcon(app_icon())
    if startup_check:
        run_startup_check(manager, None, slicer_executable=slicer_executable)
    dialog = show_extensions_manager(manager, None, tab=tab, slicer_executable=slicer_executable)
    if created:
        app.setQuitOnLastWindowClosed(True)
        return int(app.exec())
    dialog.exec()  # inside a host's QApplication: modal until closed
    return 0


def render_screenshot(manager: Any, path: str | Path, *, tab: str = "restore", size: tuple[int, int] = (1100, 720),
                      wait_for_catalog: bool = True, timeout: float = 30,
                      prepare: Callable[[ExtensionsManagerDialog], None] | None = None,
                      ready: Callable[[ExtensionsManagerDialog], bool] | None = None,
                      dialog_options: dict | None = None) -> Path:
    """Render the dialog offscreen to a PNG at ``path`` and return the path.

    Waits until the catalog has loaded (and the restore plan, the icons), then calls
    ``prepare(dialog)`` if given and waits for ``ready(dialog)`` (e.g. a download partway).
    """
    if tab not in TAB_NAMES:
        raise ValueError(f"tab must be one of {', '.join(TAB_NAMES)}, not {tab!r}")
    app, _created = _application(offscreen=True)
    app.setWindowIcon(app_icon())
    dialog = ExtensionsManagerDialog(manager, None, interactive=False, **(dialog_options or {}))
    dialog.resize(*size)
    dialog.set_current_tab(tab)
    dialog.show()
    widget = dialog.widget
    try:
        deadline = time.monotonic() + timeout
        if wait_for_catalog:
            wait_until(lambda: widget.catalog_loaded and widget.restore_tab.loaded, timeout)
        if prepare is not None:
            prepare(dialog)
        if ready is not None:
            wait_until(lambda: ready(dialog), max(0.1, deadline - time.monotonic()))
        # Icons and screenshots requested by the first paint: give them a moment to arrive.
        app.processEvents()
        wait_until(lambda: widget.icons.pending == 0 and widget.images.pending == 0,
                   min(5.0, max(0.1, deadline - time.monotonic())))
        app.processEvents()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        pixmap = dialog.grab()
        if not pixmap.save(str(path), "PNG"):
            raise OSError(f"The screenshot could not be written to {path}.")
        return path
    finally:
        widget.cancel_and_wait(30)
        widget.shutdown()
        dialog.hide()
        dialog.deleteLater()
        app.processEvents()


def cmd_gui(args: argparse.Namespace, manager: Any) -> int:
    """The ``gui`` command: show the dialog; returns the exit code."""
    return run_gui(manager, tab=getattr(args, "tab", None), startup_check=bool(getattr(args, "startup_check", False)),
                   slicer_executable=getattr(args, "slicer_executable", None))
