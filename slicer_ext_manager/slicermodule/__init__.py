"""The in-Slicer face: the "Extensions Restore" scripted module (PythonQt, ``import qt``) on the core.

Pure Python (importable anywhere; tested in both suites): ``package`` (the Slicer extension
package builder), ``progress`` (an install's progress), ``history_sync`` (the extensions
history kept for what Slicer's own manager does), ``texts`` (what the panel says).
PythonQt only (they ``import qt``; inside Slicer, or the lane's stand-in for it): ``host``
(every call into ``slicer``), ``session``, ``startup``, ``widgets``, ``panel`` and its tabs
``restore_panel``, ``profiles_panel``, ``updates_panel``. ``module/ExtensionsRestore.py`` is the
module file Slicer loads; ``vendor/`` holds the wheels vendored into the package.
Never PySide6: the dialog in ``ui/`` stays out of Slicer.
"""
