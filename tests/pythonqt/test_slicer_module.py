"""The Extensions Restore module under a real PythonQt, in a stand-in Slicer (``standin/``):
loading, the panel, a restore from the real server, cancel, history kept for Slicer's own
installs. The startup check, the Slicer-updates flow and the package are in the sibling files."""

from __future__ import annotations

import pytest

from ..bindings import qsettings
from .slicer_env import MODULE_SOURCE, OLD, REV, wait_for

USER_INI = (f"[Extensions]\nBookmarked=Marked\n\n[ExtensionsHistory]\nRevisions\\{OLD}=Tool, Gone\n\n"
            "[MainWindow]\ngeometry=@ByteArray(\\x1\\xd9\\xd0\\xcb)\n")


def _load(env):
    import slicer_standin

    return slicer_standin.load_module(MODULE_SOURCE)


def _widget(module):
    import qt

    parent = qt.QWidget()
    parent.setLayout(qt.QVBoxLayout())
    widget = module.ExtensionsRestoreWidget(parent)
    widget.setup()
    return parent, widget


def test_the_module_loads_and_its_widget_sets_up(slicer_env):
    env = slicer_env()
    module, instance, parent = _load(env)
    assert parent.title == "Extensions Restore" and parent.categories == ["Utilities"]
    assert env.session.started and env.session.history_sync.connected  # connected at module load
    assert "ExtensionsRestore" in env.slicer.selfTests
    _, widget = _widget(module)
    panel = widget.panel
    assert [panel.tabs.tabText(i) for i in range(panel.tabs.count)] == ["Restore", "Profiles", "Slicer updates"]
    wait_for(lambda: panel.restore.plan is not None, what="the restore plan")
    assert panel.restore.header.text == "No extensions from previous Slicer versions and no bookmarks were found."
    wait_for(lambda: "could not be checked" in panel.updates.status.text, what="the update check to fail")
    assert "127.0.0.1:9" in panel.updates.status.text  # the sentence names the server it could not reach
    assert not panel.restore.check_on_startup.enabled or panel.restore.check_on_startup.checked
    widget.cleanup()
    assert not env.session.changed_listeners


def test_the_modules_own_self_test_passes(slicer_env):
    env = slicer_env()
    _load(env)
    env.slicer.selfTests["ExtensionsRestore"]()


def _plan_lines(restore):
    return {str(it.data(256)): str(it.text()) for it in restore.items()}


@pytest.mark.girder
def test_restore_of_two_extensions_with_a_dependency_from_the_real_server(slicer_env, girder_server, girder_app,
                                                                        girder_publish):
    girder_publish("Tool", app_revision=REV, depends=("ToolBase",), payload_size=400_000)
    girder_publish("ToolBase", app_revision=REV, payload_size=400_000)
    girder_publish("Marked", app_revision=REV)
    env = slicer_env(girder_server.url, girder_app.app_id, user_ini=USER_INI)
    module, _instance, _parent = _load(env)
    _, widget = _widget(module)
    restore = widget.panel.restore
    wait_for(lambda: restore.plan is not None, what="the restore plan")
    lines = _plan_lines(restore)
    assert lines["Tool"] == f"Tool\n   was used in the previous version ({OLD})"
    assert lines["Marked"] == "Marked ★\n   bookmarked"
    assert lines["Gone"].startswith("⊘ Gone\n   not available for this version (not found on the server")
    assert restore.checked_names() == ["Tool", "Marked"]  # the plan's preselection
    gone = restore.item_named("Gone")
    assert not (int(gone.flags()) & 16)  # Qt::ItemIsUserCheckable: shown, not selectable
    restore.set_all(False)
    assert restore.checked_names() == [] and not restore.install_button.enabled
    restore.set_all(True)
    restore.item_named("Marked").setCheckState(0)
    assert restore.checked_names() == ["Tool"] and restore.install_button.text == "Install selected (1)"

    seen = []
    original = restore.progress.update

    def watch(event):
        original(event)
        seen.append((event.kind.value, event.name, round(restore.progress.progress.overall, 3),
                     str(restore.progress.status.text)))

    restore.progress.update = watch
    restore.install_selected()
    assert env.session.installing and not restore.install_button.enabled
    wait_for(lambda: not env.session.installing and restore.plan is not None and not restore.loading,
             what="the install and the reload")
    started = [name for kind, name, *_ in seen if kind == "started"]
    assert started == ["ToolBase", "Tool"]  # the dependency first, one at a time
    assert any(kind == "progress" and name == "ToolBase" for kind, name, *_ in seen)
    overall = [o for _k, _n, o, _s in seen]
    assert overall == sorted(overall) and overall[-1] == 1.0  # overall progress only moves forward
    assert any("Installing ToolBase (1/2): downloading" in s for *_x, s in seen)
    assert "All extensions restored. Restart Slicer to use them." in restore.result.text
    lines = _plan_lines(restore)
    assert lines["Tool"] == "✓ Tool\n   currently installed"  # the list was refreshed
    assert restore.checked_names() == ["Marked"]
    assert env.model.update_model_calls >= 1  # Slicer's own manager was told to re-read the folder
    assert set(env.model.installedExtensions) == {"Tool", "ToolBase"}
    us = qsettings(env.app.slicerUserSettingsFilePath)
    assert sorted(us.value(f"ExtensionsHistory/Revisions/{REV}", [], type=list)) == ["Tool", "ToolBase"]
    assert "MainWindow/geometry" in [str(k) for k in us.allKeys()]
    widget.cleanup()


@pytest.mark.girder
def test_cancel_stops_the_restore_and_leaves_nothing_half_installed(slicer_env, girder_server, girder_app,
                                                                   girder_publish):
    from ..faultproxy import FaultProxy

    girder_publish("Tool", app_revision=REV, depends=("ToolBase",), payload_size=2_000_000)
    girder_publish("ToolBase", app_revision=REV, payload_size=2_000_000)
    proxy = FaultProxy(girder_server.url)  # downloads trickle: the cancel lands mid-download
    proxy.add(r"/download", "slow", times=10, seconds=0.05)
    env = slicer_env(proxy.url, girder_app.app_id, user_ini=USER_INI)
    from slicer_ext_manager.slicermodule.panel import ExtensionsRestorePanel

    panel = ExtensionsRestorePanel(env.session)
    restore = panel.restore
    restore.reload()
    wait_for(lambda: restore.plan is not None, what="the restore plan")
    restore.item_named("Marked").setCheckState(0)
    original = restore.progress.update

    def cancel_at_first_progress(event):
        original(event)
        if event.kind.value == "progress" and restore.progress.handle is not None:
            restore.progress.cancel()

    restore.progress.update = cancel_at_first_progress
    restore.install_selected()
    wait_for(lambda: not env.session.installing and not restore.loading, what="the cancelled install")
    outcomes = restore.progress.progress.results()
    assert outcomes and all(o.value == "cancelled" for o in outcomes.values()), outcomes
    assert "could not be installed" in restore.result.text and "cancelled" in restore.result.text
    install_path = env.manager.context.install_path
    assert not list(install_path.glob("*.s4ext"))
    assert [p.name for p in install_path.iterdir() if p.is_dir() and p.name != ".staging"] == []
    assert not list((install_path / ".staging").iterdir()) if (install_path / ".staging").exists() else True
    assert restore.checked_names() == ["Tool"]  # offered again
    panel.close()
    proxy.close()


def test_history_is_kept_for_what_slicers_own_manager_does(slicer_env, tmp_path):
    """The stand-in model emits what Slicer's emits; the history follows, written off the GUI thread."""
    from slicer_ext_manager.localserver.builder import build_extension_package

    env = slicer_env(user_ini=f"[ExtensionsHistory]\nRevisions\\{OLD}=Old\n")
    _load(env)
    archive = build_extension_package(tmp_path / "pkgs", "Foo", app_revision=REV)
    assert env.model.installExtension(str(archive))  # Slicer's own install from file
    env.model.extensionInstalled.emit("Bar")
    env.idle()
    history = env.manager.history
    assert history.names(REV) == ["Foo", "Bar"]
    env.model.scheduleExtensionForUninstall("Foo")
    env.idle()
    assert history.scheduled_for_removal() == ["Foo"]
    env.model.cancelExtensionScheduledForUninstall("Foo")
    env.idle()
    assert history.scheduled_for_removal() == []
    env.model.uninstallExtension("Foo")
    env.idle()
    assert history.names(REV) == ["Bar"] and history.names(OLD) == ["Old"]
    assert [c for c, _ in env.session.history_sync.received] == ["installed", "installed", "scheduled",
                                                                 "unscheduled", "uninstalled"]


def test_after_a_restart_the_history_completes_what_slicer_did_at_startup(slicer_env, tmp_path):
    """Slicer uninstalls scheduled extensions before modules load: reconcile() finishes the job, and
    extensions installed before the module was add themselves."""
    from slicer_ext_manager.localserver.builder import build_extension_package

    env = slicer_env(user_ini=f"[ExtensionsHistory]\nRevisions\\{REV}=Gone, Kept\nScheduledForRemoval=Gone\n")
    env.model.installExtension(str(build_extension_package(tmp_path / "p", "Kept", app_revision=REV)))
    env.model.installExtension(str(build_extension_package(tmp_path / "p", "Early", app_revision=REV)))
    env.session.history_sync.reconcile()
    env.idle()
    assert env.manager.history.names(REV) == ["Kept", "Early"]
    assert env.manager.history.scheduled_for_removal() == []


def test_slicers_settings_object_and_the_worker_share_the_file(slicer_env):
    """Slicer holds its QSettings on the GUI thread; the module writes from a worker through its
    own objects: each sees the other's values at once, and neither loses the other's."""
    env = slicer_env()
    host = env.app.userSettings()
    host.setValue("Extensions/Bookmarked", "Pending")  # Slicer's own, not yet saved
    env.session.history_sync.record("installed", "Foo")
    env.idle()
    assert host.value(f"ExtensionsHistory/Revisions/{REV}") == "Foo"  # current in Slicer's object
    text = open(env.app.slicerUserSettingsFilePath, encoding="utf-8").read()
    assert "Bookmarked=Pending" in text and f"{REV}=Foo" in text


def test_the_panel_renders(tmp_path):
    """The screenshots of docs/screenshots/slicer-module-*.png, rendered here into tmp_path."""
    import qt

    from .screens import SIZE, render

    paths = render(tmp_path / "shots", tmp_path / "work")
    assert [p.name for p in paths] == ["slicer-module-restore.png", "slicer-module-profiles.png",
                                       "slicer-module-updates.png"]
    for path in paths:
        image = qt.QImage(str(path))
        assert (image.width(), image.height()) == SIZE
        colors = {image.pixel(x, y) for x in range(0, SIZE[0], 7) for y in range(0, SIZE[1], 7)}
        assert len(colors) > 20, path  # drawn, not blank


def test_without_the_catalog_availability_is_unknown_and_entries_can_still_be_forgotten(slicer_env):
    from slicer_ext_manager.slicermodule.panel import ExtensionsRestorePanel

    env = slicer_env("http://127.0.0.1:9", user_ini=USER_INI)
    panel = ExtensionsRestorePanel(env.session)
    restore = panel.restore
    restore.reload()
    wait_for(lambda: restore.plan is not None, what="the restore plan")
    lines = _plan_lines(restore)
    assert lines["Tool"] == "? Tool\n   availability unknown: the extensions catalog could not be loaded"
    assert restore.checked_names() == [] and not restore.install_button.enabled
    assert not restore.note.isHidden() and "127.0.0.1:9" in restore.note.text  # why, in one sentence
    restore.select_name("Gone")
    assert restore.remove_button.enabled
    restore.remove_current()
    wait_for(lambda: "Gone" not in _plan_lines(restore), what="Gone to be forgotten")
    assert restore.result.text == "Gone was removed from the history of previous Slicer versions."
    restore.select_name("Marked")
    restore.remove_current()
    wait_for(lambda: "Marked" not in _plan_lines(restore), what="Marked to be forgotten")
    assert env.manager.history.bookmarks() == [] and env.manager.history.names(OLD) == ["Tool"]
    assert restore.result.text.endswith("and from the bookmarks.")


def test_the_startup_options_are_written_as_slicer_keeps_them(slicer_env):
    from slicer_ext_manager.slicermodule.panel import ExtensionsRestorePanel

    env = slicer_env()
    panel = ExtensionsRestorePanel(env.session)
    restore = panel.restore
    restore.reload()
    wait_for(lambda: restore.plan is not None, what="the panel")
    assert restore.check_on_startup.checked and not restore.install_without_asking.checked
    restore.install_without_asking.setChecked(True)
    restore.check_on_startup.setChecked(False)
    assert not restore.install_without_asking.enabled
    env.idle()
    us = qsettings(env.app.slicerUserSettingsFilePath)
    assert us.value("ExtensionCheckOnStartup/dontCheck", False, type=bool) is True
    assert us.value("ExtensionCheckOnStartup/ifCheckInstallWithoutDialog", False, type=bool) is True


@pytest.mark.girder
def test_a_profile_is_exported_and_imported_into_another_slicer(slicer_env, girder_server, girder_app,
                                                               girder_publish, tmp_path):
    from slicer_ext_manager.slicermodule.panel import ExtensionsRestorePanel

    girder_publish("Tool", app_revision=REV, depends=("ToolBase",))
    girder_publish("ToolBase", app_revision=REV)
    girder_publish("Extra", app_revision=REV)
    first = slicer_env(girder_server.url, girder_app.app_id, user_ini="[Extensions]\nBookmarked=Extra\n")
    assert first.manager.install(["Tool"]).ok
    profiles = ExtensionsRestorePanel(first.session).profiles
    path = tmp_path / "team.json"
    profiles.export_path.setText(str(path))
    profiles.export()
    wait_for(lambda: not profiles.export_result.isHidden(), what="the export")
    assert profiles.export_result.text == f"Exported 2 extensions and 1 bookmark to {path}."

    second = slicer_env(girder_server.url, girder_app.app_id)  # another Slicer, nothing installed
    profiles = ExtensionsRestorePanel(second.session).profiles
    profiles.import_path.setText(str(path))
    profiles.preview()
    wait_for(lambda: profiles.items, what="the preview")
    lines = [str(profiles.preview_list.item(i).text()) for i in range(profiles.preview_list.count)]
    assert lines == ["○ Tool: will be installed", "○ ToolBase: will be installed"]
    assert profiles.install_button.text == "Install from profile (2)"
    profiles.install()
    wait_for(lambda: not second.session.installing and profiles.items, what="the import")
    assert set(second.model.installedExtensions) == {"Tool", "ToolBase"}
    assert profiles.import_result.text == ("All extensions installed. Restart Slicer to use them.\n"
                                           "Everything of this profile that this Slicer can use is already installed.")
    assert [str(profiles.preview_list.item(i).text()) for i in range(profiles.preview_list.count)] == [
        "✓ Tool: already installed", "✓ ToolBase: already installed"]


def test_a_damaged_profile_is_one_sentence(slicer_env, tmp_path):
    from slicer_ext_manager.slicermodule.panel import ExtensionsRestorePanel

    env = slicer_env()
    profiles = ExtensionsRestorePanel(env.session).profiles
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    profiles.import_path.setText(str(bad))
    profiles.preview()
    wait_for(lambda: profiles.import_result.text.startswith("The profile cannot be imported:"), what="the refusal")
    assert "bad.json" in profiles.import_result.text
    assert not profiles.install_button.enabled
