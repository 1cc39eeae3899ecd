"""The lane's tests run only under PythonQt (``scripts/pythonqt-lane.sh run``); the CPython suite
skips this folder without importing it (its guard plugin, ``lane.py``, refuses PySide6 imports)."""

from slicer_ext_manager.qtbinding import running_in_pythonqt

if not running_in_pythonqt():
    collect_ignore_glob = ["test_*.py", "lane.py"]
else:
    from .slicer_env import slicer_env  # noqa: F401 (the stand-in Slicer, for the module's tests)
