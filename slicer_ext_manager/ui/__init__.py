"""Qt (PySide6) front end of the extensions manager.

Public API::

    ExtensionsManagerWidget(manager, parent=None, *, restart_callback=None, ...)   # embeddable
    ExtensionsManagerDialog(manager, parent=None, *, restart_callback=None, slicer_executable=None, ...)
    show_extensions_manager(manager, parent=None, tab=None, **options) -> ExtensionsManagerDialog
    run_startup_check(manager, parent=None, *, restart_callback=None, slicer_executable=None) -> StartupCheckResult

All disk and network work runs in worker threads; the GUI thread only shows results.
"""

from .dialog import ExtensionsManagerDialog, show_extensions_manager
from .startup import run_startup_check
from .widget import ExtensionsManagerWidget

__all__ = [
    "ExtensionsManagerDialog",
    "ExtensionsManagerWidget",
    "run_startup_check",
    "show_extensions_manager",
]
