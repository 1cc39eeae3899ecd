"""Shared fixtures.

* Qt runs offscreen; any modal dialog a test did not ask for fails the test (PySide6; under
  PythonQt, the lane in ``tests/pythonqt/``, PySide6 is never imported).
* Settings and files live only in tmp dirs: the platform settings location and
  every environment variable the tool reads are redirected.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from slicer_ext_manager.context import AppContext  # noqa: E402
from slicer_ext_manager.qtbinding import running_in_pythonqt  # noqa: E402

pytest_plugins = ["tests.girder.fixtures", "tests.ui_fixtures"]

REVISION = "33241"
OLD_REVISION = "32448"


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("HOME", str(home))
    for var in (
        "SLICER_EXT_MANAGER_SETTINGS_DIR",
        "SLICER_EXTENSIONS_MANAGER_SERVER_URL",
        "SLICER_HOME",
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    yield


@pytest.fixture(autouse=True)
def _fail_on_unexpected_modal(request, monkeypatch):
    """Any modal dialog (QMessageBox, QDialog.exec, file/input dialogs) fails the test
    unless it is marked ``enabledialog`` and answers the dialog itself."""
    if request.node.get_closest_marker("enabledialog") or running_in_pythonqt():
        # Under PythonQt (the lane in tests/pythonqt/) there is no PySide6 and the core shows
        # no dialogs; importing PySide6 there would load a second Qt.
        yield
        return
    try:
        from PySide6 import QtWidgets
    except ImportError:  # pragma: no cover - PySide6 is a dependency
        yield
        return

    def fail(*args, **kwargs):
        raise AssertionError(f"Unexpected modal dialog: args={args!r}")

    for name in ("exec", "exec_"):
        for cls in (QtWidgets.QDialog, QtWidgets.QMessageBox, QtWidgets.QMenu):
            if hasattr(cls, name):
                monkeypatch.setattr(cls, name, fail)
    for name in ("question", "warning", "information", "critical", "about"):
        monkeypatch.setattr(QtWidgets.QMessageBox, name, staticmethod(fail))
    for name in ("getOpenFileName", "getOpenFileNames", "getSaveFileName", "getExistingDirectory"):
        monkeypatch.setattr(QtWidgets.QFileDialog, name, staticmethod(fail))
    for name in ("getText", "getMultiLineText", "getItem", "getInt"):
        monkeypatch.setattr(QtWidgets.QInputDialog, name, staticmethod(fail))
    yield


def write_ini(path: Path, text: str) -> Path:
    """Write a literal INI file (dedented), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def settings_dir(tmp_path) -> Path:
    folder = tmp_path / "slicer.org"
    folder.mkdir()
    return folder


@pytest.fixture
def profile(settings_dir) -> AppContext:
    """A Slicer profile for revision 33241 (linux/amd64) with empty settings files."""
    write_ini(settings_dir / "Slicer.ini", "[Extensions]\nAutoUpdateCheck=false\n")
    write_ini(settings_dir / f"Slicer-{REVISION}.ini", "[Extensions]\nManagerEnabled=true\n")
    return AppContext.resolve(settings_dir=settings_dir, os_name="linux", arch="amd64", slicer_version="5.8")


@pytest.fixture
def make_profile(tmp_path):
    """``make_profile(server_url, app_id, revision=..., user_ini=..., ...)`` -> AppContext
    for a fresh Slicer profile (settings files in a tmp dir) pointing at ``server_url``."""
    counter = iter(range(1000))

    def make(server_url: str = "http://127.0.0.1:9", app_id: str | None = None, *, revision: str = REVISION,
             os_name: str = "linux", arch: str = "amd64", user_ini: str = "", revision_ini: str = "",
             folder: Path | None = None) -> AppContext:
        root = folder or tmp_path / f"profile{next(counter)}"
        sdir = root / "slicer.org"
        if not (sdir / "Slicer.ini").exists():
            write_ini(sdir / "Slicer.ini", user_ini or "[Extensions]\nAutoUpdateCheck=true\n")
        rev_file = sdir / f"Slicer-{revision}.ini"
        if not rev_file.exists():
            write_ini(rev_file, revision_ini or f"[Extensions]\nServerUrl={server_url}\n")
        return AppContext.resolve(settings_dir=sdir, revision=revision, os_name=os_name, arch=arch,
                                  server_url=server_url, app_id=app_id, slicer_version="5.8")

    return make
