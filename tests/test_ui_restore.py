"""Restore tab (preselection from the history, Install selected installs, Add to queue
only lists, startup options, Remove from history also for entries that cannot be
installed, the legend, offline wording) and the startup popup."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from slicer_ext_manager.queue import Outcome
from slicer_ext_manager.ui import prompts, run_startup_check
from slicer_ext_manager.ui.queue_model import ItemState

from .ui_fixtures import OLD_REV, click, manager_for, user_settings, wait_session

HISTORY_INI = (
    "[Extensions]\nAutoUpdateCheck=true\n\n"
    "[ExtensionsHistory]\n"
    "Revisions\\30000=Ancient, Alpha\n"
    f"Revisions\\{OLD_REV}=Alpha, Bravo, Gone\n"
)


@pytest.fixture
def history_server(repo):
    for name in ("Alpha", "Bravo", "Ancient", "Unrelated"):
        repo.add(name)
    repo.start()
    return repo


@pytest.mark.enabledialog
def test_preselection_and_install_selected_installs(qtbot, history_server, make_profile, make_widget, later):
    """#17.4: "Install selected (2)" installs; it does not only queue."""
    ctx = make_profile(history_server.url, history_server.server.app_id, user_ini=HISTORY_INI)
    widget = make_widget(manager_for(ctx))
    tab = widget.restore_tab
    widget.set_current_tab("restore")
    assert tab.plan.previous_revision == OLD_REV
    model = tab.model
    rows = {r.name: r for r in model.rows}
    assert set(rows) == {"Alpha", "Ancient", "Bravo", "Gone"}
    assert tab.checked_names() == ["Alpha", "Bravo"]
    assert rows["Alpha"].state_text == f"was used in the previous version ({OLD_REV})"
    assert rows["Ancient"].state_text == "last used in version 30000"
    assert rows["Gone"].state_text.startswith("not available for this version")
    assert "bookmarked" in tab.legend.text() and "not available for this Slicer" in tab.legend.text()
    click(qtbot, tab.select_all_button)
    assert tab.checked_names() == ["Alpha", "Ancient", "Bravo"]
    click(qtbot, tab.deselect_all_button)
    assert tab.checked_names() == [] and not tab.install_button.isEnabled()
    for name in ("Alpha", "Bravo"):
        model.setData(model.index(model.find(name), 0), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert tab.install_button.text() == "&Install selected (2)"
    results = wait_session(qtbot, widget, lambda: click(qtbot, tab.install_button))
    assert widget.current_tab_name() == "install"
    assert [(r.name, r.outcome) for r in results] == [("Alpha", Outcome.INSTALLED), ("Bravo", Outcome.INSTALLED)]
    qtbot.waitUntil(lambda: {r.name: r.state_text for r in tab.model.rows}["Alpha"] == "currently installed",
                    timeout=5000)


def test_add_to_queue_only_lists(qtbot, history_server, make_profile, make_widget):
    ctx = make_profile(history_server.url, history_server.server.app_id, user_ini=HISTORY_INI)
    widget = make_widget(manager_for(ctx))
    widget.set_current_tab("restore")
    click(qtbot, widget.restore_tab.queue_button)
    install = widget.install_tab
    qtbot.waitUntil(lambda: [it.name for it in install.items] == ["Alpha", "Bravo"], timeout=5000)
    assert all(it.state == ItemState.PENDING for it in install.items) and not widget.busy


def test_startup_options_and_remove_from_history(qtbot, history_server, make_profile, make_widget, confirm):
    """#17.10: "Remove from history" also for an entry that cannot be installed."""
    ctx = make_profile(history_server.url, history_server.server.app_id, user_ini=HISTORY_INI)
    manager = manager_for(ctx)
    widget = make_widget(manager)
    widget.set_current_tab("restore")
    tab = widget.restore_tab
    assert tab.check_on_startup.isChecked() and not tab.install_without_asking.isChecked()
    tab.install_without_asking.setChecked(True)
    qtbot.waitUntil(lambda: manager.startup_options() == (True, True), timeout=5000)
    tab.check_on_startup.setChecked(False)
    qtbot.waitUntil(lambda: manager.startup_options() == (False, True), timeout=5000)
    assert user_settings(ctx).value("ExtensionCheckOnStartup/dontCheck") in ("true", True)
    qtbot.waitUntil(lambda: not tab.install_without_asking.isEnabled(), timeout=5000)

    tab.select_name("Gone")  # not installable here, still selectable
    assert tab.selected_names() == ["Gone"]
    click(qtbot, tab.remove_button)
    assert confirm == [["Gone"]]
    qtbot.waitUntil(lambda: tab.model.find("Gone") < 0, timeout=5000)
    assert "Gone" not in manager.history.names(OLD_REV)
    assert "Gone removed from the history" in widget.install_tab.log_text()


def test_offline_rows_say_the_catalog_is_unavailable(qtbot, make_profile, make_widget):
    """#17.6: the catalog could not be loaded: the extension is not "not available"."""
    ctx = make_profile("http://127.0.0.1:9", user_ini=HISTORY_INI)
    widget = make_widget(manager_for(ctx))
    rows = {r.name: r for r in widget.restore_tab.model.rows}
    assert rows["Alpha"].state_text == "availability unknown: the extensions catalog could not be loaded"
    assert rows["Alpha"].kind.value == "unknown"
    assert not any("not available" in r.state_text for r in rows.values())


def test_bookmarks_say_checking_while_the_catalog_loads(qtbot, repo, make_profile, make_widget):
    """#17.6: before the catalog arrives, a bookmark is being checked, not "Not found"."""
    repo.add("Wanted")
    repo.start()
    repo.faults.delay(r"/extension$", 1.5)
    ctx = make_profile(repo.url, repo.server.app_id, user_ini="[Extensions]\nBookmarked=Wanted\n")
    widget = make_widget(manager_for(ctx), wait=False)
    qtbot.waitUntil(lambda: widget.installed_tab.model.get("Wanted") is not None, timeout=5000)
    assert widget.installed_tab.model.get("Wanted").state_text.startswith("Checking whether it is available")
    qtbot.waitUntil(lambda: widget.catalog_loaded, timeout=10000)
    assert widget.installed_tab.model.get("Wanted").state_text == "Not installed"


@pytest.mark.enabledialog
def test_startup_popup_answered_yes_with_dont_ask_again(qtbot, history_server, make_profile, monkeypatch):
    ctx = make_profile(history_server.url, history_server.server.app_id, user_ini=HISTORY_INI)
    manager = manager_for(ctx)
    shown = []

    def fake_exec(box):
        shown.append((box.windowTitle(), box.text()))
        if box.checkBox() is not None:
            box.checkBox().setChecked(True)  # "Don't ask again"
            return QMessageBox.StandardButton.Yes
        return QMessageBox.StandardButton.Ok  # the restart prompt: nothing clicked = Later

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    result = run_startup_check(manager)
    assert shown[0] == ("Restore extensions",
                        "2 compatible extensions from a previous Slicer installation were found. Install them now?")
    assert shown[1][0] == "Restart Slicer"
    assert result.checked and result.report is not None and result.report.ok
    assert sorted(result.report.names(Outcome.INSTALLED)) == ["Alpha", "Bravo"]
    assert result.message == "All extensions restored. Please restart Slicer."
    assert manager.startup_options()[0] is False
    assert not run_startup_check(manager).checked and len(shown) == 2


@pytest.mark.enabledialog
def test_startup_popup_answered_no(qtbot, history_server, make_profile, monkeypatch):
    ctx = make_profile(history_server.url, history_server.server.app_id, user_ini=HISTORY_INI)
    manager = manager_for(ctx)
    monkeypatch.setattr(prompts, "ask_startup_restore", lambda parent, names: (False, False))
    result = run_startup_check(manager)
    assert result.checked and result.report is None
    assert not (ctx.install_path / "Alpha.s4ext").exists() and manager.startup_options() == (True, False)


@pytest.mark.enabledialog
def test_silent_restore_then_the_dialog_says_restart(qtbot, history_server, make_profile, make_widget, monkeypatch):
    """#17.2: after the startup check restored extensions, the dialog opened with the same
    manager has Restart enabled and the rows say "Install pending restart"."""
    ini = HISTORY_INI + "\n[ExtensionCheckOnStartup]\nifCheckInstallWithoutDialog=true\n"
    ctx = make_profile(history_server.url, history_server.server.app_id, user_ini=ini)
    manager = manager_for(ctx)
    monkeypatch.setattr(prompts, "ask_startup_restore", lambda *a: pytest.fail("silent install must not ask"))
    restarted = []
    monkeypatch.setattr(prompts, "ask_restart", lambda parent, text, can_restart, failures=(): can_restart)
    result = run_startup_check(manager, restart_callback=lambda: restarted.append(True))
    assert result.silent_install and result.report.ok and restarted == [True]
    from slicer_ext_manager.ui import ExtensionsManagerDialog

    dialog = ExtensionsManagerDialog(manager, icon_cache_dir=None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.widget.catalog_loaded, timeout=10000)
    assert dialog.restart_button.isEnabled() and dialog.restart_label.isVisible()
    assert dialog.widget.installed_tab.model.get("Alpha").state_text == "Install pending restart"
    dialog.widget.shutdown()


def test_startup_nothing_to_restore(qtbot, history_server, make_profile):
    result = run_startup_check(manager_for(make_profile(history_server.url, history_server.server.app_id)))
    assert result.checked and not result.candidates and result.report is None
