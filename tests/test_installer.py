"""Install engine against the REAL server fixture: transactions, dependencies,
install from file, uninstall/update scheduling, recovery after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from slicer_ext_manager import s4ext
from slicer_ext_manager.cli import main
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.queue import EventKind, InstallQueue, Outcome
from slicer_ext_manager.server import SlicerPackagesClient

from .bindings import python_command, qsettings
from .faultproxy import FaultProxy

pytestmark = pytest.mark.girder
REV = "33241"


def manager_for(ctx, url=None):
    return ExtensionsManager(ctx, client=SlicerPackagesClient(url or ctx.server_url, ctx.app_id, backoff=0.01))


def tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.fixture
def server_profile(girder_server, girder_app, make_profile):
    return make_profile(girder_server.url, girder_app.app_id)


def test_install_with_dependency_chain_and_diamond(server_profile, girder_publish):
    # Top -> (Left, Right) -> Base : a diamond; Base -> Root : a chain.
    girder_publish("Top", app_revision=REV, depends=("Left", "Right"))
    girder_publish("Left", app_revision=REV, depends=("Base",))
    girder_publish("Right", app_revision=REV, depends=("Base",))
    girder_publish("Base", app_revision=REV, depends=("Root",), modules=("scripted", "cli", "loadable"))
    root_item = girder_publish("Root", app_revision=REV)
    girder_publish("Unrelated", app_revision=REV)
    ctx = server_profile
    events = []
    report = manager_for(ctx).install(["Top"], listener=events.append)
    assert report.ok, report.to_json()
    installed = [r.name for r in report.results]
    assert installed.index("Root") < installed.index("Base") < installed.index("Left") < installed.index("Top")
    assert set(installed) == {"Top", "Left", "Right", "Base", "Root"}
    assert report.restart_required
    # Progress: item i of n, bytes, phases.
    starts = [e for e in events if e.kind == "started"]
    assert [e.index for e in starts] == [1, 2, 3, 4, 5] and starts[0].total == 5
    assert starts[0].status_text == "Installing Root (1/5)"
    assert any(e.kind == "progress" and e.size and e.done == e.size for e in events)
    assert {e.phase.value for e in events if e.kind == "phase"} >= {"download", "verify", "extract", "register"}
    # Layout: top folder stripped, .s4ext is Slicer's, no staging left.
    ip = ctx.install_path
    assert "Root/lib/Slicer-5.8/qt-scripted-modules/Root.py" in tree(ip)
    assert "Root/share/Slicer-5.8/Root.s4ext" in tree(ip)
    assert not (ip / ".staging").exists()
    desc = s4ext.read(ip / "Root.s4ext")
    assert desc["extension_id"] == root_item["_id"] and desc["installed"] == "true" and desc["enabled"] == "true"
    assert desc["slicer_revision"] == REV and desc["archivename"].endswith(".tar.gz")
    assert desc["meta.sha512"] == root_item["meta"]["sha512"] and desc["depends"] == "NA"
    assert (ip / "Root.s4ext").read_text().splitlines()[0] == "arch amd64"
    # Executable bit of the CLI module survived.
    cli = ip / "Base/lib/Slicer-5.8/cli-modules/BaseCli"
    assert cli.exists() and os.access(cli, os.X_OK)
    # Paths and history as Slicer expects.
    rs = qsettings(ctx.revision_settings_path)
    additional = rs.value("Modules/AdditionalPaths", [], type=list)
    assert (ip / "Base/lib/Slicer-5.8/cli-modules").as_posix() in additional
    assert (ip / "Top/lib/Slicer-5.8/qt-scripted-modules").as_posix() in additional
    n = rs.beginReadArray("PYTHONPATH")
    rs.endArray()
    assert n >= 5
    us = qsettings(ctx.user_settings_path)
    assert sorted(us.value(f"ExtensionsHistory/Revisions/{REV}", [], type=list)) == ["Base", "Left", "Right", "Root", "Top"]
    # Installing again: skipped, already installed.
    again = manager_for(ctx).install(["Top"])
    assert again.to_json()["skipped"] == ["Top"] and again.ok


def test_cycle_and_missing_dependencies_reported(server_profile, girder_publish):
    girder_publish("CycA", app_revision=REV, depends=("CycB",))
    girder_publish("CycB", app_revision=REV, depends=("CycA",))
    girder_publish("NeedsGhost", app_revision=REV, depends=("Ghost",))
    manager = manager_for(server_profile)
    plan = manager.plan_install(["CycA", "NeedsGhost", "NoSuchExt"])
    assert plan.cycles == (("CycA", "CycB"),)
    assert dict(plan.unresolved) == {"Ghost": ("NeedsGhost",)}
    assert plan.unknown == ("NoSuchExt",)
    report = manager.install(["CycA", "NeedsGhost", "NoSuchExt"])
    data = report.to_json()
    assert set(data["installed"]) == {"CycA", "CycB", "NeedsGhost"}
    assert data["failed"] == [{"name": "NoSuchExt", "error": f"The server has no extension named NoSuchExt for Slicer revision {REV} (linux/amd64)."}]
    assert "NeedsGhost extension depends on the following extensions, which could not be found: Ghost" in data["warnings"]
    assert any("cycle" in w and "CycA → CycB → CycA" in w for w in data["warnings"])


def test_failing_item_does_not_stop_the_rest_and_dependents_skip(server_profile, girder_publish, girder_server, girder_app):
    girder_publish("Good", app_revision=REV)
    bad = girder_publish("Bad", app_revision=REV, scm_revision="bad0001", description="unique bad")
    girder_publish("NeedsBad", app_revision=REV, depends=("Bad",))
    stored = girder_server.admin.assetstore_file_path(bad["_id"])
    data = bytearray(stored.read_bytes())
    data[100] ^= 0xFF
    stored.write_bytes(bytes(data))
    report = manager_for(server_profile).install(["Good", "NeedsBad"])
    outcomes = {r.name: r for r in report.results}
    assert outcomes["Good"].outcome == Outcome.INSTALLED
    assert outcomes["Bad"].outcome == Outcome.FAILED and "sha512" in outcomes["Bad"].message
    assert outcomes["NeedsBad"].outcome == Outcome.FAILED
    assert "dependency Bad was not installed" in outcomes["NeedsBad"].message
    assert not (server_profile.install_path / "Bad").exists()
    assert not (server_profile.install_path / "Bad.s4ext").exists()
    assert not (server_profile.install_path / ".staging").exists()  # prefetched downloads cleaned too


def test_cancel_mid_download(server_profile, girder_publish, girder_server, girder_app):
    girder_publish("Huge", app_revision=REV, payload_size=30_000_000)
    girder_publish("Later", app_revision=REV)
    manager = manager_for(server_profile)
    queue = InstallQueue()

    def listener(event):
        if event.kind == EventKind.PROGRESS and event.name == "Huge" and event.done > 1_000_000:
            queue.cancel_all()

    report = manager.install(["Huge", "Later"], queue=queue, listener=listener)
    outcomes = {r.name: r.outcome for r in report.results}
    assert outcomes == {"Later": Outcome.CANCELLED, "Huge": Outcome.CANCELLED}
    assert manager.registry.names() == []
    assert not (server_profile.install_path / ".staging").exists()


def test_install_from_file(server_profile, girder_publish, tmp_path):
    girder_publish("FileDep", app_revision=REV)
    pkg = build_extension_package(tmp_path, "FromFile", app_revision=REV, depends=("FileDep", "Missing"))
    manager = manager_for(server_profile)
    report = manager.install_files([pkg])
    data = report.to_json()
    assert data["installed"] == ["FileDep", "FromFile"], data
    assert any("Missing" in w for w in data["warnings"])
    desc = s4ext.read(server_profile.install_path / "FromFile.s4ext")
    assert desc["archivename"] == pkg.name and desc["slicer_revision"] == REV and desc["depends"] == "FileDep Missing"
    # Built for another revision: refused with Slicer's reason unless --force.
    other = build_extension_package(tmp_path, "OtherRev", app_revision="30000")
    report = manager.install_files([other])
    assert not report.ok
    assert "extensionSlicerRevision [30000] is different from slicerRevision [33241]" in report.results[0].message
    assert not (server_profile.install_path / "OtherRev").exists()
    assert manager.install_files([other], force=True).ok
    # Wrong os in a zip package for windows.
    win = build_extension_package(tmp_path, "WinOnly", app_revision=REV, os="win")
    assert "extensionOs [win] is different from slicerOs [linux]" in manager.install_files([win]).results[0].message


def test_install_from_file_macos_nested(make_profile, tmp_path):
    ctx = make_profile(os_name="macosx")
    pkg = build_extension_package(tmp_path, "MacExt", app_revision=REV, os="macosx")
    report = ExtensionsManager(ctx).install_files([pkg], with_dependencies=False)
    assert report.ok, report.to_json()
    folder = ctx.install_path / "MacExt"
    assert (folder / "lib/Slicer-5.8/qt-scripted-modules/MacExt.py").exists()
    links = [p for p in folder.rglob("*.dylib") if p.is_symlink()]
    assert links and all(p.resolve().is_relative_to(folder.resolve()) for p in links)
    wrong = build_extension_package(tmp_path, "MacOld", app_revision="30000", os="macosx")
    assert not ExtensionsManager(ctx).install_files([wrong]).ok


def test_hostile_archive_leaves_profile_unchanged(make_profile, tmp_path):
    ctx = make_profile()
    ctx.install_path.mkdir(parents=True)
    before_settings = ctx.revision_settings_path.read_bytes(), ctx.user_settings_path.read_bytes()
    pkg = tmp_path / f"{REV}-linux-amd64-Evil-git1234567-2025-01-01.tar.gz"
    with tarfile.open(pkg, "w:gz") as tf:
        for name, data in (("top/share/Slicer-5.8/Evil.s4ext", b"scm git\n"), ("top/../../escaped.txt", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            import io

            tf.addfile(info, io.BytesIO(data))
    report = ExtensionsManager(ctx).install_files([pkg], with_dependencies=False)
    assert not report.ok and "escaped.txt" in report.results[0].message
    assert tree(ctx.install_path) == []
    assert (ctx.revision_settings_path.read_bytes(), ctx.user_settings_path.read_bytes()) == before_settings
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()


def test_uninstall_now_and_scheduled(server_profile, girder_publish):
    girder_publish("One", app_revision=REV)
    girder_publish("Two", app_revision=REV)
    manager = manager_for(server_profile)
    assert manager.install(["One", "Two"]).ok
    ip = server_profile.install_path
    (ip / "One-icon.png").write_bytes(b"png")
    # Immediate.
    assert manager.uninstall(["One"]).ok
    assert not (ip / "One").exists() and not (ip / "One.s4ext").exists() and not (ip / "One-icon.png").exists()
    us = qsettings(server_profile.user_settings_path)
    assert us.value(f"ExtensionsHistory/Revisions/{REV}", [], type=list) == ["Two"]
    # Scheduled: paths removed now, files stay, Slicer's list written.
    assert manager.uninstall(["Two"], schedule=True).ok
    rs = qsettings(server_profile.revision_settings_path)
    assert rs.value("Extensions/ScheduledForUninstall", [], type=list) == ["Two"]
    assert not any("Two" in p for p in rs.value("Modules/AdditionalPaths", [], type=list))
    assert (ip / "Two.s4ext").exists()
    assert qsettings(server_profile.user_settings_path).value("ExtensionsHistory/ScheduledForRemoval", [], type=list) == ["Two"]
    # Cancel re-adds paths.
    assert manager.cancel_uninstall("Two")
    rs = qsettings(server_profile.revision_settings_path)
    assert rs.value("Extensions/ScheduledForUninstall", [], type=list) == []
    assert any("Two" in p for p in rs.value("Modules/AdditionalPaths", [], type=list))
    # Schedule again and apply as Slicer's startup does.
    manager.uninstall(["Two"], schedule=True)
    report = manager.apply_scheduled()
    assert [r.message for r in report.results] == ["Successfully uninstalled extension Two"]
    assert not (ip / "Two").exists()
    us = qsettings(server_profile.user_settings_path)
    assert us.value(f"ExtensionsHistory/Revisions/{REV}", [], type=list) == []
    assert us.value("ExtensionsHistory/ScheduledForRemoval") in ("", None)


def test_update_now_keeps_disabled_state(server_profile, girder_publish):
    girder_publish("Upd", app_revision=REV, scm_revision="1111111")
    manager = manager_for(server_profile)
    assert manager.install(["Upd"]).ok
    assert manager.set_enabled("Upd", False)
    girder_publish("Upd", app_revision=REV, scm_revision="2222222")
    assert [u.name for u in manager_for(server_profile).available_updates(refresh=True)] == ["Upd"]
    assert qsettings(server_profile.revision_settings_path).value("Extensions/UpdatesAvailable", False, type=bool)
    report = manager_for(server_profile).update()
    assert report.ok and report.results[0].outcome == Outcome.UPDATED
    desc = s4ext.read(server_profile.install_path / "Upd.s4ext")
    assert desc["revision"] == "2222222" and desc["enabled"] == "false"
    assert not any("Upd" in p for p in qsettings(server_profile.revision_settings_path).value("Modules/AdditionalPaths", [], type=list))


def test_update_rolls_back_when_new_package_is_bad(server_profile, girder_publish, girder_server, girder_app):
    girder_publish("Roll", app_revision=REV, scm_revision="aaaaaaa")
    manager = manager_for(server_profile)
    assert manager.install(["Roll"]).ok
    ip = server_profile.install_path
    before = tree(ip), (ip / "Roll.s4ext").read_text()
    paths_before = qsettings(server_profile.revision_settings_path).value("Modules/AdditionalPaths", [], type=list)
    # The new build's archive lacks a .s4ext: refused after download, before anything moves.
    bad_dir = girder_publish.tmp_dir / "bad"
    bad_dir.mkdir()
    bad = bad_dir / f"{REV}-linux-amd64-Roll-gitbbbbbbb-2025-02-02.tar.gz"
    with tarfile.open(bad, "w:gz") as tf:
        info = tarfile.TarInfo("top/lib/readme.txt")
        info.size = 1
        import io

        tf.addfile(info, io.BytesIO(b"x"))
    girder_server.admin.upload_extension(girder_app.app_id, bad, baseName="Roll", os="linux", arch="amd64",
                                         revision="bbbbbbb", app_revision=REV, description="Roll: a test extension.",
                                         dependency="NA")
    report = manager_for(server_profile).update(["Roll"])
    assert not report.ok and ".s4ext" in report.results[0].message
    assert (tree(ip), (ip / "Roll.s4ext").read_text()) == before
    assert qsettings(server_profile.revision_settings_path).value("Modules/AdditionalPaths", [], type=list) == paths_before


def test_schedule_update_and_apply(server_profile, girder_publish):
    girder_publish("Sched", app_revision=REV, scm_revision="1111111")
    manager = manager_for(server_profile)
    assert manager.install(["Sched"]).ok
    girder_publish("Sched", app_revision=REV, scm_revision="3333333")
    report = manager_for(server_profile).update(["Sched"], schedule=True)
    assert report.ok and report.results[0].outcome == Outcome.SCHEDULED
    ip = server_profile.install_path
    scheduled = qsettings(server_profile.revision_settings_path).value("Extensions/ScheduledForUpdate")
    archive_path = Path(scheduled["Sched"])
    assert archive_path.parent == ip / ".updates" and archive_path.exists()
    assert s4ext.read(ip / ".updates/Sched.s4ext")["revision"] == "3333333"
    assert r"ScheduledForUpdate=@Variant(\0\0\0\b\0\0\0\x1" in server_profile.revision_settings_path.read_text()
    assert s4ext.read(ip / "Sched.s4ext")["revision"] == "1111111"  # not applied yet
    report = manager_for(server_profile).apply_scheduled()
    assert [r.message for r in report.results] == ["Successfully updated extension Sched"]
    assert s4ext.read(ip / "Sched.s4ext")["revision"] == "3333333"
    assert qsettings(server_profile.revision_settings_path).value("Extensions/ScheduledForUpdate") in ({}, None)
    assert not archive_path.exists()


def test_enable_disable_and_bookmarks_cli(server_profile, girder_publish, capsys):
    girder_publish("Toggle", app_revision=REV)
    assert manager_for(server_profile).install(["Toggle"]).ok
    base = ["--settings-dir", str(server_profile.user_settings_path.parent), "--revision", REV,
            "--server", server_profile.server_url, "--app-id", server_profile.app_id, "--os", "linux", "--arch", "amd64"]
    assert main(base + ["disable", "Toggle"]) == 0
    assert s4ext.read(server_profile.install_path / "Toggle.s4ext")["enabled"] == "false"
    assert not any("Toggle" in p for p in qsettings(server_profile.revision_settings_path).value("Modules/AdditionalPaths", [], type=list))
    assert main(base + ["enable", "Toggle"]) == 0
    assert any("Toggle" in p for p in qsettings(server_profile.revision_settings_path).value("Modules/AdditionalPaths", [], type=list))
    capsys.readouterr()
    assert main(base + ["bookmark", "add", "Toggle", "Other"]) == 0
    assert qsettings(server_profile.user_settings_path).value("Extensions/Bookmarked", [], type=list) == ["Toggle", "Other"]
    assert main(base + ["bookmark", "remove", "Other"]) == 0
    capsys.readouterr()
    assert main(base + ["bookmark", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"name": "Toggle", "installed": True}]


def test_cli_install_json_contract(server_profile, girder_publish, capsys):
    girder_publish("CliA", app_revision=REV, depends=("CliB",))
    girder_publish("CliB", app_revision=REV)
    base = ["--settings-dir", str(server_profile.user_settings_path.parent), "--revision", REV,
            "--server", server_profile.server_url, "--app-id", server_profile.app_id, "--os", "linux", "--arch", "amd64"]
    assert main(base + ["install", "CliA", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["installed"] == ["CliB", "CliA"] and data["failed"] == [] and data["skipped"] == []
    assert data["restart_required"] is True
    assert main(base + ["install", "CliA", "Nope", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["skipped"] == ["CliA"] and data["failed"][0]["name"] == "Nope"


# -- transactions and recovery ---------------------------------------------------------------------------


KILL_SCRIPT = r"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from slicer_ext_manager.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_kill_mid_install_then_next_run_cleans_up(server_profile, girder_publish, girder_server, girder_app, tmp_path):
    girder_publish("Killed", app_revision=REV, payload_size=60_000_000)
    proxy = FaultProxy(girder_server.url)
    proxy.add("/download", "delay", seconds=0.0)
    base = ["--settings-dir", str(server_profile.user_settings_path.parent), "--revision", REV,
            "--server", proxy.url, "--app-id", girder_app.app_id, "--os", "linux", "--arch", "amd64"]
    with server_profile.revision_settings.edit() as e:
        e.set_value("Extensions/ServerUrl", proxy.url)
    before = server_profile.revision_settings_path.read_bytes(), server_profile.user_settings_path.read_bytes()
    proc = subprocess.Popen([*python_command(), "-c", KILL_SCRIPT, *base, "install", "Killed"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    staging = server_profile.install_path / ".staging"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        parts = list(staging.rglob("*.part")) + list(staging.rglob("content/*"))
        if parts and any(p.stat().st_size > 1_000_000 for p in staging.rglob("*") if p.is_file()):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proxy.close()
    assert staging.exists()  # the kill left its staging folder behind
    assert ExtensionsManager(server_profile).registry.names() == []
    # Settings untouched apart from the metadata cache keys.
    assert server_profile.user_settings_path.read_bytes() == before[1]
    # The next run recovers and cleans up.
    manager = ExtensionsManager(server_profile)
    with manager.installer.lock():
        manager.installer.recover()
    assert not staging.exists()
    assert tree(server_profile.install_path) in ([], ["ExtensionsMetadataFromServer.json"])


def _prepared_update(server_profile, girder_publish):
    girder_publish("Tx", app_revision=REV, scm_revision="1111111")
    manager = manager_for(server_profile)
    assert manager.install(["Tx"]).ok
    return manager


@pytest.mark.parametrize("crash_after", ["moved_old", "moved_new", "description"])
def test_recovery_from_each_crash_point(server_profile, girder_publish, tmp_path, monkeypatch, crash_after):
    """Simulate a kill at each step of an update's commit: the next run leaves
    either the old version (before the commit point) or the new one (after)."""
    manager = _prepared_update(server_profile, girder_publish)
    ip = server_profile.install_path
    old_desc = (ip / "Tx.s4ext").read_text()
    old_paths = qsettings(server_profile.revision_settings_path).value("Modules/AdditionalPaths", [], type=list)
    pkg = build_extension_package(tmp_path, "Tx", app_revision=REV, scm_revision="2222222")
    installer = manager.installer
    real_replace, real_write = os.replace, s4ext.write
    calls = {"n": 0}

    class Crash(BaseException):
        pass

    def replace(src, dst):
        real_replace(src, dst)
        calls["n"] += 1
        if crash_after == "moved_old" and str(dst).endswith("old"):
            raise Crash()
        if crash_after == "moved_new" and Path(dst) == ip / "Tx":
            raise Crash()

    def write(path, data):
        real_write(path, data)
        if crash_after == "description" and Path(path) == ip / "Tx.s4ext":
            raise Crash()

    import slicer_ext_manager.installer as inst

    monkeypatch.setattr(inst.os, "replace", replace)
    monkeypatch.setattr(inst.s4ext, "write", write)
    # The crash must not run the in-process rollback: a kill does not.
    monkeypatch.setattr(inst.Installer, "_undo", lambda self, staging, data, cause: None)
    from slicer_ext_manager.metadata import ExtensionMetadata

    meta = ExtensionMetadata.from_model_map(s4ext.read(ip / "Tx.s4ext")).replace(revision="2222222")
    monkeypatch.setattr(inst, "discard_transaction", lambda p: None)  # a kill leaves staging behind
    with pytest.raises(Crash):
        installer.install_archive(pkg, meta)
    monkeypatch.undo()
    assert (ip / ".staging").exists()
    fresh = ExtensionsManager(server_profile)
    with fresh.installer.lock():
        actions = fresh.installer.recover()
    assert actions and not (ip / ".staging").exists()
    desc = s4ext.read(ip / "Tx.s4ext")
    if crash_after == "description":
        assert desc["revision"] == "2222222", actions  # rolled forward
    else:
        assert (ip / "Tx.s4ext").read_text() == old_desc, actions  # rolled back
    assert (ip / "Tx/share/Slicer-5.8/Tx.s4ext").exists()
    assert qsettings(server_profile.revision_settings_path).value("Modules/AdditionalPaths", [], type=list) == old_paths


@pytest.mark.parametrize(
    "name, modules, expected",
    [
        # Slicer's own expectations (qSlicerExtensionsManagerModelTest::testExtensionExtensionsSettingsUpdated):
        ("ImageMaker", ("cli",), {
            "Modules/AdditionalPaths": ["lib/Slicer-5.8/cli-modules"],
            "LibraryPaths": ["lib/Slicer-5.8", "lib/Slicer-5.8/cli-modules"],
            "Paths": ["lib/Slicer-5.8/cli-modules"], "PYTHONPATH": [], "QT_PLUGIN_PATH": []}),
        ("MarkupsToModel", ("loadable",), {
            "Modules/AdditionalPaths": ["lib/Slicer-5.8/qt-loadable-modules"],
            "LibraryPaths": ["lib/Slicer-5.8", "lib/Slicer-5.8/qt-loadable-modules"],
            "Paths": [], "PYTHONPATH": ["lib/Slicer-5.8/qt-loadable-modules"], "QT_PLUGIN_PATH": []}),
        ("CurveMaker", ("scripted",), {
            "Modules/AdditionalPaths": ["lib/Slicer-5.8/qt-scripted-modules"],
            "LibraryPaths": ["lib/Slicer-5.8"],
            "Paths": [], "PYTHONPATH": ["lib/Slicer-5.8/qt-scripted-modules"], "QT_PLUGIN_PATH": []}),
    ],
)
def test_paths_match_slicer_upstream_expectations(make_profile, tmp_path, name, modules, expected):
    ctx = make_profile()
    pkg = build_extension_package(tmp_path, name, app_revision=REV, modules=modules)
    manager = ExtensionsManager(ctx)
    assert manager.install_files([pkg], with_dependencies=False).ok
    prefix = (ctx.install_path / name).as_posix() + "/"
    rs = qsettings(ctx.revision_settings_path)
    got = {"Modules/AdditionalPaths": rs.value("Modules/AdditionalPaths", [], type=list)}
    for array in ("LibraryPaths", "Paths", "PYTHONPATH", "QT_PLUGIN_PATH"):
        n = rs.beginReadArray(array)
        values = []
        for i in range(n):
            rs.setArrayIndex(i)
            values.append(rs.value("path"))
        rs.endArray()
        got[array] = values
    assert got == {k: [prefix + v for v in vs] for k, vs in expected.items()}
    # And all empty after uninstall (the upstream "cleanup" row).
    assert manager.uninstall([name]).ok
    rs = qsettings(ctx.revision_settings_path)
    assert rs.value("Modules/AdditionalPaths", [], type=list) == []
    for array in ("LibraryPaths", "Paths", "PYTHONPATH"):
        assert rs.beginReadArray(array) == 0
        rs.endArray()


def test_next_download_overlaps_current_extraction(make_profile, tmp_path, monkeypatch):
    from slicer_ext_manager.installer import Installer
    from slicer_ext_manager.localserver.server import PackageServer

    for name in ("First", "Second", "Third"):
        build_extension_package(tmp_path / "pkgs", name, app_revision=REV)
    times: dict[str, float] = {}
    real_download, real_install = ExtensionsManager.download, Installer.install_archive

    def download(self, meta, folder, cancel, progress):
        times[f"download {meta.name}"] = time.monotonic()
        return real_download(self, meta, folder, cancel, progress)

    def install_archive(self, package, metadata, ctx=None, **kw):
        time.sleep(0.3)  # a slow extraction
        result = real_install(self, package, metadata, ctx, **kw)
        times[f"installed {metadata.name}"] = time.monotonic()
        return result

    monkeypatch.setattr(ExtensionsManager, "download", download)
    monkeypatch.setattr(Installer, "install_archive", install_archive)
    with PackageServer(tmp_path / "pkgs") as server:
        server.start()
        ctx = make_profile(server.url)
        report = ExtensionsManager(ctx).install(["First", "Second", "Third"])
    assert [r.name for r in report.results] == ["First", "Second", "Third"] and report.ok
    assert times["download Second"] < times["installed First"]
    assert times["download Third"] < times["installed Second"]
    assert times["installed First"] < times["installed Second"] < times["installed Third"]
