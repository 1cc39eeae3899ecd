"""Install tab: dependencies shown before anything starts, progress signals, files and
settings written, cancel mid-download, one failure among three, install from file,
the dependency question, the restart prompt."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from slicer_ext_manager import s4ext
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.queue import Outcome, Phase
from slicer_ext_manager.ui import prompts
from slicer_ext_manager.ui.models import ItemState, RowState

from .test_ui_support import (  # noqa: F401 (fixtures)
    REV,
    additional_paths,
    make_widget,
    manager_for,
    no_leftovers,
    repo,
    wait_session,
)


@pytest.fixture
def restart_prompts(monkeypatch):
    """Answer "Later" to the restart prompt, recording its text."""
    asked = []

    def ask(parent, text, *, can_restart):
        asked.append((text, can_restart))
        return False

    monkeypatch.setattr(prompts, "ask_restart", ask)
    return asked


def item_states(tab) -> dict[str, ItemState]:
    return {it.name: it.state for it in tab.items}


@pytest.mark.enabledialog
def test_install_with_dependency_through_the_ui(qtbot, repo, make_profile, make_widget, restart_prompts):
    repo.add("Base", category="Utilities", modules=("scripted", "cli"))
    repo.add("Top", category="Segmentation", depends=("Base",))
    repo.add("Other")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = make_widget(manager_for(ctx))
    search, install = widget.search_tab, widget.install_tab

    # "Add to install": the plan (dependency first) is listed before anything starts.
    search.select_names(["Top"], current="Top")
    qtbot.mouseClick(search.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: [it.name for it in install.items] == ["Base", "Top"], timeout=5000)
    base, top = install.items
    assert base.state == top.state == ItemState.PENDING
    assert base.detail == "required by Top"
    assert widget.tabs.tabText(1) == "Install (2)"
    assert install.start_button.text() == "&Install (2)"
    assert not widget.busy and not (ctx.install_path / "Top.s4ext").exists()
    assert not search.add_button.isEnabled()  # already queued

    events = []
    widget.service.queueEvent.connect(lambda batch, event: events.append(event))
    results = wait_session(qtbot, widget, lambda: qtbot.mouseClick(install.start_button, Qt.MouseButton.LeftButton))

    # Progress signals: i of n, phases, bytes.
    started = [e for e in events if e.kind == "started"]
    assert [(e.name, e.index, e.total) for e in started] == [("Base", 1, 2), ("Top", 2, 2)]
    assert {e.phase for e in events if e.kind == "phase"} >= {Phase.DOWNLOAD, Phase.VERIFY, Phase.EXTRACT, Phase.REGISTER}
    assert any(e.kind == "progress" and e.phase == Phase.DOWNLOAD and e.size and e.done == e.size for e in events)
    assert [r.outcome for r in results] == [Outcome.INSTALLED, Outcome.INSTALLED]
    assert item_states(install) == {"Base": ItemState.DONE, "Top": ItemState.DONE}
    assert install.items[1].message.startswith("Installed extension Top")
    assert "Finished: 2 installed." in install.overall_label.text()
    assert "Installing Base (1/2)" in install.log_text() and "Installed extension Top" in install.log_text()

    # Files and settings as Slicer expects them.
    ip = ctx.install_path
    for name in ("Base", "Top"):
        desc = s4ext.read(ip / f"{name}.s4ext")
        assert desc["installed"] == "true" and desc["enabled"] == "true"
        assert (ip / name / "lib/Slicer-5.8/qt-scripted-modules" / f"{name}.py").is_file()
    paths = additional_paths(ctx)
    assert (ip / "Base/lib/Slicer-5.8/cli-modules").as_posix() in paths
    assert (ip / "Top/lib/Slicer-5.8/qt-scripted-modules").as_posix() in paths
    assert no_leftovers(ip)

    # The restart prompt (standalone, no executable: it says what to do) and the states.
    assert restart_prompts == [("2 extensions installed.", False)]
    assert widget.restart_requested
    qtbot.waitUntil(lambda: widget.installed_tab.model.rowCount() == 2, timeout=5000)
    assert widget.tabs.tabText(3) == "Installed (2)"
    assert widget.installed_tab.model.get("Top").state_text == "Install pending restart"
    assert widget.search_tab.model.get("Other").state == RowState.NOT_INSTALLED


@pytest.mark.enabledialog
def test_install_now_with_dependency_question(qtbot, repo, make_profile, make_widget, monkeypatch, restart_prompts):
    """AutoInstallDependencies=false: Slicer's question, answered No -> only the extension."""
    repo.add("Base")
    repo.add("Top", depends=("Base",))
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id,
                       user_ini="[Extensions]\nAutoUpdateCheck=true\nAutoInstallDependencies=false\n")
    asked = []

    def question(parent, title, text, *args):
        asked.append((title, text))
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    widget = make_widget(manager_for(ctx))
    assert not widget.auto_deps_action.isChecked()
    widget.search_tab.select_names(["Top"], current="Top")
    results = wait_session(qtbot, widget, lambda: qtbot.mouseClick(widget.search_tab.install_button,
                                                                     Qt.MouseButton.LeftButton))
    assert asked == [("Install dependencies", "<p>Top depends on the following extensions:</p><ul><li>Base</li></ul>"
                                              "<p>Would you like to install them now?</p>")]
    assert widget.current_tab_name() == "install"
    assert [r.name for r in results] == ["Top"]
    assert (ctx.install_path / "Top.s4ext").exists() and not (ctx.install_path / "Base.s4ext").exists()
    assert "Top extension requires extensions Base but the user chose not to install them." in \
        widget.install_tab.log_text()


@pytest.mark.enabledialog
def test_cancel_mid_download(qtbot, repo, make_profile, make_widget, restart_prompts):
    repo.add("Slow", payload_size=4 * 1024 * 1024)
    repo.add("Quick")
    repo.start()
    repo.faults.delay(repo.download_pattern("Slow"), 0.05, per_chunk=True, times=None)
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = make_widget(manager_for(ctx))
    install = widget.install_tab
    progress = []
    widget.service.queueEvent.connect(
        lambda b, e: progress.append(e) if e.kind == "progress" and e.name == "Slow" and e.done else None)

    def start_and_cancel():
        widget.install_now(["Slow", "Quick"])
        qtbot.waitUntil(lambda: bool(progress), timeout=10000)  # partway through the download
        slow = install.item("Slow")
        assert slow.state == ItemState.RUNNING and 0 < slow.done < slow.size
        row = install.model.find(lambda it: it.name == "Slow")
        install.view.setCurrentIndex(install.proxy.index(row, 0))
        assert install.cancel_button.isEnabled()
        qtbot.mouseClick(install.cancel_button, Qt.MouseButton.LeftButton)

    results = {r.name: r for r in wait_session(qtbot, widget, start_and_cancel)}
    assert results["Slow"].outcome == Outcome.CANCELLED and "cancelled" in results["Slow"].message
    assert results["Quick"].outcome == Outcome.INSTALLED  # the rest goes on
    assert install.item("Slow").state == ItemState.CANCELLED
    assert not (ctx.install_path / "Slow.s4ext").exists() and not (ctx.install_path / "Slow").exists()
    assert no_leftovers(ctx.install_path)
    assert restart_prompts and restart_prompts[0][0] == "Extension Quick has been installed."


@pytest.mark.enabledialog
def test_one_failure_among_three(qtbot, repo, make_profile, make_widget, restart_prompts):
    for name in ("Alpha", "Bravo", "Charlie"):
        repo.add(name)
    repo.start()
    repo.faults.error(repo.download_pattern("Bravo"), status=500, times=None)
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = make_widget(manager_for(ctx))
    search = widget.search_tab
    search.view.selectAll()
    assert search.selected_names() == ["Alpha", "Bravo", "Charlie"]
    results = {r.name: r for r in wait_session(
        qtbot, widget, lambda: qtbot.mouseClick(search.install_button, Qt.MouseButton.LeftButton))}
    assert results["Alpha"].outcome == results["Charlie"].outcome == Outcome.INSTALLED
    assert results["Bravo"].outcome == Outcome.FAILED
    assert "answered 500" in results["Bravo"].message
    install = widget.install_tab
    assert item_states(install) == {"Alpha": ItemState.DONE, "Bravo": ItemState.FAILED, "Charlie": ItemState.DONE}
    assert install.item("Bravo").message == results["Bravo"].message  # the core's sentence reaches the user
    assert f"Failed: {results['Bravo'].message}" in install.log_text()
    assert "2 installed, 1 failed" in install.overall_label.text()
    assert (ctx.install_path / "Alpha.s4ext").exists() and (ctx.install_path / "Charlie.s4ext").exists()
    assert not (ctx.install_path / "Bravo.s4ext").exists()
    # Clear finished; copy log.
    install.copy_log()
    from PySide6.QtGui import QGuiApplication
    assert "answered 500" in QGuiApplication.clipboard().text()
    install.clear_finished()
    assert install.model.rowCount() == 0


@pytest.mark.enabledialog
def test_install_from_file_into_the_same_queue(qtbot, repo, make_profile, make_widget, monkeypatch, tmp_path,
                                               restart_prompts):
    repo.add("Base")
    repo.start()
    archive = build_extension_package(tmp_path / "local", "LocalExt", app_revision=REV, depends=("Base",))
    bad = tmp_path / "local" / "not-a-package.zip"
    bad.write_bytes(b"nope")
    calls = []

    def pick(parent, caption, folder, filters):
        calls.append((caption, filters))
        return [str(archive), str(bad)], filters.split(";;")[0]

    from PySide6.QtWidgets import QFileDialog
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(pick))
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = make_widget(manager_for(ctx))
    install = widget.install_tab
    widget.set_current_tab("install")
    qtbot.mouseClick(install.file_button, Qt.MouseButton.LeftButton)
    assert calls == [("Select extension archive file(s)...",
                      "Archives (*.zip *.7z *.tar *.tar.gz *.tgz *.tar.bz2 *.tar.xz);;All files (*)")]
    qtbot.waitUntil(lambda: len(install.items) == 3, timeout=5000)
    by_name = {it.name: it for it in install.items}
    assert by_name["Base"].detail == "required by LocalExt" and by_name["LocalExt"].kind == "file"
    assert by_name["not-a-package.zip"].state == ItemState.FAILED and by_name["not-a-package.zip"].message
    results = {r.name: r for r in wait_session(qtbot, widget, install.start)}
    assert results["Base"].outcome == results["LocalExt"].outcome == Outcome.INSTALLED
    assert (ctx.install_path / "LocalExt.s4ext").exists()


def test_item_progress_and_texts():
    from slicer_ext_manager.ui.models import QueueItem

    item = QueueItem("k", "Ext", state=ItemState.RUNNING, phase=Phase.DOWNLOAD, done=5 * 1024 * 1024,
                     size=10 * 1024 * 1024)
    assert item.status_text == "Downloading: 5.0 MB of 10.0 MB"
    assert item.fraction == pytest.approx(0.4)
    item.phase, item.done, item.size = Phase.EXTRACT, 1, 2
    assert 0.8 < item.fraction < 1.0
    assert QueueItem("k", "Ext").status_text == "Ready to install"
    assert Path  # keep import used
