"""Restore: history across Slicer versions, the plan, the startup check, profiles."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from slicer_ext_manager.cli import main
from slicer_ext_manager.history import ExtensionsHistory
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.metadata import ExtensionMetadata
from slicer_ext_manager.restore import names_needing_catalog, plan_restore
from slicer_ext_manager.server import SlicerPackagesClient
from slicer_ext_manager.settings import SettingsFile

from .bindings import python_command, qsettings
from .conftest import write_ini
from .faultproxy import FaultProxy

REV, OLD, OLDER = "33241", "32448", "30893"

LITERAL_HISTORY = r"""
[Extensions]
Bookmarked=Marked

[ExtensionsHistory]
Revisions\30893=SlicerIGT, SlicerRT, Gone
Revisions\32448=SlicerIGT
Revisions\9999=OnlyNine
Revisions\custom=Weird
Revisions\33241=Current
Revisions\32000=
ScheduledForRemoval=
"""


def meta(name, rev=REV, os="linux", arch="amd64", depends=()):
    return ExtensionMetadata(name=name, extension_id=f"id-{name}", slicer_revision=rev, os=os, arch=arch,
                             depends=tuple(depends))


def test_history_reads_literal_slicer_ini(tmp_path):
    hist = ExtensionsHistory(SettingsFile(write_ini(tmp_path / "Slicer.ini", LITERAL_HISTORY)))
    revisions = hist.revisions()
    # Numeric order; non-numeric keys first; empty entries kept; one-item lists are lists.
    assert list(revisions) == ["custom", "9999", "30893", "32000", "32448", "33241"]
    assert revisions["32448"] == ["SlicerIGT"] and revisions["32000"] == []
    assert hist.bookmarks() == ["Marked"]


def test_plan_is_a_pure_function_of_its_inputs(tmp_path):
    hist = ExtensionsHistory(SettingsFile(write_ini(tmp_path / "Slicer.ini", LITERAL_HISTORY)))
    catalog = {
        "SlicerIGT": meta("SlicerIGT"),
        "SlicerRT": meta("SlicerRT"),
        "Marked": meta("Marked"),
        "WinOnly": meta("WinOnly", os="win"),
        "OnlyNine": meta("OnlyNine"),
    }
    plan = plan_restore(hist.revisions(), hist.bookmarks() + ["WinOnly"], {"Current"}, catalog, REV, "linux", "amd64")
    assert plan.previous_revision == OLD
    by_name = {c.name: c for c in plan.candidates}
    assert "Current" not in by_name  # only this revision's history: not a candidate
    igt = by_name["SlicerIGT"]
    assert igt.last_revision == OLD and igt.was_in_last_revision and igt.selected
    assert igt.state_text(plan.previous_revision) == f"was used in the previous version ({OLD})"
    rt = by_name["SlicerRT"]
    assert rt.last_revision == OLDER and not rt.was_in_last_revision and not rt.selected and rt.compatible
    assert rt.state_text(OLD) == f"last used in version {OLDER}"
    gone = by_name["Gone"]
    assert not gone.available and not gone.compatible and not gone.selected
    assert gone.reason == f"not found on the server for Slicer revision {REV} (linux/amd64)"
    assert gone.state_text(OLD).startswith("not available for this version (")
    assert by_name["Marked"].bookmarked and by_name["Marked"].selected and by_name["Marked"].last_revision == ""
    win = by_name["WinOnly"]
    assert not win.compatible and "extensionOs [win] is different from slicerOs [linux]" in win.reason
    assert by_name["Weird"].last_revision == "custom"
    assert [c.name for c in plan.selected] == ["SlicerIGT", "Marked"]
    # Installed now -> state "currently installed", not selected.
    plan2 = plan_restore(hist.revisions(), [], {"SlicerIGT"}, catalog, REV, "linux", "amd64")
    assert plan2.get("SlicerIGT").state_text(OLD) == "currently installed" and not plan2.get("SlicerIGT").selected
    assert names_needing_catalog({REV: ["A"]}, [], [], REV) == []


def _fifty_name_history(server_publish):
    names = [f"Ext{i:02d}" for i in range(50)]
    for name in names[:30]:
        server_publish(name, app_revision=REV)
    revs = {"30000": names[:10], "31000": names[10:25], "32000": names[25:40], OLD: names[40:]}
    lines = ["[ExtensionsHistory]"] + [f"Revisions\\{r}={', '.join(ns)}" for r, ns in revs.items()]
    return names, "\n".join(lines) + "\n"


@pytest.mark.girder
def test_plan_costs_one_request_for_fifty_names_and_none_when_fresh(girder_server, girder_app, girder_publish,
                                                                   make_profile):
    names, user_ini = _fifty_name_history(girder_publish)
    proxy = FaultProxy(girder_server.url)
    try:
        ctx = make_profile(proxy.url, girder_app.app_id, user_ini=user_ini)
        plan = ExtensionsManager(ctx).restore_plan()
        assert len(plan.candidates) == 50
        assert len(proxy.requests) == 1 and "/extension?" in proxy.requests[0]
        available = {c.name for c in plan.candidates if c.available}
        assert available == set(names[:30])
        assert {c.name for c in plan.selected} == set()  # the previous revision's names are not on the server
        ExtensionsManager(ctx).restore_plan()
        assert len(proxy.requests) == 1  # fresh cache: no request
    finally:
        proxy.close()


def test_nothing_to_restore_makes_no_request(make_profile):
    ctx = make_profile("http://127.0.0.1:9", user_ini=f"[ExtensionsHistory]\nRevisions\\{REV}=A\n")
    manager = ExtensionsManager(ctx, client=SlicerPackagesClient("http://127.0.0.1:9", "x" * 24, retries=0))
    plan = manager.restore_plan()
    assert plan.candidates == () and manager.client.request_count == 0
    result = manager.startup_check()
    assert result.checked and "No extensions" in result.message and manager.client.request_count == 0


def test_dont_check_is_honoured(make_profile):
    ctx = make_profile("http://127.0.0.1:9",
                       user_ini=f"[ExtensionCheckOnStartup]\ndontCheck=true\n\n[ExtensionsHistory]\nRevisions\\{OLD}=A\n")
    manager = ExtensionsManager(ctx, client=SlicerPackagesClient("http://127.0.0.1:9", "x" * 24, retries=0))
    result = manager.startup_check()
    assert not result.checked and "dontCheck" in result.message and manager.client.request_count == 0


@pytest.mark.girder
def test_slow_server_is_bounded(girder_server, girder_app, girder_publish, make_profile):
    girder_publish("Slow", app_revision=REV)
    proxy = FaultProxy(girder_server.url)
    proxy.add("/extension", "delay", seconds=8.0, times=5)
    try:
        ctx = make_profile(proxy.url, girder_app.app_id, user_ini=f"[ExtensionsHistory]\nRevisions\\{OLD}=Slow\n")
        start = time.monotonic()
        result = ExtensionsManager(ctx).startup_check(timeout=1.0)
        elapsed = time.monotonic() - start
        assert elapsed < 5.0
        assert result.checked and result.message.startswith("Nothing was restored:")
        assert "did not answer in time" in result.message
        assert not ctx.install_path.exists() or not list(ctx.install_path.glob("*.s4ext"))
    finally:
        proxy.close()


@pytest.mark.girder
def test_silent_startup_restore_end_to_end(girder_server, girder_app, girder_publish, make_profile):
    girder_publish("Kept", app_revision=REV, depends=("KeptDep",))
    girder_publish("KeptDep", app_revision=REV)
    girder_publish("Older", app_revision=REV)
    user_ini = ("[ExtensionCheckOnStartup]\ndontCheck=false\nifCheckInstallWithoutDialog=true\n\n"
                f"[ExtensionsHistory]\nRevisions\\{OLDER}=Older\nRevisions\\{OLD}=Kept, Missing\n")
    ctx = make_profile(girder_server.url, girder_app.app_id, user_ini=user_ini)
    result = ExtensionsManager(ctx).startup_check()
    assert result.silent_install and [c.name for c in result.candidates] == ["Kept"]
    assert result.report.ok and result.restart_required
    assert result.message == "All extensions restored. Please restart Slicer."
    assert {p.name for p in ctx.install_path.glob("*.s4ext")} == {"Kept.s4ext", "KeptDep.s4ext"}
    us = qsettings(ctx.user_settings_path)
    assert sorted(us.value(f"ExtensionsHistory/Revisions/{REV}", [], type=list)) == ["Kept", "KeptDep"]
    assert us.value(f"ExtensionsHistory/Revisions/{OLD}", [], type=list) == ["Kept", "Missing"]
    rs = qsettings(ctx.revision_settings_path)
    assert any("Kept/lib" in p for p in rs.value("Modules/AdditionalPaths", [], type=list))
    # Not silent: only reports.
    ctx2 = make_profile(girder_server.url, girder_app.app_id,
                        user_ini=f"[ExtensionsHistory]\nRevisions\\{OLD}=Kept\n")
    result = ExtensionsManager(ctx2).startup_check()
    assert result.report is None and result.message == "1 compatible extension from a previous Slicer installation was found."


@pytest.mark.girder
def test_cli_restore_yes_then_nothing_left(girder_server, girder_app, girder_publish, make_profile, capsys):
    """The issue's "done when": a real-looking history for an older revision is restored."""
    for name in ("SegmentTools", "VolumeKit", "IGTBridge"):
        girder_publish(name, app_revision=REV)
    girder_publish("IGTBase", app_revision=REV)
    girder_publish("IGTBridge", app_revision=REV, depends=("IGTBase",))
    girder_publish("OldOnly", app_revision=OLD)
    user_ini = ("[Extensions]\nAutoUpdateCheck=true\n\n[ExtensionsHistory]\n"
                f"Revisions\\{OLDER}=VolumeKit\nRevisions\\{OLD}=SegmentTools, IGTBridge, OldOnly\nScheduledForRemoval=\n")
    ctx = make_profile(girder_server.url, girder_app.app_id, user_ini=user_ini)
    base = ["--settings-dir", str(ctx.user_settings_path.parent), "--server", girder_server.url,
            "--app-name", girder_app.app_name, "--os", "linux", "--arch", "amd64"]
    assert main(base + ["--revision", REV, "restore", "--check", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    selected = {c["name"] for c in plan["candidates"] if c["selected"]}
    assert selected == {"SegmentTools", "IGTBridge"} and plan["restart_required"] is False
    assert set(plan["candidates"][0]) == {"name", "last_revision", "was_in_last_revision", "installed", "compatible",
                                          "reason", "selected", "bookmarked", "available", "extension_id",
                                              "availability_unknown"}
    old_only = next(c for c in plan["candidates"] if c["name"] == "OldOnly")
    assert old_only["compatible"] is False and old_only["reason"]
    assert main(base + ["--revision", REV, "restore", "--yes", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["installed"]) == {"SegmentTools", "IGTBridge", "IGTBase"} and report["restart_required"]
    us = qsettings(ctx.user_settings_path)
    assert set(us.value(f"ExtensionsHistory/Revisions/{REV}", [], type=list)) == {"SegmentTools", "IGTBridge", "IGTBase"}
    assert main(base + ["--revision", REV, "restore", "--check", "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert [c for c in after["candidates"] if c["selected"]] == []
    assert main(base + ["--revision", REV, "restore", "VolumeKit", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["installed"] == ["VolumeKit"]


def test_history_editing_cli(make_profile, capsys):
    ctx = make_profile(user_ini=f"[ExtensionsHistory]\nRevisions\\{OLDER}=A, B\nRevisions\\{OLD}=A\n")
    base = ["--settings-dir", str(ctx.user_settings_path.parent), "--revision", REV]
    assert main(base + ["history", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["revisions"] == {OLDER: ["A", "B"], OLD: ["A"]}
    assert main(base + ["history", "remove", "A", "--revision", OLD]) == 0
    assert ExtensionsHistory(ctx.user_settings).revisions() == {OLDER: ["A", "B"], OLD: []}
    assert main(base + ["history", "remove", "A"]) == 0
    assert ExtensionsHistory(ctx.user_settings).revisions() == {OLDER: ["B"], OLD: []}
    capsys.readouterr()
    assert main(base + ["history", "to-bookmarks", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"added": ["B"], "bookmarks": ["B"]}
    text = ctx.user_settings_path.read_text()
    assert "Bookmarked=B\n" in text
    assert f"Revisions\\{OLD}=@Invalid()\n" in text  # an emptied list, as Qt writes it


@pytest.mark.girder
def test_profile_round_trip(girder_server, girder_app, girder_publish, make_profile, tmp_path, capsys):
    girder_publish("P1", app_revision=REV, scm_revision="1111111")
    girder_publish("P2", app_revision=REV)
    ctx = make_profile(girder_server.url, girder_app.app_id)
    assert ExtensionsManager(ctx).install(["P1", "P2"]).ok
    out = tmp_path / "setup.json"
    base = ["--settings-dir", str(ctx.user_settings_path.parent), "--revision", REV, "--server", girder_server.url,
            "--app-id", girder_app.app_id, "--os", "linux", "--arch", "amd64"]
    assert main(base + ["profile", "export", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["slicer"]["revision"] == REV and [e["name"] for e in data["extensions"]] == ["P1", "P2"]
    data["extensions"].append({"name": "Ghost", "revision": "x"})
    out.write_text(json.dumps(data))
    girder_publish("P1", app_revision=REV, scm_revision="2222222")  # the server moved on
    fresh = make_profile(girder_server.url, girder_app.app_id, folder=tmp_path / "fresh")
    base2 = ["--settings-dir", str(fresh.user_settings_path.parent), "--revision", REV, "--server", girder_server.url,
             "--app-id", girder_app.app_id, "--os", "linux", "--arch", "amd64"]
    capsys.readouterr()
    assert main(base2 + ["profile", "import", str(out), "--yes", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    status = {i["name"]: i["status"] for i in result["items"]}
    assert status == {"P1": "different-revision", "P2": "install", "Ghost": "unavailable"}
    assert set(result["installed"]) == {"P1", "P2"}


def test_startup_check_imports_no_widgets(make_profile):
    ctx = make_profile(user_ini=f"[ExtensionsHistory]\nRevisions\\{REV}=A\n")
    code = (
        "import sys, json\n"
        "from slicer_ext_manager.cli import main\n"
        f"rc = main(['--settings-dir', {str(ctx.user_settings_path.parent)!r}, '--revision', '{REV}', 'startup-check', '--json'])\n"
        "assert rc == 0, rc\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('PySide6'))))\n"
    )
    proc = subprocess.run([*python_command(), "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "PySide6.QtWidgets" not in modules and "PySide6.QtGui" not in modules
