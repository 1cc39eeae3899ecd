"""The core under a real PythonQt (Qt 5.15, 3D Slicer's binding) without PySide6: what only the
lane can show. The shared core tests (settings, history, registry, restore, install) also run
here, from their own modules (``tests/pythonqt/lane.ini``)."""

from __future__ import annotations

import sys

import pytest

from slicer_ext_manager import qtbinding
from slicer_ext_manager.history import ExtensionsHistory
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.server import SlicerPackagesClient

from ..bindings import qsettings

REV, OLD = "33241", "32448"


def loaded_forbidden_modules() -> list[str]:
    return sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "PyQt5", "PyQt6"))


def test_the_core_uses_pythonqt_on_qt5():
    import qt

    b = qtbinding.binding()
    assert b.name == "PythonQt" and b.QSettings is qt.QSettings and b.QLockFile is qt.QLockFile
    assert qt.qVersion().startswith("5.15.") and b.writes_qt5_escapes
    assert sys.version_info >= (3, 9)
    assert loaded_forbidden_modules() == []


def _manager(ctx):
    return ExtensionsManager(ctx, client=SlicerPackagesClient(ctx.server_url, ctx.app_id, backoff=0.01))


def _assert_restored(ctx, report):
    assert report.ok, report.to_json()
    order = [r.name for r in report.results]
    assert set(order) == {"Tool", "ToolBase", "Marked"} and order.index("ToolBase") < order.index("Tool")
    ip = ctx.install_path
    assert {p.name for p in ip.glob("*.s4ext")} == {"Tool.s4ext", "ToolBase.s4ext", "Marked.s4ext"}
    assert (ip / "ToolBase/lib/Slicer-5.8/qt-scripted-modules/ToolBase.py").is_file()
    rs = qsettings(ctx.revision_settings_path)
    additional = rs.value("Modules/AdditionalPaths", [], type=list)
    assert (ip / "Tool/lib/Slicer-5.8/qt-scripted-modules").as_posix() in additional
    assert (ip / "ToolBase/lib/Slicer-5.8/qt-scripted-modules").as_posix() in additional
    us = qsettings(ctx.user_settings_path)
    assert sorted(us.value(f"ExtensionsHistory/Revisions/{REV}", [], type=list)) == ["Marked", "Tool", "ToolBase"]
    assert us.value(f"ExtensionsHistory/Revisions/{OLD}", [], type=list) == ["Tool", "Gone"]  # kept as it was
    assert "MainWindow/geometry" in [str(k) for k in us.allKeys()]  # a foreign key, untouched


USER_INI = (f"[Extensions]\nBookmarked=Marked\n\n[ExtensionsHistory]\nRevisions\\{OLD}=Tool, Gone\n\n"
            "[MainWindow]\ngeometry=@ByteArray(\\x1\\xd9\\xd0\\xcb)\n")


@pytest.mark.girder
def test_restore_plan_and_install_with_a_dependency_from_the_real_server(girder_server, girder_app,
                                                                        girder_publish, make_profile):
    girder_publish("Tool", app_revision=REV, depends=("ToolBase",))
    girder_publish("ToolBase", app_revision=REV)
    girder_publish("Marked", app_revision=REV)
    girder_publish("Unrelated", app_revision=REV)
    ctx = make_profile(girder_server.url, girder_app.app_id, user_ini=USER_INI)
    plan = _manager(ctx).restore_plan()
    by_name = {c.name: c for c in plan.candidates}
    assert plan.previous_revision == OLD
    assert [c.name for c in plan.selected] == ["Tool", "Marked"]
    assert by_name["Tool"].was_in_last_revision and by_name["Marked"].bookmarked
    assert not by_name["Gone"].available and not by_name["Gone"].selected
    report = _manager(ctx).install([c.name for c in plan.selected])
    _assert_restored(ctx, report)
    assert report.restart_required
    assert [c.name for c in _manager(ctx).restore_plan().selected] == []
    assert loaded_forbidden_modules() == []


@pytest.mark.girder
def test_inside_slicer_the_hosts_settings_objects_are_used(girder_server, girder_app, girder_publish, make_profile):
    """As a scripted module would: ``AppContext`` given the host's ``QSettings`` objects (here two
    PythonQt ``qt.QSettings``, inside Slicer ``slicer.app.userSettings()`` and
    ``slicer.app.revisionUserSettings()``). The host's in-process view is current at once."""
    import qt

    girder_publish("Tool", app_revision=REV, depends=("ToolBase",))
    girder_publish("ToolBase", app_revision=REV)
    girder_publish("Marked", app_revision=REV)
    ctx = make_profile(girder_server.url, girder_app.app_id, user_ini=USER_INI)
    host_user = qt.QSettings(str(ctx.user_settings_path), qt.QSettings.IniFormat)
    host_rev = qt.QSettings(str(ctx.revision_settings_path), qt.QSettings.IniFormat)
    host_user.setValue("Extensions/ManagerEnabled", True)  # the host's own, unsaved in-process value
    ctx = ctx.with_changes(host_user_settings=host_user, host_revision_settings=host_rev)
    manager = _manager(ctx)
    report = manager.install([c.name for c in manager.restore_plan().selected])
    _assert_restored(ctx, report)
    assert sorted(host_user.value(f"ExtensionsHistory/Revisions/{REV}")) == ["Marked", "Tool", "ToolBase"]
    assert any("ToolBase/lib" in p for p in host_rev.value("Modules/AdditionalPaths"))
    assert ExtensionsHistory(ctx.user_settings).bookmarks() == ["Marked"]
    # The host's own value was saved with ours (Qt's merge), as a Qt 5 Slicer writes it.
    assert "ManagerEnabled=true\n" in ctx.user_settings_path.read_text(encoding="utf-8")
