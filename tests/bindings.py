"""Test helpers that work under both Qt bindings: PySide6 (the CPython suite) and PythonQt
(the lane in ``tests/pythonqt/``, run by ``pythonqt-run``).

* :func:`qsettings` — a plain ``QSettings(path, IniFormat)`` of this process's binding (through
  the core's seam), for reading files back the way Slicer does, independently of ``settings.py``;
* :func:`python_command` — the command that runs Python code with this process's binding
  (``sys.executable`` under PySide6; ``pythonqt-run --venv <venv>`` under PythonQt, whose
  ``sys.executable`` is a plain CPython without Qt);
* :func:`require_pythonqt_lane` — from the CPython suite, the lane's ``pythonqt-run`` (set up by
  ``scripts/pythonqt-lane.sh setup``), or skip; under ``CI=true`` a missing lane fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from slicer_ext_manager import qtbinding

#: Overrides where ``pythonqt-run`` is (normally found next to the host's ``pythonqt_run`` module).
PYTHONQT_RUN_ENV = "SLICER_EXT_MANAGER_PYTHONQT_RUN"


def _to_list(value: Any) -> list[str]:
    # What C++ QVariant::toStringList() gives: a string is one item, invalid is none.
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("", "0", "false")


class RawSettings:
    """A raw ``QSettings`` with PySide6's ``value(key, default, type=...)`` on both bindings
    (PythonQt takes no keyword arguments and gives tuples for string lists). Every other
    attribute is the ``QSettings``' own (``beginReadArray``, ``setArrayIndex``, ``allKeys``...)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.qsettings = qtbinding.open_ini(os.fspath(path))

    def value(self, key: str, default: Any = None, type: Any = None) -> Any:  # noqa: A002 - PySide6's name
        value = self.qsettings.value(key)
        if value is None:
            return default
        if type is list:
            return _to_list(value)
        if type is bool:
            return _to_bool(value)
        if type is not None:
            return type(value)
        return list(value) if isinstance(value, tuple) else value

    def __getattr__(self, name: str) -> Any:
        return getattr(self.qsettings, name)


def qsettings(path: str | os.PathLike[str]) -> RawSettings:
    return RawSettings(path)


def pythonqt_run() -> Path | None:
    """The ``pythonqt-run`` host running this process (None outside PythonQt)."""
    if os.environ.get(PYTHONQT_RUN_ENV):
        return Path(os.environ[PYTHONQT_RUN_ENV])
    if not qtbinding.running_in_pythonqt():
        return None
    import pythonqt_run  # the host's support module, next to its ``qt`` package

    return Path(pythonqt_run.__file__).resolve().parents[1] / "bin" / "pythonqt-run"


def python_command() -> list[str]:
    """``[interpreter...]`` to which ``-c CODE args`` or ``script args`` can be appended."""
    host = pythonqt_run() if qtbinding.running_in_pythonqt() else None
    if host is None:
        return [sys.executable]
    return [str(host), "--venv", sys.prefix]


# -- the PythonQt lane, from the CPython suite -------------------------------------------------------------

#: The lane's folder (``scripts/pythonqt-lane.sh setup``); default ``<repo>/.pythonqt``.
PYTHONQT_DIR_ENV = "SLICER_EXT_MANAGER_PYTHONQT_DIR"
ROOT = Path(__file__).resolve().parents[1]


class PythonQtLane:
    """A set-up lane: ``pythonqt-run`` and its virtualenv (no PySide6)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.host = folder / "pythonqt-host" / "bin" / "pythonqt-run"
        self.venv = folder / "venv"

    def command(self) -> list[str]:
        return [str(self.host), "--venv", str(self.venv)]

    def env(self, runtime_dir: Path, **extra: str) -> dict[str, str]:
        """The environment of a ``pythonqt-run`` child: offscreen, this source tree first."""
        runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(runtime_dir),
                   PYTHONPATH=os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])))
        env.update(extra)
        return env


def _lane_problem(folder: Path) -> str | None:
    lane = PythonQtLane(folder)
    if not lane.host.is_file() or not (lane.venv / "bin" / "python").exists():
        return f"PythonQt lane not set up in {folder}: run `bash scripts/pythonqt-lane.sh setup`"
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([*lane.command(), "-c", "import qt, requests, platformdirs, packaging"],
                              env=lane.env(Path(tmp) / "runtime"), capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        return f"PythonQt lane in {folder} does not start: {proc.stderr.strip().splitlines()[-1:]}"
    return None


_lane_cache: dict[Path, str | None] = {}


def require_pythonqt_lane() -> PythonQtLane:
    """The lane, or skip (``pytest.fail`` under ``CI=true``: CI must run the cross-binding tests)."""
    folder = Path(os.environ.get(PYTHONQT_DIR_ENV) or ROOT / ".pythonqt").resolve()
    if folder not in _lane_cache:
        _lane_cache[folder] = _lane_problem(folder)
    problem = _lane_cache[folder]
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    return PythonQtLane(folder)
