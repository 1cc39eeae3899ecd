"""The toolbar and what spans the tabs: the search box (never the queue; "N of M shown —
clear" where it filters), "Check for updates" answering where it was clicked, the server
URL dialog (validated, says what is written where), "Edit bookmarks…", and changes made
outside the dialog appearing by themselves."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.localserver.server import PackageServer
from slicer_ext_manager.ui import prompts
from slicer_ext_manager.ui.server_dialog import ServerUrlDialog

from .ui_fixtures import REV, click, manager_for, revision_settings, shown_names


def test_search_never_hides_the_queue_and_says_when_it_filters(qtbot, repo, make_profile, make_widget):
    """#17.1: typing "igsio" does not hide SlicerIGT from the queue; filtered lists say so."""
    for name in ("SlicerIGT", "SlicerIGSIO"):
        repo.add(name)
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id, user_ini="[Extensions]\nBookmarked=SlicerIGT, SlicerIGSIO\n")
    widget = make_widget(manager_for(ctx))
    widget.add_to_install(["SlicerIGT", "SlicerIGSIO"])
    install = widget.install_tab
    qtbot.waitUntil(lambda: len(install.items) == 2, timeout=5000)
    widget.set_current_tab("install")
    qtbot.keyClicks(widget.search_box, "igsio")
    qtbot.waitUntil(lambda: widget.search_tab.proxy.text == "igsio", timeout=3000)
    assert install.view.model().rowCount() == 2 and widget.tabs.tabText(1) == "Install (2)"  # all shown
    # Every filtered list says how much it shows, with a way back.
    status = widget.installed_tab.filter_status
    assert status.isVisibleTo(widget.installed_tab) and status.plain_text == "1 of 2 shown — clear"
    assert shown_names(widget.installed_tab.view) == ["Bookmarked, not installed (2)", "SlicerIGSIO"]
    assert widget.search_tab.count_label.plain_text == "1 of 2 shown — clear"
    status.linkActivated.emit("clear")
    assert widget.search_box.text() == ""
    qtbot.waitUntil(lambda: not widget.installed_tab.proxy.filtering, timeout=3000)
    assert not status.isVisibleTo(widget.installed_tab)


def test_check_for_updates_answers_next_to_the_button(qtbot, repo, make_profile, make_widget):
    """#17.9: feedback where you clicked."""
    repo.add("Ext")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    assert manager_for(ctx).install(["Ext"]).ok
    widget = make_widget(manager_for(ctx))
    status = widget.toolbar.update_status
    assert not status.isVisible()
    click(qtbot, widget.toolbar.check_updates_button)
    assert status.isVisible() and status.text() == "Checking for updates…"
    qtbot.waitUntil(lambda: status.text() == "All 1 installed extension is up to date.", timeout=10000)
    repo.faults.error(r"/extension$", status=503, times=None)
    click(qtbot, widget.toolbar.check_updates_button)
    qtbot.waitUntil(lambda: status.text().startswith("The update check failed:"), timeout=10000)
    assert "503" in status.toolTip()


def test_server_url_dialog_validates_and_says_what_is_written_where(qtbot, tmp_path):
    """#17.9: "htp:/bad url" is refused before anything is written."""
    dialog = ServerUrlDialog(None, "https://slicer-packages.kitware.com", str(tmp_path / "Slicer-33241.ini"))
    qtbot.addWidget(dialog)
    assert dialog.ok_button.isEnabled() and "Slicer-33241.ini" in dialog.status.text()
    assert "Extensions/ServerUrl=https://slicer-packages.kitware.com" in dialog.status.text()
    dialog.edit.setText("htp:/bad url")
    assert not dialog.ok_button.isEnabled() and dialog.url() == ""
    assert "is not a server URL" in dialog.status.text()
    dialog.accept()
    assert dialog.result() == 0  # not accepted while invalid
    dialog.edit.setText("http://mirror-host:8080/")
    assert dialog.ok_button.isEnabled() and dialog.url() == "http://mirror-host:8080"


@pytest.mark.enabledialog
def test_server_url_change_writes_the_revision_setting_and_reloads(qtbot, repo, make_profile, make_widget,
                                                                   monkeypatch, tmp_path):
    repo.add("FromFirst")
    repo.start()
    second_dir = tmp_path / "second"
    build_extension_package(second_dir, "FromSecond", app_revision=REV)
    with PackageServer(second_dir) as second:
        ctx = make_profile(repo.url, repo.server.app_id)
        widget = make_widget(manager_for(ctx))
        assert [r.name for r in widget.search_tab.model.rows] == ["FromFirst"]
        seen = []
        monkeypatch.setattr(prompts, "get_server_url",
                            lambda parent, current, where, note: seen.append((current, where)) or second.url)
        widget.toolbar.server_url_action.trigger()
        assert seen == [(repo.url, str(ctx.revision_settings_path))]
        qtbot.waitUntil(lambda: [r.name for r in widget.search_tab.model.rows] == ["FromSecond"], timeout=10000)
        assert revision_settings(ctx).value("Extensions/ServerUrl") == second.url
        assert widget.manager.context.server_url == second.url


@pytest.mark.enabledialog
def test_edit_bookmarks_as_text(qtbot, repo, make_profile, make_widget, monkeypatch):
    """#17.10: Slicer's "Edit bookmarks…" (one per line; spaces, commas, semicolons)."""
    repo.add("Alpha")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id, user_ini="[Extensions]\nBookmarked=Alpha\n")
    manager = manager_for(ctx)
    widget = make_widget(manager)
    asked = []

    def edit(parent, title, label, text):
        asked.append((title, label, text))
        return "Alpha, Beta;Gamma\nAlpha", True

    monkeypatch.setattr(QInputDialog, "getMultiLineText", staticmethod(edit))
    widget.toolbar.edit_bookmarks_action.trigger()
    assert asked == [("Bookmarked extensions", "List of bookmarked extensions:", "Alpha")]
    qtbot.waitUntil(lambda: manager.history.bookmarks() == ["Alpha", "Beta", "Gamma"], timeout=5000)
    qtbot.waitUntil(lambda: widget.installed_tab.model.get("Gamma") is not None, timeout=5000)


def test_changes_made_outside_appear_without_reload(qtbot, repo, make_profile, make_widget):
    """#17.8: Slicer or the CLI changes the profile: the dialog shows it by itself."""
    for name in ("Alpha", "Beta"):
        repo.add(name)
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = make_widget(manager_for(ctx))
    other = manager_for(ctx)  # another process, as far as the dialog knows
    assert other.install(["Alpha"]).ok
    qtbot.waitUntil(lambda: widget.installed_tab.model.get("Alpha") is not None, timeout=10000)
    assert widget.search_tab.model.get("Alpha").installed
    other.history.set_bookmarked("Beta", True)
    qtbot.waitUntil(lambda: widget.search_tab.model.get("Beta").bookmarked, timeout=10000)
    assert Qt  # keep import used
