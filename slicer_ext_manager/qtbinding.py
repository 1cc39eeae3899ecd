"""The core's one Qt-binding seam: ``QSettings`` and ``QLockFile`` from the binding the
process has — PythonQt's ``qt`` inside 3D Slicer (Qt 5.15), PySide6 everywhere else.

Qt's own ``QSettings`` is the only exact writer of the INI syntax Slicer reads, and
``QLockFile`` is the lock Qt itself takes on those files, so the core keeps them; no
other core module imports a binding (``tests/test_qtbinding.py`` checks it). The
binding is imported on first use, not when this module is: a command that reads no
setting never loads Qt.

The two bindings differ in ways that matter here (``shared/tools/pythonqt/README.md``):

* PythonQt has no keyword arguments for C++ calls (``value(key, default, type=list)``);
  string lists come back as tuples, and an in-process value keeps its C++ type;
* PythonQt writes a one-item Python list as a ``QVariantList`` (``@Variant(...)``),
  where C++ and PySide6 write a ``QStringList`` as the plain string: one-item lists
  are therefore written as their string, which gives Qt's exact bytes in both;
* enums are ints in PythonQt, enum members in PySide6: statuses and lock errors are
  mapped to :class:`SettingsStatus` and :class:`LockError`;
* Qt 5 (every Slicer release through 5.12) writes non-ASCII as ``\\xNNNN`` escapes by
  itself; Qt 6 writes UTF-8, so only then does ``settings.py`` add Qt 5's escapes.
"""

from __future__ import annotations

import enum
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

PYSIDE6 = "PySide6"
PYTHONQT = "PythonQt"
#: Forces a binding (tests of the seam itself); normally the process decides.
BINDING_ENV = "SLICER_EXT_MANAGER_QT_BINDING"


class SettingsStatus(enum.Enum):
    OK = "ok"
    ACCESS_ERROR = "access error"
    FORMAT_ERROR = "format error"


class LockError(enum.Enum):
    NONE = "none"
    #: Another process (or object) holds the lock.
    LOCK_FAILED = "lock failed"
    #: The lock file cannot be created: read-only folder, permissions.
    PERMISSION = "permission"
    #: Anything else Qt reports (disk full...).
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Binding:
    """The classes and constants of one binding."""

    name: str
    qt_version: str
    QSettings: Any
    QLockFile: Any
    ini_format: Any
    statuses: tuple[Any, Any, Any]  # NoError, AccessError, FormatError
    lock_errors: tuple[Any, Any, Any]  # NoError, LockFailedError, PermissionError

    @property
    def qt_major(self) -> int:
        return int(self.qt_version.split(".", 1)[0])

    @property
    def writes_qt5_escapes(self) -> bool:
        """Qt 5's INI writer escapes non-ASCII itself (no second pass needed)."""
        return self.qt_major == 5


def running_in_pythonqt() -> bool:
    """True inside 3D Slicer's embedded Python (or ``pythonqt-run``)."""
    return "PythonQt" in sys.modules or "PythonQt" in sys.builtin_module_names


def _load_pythonqt() -> Binding:
    import qt  # PythonQt (Slicer's binding)

    return Binding(
        PYTHONQT, str(qt.qVersion()), qt.QSettings, qt.QLockFile, qt.QSettings.IniFormat,
        (qt.QSettings.NoError, qt.QSettings.AccessError, qt.QSettings.FormatError),
        (qt.QLockFile.NoError, qt.QLockFile.LockFailedError, qt.QLockFile.PermissionError),
    )


def _load_pyside6() -> Binding:
    from PySide6 import QtCore

    s, lf = QtCore.QSettings, QtCore.QLockFile
    return Binding(
        PYSIDE6, QtCore.qVersion(), s, lf, s.Format.IniFormat,
        (s.Status.NoError, s.Status.AccessError, s.Status.FormatError),
        (lf.LockError.NoError, lf.LockError.LockFailedError, lf.LockError.PermissionError),
    )


_binding: Binding | None = None
_guard = threading.Lock()


def binding() -> Binding:
    """The binding of this process (imported on first call)."""
    global _binding
    if _binding is None:
        with _guard:
            if _binding is None:
                forced = os.environ.get(BINDING_ENV, "")
                use_pythonqt = forced == PYTHONQT or (not forced and running_in_pythonqt())
                _binding = _load_pythonqt() if use_pythonqt else _load_pyside6()
    return _binding


def loaded() -> bool:
    """Whether a binding was imported yet (the CLI's start-up path keeps it unloaded)."""
    return _binding is not None


# -- QSettings ------------------------------------------------------------------------------------------


def open_ini(path: str) -> Any:
    """A fresh ``QSettings(path, IniFormat)``."""
    b = binding()
    return b.QSettings(path, b.ini_format)


def status(qsettings: Any) -> SettingsStatus:
    value = qsettings.status()
    ok, access, fmt = binding().statuses
    if value == ok:
        return SettingsStatus.OK
    if value == fmt:
        return SettingsStatus.FORMAT_ERROR
    return SettingsStatus.ACCESS_ERROR


def read_value(qsettings: Any, key: str) -> Any:
    """``value(key)`` as a fresh read of the file gives it, in both bindings.

    A value set in this process (by us, or by the host: Slicer's own C++ code writes into
    ``slicer.app.userSettings()``) stays in Qt's per-process cache with its C++ type until the
    file changes on disk, and the bindings convert it differently: PythonQt gives tuples for
    string lists. So the in-process forms are mapped to what the file holds: ``True`` →
    ``"true"``, ``5`` → ``"5"``, an empty list → ``None`` (``@Invalid()``), a one-item list →
    its string (a C++ ``QStringList`` of one is written as the plain string), others → a list.
    """
    return _as_stored(qsettings.value(key))


def _as_stored(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        if not value:
            return None
        return str(value[0]) if len(value) == 1 else list(value)
    return value


def write_value(qsettings: Any, key: str, value: Any) -> None:
    """``setValue`` writing exactly what C++ Qt writes for the same value."""
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
        # A one-item QStringList is written as its string (PythonQt would make it a
        # QVariantList, "@Variant(...)"); none is "@Invalid()" in both bindings.
        qsettings.setValue(key, items[0] if len(items) == 1 else items)
        return
    if isinstance(value, dict):
        qsettings.setValue(key, {str(k): v for k, v in value.items()})
        return
    qsettings.setValue(key, value)


def child_keys(qsettings: Any) -> list[str]:
    return [str(k) for k in qsettings.childKeys()]


def all_keys(qsettings: Any) -> list[str]:
    return [str(k) for k in qsettings.allKeys()]


# -- QLockFile ----------------------------------------------------------------------------------------------


class FileLock:
    """A ``QLockFile`` (the lock Qt takes as ``<file>.lock`` while it saves settings)."""

    def __init__(self, path: str, stale_ms: int):
        self._lock = binding().QLockFile(path)
        self._lock.setStaleLockTime(stale_ms)

    def try_lock(self, timeout_ms: int) -> bool:
        return bool(self._lock.tryLock(timeout_ms))

    def poll(self, timeout_ms: int, interval_s: float = 0.02) -> bool:
        """Like ``try_lock``, but retrying every ``interval_s``: Qt's own wait doubles its sleep
        up to 5 s, so a process that locks often (a running Slicer) can starve it. Gives up at
        once when the lock file cannot be created (a full disk, a read-only folder)."""
        deadline = time.monotonic() + timeout_ms / 1000
        while not self.try_lock(0):
            if self.error() != LockError.LOCK_FAILED or time.monotonic() >= deadline:
                return False
            time.sleep(interval_s)
        return True

    def unlock(self) -> None:
        self._lock.unlock()

    def error(self) -> LockError:
        value = self._lock.error()
        none, failed, permission = binding().lock_errors
        if value == none:
            return LockError.NONE
        if value == failed:
            return LockError.LOCK_FAILED
        if value == permission:
            return LockError.PERMISSION
        return LockError.UNKNOWN
