"""The "Slicer updates" dialog against the real Slicer Package Manager server: builds listed
with their marks, Download and install with progress, the extensions' results, Start."""

from __future__ import annotations

import time

import pytest

from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.server import SlicerPackagesClient
from slicer_ext_manager.ui.slicer_updates import SlicerUpdatesDialog

from .conftest import OLD_REVISION
from .girder.fixtures import SLICER_BUILDS

pytestmark = pytest.mark.girder
CURRENT, NEW, NIGHTLY = SLICER_BUILDS


@pytest.fixture
def updates_dialog(qtbot, slicer_server, girder_server, girder_app, make_profile, tmp_path):
    ctx = make_profile(girder_server.url, girder_app.app_id, revision=CURRENT, folder=tmp_path / "current",
                       user_ini=f"[ExtensionsHistory]\nRevisions\\{OLD_REVISION}=Beta\n")
    manager = ExtensionsManager(ctx, client=SlicerPackagesClient(girder_server.url, girder_app.app_id, backoff=0.01))
    assert manager.install(["Alpha", "Gamma"]).ok
    dialog = SlicerUpdatesDialog(manager)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.table.rowCount() > 0, timeout=15000)
    yield dialog
    dialog.worker.shutdown()


def _cells(dialog, row):
    return [dialog.table.item(row, c).text() for c in range(dialog.table.columnCount())]


def test_lists_releases_and_nightlies(updates_dialog, qtbot):
    dialog = updates_dialog
    assert [_cells(dialog, r)[:3] + [_cells(dialog, r)[5]] for r in range(dialog.table.rowCount())] == [
        ["5.10.0", NEW, "release", "newer"], ["5.8.1", CURRENT, "release", "current"]]
    assert dialog.selected_build().revision == NEW and dialog.install_button.isEnabled()
    assert "1 build is newer" in dialog.status.text()
    dialog.stability.setCurrentIndex(2)  # releases and nightly builds
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3, timeout=15000)
    assert [_cells(dialog, r)[1] for r in range(3)] == [NIGHTLY, NEW, CURRENT]
    dialog.table.selectRow(2)
    assert not dialog.install_button.isEnabled()  # the current Slicer


def test_download_and_install_then_start(updates_dialog, qtbot, tmp_path, monkeypatch):
    dialog = updates_dialog
    started = tmp_path / "started.txt"
    monkeypatch.setenv("SLICER_STANDIN_STARTED", str(started))
    dest = tmp_path / "apps" / "Slicer-5.10.0"
    dialog.dest.setText(str(dest))
    seen_progress = []
    dialog.progress.valueChanged.connect(seen_progress.append)
    dialog.install_selected()
    assert dialog.busy and dialog.cancel_button.isVisible()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=60000)
    text = dialog.status.text()
    assert "was installed into" in text and str(dest) in text
    assert "2 extensions installed for it: Alpha, Beta" in text
    assert "Not available for the new Slicer: Gamma" in text
    assert seen_progress and (dest / "slicer.org" / f"Extensions-{NEW}" / "Alpha.s4ext").is_file()
    assert dialog.start_button.isVisible()
    dialog.grab().save(str(tmp_path / "slicer-updates.png"))
    dialog.start_new_slicer()
    deadline = time.monotonic() + 20
    while not started.exists() and time.monotonic() < deadline:
        qtbot.wait(100)
    assert started.read_text().startswith(f"Slicer 5.10.0 r{NEW}")


def test_existing_folder_is_refused_in_the_dialog(updates_dialog, qtbot, tmp_path):
    dialog = updates_dialog
    dest = tmp_path / "taken"
    dest.mkdir()
    dialog.dest.setText(str(dest))
    dialog.install_selected()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30000)
    assert "already exists" in dialog.status.text() and "was not installed" in dialog.status.text()
    assert not dialog.start_button.isVisible() and list(dest.iterdir()) == []


def test_the_settings_menu_opens_it(qtbot, slicer_server, girder_server, girder_app, make_profile, make_widget,
                                   tmp_path):
    ctx = make_profile(girder_server.url, girder_app.app_id, revision=CURRENT, folder=tmp_path / "p")
    manager = ExtensionsManager(ctx, client=SlicerPackagesClient(girder_server.url, girder_app.app_id, backoff=0.01))
    widget = make_widget(manager)
    widget.toolbar.slicer_updates_action.trigger()
    dialog = widget.slicer_updates_dialog
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=15000)
    assert dialog.isVisible() and dialog.selected_build().revision == NEW
    dialog.reject()
