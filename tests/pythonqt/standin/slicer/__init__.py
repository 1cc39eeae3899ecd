"""Stand-in for 3D Slicer's ``slicer`` package in the PythonQt lane (see ``../README.md``).

``slicer.app`` is set by :func:`slicer.app_standin.install` (a fresh application per test);
``slicer.util`` and ``slicer.ScriptedLoadableModule`` are modules of their own, as in Slicer.
"""

from . import util  # noqa: F401

#: The running application (``qSlicerApplication``): set by ``app_standin.install``.
app = None
#: Module name -> runTest, filled by ``ScriptedLoadableModule.__init__`` (Slicer's ``slicer.selfTests``).
selfTests: dict = {}
