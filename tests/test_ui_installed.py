"""Installed tab: sections (installed, bookmarks not installed) that match the tab's
count, disabled and bookmarked rows, several rows at once, "Uninstall X?" (in use: at the
next start, with Cancel), updates (in use: scheduled) and "Install bookmarked (N)"."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from slicer_ext_manager import s4ext
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.queue import Outcome
from slicer_ext_manager.ui import prompts
from slicer_ext_manager.ui.rows import RowState

from .ui_fixtures import (
    OLD_REV,
    REV,
    additional_paths,
    click,
    manager_for,
    revision_settings,
    shown_names,
    user_settings,
    wait_session,
)


@pytest.fixture
def profile_with_extensions(repo, make_profile, tmp_path):
    """Keep, Upd (an update appears) and Stale (an older Slicer's build) installed; Wanted bookmarked."""
    old = repo.add("Upd", scm_revision="aaa1111", date="2025-01-01", scm_url="https://github.com/org/Upd.git")
    repo.add("Keep")
    repo.add("Wanted")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    manager = manager_for(ctx)
    assert manager.install(["Upd", "Keep"]).ok
    old.unlink()
    repo.add("Upd", scm_revision="bbb2222", date="2025-02-01", scm_url="https://github.com/org/Upd.git")
    stale = build_extension_package(tmp_path / "old", "Stale", app_revision=OLD_REV)
    assert manager.install_files([stale], force=True).ok
    desc = s4ext.read(ctx.install_path / "Stale.s4ext")
    desc["slicer_revision"] = OLD_REV
    s4ext.write(ctx.install_path / "Stale.s4ext", desc)
    with ctx.user_settings.edit() as e:
        e.set_string_list("Extensions/Bookmarked", ["Wanted"])
    return ctx


def test_sections_match_the_count_and_show_disabled_and_bookmarked(qtbot, profile_with_extensions, make_widget):
    """#17.7: "Installed (3)" and the bookmark in its own section; disabled and bookmarked visible."""
    ctx = profile_with_extensions
    manager_for(ctx).set_enabled("Keep", False)
    with ctx.user_settings.edit() as e:
        e.set_string_list("Extensions/Bookmarked", ["Wanted", "Keep"])
    widget = make_widget(manager_for(ctx))
    tab = widget.installed_tab
    model = tab.proxy
    titles = [model.index(i, 0).data() for i in range(model.rowCount())]
    assert titles == ["Installed (3)", "Keep", "Stale", "Upd", "Bookmarked, not installed (1)", "Wanted"]
    assert widget.tabs.tabText(3) == "Installed (3)"
    keep = tab.model.get("Keep")
    assert keep.kind == RowState.DISABLED and keep.bookmarked
    index = model.index(titles.index("Keep"), 0)
    assert index.data(Qt.ItemDataRole.AccessibleTextRole).startswith("Keep, bookmarked, Installed, version")
    assert tab.model.get("Stale").state_text == f"Incompatible with Slicer r{REV} [built for r{OLD_REV}]"
    assert tab.model.get("Wanted").state_text == "Not installed"
    assert not model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsSelectable  # a header


@pytest.mark.enabledialog
def test_updates_of_extensions_in_use_are_scheduled_and_cancelled(qtbot, profile_with_extensions, make_widget,
                                                                  later):
    """#17.2: the restart state is what is pending: a scheduled update asks for a restart,
    cancelling it does not."""
    ctx = profile_with_extensions
    widget = make_widget(manager_for(ctx))
    tab = widget.installed_tab
    assert not widget.restart_requested
    click(qtbot, widget.toolbar.check_updates_button)
    qtbot.waitUntil(lambda: widget.toolbar.update_all_button.isVisible(), timeout=10000)
    assert widget.toolbar.update_status.text() == "1 update available: Upd"  # said where it was clicked
    assert shown_names(tab.view)[:2] == ["Installed (3)", "Upd"]  # updates first
    upd = tab.model.get("Upd")
    assert upd.kind == RowState.UPDATE_AVAILABLE
    assert upd.changelog_url == "https://github.com/org/Upd/compare/aaa1111...bbb2222"
    results = wait_session(qtbot, widget, lambda: click(qtbot, widget.toolbar.update_all_button))
    assert [(r.name, r.outcome) for r in results] == [("Upd", Outcome.SCHEDULED)]  # in use: at the next start
    assert s4ext.read(ctx.install_path / "Upd.s4ext")["revision"] == "aaa1111"
    qtbot.waitUntil(lambda: tab.model.get("Upd").state_text == "Update pending restart", timeout=5000)
    assert widget.restart_requested
    widget.set_current_tab("installed")
    tab.select_name("Upd")
    assert tab.update_button.text() == "Cancel &update"
    click(qtbot, tab.update_button)
    qtbot.waitUntil(lambda: not tab.model.get("Upd").state.scheduled_update, timeout=5000)
    assert "Upd" not in revision_settings(ctx).value("Extensions/ScheduledForUpdate", {})
    qtbot.waitUntil(lambda: not widget.restart_requested, timeout=5000)


@pytest.mark.enabledialog
def test_uninstall_asks_and_waits_for_a_restart_when_in_use(qtbot, profile_with_extensions, make_widget,
                                                           monkeypatch, later):
    """#17.3: "Uninstall X?"; in use: scheduled for the next start, with Cancel; else now."""
    ctx = profile_with_extensions
    widget = make_widget(manager_for(ctx))
    widget.set_current_tab("installed")
    tab = widget.installed_tab
    answers, asked = [False, True, True], []
    monkeypatch.setattr(prompts, "ask_uninstall",
                        lambda parent, now, at_restart: asked.append((list(now), list(at_restart))) or answers.pop(0))
    tab.select_name("Keep")
    click(qtbot, tab.uninstall_button)
    assert asked == [([], ["Keep"])] and (ctx.install_path / "Keep.s4ext").exists()  # "Keep": nothing happens
    click(qtbot, tab.uninstall_button)
    qtbot.waitUntil(lambda: tab.model.get("Keep").state_text == "Uninstall pending restart", timeout=5000)
    assert revision_settings(ctx).value("Extensions/ScheduledForUninstall", [], type=list) == ["Keep"]
    assert (ctx.install_path / "Keep.s4ext").exists() and widget.restart_requested
    assert tab.uninstall_button.text() == "Cancel u&ninstall"
    click(qtbot, tab.uninstall_button)
    qtbot.waitUntil(lambda: not tab.model.get("Keep").state.scheduled_uninstall, timeout=5000)
    qtbot.waitUntil(lambda: not widget.restart_requested, timeout=5000)
    # Installed in this session (not loaded): removed at once.
    wait_session(qtbot, widget, lambda: widget.install_now(["Wanted"]))
    widget.set_current_tab("installed")
    qtbot.waitUntil(lambda: tab.model.get("Wanted") is not None and tab.model.get("Wanted").installed, timeout=5000)
    tab.select_name("Wanted")
    click(qtbot, tab.uninstall_button)
    assert asked[-1] == (["Wanted"], [])
    qtbot.waitUntil(lambda: not (ctx.install_path / "Wanted.s4ext").exists(), timeout=5000)
    qtbot.waitUntil(lambda: "Uninstalled extension Wanted." in tab.message.text(), timeout=5000)


def test_several_rows_at_once(qtbot, profile_with_extensions, make_widget, confirm):
    """#17.7: multi-selection with bulk actions."""
    ctx = profile_with_extensions
    widget = make_widget(manager_for(ctx))
    widget.set_current_tab("installed")
    tab = widget.installed_tab
    tab.select_names(["Keep", "Upd"])
    assert tab.enable_button.text() == "&Disable (2)" and tab.uninstall_button.text() == "U&ninstall (2)"
    keep_path = (ctx.install_path / "Keep/lib/Slicer-5.8/qt-scripted-modules").as_posix()
    assert keep_path in additional_paths(ctx)
    click(qtbot, tab.enable_button)
    qtbot.waitUntil(lambda: not tab.model.get("Keep").enabled and not tab.model.get("Upd").enabled, timeout=5000)
    assert keep_path not in additional_paths(ctx)
    assert tab.model.get("Keep").state_text == "Disabled — takes effect after restart"
    tab.select_names(["Keep", "Upd"])
    assert tab.enable_button.text() == "&Enable (2)"
    click(qtbot, tab.bookmark_button)
    qtbot.waitUntil(lambda: tab.model.get("Keep").bookmarked and tab.model.get("Upd").bookmarked, timeout=5000)
    tab.select_names(["Keep", "Upd"])
    click(qtbot, tab.uninstall_button)
    assert confirm == [([], ["Keep", "Upd"])]  # one question for both
    qtbot.waitUntil(lambda: tab.model.get("Keep").state.scheduled_uninstall and
                    tab.model.get("Upd").state.scheduled_uninstall, timeout=5000)
    menu = {a.text() for a in tab.context_menu().actions()}
    assert "Cancel uninstall (2)" in menu


def test_incompatible_cannot_be_enabled_again(qtbot, profile_with_extensions, make_widget):
    widget = make_widget(manager_for(profile_with_extensions))
    widget.set_current_tab("installed")
    tab = widget.installed_tab
    tab.select_name("Stale")
    click(qtbot, tab.enable_button)
    qtbot.waitUntil(lambda: not tab.model.get("Stale").enabled, timeout=5000)
    tab.select_name("Stale")
    assert not tab.enable_button.isEnabled()


@pytest.mark.enabledialog
def test_install_bookmarked_count_never_jumps_back(qtbot, repo, make_profile, make_widget, later):
    """#17.13: "Install bookmarked (N)" goes 2 → 0 and stays there during the install."""
    for name in ("One", "Two"):
        repo.add(name, payload_size=256 * 1024)
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id,
                       user_ini="[Extensions]\nAutoUpdateCheck=true\nBookmarked=One, Two\n")
    widget = make_widget(manager_for(ctx))
    button = widget.toolbar.install_bookmarked_button
    assert button.text() == "Install bookmarked (2)"
    texts = [button.text()]
    widget.install_tab.queue.changed.connect(lambda: texts.append(button.text()))
    widget.service.viewChanged.connect(lambda _v: texts.append(button.text()))
    wait_session(qtbot, widget, lambda: click(qtbot, button))
    qtbot.wait(100)
    counts = [int(t.split("(")[1].rstrip(")")) for t in texts]
    assert counts[0] == 2 and counts[-1] == 0
    assert all(a >= b for a, b in zip(counts, counts[1:])), counts  # never up again


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
    qtbot.waitUntil(lambda: widget.view.state.options.auto_update_install, timeout=5000)
