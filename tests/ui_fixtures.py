"""Fixtures and helpers shared by the UI tests — a pytest plugin (``pytest_plugins`` in
``conftest.py``): tests use the fixtures by name and import only the helpers. PySide6 is
imported only inside them, so the PythonQt lane (which must never load it) can load this.

Every UI test runs against the local ``PackageServer`` with packages built into tmp
dirs by ``build_extension_package``; waits use qtbot.waitSignal/waitUntil."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.localserver.server import PackageServer
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.server import SlicerPackagesClient

from .faultserver import Faults, FaultyPackageServer

REV = "33241"
OLD_REV = "32448"


class Repo:
    """A folder of packages served by a PackageServer with fault injection."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.faults = Faults()
        self.server: PackageServer | None = None

    def add(self, name: str, **kwargs) -> Path:
        kwargs.setdefault("app_revision", REV)
        path = build_extension_package(self.folder, name, **kwargs)
        if self.server is not None:
            self.server.rescan()
        return path

    def start(self) -> PackageServer:
        self.server = FaultyPackageServer(self.folder, faults=self.faults).start()
        return self.server

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def file_id(self, name: str) -> str:
        """Id of the package file of extension ``name`` (for download fault patterns)."""
        assert self.server is not None
        index = self.server.index
        for item in index.extension_items():
            if item["meta"].get("baseName") == name:
                return index.files_of_item(item["_id"])[0]["_id"]
        raise KeyError(name)

    def download_pattern(self, name: str) -> str:
        return rf"/file/{self.file_id(name)}/download"


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path / "packages")
    r.folder.mkdir()
    yield r
    if r.server is not None:
        r.faults.clear()
        r.server.stop()


def manager_for(ctx) -> ExtensionsManager:
    """A manager whose client retries fast (tests inject 5xx faults)."""
    return ExtensionsManager(ctx, client=SlicerPackagesClient(ctx.server_url, ctx.app_id, backoff=0.01, retries=1))


@pytest.fixture
def make_widget(qtbot, tmp_path):
    """``make_widget(manager, **options)`` -> a shown ExtensionsManagerWidget whose catalog has loaded."""
    from slicer_ext_manager.ui import ExtensionsManagerWidget

    made = []

    def make(manager, *, wait: bool = True, **options) -> ExtensionsManagerWidget:
        options.setdefault("icon_cache_dir", tmp_path / "icons")
        widget = ExtensionsManagerWidget(manager, **options)
        qtbot.addWidget(widget)
        made.append(widget)
        widget.resize(1000, 700)
        widget.show()
        if wait:
            qtbot.waitUntil(lambda: widget.catalog_loaded and widget.restore_tab.loaded, timeout=15000)
        return widget

    yield make
    for w in made:
        try:
            w.cancel_and_wait(30)
            w.shutdown()
        except RuntimeError:
            pass


def wait_session(qtbot, widget, action: Callable[[], None], timeout: int = 30000):
    """Run ``action`` and wait until the widget's install session has finished; returns its results."""
    with qtbot.waitSignal(widget.sessionFinished, timeout=timeout) as blocker:
        action()
    qtbot.waitUntil(lambda: not widget.busy, timeout=timeout)
    return blocker.args[0]


def revision_settings(ctx):
    from PySide6.QtCore import QSettings

    return QSettings(str(ctx.revision_settings_path), QSettings.Format.IniFormat)


def user_settings(ctx):
    from PySide6.QtCore import QSettings

    return QSettings(str(ctx.user_settings_path), QSettings.Format.IniFormat)


def additional_paths(ctx) -> list[str]:
    return revision_settings(ctx).value("Modules/AdditionalPaths", [], type=list)


def no_leftovers(install_path: Path) -> bool:
    """No staging folder, no partial download."""
    return not (install_path / ".staging").exists() and not list(install_path.rglob("*.part"))


def partial_downloads(install_path: Path) -> list[Path]:
    """What resumable jobs kept for a Retry."""
    return list((install_path / ".downloads").rglob("*.part"))


def shown_names(view) -> list[str]:
    """Names of the extension rows a list view shows (headers skipped)."""
    model = view.model()
    return [model.index(i, 0).data() for i in range(model.rowCount()) if model.index(i, 0).data()]


def click(qtbot, button) -> None:
    from PySide6.QtCore import Qt

    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


@pytest.fixture
def later(monkeypatch):
    """Answer "Later" to every restart prompt, recording (text, can_restart, failures)."""
    from slicer_ext_manager.ui import prompts

    asked = []

    def ask(parent, text, *, can_restart, failures=()):
        asked.append((text, can_restart, list(failures)))
        return False

    monkeypatch.setattr(prompts, "ask_restart", ask)
    monkeypatch.setattr(prompts, "show_failures", lambda parent, failures: asked.append(("failures", None,
                                                                                         list(failures))))
    return asked


@pytest.fixture
def confirm(monkeypatch):
    """Answer Yes to "Uninstall X?" and "Remove from history?", recording the questions."""
    from slicer_ext_manager.ui import prompts

    asked = []
    monkeypatch.setattr(prompts, "ask_uninstall", lambda parent, now, later: asked.append((list(now), list(later)))
                        or True)
    monkeypatch.setattr(prompts, "ask_remove_from_history", lambda parent, names: asked.append(list(names)) or True)
    return asked
