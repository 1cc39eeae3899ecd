"""Install tab: dependencies listed before anything starts, progress signals, files and
settings written, cancel mid-download then Retry (same row, download continued), one
failure among three (named at the end, Retry after the server recovers), install from
file (starts at once), the dependency question, the catalog's icons in the queue."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from slicer_ext_manager import s4ext
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.queue import EventKind, Outcome, Phase
from slicer_ext_manager.ui.queue_model import ItemState, JobKind
from slicer_ext_manager.ui.roles import STATE_TEXT_ROLE
from slicer_ext_manager.ui.rows import RowState

from .ui_fixtures import REV, additional_paths, manager_for, no_leftovers, partial_downloads, wait_session


def item_states(tab) -> dict[str, ItemState]:
    return {it.name: it.state for it in tab.items}


@pytest.mark.enabledialog
def test_add_to_queue_then_install_with_a_dependency(qtbot, repo, make_profile, make_widget, later):
    repo.add("Base", category="Utilities", modules=("scripted", "cli"))
    repo.add("Top", category="Segmentation", depends=("Base",))
    repo.add("Other")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = make_widget(manager_for(ctx))
    search, install = widget.search_tab, widget.install_tab

    # "Add to queue" lists the plan (dependency first) without starting anything.
    search.select_names(["Top"], current="Top")
    qtbot.mouseClick(search.queue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: [it.name for it in install.items] == ["Base", "Top"], timeout=5000)
    base, top = install.items
    assert base.state == top.state == ItemState.PENDING and base.detail == "required by Top"
    assert widget.tabs.tabText(1) == "Install (2)" and install.start_button.text() == "&Install (2)"
    assert not widget.busy and not (ctx.install_path / "Top.s4ext").exists()
    assert not search.queue_button.isEnabled() and not search.install_button.isEnabled()  # already queued
    # The rows say so: never "Not installed" while it is in the queue (#17.4, #17.13).
    assert search.model.data(search.model.index(search.model.find("Base"), 0), STATE_TEXT_ROLE).startswith("Listed in")

    events = []
    widget.service.queueEvent.connect(lambda batch, event: events.append(event))
    results = wait_session(qtbot, widget, lambda: qtbot.mouseClick(install.start_button, Qt.MouseButton.LeftButton))
    started = [e for e in events if e.kind == EventKind.STARTED]
    assert [(e.name, e.index, e.total) for e in started] == [("Base", 1, 2), ("Top", 2, 2)]
    assert {e.phase for e in events if e.kind == EventKind.PHASE} >= {Phase.DOWNLOAD, Phase.VERIFY, Phase.EXTRACT,
                                                                      Phase.REGISTER}
    assert [r.outcome for r in results] == [Outcome.INSTALLED, Outcome.INSTALLED]
    assert item_states(install) == {"Base": ItemState.DONE, "Top": ItemState.DONE}
    assert "Finished: 2 installed." in install.overall_label.text()
    ip = ctx.install_path
    for name in ("Base", "Top"):
        desc = s4ext.read(ip / f"{name}.s4ext")
        assert desc["installed"] == "true" and desc["enabled"] == "true"
    assert (ip / "Base/lib/Slicer-5.8/cli-modules").as_posix() in additional_paths(ctx)
    assert no_leftovers(ip)
    assert later == [("2 extensions installed.", False, [])]
    qtbot.waitUntil(lambda: widget.restart_requested, timeout=5000)
    qtbot.waitUntil(lambda: widget.installed_tab.model.get("Top") is not None, timeout=5000)
    assert widget.installed_tab.model.get("Top").state_text == "Install pending restart"
    assert widget.search_tab.model.get("Other").kind == RowState.NOT_INSTALLED


@pytest.mark.enabledialog
def test_install_now_with_dependency_question(qtbot, repo, make_profile, make_widget, monkeypatch, later):
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
    assert widget.current_tab_name() == "install" and [r.name for r in results] == ["Top"]
    assert (ctx.install_path / "Top.s4ext").exists() and not (ctx.install_path / "Base.s4ext").exists()


@pytest.mark.enabledialog
def test_cancel_mid_download_then_retry_continues_it(qtbot, repo, make_profile, make_widget, later):
    """#17.5: Retry reuses the row and the partial download is continued."""
    repo.add("Slow", payload_size=4 * 1024 * 1024)
    repo.add("Quick")
    repo.start()
    slow_rule = repo.faults.delay(repo.download_pattern("Slow"), 0.05, per_chunk=True, times=None)
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = make_widget(manager_for(ctx))
    install = widget.install_tab
    progress = []
    widget.service.queueEvent.connect(lambda b, e: progress.append(e.done)
                                      if e.kind == EventKind.PROGRESS and e.name == "Slow" and e.done else None)

    def start_and_cancel():
        widget.install_now(["Slow", "Quick"])
        qtbot.waitUntil(lambda: len(progress) > 3, timeout=10000)  # partway through the download
        slow = install.item("Slow")
        assert slow.state == ItemState.RUNNING and 0 < slow.done < slow.size
        install.select_item(slow)
        qtbot.mouseClick(install.cancel_button, Qt.MouseButton.LeftButton)

    results = {r.name: r for r in wait_session(qtbot, widget, start_and_cancel)}
    assert results["Slow"].outcome == Outcome.CANCELLED and results["Quick"].outcome == Outcome.INSTALLED
    assert not (ctx.install_path / "Slow.s4ext").exists() and not (ctx.install_path / ".staging").exists()
    kept = partial_downloads(ctx.install_path)
    assert len(kept) == 1 and kept[0].stat().st_size > 0  # kept for Retry
    size = kept[0].stat().st_size

    slow_rule.times = 0  # full speed now
    rows = install.model.rowCount()
    install.select_item(install.item("Slow"))
    assert install.retry_button.isEnabled()
    progress.clear()
    results = wait_session(qtbot, widget, lambda: qtbot.mouseClick(install.retry_button, Qt.MouseButton.LeftButton))
    assert [(r.name, r.outcome) for r in results] == [("Slow", Outcome.INSTALLED)]
    assert install.model.rowCount() == rows  # the same row, no duplicate
    assert progress and progress[0] >= size  # continued where it stopped
    assert (ctx.install_path / "Slow.s4ext").exists() and no_leftovers(ctx.install_path)


@pytest.mark.enabledialog
def test_one_failure_among_three_is_named_and_retried(qtbot, repo, make_profile, make_widget, later):
    """#17.5: the reason in the row (wrapped), the end-of-batch prompt names the failure,
    Retry works once the server is back."""
    for name in ("Alpha", "Bravo", "Charlie"):
        repo.add(name)
    repo.start()
    rule = repo.faults.error(repo.download_pattern("Bravo"), status=500, times=None)
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = make_widget(manager_for(ctx))
    search = widget.search_tab
    search.view.selectAll()
    assert search.selected_names() == ["Alpha", "Bravo", "Charlie"] and search.install_button.text() == "&Install (3)"
    results = {r.name: r for r in wait_session(
        qtbot, widget, lambda: qtbot.mouseClick(search.install_button, Qt.MouseButton.LeftButton))}
    assert results["Bravo"].outcome == Outcome.FAILED and "answered 500" in results["Bravo"].message
    install = widget.install_tab
    assert item_states(install) == {"Alpha": ItemState.DONE, "Bravo": ItemState.FAILED, "Charlie": ItemState.DONE}
    assert install.item("Bravo").message == results["Bravo"].message
    assert later[-1] == ("2 extensions installed.", False, [("Bravo", results["Bravo"].message)])
    assert "Select a failed item and click Retry" in install.overall_label.text()
    # #17.13: every row is there right after the batch, the first one at the top of the list.
    widget.set_current_tab("install")
    qtbot.waitUntil(lambda: install.view.isVisible(), timeout=3000)
    first = install.view.visualRect(install.model.index(0, 0))
    assert install.model.rowCount() == 3 and first.top() >= 0 and first.height() > 0
    assert install.view.indexAt(first.center()).row() == 0
    assert search.model.activity("Bravo").failed  # the Search row says the install failed
    rule.times = 0  # the server is back
    install.select_item(install.item("Bravo"))
    results = wait_session(qtbot, widget, install.retry_selected)
    assert [(r.name, r.outcome) for r in results] == [("Bravo", Outcome.INSTALLED)]
    assert len(install.items) == 3 and (ctx.install_path / "Bravo.s4ext").exists()
    install.clear_finished()
    assert install.model.rowCount() == 0


@pytest.mark.enabledialog
def test_failure_alone_is_reported(qtbot, repo, make_profile, make_widget, later):
    repo.add("Broken")
    repo.start()
    repo.faults.error(repo.download_pattern("Broken"), status=500, times=None)
    widget = make_widget(manager_for(make_profile(repo.url, repo.server.app_id)))
    wait_session(qtbot, widget, lambda: widget.install_now(["Broken"]))
    assert later and later[-1][0] == "failures" and later[-1][2][0][0] == "Broken"


@pytest.mark.enabledialog
def test_install_from_file_starts_at_once(qtbot, repo, make_profile, make_widget, monkeypatch, tmp_path, later):
    """#17.4: "Install from file…" installs; it does not only queue."""
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
    results = {r.name: r for r in wait_session(
        qtbot, widget, lambda: qtbot.mouseClick(install.file_button, Qt.MouseButton.LeftButton))}
    assert calls[0][0] == "Select extension archive file(s)..." and calls[0][1].startswith("Extension packages (")
    by_name = {it.name: it for it in install.items}
    assert by_name["Base"].detail == "required by LocalExt" and by_name["LocalExt"].kind == JobKind.FILE
    assert by_name["not-a-package.zip"].state == ItemState.FAILED and by_name["not-a-package.zip"].message
    assert results["Base"].outcome == results["LocalExt"].outcome == Outcome.INSTALLED
    assert (ctx.install_path / "LocalExt.s4ext").exists()


@pytest.mark.enabledialog
def test_queue_shows_the_catalog_icons(qtbot, repo, make_profile, make_widget, tmp_path, later):
    """#17.10: the catalog's icon in the queue (also for updates, which carry none)."""
    from PySide6.QtGui import QColor, QImage

    icon = QImage(32, 32, QImage.Format.Format_ARGB32)
    icon.fill(QColor("orange"))
    path = tmp_path / "ext.png"
    icon.save(str(path))
    repo.add("Ext", iconurl=path.as_uri())
    repo.start()
    widget = make_widget(manager_for(make_profile(repo.url, repo.server.app_id)))
    widget.install_tab.queue_updates(["Ext"])  # an update item: no icon of its own
    item = widget.install_tab.item("Ext")
    assert item.kind == JobKind.UPDATE and not item.iconurl
    model = widget.install_tab.model
    model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: widget.icons.has_icon(path.as_uri()), timeout=5000)
    widget.cancel_and_wait(30)
