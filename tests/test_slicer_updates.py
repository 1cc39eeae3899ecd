"""Slicer application updates (issue #16) against the REAL Slicer Package Manager server:
listing and ordering, release vs nightly, sha512 refusal, resumed download, Linux install
with the extensions pre-installed for the new Slicer and its launch, ``--dest`` refusal,
failures leaving nothing behind; Windows and macOS steps with the installer stood in for."""

from __future__ import annotations

import errno
import json
import time
from pathlib import Path

import pytest

from slicer_ext_manager import archive
from slicer_ext_manager.cli import main
from slicer_ext_manager.errors import InstallError
from slicer_ext_manager.localserver.slicer_packages import build_slicer_package
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.server import SlicerPackagesClient
from slicer_ext_manager.slicer_builds import SlicerBuild, Stability
from slicer_ext_manager.slicer_installer import Runner, SlicerLayout, windows_command
from slicer_ext_manager.slicer_updates import SlicerUpdater

from .conftest import OLD_REVISION
from .faultproxy import FaultProxy
from .girder.fixtures import SLICER_BUILDS

pytestmark = pytest.mark.girder

CURRENT, NEW, NIGHTLY = SLICER_BUILDS


def _profile(make_profile, url, app_id, tmp_path, **kw):
    ctx = make_profile(url, app_id, revision=CURRENT, folder=tmp_path / "current",
                       user_ini=f"[ExtensionsHistory]\nRevisions\\{OLD_REVISION}=Beta\n", **kw)
    manager = ExtensionsManager(ctx, client=SlicerPackagesClient(url, app_id, backoff=0.01))
    assert manager.install(["Alpha", "Gamma"]).ok
    return ctx, manager


def _base(ctx, url, app_id):
    return ["--settings-dir", str(ctx.user_settings_path.parent), "--revision", CURRENT, "--server", url,
            "--app-id", app_id, "--os", "linux", "--arch", "amd64"]


def test_versions_listing_and_ordering(slicer_server, girder_server, girder_app, make_profile, tmp_path, capsys):
    ctx, _ = _profile(make_profile, girder_server.url, girder_app.app_id, tmp_path)
    base = _base(ctx, girder_server.url, girder_app.app_id)

    def versions(*extra):
        capsys.readouterr()
        assert main([*base, "slicer-versions", "--json", *extra]) == 0
        return json.loads(capsys.readouterr().out)

    default = versions()
    assert [(b["version"], b["revision"], b["stability"], b["newer"]) for b in default] == [("5.10.0", NEW, "release", True)]
    assert set(default[0]) == {"version", "revision", "stability", "os", "arch", "build_date", "size", "sha512",
                               "package_id", "file_name", "newer", "current"}
    assert default[0]["file_name"] == "Slicer-5.10.0-linux-amd64.tar.gz" and len(default[0]["sha512"]) == 128
    assert [b["revision"] for b in versions("--stability", "nightly")] == [NIGHTLY]
    everything = versions("--stability", "any", "--all")
    assert [(b["revision"], b["stability"], b["current"]) for b in everything] == [
        (NIGHTLY, "nightly", False), (NEW, "release", False), (CURRENT, "release", True)]
    # Nothing newer: one sentence, exit 0.
    ctx_new = make_profile(girder_server.url, girder_app.app_id, revision=NIGHTLY, folder=tmp_path / "newest")
    capsys.readouterr()
    assert main([*_base(ctx_new, girder_server.url, girder_app.app_id)[:2], "--revision", NIGHTLY,
                 "--server", girder_server.url, "--app-id", girder_app.app_id, "slicer-versions"]) == 0
    assert capsys.readouterr().out.startswith("No Slicer release build newer than revision 34100 is available")


def test_install_slicer_with_extensions_and_launch(slicer_server, girder_server, girder_app, make_profile, tmp_path,
                                                   capsys, monkeypatch):
    ctx, _ = _profile(make_profile, girder_server.url, girder_app.app_id, tmp_path)
    dest = tmp_path / "apps" / "Slicer-5.10.0"
    started = tmp_path / "started.txt"
    monkeypatch.setenv("SLICER_STANDIN_STARTED", str(started))
    capsys.readouterr()
    code = main([*_base(ctx, girder_server.url, girder_app.app_id), "install-slicer", "latest", "--dest", str(dest),
                 "--yes", "--launch", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["build"]["revision"] == NEW and report["installed_to"] == str(dest)
    assert report["download"]["verified"] is True
    assert (dest / "Slicer").is_file() and (dest / "lib" / "Slicer-5.10").is_dir()
    assert sorted(report["extensions"]["installed"]) == ["Alpha", "Beta"]
    assert [i["name"] for i in report["not_available"]] == ["Gamma"]
    # Where the new Slicer looks at its first start: its own revision settings and install folder.
    new_ini = dest / "slicer.org" / f"Slicer-{NEW}.ini"
    text = new_ini.read_text()
    assert "Extensions-34045/Alpha" in text and "Extensions-34045/Beta" in text
    assert (dest / "slicer.org" / f"Extensions-{NEW}" / "Alpha.s4ext").is_file()
    assert f"slicer_revision {NEW}" in (dest / "slicer.org" / f"Extensions-{NEW}" / "Alpha.s4ext").read_text()
    # The current Slicer is untouched.
    assert "Extensions-34045" not in ctx.revision_settings_path.read_text()
    deadline = time.monotonic() + 20
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started.read_text().startswith(f"Slicer 5.10.0 r{NEW}")


def test_existing_dest_is_refused(slicer_server, girder_server, girder_app, make_profile, tmp_path, capsys):
    ctx, _ = _profile(make_profile, girder_server.url, girder_app.app_id, tmp_path)
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    capsys.readouterr()
    code = main([*_base(ctx, girder_server.url, girder_app.app_id), "install-slicer", "--dest", str(dest), "--yes"])
    err = capsys.readouterr().err
    assert code == 1 and "already exists" in err and err.count("\n") == 1
    assert (dest / "keep.txt").read_text() == "mine" and sorted(p.name for p in dest.iterdir()) == ["keep.txt"]


def test_tampered_package_is_refused_and_deleted(slicer_server, girder_server, girder_app, make_profile, tmp_path):
    ctx, manager = _profile(make_profile, girder_server.url, girder_app.app_id, tmp_path)
    item = slicer_server[NEW]
    girder_server.admin.call("PUT", f"item/{item['_id']}/metadata", json={"sha512": "0" * 128})
    updater = manager.slicer_updates
    build = updater.pick(NEW)
    report = updater.install(build, dest=tmp_path / "new", extensions=False)
    assert not report.ok and "does not match the checksum" in report.error
    assert not (tmp_path / "new").exists()
    assert not any(updater.cache_dir.rglob("*.tar.gz*"))


def test_download_resumes_after_a_dropped_connection(slicer_server, girder_server, girder_app, make_profile, tmp_path):
    proxy = FaultProxy(girder_server.url)
    try:
        proxy.add("/file/.*/download", "drop", times=1, after_bytes=100_000, only_full=True)
        ctx, _ = _profile(make_profile, girder_server.url, girder_app.app_id, tmp_path)
        manager = ExtensionsManager(ctx.with_changes(server_url=proxy.url),
                                    client=SlicerPackagesClient(proxy.url, girder_app.app_id, backoff=0.01))
        updater = manager.slicer_updates
        result = updater.download(updater.pick(NEW))
        assert result.verified and result.resumed >= 1
        assert any("Range" in h for h in proxy.headers), (proxy.requests, [h.get("Range") for h in proxy.headers])
    finally:
        proxy.close()


def test_disk_full_leaves_nothing_behind(slicer_server, girder_server, girder_app, make_profile, tmp_path, monkeypatch):
    ctx, manager = _profile(make_profile, girder_server.url, girder_app.app_id, tmp_path)
    real = archive.extract_application

    def full(path, staging, **kw):
        real(path, staging, **kw)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(archive, "extract_application", full)
    updater = manager.slicer_updates
    report = updater.install(updater.pick(NEW), dest=tmp_path / "apps" / "new", extensions=False)
    assert not report.ok and "No space left on device" in report.error
    assert not (tmp_path / "apps" / "new").exists()
    assert [p.name for p in (tmp_path / "apps").iterdir() if p.name.startswith(".")] == []


# -- Windows and macOS: command lines, with the installer stood in for ----------------------------


class StandIn(Runner):
    """Records the commands; "installs" what the real program would have."""

    def __init__(self, os_name: str):
        self.os_name = os_name
        self.commands: list = []

    def run(self, command, *, timeout):
        import subprocess

        self.commands.append(command)
        if self.os_name == "win":
            dest = Path(command.split(" /D=", 1)[1])
            (dest / "bin").mkdir(parents=True)
            (dest / "Slicer.exe").write_text("stand-in")
        elif command[:2] == ["hdiutil", "attach"]:
            mount = Path(command[command.index("-mountpoint") + 1])
            (mount / "Slicer.app" / "Contents" / "MacOS").mkdir(parents=True)
            (mount / "Slicer.app" / "Contents" / "MacOS" / "Slicer").write_text("stand-in")
        elif command[:2] == ["hdiutil", "detach"]:  # unmounting empties the mount point
            import shutil

            for child in Path(command[2]).iterdir():
                shutil.rmtree(child)
        return subprocess.CompletedProcess(command, 0, "", "")

    def launch(self, command):
        self.commands.append(("launch", list(command)))


def _build(os_name: str, file_name: str) -> SlicerBuild:
    return SlicerBuild("5.10.0", NEW, Stability.RELEASE, os_name, "amd64", "", 10, "", "id", file_name)


def test_windows_installer_command_line(tmp_path):
    dest = Path("C:/Users/me/AppData/Local/slicer.org/Slicer 5.10.0")
    assert windows_command(Path("C:/cache/Slicer-5.10.0-win-amd64.exe"), dest) == \
        f'"{Path("C:/cache/Slicer-5.10.0-win-amd64.exe")}" /S /D={dest}'
    runner = StandIn("win")
    from slicer_ext_manager.slicer_installer import install_package

    package = build_slicer_package(tmp_path, "5.10.0", NEW, os_name="win")
    layout = install_package(_build("win", package.name), package, tmp_path / "Slicer 5.10.0", force=False,
                             runner=runner)
    (command,) = runner.commands
    assert command.endswith(f" /S /D={tmp_path / 'Slicer 5.10.0'}") and command.startswith(f'"{package}"')
    assert layout.executable == tmp_path / "Slicer 5.10.0" / "Slicer.exe" and layout.executable.is_file()
    assert layout.revision_settings == tmp_path / "Slicer 5.10.0" / "slicer.org" / f"Slicer-{NEW}.ini"


def test_macos_disk_image_is_attached_copied_and_detached(tmp_path):
    from slicer_ext_manager.slicer_installer import install_package

    runner = StandIn("macosx")
    package = build_slicer_package(tmp_path, "5.10.0", NEW, os_name="macosx")
    dest = tmp_path / "Applications" / "Slicer-5.10.0.app"
    layout = install_package(_build("macosx", package.name), package, dest, force=False, runner=runner)
    attach, detach = runner.commands
    assert attach[:4] == ["hdiutil", "attach", "-nobrowse", "-readonly"] and attach[-1] == str(package)
    assert detach[:2] == ["hdiutil", "detach"] and detach[2] == attach[attach.index("-mountpoint") + 1]
    assert (dest / "Contents" / "MacOS" / "Slicer").is_file() and layout.home == dest / "Contents"
    assert layout.install_path == dest / "Contents" / f"Extensions-{NEW}"
    assert layout.launch_command() == ["open", "-n", str(dest)]
    assert not list(dest.parent.glob(".*"))  # the mount point and staging are gone


def test_failed_windows_installer_leaves_nothing(tmp_path):
    import subprocess

    from slicer_ext_manager.slicer_installer import install_package

    class Failing(StandIn):
        def run(self, command, *, timeout):
            super().run(command, timeout=timeout)
            return subprocess.CompletedProcess(command, 2, "", "")

    package = build_slicer_package(tmp_path, "5.10.0", NEW, os_name="win")
    with pytest.raises(InstallError, match="exit code 2"):
        install_package(_build("win", package.name), package, tmp_path / "S", force=False, runner=Failing("win"))
    assert not (tmp_path / "S").exists()


def test_layouts():
    linux = SlicerLayout("linux", Path("/opt/Slicer-5.10.0"), NEW)
    assert linux.executable == Path("/opt/Slicer-5.10.0/Slicer")
    assert linux.install_path == Path(f"/opt/Slicer-5.10.0/slicer.org/Extensions-{NEW}")
    assert SlicerUpdater.__name__ == "SlicerUpdater"
