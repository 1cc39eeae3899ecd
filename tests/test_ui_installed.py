"""Installed tab: updates first and "Update all (N)", uninstall (immediate or scheduled)
and cancel, enable/disable, bookmarks and "Install bookmarked (N)", incompatible reasons."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from slicer_ext_manager import s4ext
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.queue import Outcome
from slicer_ext_manager.ui import prompts
from slicer_ext_manager.ui.models import RowState

from .test_ui_support import (  # noqa: F401 (fixtures)
    OLD_REV,
    REV,
    additional_paths,
    make_widget,
    manager_for,
    repo,
    revision_settings,
    user_settings,
    wait_session,
)


@pytest.fixture(autouse=True)
def _later(monkeypatch):
    monkeypatch.setattr(prompts, "ask_restart", lambda *a, **k: False)


def click(qtbot, button):
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


@pytest.mark.enabledialog
def test_update_all_uninstall_enable_bookmark(qtbot, repo, make_profile, make_widget, tmp_path):
    old = repo.add("Upd", scm_revision="aaa1111", date="2025-01-01", scm_url="https://github.com/org/Upd.git")
    repo.add("Keep")
    repo.add("Wanted")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    manager = manager_for(ctx)
    assert manager.install(["Upd", "Keep"]).ok
    # A newer build of Upd appears on the server.
    old.unlink()
    repo.add("Upd", scm_revision="bbb2222", date="2025-02-01", scm_url="https://github.com/org/Upd.git")
    # An extension installed from an older Slicer's package: incompatible.
    stale = build_extension_package(tmp_path / "old", "Stale", app_revision=OLD_REV)
    assert manager.install_files([stale], force=True).ok
    desc = s4ext.read(ctx.install_path / "Stale.s4ext")  # as if left by the older Slicer
    desc["slicer_revision"] = OLD_REV
    s4ext.write(ctx.install_path / "Stale.s4ext", desc)
    with ctx.user_settings.edit() as e:
        e.set_string_list("Extensions/Bookmarked", ["Wanted"])

    widget = make_widget(manager_for(ctx))
    tab = widget.installed_tab
    # The cached catalog is fresh (no request): the update is found by "Check for updates".
    assert tab.model.get("Upd").state == RowState.INSTALLED
    click(qtbot, widget.check_updates_button)
    qtbot.waitUntil(lambda: widget.update_all_button.isVisible(), timeout=10000)
    assert "1 update available: Upd" in widget.install_tab.log_text()
    names = [r.name for r in tab.model.rows]
    assert names[0] == "Upd" and set(names) == {"Upd", "Keep", "Stale", "Wanted"}  # updates first
    upd = tab.model.get("Upd")
    assert upd.state == RowState.UPDATE_AVAILABLE
    assert upd.changelog_url == "https://github.com/org/Upd/compare/aaa1111...bbb2222"
    stale_row = tab.model.get("Stale")
    assert stale_row.state_text == f"Incompatible with Slicer r{REV} [built for r{OLD_REV}]"
    assert tab.model.get("Wanted").state_text == "Not installed"
    assert widget.tabs.tabText(3) == "Installed (3)"
    assert widget.update_all_button.isVisible() and widget.update_all_button.text() == "Update all (1)"
    assert not widget.check_updates_button.isVisible()
    assert widget.install_bookmarked_button.text() == "Install bookmarked (1)"

    # Update all.
    results = wait_session(qtbot, widget, lambda: click(qtbot, widget.update_all_button))
    assert [(r.name, r.outcome) for r in results] == [("Upd", Outcome.UPDATED)]
    assert s4ext.read(ctx.install_path / "Upd.s4ext")["revision"] == "bbb2222"
    qtbot.waitUntil(lambda: tab.model.get("Upd").state_text == "Update pending restart", timeout=5000)
    assert widget.check_updates_button.isVisible()

    # Disable / enable.
    widget.set_current_tab("installed")
    tab.select_name("Keep")
    assert tab.enable_button.text() == "&Disable"
    keep_path = (ctx.install_path / "Keep/lib/Slicer-5.8/qt-scripted-modules").as_posix()
    assert keep_path in additional_paths(ctx)
    click(qtbot, tab.enable_button)
    qtbot.waitUntil(lambda: tab.model.get("Keep").state == RowState.DISABLED, timeout=5000)
    assert keep_path not in additional_paths(ctx)
    assert s4ext.read(ctx.install_path / "Keep.s4ext")["enabled"] == "false"
    assert "Keep is disabled; restart Slicer" in tab.message.text()
    click(qtbot, tab.enable_button)
    qtbot.waitUntil(lambda: tab.model.get("Keep").enabled, timeout=5000)

    # Bookmark.
    click(qtbot, tab.bookmark_button)
    qtbot.waitUntil(lambda: tab.model.get("Keep").bookmarked, timeout=5000)
    assert "Keep" in manager.history.bookmarks()

    # Uninstall (standalone: immediate); a bookmarked extension stays listed.
    tab.select_name("Keep")
    click(qtbot, tab.uninstall_button)
    qtbot.waitUntil(lambda: not tab.model.get("Keep").installed, timeout=5000)
    assert not (ctx.install_path / "Keep.s4ext").exists() and not (ctx.install_path / "Keep").exists()
    assert "Uninstalled extension Keep." in tab.message.text()
    assert widget.restart_requested  # Modules/AdditionalPaths changed

    # Incompatible: cannot be enabled once disabled.
    tab.select_name("Stale")
    click(qtbot, tab.enable_button)
    qtbot.waitUntil(lambda: not tab.model.get("Stale").enabled, timeout=5000)
    assert not tab.enable_button.isEnabled()

    # Install bookmarked (N): Keep (bookmarked, uninstalled) and Wanted.
    assert widget.install_bookmarked_button.text() == "Install bookmarked (2)"
    results = wait_session(qtbot, widget, lambda: click(qtbot, widget.install_bookmarked_button))
    assert sorted(r.name for r in results if r.outcome == Outcome.INSTALLED) == ["Keep", "Wanted"]
    qtbot.waitUntil(lambda: widget.install_bookmarked_button.text() == "Install bookmarked (0)", timeout=5000)
    assert not widget.install_bookmarked_button.isEnabled()


def test_scheduled_uninstall_for_loaded_extensions_and_cancel(qtbot, repo, make_profile, make_widget):
    repo.add("Loaded")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    assert manager_for(ctx).install(["Loaded"]).ok
    widget = make_widget(manager_for(ctx), is_loaded=lambda name: True)
    widget.set_current_tab("installed")
    tab = widget.installed_tab
    tab.select_name("Loaded")
    assert "at the next start" in tab.uninstall_button.toolTip()
    click(qtbot, tab.uninstall_button)
    qtbot.waitUntil(lambda: tab.model.get("Loaded").state_text == "Uninstall pending restart", timeout=5000)
    assert revision_settings(ctx).value("Extensions/ScheduledForUninstall", [], type=list) == ["Loaded"]
    assert (ctx.install_path / "Loaded.s4ext").exists()
    assert widget.restart_requested
    assert tab.uninstall_button.text() == "Cancel u&ninstall"
    click(qtbot, tab.uninstall_button)
    qtbot.waitUntil(lambda: not tab.model.get("Loaded").scheduled_uninstall, timeout=5000)
    assert revision_settings(ctx).value("Extensions/ScheduledForUninstall", [], type=list) == []
    qtbot.waitUntil(lambda: not widget.restart_requested, timeout=5000)


def test_settings_menu_writes_slicer_ini(qtbot, repo, make_profile, make_widget):
    repo.add("X")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = make_widget(manager_for(ctx))
    assert widget.auto_check_action.isChecked() and widget.auto_deps_action.isChecked()
    assert not widget.auto_install_action.isChecked()
    widget.auto_install_action.trigger()
    widget.auto_deps_action.trigger()
    qtbot.waitUntil(lambda: user_settings(ctx).value("Extensions/AutoInstallDependencies") in ("false", False),
                    timeout=5000)
    assert user_settings(ctx).value("Extensions/AutoUpdateInstall") in ("true", True)
    qtbot.waitUntil(lambda: widget.view.state.auto_update_install, timeout=5000)


@pytest.mark.enabledialog
def test_server_url_dialog_changes_revision_setting_and_reloads(qtbot, repo, make_profile, make_widget, monkeypatch,
                                                                tmp_path):
    repo.add("FromFirst")
    repo.start()
    from slicer_ext_manager.localserver.server import PackageServer

    second_dir = tmp_path / "second"
    build_extension_package(second_dir, "FromSecond", app_revision=REV)
    with PackageServer(second_dir) as second:
        ctx = make_profile(repo.url, repo.server.app_id)
        widget = make_widget(manager_for(ctx))
        assert [r.name for r in widget.search_tab.model.rows] == ["FromFirst"]
        monkeypatch.setattr(prompts, "get_server_url", lambda parent, current: second.url + "/")
        widget.server_url_action.trigger()
        qtbot.waitUntil(lambda: [r.name for r in widget.search_tab.model.rows] == ["FromSecond"], timeout=10000)
        assert revision_settings(ctx).value("Extensions/ServerUrl") == second.url
        assert widget.manager.context.server_url == second.url
