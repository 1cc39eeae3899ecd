"""Restore tab (preselection from the history, Install selected, startup options,
Remove from history) and the startup popup."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from slicer_ext_manager.queue import Outcome
from slicer_ext_manager.ui import prompts, run_startup_check
from slicer_ext_manager.ui.models import ItemState

from .test_ui_support import OLD_REV, make_widget, manager_for, repo, user_settings, wait_session  # noqa: F401

HISTORY_INI = (
    "[Extensions]\nAutoUpdateCheck=true\n\n"
    "[ExtensionsHistory]\n"
    f"Revisions\\30000=Ancient, Alpha\n"
    f"Revisions\\{OLD_REV}=Alpha, Bravo, Gone\n"
)


@pytest.fixture
def history_server(repo):
    for name in ("Alpha", "Bravo", "Ancient", "Unrelated"):
        repo.add(name)
    repo.start()
    return repo


def checked(tab) -> list[str]:
    return tab.checked_names()


@pytest.mark.enabledialog
def test_restore_preselection_and_install_selected(qtbot, history_server, make_profile, make_widget, monkeypatch):
    monkeypatch.setattr(prompts, "ask_restart", lambda *a, **k: False)
    ctx = make_profile(history_server.url, history_server.server.app_id, user_ini=HISTORY_INI)
    widget = make_widget(manager_for(ctx))
    tab = widget.restore_tab
    widget.set_current_tab("restore")
    plan = tab.plan
    assert plan.previous_revision == OLD_REV
    model = tab.model
    rows = {r.name: r for r in model.rows}
    assert set(rows) == {"Alpha", "Ancient", "Bravo", "Gone"}
    # Preselected: the previous version's extensions that can be installed.
    assert checked(tab) == ["Alpha", "Bravo"]
    assert rows["Alpha"].state_text == f"was used in the previous version ({OLD_REV})"
    assert rows["Ancient"].state_text == "last used in version 30000"
    assert rows["Gone"].state_text.startswith("not available for this version")
    # Non-selectable: disabled, not checkable.
    gone = model.index(model.find("Gone"), 0)
    assert not (model.flags(gone) & Qt.ItemFlag.ItemIsEnabled)
    assert not model.setData(gone, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    # Select all / Deselect all (only selectable rows).
    qtbot.mouseClick(tab.select_all_button, Qt.MouseButton.LeftButton)
    assert checked(tab) == ["Alpha", "Ancient", "Bravo"]
    qtbot.mouseClick(tab.deselect_all_button, Qt.MouseButton.LeftButton)
    assert checked(tab) == [] and not tab.install_button.isEnabled()
    for name in ("Alpha", "Bravo"):
        model.setData(model.index(model.find(name), 0), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert tab.install_button.text() == "&Install selected (2)"

    # Install selected fills the Install tab (nothing starts yet) and shows it.
    qtbot.mouseClick(tab.install_button, Qt.MouseButton.LeftButton)
    assert widget.current_tab_name() == "install"
    install = widget.install_tab
    qtbot.waitUntil(lambda: [it.name for it in install.items] == ["Alpha", "Bravo"], timeout=5000)
    assert all(it.state == ItemState.PENDING for it in install.items) and not widget.busy
    results = wait_session(qtbot, widget, install.start)
    assert [(r.name, r.outcome) for r in results] == [("Alpha", Outcome.INSTALLED), ("Bravo", Outcome.INSTALLED)]
    # The plan is reloaded: now "currently installed".
    qtbot.waitUntil(lambda: tab.model.rows and
                    {r.name: r.state_text for r in tab.model.rows}["Alpha"] == "currently installed", timeout=5000)


def test_startup_options_and_remove_from_history(qtbot, history_server, make_profile, make_widget):
    ctx = make_profile(history_server.url, history_server.server.app_id, user_ini=HISTORY_INI)
    manager = manager_for(ctx)
    widget = make_widget(manager)
    tab = widget.restore_tab
    assert tab.check_on_startup.isChecked() and not tab.install_without_asking.isChecked()
    tab.install_without_asking.setChecked(True)
    qtbot.waitUntil(lambda: manager.startup_options() == (True, True), timeout=5000)
    tab.check_on_startup.setChecked(False)
    qtbot.waitUntil(lambda: manager.startup_options() == (False, True), timeout=5000)
    assert user_settings(ctx).value("ExtensionCheckOnStartup/dontCheck") in ("true", True)
    qtbot.waitUntil(lambda: not tab.install_without_asking.isEnabled(), timeout=5000)

    tab.select_name("Bravo")
    qtbot.mouseClick(tab.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.model.find("Bravo") < 0, timeout=5000)
    assert "Bravo" not in manager.history.names(OLD_REV)
    assert "Bravo was removed from the history" in widget.install_tab.log_text()


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
    assert (ctx.install_path / "Alpha.s4ext").exists() and (ctx.install_path / "Bravo.s4ext").exists()
    assert manager.startup_options()[0] is False  # don't ask again = don't check
    # Turned off: the next start does nothing.
    again = run_startup_check(manager)
    assert not again.checked and len(shown) == 2


@pytest.mark.enabledialog
def test_startup_popup_answered_no(qtbot, history_server, make_profile, monkeypatch):
    ctx = make_profile(history_server.url, history_server.server.app_id, user_ini=HISTORY_INI)
    manager = manager_for(ctx)
    monkeypatch.setattr(prompts, "ask_startup_restore", lambda parent, names: (False, False))
    result = run_startup_check(manager)
    assert result.checked and result.report is None
    assert not (ctx.install_path / "Alpha.s4ext").exists()
    assert manager.startup_options() == (True, False)


@pytest.mark.enabledialog
def test_startup_silent_install_then_restart_prompt(qtbot, history_server, make_profile, monkeypatch):
    ini = HISTORY_INI + "\n[ExtensionCheckOnStartup]\nifCheckInstallWithoutDialog=true\n"
    ctx = make_profile(history_server.url, history_server.server.app_id, user_ini=ini)
    manager = manager_for(ctx)
    monkeypatch.setattr(prompts, "ask_startup_restore",
                        lambda *a: pytest.fail("silent install must not ask"))
    restarted = []
    monkeypatch.setattr(prompts, "ask_restart", lambda parent, text, can_restart: can_restart)
    result = run_startup_check(manager, restart_callback=lambda: restarted.append(True))
    assert result.silent_install and result.report.ok
    assert restarted == [True]


def test_startup_nothing_to_restore(qtbot, history_server, make_profile):
    ctx = make_profile(history_server.url, history_server.server.app_id)
    result = run_startup_check(manager_for(ctx))
    assert result.checked and not result.candidates and result.report is None
