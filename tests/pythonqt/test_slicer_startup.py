"""The startup check inside the stand-in Slicer: the popup answered by the test, "Don't ask again"
persisted, silent mode with and without a main window, the restart request reaching Slicer,
nothing in testing mode or with nothing to do."""

from __future__ import annotations

import pytest

from ..bindings import qsettings
from .slicer_env import MODULE_SOURCE, OLD, REV, wait_for

HISTORY = f"[ExtensionsHistory]\nRevisions\\{OLD}=Tool\n"
SILENT = "[ExtensionCheckOnStartup]\nifCheckInstallWithoutDialog=true\n"


def _start(env):
    """Load the module (it connects to startupCompleted) and let Slicer finish starting."""
    import slicer_standin

    slicer_standin.load_module(MODULE_SOURCE)
    env.app.startupCompleted.emit()
    return env.session


def _check(session):
    return wait_for(lambda: session.startup, what="the startup check to start")


def _published(girder_publish):
    girder_publish("Tool", app_revision=REV, depends=("ToolBase",))
    girder_publish("ToolBase", app_revision=REV)


def _click(box, button):
    box.button(button).click()


@pytest.mark.girder
def test_the_popup_is_answered_dont_ask_again_is_kept_and_the_restart_reaches_slicer(
        slicer_env, girder_server, girder_app, girder_publish):
    import qt

    _published(girder_publish)
    env = slicer_env(girder_server.url, girder_app.app_id, user_ini=HISTORY)
    check = _check(_start(env))
    box = wait_for(lambda: check.prompt, what="the startup question")
    assert box.text == "1 compatible extension from a previous Slicer installation was found. Install it now?"
    assert "Tool" in box.informativeText and box.checkBox().text == "Don't ask again"
    box.checkBox().setChecked(True)
    _click(box, qt.QMessageBox.Yes)
    restart = wait_for(lambda: check.outcome == "asking restart" and check.prompt, what="the restart prompt")
    assert set(env.model.installedExtensions) == {"Tool", "ToolBase"}
    assert check.report is not None and check.report.ok and check.progress.overall == 1.0
    assert restart.button(qt.QMessageBox.Yes).text == "Restart now"
    assert env.app.restarts == 0
    _click(restart, qt.QMessageBox.Yes)
    wait_for(lambda: check.outcome == "restarting", what="the restart")
    assert env.app.restarts == 1  # slicer.util.restart() reached Slicer
    env.idle()
    us = qsettings(env.app.slicerUserSettingsFilePath)
    assert us.value("ExtensionCheckOnStartup/dontCheck", False, type=bool) is True  # "Don't ask again"
    assert env.manager.options().check_on_startup is False
    assert sorted(us.value(f"ExtensionsHistory/Revisions/{REV}", [], type=list)) == ["Tool", "ToolBase"]


@pytest.mark.girder
def test_no_keeps_the_extensions_out_and_asks_again_next_time(slicer_env, girder_server, girder_app, girder_publish):
    import qt

    _published(girder_publish)
    env = slicer_env(girder_server.url, girder_app.app_id, user_ini=HISTORY)
    check = _check(_start(env))
    box = wait_for(lambda: check.prompt, what="the startup question")
    _click(box, qt.QMessageBox.No)
    wait_for(lambda: check.outcome == "declined", what="the answer")
    env.idle()
    assert env.model.installedExtensions == () and env.app.restarts == 0
    assert env.manager.options().check_on_startup is True


@pytest.mark.girder
def test_silent_mode_installs_without_asking_then_offers_the_restart(slicer_env, girder_server, girder_app,
                                                                    girder_publish):
    import qt

    _published(girder_publish)
    env = slicer_env(girder_server.url, girder_app.app_id, user_ini=HISTORY + SILENT)
    check = _check(_start(env))
    restart = wait_for(lambda: check.outcome == "asking restart" and check.prompt, what="the restart prompt")
    assert check.progress is not None and set(check.progress.results()) == {"Tool", "ToolBase"}
    _click(restart, qt.QMessageBox.No)
    wait_for(lambda: check.outcome == "installed", what="the answer")
    assert env.app.restarts == 0 and "Restart Slicer later" in check.message
    assert set(env.model.installedExtensions) == {"Tool", "ToolBase"}


@pytest.mark.girder
def test_without_a_main_window_the_silent_setting_decides(slicer_env, girder_server, girder_app, girder_publish):
    _published(girder_publish)
    asked = slicer_env(girder_server.url, girder_app.app_id, user_ini=HISTORY, main_window=False)
    check = _check(_start(asked))
    wait_for(lambda: check.outcome == "not asked", what="the check")
    assert check.prompt is None and asked.model.installedExtensions == ()
    assert "no main window" in check.message

    silent = slicer_env(girder_server.url, girder_app.app_id, user_ini=HISTORY + SILENT, main_window=False)
    check = _check(_start(silent))
    wait_for(lambda: check.outcome == "installed", what="the silent install")
    assert check.prompt is None and check.progress_dialog is None
    assert set(silent.model.installedExtensions) == {"Tool", "ToolBase"} and silent.app.restarts == 0
    assert check.message == "All extensions restored. Restart Slicer to use them."


def test_nothing_pops_up_in_testing_mode_or_with_nothing_to_do(slicer_env):
    testing = slicer_env(user_ini=HISTORY, testing=True)
    check = _check(_start(testing))
    assert check.outcome == "testing" and check.prompt is None
    testing.idle()

    nothing = slicer_env(user_ini="[Extensions]\nAutoUpdateCheck=false\n")  # no history, no bookmarks
    check = _check(_start(nothing))
    wait_for(lambda: check.outcome == "nothing", what="the check")
    assert check.prompt is None and nothing.app.restarts == 0

    off = slicer_env(user_ini=HISTORY + "[ExtensionCheckOnStartup]\ndontCheck=true\n")
    check = _check(_start(off))
    wait_for(lambda: check.outcome == "nothing", what="the check")
    assert "turned off" in check.message


def test_an_unreachable_server_at_startup_costs_the_timeout_and_shows_nothing(slicer_env):
    env = slicer_env("http://127.0.0.1:9", user_ini=HISTORY)
    session = _start(env)
    check = _check(session)
    wait_for(lambda: check.outcome not in ("pending", "checking"), what="the check")
    assert check.outcome == "nothing" and check.prompt is None
    assert check.message.startswith("Nothing was restored:")
