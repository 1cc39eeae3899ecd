"""pytest plugin of the PythonQt lane (``-p tests.pythonqt.lane`` in ``tests/pythonqt/lane.ini``).

* The lane runs only under PythonQt (``pythonqt-run``), in a virtualenv without PySide6.
* Every import of another Qt binding (PySide6, shiboken6, PySide2, PyQt5/6) is refused and
  recorded, even when the importer catches the ``ImportError``: the test that caused it fails
  (at teardown, with the importing line), and so does the session if such a module is in
  ``sys.modules`` at the end. Inside Slicer a second Qt in the process would crash it.
"""

from __future__ import annotations

import importlib.abc
import importlib.metadata
import sys
import traceback
from typing import Any

import pytest

FORBIDDEN = ("PySide6", "shiboken6", "PySide2", "shiboken2", "PyQt5", "PyQt6")
FORBIDDEN_DISTRIBUTIONS = ("pyside6", "pyside6-essentials", "pyside6-addons", "shiboken6", "pyqt5", "pyqt6")


def _forbidden(name: str) -> bool:
    return name.split(".", 1)[0] in FORBIDDEN


class _BindingGuard(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.attempts: list[str] = []

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if _forbidden(fullname):
            frames = [f for f in traceback.extract_stack()[:-1] if "importlib" not in f.filename]
            where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
            self.attempts.append(f"{fullname} (imported at {where})")
            raise ImportError(f"{fullname} must not be imported under PythonQt (tests/pythonqt/lane.py)")
        return None


GUARD = _BindingGuard()
if "PythonQt" in sys.builtin_module_names:  # never in a PySide6 process (pytest_configure refuses it)
    sys.meta_path.insert(0, GUARD)


def loaded_forbidden_modules() -> list[str]:
    return sorted(m for m in sys.modules if _forbidden(m))


def pytest_configure(config: pytest.Config) -> None:
    from slicer_ext_manager import qtbinding

    if not qtbinding.running_in_pythonqt():
        raise pytest.UsageError("the PythonQt lane runs under pythonqt-run: bash scripts/pythonqt-lane.sh run")
    installed = sorted({(d.metadata["Name"] or "").lower() for d in importlib.metadata.distributions()}
                       & set(FORBIDDEN_DISTRIBUTIONS))
    if installed:
        raise pytest.UsageError(f"the lane's virtualenv ({sys.prefix}) must not have {', '.join(installed)}")


def pytest_report_header(config: pytest.Config) -> str:
    import qt

    return (f"PythonQt lane: Qt {qt.qVersion()} through PythonQt, Python {sys.version.split()[0]}, "
            f"venv {sys.prefix}; {', '.join(FORBIDDEN)} refused")


@pytest.fixture(autouse=True)
def _no_other_qt_binding():
    before = len(GUARD.attempts)
    yield
    new = GUARD.attempts[before:]
    loaded = loaded_forbidden_modules()
    if new or loaded:
        pytest.fail(f"another Qt binding was imported under PythonQt: {'; '.join(new) or ', '.join(loaded)}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    loaded = loaded_forbidden_modules()
    if loaded or GUARD.attempts:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = ("PythonQt lane FAILED: another Qt binding was imported: "
                   + "; ".join(GUARD.attempts or loaded))
        if reporter is not None:
            reporter.write_line(message, red=True)
        else:
            print(message, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
