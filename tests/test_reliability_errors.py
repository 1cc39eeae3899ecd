"""Issue #13, errors and messages (points 13, 15): every failure is one sentence that says
what happened — never a traceback, never a raw ``OSError(...)``, never "another program"
for a full disk or a read-only folder."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slicer_ext_manager import installer as installer_module
from slicer_ext_manager import qtbinding, settings
from slicer_ext_manager.cli import main
from slicer_ext_manager.errors import InstallError, SettingsError
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.localserver.server import PackageServer
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.profiles import FORMAT
from slicer_ext_manager.settings import SettingsFile

from .conftest import OLD_REVISION, REVISION
from .faultfs import FailingWrites

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("err-pkgs")
    build_extension_package(folder, "Foo", app_revision=REVISION)
    with PackageServer(folder) as srv:
        srv.start()
        yield srv


def run(ctx, *args: str, capsys) -> tuple[int, str, str]:
    base = ["--settings-dir", str(ctx.user_settings_path.parent), "--revision", REVISION, "--os", "linux",
            "--arch", "amd64", "--server", ctx.server_url]
    capsys.readouterr()
    try:
        code = main([*base, *args])
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def one_sentence(err: str) -> None:
    lines = [line for line in err.splitlines() if line and not line.startswith("slicer-ext-manager: warning:")]
    assert lines, err
    assert "Traceback" not in err and "OSError(" not in err and "[Errno" not in err, err
    assert lines[-1].rstrip().endswith((".", ")")), err


def installed_state(ctx) -> tuple:
    ip = ctx.install_path
    return (sorted(p.relative_to(ip).as_posix() for p in ip.rglob("*")) if ip.is_dir() else [],
            ctx.revision_settings_path.read_bytes(), ctx.user_settings_path.read_bytes())


# -- 13. tracebacks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [
    b'{"extensions": 5}', b'"x"', b"[1]", b"[" * 100_000 + b"]" * 100_000,
    json.dumps({"format": FORMAT, "extensions": 5}).encode(),
    json.dumps({"format": FORMAT, "slicer": 5}).encode(),
    json.dumps({"format": FORMAT, "extensions": [5]}).encode(),
    json.dumps({"format": FORMAT, "extensions": [{"name": "../x"}]}).encode(),
    json.dumps({"format": FORMAT, "bookmarks": [{"a": 1}]}).encode(),
    b"\xff\xfe\x00garbage",
], ids=["extensions-5", "string", "list", "deep", "extensions-not-list", "slicer-not-object", "entry-not-object",
        "entry-path-name", "bookmark-object", "binary"])
def test_profile_import_of_anything_is_a_sentence(make_profile, tmp_path, capsys, content):
    ctx = make_profile()
    path = tmp_path / "profile.json"
    path.write_bytes(content)
    for args in (["profile", "import", str(path)], ["profile", "import", str(path), "--yes"]):
        code, _, err = run(ctx, *args, capsys=capsys)
        assert code == 1, err
        one_sentence(err)
        assert str(path) in err


@pytest.mark.parametrize("argv, expected, code", [
    (["--timeout", "-1", "list"], "give a positive number of seconds", 2),
    (["--timeout", "nan", "list"], "give a positive number of seconds", 2),
    (["--speed-limit", "-5", "list"], "give 0 or more", 2),
    (["--server", "http://[::1", "list"], "is not a server URL", 1),
    (["--server", "ftp://host", "list"], "is not a server URL", 1),
])
def test_bad_options_are_one_sentence(make_profile, capsys, argv, expected, code):
    ctx = make_profile()
    got, _, err = run(ctx, *argv, capsys=capsys)
    assert got == code and expected in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["restore", "--check"], ["update", "--check"], ["list"], ["install", "Foo"]])
def test_install_path_that_is_a_file(make_profile, server, tmp_path, capsys, command):
    a_file = tmp_path / "hostname"
    a_file.write_text("not a folder\n")
    ctx = make_profile(server.url, revision_ini=f"[Extensions]\nInstallPath={a_file.as_posix()}\n",
                       user_ini=f"[ExtensionsHistory]\nRevisions\\{OLD_REVISION}=Foo\n")
    code, _, err = run(ctx, *command, capsys=capsys)
    assert code == 1 and "is a file, not a folder" in err, err
    one_sentence(err)
    assert a_file.read_text() == "not a folder\n"


def test_restore_check_with_a_read_only_install_folder(make_profile, server, capsys, monkeypatch):
    ctx = make_profile(server.url, user_ini=f"[ExtensionsHistory]\nRevisions\\{OLD_REVISION}=Foo\n")
    ctx.install_path.mkdir(parents=True)
    FailingWrites(monkeypatch, ctx.install_path, errno.EACCES)
    code, out, err = run(ctx, "restore", "--check", capsys=capsys)
    monkeypatch.undo()
    assert code == 0 and "Foo" in out, err
    assert "could not be cached (Permission denied)" in err and "Traceback" not in err


@pytest.fixture
def installed(make_profile, tmp_path):
    ctx = make_profile()
    pkg = build_extension_package(tmp_path / "pkgs", "Tx", app_revision=REVISION, modules=("scripted", "cli"))
    assert ExtensionsManager(ctx).install_files([pkg], with_dependencies=False).ok
    return ctx


@pytest.mark.parametrize("folder, code", [("install", errno.EACCES), ("install", errno.ENOSPC),
                                          ("settings", errno.ENOSPC), ("settings", errno.EACCES)])
def test_uninstall_on_a_read_only_or_full_disk(installed, capsys, monkeypatch, folder, code, tmp_path):
    ctx = installed
    if folder == "settings":  # the settings folder alone: move the install folder out of it
        outside = tmp_path / "ext"
        shutil.move(str(ctx.install_path), outside)
        ctx.revision_settings_path.write_text(ctx.revision_settings_path.read_text().replace(
            ctx.install_path.as_posix(), outside.as_posix()) + f"\n[Extensions]\nInstallPath={outside.as_posix()}\n")
    before = installed_state(ctx)
    target = ctx.install_path if folder == "install" else ctx.user_settings_path.parent
    FailingWrites(monkeypatch, target, code)
    got, out, err = run(ctx, "uninstall", "Tx", capsys=capsys)
    monkeypatch.undo()
    assert got == 1, out + err
    one_sentence(err)
    assert (os.strerror(code) in err or (code == errno.EACCES and "is not writable" in err)), err
    assert "Another program" not in err
    assert installed_state(ctx) == before


def test_os_errors_without_a_message_and_busy_folders_are_sentences(installed, capsys, monkeypatch):
    ctx = installed
    before = installed_state(ctx)
    real_replace = os.replace

    def busy(src, dst):
        if Path(src) == ctx.install_path / "Tx":
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(src))
        return real_replace(src, dst)

    monkeypatch.setattr(installer_module.os, "replace", busy)
    code, _, err = run(ctx, "uninstall", "Tx", capsys=capsys)
    assert code == 1 and "Device or resource busy" in err, err
    one_sentence(err)
    monkeypatch.setattr(installer_module.os, "replace", lambda s, d: (_ for _ in ()).throw(OSError("raw")))
    code, _, err = run(ctx, "uninstall", "Tx", capsys=capsys)
    monkeypatch.undo()
    assert code == 1 and "raw" in err
    one_sentence(err)
    assert installed_state(ctx) == before


# -- 15. messages that say what happened ---------------------------------------------------------------------


HOLD = r"""
import sys, time
from PySide6.QtCore import QLockFile
lock = QLockFile(sys.argv[1])
assert lock.tryLock(0)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold_lock(path: Path, seconds: float = 30) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_held_settings_lock_is_another_program(make_profile, monkeypatch):
    ctx = make_profile()
    monkeypatch.setattr(settings, "LOCK_TIMEOUT_MS", 300)
    holder = hold_lock(Path(str(ctx.user_settings_path) + ".slicer-ext-manager.lock"))
    try:
        with pytest.raises(SettingsError, match=r"Another slicer-ext-manager is writing .* did not finish within"):
            with SettingsFile(ctx.user_settings_path).edit() as e:
                e.set_value("Extensions/X", 1)
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_that_cannot_be_created_is_not_another_program(make_profile, monkeypatch):
    """A full disk makes Qt's lock fail at once: say that, not "did not finish within 30 s"."""
    ctx = make_profile()
    monkeypatch.setattr(qtbinding.FileLock, "try_lock", lambda self, timeout: False)
    monkeypatch.setattr(qtbinding.FileLock, "error", lambda self: qtbinding.LockError.UNKNOWN)
    FailingWrites(monkeypatch, ctx.user_settings_path.parent, errno.ENOSPC)
    started = time.monotonic()
    with pytest.raises(SettingsError) as info:
        with SettingsFile(ctx.user_settings_path).edit() as e:
            e.set_value("Extensions/X", 1)
    message = str(info.value)
    assert "No space left on device" in message and "Another" not in message and "did not finish" not in message
    assert time.monotonic() - started < 10
    with pytest.raises(InstallError) as info:
        with installer_module.InstallLock(ctx.install_path):
            pass
    assert "No space left on device" in str(info.value) and "Another program" not in str(info.value)


def test_a_held_install_lock_is_another_program(make_profile):
    ctx = make_profile()
    ctx.install_path.mkdir(parents=True)
    holder = hold_lock(ctx.install_path / ".slicer-ext-manager.lock")
    try:
        with pytest.raises(InstallError, match="Another program .* is changing the extensions folder"):
            with installer_module.InstallLock(ctx.install_path, timeout_ms=300):
                pass
        # Reading commands never wait for it, nor touch its transaction.
        staging = ctx.install_path / ".staging" / "0123456789ab-Busy"
        staging.mkdir(parents=True)
        (staging / "transaction.json").write_text(json.dumps({"kind": "install", "name": "Busy"}))
        started = time.monotonic()
        assert ExtensionsManager(ctx).installed_extensions() == []
        assert time.monotonic() - started < 5 and staging.is_dir()
    finally:
        holder.kill()
        holder.wait()


def _tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_a_really_full_disk_is_named(tmp_path, capsys):
    """On a real full file system (a small tmpfs; needs root, skipped otherwise), Qt's own lock and save
    fail too: the messages say the disk is full and the files are unchanged."""
    mount = tmp_path / "small"
    if not _tmpfs(mount, "2m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        sdir = mount / "slicer.org"
        sdir.mkdir()
        (sdir / "Slicer.ini").write_text("[Extensions]\nBookmarked=A\n")
        (sdir / f"Slicer-{REVISION}.ini").write_text("[Extensions]\nManagerEnabled=true\n")
        before = (sdir / "Slicer.ini").read_bytes()
        filler = mount / "filler"
        with open(filler, "wb") as fh:
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        code = main(["--settings-dir", str(sdir), "--revision", REVISION, "bookmark", "add", "Zed"])
        err = capsys.readouterr().err
        assert code == 1 and "No space left on device" in err and "Another" not in err, err
        assert (sdir / "Slicer.ini").read_bytes() == before
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
